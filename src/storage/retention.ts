// How long telemetry is kept, and when it is compressed. On TimescaleDB these are the
// hypertable's own policies, set from the configuration at start-up; on plain PostgreSQL the
// retention job deletes old rows in small batches (the `tirta retention` command, and hourly in
// the ingest role), so that no single statement holds locks or bloats the table for long.
import type pg from 'pg';
import type { StorageFlavour } from './migrate.js';

export interface RetentionSettings {
  retentionDays: number;
  compressAfterDays: number;
}

/** TimescaleDB: replaces the compression and retention policies with the configured ones. */
export async function applyTimescalePolicies(pool: Pick<pg.Pool, 'query'>, settings: RetentionSettings): Promise<void> {
  await pool.query("SELECT remove_compression_policy('telemetry', if_exists => true)");
  await pool.query("SELECT add_compression_policy('telemetry', make_interval(days => $1::int))", [settings.compressAfterDays]);
  await pool.query("SELECT remove_retention_policy('telemetry', if_exists => true)");
  await pool.query("SELECT add_retention_policy('telemetry', make_interval(days => $1::int))", [settings.retentionDays]);
}

/** Plain PostgreSQL: deletes telemetry older than the retention period, a batch at a time; returns rows deleted. */
export async function pruneTelemetry(pool: Pick<pg.Pool, 'query'>, retentionDays: number, nowMs: number, batchRows = 50_000): Promise<number> {
  const cutoff = new Date(nowMs - retentionDays * 86_400_000);
  let deleted = 0;
  for (;;) {
    const result = await pool.query(
      `DELETE FROM telemetry WHERE ctid = ANY (ARRAY(SELECT ctid FROM telemetry WHERE time < $1 LIMIT $2))`,
      [cutoff, batchRows],
    );
    deleted += result.rowCount ?? 0;
    if ((result.rowCount ?? 0) < batchRows) return deleted;
  }
}

export async function storageFlavour(pool: Pick<pg.Pool, 'query'>): Promise<StorageFlavour> {
  const { rows } = await pool.query("SELECT file FROM schema_migration WHERE file LIKE '%.timescaledb.sql' LIMIT 1");
  return rows.length > 0 ? 'timescaledb' : 'postgres';
}
