// Crew and officer KPI of work orders, per period: orders completed, the on-time share, mean
// minutes to acknowledge and to complete, and the open backlog at the period's end. The core
// (`planPeriods`, `computeKpi`, the JSON and CSV writers) is pure and takes every time as a
// parameter; `readKpiInputs` is the one SQL read that feeds it. The definitions, with a worked
// example, are in docs/kpi.md.
//
// Definitions, for a crew and a period [start, end):
// - orders: the crew's orders completed in the period; on_time: those with completed_at <= due_at;
//   on_time_rate = on_time / orders, null when orders is 0.
// - mean_minutes_to_acknowledge: mean of acknowledged_at - assigned_at over the crew's orders
//   acknowledged in the period; null when there are none.
// - mean_minutes_to_complete: mean of completed_at - created_at over the orders counted in `orders`.
// - open_backlog: the crew's orders assigned before the period's end and neither completed nor
//   cancelled before it.
// For an officer: the same over the completed orders whose completed_by names the officer (to
// acknowledge: over those of them that were acknowledged); open_backlog is their crew's.
//
// The KPI reads each order's current row, not its history: an order counts for the crew that
// holds it now, from its latest assignment. So after a reassignment an acknowledgement earlier than
// the current assignment belongs to the previous crew and is left out, and a completion or
// cancellation counts only while the order is still completed or cancelled (a reopened order's
// old times do not).
import type pg from 'pg';
import type { WorkOrderStatus } from '../contracts/dispatch.js';

export const kpiBuckets = ['day', 'week', 'month'] as const;
export type KpiBucket = (typeof kpiBuckets)[number];

/** The fields of a work order the KPI reads; times in epoch milliseconds. */
export interface KpiOrder {
  id: string;
  status: WorkOrderStatus;
  crewId: string | null;
  createdAtMs: number;
  dueAtMs: number;
  assignedAtMs: number | null;
  acknowledgedAtMs: number | null;
  completedAtMs: number | null;
  cancelledAtMs: number | null;
  /** Officer ids credited with the completion. */
  completedBy: readonly string[];
}

export interface KpiCrew {
  id: string;
  name: string;
  officers: ReadonlyArray<{ id: string; name: string }>;
}

/** Half-open: [startMs, endMs). */
export interface KpiPeriod {
  startMs: number;
  endMs: number;
}

export interface KpiFigures {
  orders: number;
  onTime: number;
  /** on_time / orders, rounded to 4 decimals; null when there are no orders. */
  onTimeRate: number | null;
  /** Rounded to 2 decimals; null when nothing was acknowledged. */
  meanMinutesToAcknowledge: number | null;
  /** Rounded to 2 decimals; null when there are no orders. */
  meanMinutesToComplete: number | null;
  openBacklog: number;
}

export interface KpiRow extends KpiFigures {
  subjectType: 'crew' | 'officer';
  subjectId: string;
  name: string;
  /** The crew itself, or the officer's crew. */
  crewId: string;
  periodStartMs: number;
  periodEndMs: number;
}

export interface KpiReport {
  /** Period by period, crews in id order within each. */
  crews: KpiRow[];
  /** Period by period, officers in crew then officer id order within each. */
  officers: KpiRow[];
}

const MINUTE_MS = 60_000;

// ---------------------------------------------------------------------------------------------
// Periods

export type PeriodPlan = { ok: true; periods: KpiPeriod[] } | { ok: false; message: string };

/**
 * Splits [fromMs, toMs) at the starts of local days, weeks (Monday) or months in `timeZone`; the
 * first and last periods are cut to the window, so together they cover exactly [fromMs, toMs).
 * Without a bucket the window is one period. More than `maxPeriods` periods is refused.
 */
export function planPeriods(fromMs: number, toMs: number, bucket: KpiBucket | null, timeZone: string, maxPeriods: number): PeriodPlan {
  if (!(toMs > fromMs)) return { ok: false, message: 'to must be after from' };
  if (bucket === null) return { ok: true, periods: [{ startMs: fromMs, endMs: toMs }] };
  const periods: KpiPeriod[] = [];
  let date = bucketStartDate(localDate(fromMs, timeZone), bucket);
  let startMs = fromMs;
  while (startMs < toMs) {
    date = nextBucketDate(date, bucket);
    const boundaryMs = localMidnightMs(date, timeZone);
    // A boundary not after the start can only come from a time-zone rule change; skip it.
    if (boundaryMs <= startMs) continue;
    const endMs = Math.min(boundaryMs, toMs);
    periods.push({ startMs, endMs });
    if (periods.length > maxPeriods) {
      return { ok: false, message: `bucket=${bucket} splits the window into more than ${maxPeriods} periods; use a larger bucket or a shorter window` };
    }
    startMs = endMs;
  }
  return { ok: true, periods };
}

