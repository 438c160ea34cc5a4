// Correlation: anomalies, complaints and operator decisions, in event-time order, become incidents
// with an explained priority, and incidents become work orders. Pure and deterministic: only event
// times are read, ids derive from evidence, and time-driven changes (duration steps, closing) fire
// at their own event times before any input at or after them, so output does not depend on how
// often advanceTo is called. State older than the windows that can still reach it is pruned.
// README.md beside this file states the rules as published.
import { isSensorFault, type Anomaly, type AnomalyEvent } from '../../contracts/anomaly.js';
import type { ComplaintCategory } from '../../contracts/complaint.js';
import type { CorrelationSettings } from '../../contracts/correlation-settings.js';
import {
  priorities,
  type ComplaintVerification,
  type CorrelationEvent,
  type EngineComplaint,
  type Incident,
  type IncidentKind,
  type Priority,
  type PriorityReason,
  type WorkOrderOpening,
} from '../../contracts/incident.js';
import type { LatLon, SiteConfig, Zone } from '../../contracts/site.js';
import { matchScore } from './match-score.js';
import { ComplaintTally, incidentKind, incidentPriority, jobTypeByKind, type EvidenceComplaint } from './priority.js';

/** Complaints of one group in one zone and window cluster together; a burst brings all three supply categories. */
const complaintGroup: Record<ComplaintCategory, string> = { no_water: 'supply', low_pressure: 'supply', leak_burst: 'supply', water_quality: 'quality', other: 'other' };
const internedCategory = Object.fromEntries(Object.keys(complaintGroup).map((category) => [category, category])) as { [C in ComplaintCategory]: C };

/** Long-lived anomalies that would otherwise tie every event in a zone into one incident for days. */
const notConcurrencyKinds: ReadonlySet<string> = new Set(['slow_leak', 'night_flow_rise']);

const NO_ZONE = '';

/**
 * The complaint as matching reads it and as its incident's priority counts it, in one object: the
 * engine holds one of these per complaint for the decision window, so it carries nothing more.
 */
interface ComplaintState extends EngineComplaint, EvidenceComplaint {
  verification: ComplaintVerification;
  anomalyId: string | null;
  score: number;
  incident: IncidentState | null;
}

interface AnomalyState {
  anomaly: Anomaly;
  incident: IncidentState | null;
}

interface Timer {
  atMs: number;
  type: 'duration_step' | 'settled' | 'close';
}

interface IncidentState {
  id: string;
  sequence: number;
  zone: string | null;
  openedAtMs: number;
  closedAtMs: number | null;
  mergedInto: string | null;
  /** Its own id and those of the incidents merged into it. */
  idsHeld: string[];
  /** Every complaint it holds, in the order they joined: what its stored row and events list. */
  complaintIds: string[];
  /** Those of its complaints still within the decision window: the others are known by id only. */
  complaints: Set<ComplaintState>;
  complaintTally: ComplaintTally;
  anomalies: AnomalyState[];
  /** Event time of its first evidence: clustering takes complaints up to max_span_ms after it. */
  spanStartMs: number;
  /** Event time of the latest evidence joining or changing: the quiet period counts from it. */
  lastActivityMs: number;
  durationSteps: number;
  kind: IncidentKind;
  score: number;
  priority: Priority;
  reasons: PriorityReason[];
  workOrder: WorkOrderOpening | null;
  /** Latest report time of a complaint of each group from the incident's own zone, for joining by cluster. */
  lastComplaintMsByGroup: Map<string, number>;
  emitted: string | null;
  /** Event time it was last recomputed and checked for a work order. */
  lastFlushMs: number;
}

/** Items in non-decreasing time order, dropped from the front once too old. */
class TimeQueue<T> {
  /** Slots before `head` are emptied as they are dropped, so that what they held can be collected. */
  private items: Array<T | undefined> = [];
  private head = 0;
  constructor(private readonly timeOf: (item: T) => number) {}
  push(item: T): void {
    this.items.push(item);
  }
  dropBefore(timeMs: number, onDrop?: (item: T) => void): void {
    while (this.head < this.items.length && this.timeOf(this.items[this.head]!) < timeMs) {
      onDrop?.(this.items[this.head]!);
      this.items[this.head] = undefined;
      this.head += 1;
    }
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
  }
  /** Items at or after `timeMs`, in order. */
  *from(timeMs: number): Iterable<T> {
    let low = this.head;
    let high = this.items.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (this.timeOf(this.items[middle]!) < timeMs) low = middle + 1;
      else high = middle;
    }
    for (let index = low; index < this.items.length; index += 1) yield this.items[index]!;
  }
  get size(): number {
    return this.items.length - this.head;
  }
}

