// The live engine writes a run of conclusions at once: a complaint's assignment events reduce to
// what writing each in turn would have left.
import { expect } from 'chai';
import type { CorrelationEvent } from '../../src/contracts/incident.js';
import { complaintAssignments } from '../../src/engine/engine-inputs.js';

type Assigned = Extract<CorrelationEvent, { type: 'complaint_assigned' }>;
const assigned = (complaintId: string, atMs: number, incidentId: string | null, verification: Assigned['verification'], anomalyId: string | null = null): Assigned => ({
  type: 'complaint_assigned',
  atMs,
  complaintId,
  incidentId,
  verification,
  anomalyId,
  score: anomalyId === null ? 0 : 0.8,
});

describe('engine writes: complaint assignments of a run', () => {
  it('keeps the last incident, the last matched anomaly and the first time telemetry matched', () => {
    const run = [
      assigned('c1', 1000, 'inc-a', 'pending'),
      assigned('c2', 1000, null, 'pending'),
      assigned('c1', 2000, 'inc-a', 'verified_by_telemetry', 'an-1'),
      assigned('c1', 3000, 'inc-b', 'verified_by_telemetry', 'an-2'),
    ];
    expect(complaintAssignments(run)).to.deep.equal([
      { complaintId: 'c1', incidentId: 'inc-b', telemetryMatch: { anomalyId: 'an-2', atMs: 2000 } },
      { complaintId: 'c2', incidentId: null },
    ]);
  });

  it('leaves the stored incident alone when telemetry matched without one', () => {
    expect(complaintAssignments([assigned('c1', 1000, null, 'verified_by_telemetry', 'an-1')])).to.deep.equal([{ complaintId: 'c1', telemetryMatch: { anomalyId: 'an-1', atMs: 1000 } }]);
  });

  it('lets a later assignment without telemetry move the complaint, keeping the match', () => {
    const run = [assigned('c1', 1000, 'inc-a', 'verified_by_telemetry', 'an-1'), assigned('c1', 5000, 'inc-c', 'rejected', 'an-1')];
    expect(complaintAssignments(run)).to.deep.equal([{ complaintId: 'c1', incidentId: 'inc-c', telemetryMatch: { anomalyId: 'an-1', atMs: 1000 } }]);
  });

  it('gives an assignment to an incident merged away in the same run to the incident it merged into', () => {
    const merges: Array<Extract<CorrelationEvent, { type: 'incidents_merged' }>> = [
      { type: 'incidents_merged', atMs: 2000, from: 'inc-b', into: 'inc-a' },
      { type: 'incidents_merged', atMs: 3000, from: 'inc-c', into: 'inc-b' },
    ];
    const run = [assigned('c1', 1000, 'inc-c', 'pending'), assigned('c2', 1000, 'inc-b', 'verified_by_telemetry', 'an-1'), assigned('c3', 1000, 'inc-d', 'pending')];
    expect(complaintAssignments(run, merges)).to.deep.equal([
      { complaintId: 'c1', incidentId: 'inc-a' },
      { complaintId: 'c2', incidentId: 'inc-a', telemetryMatch: { anomalyId: 'an-1', atMs: 1000 } },
      { complaintId: 'c3', incidentId: 'inc-d' },
    ]);
  });
});
