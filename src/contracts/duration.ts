// Durations as people write them in scenario files ("90s", "10m", "1h30m", or seconds), shared by
// a scenario's events and its expectations.
import { z } from 'zod';

const DURATION_UNIT_S: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400 };
const DURATION_TEXT = /^(?:\d+(?:\.\d+)?[smhd])+$/;

/** Seconds from "90s", "10m", "2h", "1d", "1h30m" (no spaces) or a bare number of seconds. */
export function parseDurationS(text: string): number | undefined {
  const compact = text.trim();
  if (/^\d+(?:\.\d+)?$/.test(compact)) return Number(compact);
  if (!DURATION_TEXT.test(compact)) return undefined;
  let totalS = 0;
  for (const [, amount, unit] of compact.matchAll(/(\d+(?:\.\d+)?)([smhd])/g)) totalS += Number(amount) * DURATION_UNIT_S[unit!]!;
  return totalS;
}

const durationMessage = 'must be a duration such as "90s", "10m", "2h", "1h30m" or a number of seconds';

/** A duration in a config file, parsed to seconds (0 or more). */
export const durationS = z.union([z.number(), z.string()]).transform((value, ctx) => {
  const seconds = typeof value === 'number' ? value : parseDurationS(value);
  if (seconds === undefined || !Number.isFinite(seconds) || seconds < 0) {
    ctx.addIssue({ code: 'custom', message: durationMessage });
    return z.NEVER;
  }
  return seconds;
});

/** "1h30m" from 5400 s (0 or more); whole seconds only where they are not zero. */
export function formatDurationS(seconds: number): string {
  let rest = Math.round(seconds);
  const hours = Math.floor(rest / 3600);
  rest -= hours * 3600;
  const minutes = Math.floor(rest / 60);
  const secs = rest - minutes * 60;
  return `${hours > 0 ? `${hours}h` : ''}${minutes > 0 ? `${minutes}m` : ''}${secs > 0 || (hours === 0 && minutes === 0) ? `${secs}s` : ''}`;
}
