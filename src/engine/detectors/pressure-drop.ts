// Pressure falling fast, the signature of a burst: the (median-of-3 filtered) pressure is at
// least `min_drop_m` below the highest value of the last `window_ms`, and fell at an average of at
// least `min_rate_m_per_min` since that highest value, for `min_samples` samples in a row. The
// median of three removes any single-sample spike, up or down, before it can make or mask a drop.
// Start is the time of the highest value (where the fall began); magnitude is the fall, growing
// while pressure keeps falling; the drop ends once pressure regains `recover_fraction` of it.
import type { DetectionSettings } from '../../contracts/detection-settings.js';
import { confidenceOf, formatNumber, type AnomalyLedger, type OpenAnomaly } from './anomaly-ledger.js';
import type { TagInfo } from './tag-info.js';

// The window's maximum is kept by a monotonic deque; at 1 s samples a 15-minute window needs 900
// at most. It starts small and doubles as needed: a site has thousands of pressure tags.
const DEQUE_MAX_CAPACITY = 4096;
const DEQUE_START_CAPACITY = 64;

export class PressureDrop {
  private dequeTimes = new Float64Array(DEQUE_START_CAPACITY);
  private dequeValues = new Float64Array(DEQUE_START_CAPACITY);
  private head = 0;
  private size = 0;
  private previous = Number.NaN;
  private beforePrevious = Number.NaN;
  private meetingSamples = 0;
  private open: OpenAnomaly | null = null;
  private fromValue = 0;
  private fromMs = 0;
  private lowest = 0;

  constructor(
    private readonly tag: TagInfo,
    private readonly settings: DetectionSettings['pressure_drop'],
    private readonly confidenceFullMs: number,
    private readonly ledger: AnomalyLedger,
  ) {}

  observe(timeMs: number, raw: number): void {
    const older = this.beforePrevious;
    this.beforePrevious = this.previous;
    this.previous = raw;
    if (Number.isNaN(older)) return;
    const value = medianOfThree(older, this.beforePrevious, raw);

    if (this.open !== null) {
      this.follow(timeMs, value);
      return;
    }
    this.pushAndTrim(timeMs, value);
    const highest = this.dequeValues[this.head]!;
    const highestMs = this.dequeTimes[this.head]!;
    const fall = highest - value;
    const minutes = (timeMs - highestMs) / 60_000;
    if (fall >= this.settings.min_drop_m && minutes > 0 && fall / minutes >= this.settings.min_rate_m_per_min) {
      this.meetingSamples += 1;
      if (this.meetingSamples >= this.settings.min_samples) this.openDrop(timeMs, highest, highestMs, value);
    } else {
      this.meetingSamples = 0;
    }
  }

  suppress(atMs: number): void {
    if (this.open !== null) this.ledger.close(this.open, atMs, atMs, { magnitude: this.fromValue - this.lowest, confidence: this.open.anomaly.confidence, detail: `${this.detail()}; ended by a sensor fault` });
    this.open = null;
    this.restart();
  }

  private openDrop(timeMs: number, highest: number, highestMs: number, value: number): void {
    this.fromValue = highest;
    this.fromMs = highestMs;
    this.lowest = value;
    this.open = this.ledger.openAnomaly(
      { kind: 'pressure_drop', tag: this.tag.id, zone: this.tag.zone, startMs: highestMs, magnitude: highest - value, unit: this.tag.unit, confidence: this.confidence(timeMs), detail: this.detail() },
      timeMs,
    );
    this.size = 0;
    this.meetingSamples = 0;
  }

  private follow(timeMs: number, value: number): void {
    const open = this.open!;
    if (value < this.lowest) {
      this.lowest = value;
      this.ledger.grow(open, this.fromValue - value, this.confidence(timeMs), this.detail(), timeMs);
    }
    const fall = this.fromValue - this.lowest;
    if (value >= this.lowest + fall * this.settings.recover_fraction) {
      this.ledger.close(open, timeMs, timeMs, { magnitude: fall, confidence: this.confidence(timeMs), detail: this.detail() });
      this.open = null;
      this.size = 0;
      this.pushAndTrim(timeMs, value);
    }
  }

  private pushAndTrim(timeMs: number, value: number): void {
    // Drop smaller values from the back: they can never be the maximum again.
    while (this.size > 0 && this.dequeValues[(this.head + this.size - 1) % this.dequeTimes.length]! <= value) this.size -= 1;
    if (this.size === this.dequeTimes.length && this.size < DEQUE_MAX_CAPACITY) this.growDeque();
    if (this.size === this.dequeTimes.length) {
      this.head = (this.head + 1) % this.dequeTimes.length;
      this.size -= 1;
    }
    const slot = (this.head + this.size) % this.dequeTimes.length;
    this.dequeTimes[slot] = timeMs;
    this.dequeValues[slot] = value;
    this.size += 1;
    const oldestMs = timeMs - this.settings.window_ms;
    while (this.dequeTimes[this.head]! < oldestMs) {
      this.head = (this.head + 1) % this.dequeTimes.length;
      this.size -= 1;
    }
  }

  /** Doubles the deque, oldest entry first. */
  private growDeque(): void {
    const capacity = this.dequeTimes.length;
    const times = new Float64Array(capacity * 2);
    const values = new Float64Array(capacity * 2);
    for (let index = 0; index < this.size; index += 1) {
      times[index] = this.dequeTimes[(this.head + index) % capacity]!;
      values[index] = this.dequeValues[(this.head + index) % capacity]!;
    }
    this.dequeTimes = times;
    this.dequeValues = values;
    this.head = 0;
  }

  private restart(): void {
    this.size = 0;
    this.meetingSamples = 0;
    this.previous = this.beforePrevious = Number.NaN;
  }

  private confidence(atMs: number): number {
    return confidenceOf((this.fromValue - this.lowest) / this.settings.min_drop_m - 1, atMs - this.fromMs, this.confidenceFullMs);
  }

  private detail(): string {
    return `pressure fell ${formatNumber(this.fromValue - this.lowest)} ${this.tag.unit} from ${formatNumber(this.fromValue)} ${this.tag.unit}`;
  }
}

function medianOfThree(a: number, b: number, c: number): number {
  return Math.max(Math.min(a, b), Math.min(Math.max(a, b), c));
}
