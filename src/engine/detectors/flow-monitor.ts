// A flow tag judged against its profile. Samples are averaged over fixed steps of event time
// (`flow_profile.step_ms`, aligned to the epoch), so the result is the same at any sample rate;
// a step is complete when a sample of a later step arrives or the watermark passes its end, and
// its events carry the step's end as their time. Each complete step:
// - flow_above_profile: robust z = (mean − median) / sigma of the step's bucket at least z_open,
//   and the excess at least min_excess_fraction of the median, for open_steps steps in a row;
//   closes after close_steps steps below z_close. Magnitude: the largest excess. While a slow
//   leak is open, the excess is counted beyond the leak's.
// - slow_leak: CUSUM S = max(0, S + min(z, clip) − k), opening at S ≥ h with the start where S
//   last left 0; magnitude: the mean excess since then; closes after close_steps steps with z
//   below k. Held at 0 while flow_above_profile is open: a burst is not a slow leak.
// - the profile learns the step when the step was all good quality and no hydraulic anomaly of
//   the tag is open; a bucket with too little history is not judged.
// - for a zone inlet, the lowest step mean inside the night window goes to the zone.
import type { DetectionSettings } from '../../contracts/detection-settings.js';
import { confidenceOf, formatNumber, type AnomalyLedger, type OpenAnomaly } from './anomaly-ledger.js';
import type { FlowProfile, BucketStats } from './flow-profile.js';
import { DAY_MS, minuteOfDay, type LocalTime } from './local-time.js';
import type { NightFlowZone } from './night-flow.js';
import type { TagInfo } from './tag-info.js';

export class FlowMonitor {
  private stepIndex = Number.NaN;
  private stepSum = 0;
  private stepSamples = 0;
  private stepCertain = true;
  private bucket = -1;
  private readonly stats: BucketStats = { judged: false, median: 0, sigma: 1 };

  private aboveSteps = 0;
  private aboveStartMs = 0;
  private abovePeak = 0;
  private normalSteps = 0;
  private normalStartMs = 0;
  private above: OpenAnomaly | null = null;

  private cusum = 0;
  private cusumStartMs = 0;
  private cusumExcessSum = 0;
  private cusumSteps = 0;
  private leakQuietSteps = 0;
  private leakQuietStartMs = 0;
  private leak: OpenAnomaly | null = null;

  private nightKey = Number.NaN;
  private nightMinimum = Number.POSITIVE_INFINITY;
  private nightStartMs = 0;
  private nightEndMs = Number.POSITIVE_INFINITY;
  private readonly nightStartMinute: number;
  private readonly nightEndMinute: number;

  constructor(
    private readonly tag: TagInfo,
    private readonly profile: FlowProfile,
    private readonly settings: DetectionSettings,
    private readonly localTime: LocalTime,
    private readonly ledger: AnomalyLedger,
    private readonly nightZone: NightFlowZone | null,
  ) {
    this.nightStartMinute = minutesOf(settings.night_flow.start);
    this.nightEndMinute = minutesOf(settings.night_flow.end);
  }

  /** When `settle` has a step or a night to complete. */
  get deadlineMs(): number {
    const stepEndMs = this.stepSamples > 0 ? (this.stepIndex + 1) * this.settings.flow_profile.step_ms : Number.POSITIVE_INFINITY;
    return Math.min(stepEndMs, this.nightEndMs);
  }

  settle(timeMs: number): void {
    if (this.stepSamples > 0 && timeMs >= (this.stepIndex + 1) * this.settings.flow_profile.step_ms) this.completeStep();
    if (timeMs >= this.nightEndMs) this.completeNight();
  }

  /** One trusted sample, after `settle` to its time; `certain` is false for uncertain quality (judged, never learned). */
  observe(timeMs: number, value: number, certain: boolean): void {
    const index = Math.floor(timeMs / this.settings.flow_profile.step_ms);
    if (index !== this.stepIndex) {
      if (this.stepSamples > 0) this.completeStep();
      this.stepIndex = index;
      this.stepSum = 0;
      this.stepSamples = 0;
      this.stepCertain = true;
    }
    this.stepSum += value;
    this.stepSamples += 1;
    this.stepCertain &&= certain;
  }

