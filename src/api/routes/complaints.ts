import { Router } from 'express';
import { z } from 'zod';
import { complaintBodySchema } from '../../contracts/complaint.js';
import { acceptComplaint, getComplaint } from '../../complaints/complaint-store.js';
import type { ApiDependencies } from '../app.js';
import { NotFoundError, parseOrThrow, route } from '../validation.js';

const idempotencyKeySchema = z.string().trim().min(1).max(200).optional();
const complaintIdSchema = z.strictObject({ id: z.uuid() });

export function complaintRoutes(deps: ApiDependencies): Router {
  const router = Router();
  const clock = deps.clock ?? Date.now;

  router.post('/complaints', route(async (request, response) => {
    const idempotencyKey = parseOrThrow(idempotencyKeySchema, request.get('Idempotency-Key'), 'header');
    const body = parseOrThrow(complaintBodySchema, request.body, 'body');
    const { complaint, created } = await acceptComplaint(deps.pool, deps.site, body, { idempotencyKey, receivedAtMs: clock() });
    if (created) deps.log.info({ complaint: complaint.id, channel: complaint.channel, zone: complaint.zone }, 'complaint accepted');
    response.status(created ? 201 : 200).location(`/api/v1/complaints/${complaint.id}`).json(complaint);
  }));

  router.get('/complaints/:id', route(async (request, response) => {
    const { id } = parseOrThrow(complaintIdSchema, request.params, 'params');
    const complaint = await getComplaint(deps.pool, id);
    if (complaint === undefined) throw new NotFoundError(`no complaint ${id}`);
    response.json(complaint);
  }));

  return router;
}