export class Correlator {
  private readonly settings: CorrelationSettings;
  private readonly zones: ReadonlyMap<string, Zone>;
  private readonly tagLocations = new Map<string, LatLon>();
  private readonly candidateZonesCache = new Map<string, readonly string[] | 'all'>();
  /** How long a complaint stays within reach of anomaly look-back and clustering. */
  private readonly recentRetentionMs: number;

  /**
   * Complaints any input can still reach (the decision window, or the recent windows if longer),
   * by report time. No index by id: an operator's decision is rare enough to look its complaint up
   * by scanning, and an index would cost a tenth of the engine's memory per complaint.
   */
  private readonly complaintsByTime = new TimeQueue<ComplaintState>((state) => state.reportedAtMs);
  private readonly recentByZone = new Map<string, TimeQueue<ComplaintState>>();
  /** Recent complaints in no incident yet, by zone, in arrival order: what clusters and pull-ins look for, without scanning the assigned. */
  private readonly unassignedByZone = new Map<string, Set<ComplaintState>>();
  private readonly liveAnomalies = new Map<string, AnomalyState>();

  private readonly openIncidents = new Set<IncidentState>();
  /** Ids of incidents whose first evidence may still start another: a new one takes a suffix. */
  private readonly usedIncidentIds = new Set<string>();
  /** Closed incidents by closing time, until no input can reach their evidence and their ids are free to forget. */
  private readonly closedIncidents = new TimeQueue<IncidentState>((incident) => incident.closedAtMs!);
  /** How long after its report a complaint can still be reached: by a decision, an anomaly's look-back, a cluster. */
  private readonly complaintRetentionMs: number;
  /** How long after an incident closes its evidence can still be reached. */
  private readonly closedRetentionMs: number;
  private nextSequence = 0;

  private nextTimerMs = Number.NEGATIVE_INFINITY;
  private changed = new Set<IncidentState>();
  private created = new Set<IncidentState>();
  private closedNow = new Set<IncidentState>();
  private mergeEvents: CorrelationEvent[] = [];
  private reassigned = new Set<ComplaintState>();

  constructor(site: SiteConfig) {
    this.settings = site.correlation;
    this.zones = new Map(site.zones.map((zone) => [zone.id, zone]));
    for (const tag of site.tags) if (tag.location !== undefined) this.tagLocations.set(tag.id, tag.location);
    this.recentRetentionMs = Math.max(this.settings.match.lookback_ms, this.settings.cluster.window_ms);
    this.complaintRetentionMs = Math.max(this.recentRetentionMs, this.settings.decision_window_ms);
    this.closedRetentionMs = Math.max(this.complaintRetentionMs, this.settings.match.after_end_ms);
  }

  anomaly(event: AnomalyEvent): CorrelationEvent[] {
    const out: CorrelationEvent[] = [];
    this.catchUp(event.atMs, out);
    if (isSensorFault(event.anomaly.kind)) return out;
    const atMs = event.atMs;
    let state = this.liveAnomalies.get(event.anomaly.id);
    const known = state !== undefined;
    if (state === undefined) {
      state = { anomaly: event.anomaly, incident: null };
      this.liveAnomalies.set(event.anomaly.id, state);
    } else {
      state.anomaly = event.anomaly;
    }
    const incident = this.openIncidentOf(state);
    if (incident !== null) {
      incident.lastActivityMs = Math.max(incident.lastActivityMs, atMs);
      this.changed.add(incident);
    }
    // A known anomaly's end changes nothing a later complaint's score will not see by itself.
    if (event.type !== 'closed' || !known) this.correlateAnomaly(state, atMs);
    this.flush(atMs, out);
    return out;
  }

  complaint(complaint: EngineComplaint): CorrelationEvent[] {
    const out: CorrelationEvent[] = [];
    const atMs = complaint.reportedAtMs;
    this.catchUp(atMs, out);
    for (const known of this.complaintsByTime.from(atMs)) {
      if (known.reportedAtMs > atMs) break;
      if (known.id === complaint.id) return out;
    }
    const state: ComplaintState = {
      id: complaint.id,
      // The site's own strings, not a copy per complaint from each database row.
      category: internedCategory[complaint.category],
      zone: complaint.zone === null ? null : (this.zones.get(complaint.zone)?.id ?? complaint.zone),
      location: complaint.location,
      reportedAtMs: complaint.reportedAtMs,
      complainant: complaint.complainant,
      verification: 'pending',
      anomalyId: null,
      score: 0,
      incident: null,
    };
    this.complaintsByTime.push(state);
    this.recentQueue(complaint.zone).push(state);
    this.unassignedIn(complaint.zone).add(state);
    this.reassigned.add(state);
    this.correlateComplaint(state, atMs);
    this.flush(atMs, out);
    return out;
  }

