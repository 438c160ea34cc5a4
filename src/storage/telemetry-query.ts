// The telemetry read side for the query API: plans a bucketed read (step, aligned range, which
// table answers) as pure functions, then runs it against the raw `telemetry` table or the
// `telemetry_1m` rollup. Every bucket of the range is returned; a bucket without good samples
// has nulls and count 0, never an interpolated value.
import { qualityFromCode, type Quality } from '../contracts/telemetry.js';
import type { StorageFlavour } from './migrate.js';

/** Buckets are aligned to this instant, the same origin the plain-PostgreSQL rollup view bins from. */
export const BUCKET_ORIGIN_MS = Date.UTC(2000, 0, 1);
const MINUTE_MS = 60_000;
const DAY_MS = 86_400_000;

export const stepUnitsMs = { s: 1_000, m: MINUTE_MS, h: 3_600_000, d: DAY_MS } as const;
export type StepUnit = keyof typeof stepUnitsMs;
export const MAX_STEP_MS = 400 * DAY_MS;

/** Steps offered when the caller gives none, smallest first; the first that fits the bucket target wins. */
export const DEFAULT_STEP_LADDER_MS: readonly number[] = [
  1_000, 5_000, 10_000, 30_000,
  MINUTE_MS, 5 * MINUTE_MS, 10 * MINUTE_MS, 15 * MINUTE_MS, 30 * MINUTE_MS,
  3_600_000, 2 * 3_600_000, 6 * 3_600_000, 12 * 3_600_000,
  DAY_MS, 7 * DAY_MS,
];
export const DEFAULT_TARGET_BUCKETS = 1_000;

/** Ranges shorter than this are read from the raw table even for minute-multiple steps. */
export const ROLLUP_MIN_RANGE_MS = 6 * 3_600_000;

export type TelemetrySource = 'telemetry' | 'telemetry_1m';

export type StepParse = { ok: true; stepMs: number } | { ok: false; message: string };

/** Parses `10s`, `1m`, `15m`, `1h`, `1d`: a positive whole number and one unit. */
export function parseStep(text: string): StepParse {
  const match = /^(\d+)([a-zA-Z]+)$/.exec(text.trim());
  if (match === null) return { ok: false, message: 'must be a whole number and a unit (s, m, h, d), such as 10s, 15m, 1h; or raw' };
  const unit = match[2]!;
  if (!(unit in stepUnitsMs)) return { ok: false, message: `unknown step unit "${unit}"; use s, m, h or d` };
  const count = Number(match[1]);
  if (count < 1) return { ok: false, message: 'must be at least 1' };
  const stepMs = count * stepUnitsMs[unit as StepUnit];
  if (stepMs > MAX_STEP_MS) return { ok: false, message: `must not exceed ${MAX_STEP_MS / DAY_MS}d` };
  return { ok: true, stepMs };
}

/** The shortest spelling of a step: 60000 ms is `1m`, 90000 ms is `90s`. */
export function formatStep(stepMs: number): string {
  for (const unit of ['d', 'h', 'm', 's'] as const) {
    if (stepMs % stepUnitsMs[unit] === 0) return `${stepMs / stepUnitsMs[unit]}${unit}`;
  }
  return `${stepMs}ms`;
}

/** The smallest ladder step giving at most `targetBuckets` buckets over the range (the largest if none does). */
export function defaultStepMs(rangeMs: number, targetBuckets: number = DEFAULT_TARGET_BUCKETS): number {
  return DEFAULT_STEP_LADDER_MS.find((stepMs) => Math.ceil(rangeMs / stepMs) <= targetBuckets) ?? DEFAULT_STEP_LADDER_MS.at(-1)!;
}

/**
 * Raw table for sub-minute steps, steps that are not whole minutes, and short ranges (where the raw
 * scan is cheap and the newest minutes are exact); the 1-minute rollup otherwise. On plain
 * PostgreSQL the rollup is a view over the raw table that cannot use the time index, so the raw
 * table answers every query there.
 */
