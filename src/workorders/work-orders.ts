// Work orders as dispatchers and crews work them. Every change is one transaction: the order row
// (checked against the version the caller saw), an audit row, and the outbox messages that tell
// the crew and the dashboards; complainants' notifications are recorded when an order completes.
// Due times come from the workload (due-time.ts), crews from assignment.ts. Time is a parameter.
import type pg from 'pg';
import type { ManualWorkOrderBody, WorkOrderAction, WorkOrderStatus } from '../contracts/dispatch.js';
import type { JobType, Priority, WorkOrderOpening } from '../contracts/incident.js';
import type { LatLon, SiteConfig, Zone } from '../contracts/site.js';
import { topics } from '../contracts/telemetry.js';
import { inTransaction } from '../storage/sql.js';
import { chooseCrew, type CrewChoice } from './assignment.js';
import { crewCandidates } from './crews.js';
import { computeDueTime, type DueTimeBasis } from './due-time.js';
import { allowedActions, isOpen, nextStatus, openStatuses } from './lifecycle.js';
import { recordCompletionNotifications } from './notifications.js';
import { enqueueMessage } from './outbox.js';

/** Who acts when dispatch assigns automatically. */
export const AUTO_DISPATCH = 'auto-dispatch';

export class WorkOrderNotFoundError extends Error {
  readonly code = 'work_order_not_found';
}

/** A change the order's current state does not allow: 409, with what is allowed now. */
export class WorkOrderConflictError extends Error {
  constructor(
    readonly code: 'stale_version' | 'invalid_transition' | 'no_capable_crew',
    message: string,
    readonly current: { status: WorkOrderStatus; version: number; allowedActions: WorkOrderAction[] },
  ) {
    super(message);
  }
}

/** Input that names something that does not fit (an unknown crew, an officer of another crew): 400. */
export class WorkOrderInputError extends Error {
  constructor(
    readonly field: string,
    readonly reason: string,
  ) {
    super(`${field}: ${reason}`);
  }
}

interface WorkOrderRow {
  id: string;
  code: string;
  site_id: string;
  source: 'incident' | 'manual';
  incident_id: string | null;
  title: string;
  description: string | null;
  job_type: JobType;
  priority: Priority;
  zone_id: string | null;
  lat: number | null;
  lon: number | null;
  status: WorkOrderStatus;
  version: number;
  crew_id: string | null;
  created_at: Date;
  due_at: Date;
  due_basis: DueTimeBasis | null;
  assigned_at: Date | null;
  acknowledged_at: Date | null;
  started_at: Date | null;
  completed_at: Date | null;
  cancelled_at: Date | null;
  completion_note: string | null;
  completed_by: string[] | null;
  sla_warning_at: Date | null;
  sla_warned_at: Date | null;
  sla_breached_at: Date | null;
}

const iso = (value: Date | null) => (value === null ? null : value.toISOString());

export function workOrderRowToJson(row: WorkOrderRow) {
  return {
    id: row.id,
    code: row.code,
    source: row.source,
    incident_id: row.incident_id,
    title: row.title,
    description: row.description,
    job_type: row.job_type,
    priority: row.priority,
    zone: row.zone_id,
    location: row.lat === null || row.lon === null ? null : { lat: row.lat, lon: row.lon },
    status: row.status,
    version: row.version,
    allowed_actions: allowedActions(row.status),
    crew: row.crew_id,
    created_at: row.created_at.toISOString(),
    due_at: row.due_at.toISOString(),
    due_basis: row.due_basis,
    assigned_at: iso(row.assigned_at),
    acknowledged_at: iso(row.acknowledged_at),
    started_at: iso(row.started_at),
    completed_at: iso(row.completed_at),
    cancelled_at: iso(row.cancelled_at),
    completion_note: row.completion_note,
    completed_by: row.completed_by,
    sla_warned_at: iso(row.sla_warned_at),
    sla_breached_at: iso(row.sla_breached_at),
  };
}
export type WorkOrderJson = ReturnType<typeof workOrderRowToJson>;

/** A zone's representative point: the mean of its outer ring's vertices. */
function zoneCentre(zone: Zone): LatLon {
  const ring = zone.boundary.coordinates[0]!.slice(0, -1);
  return { lon: ring.reduce((sum, [lon]) => sum + lon, 0) / ring.length, lat: ring.reduce((sum, [, lat]) => sum + lat, 0) / ring.length };
}

interface NewOrder {
  id: string;
  source: 'incident' | 'manual';
  incidentId: string | null;
  title: string;
  description: string | null;
  jobType: JobType;
  priority: Priority;
  zone: string | null;
  location: LatLon | null;
  createdAtMs: number;
}

