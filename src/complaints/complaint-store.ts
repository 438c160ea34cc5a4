// Complaint storage: each complaint stored once however often it is sent, its verification
// state, and the ordered feeds the engine reads (new complaints and operator decisions by seq).
//
// Feeds by seq are only safe if no row becomes visible with a seq lower than one already read.
// An identity value is taken at insert and becomes visible at commit, so two concurrent
// transactions could commit out of order; every writer of a feed therefore holds a per-site
// advisory lock from insert to commit, which makes seq order commit order.
import type pg from 'pg';
import type { ComplaintBody, ComplaintVerificationState, LocationStatus } from '../contracts/complaint.js';
import { inTransaction } from '../storage/sql.js';
import type { ComplaintPlacement } from './complaint-location.js';

export { placeComplaint, type ComplaintPlacement } from './complaint-location.js';
export type { LocationStatus } from '../contracts/complaint.js';

type Queryable = pg.Pool | pg.PoolClient;

export interface StoredComplaint {
  id: string;
  /** Order of arrival at the store: the engine reads complaints by it. */
  seq: number;
  site: string;
  channel: string;
  category: string;
  /** As the complaint gave it. */
  location: ComplaintBody['location'];
  /** The point it was placed at: its own coordinates, its account's or its geocoded address's. */
  position: { lat: number; lon: number } | null;
  zone: string | null;
  location_status: LocationStatus;
  text: string;
  contact: string | null;
  external_id: string | null;
  reported_at: string;
  received_at: string;
  verification: ComplaintVerificationState;
  verified_at: string | null;
  verified_by: string | null;
  verification_note: string | null;
  matched_anomaly_id: string | null;
  incident_id: string | null;
}

export interface ComplaintToStore {
  body: ComplaintBody;
  placement: ComplaintPlacement;
  idempotencyKey?: string | undefined;
}

const COLUMNS = `id, seq, site_id, channel, category, location, lat, lon, zone_id, location_status, text, contact, external_id, reported_at, received_at,
  verification, verified_at, verified_by, verification_note, matched_anomaly_id, incident_id`;

const complaintFeedLock = (siteId: string) => `complaint_seq:${siteId}`;
const decisionFeedLock = (siteId: string) => `complaint_decision_seq:${siteId}`;

/**
 * Stores complaints in one transaction, in order. One whose Idempotency-Key or (channel,
 * external_id) was stored before (by an earlier request, a concurrent one, or earlier in this
 * batch) is not stored again: its stored version is returned with created = false.
 */
export async function storeComplaints(
  pool: pg.Pool,
  siteId: string,
  complaints: readonly ComplaintToStore[],
  receivedAtMs: number,
): Promise<Array<{ complaint: StoredComplaint; created: boolean }>> {
  const receivedAt = new Date(receivedAtMs);
  return inTransaction(pool, async (client) => {
    await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [complaintFeedLock(siteId)]);
    const results: Array<{ complaint: StoredComplaint; created: boolean }> = [];
    for (const { body, placement, idempotencyKey } of complaints) {
      const { rows } = await client.query(
        `INSERT INTO complaint (site_id, channel, category, location, lat, lon, zone_id, location_status, text, contact, external_id, idempotency_key, reported_at, received_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
         ON CONFLICT DO NOTHING
         RETURNING ${COLUMNS}`,
        [
          siteId,
          body.channel,
          body.category,
          JSON.stringify(body.location),
          placement.lat,
          placement.lon,
          placement.zone,
          placement.status,
          body.text,
          body.contact ?? null,
          body.external_id ?? null,
          idempotencyKey ?? null,
          body.reported_at ? new Date(body.reported_at) : receivedAt,
          receivedAt,
        ],
      );
      if (rows[0] !== undefined) {
        results.push({ complaint: toComplaint(rows[0]), created: true });
        continue;
      }
      const existing = await client.query(
        `SELECT ${COLUMNS} FROM complaint
         WHERE ($1::text IS NOT NULL AND idempotency_key = $1) OR ($2::text IS NOT NULL AND channel = $3 AND external_id = $2)
         ORDER BY seq LIMIT 1`,
        [idempotencyKey ?? null, body.external_id ?? null, body.channel],
      );
      if (existing.rows[0] === undefined) throw new Error('complaint insert conflicted but no matching complaint was found');
      results.push({ complaint: toComplaint(existing.rows[0]), created: false });
    }
    return results;
  });
}

