// The live engine's side of the complaint store: new complaints and operator decisions in the
// order they were stored (by their sequence numbers), as engine inputs; and each complaint's
// assignment to an incident, with its verification when telemetry gave one.
import type pg from 'pg';
import { listComplaintsAfter, listDecisionsAfter, recordComplaintIncident, recordTelemetryVerification } from '../complaints/complaint-store.js';
import type { ComplaintCategory } from '../contracts/complaint.js';
import type { CorrelationEvent, EngineComplaint } from '../contracts/incident.js';
import { complainantOf, type OperatorDecision } from './event-time-engine.js';

const BATCH = 1000;

/** Complaints stored after `afterSeq` (and reported since `sinceMs`, when given), oldest first. */
export async function readEngineComplaintsAfter(pool: pg.Pool, siteId: string, afterSeq: number, sinceMs?: number): Promise<Array<{ seq: number; complaint: EngineComplaint }>> {
  const stored = await listComplaintsAfter(pool, siteId, afterSeq, BATCH, sinceMs === undefined ? {} : { reportedFromMs: sinceMs });
  return stored.map((complaint) => ({
    seq: complaint.seq,
    complaint: {
      id: complaint.id,
      category: complaint.category as ComplaintCategory,
      zone: complaint.zone,
      location: complaint.position,
      reportedAtMs: Date.parse(complaint.reported_at),
      complainant: complainantOf({ contact: complaint.contact ?? undefined, location: complaint.location }),
    },
  }));
}

export async function readOperatorDecisionsAfter(pool: pg.Pool, siteId: string, afterSeq: number): Promise<Array<{ seq: number; decision: OperatorDecision }>> {
  const decisions = await listDecisionsAfter(pool, siteId, afterSeq, BATCH);
  return decisions.map((decision) => ({
    seq: decision.seq,
    decision: { complaintId: decision.complaintId, decision: decision.decision, atMs: decision.atMs, key: `decision:${decision.seq}` },
  }));
}

/** The engine's assignment of a complaint: its incident, and its verification when telemetry gave it. An operator's decision is never overwritten. */
export async function recordComplaintAssignment(db: pg.PoolClient, event: Extract<CorrelationEvent, { type: 'complaint_assigned' }>): Promise<void> {
  if (event.verification === 'verified_by_telemetry' && event.anomalyId !== null) {
    await recordTelemetryVerification(db, event.complaintId, { anomalyId: event.anomalyId, incidentId: event.incidentId, atMs: event.atMs });
  } else {
    await recordComplaintIncident(db, event.complaintId, event.incidentId);
  }
}