  /** An operator verified or rejected a complaint (event time atMs). */
  operatorDecision(complaintId: string, decision: 'verified' | 'rejected', atMs: number): CorrelationEvent[] {
    const out: CorrelationEvent[] = [];
    this.catchUp(atMs, out);
    let state: ComplaintState | undefined;
    // Past the decision window a complaint is forgotten whether or not it was pruned yet.
    const fromMs = atMs - this.settings.decision_window_ms;
    for (const known of this.complaintsByTime.from(fromMs)) {
      if (known.id === complaintId && known.reportedAtMs >= fromMs) {
        state = known;
        break;
      }
    }
    if (state === undefined) return out;
    const verification: ComplaintVerification = decision === 'verified' ? 'verified_by_operator' : 'rejected';
    if (state.verification === verification) return out;
    this.reverify(state, verification);
    this.reassigned.add(state);
    const incident = state.incident;
    if (incident !== null) {
      this.changed.add(incident);
      if (incident.closedAtMs === null) incident.lastActivityMs = Math.max(incident.lastActivityMs, atMs);
      if (decision === 'rejected' && incident.closedAtMs === null && incident.anomalies.length === 0 && incident.complaintTally.counted === 0) {
        this.close(incident, atMs);
      }
    } else if (decision === 'verified') {
      this.gather(atMs, [state], [], true);
    }
    this.flush(atMs, out);
    return out;
  }

  /** The event-time watermark moved: close quiet incidents, update duration-driven priority, etc. */
  advanceTo(timeMs: number): CorrelationEvent[] {
    const out: CorrelationEvent[] = [];
    this.catchUp(timeMs, out);
    return out;
  }

  /** How much the correlator holds now: each count is bounded by a window, never by the history. */
  held(): { complaints: number; liveAnomalies: number; openIncidents: number; closedIncidents: number; incidentIds: number } {
    return {
      complaints: this.complaintsByTime.size,
      liveAnomalies: this.liveAnomalies.size,
      openIncidents: this.openIncidents.size,
      closedIncidents: this.closedIncidents.size,
      incidentIds: this.usedIncidentIds.size,
    };
  }

  // --- matching ---------------------------------------------------------------------------

  private correlateComplaint(state: ComplaintState, atMs: number): void {
    const matches = this.anomaliesMatching(state);
    const best = matches[0];
    if (best !== undefined && best.score >= this.settings.match.threshold) {
      this.reverify(state, 'verified_by_telemetry');
      state.anomalyId = best.anomaly.anomaly.id;
      state.score = best.score;
      this.gather(
        atMs,
        [state],
        matches.filter((match) => match.score >= this.settings.match.threshold).map((match) => match.anomaly),
        true,
      );
      return;
    }
    state.score = best?.score ?? 0;
    if (this.gather(atMs, [state], [], false) !== null) return;
    const cluster = this.pendingCluster(state, atMs);
    if (new Set(cluster.map(complainantKey)).size >= this.settings.cluster.min_complainants) {
      this.gather(atMs, cluster, [], true);
    } else if (this.settings.work_order.open_unverified[state.category]) {
      // Otherwise it could never reach a work order, which the setting allows it to.
      this.gather(atMs, [state], [], true);
    }
  }

  /** Anomalies matching the complaint, best first (score, then earlier start, then id). */
  private anomaliesMatching(state: ComplaintState): Array<{ anomaly: AnomalyState; score: number }> {
    const matches: Array<{ anomaly: AnomalyState; score: number }> = [];
    for (const anomaly of this.liveAnomalies.values()) {
      const { score } = matchScore(state, anomaly.anomaly, this.tagLocations.get(anomaly.anomaly.tag), this.settings.match);
      if (score > 0) matches.push({ anomaly, score });
    }
    return matches.sort((a, b) => b.score - a.score || a.anomaly.anomaly.startMs - b.anomaly.anomaly.startMs || compareIds(a.anomaly.anomaly.id, b.anomaly.anomaly.id));
  }

  private correlateAnomaly(state: AnomalyState, atMs: number): void {
    const { match } = this.settings;
    const matched: ComplaintState[] = [];
    const ownIncident = this.openIncidentOf(state);
    // Complaints earlier than before_start_ms ahead of its start score 0 on time.
    const sinceMs = Math.max(atMs - match.lookback_ms, state.anomaly.startMs - match.before_start_ms);
    for (const complaint of this.complaintsNear(state.anomaly, sinceMs)) {
      // A closed incident's complaints were dealt with; a rejected one is no evidence.
      if (complaint.verification === 'rejected' || (complaint.incident !== null && complaint.incident.closedAtMs !== null)) continue;
      if (complaint.verification === 'verified_by_telemetry' && complaint.incident !== null && complaint.incident === ownIncident) continue;
      const { score } = matchScore(complaint, state.anomaly, this.tagLocations.get(state.anomaly.tag), match);
      if (score < match.threshold) continue;
      if (complaint.verification === 'pending' || (complaint.verification === 'verified_by_telemetry' && score > complaint.score)) {
        this.reverify(complaint, 'verified_by_telemetry');
        complaint.anomalyId = state.anomaly.id;
        complaint.score = score;
        this.reassigned.add(complaint);
      }
      matched.push(complaint);
    }
    const standalone = (this.settings.standalone.kinds as readonly string[]).includes(state.anomaly.kind) && state.anomaly.confidence >= this.settings.standalone.min_confidence;
    this.gather(atMs, matched, [state], matched.length > 0 || standalone);
  }

