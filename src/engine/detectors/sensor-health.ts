// Sensor faults of one tag: bad quality, data gaps, values outside the engineering range, and a
// frozen value. While any is open the tag's samples are not trusted: the bank keeps them from the
// hydraulic detectors and from the baselines, and closes the tag's open hydraulic anomalies when
// a fault opens, so that a failing instrument never reads as a network event.
import type { DetectionSettings } from '../../contracts/detection-settings.js';
import { formatNumber, type AnomalyLedger, type OpenAnomaly } from './anomaly-ledger.js';
import type { TagInfo } from './tag-info.js';

// Confidence of each fault: the source's own bad quality is certain; a frozen value is the most
// likely to be a real steady process.
const CONFIDENCE = { sensor_bad_quality: 1, sensor_out_of_range: 0.95, sensor_gap: 0.9, sensor_stuck: 0.8 } as const;
const INTERVAL_SMOOTHING = 0.05;

export class SensorHealth {
  /** Time of the last sample, of any quality. */
  lastMs = Number.NEGATIVE_INFINITY;
  private usualIntervalMs = Number.NaN;
  private gap: OpenAnomaly | null = null;
  private badQuality: OpenAnomaly | null = null;
  private outOfRange: OpenAnomaly | null = null;
  private stuck: OpenAnomaly | null = null;
  private runValue = Number.NaN;
  private runStartMs = 0;
  private runSamples = 0;
  private readonly watchesStuck: boolean;
  private readonly rangeLow: number;
  private readonly rangeHigh: number;

  constructor(
    private readonly tag: TagInfo,
    private readonly settings: DetectionSettings['sensor'],
    private readonly ledger: AnomalyLedger,
    /** Called when a fault opens on the tag, with the fault's start. */
    private readonly onFault: (startMs: number) => void,
  ) {
    this.watchesStuck = (settings.stuck_kinds as readonly string[]).includes(tag.kind);
    const tolerance = tag.range === null ? 0 : (tag.range.max - tag.range.min) * settings.range_tolerance_fraction;
    this.rangeLow = tag.range === null ? Number.NEGATIVE_INFINITY : tag.range.min - tolerance;
    this.rangeHigh = tag.range === null ? Number.POSITIVE_INFINITY : tag.range.max + tolerance;
  }

  /** Silence longer than this is a gap. */
  get gapThresholdMs(): number {
    const { gap_min_ms, gap_interval_multiple } = this.settings;
    return Number.isNaN(this.usualIntervalMs) ? gap_min_ms : Math.max(gap_min_ms, gap_interval_multiple * this.usualIntervalMs);
  }

  /** After this a gap opens; infinite while one is open or before the first sample. */
  get deadlineMs(): number {
    return this.gap === null ? this.lastMs + this.gapThresholdMs : Number.POSITIVE_INFINITY;
  }

  get faulty(): boolean {
    return this.gap !== null || this.badQuality !== null || this.outOfRange !== null || this.stuck !== null;
  }

  settle(timeMs: number): void {
    const threshold = this.gapThresholdMs;
    // Strictly after: a sample exactly at the threshold is on time.
    if (this.gap !== null || !(timeMs > this.lastMs + threshold)) return;
    this.gap = this.ledger.openAnomaly(
      { kind: 'sensor_gap', tag: this.tag.id, zone: this.tag.zone, startMs: this.lastMs, magnitude: threshold / 1000, unit: 's', confidence: CONFIDENCE.sensor_gap, detail: `no samples from ${this.tag.id} for over ${formatNumber(threshold / 60_000)} min` },
      this.lastMs + threshold,
    );
    this.onFault(this.lastMs);
  }

