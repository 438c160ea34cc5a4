// What the correlation engine produces: incidents (one event in the network, with the complaints
// and anomalies that are evidence of it), their priority with its reasons, and the work orders
// they open. Times are event times, epoch ms.
import type { ComplaintCategory } from './complaint.js';

export const priorities = ['P1', 'P2', 'P3', 'P4'] as const;
export type Priority = (typeof priorities)[number];

export const incidentKinds = ['burst', 'leak', 'no_water', 'low_pressure', 'pump_trip', 'water_quality', 'other'] as const;
export type IncidentKind = (typeof incidentKinds)[number];

/** Work-order job types; the due time and the crew's required skill follow from it. */
export const jobTypes = ['burst_repair', 'leak_repair', 'no_water_investigation', 'pressure_investigation', 'pump_repair', 'quality_sampling', 'meter', 'general_investigation'] as const;
export type JobType = (typeof jobTypes)[number];

/** A complaint as the engine needs it. */
export interface EngineComplaint {
  id: string;
  category: ComplaintCategory;
  zone: string | null;
  location: { lat: number; lon: number } | null;
  reportedAtMs: number;
  /** Who complained (phone number, account): distinct complainants count in the priority, repeats do not. */
  complainant: string | null;
}

export type ComplaintVerification = 'verified_by_telemetry' | 'verified_by_operator' | 'rejected' | 'pending';

export interface PriorityReason {
  /** customers_affected, critical_customers, complainants, anomaly_magnitude, duration, category, verification */
  factor: string;
  points: number;
  detail: string;
}

export interface Incident {
  /** Deterministic from its first evidence, so replay and live agree. */
  id: string;
  zone: string | null;
  kind: IncidentKind;
  openedAtMs: number;
  closedAtMs: number | null;
  priority: Priority;
  score: number;
  reasons: PriorityReason[];
  complaintIds: string[];
  anomalyIds: string[];
  /** True once a hydraulic anomaly backs it (or an operator verified one of its complaints). */
  verified: boolean;
}

export interface WorkOrderOpening {
  id: string;
  incidentId: string;
  jobType: JobType;
  priority: Priority;
  createdAtMs: number;
  /** From the priority's target; the work-order service refines it from crews' workload. */
  dueAtMs: number;
}

export type CorrelationEvent =
  | { type: 'incident_opened' | 'incident_updated' | 'incident_closed'; atMs: number; incident: Incident }
  /** `into` absorbed `from`: complaints and anomalies of `from` now belong to `into`. */
  | { type: 'incidents_merged'; atMs: number; from: string; into: string }
  | { type: 'complaint_assigned'; atMs: number; complaintId: string; incidentId: string | null; verification: ComplaintVerification; anomalyId: string | null; score: number }
  | { type: 'work_order_opened'; atMs: number; workOrder: WorkOrderOpening };

export function incidentToJson(incident: Incident) {
  return {
    id: incident.id,
    zone: incident.zone,
    kind: incident.kind,
    opened_at: new Date(incident.openedAtMs).toISOString(),
    closed_at: incident.closedAtMs === null ? null : new Date(incident.closedAtMs).toISOString(),
    priority: incident.priority,
    score: incident.score,
    reasons: incident.reasons,
    complaint_ids: incident.complaintIds,
    anomaly_ids: incident.anomalyIds,
    verified: incident.verified,
  };
}

export function workOrderToJson(order: WorkOrderOpening) {
  return {
    id: order.id,
    incident_id: order.incidentId,
    job_type: order.jobType,
    priority: order.priority,
    created_at: new Date(order.createdAtMs).toISOString(),
    due_at: new Date(order.dueAtMs).toISOString(),
  };
}
