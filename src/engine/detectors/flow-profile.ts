// A flow tag's learned profile: for each time-of-day bucket and day type, the most recent step
// means in a ring, from which the median and MAD are taken when the tag enters the bucket. It
// outlives the detectors' other state: what `learn` built from history is kept for live data.
import type { DetectionSettings } from '../../contracts/detection-settings.js';
import { dayOfWeek, minuteOfDay } from './local-time.js';
import { MAD_TO_SIGMA, madInPlace, medianInPlace } from './robust-stats.js';

const DAY_TYPE_COUNT = { each_day: 7, weekday_weekend: 2, all_days: 1 } as const;

export interface BucketStats {
  /** False while the bucket holds too little history to judge. */
  judged: boolean;
  median: number;
  sigma: number;
}

export class FlowProfile {
  private readonly bucketsPerDay: number;
  private readonly capacity: number;
  private readonly values: Float64Array;
  private readonly counts: Int32Array;
  private readonly next: Int32Array;
  private readonly scratch: Float64Array;

  constructor(private readonly settings: DetectionSettings['flow_profile']) {
    this.bucketsPerDay = 1440 / settings.bucket_minutes;
    const stepsPerBucketWeek = Math.max(1, Math.round((settings.bucket_minutes * 60_000) / settings.step_ms));
    // each_day buckets see one day a week, weekday buckets five, all_days buckets seven.
    const daysPerWeek = settings.day_types === 'each_day' ? 1 : settings.day_types === 'weekday_weekend' ? 5 : 7;
    this.capacity = Math.max(settings.min_history_values, stepsPerBucketWeek * daysPerWeek * settings.history_weeks);
    const bucketCount = this.bucketsPerDay * DAY_TYPE_COUNT[settings.day_types];
    this.values = new Float64Array(bucketCount * this.capacity);
    this.counts = new Int32Array(bucketCount);
    this.next = new Int32Array(bucketCount);
    this.scratch = new Float64Array(this.capacity);
  }

  bucketOf(localMs: number): number {
    const day = dayOfWeek(localMs);
    const dayType = this.settings.day_types === 'each_day' ? day : this.settings.day_types === 'weekday_weekend' ? (day < 5 ? 0 : 1) : 0;
    return dayType * this.bucketsPerDay + Math.floor(minuteOfDay(localMs) / this.settings.bucket_minutes);
  }

  add(bucket: number, value: number): void {
    const slot = this.next[bucket]!;
    this.values[bucket * this.capacity + slot] = value;
    this.next[bucket] = (slot + 1) % this.capacity;
    if (this.counts[bucket]! < this.capacity) this.counts[bucket] = this.counts[bucket]! + 1;
  }

  statsOf(bucket: number, into: BucketStats): void {
    const count = this.counts[bucket]!;
    into.judged = count >= this.settings.min_history_values;
    if (!into.judged) return;
    this.scratch.set(this.values.subarray(bucket * this.capacity, bucket * this.capacity + count));
    const median = medianInPlace(this.scratch, count);
    const mad = madInPlace(this.scratch, count, median);
    into.median = median;
    into.sigma = Math.max(MAD_TO_SIGMA * mad, this.settings.sigma_floor_fraction * Math.abs(median), 1e-9);
  }
}
