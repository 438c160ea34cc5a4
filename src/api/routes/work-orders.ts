// Work orders for dispatchers and crews: the queue, an order with its timeline, manual orders,
// and the lifecycle actions (assign, acknowledge, start, complete, cancel, reopen), each naming
// the version it was made against. Crews: the roster with shifts and last known locations.
// A crew member sees and acts on its own crew's orders only; every change is recorded as the caller's.
import { z } from 'zod';
import {
  assignBodySchema,
  cancelBodySchema,
  completeBodySchema,
  crewLocationBodySchema,
  manualWorkOrderBodySchema,
  reopenBodySchema,
  transitionBodySchema,
  workOrderStatuses,
  type WorkOrderAction,
} from '../../contracts/dispatch.js';
import { crewToJson, listCrews, updateCrewLocation } from '../../workorders/crews.js';
import { applyWorkOrderAction, createManualWorkOrder, getWorkOrder, listWorkOrders } from '../../workorders/work-orders.js';
import type { Response } from 'express';
import type { Role } from '../../contracts/access.js';
import type { ApiDependencies } from '../app.js';
import { AccessError, actorName, caller } from '../access.js';
import { DocumentedRouter } from '../openapi.js';
import { NotFoundError, parseOrThrow, route } from '../validation.js';

const queueQuery = z.strictObject({
  status: z.enum(workOrderStatuses).optional(),
  crew: z.string().min(1).max(64).optional(),
  open: z.enum(['true', 'false']).transform((text) => text === 'true').optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});

const idParams = z.strictObject({ id: z.string().min(1).max(200) });

const actionBodies: Record<WorkOrderAction, z.ZodType<{ version: number; note?: string | undefined; crew?: string | undefined; officers?: string[] | undefined }>> = {
  assign: assignBodySchema,
  acknowledge: transitionBodySchema,
  start: transitionBodySchema,
  complete: completeBodySchema,
  cancel: cancelBodySchema,
  reopen: reopenBodySchema,
};

const QUEUE_READERS = ['operator', 'dispatcher', 'crew', 'engineer', 'admin'] as const;
const DISPATCH = ['dispatcher', 'admin'] as const;
/** Who may take each action: the crew does the work; dispatchers may record it for a crew without a phone. */
const actionRoles: Record<WorkOrderAction, readonly Role[]> = {
  assign: DISPATCH,
  cancel: DISPATCH,
  reopen: DISPATCH,
  acknowledge: ['crew', 'dispatcher', 'admin'],
  start: ['crew', 'dispatcher', 'admin'],
  complete: ['crew', 'dispatcher', 'admin'],
};

/** The crew a crew member is limited to; undefined for everyone else. */
function ownCrew(response: Response): string | undefined {
  const principal = caller(response).principal;
  return principal?.role === 'crew' ? (principal.crew ?? undefined) : undefined;
}

export function workOrderRoutes(deps: ApiDependencies): DocumentedRouter {
  const api = new DocumentedRouter('work orders');
  const site = deps.site;
  const now = deps.clock ?? Date.now;

  api.get('/work-orders', { summary: "the dispatch queue, most urgent first, then earliest due (a crew member's: its crew's orders)", access: QUEUE_READERS, query: queueQuery, responses: { 200: '{ work_orders }', 400: 'a bad query' } }, route(async (request, response) => {
    const query = parseOrThrow(queueQuery, request.query, 'query');
    const crew = ownCrew(response);
    if (crew !== undefined && query.crew !== undefined && query.crew !== crew) throw new AccessError(403, `a member of ${crew} sees only its own crew's orders`);
    response.json({ work_orders: await listWorkOrders(deps.pool, site.site.id, { ...query, crew: crew ?? query.crew }) });
  }));

  api.post('/work-orders', { summary: 'a manual work order', access: DISPATCH, body: manualWorkOrderBodySchema, responses: { 201: 'the order, auto-assigned when dispatch.auto_assign', 400: 'bad fields, each named' } }, route(async (request, response) => {
    const body = parseOrThrow(manualWorkOrderBodySchema, request.body, 'body');
    const order = await createManualWorkOrder(deps.pool, site, { ...body, by: actorName(response) }, now());
    response.status(201).location(`/api/v1/work-orders/${order.id}`).json(order);
  }));

  api.get('/work-orders/:id', { summary: 'one order, by id or code, with its timeline', access: QUEUE_READERS, params: idParams, responses: { 200: 'the order', 404: 'no such order' } }, route(async (request, response) => {
    const { id } = parseOrThrow(idParams, request.params, 'params');
    const order = await getWorkOrder(deps.pool, site.site.id, id);
    // Another crew's order is as good as absent to a crew member.
    const crew = ownCrew(response);
    if (order === undefined || (crew !== undefined && order.crew !== crew)) throw new NotFoundError(`no work order ${id}`);
    response.json(order);
  }));

  for (const action of Object.keys(actionBodies) as WorkOrderAction[]) {
    api.post(`/work-orders/:id/${action}`, { summary: `${action} a work order`, access: actionRoles[action], params: idParams, body: actionBodies[action], responses: { 200: 'the order after the change', 400: 'bad fields, each named', 404: 'no such order', 409: 'a stale version, or an action the status does not allow: the current status, version and allowed_actions' } }, route(async (request, response) => {
      const { id } = parseOrThrow(idParams, request.params, 'params');
      const body = parseOrThrow(actionBodies[action], request.body, 'body');
      const crew = ownCrew(response);
      if (crew !== undefined) {
        // The version in the body guards the rest: a reassignment after this check is a 409.
        const order = await getWorkOrder(deps.pool, site.site.id, id);
        if (order === undefined || order.crew !== crew) throw new NotFoundError(`no work order ${id}`);
      }
      response.json(await applyWorkOrderAction(deps.pool, site, id, { action, ...body, by: actorName(response) }, now()));
    }));
  }

  api.get('/crews', { summary: "crews with skills, zones, shifts, on shift now, last known location and officers (a crew member: its own crew)", access: ['dispatcher', 'crew', 'engineer', 'admin'], responses: { 200: '{ crews }' } }, route(async (_request, response) => {
    const own = ownCrew(response);
    const crews = (await listCrews(deps.pool, site.site.id)).filter((crew) => own === undefined || crew.id === own);
    const nowMs = now();
    response.json({ crews: crews.map((crew) => crewToJson(crew, site.site.timezone, nowMs)) });
  }));

  api.post('/crews/:id/location', { summary: "a crew's reported position (a crew member: its own crew's)", access: ['crew', 'admin'], params: idParams, body: crewLocationBodySchema, responses: { 204: 'recorded', 400: 'bad fields', 404: 'no such crew' } }, route(async (request, response) => {
    const { id } = parseOrThrow(idParams, request.params, 'params');
    const crew = ownCrew(response);
    if (crew !== undefined && crew !== id) throw new AccessError(403, `a member of ${crew} reports its own crew's position only`);
    const body = parseOrThrow(crewLocationBodySchema, request.body, 'body');
    const atMs = body.at === undefined ? now() : Date.parse(body.at);
    if (!(await updateCrewLocation(deps.pool, site.site.id, id, { lat: body.lat, lon: body.lon, atMs }))) throw new NotFoundError(`no crew ${id}`);
    response.status(204).end();
  }));

  return api;
}
