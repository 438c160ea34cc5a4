// What the engine concluded, for operators and dispatchers: anomalies, incidents with their
// priority reasons and the work order each opened.
import { z } from 'zod';
import { alarmAnomalyKinds, hydraulicAnomalyKinds, sensorFaultKinds } from '../../contracts/anomaly.js';
import { getIncident, listAnomalies, listIncidents } from '../../engine/engine-store.js';
import type { ApiDependencies } from '../app.js';
import { DocumentedRouter } from '../openapi.js';
import { NotFoundError, parseOrThrow, route } from '../validation.js';

const booleanText = z.enum(['true', 'false']).transform((text) => text === 'true');
const limit = z.coerce.number().int().min(1).max(1000).default(100);
const anomalyKinds = [...new Set<string>([...alarmAnomalyKinds, ...hydraulicAnomalyKinds, ...sensorFaultKinds])] as [string, ...string[]];

const anomalyQuery = z.strictObject({
  from: z.iso.datetime({ offset: true }).optional(),
  to: z.iso.datetime({ offset: true }).optional(),
  zone: z.string().min(1).max(64).optional(),
  kind: z.enum(anomalyKinds).optional(),
  open: booleanText.optional(),
  limit,
});

const incidentQuery = z.strictObject({
  zone: z.string().min(1).max(64).optional(),
  open: booleanText.optional(),
  limit,
});

const idParams = z.strictObject({ id: z.string().min(1).max(200) });

const CONTROL_ROOM = ['operator', 'dispatcher', 'engineer', 'admin'] as const;

export function incidentRoutes(deps: ApiDependencies): DocumentedRouter {
  const api = new DocumentedRouter('incidents');
  const siteId = deps.site.site.id;

  api.get('/anomalies', { summary: 'anomalies found in telemetry, sensor faults marked', access: CONTROL_ROOM, query: anomalyQuery, responses: { 200: '{ anomalies }', 400: 'a bad query' } }, route(async (request, response) => {
    const query = parseOrThrow(anomalyQuery, request.query, 'query');
    const anomalies = await listAnomalies(deps.pool, siteId, {
      fromMs: query.from === undefined ? undefined : Date.parse(query.from),
      toMs: query.to === undefined ? undefined : Date.parse(query.to),
      zone: query.zone,
      kind: query.kind,
      open: query.open,
      limit: query.limit,
    });
    response.json({ anomalies });
  }));

  api.get('/incidents', { summary: 'incidents, most urgent first, with priority reasons', access: CONTROL_ROOM, query: incidentQuery, responses: { 200: '{ incidents }', 400: 'a bad query' } }, route(async (request, response) => {
    const query = parseOrThrow(incidentQuery, request.query, 'query');
    response.json({ incidents: await listIncidents(deps.pool, siteId, query) });
  }));

  api.get('/incidents/:id', { summary: 'one incident', access: CONTROL_ROOM, params: idParams, responses: { 200: 'the incident', 404: 'no such incident' } }, route(async (request, response) => {
    const { id } = parseOrThrow(idParams, request.params, 'params');
    const incident = await getIncident(deps.pool, siteId, id);
    if (incident === undefined) throw new NotFoundError(`no incident ${id}`);
    response.json(incident);
  }));

  return api;
}
