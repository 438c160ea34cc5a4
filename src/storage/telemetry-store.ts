// The telemetry table's owner: writes de-duplicated sample batches and reads time ranges.
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { qualityFromCode, type Quality } from '../contracts/telemetry.js';

export interface TelemetryRow {
  tagId: number;
  timeMs: number;
  value: number | null;
  /** 0 good, 1 uncertain, 2 bad. */
  quality: number;
}

const UNIQUE_VIOLATION = '23505';
const COPY_CHUNK_ROWS = 4096;

/**
 * Writes a batch in one transaction with COPY, the fastest path into PostgreSQL. A sample
 * already stored for the same (tag, time) is skipped, so redelivered MQTT messages never
 * duplicate rows: the batch is copied straight into the table, and only when that meets a key
 * already stored or twice in the batch (a redelivery, which is rare) is it copied again into a
 * staging table and merged with ON CONFLICT DO NOTHING. Returns the number of new rows.
 */
export async function writeTelemetry(pool: pg.Pool, rows: readonly TelemetryRow[]): Promise<number> {
  if (rows.length === 0) return 0;
  const client = await pool.connect();
  let broken: Error | undefined;
  // A connection dropped mid-batch reports here as well as through the failing query.
  const onConnectionError = (error: Error) => {
    broken ??= error;
  };
  client.on('error', onConnectionError);
  try {
    await client.query('BEGIN');
    let inserted = rows.length;
    await client.query('SAVEPOINT direct_copy');
    try {
      await copyRows(client, 'telemetry', rows);
      await client.query('RELEASE SAVEPOINT direct_copy');
    } catch (error) {
      if ((error as { code?: string }).code !== UNIQUE_VIOLATION) throw error;
      await client.query('ROLLBACK TO SAVEPOINT direct_copy');
      await client.query('CREATE TEMP TABLE IF NOT EXISTS telemetry_incoming (LIKE telemetry) ON COMMIT DELETE ROWS');
      await copyRows(client, 'telemetry_incoming', rows);
      const merged = await client.query('INSERT INTO telemetry SELECT * FROM telemetry_incoming ON CONFLICT (tag_id, time) DO NOTHING');
      inserted = merged.rowCount ?? 0;
    }
    await client.query('COMMIT');
    return inserted;
  } catch (error) {
    broken ??= error as Error;
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.off('error', onConnectionError);
    // A connection that failed mid-COPY (or was terminated) is discarded, not reused.
    client.release(broken);
  }
}

async function copyRows(client: pg.PoolClient, table: 'telemetry' | 'telemetry_incoming', rows: readonly TelemetryRow[]): Promise<void> {
  const stream = client.query(copyFrom(`COPY ${table} (tag_id, time, value, quality) FROM STDIN`));
  await pipeline(Readable.from(copyText(rows)), stream);
}

/** COPY's text format in chunks: tab-separated, \N for null, ISO 8601 times in UTC. */
export function* copyText(rows: readonly TelemetryRow[]): Generator<string> {
  for (let start = 0; start < rows.length; start += COPY_CHUNK_ROWS) {
    let chunk = '';
    const end = Math.min(rows.length, start + COPY_CHUNK_ROWS);
    for (let index = start; index < end; index += 1) {
      const row = rows[index]!;
      chunk += `${row.tagId}\t${new Date(row.timeMs).toISOString()}\t${row.value === null ? '\\N' : row.value}\t${row.quality}\n`;
    }
    yield chunk;
  }
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
