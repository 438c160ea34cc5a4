import type { Request } from 'express';
import { z } from 'zod';
import { listDeviceStatus } from '../../engine/device-status.js';
import { listTags } from '../../storage/site-registry.js';
import { readTelemetry } from '../../storage/telemetry-store.js';
import { bucketsToCsv, defaultStepMs, formatStep, parseStep, planBuckets, pointsToCsv, readBuckets, readLatest, type SqlQuery } from '../../storage/telemetry-query.js';
import type { ApiDependencies } from '../app.js';
import { DocumentedRouter } from '../openapi.js';
import { NotFoundError, parseOrThrow, RequestValidationError, route } from '../validation.js';

const DAY_MS = 86_400_000;
/** Longest range of a raw-points answer (`step=raw`). */
export const MAX_RANGE_MS = 31 * DAY_MS;
/** Longest range of a bucketed answer. */
export const MAX_BUCKETED_RANGE_MS = 400 * DAY_MS;
/** Enough for a 31-day month at 1 minute. */
export const MAX_BUCKETS = 50_000;
export const MAX_POINTS = 100_000;

const telemetryQuery = z.strictObject({
  tag: z.string().min(1).max(64),
  from: z.iso.datetime({ offset: true }),
  to: z.iso.datetime({ offset: true }),
  /** `raw`, or a bucket width such as `10s`, `15m`, `1h`, `1d`; chosen for about 1000 buckets when absent. */
  step: z
    .string()
    .optional()
    .superRefine((step, context) => {
      if (step === undefined || step === 'raw') return;
      const parsed = parseStep(step);
      if (!parsed.ok) context.addIssue({ code: 'custom', message: parsed.message });
    }),
  /** Raw answers only: the most points returned. */
  limit: z.coerce.number().int().min(1).max(MAX_POINTS).default(10_000),
});

const latestQuery = z.strictObject({ tag: z.string().min(1).max(64).optional() });

function wantsCsv(request: Request): boolean {
  return request.accepts(['application/json', 'text/csv']) === 'text/csv';
}

/** Everyone who watches the network; crews work from their orders. */
const CONTROL_ROOM = ['operator', 'dispatcher', 'engineer', 'admin'] as const;

export function telemetryRoutes(deps: ApiDependencies): DocumentedRouter {
  const api = new DocumentedRouter('telemetry');
  const sql: SqlQuery = {
    query: async <Row,>(text: string, params?: readonly unknown[]) => (await deps.pool.query(text, params as unknown[] | undefined)) as unknown as { rows: Row[] },
  };

  async function findTag(key: string): Promise<{ id: number; unit: string }> {
    const { rows } = await deps.pool.query<{ id: number; unit: string }>('SELECT id, unit FROM tag WHERE site_id = $1 AND key = $2', [deps.site.site.id, key]);
    const tag = rows[0];
    if (tag === undefined) throw new NotFoundError(`unknown tag "${key}"`);
    return tag;
  }

  api.get('/tags', { summary: "the site's time zone and tags with kind, unit, zone, location and range", access: CONTROL_ROOM, responses: { 200: '{ site, timezone, tags }' } }, route(async (_request, response) => {
    response.json({ site: deps.site.site.id, timezone: deps.site.site.timezone, tags: await listTags(deps.pool, deps.site.site.id) });
  }));

  api.get('/devices', { summary: 'each PLC with its link state and since when', access: CONTROL_ROOM, responses: { 200: '{ site, devices }' } }, route(async (_request, response) => {
    response.json({ site: deps.site.site.id, devices: await listDeviceStatus(deps.pool, deps.site.site.id) });
  }));

  api.get('/telemetry', { summary: 'time buckets (or raw samples) of one tag', access: CONTROL_ROOM, query: telemetryQuery, responses: { 200: 'buckets or points', 400: 'a bad query, each field named', 404: 'unknown tag' }, produces: ['application/json', 'text/csv'] }, route(async (request, response) => {
    const query = parseOrThrow(telemetryQuery, request.query, 'query');
    const from = new Date(query.from);
    const to = new Date(query.to);
    if (to <= from) throw new RequestValidationError('query', [{ field: 'to', message: 'must be after from' }]);
    const rangeMs = to.getTime() - from.getTime();

    if (query.step === 'raw') {
      if (rangeMs > MAX_RANGE_MS) {
        throw new RequestValidationError('query', [{ field: 'to', message: `range of raw points must not exceed ${MAX_RANGE_MS / DAY_MS} days; use a bucket step` }]);
      }
      const tag = await findTag(query.tag);
      const points = await readTelemetry(deps.pool, tag.id, from, to, query.limit);
      const truncated = points.length === query.limit;
      if (wantsCsv(request)) {
        response.type('text/csv').set('X-Truncated', String(truncated)).send(pointsToCsv(points));
        return;
      }
      response.json({ tag: query.tag, unit: tag.unit, from: from.toISOString(), to: to.toISOString(), step: 'raw', source: 'telemetry', truncated, points });
      return;
    }

    if (rangeMs > MAX_BUCKETED_RANGE_MS) {
      throw new RequestValidationError('query', [{ field: 'to', message: `range must not exceed ${MAX_BUCKETED_RANGE_MS / DAY_MS} days` }]);
    }
    const stepMs = query.step === undefined ? defaultStepMs(rangeMs) : (parseStep(query.step) as { stepMs: number }).stepMs;
    const plan = planBuckets(from.getTime(), to.getTime(), stepMs, deps.storageFlavour);
    if (plan.bucketCount > MAX_BUCKETS) {
      throw new RequestValidationError('query', [{ field: 'step', message: `${formatStep(stepMs)} gives ${plan.bucketCount} buckets, more than ${MAX_BUCKETS}; use a larger step` }]);
    }
    const tag = await findTag(query.tag);
    const buckets = await readBuckets(sql, tag.id, plan);
    const alignedFrom = new Date(plan.fromMs).toISOString();
    const alignedTo = new Date(plan.toMs).toISOString();
    if (wantsCsv(request)) {
      response.type('text/csv').set({ 'X-Telemetry-Source': plan.source, 'X-Telemetry-Step': formatStep(stepMs) }).send(bucketsToCsv(buckets));
      return;
    }
    response.json({ tag: query.tag, unit: tag.unit, from: alignedFrom, to: alignedTo, step: formatStep(stepMs), step_ms: stepMs, source: plan.source, buckets });
  }));

  api.get('/telemetry/latest', { summary: "each tag's last value, quality and time", access: CONTROL_ROOM, query: latestQuery, responses: { 200: '{ site, latest }', 400: 'a bad query', 404: 'unknown tag' } }, route(async (request, response) => {
    const query = parseOrThrow(latestQuery, request.query, 'query');
    if (query.tag !== undefined) await findTag(query.tag);
    response.json(await readLatest(sql, deps.site.site.id, query.tag ?? null));
  }));

  return api;
}