  /** Complaints reported since `sinceMs` in the zones an anomaly on this tag can reach. */
  private *complaintsNear(anomaly: Anomaly, sinceMs: number): Iterable<ComplaintState> {
    const zones = this.candidateZones(anomaly);
    const keys = zones === 'all' ? [...this.recentByZone.keys()].sort() : zones;
    for (const key of keys) {
      const queue = this.recentByZone.get(key);
      if (queue !== undefined) yield* queue.from(sinceMs);
    }
  }

  private candidateZones(anomaly: Anomaly): readonly string[] | 'all' {
    const key = `${anomaly.tag}\u0000${anomaly.zone ?? NO_ZONE}\u0000${anomaly.kind}`;
    const cached = this.candidateZonesCache.get(key);
    if (cached !== undefined) return cached;
    const location = this.tagLocations.get(anomaly.tag);
    let zones: readonly string[] | 'all';
    if (anomaly.zone === null && location === undefined) {
      zones = this.settings.match.sitewide_place_score > 0 && (this.settings.match.sitewide_kinds as readonly string[]).includes(anomaly.kind) ? 'all' : [];
    } else {
      const ids = new Set<string>();
      if (anomaly.zone !== null) ids.add(anomaly.zone);
      if (location !== undefined) {
        for (const zone of this.zones.values()) if (withinReach(location, zone, this.settings.match.max_distance_m)) ids.add(zone.id);
        ids.add(NO_ZONE);
      }
      zones = [...ids];
    }
    this.candidateZonesCache.set(key, zones);
    return zones;
  }

  /** Unassigned complaints of the complaint's zone and group within the cluster window before it, itself included. */
  private pendingCluster(state: ComplaintState, atMs: number): ComplaintState[] {
    if (state.zone === null) return [state];
    const sinceMs = Math.max(state.reportedAtMs - this.settings.cluster.window_ms, atMs - this.recentRetentionMs);
    const cluster: ComplaintState[] = [];
    for (const other of this.unassignedIn(state.zone)) {
      if (other.reportedAtMs < sinceMs) continue;
      if (other === state || (other.verification !== 'rejected' && complaintGroup[other.category] === complaintGroup[state.category] && other.reportedAtMs <= state.reportedAtMs)) cluster.push(other);
    }
    return cluster;
  }

  // --- incidents --------------------------------------------------------------------------

  /**
   * Puts the evidence into one incident: the oldest open incident of the anchor's zone that it
   * touches (by shared evidence, by a cluster of complaints, by anomalies at the same time in the
   * same zone), merging the others of that zone into it; or, when `openNew`, a new incident in that
   * zone. The anchor is the first anomaly if any, else the first complaint. Returns null when it
   * touched none and may not open one.
   */
  private gather(atMs: number, complaints: ComplaintState[], anomalies: AnomalyState[], openNew: boolean): IncidentState | null {
    const anchorZone = this.anchorZone(complaints, anomalies);
    const touched = new Set<IncidentState>();
    for (const complaint of complaints) {
      const incident = complaint.incident;
      if (incident !== null && incident.closedAtMs === null) touched.add(incident);
      else if (complaint.incident === null) for (const joined of this.incidentsClusteringWith(complaint)) touched.add(joined);
    }
    for (const anomaly of anomalies) {
      const incident = this.openIncidentOf(anomaly);
      if (incident !== null) touched.add(incident);
      else for (const joined of this.incidentsConcurrentWith(anomaly)) touched.add(joined);
    }
    const ordered = [...touched].filter((incident) => incident.zone === anchorZone).sort((a, b) => a.sequence - b.sequence);
    let target: IncidentState;
    if (ordered.length === 0) {
      if (!openNew) return null;
      target = this.openIncident(atMs, anchorZone, complaints, anomalies);
    } else {
      target = ordered[0]!;
      for (const other of ordered.slice(1)) this.merge(other, target, atMs);
    }
    const added: Array<ComplaintState | AnomalyState> = [];
    for (const complaint of complaints) {
      if (complaint.incident === null) added.push(this.attachComplaint(complaint, target, atMs));
    }
    for (const anomaly of anomalies) {
      if (this.openIncidentOf(anomaly) === null) added.push(this.attachAnomaly(anomaly, target, atMs));
    }
    this.pullIn(target, added, atMs);
    this.changed.add(target);
    return target;
  }

