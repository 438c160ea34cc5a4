import { DocumentedRouter } from '../openapi.js';
import type pg from 'pg';

export interface HealthProbe {
  pool: pg.Pool;
  brokerConnected: () => boolean;
}

/** GET /health: 200 when the database answers and the broker is connected, else 503, with each part's status. */
export function healthRoutes(probe: HealthProbe): DocumentedRouter {
  const api = new DocumentedRouter('health');
  api.get('/health', { summary: 'whether the database and the broker are up', access: 'public', responses: { 200: 'both up: { status, database, broker }', 503: 'a part is down, named with its error' } }, async (_request, response) => {
    const database = await probe.pool
      .query('SELECT 1')
      .then(() => ({ status: 'up' as const }))
      .catch((error: Error) => ({ status: 'down' as const, error: error.message }));
    const broker = probe.brokerConnected() ? { status: 'up' as const } : { status: 'down' as const, error: 'not connected' };
    const healthy = database.status === 'up' && broker.status === 'up';
    response.status(healthy ? 200 : 503).json({ status: healthy ? 'up' : 'down', database, broker });
  });
  return api;
}
