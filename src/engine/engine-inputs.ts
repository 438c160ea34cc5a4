// The live engine's side of the complaint store: new complaints and operator decisions in the
// order they were stored (by their sequence numbers), as engine inputs; and each complaint's
// assignment to an incident, with its verification when telemetry gave one.
import type pg from 'pg';
import { listComplaintsAfter, listDecisionsAfter, type ComplaintAssignment } from '../complaints/complaint-store.js';
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

/**
 * The net effect of a run of assignment events, one per complaint, as writing them in order would
 * leave it: the last incident given, the last anomaly matched, and the time telemetry first matched.
 * An incident merged away in the same run is replaced by the one it merged into: a merge names
 * only the complaints the correlator still holds.
 */
export function complaintAssignments(
  events: ReadonlyArray<Extract<CorrelationEvent, { type: 'complaint_assigned' }>>,
  merges: ReadonlyArray<Extract<CorrelationEvent, { type: 'incidents_merged' }>> = [],
): ComplaintAssignment[] {
  const mergedInto = new Map(merges.map((merge) => [merge.from, merge.into]));
  const current = (incidentId: string | null) => {
    let id = incidentId;
    while (id !== null && mergedInto.has(id)) id = mergedInto.get(id)!;
    return id;
  };
  const byComplaint = new Map<string, ComplaintAssignment>();
  for (const event of events) {
    let assignment = byComplaint.get(event.complaintId);
    if (assignment === undefined) {
      assignment = { complaintId: event.complaintId };
      byComplaint.set(event.complaintId, assignment);
    }
    if (event.verification === 'verified_by_telemetry' && event.anomalyId !== null) {
      // A match without an incident leaves the incident as it was.
      if (event.incidentId !== null) assignment.incidentId = current(event.incidentId);
      assignment.telemetryMatch = { anomalyId: event.anomalyId, atMs: assignment.telemetryMatch?.atMs ?? event.atMs };
    } else {
      assignment.incidentId = current(event.incidentId);
    }
  }
  return [...byComplaint.values()];
}
