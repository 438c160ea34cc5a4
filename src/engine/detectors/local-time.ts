// Local wall-clock time of the site for event times: the flow profile and the night window are
// defined in the site's time zone. The zone offset is looked up once per hour of event time.
const HOUR_MS = 3_600_000;
export const DAY_MS = 86_400_000;

export class LocalTime {
  private readonly format: Intl.DateTimeFormat | null;
  private cachedHour = Number.NaN;
  private cachedOffsetMs = 0;

  constructor(timeZone: string) {
    this.format = timeZone === 'UTC' || timeZone === 'Etc/UTC' ? null : new Intl.DateTimeFormat('en-US', { timeZone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric' });
  }

  /** Event time as milliseconds of local wall-clock time since 1970-01-01 00:00 local. */
  toLocalMs(timeMs: number): number {
    if (this.format === null) return timeMs;
    const hour = Math.floor(timeMs / HOUR_MS);
    if (hour !== this.cachedHour) {
      this.cachedHour = hour;
      this.cachedOffsetMs = this.offsetAt(hour * HOUR_MS);
    }
    return timeMs + this.cachedOffsetMs;
  }

  /** The event time of a local wall-clock time (the offset of the moment near it). */
  toEventMs(localMs: number): number {
    if (this.format === null) return localMs;
    const guess = localMs - this.offsetAt(localMs);
    return localMs - this.offsetAt(guess);
  }

  private offsetAt(timeMs: number): number {
    const parts: Record<string, number> = {};
    for (const part of this.format!.formatToParts(new Date(timeMs))) if (part.type !== 'literal') parts[part.type] = Number(part.value);
    const asUtc = Date.UTC(parts.year!, parts.month! - 1, parts.day!, parts.hour!, parts.minute!, parts.second!);
    return asUtc - Math.floor(timeMs / 1000) * 1000;
  }
}

/** Day of the week of a local time, Monday 0 to Sunday 6 (1970-01-01 was a Thursday). */
export function dayOfWeek(localMs: number): number {
  return (Math.floor(localMs / DAY_MS) + 3) % 7;
}

/** Minutes since local midnight. */
export function minuteOfDay(localMs: number): number {
  return Math.floor((((localMs % DAY_MS) + DAY_MS) % DAY_MS) / 60_000);
}