  /** A sensor fault on the tag: close what is open, drop the partial step and the running sums. */
  suppress(atMs: number): void {
    if (this.above !== null) this.ledger.close(this.above, atMs, atMs, { magnitude: this.above.anomaly.magnitude, confidence: this.above.anomaly.confidence, detail: `${this.above.anomaly.detail}; ended by a sensor fault` });
    if (this.leak !== null) this.ledger.close(this.leak, atMs, atMs, { magnitude: this.leak.anomaly.magnitude, confidence: this.leak.anomaly.confidence, detail: `${this.leak.anomaly.detail}; ended by a sensor fault` });
    this.above = this.leak = null;
    this.stepSamples = 0;
    this.aboveSteps = this.normalSteps = this.leakQuietSteps = 0;
    this.cusum = 0;
  }

  /** Forget all but the profile (after learning from history). */
  reset(): void {
    this.above = this.leak = null;
    this.stepIndex = Number.NaN;
    this.stepSamples = 0;
    this.aboveSteps = this.normalSteps = this.leakQuietSteps = 0;
    this.cusum = 0;
    this.bucket = -1;
    this.nightKey = Number.NaN;
    this.nightMinimum = Number.POSITIVE_INFINITY;
    this.nightEndMs = Number.POSITIVE_INFINITY;
  }

  private completeStep(): void {
    const stepMs = this.settings.flow_profile.step_ms;
    const startMs = this.stepIndex * stepMs;
    const endMs = startMs + stepMs;
    const mean = this.stepSum / this.stepSamples;
    const certain = this.stepCertain;
    this.stepSamples = 0;

    const localMs = this.localTime.toLocalMs(startMs);
    const bucket = this.profile.bucketOf(localMs);
    if (bucket !== this.bucket) {
      this.bucket = bucket;
      this.profile.statsOf(bucket, this.stats);
    }
    if (this.stats.judged) {
      const excess = mean - this.stats.median;
      const z = excess / this.stats.sigma;
      // A known slow leak raises every step: only a rise beyond it is a further event.
      const leakExcess = this.leak === null ? 0 : Math.max(0, this.leak.anomaly.magnitude);
      this.judgeAboveProfile(startMs, endMs, excess - leakExcess, (excess - leakExcess) / this.stats.sigma);
      this.judgeSlowLeak(startMs, endMs, excess, z);
    } else {
      this.judgeAboveProfile(startMs, endMs, 0, 0);
    }
    if (certain && !this.ledger.hydraulicOpenOn(this.tag.id)) this.profile.add(bucket, mean);
    if (this.nightZone !== null) this.trackNight(startMs, localMs, mean);
  }

  private judgeAboveProfile(startMs: number, endMs: number, excess: number, z: number): void {
    const { z_open, z_close, min_excess_fraction, open_steps, close_steps } = this.settings.flow_profile;
    const median = this.stats.median;
    if (this.above === null) {
      if (z >= z_open && excess >= min_excess_fraction * Math.abs(median)) {
        if (this.aboveSteps === 0) {
          this.aboveStartMs = startMs;
          this.abovePeak = excess;
        }
        this.aboveSteps += 1;
        this.abovePeak = Math.max(this.abovePeak, excess);
        if (this.aboveSteps >= open_steps) {
          this.above = this.ledger.openAnomaly(
            { kind: 'flow_above_profile', tag: this.tag.id, zone: this.tag.zone, startMs: this.aboveStartMs, magnitude: this.abovePeak, unit: this.tag.unit, confidence: this.aboveConfidence(z, endMs), detail: this.aboveDetail(median) },
            endMs,
          );
          this.normalSteps = 0;
          this.cusum = 0;
        }
      } else {
        this.aboveSteps = 0;
      }
      return;
    }
    if (z < z_close) {
      if (this.normalSteps === 0) this.normalStartMs = startMs;
      this.normalSteps += 1;
      if (this.normalSteps >= close_steps) {
        this.ledger.close(this.above, this.normalStartMs, endMs);
        this.above = null;
        this.aboveSteps = 0;
      }
      return;
    }
    this.normalSteps = 0;
    if (excess > this.abovePeak) {
      this.abovePeak = excess;
      this.ledger.grow(this.above, excess, this.aboveConfidence(z, endMs), this.aboveDetail(median), endMs);
    }
  }