  private anchorZone(complaints: readonly ComplaintState[], anomalies: readonly AnomalyState[]): string | null {
    const anomaly = anomalies[0];
    if (anomaly !== undefined) return this.openIncidentOf(anomaly)?.zone ?? anomaly.anomaly.zone;
    const complaint = complaints[0]!;
    return complaint.incident !== null && complaint.incident.closedAtMs === null ? complaint.incident.zone : complaint.zone;
  }

  /** Open incidents of the complaint's zone holding a complaint of its group within the cluster window of it, and within their span. */
  private incidentsClusteringWith(complaint: ComplaintState): IncidentState[] {
    const zone = complaint.zone;
    if (zone === null) return [];
    const result: IncidentState[] = [];
    for (const incident of this.openIncidents) {
      if (incident.zone !== zone || complaint.reportedAtMs > incident.spanStartMs + this.settings.cluster.max_span_ms) continue;
      const lastMs = incident.lastComplaintMsByGroup.get(complaintGroup[complaint.category]);
      if (lastMs !== undefined && Math.abs(complaint.reportedAtMs - lastMs) <= this.settings.cluster.window_ms) result.push(incident);
    }
    return result;
  }

  /** Open incidents of the anomaly's zone holding an anomaly at the same time (overlapping, or apart by no more than after_end_ms), within their span. */
  private incidentsConcurrentWith(anomaly: AnomalyState): IncidentState[] {
    if (anomaly.anomaly.zone === null || notConcurrencyKinds.has(anomaly.anomaly.kind)) return [];
    const result: IncidentState[] = [];
    for (const incident of this.openIncidents) {
      if (incident.zone !== anomaly.anomaly.zone || anomaly.anomaly.startMs > incident.spanStartMs + this.settings.cluster.max_span_ms) continue;
      if (incident.anomalies.some((member) => this.concurrent(member.anomaly, anomaly.anomaly))) result.push(incident);
    }
    return result;
  }

  private concurrent(a: Anomaly, b: Anomaly): boolean {
    if (a.zone === null || a.zone !== b.zone || notConcurrencyKinds.has(a.kind) || notConcurrencyKinds.has(b.kind)) return false;
    const gapMs = this.settings.match.after_end_ms;
    return a.startMs <= (b.endMs ?? Number.POSITIVE_INFINITY) + gapMs && b.startMs <= (a.endMs ?? Number.POSITIVE_INFINITY) + gapMs;
  }

  /** What joined pulls in what belongs with it: unassigned complaints of its cluster, unassigned anomalies at the same time in its zone. */
  private pullIn(target: IncidentState, added: Array<ComplaintState | AnomalyState>, atMs: number): void {
    const work = [...added];
    const windowMs = this.settings.cluster.window_ms;
    const spanEndMs = () => target.spanStartMs + this.settings.cluster.max_span_ms;
    for (let item = work.pop(); item !== undefined; item = work.pop()) {
      if ('reportedAtMs' in item) {
        const zone = item.zone;
        if (zone === null) continue;
        const fromMs = Math.max(item.reportedAtMs - windowMs, atMs - this.recentRetentionMs);
        for (const other of this.unassignedIn(zone)) {
          const reportedAtMs = other.reportedAtMs;
          if (reportedAtMs < fromMs || reportedAtMs > Math.min(item.reportedAtMs + windowMs, spanEndMs())) continue;
          if (other.verification !== 'rejected' && complaintGroup[other.category] === complaintGroup[item.category]) work.push(this.attachComplaint(other, target, atMs));
        }
      } else {
        for (const other of this.liveAnomalies.values()) {
          if (other !== item && this.openIncidentOf(other) === null && other.anomaly.startMs <= spanEndMs() && this.concurrent(item.anomaly, other.anomaly)) work.push(this.attachAnomaly(other, target, atMs));
        }
      }
    }
  }

  private attachComplaint(complaint: ComplaintState, incident: IncidentState, atMs: number): ComplaintState {
    complaint.incident = incident;
    this.unassignedByZone.get(complaint.zone ?? NO_ZONE)?.delete(complaint);
    incident.complaintIds.push(complaint.id);
    incident.complaints.add(complaint);
    incident.complaintTally.add(complaint);
    incident.lastActivityMs = Math.max(incident.lastActivityMs, atMs);
    incident.spanStartMs = Math.min(incident.spanStartMs, complaint.reportedAtMs);
    if (complaint.zone !== null && complaint.zone === incident.zone) {
      const group = complaintGroup[complaint.category];
      incident.lastComplaintMsByGroup.set(group, Math.max(incident.lastComplaintMsByGroup.get(group) ?? Number.NEGATIVE_INFINITY, complaint.reportedAtMs));
    }
    this.reassigned.add(complaint);
    this.changed.add(incident);
    return complaint;
  }

