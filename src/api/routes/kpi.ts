// Crew and officer KPI of work orders over a window, optionally split into local days, weeks or
// months of the site, as JSON or CSV. The arithmetic and its definitions are in
// src/workorders/kpi.ts; this layer validates the query and picks the default window and format.
import type { Request } from 'express';
import { z } from 'zod';
import { computeKpi, kpiBuckets, kpiToCsv, kpiToJson, planPeriods, readKpiInputs } from '../../workorders/kpi.js';
import type { ApiDependencies } from '../app.js';
import { DocumentedRouter } from '../openapi.js';
import { parseOrThrow, RequestValidationError, route } from '../validation.js';

const DAY_MS = 86_400_000;
/** The window when the query names neither end: the 30 days up to now. */
export const DEFAULT_WINDOW_MS = 30 * DAY_MS;
/** The most periods one answer is split into (1000 days is about 2.7 years of daily buckets). */
export const MAX_PERIODS = 1_000;

const kpiQuery = z.strictObject({
  from: z.iso.datetime({ offset: true }).optional(),
  to: z.iso.datetime({ offset: true }).optional(),
  bucket: z.enum(kpiBuckets).optional(),
  format: z.enum(['json', 'csv']).optional(),
});

/** An explicit `format` wins; otherwise CSV when the Accept header prefers it to JSON. */
function wantsCsv(request: Request, format: 'json' | 'csv' | undefined): boolean {
  if (format !== undefined) return format === 'csv';
  return request.accepts(['application/json', 'text/csv']) === 'text/csv';
}

export function kpiRoutes(deps: ApiDependencies): DocumentedRouter {
  const api = new DocumentedRouter('kpi');
  const siteId = deps.site.site.id;
  const clock = deps.clock ?? Date.now;

  api.get('/kpi', { summary: 'crew and officer KPI per period', access: ['dispatcher', 'engineer', 'admin'], query: kpiQuery, responses: { 200: '{ from, to, bucket, crews, officers }', 400: 'a bad query' }, produces: ['application/json', 'text/csv'] }, route(async (request, response) => {
    const query = parseOrThrow(kpiQuery, request.query, 'query');
    // A missing end is now; a missing start is 30 days before the end.
    const toMs = query.to === undefined ? clock() : Date.parse(query.to);
    const fromMs = query.from === undefined ? toMs - DEFAULT_WINDOW_MS : Date.parse(query.from);
    if (toMs <= fromMs) throw new RequestValidationError('query', [{ field: 'to', message: 'must be after from' }]);
    const plan = planPeriods(fromMs, toMs, query.bucket ?? null, deps.site.site.timezone, MAX_PERIODS);
    if (!plan.ok) throw new RequestValidationError('query', [{ field: 'bucket', message: plan.message }]);

    const inputs = await readKpiInputs(deps.pool, siteId, fromMs, toMs);
    const report = computeKpi(inputs.orders, inputs.crews, plan.periods);
    if (wantsCsv(request, query.format)) {
      response.type('text/csv').send(kpiToCsv(report));
      return;
    }
    response.json(kpiToJson({ fromMs, toMs, bucket: query.bucket ?? null }, report));
  }));

  return api;
}