export function chooseSource(stepMs: number, rangeMs: number, flavour: StorageFlavour): TelemetrySource {
  if (flavour === 'postgres') return 'telemetry';
  if (stepMs < MINUTE_MS || stepMs % MINUTE_MS !== 0) return 'telemetry';
  if (rangeMs < ROLLUP_MIN_RANGE_MS) return 'telemetry';
  return 'telemetry_1m';
}

export interface BucketPlan {
  stepMs: number;
  /** Start of the first bucket: `from` rounded down to the step grid. */
  fromMs: number;
  /** End of the last bucket: `to` rounded up to the step grid. */
  toMs: number;
  bucketCount: number;
  source: TelemetrySource;
}

/** Widens [from, to) to whole buckets on the step grid, so both sources aggregate the same intervals. */
export function planBuckets(fromMs: number, toMs: number, stepMs: number, flavour: StorageFlavour): BucketPlan {
  const alignedFrom = BUCKET_ORIGIN_MS + Math.floor((fromMs - BUCKET_ORIGIN_MS) / stepMs) * stepMs;
  const alignedTo = BUCKET_ORIGIN_MS + Math.ceil((toMs - BUCKET_ORIGIN_MS) / stepMs) * stepMs;
  const bucketCount = (alignedTo - alignedFrom) / stepMs;
  return { stepMs, fromMs: alignedFrom, toMs: alignedTo, bucketCount, source: chooseSource(stepMs, alignedTo - alignedFrom, flavour) };
}

export interface TelemetryBucket {
  time: string;
  min: number | null;
  max: number | null;
  avg: number | null;
  last: number | null;
  count: number;
}

export interface BucketRow {
  /** Start of the bucket, epoch ms: read as a number because parsing 10,000 timestamps costs more than the query. */
  bucket_ms: number;
  min: number | null;
  max: number | null;
  avg: number | null;
  last: number | null;
  count: number;
}

/** Every bucket of the plan in order, taking the statistics found and nulls with count 0 elsewhere. */
export function fillBuckets(plan: BucketPlan, rows: readonly BucketRow[]): TelemetryBucket[] {
  const found = new Map(rows.map((row) => [Number(row.bucket_ms), row]));
  const buckets: TelemetryBucket[] = [];
  for (let index = 0; index < plan.bucketCount; index += 1) {
    const startMs = plan.fromMs + index * plan.stepMs;
    const row = found.get(startMs);
    buckets.push(
      row === undefined || row.count === 0
        ? { time: new Date(startMs).toISOString(), min: null, max: null, avg: null, last: null, count: 0 }
        : { time: new Date(startMs).toISOString(), min: row.min, max: row.max, avg: row.avg, last: row.last, count: row.count },
    );
  }
  return buckets;
}

/** What the queries need from a connection: a pg Pool and the PGlite session both fit. */
export interface SqlQuery {
  query<Row>(text: string, params?: readonly unknown[]): Promise<{ rows: Row[] }>;
}

// $1 tag id, $2 first bucket start, $3 last bucket end, $4 step as an interval.
// Bad samples (quality 2) and samples without a value are left out of every statistic.
export const RAW_BUCKETS_SQL = `
SELECT (extract(epoch FROM bucket) * 1000)::float8 AS bucket_ms, min, max, avg, last, count
FROM (
  SELECT date_bin($4::interval, time, TIMESTAMPTZ '2000-01-01 00:00:00+00') AS bucket,
         min(value)::float8 AS min,
         max(value)::float8 AS max,
         avg(value)::float8 AS avg,
         (array_agg(value ORDER BY time DESC))[1]::float8 AS last,
         count(*)::int AS count
  FROM telemetry
  WHERE tag_id = $1 AND time >= $2::timestamptz AND time < $3::timestamptz
    AND quality < 2 AND value IS NOT NULL
  GROUP BY 1
) buckets
ORDER BY bucket`;

