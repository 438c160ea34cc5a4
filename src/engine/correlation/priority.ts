// What an incident is and how urgent: its kind from its evidence, an explainable score (points per
// factor, each with a line for the operator) mapped to P1..P4, and the job type of its work order.
// Pure: the correlator recomputes these whenever the evidence or the incident's age changes.
import type { Anomaly, AnomalyKind } from '../../contracts/anomaly.js';
import type { ComplaintCategory } from '../../contracts/complaint.js';
import type { CorrelationSettings } from '../../contracts/correlation-settings.js';
import type { ComplaintVerification, IncidentKind, JobType, Priority, PriorityReason } from '../../contracts/incident.js';
import type { CriticalCustomer, Zone } from '../../contracts/site.js';

export type PrioritySettings = CorrelationSettings['priority'];

export interface EvidenceComplaint {
  id: string;
  category: ComplaintCategory;
  zone: string | null;
  complainant: string | null;
  verification: ComplaintVerification;
}

/**
 * What the priority reads from an incident's complaints, kept as counts so that a complaint joining
 * an incident of thousands costs the same as one joining an incident of one. Rejected complaints
 * are counted apart and nowhere else.
 */
export class ComplaintTally {
  total = 0;
  rejected = 0;
  operatorVerified = 0;
  readonly byCategory = new Map<ComplaintCategory, number>();
  readonly byComplainant = new Map<string, number>();
  /** Counted complaints per zone, in order of the zone's first appearance. */
  readonly byZone = new Map<string, number>();

  static of(complaints: readonly EvidenceComplaint[]): ComplaintTally {
    const tally = new ComplaintTally();
    for (const complaint of complaints) tally.add(complaint);
    return tally;
  }

  get counted(): number {
    return this.total - this.rejected;
  }

  get complainants(): number {
    return this.byComplainant.size;
  }

  add(complaint: EvidenceComplaint): void {
    this.change(complaint, complaint.verification, 1);
  }

  /** The complaint, counted under `before`, is now counted under its current verification. */
  reverify(complaint: EvidenceComplaint, before: ComplaintVerification): void {
    this.change(complaint, before, -1);
    this.change(complaint, complaint.verification, 1);
  }

  merge(other: ComplaintTally): void {
    this.total += other.total;
    this.rejected += other.rejected;
    this.operatorVerified += other.operatorVerified;
    for (const [category, count] of other.byCategory) bump(this.byCategory, category, count);
    for (const [complainant, count] of other.byComplainant) bump(this.byComplainant, complainant, count);
    for (const [zone, count] of other.byZone) bump(this.byZone, zone, count);
  }

  private change(complaint: EvidenceComplaint, verification: ComplaintVerification, delta: 1 | -1): void {
    this.total += delta;
    if (verification === 'rejected') {
      this.rejected += delta;
      return;
    }
    if (verification === 'verified_by_operator') this.operatorVerified += delta;
    bump(this.byCategory, complaint.category, delta);
    bump(this.byComplainant, complaint.complainant ?? `complaint ${complaint.id}`, delta);
    if (complaint.zone !== null) bump(this.byZone, complaint.zone, delta);
  }
}

/** Adds to a count; a key that reaches zero is dropped, and comes back last in the order. */
function bump<K>(counts: Map<K, number>, key: K, delta: number): void {
  const count = (counts.get(key) ?? 0) + delta;
  if (count === 0) counts.delete(key);
  else counts.set(key, count);
}

export interface IncidentEvidence {
  zone: string | null;
  complaints: ComplaintTally;
  anomalies: readonly Anomaly[];
  /** Full duration steps the incident has been open. */
  durationSteps: number;
}

export interface PriorityResult {
  score: number;
  priority: Priority;
  reasons: PriorityReason[];
}

export const jobTypeByKind: Record<IncidentKind, JobType> = {
  burst: 'burst_repair',
  leak: 'leak_repair',
  no_water: 'no_water_investigation',
  low_pressure: 'pressure_investigation',
  pump_trip: 'pump_repair',
  water_quality: 'quality_sampling',
  other: 'general_investigation',
};