  private attachAnomaly(anomaly: AnomalyState, incident: IncidentState, atMs: number): AnomalyState {
    anomaly.incident = incident;
    incident.anomalies.push(anomaly);
    incident.lastActivityMs = Math.max(incident.lastActivityMs, atMs);
    incident.spanStartMs = Math.min(incident.spanStartMs, anomaly.anomaly.startMs);
    this.changed.add(incident);
    return anomaly;
  }

  private openIncident(atMs: number, zone: string | null, complaints: ComplaintState[], anomalies: AnomalyState[]): IncidentState {
    const first = firstEvidence(complaints, anomalies);
    let id = `inc-${first}`;
    for (let suffix = 2; this.usedIncidentIds.has(id); suffix += 1) id = `inc-${first}-${suffix}`;
    this.usedIncidentIds.add(id);
    const incident: IncidentState = {
      id,
      sequence: this.nextSequence++,
      zone,
      openedAtMs: atMs,
      closedAtMs: null,
      mergedInto: null,
      idsHeld: [id],
      complaintIds: [],
      complaints: new Set(),
      complaintTally: new ComplaintTally(),
      anomalies: [],
      lastActivityMs: atMs,
      spanStartMs: atMs,
      durationSteps: 0,
      kind: 'other',
      score: 0,
      priority: 'P4',
      reasons: [],
      workOrder: null,
      lastComplaintMsByGroup: new Map(),
      emitted: null,
      lastFlushMs: Number.NEGATIVE_INFINITY,
    };
    this.openIncidents.add(incident);
    this.created.add(incident);
    return incident;
  }

  /** `from` joins the older `into`; the merged incident keeps one work order, into's if it has one. */
  private merge(from: IncidentState, into: IncidentState, atMs: number): void {
    // Complaints past the decision window move by id only: the store moves their rows with the merge.
    for (const complaint of from.complaints) {
      complaint.incident = into;
      into.complaints.add(complaint);
      this.reassigned.add(complaint);
    }
    into.complaintIds.push(...from.complaintIds);
    from.complaintIds = [];
    into.complaintTally.merge(from.complaintTally);
    for (const anomaly of from.anomalies) {
      anomaly.incident = into;
      into.anomalies.push(anomaly);
    }
    for (const [group, lastMs] of from.lastComplaintMsByGroup) into.lastComplaintMsByGroup.set(group, Math.max(into.lastComplaintMsByGroup.get(group) ?? Number.NEGATIVE_INFINITY, lastMs));
    into.lastActivityMs = Math.max(into.lastActivityMs, from.lastActivityMs, atMs);
    into.spanStartMs = Math.min(into.spanStartMs, from.spanStartMs);
    into.workOrder ??= from.workOrder;
    from.mergedInto = into.id;
    into.idsHeld.push(...from.idsHeld);
    from.idsHeld = [];
    from.complaints = new Set();
    from.complaintTally = new ComplaintTally();
    from.anomalies = [];
    this.openIncidents.delete(from);
    this.changed.delete(from);
    this.created.delete(from);
    this.changed.add(into);
    this.mergeEvents.push({ type: 'incidents_merged', atMs, from: from.id, into: into.id });
  }

  private close(incident: IncidentState, atMs: number): void {
    incident.closedAtMs = atMs;
    this.closedIncidents.push(incident);
    this.openIncidents.delete(incident);
    this.closedNow.add(incident);
    this.changed.add(incident);
  }

  private openIncidentOf(anomaly: AnomalyState): IncidentState | null {
    const incident = anomaly.incident;
    return incident !== null && incident.closedAtMs === null && incident.mergedInto === null ? incident : null;
  }

  // --- time -------------------------------------------------------------------------------

  /** Prunes what no input at or after `timeMs` can reach, then fires the timers due by then, in order. */
  private catchUp(timeMs: number, out: CorrelationEvent[]): void {
    this.prune(timeMs);
    while (this.nextTimerMs <= timeMs) {
      let due: (Timer & { incident: IncidentState }) | null = null;
      for (const incident of this.openIncidents) {
        const timer = this.timerOf(incident);
        if (timer !== null && (due === null || timer.atMs < due.atMs)) due = { ...timer, incident };
      }
      if (due === null || due.atMs > timeMs) {
        this.nextTimerMs = due?.atMs ?? Number.POSITIVE_INFINITY;
        return;
      }
      if (due.type === 'close') this.close(due.incident, due.atMs);
      else if (due.type === 'duration_step') due.incident.durationSteps += 1;
      // 'settled': the work-order check in flush now lets the order open.
      this.changed.add(due.incident);
      this.flush(due.atMs, out);
    }
  }

