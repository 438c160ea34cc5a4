// Horizontal scale on one machine, with the roles of the `tirta` command as separate processes:
// two sites, each with its own simulated plant and connector, and each site's telemetry split
// between two ingest processes through the MQTT 5 shared subscription of its site
// (TIRTA_INGEST_SHARED=true). A persistent observer (the delivery ledger) records every batch
// the connectors publish; the database must hold exactly those samples, each once, with both
// ingest processes of a site taking a share; the same across a broker restart mid-stream, and
// across one while every ingest process is down. Mosquitto 2.0.11 forgets shared subscriptions
// when it restarts, so these cases hold only because the connectors wait for the group to
// subscribe again (connectors/publisher/ingest-gate.ts).
//
// The ingest role serves no metrics, so the test tells the processes' writes apart in the
// database itself: each ingest process connects with its own application_name (in its
// DATABASE_URL), and a trigger in the test's database records who inserted each row.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import type pg from 'pg';
import type { SiteConfig } from '../../src/contracts/site.js';
import { compareSamples, DeliveryLedger, storedSampleKeys } from '../support/delivery-ledger.js';
import { restartableBroker, type RestartableBroker } from '../support/restartable-broker.js';
import { RoleProcess } from '../support/role-process.js';
import { freshDatabase, uniqueId, waitFor, type FreshDatabase } from '../support/services.js';
import { demoSiteOnFreePorts } from '../support/site-fixture.js';

const SITES = 2;
const INGEST_PROCESSES_PER_SITE = 2;
const STEADY_FLOW_MS = 15_000;
/** Mosquitto stopped this long, mid-stream. */
const BROKER_DOWN_MS = 3000;
/** Flow before and after a restart, so that the phase has enough rows to split. */
const FLOW_AROUND_RESTART_MS = 6000;
/** The broker back with no ingest process running: what connectors publish now must wait for them. */
const INGEST_ABSENT_MS = 4000;
/** Each ingest process of a site must store at least this part of the site's new rows. */
const MIN_SHARE = 0.2;
/** After the ingest processes restart, the held backlog goes to whichever subscribes first: a smaller share still proves both take part. */
const MIN_SHARE_AFTER_INGEST_RESTART = 0.1;
/** Fewer new rows per site than this would prove nothing. */
const MIN_ROWS_PER_SITE = 100;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Records, per inserted telemetry row, the application_name of the connection that inserted it. */
const WRITER_TRIGGER = `
  CREATE TABLE telemetry_writer (writer text NOT NULL);
  CREATE FUNCTION record_telemetry_writer() RETURNS trigger LANGUAGE plpgsql AS $$
  BEGIN
    INSERT INTO telemetry_writer (writer) VALUES (current_setting('application_name'));
    RETURN NULL;
  END $$;
  CREATE TRIGGER telemetry_writer AFTER INSERT ON telemetry FOR EACH ROW EXECUTE FUNCTION record_telemetry_writer();`;

interface SiteProcesses {
  site: SiteConfig;
  sim: RoleProcess;
  connector: RoleProcess;
  /** By instance id, which is also the application_name of its database connections. */
  ingests: Map<string, RoleProcess>;
}

interface Snapshot {
  rowsByWriter: Map<string, number>;
  batches: number;
  samples: number;
  redeliveries: number;
}