const FLOW_RISE: ReadonlySet<AnomalyKind> = new Set(['flow_above_profile', 'flow_high', 'flow_very_high']);
const LARGE_FLOW_RISE: ReadonlySet<AnomalyKind> = new Set(['flow_high', 'flow_very_high']);
const PRESSURE_FALL: ReadonlySet<AnomalyKind> = new Set(['pressure_drop', 'pressure_low', 'pressure_very_low']);
const LEAK_SIGNS: ReadonlySet<AnomalyKind> = new Set([...FLOW_RISE, 'slow_leak', 'night_flow_rise']);
const categoryKind: Record<ComplaintCategory, IncidentKind> = { no_water: 'no_water', low_pressure: 'low_pressure', leak_burst: 'leak', water_quality: 'water_quality', other: 'other' };
/** Ties between complaint categories go to the first here. */
const categoryPrecedence: readonly ComplaintCategory[] = ['no_water', 'leak_burst', 'low_pressure', 'water_quality', 'other'];

/**
 * In order: burst (a large flow rise or a pressure drop with leak_burst complaints, or in telemetry
 * alone a flow rise with a pressure drop or collapse); pump_trip; leak (a flow rise, slow leak or
 * night-flow rise); no_water or low_pressure from pressure anomalies (no_water on a collapse or when
 * no_water complaints outnumber low_pressure ones); else the most frequent complaint category.
 */
export function incidentKind(evidence: Pick<IncidentEvidence, 'complaints' | 'anomalies'>): IncidentKind {
  const kinds = new Set(evidence.anomalies.map((anomaly) => anomaly.kind));
  const has = (set: ReadonlySet<AnomalyKind>) => [...kinds].some((kind) => set.has(kind));
  const counts = evidence.complaints.byCategory;
  const leakBurstCalls = counts.get('leak_burst') ?? 0;
  if ((has(LARGE_FLOW_RISE) || kinds.has('pressure_drop')) && leakBurstCalls > 0) return 'burst';
  if (has(FLOW_RISE) && (kinds.has('pressure_drop') || kinds.has('pressure_very_low'))) return 'burst';
  if (kinds.has('pump_trip')) return 'pump_trip';
  if (has(LEAK_SIGNS)) return 'leak';
  if (has(PRESSURE_FALL)) {
    const noWater = counts.get('no_water') ?? 0;
    return kinds.has('pressure_very_low') || (noWater > 0 && noWater >= (counts.get('low_pressure') ?? 0)) ? 'no_water' : 'low_pressure';
  }
  let best: ComplaintCategory | undefined;
  for (const category of categoryPrecedence) {
    if ((counts.get(category) ?? 0) > (best === undefined ? 0 : counts.get(best)!)) best = category;
  }
  return best === undefined ? 'other' : categoryKind[best];
}

export type SeverityClass = 'severe' | 'moderate' | 'mild';

export function severityClass(kind: AnomalyKind): SeverityClass {
  if (kind.endsWith('_very_low') || kind.endsWith('_very_high') || kind === 'pressure_drop' || kind === 'pump_trip') return 'severe';
  if (kind.endsWith('_low') || kind.endsWith('_high') || kind === 'flow_above_profile') return 'moderate';
  return 'mild';
}

const criticalLabels: Record<CriticalCustomer['kind'], [string, string]> = {
  hospital: ['hospital', 'hospitals'],
  clinic: ['clinic', 'clinics'],
  school: ['school', 'schools'],
  fire_station: ['fire station', 'fire stations'],
  care_home: ['care home', 'care homes'],
  government: ['government office', 'government offices'],
  industry: ['industrial customer', 'industrial customers'],
  other: ['other critical customer', 'other critical customers'],
};

/**
 * Points per factor, each capped: customers in the zones the evidence lies in, critical customers
 * there, distinct complainants, the strongest anomaly (severity class times confidence), full
 * duration steps open, the incident kind, and verification. The sum maps to P1..P4 by thresholds.
 */