async function dueTimeFor(client: pg.PoolClient, site: SiteConfig, order: { id: string; jobType: JobType; priority: Priority; zone: string | null }, createdAtMs: number) {
  const settings = site.dispatch;
  const { rows } = await client.query<{ id: string; job_type: JobType; priority: Priority; zone_id: string | null }>(
    'SELECT id, job_type, priority, zone_id FROM work_order WHERE site_id = $1 AND status = ANY($2) AND id <> $3',
    [site.site.id, openStatuses, order.id],
  );
  const queue = rows.map((row) => ({ id: row.id, jobType: row.job_type, priority: row.priority, zone: row.zone_id }));
  const crews = await crewCandidates(client, site, settings, createdAtMs);
  const due = computeDueTime({ ...order, createdAtMs }, queue, crews, settings);
  const allowedMs = due.dueAtMs - createdAtMs;
  return { ...due, warningAtMs: due.dueAtMs - Math.round(allowedMs * settings.sla_warning_fraction) };
}

async function insertOrder(client: pg.PoolClient, site: SiteConfig, order: NewOrder, actor: string, note: string | null): Promise<WorkOrderRow | undefined> {
  // One writer at a time computes due times, so two orders opened together each see the other in the queue.
  await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`work-order-queue:${site.site.id}`]);
  const due = await dueTimeFor(client, site, order, order.createdAtMs);
  const { rows } = await client.query<WorkOrderRow>(
    `INSERT INTO work_order (id, site_id, incident_id, source, title, description, job_type, priority, zone_id, lat, lon, created_at, due_at, due_basis, sla_warning_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
     ON CONFLICT DO NOTHING RETURNING *`,
    [order.id, site.site.id, order.incidentId, order.source, order.title, order.description, order.jobType, order.priority, order.zone, order.location?.lat ?? null, order.location?.lon ?? null,
      new Date(order.createdAtMs), new Date(due.dueAtMs), JSON.stringify(due.basis), new Date(due.warningAtMs)],
  );
  const row = rows[0];
  if (row === undefined) return undefined;
  await audit(client, row, { actor, action: 'create', from: null, note, detail: { due_basis: due.basis }, atMs: order.createdAtMs });
  await announce(client, site.site.id, row, 'create', null);
  if (site.dispatch.auto_assign) return (await autoAssign(client, site, row, order.createdAtMs)) ?? row;
  return row;
}

/**
 * Opens the work order of an incident, inside the engine's transaction that stores the opening.
 * Idempotent: a second opening of the same order changes nothing. Returns the order when new.
 */
export async function openIncidentWorkOrder(client: pg.PoolClient, site: SiteConfig, opening: WorkOrderOpening): Promise<WorkOrderJson | undefined> {
  const { rows } = await client.query<{ zone_id: string | null; kind: string; complaints: number; lat: number | null; lon: number | null }>(
    `SELECT i.zone_id, i.kind, cardinality(i.complaint_ids) AS complaints, avg(c.lat) AS lat, avg(c.lon) AS lon
     FROM incident i LEFT JOIN complaint c ON c.id::text = ANY(i.complaint_ids) AND c.lat IS NOT NULL
     WHERE i.id = $1 GROUP BY i.id`,
    [opening.incidentId],
  );
  const incident = rows[0];
  const zoneId = incident?.zone_id ?? null;
  const zone = site.zones.find((candidate) => candidate.id === zoneId);
  const location = incident?.lat != null && incident.lon != null ? { lat: incident.lat, lon: incident.lon } : zone === undefined ? null : zoneCentre(zone);
  const complaints = incident?.complaints ?? 0;
  const title = `${(incident?.kind ?? 'incident').replace(/_/g, ' ')}${zone === undefined ? '' : ` in ${zone.name}`}${complaints > 0 ? ` (${complaints} complaint${complaints === 1 ? '' : 's'})` : ''}`;
  const row = await insertOrder(
    client,
    site,
    { id: opening.id, source: 'incident', incidentId: opening.incidentId, title, description: null, jobType: opening.jobType, priority: opening.priority, zone: zoneId, location, createdAtMs: opening.createdAtMs },
    'engine',
    `opened by incident ${opening.incidentId}`,
  );
  return row === undefined ? undefined : workOrderRowToJson(row);
}

