// The engine that both the live `engine` role and `tirta replay` run: detectors on each tag's
// samples, then correlation over the anomalies, complaints and operator decisions in event-time
// order. Detector output is immediate per tag; correlation input is held in a reorder buffer
// until the watermark passes it, so that the correlator sees one deterministic order (by event
// time, then kind, then id) however the inputs interleaved on arrival. Same inputs, same output,
// live or offline.
import type { AnomalyEvent, EngineSample } from '../contracts/anomaly.js';
import type { ComplaintBody } from '../contracts/complaint.js';
import type { CorrelationEvent, EngineComplaint } from '../contracts/incident.js';
import type { SiteConfig } from '../contracts/site.js';
import { Correlator } from './correlation/correlator.js';
import { DetectorBank } from './detectors/detector-bank.js';

export type OperatorDecision = { complaintId: string; decision: 'verified' | 'rejected'; atMs: number; key: string };

export interface EngineListener {
  anomaly?(event: AnomalyEvent): void;
  correlation?(event: CorrelationEvent): void;
}

type Pending =
  | { timeMs: number; rank: 0; key: string; event: AnomalyEvent }
  | { timeMs: number; rank: 1; key: string; complaint: EngineComplaint }
  | { timeMs: number; rank: 2; key: string; decision: OperatorDecision };

const ANOMALY_EVENT_RANK = { opened: 0, updated: 1, closed: 2 } as const;

export class EventTimeEngine {
  readonly detectors: DetectorBank;
  readonly correlator: Correlator;
  private pending: Pending[] = [];
  /** The earliest time in `pending`, so that a watermark step with nothing due costs nothing. */
  private earliestPendingMs = Number.POSITIVE_INFINITY;
  private watermarkMs = Number.NEGATIVE_INFINITY;

  constructor(site: SiteConfig, private readonly listener: EngineListener = {}) {
    this.detectors = new DetectorBank(site);
    this.correlator = new Correlator(site);
  }

  get watermark(): number {
    return this.watermarkMs;
  }

  /** Baselines from stored history, before any live input. */
  learn(history: Iterable<EngineSample>): void {
    this.detectors.learn(history);
  }

  observe(sample: EngineSample): void {
    this.hold(this.detectors.observe(sample));
  }

  complaint(complaint: EngineComplaint): void {
    this.enqueue({ timeMs: complaint.reportedAtMs, rank: 1, key: complaint.id, complaint });
  }

  decision(decision: OperatorDecision): void {
    this.enqueue({ timeMs: decision.atMs, rank: 2, key: decision.key, decision });
  }

  /**
   * No input earlier than `timeMs` will come: run time-based rules up to it and hand the
   * correlator everything buffered before it, in order.
   */
  advanceTo(timeMs: number): void {
    if (timeMs <= this.watermarkMs) return;
    this.watermarkMs = timeMs;
    this.hold(this.detectors.advanceTo(timeMs));
    if (this.earliestPendingMs < timeMs) this.release((item) => item.timeMs < timeMs);
    this.emit(this.correlator.advanceTo(timeMs));
  }

  /** The end of the input: hand over everything still buffered. */
  finish(): void {
    this.release(() => true);
  }

  private hold(events: AnomalyEvent[]): void {
    for (const event of events) {
      this.listener.anomaly?.(event);
      this.enqueue({ timeMs: event.atMs, rank: 0, key: `${event.anomaly.id}:${ANOMALY_EVENT_RANK[event.type]}`, event });
    }
  }

  private enqueue(item: Pending): void {
    this.pending.push(item);
    if (item.timeMs < this.earliestPendingMs) this.earliestPendingMs = item.timeMs;
  }

  private release(ready: (item: Pending) => boolean): void {
    if (this.pending.length === 0) return;
    const now: Pending[] = [];
    const later: Pending[] = [];
    let earliestLater = Number.POSITIVE_INFINITY;
    for (const item of this.pending) {
      if (ready(item)) now.push(item);
      else {
        later.push(item);
        if (item.timeMs < earliestLater) earliestLater = item.timeMs;
      }
    }
    this.pending = later;
    this.earliestPendingMs = earliestLater;
    now.sort((a, b) => a.timeMs - b.timeMs || a.rank - b.rank || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    for (const item of now) {
      if (item.rank === 0) this.emit(this.correlator.anomaly(item.event));
      else if (item.rank === 1) this.emit(this.correlator.complaint(item.complaint));
      else this.emit(this.correlator.operatorDecision(item.decision.complaintId, item.decision.decision, item.decision.atMs));
    }
  }

  private emit(events: CorrelationEvent[]): void {
    if (this.listener.correlation === undefined) return;
    for (const event of events) this.listener.correlation(event);
  }
}

/** The same person calling twice counts once: by contact, else by customer account. */
export function complainantOf(body: Pick<ComplaintBody, 'contact' | 'location'>): string | null {
  if (body.contact !== undefined) return body.contact.replace(/[\s-]/g, '').toLowerCase();
  if ('account' in body.location) return `account:${body.location.account}`;
  return null;
}