export async function getComplaint(db: Queryable, id: string): Promise<StoredComplaint | undefined> {
  const { rows } = await db.query(`SELECT ${COLUMNS} FROM complaint WHERE id = $1`, [id]);
  return rows[0] === undefined ? undefined : toComplaint(rows[0]);
}

export interface ComplaintFilter {
  zone?: string | undefined;
  locationStatus?: LocationStatus | undefined;
  verification?: ComplaintVerificationState | undefined;
  /** Reported at or after. */
  fromMs?: number | undefined;
  /** Reported before. */
  toMs?: number | undefined;
  limit: number;
}

/** Newest report first. */
export async function listComplaints(db: Queryable, siteId: string, filter: ComplaintFilter): Promise<StoredComplaint[]> {
  const { rows } = await db.query(
    `SELECT ${COLUMNS} FROM complaint
     WHERE site_id = $1
       AND ($2::text IS NULL OR zone_id = $2)
       AND ($3::text IS NULL OR location_status = $3)
       AND ($4::text IS NULL OR verification = $4)
       AND ($5::timestamptz IS NULL OR reported_at >= $5)
       AND ($6::timestamptz IS NULL OR reported_at < $6)
     ORDER BY reported_at DESC, seq DESC
     LIMIT $7`,
    [siteId, filter.zone ?? null, filter.locationStatus ?? null, filter.verification ?? null, date(filter.fromMs), date(filter.toMs), filter.limit],
  );
  return rows.map(toComplaint);
}

/**
 * Complaints stored after `seq`, in seq order: the engine's feed. `reportedFromMs` skips older
 * reports (a restarted engine re-reads only recent ones).
 */
export async function listComplaintsAfter(db: Queryable, siteId: string, seq: number, limit: number, options: { reportedFromMs?: number } = {}): Promise<StoredComplaint[]> {
  const { rows } = await db.query(
    `SELECT ${COLUMNS} FROM complaint
     WHERE site_id = $1 AND seq > $2 AND ($4::timestamptz IS NULL OR reported_at >= $4)
     ORDER BY seq LIMIT $3`,
    [siteId, seq, limit, date(options.reportedFromMs)],
  );
  return rows.map(toComplaint);
}

export type OperatorDecision = 'verified' | 'rejected';

export interface ComplaintDecision {
  seq: number;
  complaintId: string;
  decision: OperatorDecision;
  by: string;
  note: string | null;
  atMs: number;
}

/** Operator decisions recorded after `seq`, in the order they were made: the engine's feed. */
export async function listDecisionsAfter(db: Queryable, siteId: string, seq: number, limit: number): Promise<ComplaintDecision[]> {
  const { rows } = await db.query(
    `SELECT seq, complaint_id, decision, by, note, at FROM complaint_decision
     WHERE site_id = $1 AND seq > $2 ORDER BY seq LIMIT $3`,
    [siteId, seq, limit],
  );
  return rows.map((row) => ({
    seq: Number(row.seq),
    complaintId: row.complaint_id,
    decision: row.decision,
    by: row.by,
    note: row.note,
    atMs: (row.at as Date).getTime(),
  }));
}

export type DecisionOutcome =
  | { outcome: 'decided'; complaint: StoredComplaint }
  /** The complaint's state does not allow the decision; `complaint` shows why. */
  | { outcome: 'conflict'; complaint: StoredComplaint }
  | { outcome: 'not_found' };

/**
 * An operator verifies or rejects a complaint. Each complaint takes one operator decision. A
 * telemetry-verified complaint may still be rejected (it matched an anomaly it has nothing to do
 * with) but not verified again.
 */