  /**
   * The incident's next time-driven change, the first listed winning a tie: a duration step; the
   * end of the settling time while it has no work order; closing, once every anomaly has ended and
   * no evidence came for the quiet period.
   */
  private timerOf(incident: IncidentState): Timer | null {
    const priority = this.settings.priority;
    const timers: Timer[] = [];
    if (priority.duration_points_per_step > 0 && incident.durationSteps * priority.duration_points_per_step < priority.duration_max_points) {
      timers.push({ atMs: incident.openedAtMs + (incident.durationSteps + 1) * priority.duration_step_ms, type: 'duration_step' });
    }
    const settledAtMs = incident.openedAtMs + this.settings.work_order.settle_ms;
    if (incident.workOrder === null && settledAtMs > incident.lastFlushMs) timers.push({ atMs: settledAtMs, type: 'settled' });
    if (incident.anomalies.every((member) => member.anomaly.endMs !== null)) {
      const quietMs = isVerified(incident) ? this.settings.close.quiet_ms : this.settings.close.unverified_quiet_ms;
      timers.push({ atMs: incident.lastActivityMs + quietMs, type: 'close' });
    }
    let first: Timer | null = null;
    for (const timer of timers) if (first === null || timer.atMs < first.atMs) first = timer;
    return first;
  }

  private prune(timeMs: number): void {
    const recentFromMs = timeMs - this.recentRetentionMs;
    for (const [zone, queue] of this.recentByZone) {
      queue.dropBefore(recentFromMs);
      if (queue.size === 0) this.recentByZone.delete(zone);
    }
    for (const [zone, unassigned] of this.unassignedByZone) {
      // Arrival order is report order but for late arrivals, which wait their turn here; every reader checks the time too.
      for (const state of unassigned) {
        if (state.reportedAtMs >= recentFromMs) break;
        unassigned.delete(state);
      }
      if (unassigned.size === 0) this.unassignedByZone.delete(zone);
    }
    // Out of every queue by now: its incident may let it go and keep its id only.
    this.complaintsByTime.dropBefore(timeMs - this.complaintRetentionMs, (state) => state.incident?.complaints.delete(state));
    this.closedIncidents.dropBefore(timeMs - this.closedRetentionMs, (incident) => {
      for (const id of incident.idsHeld) this.usedIncidentIds.delete(id);
    });
    // A closed anomaly no complaint can match any more, and whose own incident no longer needs it here.
    const matchableFromMs = timeMs - this.settings.match.after_end_ms;
    for (const [id, state] of this.liveAnomalies) {
      if (state.anomaly.endMs !== null && state.anomaly.endMs < matchableFromMs) this.liveAnomalies.delete(id);
    }
  }

  private unassignedIn(zone: string | null): Set<ComplaintState> {
    const key = zone ?? NO_ZONE;
    let unassigned = this.unassignedByZone.get(key);
    if (unassigned === undefined) {
      unassigned = new Set();
      this.unassignedByZone.set(key, unassigned);
    }
    return unassigned;
  }

  /** Sets a complaint's verification, keeping its incident's tally in step. */
  private reverify(state: ComplaintState, verification: ComplaintVerification): void {
    const before = state.verification;
    state.verification = verification;
    state.incident?.complaintTally.reverify(state, before);
  }

  private recentQueue(zone: string | null): TimeQueue<ComplaintState> {
    const key = zone ?? NO_ZONE;
    let queue = this.recentByZone.get(key);
    if (queue === undefined) {
      queue = new TimeQueue((state) => state.reportedAtMs);
      this.recentByZone.set(key, queue);
    }
    return queue;
  }

  // --- output -----------------------------------------------------------------------------

  /** Recomputes what changed and emits, in order: incident events, merges, complaint assignments, work orders. */
  private flush(atMs: number, out: CorrelationEvent[]): void {
    const changed = [...this.changed].filter((incident) => incident.mergedInto === null).sort((a, b) => a.sequence - b.sequence);
    for (const incident of changed) {
      this.recompute(incident);
      const signature = signatureOf(incident);
      if (this.created.has(incident)) out.push({ type: 'incident_opened', atMs, incident: toIncident(incident) });
      else if (this.closedNow.has(incident)) out.push({ type: 'incident_closed', atMs, incident: toIncident(incident) });
      else if (signature !== incident.emitted) out.push({ type: 'incident_updated', atMs, incident: toIncident(incident) });
      incident.emitted = signature;
      incident.lastFlushMs = atMs;
    }
    out.push(...this.mergeEvents);
    for (const complaint of this.reassigned) {
      out.push({
        type: 'complaint_assigned',
        atMs,
        complaintId: complaint.id,
        incidentId: complaint.incident?.id ?? null,
        verification: complaint.verification,
        anomalyId: complaint.anomalyId,
        score: complaint.score,
      });
    }
    for (const incident of changed) this.openWorkOrderIfDue(incident, atMs, out);
    this.changed = new Set();
    this.created = new Set();
    this.closedNow = new Set();
    this.mergeEvents = [];
    this.reassigned = new Set();
    // The changes may have moved a deadline earlier: look again at the next catch-up.
    this.nextTimerMs = Number.NEGATIVE_INFINITY;
  }