/** A dispatcher's order that no incident opened (a meter change, a sampling round). */
export async function createManualWorkOrder(pool: pg.Pool, site: SiteConfig, body: ManualWorkOrderBody & { by: string }, nowMs: number): Promise<WorkOrderJson> {
  if (body.zone !== undefined && !site.zones.some((zone) => zone.id === body.zone)) throw new WorkOrderInputError('zone', `unknown zone "${body.zone}"`);
  return inTransaction(pool, async (client) => {
    const { rows } = await client.query<{ id: string }>("SELECT 'wo-manual-' || nextval('work_order_code_seq') AS id");
    const zone = body.zone ?? null;
    const row = await insertOrder(
      client,
      site,
      { id: rows[0]!.id, source: 'manual', incidentId: null, title: body.title, description: body.description ?? null, jobType: body.job_type, priority: body.priority, zone, location: body.location ?? null, createdAtMs: nowMs },
      body.by,
      null,
    );
    return workOrderRowToJson(row!);
  });
}

export interface TransitionRequest {
  action: WorkOrderAction;
  version: number;
  by: string;
  note?: string | undefined;
  /** assign: the crew; absent, the best capable crew. */
  crew?: string | undefined;
  /** complete: the officers credited; absent, every officer of the crew. */
  officers?: string[] | undefined;
}

/** Applies one action to an order, or throws a conflict naming the current state and what it allows. */
export async function applyWorkOrderAction(pool: pg.Pool, site: SiteConfig, id: string, request: TransitionRequest, nowMs: number): Promise<WorkOrderJson> {
  return inTransaction(pool, async (client) => {
    const { rows } = await client.query<WorkOrderRow>('SELECT * FROM work_order WHERE id = $1 AND site_id = $2 FOR UPDATE', [id, site.site.id]);
    const row = rows[0];
    if (row === undefined) throw new WorkOrderNotFoundError(`no work order ${id}`);
    const current = { status: row.status, version: row.version, allowedActions: allowedActions(row.status) };
    if (request.version !== row.version) {
      throw new WorkOrderConflictError('stale_version', `work order ${row.code} is at version ${row.version}, not ${request.version}: reload it`, current);
    }
    const to = nextStatus(row.status, request.action);
    if (to === undefined) {
      throw new WorkOrderConflictError('invalid_transition', `cannot ${request.action} a work order that is ${row.status}; allowed: ${current.allowedActions.join(', ') || 'none'}`, current);
    }
    const changed = await applyTransition(client, site, row, to, request, nowMs);
    if (request.action === 'reopen' && site.dispatch.auto_assign) return workOrderRowToJson((await autoAssign(client, site, changed, nowMs)) ?? changed);
    return workOrderRowToJson(changed);
  });
}

async function applyTransition(
  client: pg.PoolClient,
  site: SiteConfig,
  row: WorkOrderRow,
  to: WorkOrderStatus,
  request: TransitionRequest,
  nowMs: number,
  /** assign: a choice already made (auto-assignment), kept with its candidates in the audit. */
  madeChoice?: CrewChoice,
): Promise<WorkOrderRow> {
  const now = new Date(nowMs);
  const set: Record<string, unknown> = { status: to };
  let detail: Record<string, unknown> | null = null;
  switch (request.action) {
    case 'assign': {
      const choice = madeChoice ?? (request.crew === undefined ? await chooseFor(client, site, row, nowMs) : await checkCrew(client, site, row, request.crew));
      if (choice.crewId === null) throw new WorkOrderConflictError('no_capable_crew', choice.explanation, { status: row.status, version: row.version, allowedActions: allowedActions(row.status) });
      Object.assign(set, { crew_id: choice.crewId, assigned_at: now, acknowledged_at: null });
      detail = { crew: choice.crewId, previous_crew: row.crew_id, chosen_by: madeChoice !== undefined || request.crew === undefined ? 'auto' : 'dispatcher', explanation: choice.explanation, candidates: choice.candidates };
      break;
    }
    case 'acknowledge':
      set.acknowledged_at = now;
      break;
    case 'start':
      set.started_at = now;
      break;
    case 'complete': {
      const officers = await creditedOfficers(client, row.crew_id!, request.officers);
      Object.assign(set, { completed_at: now, completion_note: request.note ?? null, completed_by: officers });
      detail = { officers, on_time: nowMs <= row.due_at.getTime() };
      break;
    }
    case 'cancel':
      set.cancelled_at = now;
      break;
    case 'reopen': {
      const due = await dueTimeFor(client, site, { id: row.id, jobType: row.job_type, priority: row.priority, zone: row.zone_id }, nowMs);
      Object.assign(set, {
        crew_id: null, assigned_at: null, acknowledged_at: null, started_at: null, completed_at: null, cancelled_at: null, completion_note: null, completed_by: null,
        due_at: new Date(due.dueAtMs), due_basis: JSON.stringify(due.basis), sla_warning_at: new Date(due.warningAtMs), sla_warned_at: null, sla_breached_at: null,
      });
      detail = { due_basis: due.basis, previous_crew: row.crew_id };
      break;
    }
  }
  const columns = Object.keys(set);
  const { rows } = await client.query<WorkOrderRow>(
    `UPDATE work_order SET ${columns.map((column, index) => `${column} = $${index + 2}`).join(', ')}, version = version + 1, updated_at = now()
     WHERE id = $1 RETURNING *`,
    [row.id, ...columns.map((column) => set[column])],
  );
  const changed = rows[0]!;
  await audit(client, changed, { actor: request.by, action: request.action, from: row.status, note: request.note ?? null, detail, atMs: nowMs });
  await announce(client, site.site.id, changed, request.action, row.crew_id);
  if (request.action === 'complete' && changed.incident_id !== null) {
    await recordCompletionNotifications(client, site.site.id, { id: changed.id, code: changed.code, incidentId: changed.incident_id });
  }
  return changed;
}