/** A calendar date; month 1-12. */
interface CalendarDate {
  year: number;
  month: number;
  day: number;
}

const dateFormatters = new Map<string, Intl.DateTimeFormat>();

function wallClockParts(atMs: number, timeZone: string): Record<string, number> {
  let formatter = dateFormatters.get(timeZone);
  if (formatter === undefined) {
    formatter = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    });
    dateFormatters.set(timeZone, formatter);
  }
  const parts: Record<string, number> = {};
  for (const part of formatter.formatToParts(new Date(atMs))) if (part.type !== 'literal') parts[part.type] = Number(part.value);
  return parts;
}

function localDate(atMs: number, timeZone: string): CalendarDate {
  const parts = wallClockParts(atMs, timeZone);
  return { year: parts.year!, month: parts.month!, day: parts.day! };
}

/** Local wall-clock time minus UTC at `atMs`, in milliseconds (+7 h in Asia/Jakarta). */
function utcOffsetMs(atMs: number, timeZone: string): number {
  const parts = wallClockParts(atMs, timeZone);
  const wallMs = Date.UTC(parts.year!, parts.month! - 1, parts.day!, parts.hour!, parts.minute!, parts.second!);
  return wallMs - (atMs - (((atMs % 1000) + 1000) % 1000));
}

/** The instant local midnight starts `date`; when a rule change skips midnight, the first instant after it. */
function localMidnightMs(date: CalendarDate, timeZone: string): number {
  const wallMs = Date.UTC(date.year, date.month - 1, date.day);
  const guessMs = wallMs - utcOffsetMs(wallMs, timeZone);
  // The offset at the guess may differ from the one at the wall time read as UTC; a second pass settles it.
  return wallMs - utcOffsetMs(guessMs, timeZone);
}

function addDays(date: CalendarDate, days: number): CalendarDate {
  const shifted = new Date(Date.UTC(date.year, date.month - 1, date.day + days));
  return { year: shifted.getUTCFullYear(), month: shifted.getUTCMonth() + 1, day: shifted.getUTCDate() };
}

function bucketStartDate(date: CalendarDate, bucket: KpiBucket): CalendarDate {
  if (bucket === 'day') return date;
  if (bucket === 'month') return { ...date, day: 1 };
  // getUTCDay: 0 is Sunday; weeks start on Monday.
  const weekday = new Date(Date.UTC(date.year, date.month - 1, date.day)).getUTCDay();
  return addDays(date, -((weekday + 6) % 7));
}

function nextBucketDate(date: CalendarDate, bucket: KpiBucket): CalendarDate {
  if (bucket === 'day') return addDays(date, 1);
  if (bucket === 'week') return addDays(date, 7);
  return date.month === 12 ? { year: date.year + 1, month: 1, day: 1 } : { year: date.year, month: date.month + 1, day: 1 };
}

// ---------------------------------------------------------------------------------------------
// Arithmetic

/** The completion time while the order stands completed; a reopened order's earlier completion does not count. */
const completionMs = (order: KpiOrder) => (order.status === 'completed' ? order.completedAtMs : null);
const cancellationMs = (order: KpiOrder) => (order.status === 'cancelled' ? order.cancelledAtMs : null);

/** Minutes from the current assignment to its acknowledgement; null for none, or one that predates the assignment. */
function minutesToAcknowledge(order: KpiOrder): number | null {
  if (order.assignedAtMs === null || order.acknowledgedAtMs === null || order.acknowledgedAtMs < order.assignedAtMs) return null;
  return (order.acknowledgedAtMs - order.assignedAtMs) / MINUTE_MS;
}

const within = (atMs: number | null, period: KpiPeriod): atMs is number => atMs !== null && atMs >= period.startMs && atMs < period.endMs;

function inBacklogAt(order: KpiOrder, endMs: number): boolean {
  if (order.assignedAtMs === null || order.assignedAtMs >= endMs) return false;
  const completedMs = completionMs(order);
  const cancelledMs = cancellationMs(order);
  return !(completedMs !== null && completedMs < endMs) && !(cancelledMs !== null && cancelledMs < endMs);
}