  /** One sample (after `settle` to its time); true when its value can be trusted. */
  observe(timeMs: number, value: number | null, quality: 0 | 1 | 2): value is number {
    const sinceLastMs = timeMs - this.lastMs;
    if (this.gap !== null) {
      const gapMs = timeMs - this.gap.anomaly.startMs;
      this.ledger.close(this.gap, timeMs, timeMs, { magnitude: gapMs / 1000, confidence: CONFIDENCE.sensor_gap, detail: `no samples from ${this.tag.id} for ${formatNumber(gapMs / 60_000)} min` });
      this.gap = null;
    } else if (Number.isFinite(sinceLastMs)) {
      this.usualIntervalMs = Number.isNaN(this.usualIntervalMs) ? sinceLastMs : this.usualIntervalMs + INTERVAL_SMOOTHING * (sinceLastMs - this.usualIntervalMs);
    }
    this.lastMs = timeMs;

    if (quality === 2 || value === null || !Number.isFinite(value)) {
      if (this.badQuality === null) {
        this.badQuality = this.ledger.openAnomaly({ kind: 'sensor_bad_quality', tag: this.tag.id, zone: this.tag.zone, startMs: timeMs, magnitude: 0, unit: 's', confidence: CONFIDENCE.sensor_bad_quality, detail: `${this.tag.id} reports bad quality` }, timeMs);
        this.onFault(timeMs);
      }
      return false;
    }
    if (this.badQuality !== null) {
      const durationS = (timeMs - this.badQuality.anomaly.startMs) / 1000;
      this.ledger.close(this.badQuality, timeMs, timeMs, { magnitude: durationS, confidence: CONFIDENCE.sensor_bad_quality, detail: `${this.tag.id} reported bad quality for ${formatNumber(durationS / 60)} min` });
      this.badQuality = null;
    }

    if (!this.checkRange(timeMs, value)) return false;
    this.checkStuck(timeMs, value);
    return this.stuck === null;
  }

  /** Forget the last sample and open faults (after learning from history); the usual interval stays. */
  reset(): void {
    this.lastMs = Number.NEGATIVE_INFINITY;
    this.gap = this.badQuality = this.outOfRange = this.stuck = null;
    this.runValue = Number.NaN;
    this.runSamples = 0;
  }

  private checkRange(timeMs: number, value: number): boolean {
    const beyond = value < this.rangeLow ? this.tag.range!.min - value : value > this.rangeHigh ? value - this.tag.range!.max : 0;
    if (beyond > 0) {
      const detail = `${this.tag.id} reads ${formatNumber(value)} ${this.tag.unit}, outside its range ${this.tag.range!.min}..${this.tag.range!.max}`;
      if (this.outOfRange === null) {
        this.outOfRange = this.ledger.openAnomaly({ kind: 'sensor_out_of_range', tag: this.tag.id, zone: this.tag.zone, startMs: timeMs, magnitude: beyond, unit: this.tag.unit, confidence: CONFIDENCE.sensor_out_of_range, detail }, timeMs);
        this.onFault(timeMs);
      } else if (beyond > this.outOfRange.anomaly.magnitude) {
        this.ledger.grow(this.outOfRange, beyond, CONFIDENCE.sensor_out_of_range, detail, timeMs);
      }
      return false;
    }
    if (this.outOfRange !== null) {
      this.ledger.close(this.outOfRange, timeMs, timeMs);
      this.outOfRange = null;
    }
    return true;
  }

  // A closed line reads exactly 0 for hours: zero flow is never taken for a frozen meter.
  private checkStuck(timeMs: number, value: number): void {
    if (!this.watchesStuck) return;
    if (value === this.runValue && !(value === 0 && this.tag.kind === 'flow')) {
      this.runSamples += 1;
      if (this.stuck === null && this.runSamples >= this.settings.stuck_min_samples && timeMs - this.runStartMs >= this.settings.stuck_min_ms) {
        this.stuck = this.ledger.openAnomaly(
          { kind: 'sensor_stuck', tag: this.tag.id, zone: this.tag.zone, startMs: this.runStartMs, magnitude: (timeMs - this.runStartMs) / 1000, unit: 's', confidence: CONFIDENCE.sensor_stuck, detail: `${this.tag.id} frozen at ${formatNumber(value)} ${this.tag.unit}` },
          timeMs,
        );
        this.onFault(this.runStartMs);
      }
      return;
    }
    if (this.stuck !== null) {
      const durationS = (timeMs - this.stuck.anomaly.startMs) / 1000;
      this.ledger.close(this.stuck, timeMs, timeMs, { magnitude: durationS, confidence: CONFIDENCE.sensor_stuck, detail: `${this.tag.id} was frozen at ${formatNumber(this.runValue)} ${this.tag.unit} for ${formatNumber(durationS / 60)} min` });
      this.stuck = null;
    }
    this.runValue = value;
    this.runStartMs = timeMs;
    this.runSamples = 1;
  }
}
