import { Router } from 'express';
import { route } from '../validation.js';

/** GET /metrics: Prometheus text exposition. */
export function metricsRoute(render: () => Promise<string>): Router {
  const router = Router();
  router.get('/metrics', route(async (_request, response) => {
    response.type('text/plain; version=0.0.4; charset=utf-8').send(await render());
  }));
  return router;
}