  private recompute(incident: IncidentState): void {
    const evidence = {
      zone: incident.zone,
      complaints: incident.complaintTally,
      anomalies: incident.anomalies.map((state) => state.anomaly),
      durationSteps: incident.durationSteps,
    };
    incident.kind = incidentKind(evidence);
    const result = incidentPriority(evidence, incident.kind, this.zones, this.settings.priority);
    incident.score = result.score;
    incident.priority = result.priority;
    incident.reasons = result.reasons;
  }

  /**
   * Opens the incident's one work order once it has settled, its priority reaches the threshold,
   * and it is verified or every complaint in it may open one unverified.
   */
  private openWorkOrderIfDue(incident: IncidentState, atMs: number, out: CorrelationEvent[]): void {
    const settings = this.settings.work_order;
    if (incident.workOrder !== null || incident.closedAtMs !== null || incident.mergedInto !== null) return;
    if (atMs < incident.openedAtMs + settings.settle_ms) return;
    if (priorities.indexOf(incident.priority) > priorities.indexOf(settings.min_priority)) return;
    if (!isVerified(incident)) {
      const categories = [...incident.complaintTally.byCategory.keys()];
      if (categories.length === 0 || !categories.every((category) => settings.open_unverified[category])) return;
    }
    const workOrder: WorkOrderOpening = {
      id: `wo-${incident.id}`,
      incidentId: incident.id,
      jobType: jobTypeByKind[incident.kind],
      priority: incident.priority,
      createdAtMs: atMs,
      dueAtMs: atMs + settings.due_ms[incident.priority],
    };
    incident.workOrder = workOrder;
    out.push({ type: 'work_order_opened', atMs, workOrder: { ...workOrder } });
  }
}

function isVerified(incident: IncidentState): boolean {
  return incident.anomalies.length > 0 || incident.complaintTally.operatorVerified > 0;
}

function toIncident(incident: IncidentState): Incident {
  return {
    id: incident.id,
    zone: incident.zone,
    kind: incident.kind,
    openedAtMs: incident.openedAtMs,
    closedAtMs: incident.closedAtMs,
    priority: incident.priority,
    score: incident.score,
    reasons: incident.reasons.map((reason) => ({ ...reason })),
    complaintIds: [...incident.complaintIds],
    anomalyIds: incident.anomalies.map((state) => state.anomaly.id),
    verified: isVerified(incident),
  };
}

/** Changes whenever the emitted incident would: evidence is only ever appended, and verification changes show in the reasons. */
function signatureOf(incident: IncidentState): string {
  const reasons = incident.reasons.map((reason) => `${reason.factor}:${reason.points}:${reason.detail}`).join('|');
  return `${incident.kind}|${incident.score}|${incident.priority}|${isVerified(incident)}|${incident.closedAtMs}|${incident.complaintIds.length}|${incident.anomalies.length}|${reasons}`;
}

function complainantKey(state: ComplaintState): string {
  return state.complainant ?? `complaint ${state.id}`;
}

/** The id of the earliest evidence: by its time (report time, start time), anomalies first on a tie, then by id. */
function firstEvidence(complaints: readonly ComplaintState[], anomalies: readonly AnomalyState[]): string {
  const candidates = [
    ...anomalies.map((state) => ({ timeMs: state.anomaly.startMs, rank: 0, id: state.anomaly.id })),
    ...complaints.map((state) => ({ timeMs: state.reportedAtMs, rank: 1, id: state.id })),
  ].sort((a, b) => a.timeMs - b.timeMs || a.rank - b.rank || compareIds(a.id, b.id));
  return candidates[0]!.id;
}

function compareIds(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Whether a point lies within `distanceM` of the zone's bounding box. */
function withinReach(point: LatLon, zone: Zone, distanceM: number): boolean {
  const ring = zone.boundary.coordinates[0] ?? [];
  const lons = ring.map((position) => position[0]);
  const lats = ring.map((position) => position[1]);
  const latMargin = distanceM / 110_574;
  const lonMargin = distanceM / (111_320 * Math.max(0.01, Math.cos((point.lat * Math.PI) / 180)));
  return point.lat >= Math.min(...lats) - latMargin && point.lat <= Math.max(...lats) + latMargin && point.lon >= Math.min(...lons) - lonMargin && point.lon <= Math.max(...lons) + lonMargin;
}