export async function decideComplaint(
  pool: pg.Pool,
  siteId: string,
  complaintId: string,
  decision: { decision: OperatorDecision; by: string; note?: string | undefined; atMs: number },
): Promise<DecisionOutcome> {
  // Nothing is written on the way out of a refused decision, so its transaction may simply commit.
  return inTransaction(pool, async (client): Promise<DecisionOutcome> => {
    await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [decisionFeedLock(siteId)]);
    const { rows } = await client.query(`SELECT ${COLUMNS} FROM complaint WHERE id = $1 AND site_id = $2 FOR UPDATE`, [complaintId, siteId]);
    if (rows[0] === undefined) return { outcome: 'not_found' };
    const current = toComplaint(rows[0]);
    const allowedFrom: readonly ComplaintVerificationState[] = decision.decision === 'verified' ? ['pending'] : ['pending', 'verified_by_telemetry'];
    if (!allowedFrom.includes(current.verification)) return { outcome: 'conflict', complaint: current };
    const at = new Date(decision.atMs);
    const updated = await client.query(
      `UPDATE complaint SET verification = $2, verified_at = $3, verified_by = $4, verification_note = $5 WHERE id = $1 RETURNING ${COLUMNS}`,
      [complaintId, decision.decision === 'verified' ? 'verified_by_operator' : 'rejected', at, decision.by, decision.note ?? null],
    );
    await client.query(
      'INSERT INTO complaint_decision (site_id, complaint_id, decision, by, note, at) VALUES ($1, $2, $3, $4, $5, $6)',
      [siteId, complaintId, decision.decision, decision.by, decision.note ?? null, at],
    );
    return { outcome: 'decided', complaint: toComplaint(updated.rows[0]) };
  });
}

/** What the engine concluded about one complaint since it last wrote. */
export interface ComplaintAssignment {
  complaintId: string;
  /** The incident it belongs to (null: none); absent leaves the stored one. */
  incidentId?: string | null;
  /** The anomaly that verified it, and when telemetry first did. */
  telemetryMatch?: { anomalyId: string; atMs: number };
}

/**
 * Records the engine's assignments in one statement. A telemetry match turns a pending complaint
 * into one verified by telemetry; an operator's decision stands, but the anomaly is recorded either
 * way. Writing the same assignment again changes nothing. Returns how many complaints it found.
 */
export async function recordComplaintAssignments(db: Queryable, assignments: readonly ComplaintAssignment[]): Promise<number> {
  if (assignments.length === 0) return 0;
  // Every SET expression sees the row as it was, so the CASEs all test the old verification.
  const result = await db.query(
    `UPDATE complaint c SET
       incident_id = CASE WHEN u.sets_incident THEN u.incident_id ELSE c.incident_id END,
       matched_anomaly_id = coalesce(u.anomaly_id, c.matched_anomaly_id),
       verification = CASE WHEN u.anomaly_id IS NOT NULL AND c.verification = 'pending' THEN 'verified_by_telemetry' ELSE c.verification END,
       verified_at = CASE WHEN u.anomaly_id IS NOT NULL AND c.verification = 'pending' THEN u.matched_at ELSE c.verified_at END
     FROM unnest($1::uuid[], $2::boolean[], $3::text[], $4::text[], $5::timestamptz[]) AS u(id, sets_incident, incident_id, anomaly_id, matched_at)
     WHERE c.id = u.id`,
    [
      assignments.map((assignment) => assignment.complaintId),
      assignments.map((assignment) => assignment.incidentId !== undefined),
      assignments.map((assignment) => assignment.incidentId ?? null),
      assignments.map((assignment) => assignment.telemetryMatch?.anomalyId ?? null),
      assignments.map((assignment) => (assignment.telemetryMatch === undefined ? null : new Date(assignment.telemetryMatch.atMs))),
    ],
  );
  return result.rowCount ?? 0;
}

const date = (ms: number | undefined) => (ms === undefined ? null : new Date(ms));
const isoOrNull = (value: Date | null) => (value === null ? null : value.toISOString());

function toComplaint(row: Record<string, any>): StoredComplaint {
  return {
    id: row.id,
    seq: Number(row.seq),
    site: row.site_id,
    channel: row.channel,
    category: row.category,
    location: row.location,
    position: row.lat === null || row.lon === null ? null : { lat: row.lat, lon: row.lon },
    zone: row.zone_id,
    location_status: row.location_status,
    text: row.text,
    contact: row.contact,
    external_id: row.external_id,
    reported_at: (row.reported_at as Date).toISOString(),
    received_at: (row.received_at as Date).toISOString(),
    verification: row.verification,
    verified_at: isoOrNull(row.verified_at),
    verified_by: row.verified_by,
    verification_note: row.verification_note,
    matched_anomaly_id: row.matched_anomaly_id,
    incident_id: row.incident_id,
  };
}
