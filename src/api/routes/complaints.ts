// Complaint intake and operator verification: one complaint or a bulk import, listing and
// reading complaints, and an operator's verify or reject.
import type { Request, RequestHandler, Response } from 'express';
import { z } from 'zod';
import {
  complaintBodySchema,
  complaintBulkSchema,
  complaintDecisionBodySchema,
  complaintWebhookBodySchema,
  type ComplaintChannel,
  complaintVerifications,
  locationStatuses,
} from '../../contracts/complaint.js';
import { acceptComplaint, acceptComplaints, type IntakeResult } from '../../complaints/complaint-intake.js';
import { decideComplaint, getComplaint, listComplaints, type OperatorDecision, type StoredComplaint } from '../../complaints/complaint-store.js';
import { StreetGeocoder } from '../../complaints/geocoder.js';
import type { ApiDependencies } from '../app.js';
import { actorName, caller } from '../access.js';
import { DocumentedRouter } from '../openapi.js';
import { NotFoundError, parseOrThrow, route } from '../validation.js';

const idempotencyKeySchema = z.string().trim().min(1).max(200).optional();
/** The header by its name, so that a bad one is reported as `Idempotency-Key`, not as `header`. */
const idempotencyHeaderSchema = z.object({ 'Idempotency-Key': idempotencyKeySchema });
const idempotencyKeyOf = (request: Request) => parseOrThrow(idempotencyHeaderSchema, { 'Idempotency-Key': request.get('Idempotency-Key') }, 'header')['Idempotency-Key'];
const complaintIdSchema = z.strictObject({ id: z.uuid() });

/** Who takes complaints in: the control room and dispatch, and admins. */
const INTAKE = ['operator', 'dispatcher', 'admin'] as const;
const READERS = ['operator', 'dispatcher', 'engineer', 'admin'] as const;