describe('horizontal scale on one machine', function () {
  this.timeout(120_000);
  let broker: RestartableBroker;
  let db: FreshDatabase;
  let ledger: DeliveryLedger | undefined;
  let workDir: string;
  const sites: SiteProcesses[] = [];
  const roles: RoleProcess[] = [];

  const siteIds = () => sites.map(({ site }) => site.site.id);
  const connectors = () => sites.map(({ connector }) => connector);
  const ingests = () => sites.flatMap(({ ingests: byInstance }) => [...byInstance.values()]);
  const instanceIds = () => sites.flatMap(({ ingests: byInstance }) => [...byInstance.keys()]);

  /** A role of one site, with a data directory of its own. */
  const role = async (name: string, siteFile: string, env: Record<string, string> = {}) => {
    const dataDir = await mkdtemp(path.join(workDir, `${name}-`));
    const roleProcess = new RoleProcess(name, ['--site', siteFile], {
      DATABASE_URL: db.url,
      MQTT_URL: broker.url,
      TIRTA_DATA_DIR: dataDir,
      TIRTA_METRICS_PORT: '0',
      TIRTA_SIM_PORT: '0',
      ...env,
    });
    roles.push(roleProcess);
    return roleProcess;
  };

  before(async function () {
    this.timeout(180_000);
    workDir = await mkdtemp(path.join(os.tmpdir(), 'tirta-horizontal-'));
    broker = await restartableBroker();
    await broker.start();
    db = await freshDatabase();

    for (let index = 0; index < SITES; index += 1) {
      const demo = await demoSiteOnFreePorts();
      // Every sample published, not only changes: a denser stream to split and to account for.
      const site: SiteConfig = { ...demo, connector: { ...demo.connector, publish: { ...demo.connector.publish, max_interval_ms: 0 } } };
      const siteFile = path.join(workDir, `${site.site.id}.json`);
      await writeFile(siteFile, JSON.stringify(site));
      const byInstance = new Map<string, RoleProcess>();
      for (let worker = 1; worker <= INGEST_PROCESSES_PER_SITE; worker += 1) {
        const instanceId = `ingest-${site.site.id}-${worker}`;
        const databaseUrl = new URL(db.url);
        databaseUrl.searchParams.set('application_name', instanceId);
        byInstance.set(instanceId, await role('ingest', siteFile, { TIRTA_INGEST_SHARED: 'true', TIRTA_INSTANCE_ID: instanceId, DATABASE_URL: databaseUrl.toString() }));
      }
      sites.push({ site, sim: await role('sim', siteFile), connector: await role('connector', siteFile), ingests: byInstance });
    }

    // The ingest processes migrate the database as they start (under the migrations' advisory lock),
    // and write nothing before a connector publishes: the trigger goes in between.
    await Promise.all([...sites.map(({ sim }) => sim.start()), ...ingests().map((ingest) => ingest.start())]);
    await db.pool.query(WRITER_TRIGGER);
    ledger = await DeliveryLedger.open(broker.url, siteIds(), uniqueId('tirta-test-ledger'));
    // After the ingest processes: a shared subscription with no member yet would drop what the connectors publish.
    await Promise.all(connectors().map((connector) => connector.start()));
  });

  after(async function () {
    this.timeout(60_000);
    const stop = async (roleProcess: RoleProcess) => {
      const exited = roleProcess.kill('SIGTERM');
      const deadline = sleep(15_000).then(() => roleProcess.kill('SIGKILL'));
      await Promise.race([exited, deadline]);
    };
    await Promise.all(connectors().map(stop));
    await Promise.all(roles.map(stop));
    await ledger?.close();
    await broker?.remove();
    await db?.drop();
    if (workDir !== undefined) await rm(workDir, { recursive: true, force: true });
  });

  /** Rows inserted so far, per ingest process. */
  const rowsByWriter = async (queryable: pg.Pool | pg.PoolClient = db.pool): Promise<Map<string, number>> => {
    const { rows } = await queryable.query<{ writer: string; rows: string }>('SELECT writer, count(*) AS rows FROM telemetry_writer GROUP BY writer');
    return new Map(rows.map((row) => [row.writer, Number(row.rows)]));
  };

  /** Stored samples and rows per writer from one snapshot: while the stream flows, two reads would see different rows. */
  const storedAndWriters = async () => {
    const client = await db.pool.connect();
    try {
      await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      const stored = await storedSampleKeys(client, siteIds());
      const writers = await rowsByWriter(client);
      await client.query('COMMIT');
      return { stored, rowsAfter: writers };
    } finally {
      client.release();
    }
  };

  const snapshot = async (): Promise<Snapshot> => ({ rowsByWriter: await rowsByWriter(), batches: ledger!.batches, samples: ledger!.sampleKeys.size, redeliveries: ledger!.redeliveries });

  /** Stops the connectors, so the stream ends, and waits until the ledger has heard the last of it. */
  const endStream = async () => {
    const exitCodes = await Promise.all(connectors().map((connector) => connector.kill('SIGTERM')));
    expect(exitCodes, 'connector exit codes').to.deep.equal(connectors().map(() => 0));
    let lastDeliveries = -1;
    await waitFor('the ledger quiet', async () => {
      const quiet = ledger!.deliveries === lastDeliveries;
      lastDeliveries = ledger!.deliveries;
      return quiet ? true : undefined;
    }, 20_000, 1000);
  };

  /**
   * Every sample the ledger has seen so far must reach the database, and every stored row must be
   * one the ledger saw, once; no device may miss a seq; every ingest process must still run and
   * have stored a share of its site's rows since `start`. Also right while the stream flows: the
   * ledger hears a batch as the ingest processes do, and their rows commit after it.
   */
  const expectSplitWithoutLossOrDuplicates = async (phase: string, start: Snapshot, minShare = MIN_SHARE) => {
    const published = new Set(ledger!.sampleKeys);
    await waitFor('the database to hold every sample the ledger saw', async () => {
      const { keys } = await storedSampleKeys(db.pool, siteIds());
      return compareSamples(published, keys).missing.length === 0 ? true : undefined;
    }, 60_000, 500).catch(() => undefined); // the comparison below names what is missing
    const { stored, rowsAfter } = await storedAndWriters();
    await sleep(1000);
    const missing = compareSamples(published, stored.keys).missing;
    const unexpected = compareSamples(ledger!.sampleKeys, stored.keys).unexpected;

    const end = await snapshot();
    const newRows = (writer: string) => (rowsAfter.get(writer) ?? 0) - (start.rowsByWriter.get(writer) ?? 0);
    const perIngest = instanceIds().map((writer) => `${writer.replace(/^ingest-/, '')} ${newRows(writer)}`);
    console.log(`      ${phase}: ${end.batches - start.batches} batches, ${end.samples - start.samples} samples, ${end.redeliveries - start.redeliveries} redelivered; rows per ingest process: ${perIngest.join(', ')}`);

    expect({ missing: missing.length, unexpected: unexpected.length, someMissing: missing.slice(0, 5), someUnexpected: unexpected.slice(0, 5) }, 'samples published vs stored').to.deep.equal({
      missing: 0,
      unexpected: 0,
      someMissing: [],
      someUnexpected: [],
    });
    expect(stored.rows, 'rows stored vs distinct samples').to.equal(stored.keys.size);
    expect([...rowsAfter.keys()].filter((writer) => !instanceIds().includes(writer)), 'rows inserted by another connection').to.deep.equal([]);
    expect([...rowsAfter.values()].reduce((sum, rows) => sum + rows, 0), 'rows inserted by the ingest processes vs rows stored').to.equal(stored.rows);
    expect(ledger!.seqGaps(), 'seq missing per device').to.deep.equal({});
    for (const ingest of ingests()) expect(ingest.running, `an ingest process exited:\n${ingest.output().slice(-3000)}`).to.equal(true);
    for (const { site, ingests: byInstance } of sites) {
      const siteRows = [...byInstance.keys()].reduce((sum, writer) => sum + newRows(writer), 0);
      expect(siteRows, `${site.site.id} rows stored in ${phase}`).to.be.at.least(MIN_ROWS_PER_SITE);
      for (const writer of byInstance.keys()) expect(newRows(writer) / siteRows, `${writer}'s share of ${siteRows} rows`).to.be.at.least(minShare);
    }
  };

  const restartBroker = async () => {
    await broker.stop();
    await sleep(BROKER_DOWN_MS);
    await broker.start();
  };

  it('splits each site\'s stream between its two ingest processes, nothing lost or stored twice', async () => {
    const start = await snapshot();
    await sleep(STEADY_FLOW_MS);
    await expectSplitWithoutLossOrDuplicates('steady', start);
  });

  it('keeps every sample, once, when the broker restarts mid-stream', async () => {
    const start = await snapshot();
    await sleep(FLOW_AROUND_RESTART_MS);
    await restartBroker();
    await sleep(FLOW_AROUND_RESTART_MS);
    await expectSplitWithoutLossOrDuplicates('broker restart', start);
  });

  it('keeps every sample, once, when the broker restarts while every ingest process is down', async () => {
    const start = await snapshot();
    await sleep(FLOW_AROUND_RESTART_MS);
    await Promise.all(ingests().map((ingest) => ingest.kill('SIGKILL')));
    await restartBroker();
    // No member of any group is subscribed now: the connectors, connected again, must hold their telemetry.
    await sleep(INGEST_ABSENT_MS);
    await Promise.all(ingests().map((ingest) => ingest.start()));
    await sleep(FLOW_AROUND_RESTART_MS);
    await expectSplitWithoutLossOrDuplicates('broker restart, ingest down', start, MIN_SHARE_AFTER_INGEST_RESTART);
  });
});
