// The whole system under faults, each role in its own process as a site runs it: simulated PLCs
// (Modbus and OPC UA) -> connector -> Mosquitto -> ingest -> PostgreSQL, the engine and the API,
// with complaints arriving through the API all the while. One fault at a time: broker restart,
// PostgreSQL restart, PLC disconnect, OPC UA server restart, connector SIGKILLed mid-outage,
// ingest SIGKILLed mid-batch, engine SIGKILLed mid-incident. After each the end state is checked
// against what was handed in: every sample the connector published is stored once and no batch is
// missing, every accepted complaint exists once, incidents and work orders agree with themselves,
// and every message a crew's phone received is of a committed change. The counts are printed.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { expect } from 'chai';
import pg from 'pg';
import { createApiKey } from '../../src/access/accounts.js';
import type { SiteConfig } from '../../src/contracts/site.js';
import { freePort } from '../../src/runtime/embedded-services.js';
import { compareSamples, DeliveryLedger, storedSampleKeys } from '../support/delivery-ledger.js';
import { restartableBroker, type RestartableBroker } from '../support/restartable-broker.js';
import { restartablePostgres, type RestartablePostgres } from '../support/restartable-postgres.js';
import { RoleProcess } from '../support/role-process.js';
import { uniqueId, waitFor } from '../support/services.js';
import { quickDemoSite } from '../support/site-fixture.js';

/** Beside the pressure sensor dma-2.pressure.1, downstream of the burst junction J-D2-020. */
const NEAR_BURST = { lat: -6.908, lon: 107.608 };
/** In DMA 1, far from the burst. */
const ELSEWHERE = { lat: -6.893, lon: 107.608 };
const BURST_SCENARIO = `
id: fault-test-burst
seed: 11
events:
  - { id: dma-2-burst, kind: burst, at: 0s, duration: 2h, junction: J-D2-020, coefficient: 150 }
`;

/**
 * Posts a complaint every interval, as a channel would: each with its own message id as the
 * Idempotency-Key, resent with the same key after a network error or a 5xx until it is accepted.
 */
class ComplaintStream {
  /** external_id -> complaint id, for every complaint the API accepted. */
  readonly accepted = new Map<string, string>();
  /** The external ids of complaints posted near the burst. */
  readonly nearBurst = new Set<string>();
  readonly refusals: string[] = [];
  resends = 0;
  private sent = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly inFlight = new Set<Promise<void>>();

  constructor(
    private readonly baseUrl: string,
    private readonly apiKey: string,
  ) {}

  start(intervalMs: number): void {
    this.timer ??= setInterval(() => {
      const posting = this.post(this.sent++).finally(() => this.inFlight.delete(posting));
      this.inFlight.add(posting);
    }, intervalMs);
  }

  /** Stops posting and waits until every complaint in flight is accepted or refused. */
  async pause(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await Promise.all(this.inFlight);
  }

  private async post(sequence: number): Promise<void> {
    const externalId = `fault-${sequence}`;
    const near = sequence % 2 === 0;
    if (near) this.nearBurst.add(externalId);
    const origin = near ? NEAR_BURST : ELSEWHERE;
    const body = JSON.stringify({
      channel: 'call_center',
      category: near ? 'low_pressure' : 'water_quality',
      location: { lat: origin.lat + ((sequence % 7) - 3) * 0.0002, lon: origin.lon + ((sequence % 5) - 2) * 0.0002 },
      text: near ? 'Air kecil sekali sejak pagi' : 'Air keruh',
      external_id: externalId,
    });
    const headers = { 'content-type': 'application/json', authorization: `Bearer ${this.apiKey}`, 'idempotency-key': externalId };
    const deadline = Date.now() + 120_000;
    for (;;) {
      try {
        const response = await fetch(`${this.baseUrl}/api/v1/complaints`, { method: 'POST', headers, body, signal: AbortSignal.timeout(10_000) });
        const answer = (await response.json()) as { id?: string };
        if (response.status === 200 || response.status === 201) {
          this.accepted.set(externalId, answer.id!);
          return;
        }
        if (response.status < 500) {
          this.refusals.push(`${externalId}: ${response.status} ${JSON.stringify(answer)}`);
          return;
        }
      } catch {
        // The API unreachable or timed out: the complaint may or may not be stored; resend it.
      }
      if (Date.now() > deadline) {
        this.refusals.push(`${externalId}: not accepted within 120 s`);
        return;
      }
      this.resends += 1;
      await sleep(500);
    }
  }
}