async function autoAssign(client: pg.PoolClient, site: SiteConfig, row: WorkOrderRow, nowMs: number): Promise<WorkOrderRow | undefined> {
  const choice = await chooseFor(client, site, row, nowMs);
  if (choice.crewId === null) {
    await audit(client, row, { actor: AUTO_DISPATCH, action: 'assign_skipped', from: row.status, note: choice.explanation, detail: null, atMs: nowMs });
    return undefined;
  }
  return applyTransition(client, site, row, 'assigned', { action: 'assign', version: row.version, by: AUTO_DISPATCH }, nowMs, choice);
}

async function chooseFor(client: pg.PoolClient, site: SiteConfig, row: WorkOrderRow, nowMs: number): Promise<CrewChoice> {
  const crews = (await crewCandidates(client, site, site.dispatch, nowMs)).filter((crew) => crew.id !== row.crew_id || row.status === 'new');
  const location = row.lat === null || row.lon === null ? null : { lat: row.lat, lon: row.lon };
  return chooseCrew({ jobType: row.job_type, zone: row.zone_id, location }, crews, site.dispatch);
}

/** A dispatcher's override: the crew must exist and have the skill; serving another zone is allowed and noted. */
async function checkCrew(client: pg.PoolClient, site: SiteConfig, row: WorkOrderRow, crewId: string): Promise<CrewChoice> {
  const { rows } = await client.query<{ skills: JobType[]; zones: string[] }>('SELECT skills, zones FROM crew WHERE id = $1 AND site_id = $2 AND active', [crewId, site.site.id]);
  const crew = rows[0];
  if (crew === undefined) throw new WorkOrderInputError('crew', `no active crew "${crewId}"`);
  if (!crew.skills.includes(row.job_type)) throw new WorkOrderInputError('crew', `crew "${crewId}" lacks the skill ${row.job_type}`);
  const outside = row.zone_id !== null && crew.zones.length > 0 && !crew.zones.includes(row.zone_id);
  return { crewId, candidates: [], explanation: `chosen by dispatcher${outside ? ` (crew does not usually serve ${row.zone_id})` : ''}` };
}

async function creditedOfficers(client: pg.PoolClient, crewId: string, named: string[] | undefined): Promise<string[]> {
  const { rows } = await client.query<{ id: string }>('SELECT id FROM crew_officer WHERE crew_id = $1 AND active ORDER BY id', [crewId]);
  const members = rows.map((row) => row.id);
  if (named === undefined) return members;
  const strangers = named.filter((officer) => !members.includes(officer));
  if (strangers.length > 0) throw new WorkOrderInputError('officers', `not officers of crew "${crewId}": ${strangers.join(', ')}`);
  return [...new Set(named)].sort();
}

interface AuditEntry {
  actor: string;
  action: string;
  from: WorkOrderStatus | null;
  note: string | null;
  detail: Record<string, unknown> | null;
  atMs: number;
}