const round = (value: number, decimals: number) => {
  const scale = 10 ** decimals;
  return Math.round(value * scale) / scale;
};

function mean(values: readonly number[], decimals: number): number | null {
  if (values.length === 0) return null;
  return round(values.reduce((sum, value) => sum + value, 0) / values.length, decimals);
}

/** Figures over `completed` (orders completed in the period) and `acknowledgeMinutes`. */
function figures(completed: readonly KpiOrder[], acknowledgeMinutes: readonly number[], openBacklog: number): KpiFigures {
  const onTime = completed.filter((order) => completionMs(order)! <= order.dueAtMs).length;
  return {
    orders: completed.length,
    onTime,
    onTimeRate: completed.length === 0 ? null : round(onTime / completed.length, 4),
    meanMinutesToAcknowledge: mean(acknowledgeMinutes, 2),
    meanMinutesToComplete: mean(completed.map((order) => (completionMs(order)! - order.createdAtMs) / MINUTE_MS), 2),
    openBacklog,
  };
}

const notNull = <T,>(value: T | null): value is T => value !== null;

/** The KPI of every crew and officer in `crews` for every period, also those with no orders. */
export function computeKpi(orders: readonly KpiOrder[], crews: readonly KpiCrew[], periods: readonly KpiPeriod[]): KpiReport {
  const sortedCrews = [...crews].sort((left, right) => compareText(left.id, right.id));
  const report: KpiReport = { crews: [], officers: [] };
  for (const period of periods) {
    const completed = orders.filter((order) => within(completionMs(order), period));
    const backlogByCrew = new Map<string, number>();
    for (const order of orders) {
      if (order.crewId !== null && inBacklogAt(order, period.endMs)) backlogByCrew.set(order.crewId, (backlogByCrew.get(order.crewId) ?? 0) + 1);
    }
    const periodFields = { periodStartMs: period.startMs, periodEndMs: period.endMs };
    for (const crew of sortedCrews) {
      const openBacklog = backlogByCrew.get(crew.id) ?? 0;
      const crewCompleted = completed.filter((order) => order.crewId === crew.id);
      const acknowledged = orders.filter((order) => order.crewId === crew.id && within(order.acknowledgedAtMs, period));
      report.crews.push({
        subjectType: 'crew',
        subjectId: crew.id,
        name: crew.name,
        crewId: crew.id,
        ...periodFields,
        ...figures(crewCompleted, acknowledged.map(minutesToAcknowledge).filter(notNull), openBacklog),
      });
      const officers = [...crew.officers].sort((left, right) => compareText(left.id, right.id));
      for (const officer of officers) {
        const credited = completed.filter((order) => order.completedBy.includes(officer.id));
        report.officers.push({
          subjectType: 'officer',
          subjectId: officer.id,
          name: officer.name,
          crewId: crew.id,
          ...periodFields,
          ...figures(credited, credited.map(minutesToAcknowledge).filter(notNull), openBacklog),
        });
      }
    }
  }
  return report;
}

/** Code-point order, the same on every machine and locale. */
const compareText = (left: string, right: string) => (left < right ? -1 : left > right ? 1 : 0);

// ---------------------------------------------------------------------------------------------
// Writers

export interface KpiWindow {
  fromMs: number;
  toMs: number;
  bucket: KpiBucket | null;
}

function figuresToJson(row: KpiRow) {
  return {
    period_start: new Date(row.periodStartMs).toISOString(),
    period_end: new Date(row.periodEndMs).toISOString(),
    orders: row.orders,
    on_time: row.onTime,
    on_time_rate: row.onTimeRate,
    mean_minutes_to_acknowledge: row.meanMinutesToAcknowledge,
    mean_minutes_to_complete: row.meanMinutesToComplete,
    open_backlog: row.openBacklog,
  };
}

/** The API's JSON answer: one entry per crew and per officer per period. */
export function kpiToJson(window: KpiWindow, report: KpiReport) {
  return {
    from: new Date(window.fromMs).toISOString(),
    to: new Date(window.toMs).toISOString(),
    bucket: window.bucket,
    crews: report.crews.map((row) => ({ crew_id: row.subjectId, name: row.name, ...figuresToJson(row) })),
    officers: report.officers.map((row) => ({ officer_id: row.subjectId, name: row.name, crew_id: row.crewId, ...figuresToJson(row) })),
  };
}

