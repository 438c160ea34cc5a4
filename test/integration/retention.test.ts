// Retention on both storage paths: batched deletes on plain PostgreSQL, policies on TimescaleDB.
import { expect } from 'chai';
import { migrate } from '../../src/storage/migrate.js';
import { applyTimescalePolicies, pruneTelemetry, storageFlavour } from '../../src/storage/retention.js';
import { pgDatabase } from '../../src/storage/sql.js';
import { openPgliteTimescale } from '../support/pglite-database.js';
import { freshDatabase } from '../support/services.js';

describe('telemetry retention', function () {
  this.timeout(60_000);

  it('deletes telemetry older than the retention period on plain PostgreSQL, in batches, and keeps the rest', async () => {
    const db = await freshDatabase();
    try {
      await migrate(pgDatabase(db.pool), { flavour: 'postgres' });
      expect(await storageFlavour(db.pool)).to.equal('postgres');
      const now = Date.UTC(2026, 10, 28);
      // 50 days of hourly samples for two tags: 2,400 rows.
      await db.pool.query(
        `INSERT INTO telemetry (tag_id, time, value, quality)
         SELECT tag, to_timestamp($1 / 1000.0) - make_interval(hours => h), h, 0 FROM generate_series(0, 1199) AS h, generate_series(1, 2) AS tag`,
        [now],
      );
      const deleted = await pruneTelemetry(db.pool, 30, now, 100);
      // Older than 30 days: hours 721 to 1199 of each tag.
      expect(deleted).to.equal(2 * 479);
      const { rows } = await db.pool.query('SELECT count(*)::int AS n, min(time) AS oldest FROM telemetry');
      expect(rows[0].n).to.equal(2 * 721);
      expect(rows[0].oldest.getTime()).to.equal(now - 720 * 3_600_000);
      expect(await pruneTelemetry(db.pool, 30, now)).to.equal(0);
    } finally {
      await db.drop();
    }
  });

  it('sets the retention and compression policies of the TimescaleDB hypertable from the configuration', async () => {
    const db = await openPgliteTimescale();
    try {
      await migrate(db.database);
      const pool = { query: (text: string, params?: unknown[]) => db.pglite.query(text, params) } as never;
      expect(await storageFlavour(pool)).to.equal('timescaledb');
      await applyTimescalePolicies(pool, { retentionDays: 30, compressAfterDays: 3 });
      const jobs = await db.pglite.query<{ proc_name: string; config: Record<string, string> }>(
        "SELECT proc_name, config FROM timescaledb_information.jobs WHERE hypertable_name = 'telemetry' ORDER BY proc_name",
      );
      const byName = Object.fromEntries(jobs.rows.map((job) => [job.proc_name, job.config]));
      expect(byName.policy_retention?.drop_after).to.equal('30 days');
      expect(byName.policy_compression?.compress_after).to.equal('3 days');
      expect(jobs.rows.filter((job) => job.proc_name === 'policy_retention')).to.have.length(1);
    } finally {
      await db.close();
    }
  });
});
