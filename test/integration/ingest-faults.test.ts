// Ingest under faults, against a real broker and database: a worker killed before its batch
// commits loses nothing, a worker killed after commit but before its PUBACKs duplicates
// nothing, a stalled database holds intake back instead of growing memory, and database
// connections killed mid-stream are survived. The workers that crash run in their own process
// and die by SIGKILL.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { expect } from 'chai';
import mqtt from 'mqtt';
import pg from 'pg';
import { topics, type TelemetryBatch } from '../../src/contracts/telemetry.js';
import { TelemetryIngest, type IngestCounters } from '../../src/ingest/telemetry-ingest.js';
import { silentLogger } from '../../src/log.js';
import { migrate } from '../../src/storage/migrate.js';
import { registerSite, type TagIds } from '../../src/storage/site-registry.js';
import { pgDatabase } from '../../src/storage/sql.js';
import { freshDatabase, testServices, uniqueId, waitFor, type FreshDatabase } from '../support/services.js';
import { demoSiteOnFreePorts } from '../support/site-fixture.js';

type WorkerReport = IngestCounters & { unacknowledged: number };

/** An ingest worker in a child process; `latest` is its last printed counters. */
class IngestWorker {
  latest: WorkerReport | undefined;
  private constructor(private readonly child: ChildProcess) {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (line.startsWith('{')) this.latest = JSON.parse(line) as WorkerReport;
    });
  }

  static readonly running = new Set<IngestWorker>();

  static async start(args: string[]): Promise<IngestWorker> {
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/support/ingest-worker.ts', ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
    const worker = new IngestWorker(child);
    IngestWorker.running.add(worker);
    child.once('exit', () => IngestWorker.running.delete(worker));
    await waitFor('ingest worker connected', async () => worker.latest ?? (child.exitCode !== null ? Promise.reject(new Error(`worker exited ${child.exitCode}`)) : undefined), 20_000);
    return worker;
  }

  get exited(): Promise<void> {
    return this.child.exitCode !== null || this.child.signalCode !== null ? Promise.resolve() : new Promise((resolve) => this.child.once('exit', () => resolve()));
  }

  async kill(): Promise<void> {
    this.child.kill('SIGKILL');
    await this.exited;
  }
}

const SAMPLES_PER_MESSAGE = 20;
const T0 = Date.UTC(2026, 10, 28, 0, 0, 0);