describe('the running system under faults', function () {
  this.timeout(240_000);
  let broker: RestartableBroker;
  let postgres: RestartablePostgres;
  let pool: pg.Pool;
  let site: SiteConfig;
  let workDir: string;
  let ledger: DeliveryLedger;
  let complaints: ComplaintStream;
  let simUrl: string;
  const roles: Record<'sim' | 'ingest' | 'engine' | 'connector' | 'api', RoleProcess> = {} as never;

  before(async function () {
    this.timeout(180_000);
    workDir = await mkdtemp(path.join(os.tmpdir(), 'tirta-faults-'));
    [broker, postgres] = await Promise.all([restartableBroker(), restartablePostgres()]);
    await broker.start();
    site = await quickDemoSite({ autoAssign: true });
    const siteFile = path.join(workDir, 'site.json');
    const scenarioFile = path.join(workDir, 'burst.yaml');
    await writeFile(siteFile, JSON.stringify(site));
    await writeFile(scenarioFile, BURST_SCENARIO);
    const apiPort = await freePort();
    const simPort = await freePort();
    simUrl = `http://127.0.0.1:${simPort}`;
    const env = (role: string): Record<string, string> => ({
      DATABASE_URL: postgres.url,
      MQTT_URL: broker.url,
      TIRTA_DATA_DIR: path.join(workDir, role),
      TIRTA_INSTANCE_ID: `faults-${role}`,
      TIRTA_METRICS_PORT: '0',
      TIRTA_SIM_PORT: String(simPort),
      PORT: String(apiPort),
    });
    const migrate = spawnSync(process.execPath, ['src/cli/bin.js', 'migrate', '--site', siteFile], { env: { ...process.env, ...env('migrate') }, encoding: 'utf8' });
    expect(migrate.status, migrate.stdout + migrate.stderr).to.equal(0);
    pool = new pg.Pool({ connectionString: postgres.url, max: 2 });
    // The test's own connections break with the server's restart like everyone else's.
    pool.on('error', () => undefined);
    ledger = await DeliveryLedger.open(broker.url, [site.site.id], uniqueId('fault-ledger'));
    for (const role of ['sim', 'ingest', 'engine', 'connector', 'api'] as const) {
      roles[role] = new RoleProcess(role, role === 'sim' ? ['--site', siteFile, '--scenario', scenarioFile] : ['--site', siteFile], env(role));
    }
    // The sim first (the connector's PLCs), the connector last (ingest and engine already listening).
    await roles.sim.start();
    await Promise.all([roles.ingest.start(), roles.engine.start(), roles.api.start()]);
    await roles.connector.start();
    complaints = new ComplaintStream(`http://127.0.0.1:${apiPort}`, await createApiKey(pool, { name: 'fault-test', role: 'operator' }));
    complaints.start(500);
  });

  after(async function () {
    this.timeout(60_000);
    await complaints?.pause();
    for (const role of ['connector', 'api', 'engine', 'ingest', 'sim'] as const) await roles[role]?.kill('SIGTERM');
    await ledger?.close();
    await pool?.end();
    await broker?.remove();
    await postgres?.remove();
    if (workDir) await rm(workDir, { recursive: true, force: true });
  });

  /** Simulated PLC faults through the simulator's live scenarios. */
  async function takeOffline(device: string, seconds: number): Promise<void> {
    const scenario = { id: uniqueId(`${device}-offline`), events: [{ kind: 'plc_offline', at: '0s', duration: `${seconds}s`, device }] };
    const response = await fetch(`${simUrl}/sim/scenarios`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(scenario) });
    expect(response.status, await response.text()).to.equal(201);
  }

  /** The newest stored sample of a tag. */
  async function latestSample(tag: string): Promise<{ quality: number; time: Date } | undefined> {
    const { rows } = await pool.query<{ quality: number; time: Date }>(
      `SELECT t.quality, t.time FROM telemetry t JOIN tag ON tag.id = t.tag_id WHERE tag.site_id = $1 AND tag.key = $2 ORDER BY t.time DESC LIMIT 1`,
      [site.site.id, tag],
    );
    return rows[0];
  }

  /** Waits until a tag has good samples stored after `since`: its link is back. */
  async function goodAgainAfter(tag: string, since: number): Promise<void> {
    await waitFor(`good samples of ${tag} again`, async () => {
      const latest = await latestSample(tag);
      return latest !== undefined && latest.quality === 0 && latest.time.getTime() > since ? true : undefined;
    }, 60_000, 250);
  }

  /**
   * Pauses the complaints, lets the system catch up, and checks the end state against what was
   * handed in. Prints the counts; resumes the complaints.
   */
  async function expectConsistentAfter(fault: string): Promise<void> {
    const faultOverAt = Date.now();
    await complaints.pause();
    for (const [role, process] of Object.entries(roles)) expect(process.running, `${role} stopped:\n${process.output().slice(-3000)}`).to.equal(true);
    // The stream has resumed: every device's telemetry arrives again.
    await waitFor('telemetry of every device again', async () => (site.devices.every((device) => (ledger.lastBatchAt.get(`${site.site.id}/${device.id}`) ?? 0) > faultOverAt) ? true : undefined), 60_000, 250).catch((error: Error) => {
      throw new Error(`${error.message}; connector's log:\n${roles.connector.output().slice(-4000)}`);
    });

    // Telemetry: the ledger taken before the database is read must be stored in full, and the
    // database must hold nothing the ledger taken after it lacks.
    let difference = { missing: [] as string[], unexpected: [] as string[] };
    let stored = { keys: new Set<string>(), rows: 0 };
    await waitFor('the database to hold every published sample', async () => {
      const publishedBefore = new Set(ledger.sampleKeys);
      stored = await storedSampleKeys(pool, [site.site.id]);
      difference = { missing: compareSamples(publishedBefore, stored.keys).missing, unexpected: compareSamples(ledger.sampleKeys, stored.keys).unexpected };
      return difference.missing.length === 0 && difference.unexpected.length === 0 ? true : undefined;
    }, 90_000, 250).catch(() => undefined);
    const diagnosis = `${stored.rows} rows stored, ${ledger.sampleKeys.size} samples published; ingest's log:\n${roles.ingest.output().slice(-3000)}`;
    expect(difference.missing.length, `published, never stored: ${difference.missing.slice(0, 5).join(', ')}; ${diagnosis}`).to.equal(0);
    expect(difference.unexpected.length, `stored, never published: ${difference.unexpected.slice(0, 5).join(', ')}`).to.equal(0);
    expect(ledger.seqGaps(), 'batches missing from the stream').to.deep.equal({});

    // Complaints: each accepted one stored once, and nothing stored that was not accepted.
    expect(complaints.refusals).to.deep.equal([]);
    const { rows: storedComplaints } = await pool.query<{ external_id: string; id: string; copies: number }>(
      `SELECT external_id, min(id::text) AS id, count(*)::int AS copies FROM complaint WHERE site_id = $1 GROUP BY external_id`,
      [site.site.id],
    );
    expect(storedComplaints.filter((row) => row.copies !== 1), 'complaints stored more than once').to.deep.equal([]);
    expect(new Map(storedComplaints.map((row) => [row.external_id, row.id]))).to.deep.equal(complaints.accepted);

    // Incidents and work orders agree with themselves.
    const inconsistencies = await pool.query<{ problem: string; id: string }>(
      `SELECT 'complaint of an incident missing' AS problem, i.id FROM incident i, unnest(i.complaint_ids) c
         WHERE i.site_id = $1 AND NOT EXISTS (SELECT 1 FROM complaint WHERE complaint.id::text = c)
       UNION ALL
       SELECT 'anomaly of an incident missing', i.id FROM incident i, unnest(i.anomaly_ids) a
         WHERE i.site_id = $1 AND NOT EXISTS (SELECT 1 FROM anomaly WHERE anomaly.id = a)
       UNION ALL
       SELECT 'complaint in two live incidents', c FROM incident i, unnest(i.complaint_ids) c
         WHERE i.site_id = $1 AND i.merged_into IS NULL GROUP BY c HAVING count(*) > 1
       UNION ALL
       SELECT 'complaint linked to an unknown incident', complaint.id::text FROM complaint
         WHERE site_id = $1 AND incident_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM incident WHERE incident.id = complaint.incident_id)
       UNION ALL
       SELECT 'work order without a timeline', w.id FROM work_order w
         WHERE w.site_id = $1 AND NOT EXISTS (SELECT 1 FROM work_order_event e WHERE e.work_order_id = w.id)
       UNION ALL
       SELECT 'work order state differs from its last timeline entry', w.id FROM work_order w
         JOIN LATERAL (SELECT to_status, version FROM work_order_event e WHERE e.work_order_id = w.id ORDER BY e.id DESC LIMIT 1) last ON true
         WHERE w.site_id = $1 AND (last.to_status <> w.status OR last.version <> w.version)`,
      [site.site.id],
    );
    expect(inconsistencies.rows).to.deep.equal([]);
    const { rows: dma2 } = await pool.query<{ incidents: number; orders: number }>(
      `SELECT count(*)::int AS incidents, count(w.id)::int AS orders FROM incident i LEFT JOIN work_order w ON w.incident_id = i.id
       WHERE i.site_id = $1 AND i.zone_id = 'dma-2' AND i.merged_into IS NULL AND i.closed_at IS NULL`,
      [site.site.id],
    );
    expect(dma2[0]!.incidents, 'live incidents of the one burst in DMA 2').to.be.at.most(1);

    // Crews' phones: every message is of a committed change, and every committed one was sent.
    await waitFor('the outbox to be relayed', async () => {
      const { rows } = await pool.query<{ unsent: number }>(`SELECT count(*)::int AS unsent FROM outbox WHERE published_at IS NULL`);
      return rows[0]!.unsent === 0 ? true : undefined;
    }, 60_000, 250);
    const { rows: crewOutbox } = await pool.query<{ messages: number }>(`SELECT count(*)::int AS messages FROM outbox WHERE topic LIKE 'tirta/v1/crews/%'`);
    await waitFor('every crew message to arrive', async () => (new Set(ledger.crewMessages.map((m) => `${m.topic}|${m.action}|${m.order.id}|${m.order.version}`)).size >= crewOutbox[0]!.messages ? true : undefined), 30_000, 250).catch(() => undefined);
    const crewKeys = new Set(ledger.crewMessages.map((m) => `${m.topic}|${m.action}|${m.order.id}|${m.order.version}`));
    expect(crewKeys.size, 'crew messages received vs committed').to.equal(crewOutbox[0]!.messages);
    for (const message of ledger.crewMessages) {
      const { rowCount } = await pool.query(`SELECT 1 FROM work_order_event WHERE work_order_id = $1 AND version = $2 AND to_status = $3`, [message.order.id, message.order.version, message.order.status]);
      expect(rowCount, `crew message for ${message.order.id} v${message.order.version} (${message.order.status}) has no committed change`).to.equal(1);
    }

    const { rows: totals } = await pool.query<{ incidents: number; orders: number }>(
      `SELECT (SELECT count(*)::int FROM incident WHERE site_id = $1) AS incidents, (SELECT count(*)::int FROM work_order WHERE site_id = $1) AS orders`,
      [site.site.id],
    );
    console.log(
      `      after ${fault}: ${ledger.batches} batches (${ledger.redeliveries} redelivered), ${stored.rows} samples stored once, no seq gap; ` +
        `${complaints.accepted.size} complaints accepted and stored once (${complaints.resends} resent); ` +
        `${totals[0]!.incidents} incidents and ${totals[0]!.orders} work orders consistent (DMA 2: ${dma2[0]!.incidents} live incident, ${dma2[0]!.orders} order); ` +
        `${crewKeys.size} crew messages, each of a committed change`,
    );
    complaints.start(500);
  }

  it('a broker restart', async () => {
    await sleep(5_000);
    await broker.stop();
    await sleep(5_000);
    await broker.start();
    await expectConsistentAfter('broker restart');
  });

  it('a PostgreSQL restart', async () => {
    await postgres.stop();
    await sleep(5_000);
    await postgres.start();
    await expectConsistentAfter('PostgreSQL restart');
  });

  it('a PLC disconnected and reconnected', async () => {
    const since = Date.now();
    await takeOffline('plc-dma', 8);
    await waitFor('bad-quality samples of the offline PLC', async () => ((await latestSample('dma-1.pressure.1'))?.quality === 2 ? true : undefined), 30_000, 250);
    await goodAgainAfter('dma-1.pressure.1', since + 8_000);
    await expectConsistentAfter('PLC disconnect and reconnect');
  });

  it('an OPC UA server restarted', async () => {
    const since = Date.now();
    await takeOffline('scada-trunk', 5);
    await goodAgainAfter('trunk.main.pressure', since + 5_000);
    await expectConsistentAfter('OPC UA server restart');
  });

  it('the connector killed with SIGKILL mid-outage and restarted', async () => {
    await broker.stop();
    await sleep(4_000);
    // Batches of the outage so far are only in the connector's disk buffer.
    await roles.connector.kill('SIGKILL');
    await sleep(1_000);
    await roles.connector.start();
    await sleep(3_000);
    await broker.start();
    await expectConsistentAfter('connector SIGKILL mid-outage');
  });

  it('ingest killed with SIGKILL mid-batch', async () => {
    await roles.ingest.kill('SIGKILL');
    // A backlog builds in its persistent session; the next run is killed while draining it.
    await sleep(5_000);
    await roles.ingest.start();
    await sleep(150);
    await roles.ingest.kill('SIGKILL');
    await roles.ingest.start();
    await expectConsistentAfter('ingest SIGKILL mid-batch');
  });

  it('the engine killed with SIGKILL mid-incident and restarted', async () => {
    const burstIncident = async () => {
      const { rows } = await pool.query<{ id: string; complaint_ids: string[]; order_id: string | null }>(
        `SELECT i.id, i.complaint_ids, w.id AS order_id FROM incident i LEFT JOIN work_order w ON w.incident_id = i.id
         WHERE i.site_id = $1 AND i.zone_id = 'dma-2' AND i.merged_into IS NULL AND i.closed_at IS NULL`,
        [site.site.id],
      );
      return rows[0];
    };
    const before = await waitFor('the burst incident with its work order', async () => ((await burstIncident())?.order_id ? await burstIncident() : undefined), 120_000, 500);
    await roles.engine.kill('SIGKILL');
    // Complaints keep arriving while the engine is down.
    await sleep(5_000);
    await roles.engine.start();
    await complaints.pause();
    const nearBurstIds = [...complaints.nearBurst].map((externalId) => complaints.accepted.get(externalId)!);
    const after = await waitFor('every complaint near the burst linked to its incident', async () => {
      const incident = await burstIncident();
      return incident !== undefined && nearBurstIds.every((id) => incident.complaint_ids.includes(id)) ? incident : undefined;
    }, 60_000, 500).catch(async (error: Error) => {
      const incident = await burstIncident();
      const { rows } = await pool.query(`SELECT id, external_id, incident_id, received_at FROM complaint WHERE id = ANY($1::uuid[])`, [nearBurstIds.filter((id) => !incident?.complaint_ids.includes(id))]);
      throw new Error(`${error.message}: unlinked ${JSON.stringify(rows)}; incident ${JSON.stringify(incident)}; engine's log:\n${roles.engine.output().slice(-3000)}`);
    });
    expect(after.id, 'the same incident').to.equal(before!.id);
    expect(after.order_id, 'the same work order').to.equal(before!.order_id);
    complaints.start(500);
    await expectConsistentAfter('engine SIGKILL mid-incident');
  });
});
