// Both storage paths: plain PostgreSQL on a real server, TimescaleDB on the PGlite build.
import { cp, mkdtemp, rm, appendFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { migrate, MigrationError, MIGRATIONS_DIR, readMigrations } from '../../src/storage/migrate.js';
import { pgDatabase } from '../../src/storage/sql.js';
import { openPgliteTimescale, type PgliteTimescale } from '../support/pglite-database.js';
import { freshDatabase, type FreshDatabase } from '../support/services.js';

describe('migrations on PostgreSQL (plain path)', () => {
  let db: FreshDatabase;
  beforeEach(async () => {
    db = await freshDatabase();
  });
  afterEach(async () => db.drop());

  it('applies every migration once, in order, and records it', async () => {
    const files = await readMigrations();
    const first = await migrate(pgDatabase(db.pool), { flavour: 'postgres' });
    expect(first.flavour).to.equal('postgres');
    expect(first.applied).to.deep.equal(files.filter((file) => file.variant !== 'timescaledb').map((file) => file.file));
    const second = await migrate(pgDatabase(db.pool));
    expect(second.applied).to.deep.equal([]);
    expect(second.alreadyApplied).to.equal(first.applied.length);
    const { rows } = await db.pool.query('SELECT version, file FROM schema_migration ORDER BY version');
    expect(rows.map((row) => row.file)).to.deep.equal(first.applied);
  });

  it('creates a plain telemetry table with a BRIN index and a 1-minute rollup view', async () => {
    await migrate(pgDatabase(db.pool), { flavour: 'postgres' });
    const index = await db.pool.query("SELECT indexdef FROM pg_indexes WHERE tablename = 'telemetry' AND indexname = 'telemetry_time_brin'");
    expect(index.rows[0]?.indexdef).to.contain('USING brin');
    await db.pool.query(`INSERT INTO telemetry (tag_id, time, value, quality) VALUES
      (1, '2026-01-01T00:00:10Z', 1, 0), (1, '2026-01-01T00:00:50Z', 3, 0), (1, '2026-01-01T00:01:05Z', 10, 0)`);
    const { rows } = await db.pool.query('SELECT bucket, min, max, avg, last, count FROM telemetry_1m WHERE tag_id = 1 ORDER BY bucket');
    expect(rows.map((row) => [row.bucket.toISOString(), row.min, row.max, row.avg, row.last, Number(row.count)])).to.deep.equal([
      ['2026-01-01T00:00:00.000Z', 1, 3, 2, 3, 2],
      ['2026-01-01T00:01:00.000Z', 10, 10, 10, 10, 1],
    ]);
  });

  it('lets concurrent starts race safely under the advisory lock', async () => {
    const reports = await Promise.all([migrate(pgDatabase(db.pool)), migrate(pgDatabase(db.pool)), migrate(pgDatabase(db.pool))]);
    const appliedCounts = reports.map((report) => report.applied.length).sort();
    expect(appliedCounts[0]).to.equal(0);
    expect(appliedCounts[1]).to.equal(0);
    expect(appliedCounts[2]).to.be.greaterThan(0);
  });

  it('refuses an applied migration whose file changed', async () => {
    const directory = await mkdtemp(path.join(os.tmpdir(), 'tirta-migrations-'));
    try {
      await cp(MIGRATIONS_DIR, directory, { recursive: true });
      await migrate(pgDatabase(db.pool), { directory, flavour: 'postgres' });
      await appendFile(path.join(directory, '001_site_registry.sql'), '\n-- edited after release\n');
      const error = await migrate(pgDatabase(db.pool), { directory }).catch((caught: unknown) => caught);
      expect(error).to.be.instanceOf(MigrationError);
      expect((error as Error).message).to.contain('001_site_registry.sql').and.to.contain('changed after it was applied');
    } finally {
      await rm(directory, { recursive: true, force: true });
    }
  });

  it('rolls back a failing migration and names its file', async () => {
    const directory = await mkdtemp(path.join(os.tmpdir(), 'tirta-migrations-'));
    try {
      await cp(MIGRATIONS_DIR, directory, { recursive: true });
      await appendFile(path.join(directory, '999_broken.sql'), 'CREATE TABLE half_done (id int);\nSELECT no_such_function();\n');
      const error = await migrate(pgDatabase(db.pool), { directory, flavour: 'postgres' }).catch((caught: unknown) => caught);
      expect((error as Error).message).to.contain('999_broken.sql');
      const table = await db.pool.query("SELECT to_regclass('half_done') AS name");
      expect(table.rows[0].name).to.equal(null);
      const recorded = await db.pool.query('SELECT count(*)::int AS n FROM schema_migration WHERE version = 999');
      expect(recorded.rows[0].n).to.equal(0);
    } finally {
      await rm(directory, { recursive: true, force: true });
    }
  });
});

describe('migrations on TimescaleDB (PGlite build)', function () {
  this.timeout(60_000);
  let db: PgliteTimescale;
  let report: Awaited<ReturnType<typeof migrate>>;
  before(async () => {
    db = await openPgliteTimescale();
    report = await migrate(db.database);
  });
  after(async () => db.close());

  it('detects TimescaleDB and applies the Timescale variants', () => {
    expect(report.flavour).to.equal('timescaledb');
    expect(report.applied).to.include('002_telemetry.timescaledb.sql').and.not.include('002_telemetry.postgres.sql');
  });

  it('makes telemetry a hypertable with compression and retention policies and a real-time 1-minute aggregate', async () => {
    const hypertables = await db.pglite.query<{ hypertable_name: string; compression_enabled: boolean }>(
      'SELECT hypertable_name, compression_enabled FROM timescaledb_information.hypertables',
    );
    expect(hypertables.rows).to.deep.equal([{ hypertable_name: 'telemetry', compression_enabled: true }]);
    const jobs = await db.pglite.query<{ proc_name: string }>("SELECT proc_name FROM timescaledb_information.jobs WHERE hypertable_name IN ('telemetry', 'telemetry_1m') OR proc_name = 'policy_refresh_continuous_aggregate' ORDER BY proc_name");
    expect(jobs.rows.map((row) => row.proc_name)).to.include.members(['policy_compression', 'policy_retention', 'policy_refresh_continuous_aggregate']);
    await db.pglite.exec(`INSERT INTO telemetry (tag_id, time, value, quality) VALUES
      (1, now() - interval '30 seconds', 2, 0), (1, now() - interval '20 seconds', 4, 0)`);
    const rollup = await db.pglite.query<{ n: number }>('SELECT sum(count)::int AS n FROM telemetry_1m WHERE tag_id = 1');
    expect(rollup.rows[0]?.n).to.equal(2);
  });

  it('is idempotent', async () => {
    const again = await migrate(db.database);
    expect(again.applied).to.deep.equal([]);
  });
});
