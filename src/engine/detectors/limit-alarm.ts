// Alarm limits of one tag (lolo, lo, hi, hihi), each an alarm of its own as in ISA-18.2: a very
// low pressure has both pressure_low and pressure_very_low active. An alarm raises once the value
// has been beyond its limit for on_delay_s and for `alarms.min_samples` consecutive samples; it
// clears once the value has been back inside the limit by more than the deadband for off_delay_s.
// Start is when the value first went beyond, end when it came back inside; the events carry the
// moments these were confirmed.
import type { AlarmLevel, AnomalyKind } from '../../contracts/anomaly.js';
import type { DetectionSettings } from '../../contracts/detection-settings.js';
import type { AlarmLimits } from '../../contracts/site.js';
import { confidenceOf, formatNumber, type AnomalyLedger, type OpenAnomaly } from './anomaly-ledger.js';
import type { TagInfo } from './tag-info.js';

const LIMITS = [
  { name: 'lolo', level: 'very_low', low: true },
  { name: 'lo', level: 'low', low: true },
  { name: 'hi', level: 'high', low: false },
  { name: 'hihi', level: 'very_high', low: false },
] as const satisfies ReadonlyArray<{ name: keyof AlarmLimits; level: AlarmLevel; low: boolean }>;

const enum State {
  Normal,
  Pending,
  Active,
  Clearing,
}

export class LimitAlarm {
  /** Event time at which `settle` has something to confirm. */
  deadlineMs = Number.POSITIVE_INFINITY;
  private state = State.Normal;
  private beyondSinceMs = 0;
  private beyondSamples = 0;
  private clearingSinceMs = 0;
  private peakBeyond = 0;
  private open: OpenAnomaly | null = null;
  private readonly reference: number;

  constructor(
    private readonly tag: TagInfo,
    private readonly kind: AnomalyKind,
    private readonly limitName: string,
    private readonly limit: number,
    private readonly low: boolean,
    private readonly deadband: number,
    private readonly onDelayMs: number,
    private readonly offDelayMs: number,
    private readonly minSamples: number,
    private readonly confidenceFullMs: number,
    private readonly ledger: AnomalyLedger,
  ) {
    // Severity is full at twice the deadband or 10 % of the limit beyond it, whichever is larger.
    this.reference = Math.max(2 * deadband, 0.1 * Math.abs(limit), 1e-9);
  }

  static forTag(tag: TagInfo, settings: DetectionSettings, ledger: AnomalyLedger): LimitAlarm[] {
    const limits = tag.alarms;
    if (limits === null) return [];
    const quantity = tag.kind === 'pressure' || tag.kind === 'flow' || tag.kind === 'level' ? tag.kind : 'value';
    return LIMITS.flatMap(({ name, level, low }) => {
      const limit = limits[name];
      if (limit === undefined) return [];
      return [new LimitAlarm(tag, `${quantity}_${level}`, name, limit, low, limits.deadband, limits.on_delay_s * 1000, limits.off_delay_s * 1000, settings.alarms.min_samples, settings.reporting.confidence_full_ms, ledger)];
    });
  }

  settle(timeMs: number): void {
    if (timeMs < this.deadlineMs) return;
    if (this.state === State.Pending) this.raise(this.deadlineMs);
    else if (this.state === State.Clearing) this.clear(this.clearingSinceMs, this.deadlineMs);
  }

  /** One trusted sample, after `settle` to its time. */
  observe(timeMs: number, value: number): void {
    const beyond = this.low ? this.limit - value : value - this.limit;
    const isBeyond = beyond > 0;
    switch (this.state) {
      case State.Normal:
        if (!isBeyond) return;
        this.state = State.Pending;
        this.beyondSinceMs = timeMs;
        this.beyondSamples = 1;
        this.peakBeyond = beyond;
        this.checkRaise(timeMs);
        return;
      case State.Pending:
        if (!isBeyond) {
          this.state = State.Normal;
          this.deadlineMs = Number.POSITIVE_INFINITY;
          return;
        }
        this.beyondSamples += 1;
        this.peakBeyond = Math.max(this.peakBeyond, beyond);
        this.checkRaise(timeMs);
        return;
      case State.Active:
      case State.Clearing: {
        if (isBeyond && beyond > this.peakBeyond) {
          this.peakBeyond = beyond;
          this.ledger.grow(this.open!, beyond, this.confidence(timeMs), this.detail(), timeMs);
        }
        const inside = -beyond > this.deadband;
        if (this.state === State.Active && inside) {
          this.state = State.Clearing;
          this.clearingSinceMs = timeMs;
          this.deadlineMs = timeMs + this.offDelayMs;
          if (this.offDelayMs === 0) this.clear(timeMs, timeMs);
        } else if (this.state === State.Clearing && !inside) {
          this.state = State.Active;
          this.deadlineMs = Number.POSITIVE_INFINITY;
        }
        return;
      }
    }
  }

  /** A sensor fault on the tag: close what is open and start over. */
  suppress(atMs: number): void {
    if (this.open !== null) this.ledger.close(this.open, atMs, atMs, { magnitude: this.peakBeyond, confidence: this.open.anomaly.confidence, detail: `${this.detail()}; ended by a sensor fault` });
    this.open = null;
    this.state = State.Normal;
    this.deadlineMs = Number.POSITIVE_INFINITY;
  }

  private checkRaise(timeMs: number): void {
    if (this.beyondSamples < this.minSamples) {
      this.deadlineMs = Number.POSITIVE_INFINITY;
      return;
    }
    const dueMs = this.beyondSinceMs + this.onDelayMs;
    if (timeMs >= dueMs) this.raise(timeMs);
    else this.deadlineMs = dueMs;
  }

  private raise(atMs: number): void {
    this.state = State.Active;
    this.deadlineMs = Number.POSITIVE_INFINITY;
    this.open = this.ledger.openAnomaly(
      { kind: this.kind, tag: this.tag.id, zone: this.tag.zone, startMs: this.beyondSinceMs, magnitude: this.peakBeyond, unit: this.tag.unit, confidence: this.confidence(atMs), detail: this.detail() },
      atMs,
    );
  }

  private clear(endMs: number, atMs: number): void {
    this.ledger.close(this.open!, endMs, atMs, { magnitude: this.peakBeyond, confidence: this.confidence(endMs), detail: this.detail() });
    this.open = null;
    this.state = State.Normal;
    this.deadlineMs = Number.POSITIVE_INFINITY;
  }

  private confidence(atMs: number): number {
    return confidenceOf(this.peakBeyond / this.reference, atMs - this.beyondSinceMs, this.confidenceFullMs);
  }

  private detail(): string {
    const quantity = this.tag.kind === 'pressure' || this.tag.kind === 'flow' || this.tag.kind === 'level' ? this.tag.kind : this.tag.id;
    return `${quantity} ${formatNumber(this.peakBeyond)} ${this.tag.unit} ${this.low ? 'below' : 'above'} ${this.limitName} ${formatNumber(this.limit)} ${this.tag.unit}`;
  }
}
