// The one place anomalies are opened, grown and closed: it builds the events the bank returns,
// keeps the open set, and counts open hydraulic anomalies per tag (profiles do not learn from a
// tag while one is open). Ids are `${kind}:${tag or zone}:${startMs}`, so the same data gives
// the same id, live or in replay.
import { isSensorFault, type Anomaly, type AnomalyEvent, type AnomalyKind } from '../../contracts/anomaly.js';

export interface AnomalyOpening {
  kind: AnomalyKind;
  tag: string;
  zone: string | null;
  startMs: number;
  magnitude: number;
  unit: string;
  confidence: number;
  detail: string;
  /** Replaces the tag in the id, for anomalies that belong to a zone rather than one tag. */
  idScope?: string;
}

export interface OpenAnomaly {
  readonly anomaly: Anomaly;
  /** Magnitude in the last event sent, against which growth is measured. */
  reportedMagnitude: number;
  /** A hydraulic anomaly of the tag itself (not of its zone): the tag's profile does not learn while it lasts. */
  readonly countsForTag: boolean;
}

export class AnomalyLedger {
  /** Events since the bank last took them. */
  events: AnomalyEvent[] = [];
  /** While learning from history, anomalies are tracked (to keep them out of baselines) but not reported. */
  reporting = true;
  private readonly open = new Map<string, OpenAnomaly>();
  private readonly hydraulicOpenByTag = new Map<string, number>();

  constructor(private readonly updateGrowth: number) {}

  openAnomaly(opening: AnomalyOpening, atMs: number): OpenAnomaly {
    const id = `${opening.kind}:${opening.idScope ?? opening.tag}:${opening.startMs}`;
    const anomaly: Anomaly = {
      id,
      kind: opening.kind,
      tag: opening.tag,
      zone: opening.zone,
      startMs: opening.startMs,
      endMs: null,
      magnitude: roundMagnitude(opening.magnitude),
      unit: opening.unit,
      confidence: opening.confidence,
      detail: opening.detail,
    };
    const entry: OpenAnomaly = { anomaly, reportedMagnitude: anomaly.magnitude, countsForTag: countsForTag(opening) };
    this.open.set(id, entry);
    if (countsForTag(opening)) this.hydraulicOpenByTag.set(anomaly.tag, (this.hydraulicOpenByTag.get(anomaly.tag) ?? 0) + 1);
    this.emit('opened', atMs, anomaly);
    return entry;
  }

  /** New magnitude, confidence and detail; reported only when the magnitude grew by the configured step. */
  grow(entry: OpenAnomaly, magnitude: number, confidence: number, detail: string, atMs: number): void {
    const anomaly = entry.anomaly as { -readonly [K in keyof Anomaly]: Anomaly[K] };
    anomaly.magnitude = roundMagnitude(magnitude);
    anomaly.confidence = confidence;
    anomaly.detail = detail;
    if (Math.abs(anomaly.magnitude) >= Math.abs(entry.reportedMagnitude) * (1 + this.updateGrowth) && anomaly.magnitude !== entry.reportedMagnitude) {
      entry.reportedMagnitude = anomaly.magnitude;
      this.emit('updated', atMs, anomaly);
    }
  }

  close(entry: OpenAnomaly, endMs: number, atMs: number, final?: { magnitude: number; confidence: number; detail: string }): void {
    const anomaly = entry.anomaly as { -readonly [K in keyof Anomaly]: Anomaly[K] };
    if (!this.open.delete(anomaly.id)) return;
    anomaly.endMs = Math.max(endMs, anomaly.startMs);
    if (final !== undefined) {
      anomaly.magnitude = roundMagnitude(final.magnitude);
      anomaly.confidence = final.confidence;
      anomaly.detail = final.detail;
    }
    if (entry.countsForTag) this.hydraulicOpenByTag.set(anomaly.tag, (this.hydraulicOpenByTag.get(anomaly.tag) ?? 1) - 1);
    this.emit('closed', Math.max(atMs, anomaly.endMs), anomaly);
  }

  hydraulicOpenOn(tag: string): boolean {
    return (this.hydraulicOpenByTag.get(tag) ?? 0) > 0;
  }

  openAnomalies(): Anomaly[] {
    return [...this.open.values()].map((entry) => ({ ...entry.anomaly })).sort((a, b) => a.startMs - b.startMs || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  /** Forget everything open, without events: the end of learning from history. */
  forget(): void {
    this.open.clear();
    this.hydraulicOpenByTag.clear();
    this.events = [];
  }

  takeEvents(): AnomalyEvent[] {
    const events = this.events;
    this.events = [];
    return events;
  }

  private emit(type: AnomalyEvent['type'], atMs: number, anomaly: Anomaly): void {
    if (this.reporting) this.events.push({ type, atMs, anomaly: { ...anomaly } });
  }
}

function countsForTag(opening: AnomalyOpening): boolean {
  return !isSensorFault(opening.kind) && opening.idScope === undefined;
}

/**
 * Confidence, the same rule for every hydraulic detector: 0.5 at the threshold, plus up to 0.3
 * for severity (how far past the threshold, full at `severity` 1) and up to 0.2 for persistence
 * (full at `confidence_full_ms`). Two decimals, so that it is stable across platforms.
 */
export function confidenceOf(severity: number, durationMs: number, fullDurationMs: number): number {
  const severityPart = Math.min(1, Math.max(0, severity));
  const persistencePart = Math.min(1, Math.max(0, durationMs / fullDurationMs));
  return Math.round((0.5 + 0.3 * severityPart + 0.2 * persistencePart) * 100) / 100;
}

export function roundMagnitude(value: number): number {
  return Math.round(value * 1000) / 1000;
}

export function formatNumber(value: number): string {
  return String(Math.round(value * 100) / 100);
}
