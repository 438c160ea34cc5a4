import { Router } from 'express';
import { z } from 'zod';
import { listDeviceStatus } from '../../engine/device-status.js';
import { listTags } from '../../storage/site-registry.js';
import { readTelemetry } from '../../storage/telemetry-store.js';
import type { ApiDependencies } from '../app.js';
import { NotFoundError, parseOrThrow, RequestValidationError, route } from '../validation.js';

export const MAX_RANGE_MS = 31 * 86_400_000;
export const MAX_POINTS = 100_000;

const telemetryQuery = z.strictObject({
  tag: z.string().min(1).max(64),
  from: z.iso.datetime({ offset: true }),
  to: z.iso.datetime({ offset: true }),
  limit: z.coerce.number().int().min(1).max(MAX_POINTS).default(10_000),
});

export function telemetryRoutes(deps: ApiDependencies): Router {
  const router = Router();

  router.get('/tags', route(async (_request, response) => {
    response.json({ site: deps.site.site.id, tags: await listTags(deps.pool, deps.site.site.id) });
  }));

  router.get('/devices', route(async (_request, response) => {
    response.json({ site: deps.site.site.id, devices: await listDeviceStatus(deps.pool, deps.site.site.id) });
  }));

  router.get('/telemetry', route(async (request, response) => {
    const query = parseOrThrow(telemetryQuery, request.query, 'query');
    const from = new Date(query.from);
    const to = new Date(query.to);
    if (to <= from) throw new RequestValidationError('query', [{ field: 'to', message: 'must be after from' }]);
    if (to.getTime() - from.getTime() > MAX_RANGE_MS) {
      throw new RequestValidationError('query', [{ field: 'to', message: `range must not exceed ${MAX_RANGE_MS / 86_400_000} days` }]);
    }
    const { rows } = await deps.pool.query<{ id: number; unit: string }>('SELECT id, unit FROM tag WHERE site_id = $1 AND key = $2', [deps.site.site.id, query.tag]);
    const tag = rows[0];
    if (tag === undefined) throw new NotFoundError(`unknown tag "${query.tag}"`);
    const points = await readTelemetry(deps.pool, tag.id, from, to, query.limit);
    response.json({ tag: query.tag, unit: tag.unit, from: from.toISOString(), to: to.toISOString(), truncated: points.length === query.limit, points });
  }));

  return router;
}