// The rollup's minutes re-aggregated: min of mins, max of maxes, count-weighted mean, sum of counts,
// and the last of the latest minute holding good samples (a minute of only bad samples has count 0).
// When that minute ended on a bad sample the rollup's `last` is null, so that one minute is read
// from the raw table: one primary-key range probe, only for such buckets.
export const ROLLUP_BUCKETS_SQL = `
WITH bucketed AS (
  SELECT date_bin($4::interval, bucket, TIMESTAMPTZ '2000-01-01 00:00:00+00') AS bucket,
         min(min) AS min,
         max(max) AS max,
         sum(avg * count) / nullif(sum(count), 0) AS avg,
         (array_agg(last ORDER BY bucket DESC) FILTER (WHERE count > 0))[1] AS last,
         max(bucket) FILTER (WHERE count > 0) AS latest_minute,
         sum(count) AS count
  FROM telemetry_1m
  WHERE tag_id = $1 AND bucket >= $2::timestamptz AND bucket < $3::timestamptz
  GROUP BY 1
)
SELECT (extract(epoch FROM bucket) * 1000)::float8 AS bucket_ms,
       min::float8 AS min,
       max::float8 AS max,
       avg::float8 AS avg,
       coalesce(last, (
         SELECT value FROM telemetry
         WHERE tag_id = $1 AND time >= latest_minute AND time < latest_minute + INTERVAL '1 minute'
           AND quality < 2 AND value IS NOT NULL
         ORDER BY time DESC
         LIMIT 1
       ))::float8 AS last,
       count::int AS count
FROM bucketed
ORDER BY bucket`;

export async function readBuckets(sql: SqlQuery, tagId: number, plan: BucketPlan): Promise<TelemetryBucket[]> {
  const text = plan.source === 'telemetry' ? RAW_BUCKETS_SQL : ROLLUP_BUCKETS_SQL;
  const { rows } = await sql.query<BucketRow>(text, [tagId, new Date(plan.fromMs).toISOString(), new Date(plan.toMs).toISOString(), `${plan.stepMs / 1000} seconds`]);
  return fillBuckets(plan, rows);
}

export interface LatestSample {
  tag: string;
  time: string;
  value: number | null;
  quality: Quality;
}

// One index probe per tag on the (tag_id, time) primary key, newest first; tags never heard from are left out.
export const LATEST_SQL = `
SELECT tag.key AS tag, latest.time, latest.value, latest.quality
FROM tag
CROSS JOIN LATERAL (
  SELECT time, value, quality FROM telemetry
  WHERE telemetry.tag_id = tag.id
  ORDER BY time DESC
  LIMIT 1
) AS latest
WHERE tag.site_id = $1 AND ($2::text IS NULL OR tag.key = $2::text)
ORDER BY tag.key`;

export async function readLatest(sql: SqlQuery, siteId: string, tagKey: string | null): Promise<LatestSample[]> {
  const { rows } = await sql.query<{ tag: string; time: Date | string; value: number | null; quality: number }>(LATEST_SQL, [siteId, tagKey]);
  return rows.map((row) => ({ tag: row.tag, time: new Date(row.time).toISOString(), value: row.value, quality: qualityFromCode[row.quality] ?? 'bad' }));
}

/** CSV of buckets: `time,min,max,avg,last,count`, an empty field for each null. */
export function bucketsToCsv(buckets: readonly TelemetryBucket[]): string {
  const field = (value: number | null) => (value === null ? '' : String(value));
  const lines = ['time,min,max,avg,last,count'];
  for (const bucket of buckets) lines.push([bucket.time, field(bucket.min), field(bucket.max), field(bucket.avg), field(bucket.last), String(bucket.count)].join(','));
  return `${lines.join('\n')}\n`;
}

/** CSV of raw points: `time,value,quality`. */
export function pointsToCsv(points: ReadonlyArray<{ time: string; value: number | null; quality: Quality }>): string {
  const lines = ['time,value,quality'];
  for (const point of points) lines.push(`${point.time},${point.value === null ? '' : String(point.value)},${point.quality}`);
  return `${lines.join('\n')}\n`;
}
