// Report by exception: decides, per tag, which polled samples are worth publishing. A sample
// goes out when it is the tag's first, when its quality changes, when its value moved beyond the
// tag's deadband since the last *published* value (so slow drift still shows), or when the tag
// has not been published for max_interval_ms (a heartbeat, so a quiet tag is told from a dead one).
// Pure: time is the poll's event time, passed in, so a replay filters exactly as live did.
import type { Deadband, Tag } from '../../src/contracts/site.js';
import type { Quality, Sample } from '../../src/contracts/telemetry.js';

/** What the decision needs to know of a tag: its deadband and engineering range, when set. */
export type ExceptionPolicy = Pick<Tag, 'deadband' | 'range'>;

/** The last sample of a tag that was published, and when. */
export interface LastPublished {
  value: number | null;
  quality: Quality;
  publishedAtMs: number;
}

/** The change a value must exceed to be published; 0 (no deadband) publishes any change. */
export function deadbandWidth(policy: ExceptionPolicy, lastValue: number): number {
  const deadband: Deadband | undefined = policy.deadband;
  if (deadband === undefined) return 0;
  if ('absolute' in deadband) return deadband.absolute;
  // Percent of the instrument's span when known; else of the last published value's magnitude.
  const reference = policy.range === undefined ? Math.abs(lastValue) : policy.range.max - policy.range.min;
  return (reference * deadband.percent) / 100;
}

export function shouldPublish(sample: Pick<Sample, 'value' | 'quality'>, last: LastPublished | undefined, policy: ExceptionPolicy, nowMs: number, maxIntervalMs: number): boolean {
  if (last === undefined) return true;
  if (sample.quality !== last.quality) return true;
  if (nowMs - last.publishedAtMs >= maxIntervalMs) return true;
  if (sample.value === null || last.value === null) return sample.value !== last.value;
  return Math.abs(sample.value - last.value) > deadbandWidth(policy, last.value);
}

/** Report by exception over a site's tags; holds only the last published sample of each tag. */
export class ReportByException {
  private readonly last = new Map<string, LastPublished>();

  /**
   * @param policies deadband and range by tag id; a tag without an entry publishes on any change.
   * @param maxIntervalMs republish period of an unchanged tag.
   */
  constructor(
    private readonly policies: ReadonlyMap<string, ExceptionPolicy>,
    private readonly maxIntervalMs: number,
  ) {}

  static forTags(tags: readonly Tag[], maxIntervalMs: number): ReportByException {
    return new ReportByException(new Map(tags.map((tag) => [tag.id, { deadband: tag.deadband, range: tag.range }])), maxIntervalMs);
  }

  /** The samples to publish out of one reading taken at nowMs; records them as published. */
  filter(samples: readonly Sample[], nowMs: number): Sample[] {
    return samples.filter((sample) => {
      const policy = this.policies.get(sample.tag) ?? {};
      if (!shouldPublish(sample, this.last.get(sample.tag), policy, nowMs, this.maxIntervalMs)) return false;
      this.last.set(sample.tag, { value: sample.value, quality: sample.quality, publishedAtMs: nowMs });
      return true;
    });
  }
}
