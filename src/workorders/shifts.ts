// Whether a crew is on shift at an instant, in the site's time zone. A shift whose end is before
// its start runs past midnight and belongs to the day it starts on.
import type { Shift, Weekday } from '../contracts/dispatch.js';

const weekdayByShortName: Record<string, Weekday> = { Mon: 'mon', Tue: 'tue', Wed: 'wed', Thu: 'thu', Fri: 'fri', Sat: 'sat', Sun: 'sun' };
const previousDay: Record<Weekday, Weekday> = { mon: 'sun', tue: 'mon', wed: 'tue', thu: 'wed', fri: 'thu', sat: 'fri', sun: 'sat' };

const formatters = new Map<string, Intl.DateTimeFormat>();

function localTime(atMs: number, timeZone: string): { day: Weekday; minuteOfDay: number } {
  let formatter = formatters.get(timeZone);
  if (formatter === undefined) {
    formatter = new Intl.DateTimeFormat('en-GB', { timeZone, weekday: 'short', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
    formatters.set(timeZone, formatter);
  }
  const parts = Object.fromEntries(formatter.formatToParts(new Date(atMs)).map((part) => [part.type, part.value]));
  return { day: weekdayByShortName[parts.weekday!]!, minuteOfDay: Number(parts.hour) * 60 + Number(parts.minute) };
}

const minutesOf = (clock: string) => Number(clock.slice(0, 2)) * 60 + Number(clock.slice(3, 5));

/** True when no shifts are given (always on call) or `atMs` falls in one of them. */
export function onShift(shifts: readonly Shift[], atMs: number, timeZone: string): boolean {
  if (shifts.length === 0) return true;
  const { day, minuteOfDay } = localTime(atMs, timeZone);
  return shifts.some((shift) => {
    const start = minutesOf(shift.start);
    const end = minutesOf(shift.end);
    if (start < end) return shift.days.includes(day) && minuteOfDay >= start && minuteOfDay < end;
    // Past midnight: the evening part on a listed day, or the morning part after one.
    return (shift.days.includes(day) && minuteOfDay >= start) || (shift.days.includes(previousDay[day]) && minuteOfDay < end);
  });
}