describe('telemetry ingest under faults', function () {
  this.timeout(60_000);
  let db: FreshDatabase;
  let siteId: string;
  let tagIds: TagIds;
  let tagKeys: string[];
  let mqttUrl: string;
  let protocolVersion: 4 | 5;
  let publisher: mqtt.MqttClient;

  before(async () => {
    db = await freshDatabase();
    await migrate(pgDatabase(db.pool));
    const site = await demoSiteOnFreePorts();
    siteId = site.site.id;
    tagIds = await registerSite(db.pool, site);
    tagKeys = [...tagIds.keys()].slice(0, SAMPLES_PER_MESSAGE);
    const services = await testServices();
    mqttUrl = services.mqttUrl;
    // An external broker (Mosquitto) speaks MQTT 5 as the ingest role uses it; embedded aedes speaks 3.1.1.
    protocolVersion = services.externalBroker ? 5 : 4;
    publisher = await mqtt.connectAsync(mqttUrl, { clientId: uniqueId('publisher') });
  });

  after(async () => {
    await publisher?.endAsync();
    await db?.drop();
  });

  let releaseStall: (() => Promise<void>) | undefined;

  beforeEach(async () => {
    await db.pool.query('TRUNCATE telemetry');
  });

  afterEach(async () => {
    await releaseStall?.();
    for (const worker of IngestWorker.running) await worker.kill();
  });

  /** Message `seq` carries one sample per tag at T0 + seq seconds, with a value that encodes both. */
  const publishMessages = async (count: number, firstSeq = 0) => {
    for (let seq = firstSeq; seq < firstSeq + count; seq += 1) {
      const timeMs = T0 + seq * 1000;
      const batch: TelemetryBatch = {
        site: siteId,
        device: 'plc-dma',
        seq,
        poll_ts_ms: timeMs,
        historical: false,
        samples: tagKeys.map((tag, index) => ({ tag, value: seq * 100 + index, quality: 'good' as const, source_ts_ms: timeMs })),
      };
      await publisher.publishAsync(topics.telemetry(siteId, 'plc-dma'), JSON.stringify(batch), { qos: 1 });
    }
  };

  const storedCount = async () => Number((await db.pool.query('SELECT count(*) AS n FROM telemetry')).rows[0].n);

  /** Every expected (tag, time) once, with its value. */
  const expectExactlyStored = async (messages: number) => {
    const { rows } = await db.pool.query<{ n: string; distinct_keys: string; wrong: string }>(
      `SELECT count(*) AS n, count(DISTINCT (tag_id, time)) AS distinct_keys,
              count(*) FILTER (WHERE value <> (extract(epoch FROM time - $1::timestamptz) * 100 + array_position($2::integer[], tag_id) - 1)) AS wrong
       FROM telemetry`,
      [new Date(T0), tagKeys.map((key) => tagIds.get(key))],
    );
    expect({ rows: Number(rows[0]!.n), distinct: Number(rows[0]!.distinct_keys), wrongValues: Number(rows[0]!.wrong) }).to.deep.equal({
      rows: messages * SAMPLES_PER_MESSAGE,
      distinct: messages * SAMPLES_PER_MESSAGE,
      wrongValues: 0,
    });
  };

  /** Holds an exclusive lock on the telemetry table, so every ingest write waits. */
  const stallTelemetryWrites = async () => {
    const locker = await db.pool.connect();
    await locker.query('BEGIN');
    await locker.query('LOCK TABLE telemetry IN ACCESS EXCLUSIVE MODE');
    releaseStall = async () => {
      releaseStall = undefined;
      await locker.query('ROLLBACK');
      locker.release();
    };
    return releaseStall;
  };

  const workerArgs = (clientId: string, ...extra: string[]) => ['--db', db.url, '--mqtt', mqttUrl, '--site', siteId, '--client-id', clientId, '--protocol-version', String(protocolVersion), ...extra];

  it('loses nothing when a worker is killed before its batch commits', async () => {
    const clientId = uniqueId('tirta-ingest-crash');
    const resume = await stallTelemetryWrites();
    const first = await IngestWorker.start(workerArgs(clientId));
    await publishMessages(40);
    // The broker sends a worker only as many unacknowledged messages as its in-flight window allows;
    // the rest wait in the worker's session at the broker.
    await waitFor('the worker to hold messages it cannot commit', async () => ((first.latest?.unacknowledged ?? 0) > 0 ? true : undefined));
    await first.kill();
    await resume();
    // The killed worker's transaction never committed: its backend aborts once the lock is free.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await storedCount()).to.equal(0);

    const second = await IngestWorker.start(workerArgs(clientId));
    await waitFor('the redelivered messages stored', async () => ((await storedCount()) >= 40 * SAMPLES_PER_MESSAGE ? true : undefined), 30_000);
    await waitFor('the second worker idle', async () => (second.latest?.unacknowledged === 0 ? true : undefined));
    await expectExactlyStored(40);
    expect(second.latest!.rowsWritten).to.equal(40 * SAMPLES_PER_MESSAGE);
    await second.kill();
  });

  it('duplicates nothing when a worker is killed after commit but before its acknowledgements', async () => {
    const clientId = uniqueId('tirta-ingest-crash');
    // One-row batches start a write with every message: its PUBACK must still wait for the commit.
    const first = await IngestWorker.start(workerArgs(clientId, '--die-after-commit', '--max-batch-rows', '1'));
    await publishMessages(40);
    await first.exited;
    const committedByFirst = await storedCount();
    expect(committedByFirst).to.be.greaterThan(0);

    const second = await IngestWorker.start(workerArgs(clientId));
    await waitFor('every message stored', async () => ((await storedCount()) >= 40 * SAMPLES_PER_MESSAGE ? true : undefined), 30_000);
    await waitFor('the second worker idle', async () => (second.latest?.unacknowledged === 0 && second.latest.rowsWritten + committedByFirst >= 40 * SAMPLES_PER_MESSAGE ? true : undefined));
    await expectExactlyStored(40);
    // The first worker's committed batch came again, unacknowledged, and was recognised as stored.
    expect(second.latest!.duplicateRows).to.equal(committedByFirst);
    expect(second.latest!.rowsWritten).to.equal(40 * SAMPLES_PER_MESSAGE - committedByFirst);
    await second.kill();
  });

  it('holds intake back while the database stalls, then stores everything once', async () => {
    const maxPendingMessages = 10;
    const ingest = new TelemetryIngest({ mqttUrl, pool: db.pool, tagIds: new Map([[siteId, tagIds]]), log: silentLogger, clientId: uniqueId('tirta-ingest-slow'), protocolVersion, flushIntervalMs: 20, maxPendingMessages });
    await ingest.start();
    try {
      const resume = await stallTelemetryWrites();
      await publishMessages(100);
      await new Promise((resolve) => setTimeout(resolve, 1000));
      expect(ingest.unacknowledged).to.be.at.most(2 * maxPendingMessages);
      expect(ingest.counters.messages).to.be.at.most(2 * maxPendingMessages + 1);
      await resume();
      await waitFor('the backlog stored', async () => ((await storedCount()) >= 100 * SAMPLES_PER_MESSAGE ? true : undefined), 30_000);
      await expectExactlyStored(100);
    } finally {
      await ingest.stop();
    }
  });

  it('survives its database connections being killed mid-stream', async () => {
    const applicationName = uniqueId('tirta-ingest-killed');
    const pool = new pg.Pool({ connectionString: db.url, max: 2, application_name: applicationName });
    pool.on('error', () => undefined);
    const ingest = new TelemetryIngest({ mqttUrl, pool, tagIds: new Map([[siteId, tagIds]]), log: silentLogger, clientId: uniqueId('tirta-ingest-killed'), protocolVersion, flushIntervalMs: 20 });
    await ingest.start();
    try {
      for (let round = 0; round < 5; round += 1) {
        // Each round kills the connection while a batch is in the middle of its transaction.
        const resume = await stallTelemetryWrites();
        await publishMessages(20, round * 20);
        await waitFor('a batch waiting in the database', async () => {
          const { rows } = await db.pool.query(`SELECT 1 FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock'`, [applicationName]);
          return rows.length > 0 ? true : undefined;
        });
        await db.pool.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1', [applicationName]);
        await resume();
      }
      await waitFor('every message stored', async () => ((await storedCount()) >= 100 * SAMPLES_PER_MESSAGE ? true : undefined), 30_000);
      await expectExactlyStored(100);
      expect(ingest.counters.failedBatches).to.be.at.least(5);
    } finally {
      await ingest.stop();
      await pool.end();
    }
  });
});
