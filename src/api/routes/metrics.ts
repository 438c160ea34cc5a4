import { DocumentedRouter } from '../openapi.js';
import { route } from '../validation.js';

/** GET /metrics: Prometheus text exposition. */
export function metricsRoute(render: () => Promise<string>): DocumentedRouter {
  const api = new DocumentedRouter('metrics');
  api.get('/metrics', { summary: 'connector health in the Prometheus text format', access: ['engineer', 'admin'], responses: { 200: 'the metrics' }, produces: ['text/plain'] }, route(async (_request, response) => {
    response.type('text/plain; version=0.0.4; charset=utf-8').send(await render());
  }));
  return api;
}