  private judgeSlowLeak(startMs: number, endMs: number, excess: number, z: number): void {
    const { k, h, clip, close_steps } = this.settings.slow_leak;
    if (this.above !== null && this.leak === null) {
      this.cusum = 0;
      return;
    }
    const next = Math.max(0, this.cusum + Math.min(z, clip) - k);
    if (this.cusum === 0 && next > 0 && this.leak === null) {
      this.cusumStartMs = startMs;
      this.cusumExcessSum = 0;
      this.cusumSteps = 0;
    }
    this.cusum = next;
    if (next > 0 || this.leak !== null) {
      this.cusumExcessSum += excess;
      this.cusumSteps += 1;
    }
    const meanExcess = this.cusumSteps > 0 ? this.cusumExcessSum / this.cusumSteps : 0;
    const severity = this.cusum / h - 1;
    const detail = `flow ${formatNumber(meanExcess)} ${this.tag.unit} above profile on average since the rise began`;
    if (this.leak === null) {
      if (next >= h) {
        this.leak = this.ledger.openAnomaly({ kind: 'slow_leak', tag: this.tag.id, zone: this.tag.zone, startMs: this.cusumStartMs, magnitude: meanExcess, unit: this.tag.unit, confidence: confidenceOf(severity, endMs - this.cusumStartMs, this.settings.reporting.confidence_full_ms), detail }, endMs);
        this.leakQuietSteps = 0;
      }
      return;
    }
    if (z < k) {
      if (this.leakQuietSteps === 0) this.leakQuietStartMs = startMs;
      this.leakQuietSteps += 1;
      if (this.leakQuietSteps >= close_steps) {
        this.ledger.close(this.leak, this.leakQuietStartMs, endMs);
        this.leak = null;
        this.cusum = 0;
      }
      return;
    }
    this.leakQuietSteps = 0;
    this.ledger.grow(this.leak, meanExcess, confidenceOf(severity, endMs - this.leak.anomaly.startMs, this.settings.reporting.confidence_full_ms), detail, endMs);
  }

  private trackNight(startMs: number, localMs: number, mean: number): void {
    if (startMs >= this.nightEndMs) this.completeNight();
    const minute = minuteOfDay(localMs);
    const wraps = this.nightStartMinute > this.nightEndMinute;
    const inside = wraps ? minute >= this.nightStartMinute || minute < this.nightEndMinute : minute >= this.nightStartMinute && minute < this.nightEndMinute;
    if (!inside) return;
    // A night is named by the local day its window ends on.
    const localDay = Math.floor(localMs / DAY_MS);
    const key = wraps && minute >= this.nightStartMinute ? localDay + 1 : localDay;
    if (key !== this.nightKey) {
      this.nightKey = key;
      this.nightMinimum = mean;
      const windowStartLocalMs = (wraps ? key - 1 : key) * DAY_MS + this.nightStartMinute * 60_000;
      this.nightStartMs = this.localTime.toEventMs(windowStartLocalMs);
      this.nightEndMs = this.localTime.toEventMs(key * DAY_MS + this.nightEndMinute * 60_000);
      return;
    }
    this.nightMinimum = Math.min(this.nightMinimum, mean);
  }

  private completeNight(): void {
    if (this.nightEndMs === Number.POSITIVE_INFINITY) return;
    this.nightZone!.report(this.nightKey, this.nightMinimum, this.nightStartMs, this.nightEndMs);
    this.nightEndMs = Number.POSITIVE_INFINITY;
  }

  private aboveConfidence(z: number, atMs: number): number {
    return confidenceOf(z / this.settings.flow_profile.z_open - 1, atMs - this.aboveStartMs, this.settings.reporting.confidence_full_ms);
  }

  private aboveDetail(median: number): string {
    return `flow ${formatNumber(this.abovePeak)} ${this.tag.unit} above its usual ${formatNumber(median)} ${this.tag.unit} for this time of week`;
  }
}

function minutesOf(localTime: string): number {
  const [hours, minutes] = localTime.split(':').map(Number);
  return hours! * 60 + minutes!;
}
