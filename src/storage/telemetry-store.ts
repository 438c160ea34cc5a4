// The telemetry table's owner: writes de-duplicated sample batches and reads time ranges.
import type pg from 'pg';
import { qualityFromCode, type Quality } from '../contracts/telemetry.js';

export interface TelemetryRow {
  tagId: number;
  timeMs: number;
  value: number | null;
  /** 0 good, 1 uncertain, 2 bad. */
  quality: number;
}

/**
 * Inserts a batch in one statement; a sample already stored for the same (tag, time) is skipped,
 * so redelivered MQTT messages never duplicate rows. Returns the number of new rows.
 */
export async function insertTelemetry(client: pg.Pool | pg.PoolClient, rows: readonly TelemetryRow[]): Promise<number> {
  if (rows.length === 0) return 0;
  const tagIds = new Array<number>(rows.length);
  const times = new Array<string>(rows.length);
  const values = new Array<number | null>(rows.length);
  const qualities = new Array<number>(rows.length);
  rows.forEach((row, index) => {
    tagIds[index] = row.tagId;
    times[index] = new Date(row.timeMs).toISOString();
    values[index] = row.value;
    qualities[index] = row.quality;
  });
  const result = await client.query(
    `INSERT INTO telemetry (tag_id, time, value, quality)
     SELECT * FROM unnest($1::integer[], $2::timestamptz[], $3::double precision[], $4::smallint[])
     ON CONFLICT (tag_id, time) DO NOTHING`,
    [tagIds, times, values, qualities],
  );
  return result.rowCount ?? 0;
}

export interface TelemetryPoint {
  time: string;
  value: number | null;
  quality: Quality;
}

export async function readTelemetry(pool: pg.Pool, tagId: number, from: Date, to: Date, limit: number): Promise<TelemetryPoint[]> {
  const { rows } = await pool.query<{ time: Date; value: number | null; quality: number }>(
    `SELECT time, value, quality FROM telemetry
     WHERE tag_id = $1 AND time >= $2 AND time < $3
     ORDER BY time LIMIT $4`,
    [tagId, from, to, limit],
  );
  return rows.map((row) => ({ time: row.time.toISOString(), value: row.value, quality: qualityFromCode[row.quality] ?? 'bad' }));
}