export function complaintRoutes(deps: ApiDependencies, webhookLimit: RequestHandler): DocumentedRouter {
  const api = new DocumentedRouter('complaints');
  const clock = deps.clock ?? Date.now;
  const siteId = deps.site.site.id;
  const geocoder = deps.geocoder ?? new StreetGeocoder(deps.site.customers.streets);
  const zoneIds = deps.site.zones.map((zone) => zone.id) as [string, ...string[]];

  const listQuery = z
    .strictObject({
      zone: z.enum(zoneIds).optional(),
      status: z.enum(locationStatuses).optional(),
      verification: z.enum(complaintVerifications).optional(),
      from: z.iso.datetime({ offset: true }).optional(),
      to: z.iso.datetime({ offset: true }).optional(),
      limit: z.coerce.number().int().min(1).max(1000).default(100),
    })
    .refine((query) => query.from === undefined || query.to === undefined || Date.parse(query.from) < Date.parse(query.to), { path: ['to'], message: 'to must be after from' });

  const logIntake = (result: IntakeResult) => {
    const { complaint } = result;
    if (result.geocodeFailure !== undefined) deps.log.warn({ err: result.geocodeFailure, complaint: complaint.id }, 'geocoder failed; complaint kept unresolved');
    if (result.created) deps.log.info({ complaint: complaint.id, channel: complaint.channel, zone: complaint.zone, location_status: complaint.location_status }, 'complaint accepted');
  };

  api.post('/complaints', { summary: 'a complaint from any channel', access: INTAKE, body: complaintBodySchema, headers: { 'Idempotency-Key': idempotencyKeySchema }, responses: { 201: 'stored', 200: 'a repeat: the stored complaint', 400: 'bad fields, each named' } }, route(async (request, response) => {
    const idempotencyKey = idempotencyKeyOf(request);
    const body = parseOrThrow(complaintBodySchema, request.body, 'body');
    const result = await acceptComplaint(deps.pool, deps.site, body, { idempotencyKey, geocoder, receivedAtMs: clock() });
    logIntake(result);
    response.status(result.created ? 201 : 200).location(`/api/v1/complaints/${result.complaint.id}`).json(result.complaint);
  }));

  // The colon is escaped: unescaped, Express would read ":bulk" as a route parameter.
  api.post('/complaints\\:bulk', { summary: 'up to 1000 complaints, all or none', access: ['operator', 'admin'], body: complaintBulkSchema, headers: { 'Idempotency-Key': idempotencyKeySchema }, responses: { 201: 'at least one stored', 200: 'all repeats', 400: 'bad items, each named with its index and field' } }, route(async (request, response) => {
    const idempotencyKey = idempotencyKeyOf(request);
    const bodies = parseOrThrow(complaintBulkSchema, request.body, 'body');
    // A retried import with the same key stores nothing new, even for items without external_id.
    const items = bodies.map((body, index) => ({ body, idempotencyKey: idempotencyKey === undefined ? undefined : `${idempotencyKey}[${index}]` }));
    const results = await acceptComplaints(deps.pool, deps.site, items, { geocoder, receivedAtMs: clock() });
    results.forEach(logIntake);
    const created = results.filter((result) => result.created).length;
    response.status(created > 0 ? 201 : 200).json({
      created,
      existing: results.length - created,
      items: results.map((result, index) => ({
        index,
        id: result.complaint.id,
        created: result.created,
        zone: result.complaint.zone,
        location_status: result.complaint.location_status,
        verification: result.complaint.verification,
      })),
    });
  }));

  api.get('/complaints', { summary: 'complaints, newest first', access: READERS, query: listQuery, responses: { 200: '{ complaints }', 400: 'a bad query' } }, route(async (request, response) => {
    const query = parseOrThrow(listQuery, request.query, 'query');
    const complaints = await listComplaints(deps.pool, siteId, {
      zone: query.zone,
      locationStatus: query.status,
      verification: query.verification,
      fromMs: query.from === undefined ? undefined : Date.parse(query.from),
      toMs: query.to === undefined ? undefined : Date.parse(query.to),
      limit: query.limit,
    });
    response.json({ complaints });
  }));

  api.get('/complaints/:id', { summary: 'one complaint', access: READERS, params: complaintIdSchema, responses: { 200: 'the complaint', 404: 'no such complaint' } }, route(async (request, response) => {
    const { id } = parseOrThrow(complaintIdSchema, request.params, 'params');
    const complaint = await getComplaint(deps.pool, id);
    if (complaint === undefined || complaint.site !== siteId) throw new NotFoundError(`no complaint ${id}`);
    response.json(complaint);
  }));

  const decide = (decision: OperatorDecision) =>
    route(async (request, response) => {
      const { id } = parseOrThrow(complaintIdSchema, request.params, 'params');
      const body = parseOrThrow(complaintDecisionBodySchema, request.body ?? {}, 'body');
      const by = actorName(response);
      const outcome = await decideComplaint(deps.pool, siteId, id, { decision, by, note: body.note, atMs: clock() });
      if (outcome.outcome === 'not_found') throw new NotFoundError(`no complaint ${id}`);
      if (outcome.outcome === 'conflict') {
        conflict(response, decision, outcome.complaint);
        return;
      }
      deps.log.info({ complaint: id, decision, by }, 'complaint decided by operator');
      response.json(outcome.complaint);
    });

  const decision = (what: string) => ({ summary: `an operator ${what} a complaint telemetry did not verify`, access: ['operator', 'admin'] as const, params: complaintIdSchema, body: complaintDecisionBodySchema, responses: { 200: 'the complaint, decided', 404: 'no such complaint', 409: 'already decided' } });
  api.post('/complaints/:id/verify', decision('verifies'), decide('verified'));
  api.post('/complaints/:id/reject', decision('rejects'), decide('rejected'));

  // A channel's platform (WhatsApp provider, social-media desk tool) delivers with its own token,
  // which names the channel; the message id makes a redelivery return the stored complaint.
  api.post('/webhooks/complaints', { summary: "a complaint delivered by a channel's webhook, with the channel's token", access: 'webhook', body: complaintWebhookBodySchema, responses: { 201: 'stored', 200: 'a redelivery: the stored complaint', 400: 'bad fields, each named', 429: 'too many deliveries from this address' } }, webhookLimit, route(async (request, response) => {
    const hook = caller(response).webhook!;
    const body = parseOrThrow(complaintWebhookBodySchema, request.body, 'body');
    const result = await acceptComplaint(deps.pool, deps.site, { ...body, channel: hook.channel as ComplaintChannel }, { idempotencyKey: undefined, geocoder, receivedAtMs: clock() });
    logIntake(result);
    response.status(result.created ? 201 : 200).location(`/api/v1/complaints/${result.complaint.id}`).json(result.complaint);
  }));

  return api;
}

function conflict(response: Response, decision: OperatorDecision, complaint: StoredComplaint): void {
  const action = decision === 'verified' ? 'verify' : 'reject';
  const why =
    complaint.verification === 'verified_by_telemetry'
      ? 'it is already verified by telemetry'
      : `an operator already decided it (${complaint.verification}${complaint.verified_by === null ? '' : ` by ${complaint.verified_by}`})`;
  response.status(409).json({ error: 'conflict', message: `cannot ${action} complaint ${complaint.id}: ${why}`, complaint });
}