export const kpiCsvColumns = [
  'subject_type',
  'subject_id',
  'name',
  'crew_id',
  'period_start',
  'period_end',
  'orders',
  'on_time',
  'on_time_rate',
  'mean_minutes_to_acknowledge',
  'mean_minutes_to_complete',
  'open_backlog',
] as const;

/** RFC 4180: a field with a comma, a double quote or a line break is quoted, its quotes doubled. */
function csvField(value: string | number | null): string {
  if (value === null) return '';
  const text = String(value);
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/** CSV of the report, crews then officers, one row per subject per period; CRLF line ends (RFC 4180); an empty field for null. */
export function kpiToCsv(report: KpiReport): string {
  const lines = [kpiCsvColumns.join(',')];
  for (const row of [...report.crews, ...report.officers]) {
    lines.push(
      [
        row.subjectType,
        row.subjectId,
        row.name,
        row.crewId,
        new Date(row.periodStartMs).toISOString(),
        new Date(row.periodEndMs).toISOString(),
        row.orders,
        row.onTime,
        row.onTimeRate,
        row.meanMinutesToAcknowledge,
        row.meanMinutesToComplete,
        row.openBacklog,
      ]
        .map(csvField)
        .join(','),
    );
  }
  return `${lines.join('\r\n')}\r\n`;
}

// ---------------------------------------------------------------------------------------------
// Reading

export interface KpiInputs {
  crews: KpiCrew[];
  orders: KpiOrder[];
}

/**
 * The site's crews with their officers, and every order that can count in [fromMs, toMs):
 * completed or acknowledged in it, or held by a crew before its end and not closed before its start.
 */
export async function readKpiInputs(pool: pg.Pool, siteId: string, fromMs: number, toMs: number): Promise<KpiInputs> {
  const from = new Date(fromMs);
  const to = new Date(toMs);
  const crewRows = await pool.query<{ crew_id: string; crew_name: string; officer_id: string | null; officer_name: string | null }>(
    `SELECT c.id AS crew_id, c.name AS crew_name, o.id AS officer_id, o.name AS officer_name
     FROM crew c LEFT JOIN crew_officer o ON o.crew_id = c.id
     WHERE c.site_id = $1
     ORDER BY c.id, o.id`,
    [siteId],
  );
  const crews = new Map<string, { id: string; name: string; officers: Array<{ id: string; name: string }> }>();
  for (const row of crewRows.rows) {
    let crew = crews.get(row.crew_id);
    if (crew === undefined) {
      crew = { id: row.crew_id, name: row.crew_name, officers: [] };
      crews.set(row.crew_id, crew);
    }
    if (row.officer_id !== null) crew.officers.push({ id: row.officer_id, name: row.officer_name! });
  }

  const orderRows = await pool.query<{
    id: string;
    status: WorkOrderStatus;
    crew_id: string | null;
    created_at: Date;
    due_at: Date;
    assigned_at: Date | null;
    acknowledged_at: Date | null;
    completed_at: Date | null;
    cancelled_at: Date | null;
    completed_by: string[] | null;
  }>(
    `SELECT id, status, crew_id, created_at, due_at, assigned_at, acknowledged_at, completed_at, cancelled_at, completed_by
     FROM work_order
     WHERE site_id = $1
       AND ((status = 'completed' AND completed_at >= $2 AND completed_at < $3)
         OR (crew_id IS NOT NULL AND acknowledged_at >= $2 AND acknowledged_at < $3)
         OR (crew_id IS NOT NULL AND assigned_at < $3
             AND NOT (status = 'completed' AND completed_at < $2)
             AND NOT (status = 'cancelled' AND cancelled_at < $2)))
     ORDER BY id`,
    [siteId, from, to],
  );
  const ms = (value: Date | null) => (value === null ? null : value.getTime());
  const orders = orderRows.rows.map(
    (row): KpiOrder => ({
      id: row.id,
      status: row.status,
      crewId: row.crew_id,
      createdAtMs: row.created_at.getTime(),
      dueAtMs: row.due_at.getTime(),
      assignedAtMs: ms(row.assigned_at),
      acknowledgedAtMs: ms(row.acknowledged_at),
      completedAtMs: ms(row.completed_at),
      cancelledAtMs: ms(row.cancelled_at),
      completedBy: row.completed_by ?? [],
    }),
  );
  return { crews: [...crews.values()], orders };
}