async function audit(client: pg.PoolClient, row: WorkOrderRow, entry: AuditEntry): Promise<void> {
  await client.query(
    `INSERT INTO work_order_event (work_order_id, at, actor, action, from_status, to_status, version, note, detail) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
    [row.id, new Date(entry.atMs), entry.actor, entry.action, entry.from, row.status, row.version, entry.note, entry.detail === null ? null : JSON.stringify(entry.detail)],
  );
}

/** Tells the dashboards, the order's crew and, on a hand-over, the crew that lost it. */
async function announce(client: pg.PoolClient, siteId: string, row: WorkOrderRow, action: string, previousCrew: string | null): Promise<void> {
  const message = { type: 'work_order', action, site: siteId, order: workOrderRowToJson(row) };
  await enqueueMessage(client, topics.workOrders(siteId), message);
  if (row.crew_id !== null) await enqueueMessage(client, topics.crewOrders(row.crew_id), message);
  if (previousCrew !== null && previousCrew !== row.crew_id) await enqueueMessage(client, topics.crewOrders(previousCrew), { ...message, action: 'unassigned' });
}

export interface WorkOrderFilter {
  status?: WorkOrderStatus | undefined;
  crew?: string | undefined;
  open?: boolean | undefined;
  limit: number;
}

/** The dispatcher's queue: most urgent first, then the earliest due. */
export async function listWorkOrders(pool: pg.Pool, siteId: string, filter: WorkOrderFilter): Promise<WorkOrderJson[]> {
  const { rows } = await pool.query<WorkOrderRow>(
    `SELECT * FROM work_order
     WHERE site_id = $1 AND ($2::text IS NULL OR status = $2) AND ($3::text IS NULL OR crew_id = $3)
       AND ($4::boolean IS NULL OR (status = ANY($5)) = $4)
     ORDER BY priority, due_at, id LIMIT $6`,
    [siteId, filter.status ?? null, filter.crew ?? null, filter.open ?? null, openStatuses, filter.limit],
  );
  return rows.map(workOrderRowToJson);
}

/** An order with its timeline (the audit rows, oldest first), by id or by code. */
export async function getWorkOrder(pool: pg.Pool, siteId: string, idOrCode: string) {
  const { rows } = await pool.query<WorkOrderRow>('SELECT * FROM work_order WHERE site_id = $1 AND (id = $2 OR code = $2)', [siteId, idOrCode]);
  const row = rows[0];
  if (row === undefined) return undefined;
  const events = await pool.query(
    'SELECT id, at, actor, action, from_status, to_status, version, note, detail FROM work_order_event WHERE work_order_id = $1 ORDER BY id',
    [row.id],
  );
  return {
    ...workOrderRowToJson(row),
    overdue: isOpen(row.status) && row.sla_breached_at !== null,
    timeline: events.rows.map((event) => ({
      at: (event.at as Date).toISOString(),
      actor: event.actor,
      action: event.action,
      from: event.from_status,
      to: event.to_status,
      version: event.version,
      note: event.note,
      detail: event.detail,
    })),
  };
}

/**
 * Raises the SLA escalations due at `nowMs`: a warning when the set share of the allowed time is
 * left, a breach at the due time. Each once per due time; returns how many were raised.
 */
export async function raiseSlaEscalations(pool: pg.Pool, siteId: string, nowMs: number): Promise<{ warnings: number; breaches: number }> {
  return inTransaction(pool, async (client) => {
    const now = new Date(nowMs);
    const { rows } = await client.query<WorkOrderRow & { level: 'warning' | 'breach' }>(
      `SELECT *, CASE WHEN due_at <= $2 THEN 'breach' ELSE 'warning' END AS level FROM work_order
       WHERE site_id = $1 AND status = ANY($3)
         AND ((due_at <= $2 AND sla_breached_at IS NULL) OR (sla_warning_at <= $2 AND sla_warned_at IS NULL AND due_at > $2))
       ORDER BY due_at FOR UPDATE SKIP LOCKED`,
      [siteId, now, openStatuses],
    );
    const counts = { warnings: 0, breaches: 0 };
    for (const row of rows) {
      const breach = row.level === 'breach';
      const { rows: updated } = await client.query<WorkOrderRow>(
        `UPDATE work_order SET ${breach ? 'sla_breached_at = $2, sla_warned_at = coalesce(sla_warned_at, $2)' : 'sla_warned_at = $2'} WHERE id = $1 RETURNING *`,
        [row.id, now],
      );
      const order = updated[0]!;
      const minutesLeft = Math.round((order.due_at.getTime() - nowMs) / 60_000);
      const note = breach ? `due at ${order.due_at.toISOString()}, not completed` : `${minutesLeft} min left before due at ${order.due_at.toISOString()}`;
      await audit(client, order, { actor: 'sla-monitor', action: breach ? 'sla_breach' : 'sla_warning', from: order.status, note, detail: { due_at: order.due_at.toISOString(), minutes_left: minutesLeft }, atMs: nowMs });
      await announce(client, siteId, order, breach ? 'sla_breach' : 'sla_warning', null);
      if (breach) counts.breaches += 1;
      else counts.warnings += 1;
    }
    return counts;
  });
}
