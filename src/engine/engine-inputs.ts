// What the live engine reads from the database and writes back on complaints: new complaints
// and operator decisions in the order they were stored (by their sequence numbers), and each
// complaint's assignment to an incident and its verification by telemetry.
import type pg from 'pg';
import type { CorrelationEvent, EngineComplaint } from '../contracts/incident.js';
import { complainantOf, type OperatorDecision } from './event-time-engine.js';

const BATCH = 1000;

/** Complaints stored after `afterSeq` (and reported since `sinceMs`, when given), oldest first. */
export async function readEngineComplaintsAfter(pool: pg.Pool, siteId: string, afterSeq: number, sinceMs?: number): Promise<Array<{ seq: number; complaint: EngineComplaint }>> {
  const { rows } = await pool.query(
    `SELECT seq, id, category, zone_id, lat, lon, location, contact, reported_at FROM complaint
     WHERE site_id = $1 AND seq > $2 AND ($3::timestamptz IS NULL OR reported_at >= $3)
     ORDER BY seq LIMIT $4`,
    [siteId, afterSeq, sinceMs === undefined ? null : new Date(sinceMs), BATCH],
  );
  return rows.map((row) => ({
    seq: Number(row.seq),
    complaint: {
      id: row.id,
      category: row.category,
      zone: row.zone_id,
      location: row.lat === null || row.lon === null ? null : { lat: row.lat, lon: row.lon },
      reportedAtMs: (row.reported_at as Date).getTime(),
      complainant: complainantOf({ contact: row.contact ?? undefined, location: row.location }),
    },
  }));
}

export async function readOperatorDecisionsAfter(pool: pg.Pool, siteId: string, afterSeq: number): Promise<Array<{ seq: number; decision: OperatorDecision }>> {
  const { rows } = await pool.query(
    `SELECT d.seq, d.complaint_id, d.decision, d.at FROM complaint_decision d JOIN complaint c ON c.id = d.complaint_id
     WHERE c.site_id = $1 AND d.seq > $2 ORDER BY d.seq LIMIT $3`,
    [siteId, afterSeq, BATCH],
  );
  return rows.map((row) => ({
    seq: Number(row.seq),
    decision: { complaintId: row.complaint_id, decision: row.decision === 'rejected' ? 'rejected' : 'verified', atMs: (row.at as Date).getTime(), key: `decision:${row.seq}` },
  }));
}

/** The engine's assignment of a complaint: its incident, and its verification when telemetry gave it. An operator's decision is never overwritten. */
export async function recordComplaintAssignment(db: pg.Pool | pg.PoolClient, event: Extract<CorrelationEvent, { type: 'complaint_assigned' }>): Promise<void> {
  const byTelemetry = event.verification === 'verified_by_telemetry';
  await db.query(
    `UPDATE complaint SET incident_id = $2,
       matched_anomaly_id = CASE WHEN $3::boolean THEN $4 ELSE matched_anomaly_id END,
       verification = CASE WHEN $3::boolean AND verification = 'pending' THEN 'verified_by_telemetry' ELSE verification END,
       verified_at = CASE WHEN $3::boolean AND verification = 'pending' THEN $5 ELSE verified_at END
     WHERE id = $1`,
    [event.complaintId, event.incidentId, byTelemetry, event.anomalyId, new Date(event.atMs)],
  );
}