export function incidentPriority(evidence: IncidentEvidence, kind: IncidentKind, zones: ReadonlyMap<string, Zone>, settings: PrioritySettings): PriorityResult {
  const reasons: PriorityReason[] = [];
  const add = (factor: string, points: number, detail: string) => {
    if (points > 0) reasons.push({ factor, points: Math.round(points * 100) / 100, detail });
  };
  const tally = evidence.complaints;
  const affected = affectedZones(evidence, zones);

  const customers = affected.reduce((sum, zone) => sum + zone.customers, 0);
  if (affected.length > 0) {
    add('customers_affected', Math.min(settings.customers_max_points, Math.round((customers / 1000) * settings.customers_points_per_1000)), `${customers} customers in ${affected.map((zone) => zone.id).join(', ')}`);
  }

  let criticalLeft = settings.critical_customers_max_points;
  const criticalKinds = Object.keys(settings.critical_customer_points) as Array<CriticalCustomer['kind']>;
  for (const criticalKind of criticalKinds) {
    const found = affected.flatMap((zone) => zone.critical_customers.filter((customer) => customer.kind === criticalKind).map((customer) => ({ zone: zone.id, name: customer.name })));
    if (found.length === 0) continue;
    const points = Math.min(criticalLeft, found.length * settings.critical_customer_points[criticalKind]);
    criticalLeft -= points;
    const [one, many] = criticalLabels[criticalKind];
    const where = [...new Set(found.map((customer) => customer.zone))].join(', ');
    add('critical_customers', points, `${found.length} ${found.length === 1 ? one : many} in ${where}: ${found.map((customer) => customer.name).join(', ')}`);
  }

  if (tally.counted > 0) {
    const { complainants, counted, rejected } = tally;
    add(
      'complainants',
      Math.min(settings.complainants_max_points, complainants * settings.complainant_points),
      `${complainants} distinct complainant${complainants === 1 ? '' : 's'} in ${counted} complaint${counted === 1 ? '' : 's'}${rejected > 0 ? ` (${rejected} rejected, not counted)` : ''}`,
    );
  }

  const strongest = strongestAnomaly(evidence.anomalies, settings);
  if (strongest !== undefined) {
    const { anomaly, severity, points } = strongest;
    add('anomaly_magnitude', points, `${severity}: ${anomaly.kind} on ${anomaly.tag}, confidence ${anomaly.confidence.toFixed(2)}`);
  }

  const durationPoints = Math.min(settings.duration_max_points, evidence.durationSteps * settings.duration_points_per_step);
  add('duration', durationPoints, `open ${formatDuration(evidence.durationSteps * settings.duration_step_ms)} or more`);

  add('category', settings.kind_points[kind], `incident kind ${kind}`);

  const byTelemetry = evidence.anomalies.length > 0;
  const byOperator = tally.operatorVerified > 0;
  if (byTelemetry || byOperator) {
    add('verification', settings.verified_points, byTelemetry ? `verified by telemetry (${evidence.anomalies.length} anomal${evidence.anomalies.length === 1 ? 'y' : 'ies'})` : 'verified by an operator');
  }

  const score = Math.round(reasons.reduce((sum, reason) => sum + reason.points, 0) * 100) / 100;
  return { score, priority: priorityForScore(score, settings), reasons };
}

export function priorityForScore(score: number, settings: PrioritySettings): Priority {
  if (score >= settings.p1_min_score) return 'P1';
  if (score >= settings.p2_min_score) return 'P2';
  if (score >= settings.p3_min_score) return 'P3';
  return 'P4';
}

/** The incident's zone, then the other zones its counted complaints and anomalies lie in, in order of appearance. */
function affectedZones(evidence: IncidentEvidence, zones: ReadonlyMap<string, Zone>): Zone[] {
  const ids = new Set<string>();
  if (evidence.zone !== null) ids.add(evidence.zone);
  for (const anomaly of evidence.anomalies) if (anomaly.zone !== null) ids.add(anomaly.zone);
  for (const zone of evidence.complaints.byZone.keys()) ids.add(zone);
  return [...ids].flatMap((id) => zones.get(id) ?? []);
}

function strongestAnomaly(anomalies: readonly Anomaly[], settings: PrioritySettings) {
  let best: { anomaly: Anomaly; severity: SeverityClass; points: number } | undefined;
  for (const anomaly of anomalies) {
    const severity = severityClass(anomaly.kind);
    const points = Math.round(settings.anomaly_points[severity] * Math.min(1, Math.max(0, anomaly.confidence)) * 100) / 100;
    if (best === undefined || points > best.points) best = { anomaly, severity, points };
  }
  return best;
}

function formatDuration(ms: number): string {
  const minutes = Math.round(ms / 60_000);
  if (minutes % 1440 === 0) return `${minutes / 1440} d`;
  if (minutes % 60 === 0) return `${minutes / 60} h`;
  return `${minutes} min`;
}
