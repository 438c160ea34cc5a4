// The thin path, end to end over real protocols: simulated Modbus PLCs -> connector -> MQTT ->
// ingest -> PostgreSQL -> HTTP API, and complaint intake through the API.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import mqtt from 'mqtt';
import { topics } from '../../src/contracts/telemetry.js';
import pg from 'pg';
import { createApiKey } from '../../src/access/accounts.js';
import { createApp } from '../../src/api/app.js';
import type { RuntimeEnvironment } from '../../src/config/environment.js';
import type { SiteConfig } from '../../src/contracts/site.js';
import { silentLogger } from '../../src/log.js';
import { Lifecycle } from '../../src/runtime/lifecycle.js';
import { Services, startApi, startConnector, startEngine, startIngest } from '../../src/runtime/roles.js';
import { startSimulator, type SimulatorHandle } from '../../src/runtime/simulator.js';
import { freshDatabase, testServices, uniqueId, waitFor, type FreshDatabase } from '../support/services.js';
import { demoSiteOnFreePorts } from '../support/site-fixture.js';

describe('thin path: simulator to API', function () {
  this.timeout(120_000);
  let db: FreshDatabase;
  let lifecycle: Lifecycle;
  let simulator: SimulatorHandle;
  let baseUrl: string;
  let site: SiteConfig;
  let dataDir: string;
  let credentials: Record<string, string>;

  before(async () => {
    db = await freshDatabase();
    const { mqttUrl } = await testServices();
    site = await demoSiteOnFreePorts();
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'tirta-thin-path-'));
    const env: RuntimeEnvironment = { databaseUrl: db.url, mqttUrl, port: 0, host: '127.0.0.1', dataDir, simPort: 0, metricsPort: 0, instanceId: 'test', retention: { retentionDays: 400, compressAfterDays: 7 }, siteConfigFile: '', logLevel: 'silent' };
    lifecycle = new Lifecycle(silentLogger);
    const services = new Services(env, site, silentLogger, lifecycle);
    simulator = await startSimulator(services);
    await startIngest(services);
    await startEngine(services);
    await startConnector(services);
    baseUrl = (await startApi(services)).url;
    credentials = { authorization: `Bearer ${await createApiKey(db.pool, { name: 'thin-path', role: 'admin' })}` };
  });

  /** fetch with the test's admin key. */
  const signedFetch = (url: string, init: RequestInit = {}) => fetch(url, { ...init, headers: { ...(init.headers as Record<string, string> | undefined), ...credentials } });

  after(async () => {
    await lifecycle?.stop();
    await db?.drop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  async function latestValue(tag: string): Promise<number | null | undefined> {
    const from = new Date(Date.now() - 60_000).toISOString();
    const to = new Date(Date.now() + 60_000).toISOString();
    const response = await signedFetch(`${baseUrl}/api/v1/telemetry?tag=${tag}&from=${from}&to=${to}&step=raw`);
    expect(response.status).to.equal(200);
    const body = (await response.json()) as { points: Array<{ value: number | null; quality: string }> };
    return body.points.at(-1)?.value;
  }

  it('reads back through the telemetry API a value set in the simulated PLC', async () => {
    simulator.plant.pin('dma-1.pressure.1', 12.34);
    simulator.plant.pin('ps.outlet.flow', 456.5);
    simulator.plant.pin('dma-3.inlet.flow', 321.125);
    await waitFor('pinned pressure in the database', async () => ((await latestValue('dma-1.pressure.1')) === 12.34 ? true : undefined), 45_000);
    await waitFor('pinned flow (float32 CDAB)', async () => ((await latestValue('ps.outlet.flow')) === 456.5 ? true : undefined), 45_000);
    await waitFor('pinned flow (float64)', async () => ((await latestValue('dma-3.inlet.flow')) === 321.125 ? true : undefined), 45_000);
    simulator.plant.pin('dma-1.pressure.1', 7.5);
    await waitFor('the changed pressure', async () => ((await latestValue('dma-1.pressure.1')) === 7.5 ? true : undefined));
  });

  it('stores good-quality samples with source times', async () => {
    const { rows } = await db.pool.query(
      `SELECT count(*)::int AS samples, count(*) FILTER (WHERE quality = 0)::int AS good FROM telemetry t JOIN tag ON tag.id = t.tag_id WHERE tag.site_id = $1`,
      [site.site.id],
    );
    expect(rows[0].samples).to.be.greaterThan(0);
    expect(rows[0].good).to.equal(rows[0].samples);
  });

  it('carries out a command sent over MQTT and answers with its result', async () => {
    const { mqttUrl } = await testServices();
    const client = await mqtt.connectAsync(mqttUrl, { clientId: uniqueId('operator') });
    try {
      const results: Array<{ id: string | null; ok: boolean; error?: string }> = [];
      client.on('message', (_topic, payload) => results.push(JSON.parse(payload.toString())));
      await client.subscribeAsync(topics.commandResult(site.site.id, 'plc-dma'), { qos: 1 });
      await client.publishAsync(topics.command(site.site.id, 'plc-dma'), JSON.stringify({ id: 'cmd-1', tag: 'dma-3.prv.setpoint', value: 30 }), { qos: 1 });
      await client.publishAsync(topics.command(site.site.id, 'plc-dma'), JSON.stringify({ id: 'cmd-2', tag: 'dma-1.pressure.1', value: 1 }), { qos: 1 });
      await client.publishAsync(topics.command(site.site.id, 'plc-dma'), JSON.stringify({ id: 'cmd-3', tag: 'dma-3.prv.setpoint', value: 'open' }), { qos: 1 });
      await waitFor('three results', async () => (results.length >= 3 ? true : undefined));
      expect(results.find((result) => result.id === 'cmd-1')).to.include({ ok: true });
      expect(simulator.plant.read('dma-3.prv.setpoint').value).to.be.closeTo(30, 1e-9);
      expect(results.find((result) => result.id === 'cmd-2')).to.include({ ok: false });
      expect(results.find((result) => result.id === 'cmd-3')!.error).to.contain('value');
    } finally {
      await client.endAsync();
    }
  });

  it('shows every PLC link online, then offline when its PLC stops answering', async () => {
    type Devices = { devices: Array<{ device: string; state: string; reason: string | null }> };
    // Modbus links only: OPC UA devices have no connector yet, so their state stays unknown.
    const devices = async () => ((await (await signedFetch(`${baseUrl}/api/v1/devices`)).json()) as Devices).devices.filter((device) => device.device !== 'scada-trunk');
    await waitFor('both links online', async () => ((await devices()).every((device) => device.state === 'online') ? true : undefined));
    expect((await devices()).map((device) => device.device).sort()).to.deep.equal(['plc-dma', 'plc-pump-station']);
    await simulator.servers.find((server) => server.deviceIds.includes('plc-dma'))!.stop();
    const offline = await waitFor('plc-dma offline', async () => (await devices()).find((device) => device.device === 'plc-dma' && device.state === 'offline'));
    expect(offline.reason).to.be.a('string').and.not.equal('');
    expect((await devices()).find((device) => device.device === 'plc-pump-station')?.state).to.equal('online');
    // A failed read is stored as bad quality with no value, never as the last good value.
    await waitFor('bad-quality samples of plc-dma', async () => {
      const { rows } = await db.pool.query(
        `SELECT count(*)::int AS bad FROM telemetry t JOIN tag ON tag.id = t.tag_id
         WHERE tag.site_id = $1 AND tag.device_id = 'plc-dma' AND t.quality = 2 AND t.value IS NULL`,
        [site.site.id],
      );
      return rows[0].bad > 0 ? true : undefined;
    });
  });

  it('exposes connector health per device and link in Prometheus format', async () => {
    const response = await signedFetch(`${baseUrl}/metrics`);
    expect(response.status).to.equal(200);
    expect(response.headers.get('content-type')).to.contain('text/plain');
    const text = await response.text();
    const link = site.devices.find((device) => device.id === 'plc-pump-station')!.endpoint;
    expect(text).to.match(new RegExp(`tirta_connector_requests_total\\{device="plc-pump-station",link="${link.replace(/[.:/]/g, '\\$&')}"\\} [1-9]`));
    expect(text).to.match(/tirta_connector_round_trip_seconds_bucket\{le="0.005",device="plc-pump-station"/);
    expect(text).to.match(/tirta_connector_requests_per_cycle\{device="plc-dma",poll_group="fast"\} [1-9]/);
    expect(text).to.match(/tirta_connector_last_good_read_timestamp_seconds\{device="plc-pump-station"\} 1[0-9]{9}/);
    expect(text).to.match(/tirta_connector_device_online\{device="plc-pump-station"\} 1/);
  });

  it('reports health with database and broker up', async () => {
    const response = await fetch(`${baseUrl}/health`);
    expect(response.status).to.equal(200);
    expect(await response.json()).to.deep.equal({ status: 'up', database: { status: 'up' }, broker: { status: 'up' } });
  });

  it('lists the site tags', async () => {
    const body = (await (await signedFetch(`${baseUrl}/api/v1/tags`)).json()) as { tags: Array<{ key: string; zone: string | null }> };
    expect(body.tags.map((tag) => tag.key).sort()).to.deep.equal(site.tags.map((tag) => tag.id).sort());
    expect(body.tags.find((tag) => tag.key === 'dma-2.inlet.flow')?.zone).to.equal('dma-2');
  });

  it('answers 400 naming each bad query parameter, and 404 for an unknown tag', async () => {
    const bad = await signedFetch(`${baseUrl}/api/v1/telemetry?tag=dma-1.pressure.1&from=yesterday`);
    expect(bad.status).to.equal(400);
    const fields = ((await bad.json()) as { issues: Array<{ field: string }> }).issues.map((issue) => issue.field);
    expect(fields).to.include.members(['from', 'to']);
    const now = Date.now();
    const unknown = await signedFetch(`${baseUrl}/api/v1/telemetry?tag=nope&from=${new Date(now - 1000).toISOString()}&to=${new Date(now).toISOString()}`);
    expect(unknown.status).to.equal(404);
  });

  describe('complaint intake', () => {
    const post = (body: unknown, headers: Record<string, string> = {}) =>
      signedFetch(`${baseUrl}/api/v1/complaints`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
    const complaint = { channel: 'whatsapp', category: 'no_water', location: { lat: -6.8915, lon: 107.6105 }, text: 'no water since this morning' };

    it('stores a valid complaint, locates its zone and answers 201', async () => {
      const response = await post(complaint);
      expect(response.status).to.equal(201);
      const stored = (await response.json()) as { id: string; zone: string; location_status: string };
      expect(stored).to.include({ zone: 'dma-1', location_status: 'in_zone' });
      expect(response.headers.get('location')).to.equal(`/api/v1/complaints/${stored.id}`);
      const fetched = await signedFetch(`${baseUrl}/api/v1/complaints/${stored.id}`);
      expect(((await fetched.json()) as { text: string }).text).to.equal(complaint.text);
    });

    it('answers 400 listing each bad field, and stores nothing', async () => {
      const before = await db.pool.query('SELECT count(*)::int AS n FROM complaint');
      const response = await post({ channel: 'fax', category: 'no_water', location: { lat: 95, lon: 107 }, text: '' });
      expect(response.status).to.equal(400);
      const body = (await response.json()) as { error: string; issues: Array<{ field: string; message: string }> };
      expect(body.error).to.equal('validation_failed');
      expect(body.issues.map((issue) => issue.field)).to.include.members(['channel', 'location.lat', 'text']);
      const after = await db.pool.query('SELECT count(*)::int AS n FROM complaint');
      expect(after.rows[0].n).to.equal(before.rows[0].n);
    });

    it('answers 400 for malformed JSON', async () => {
      const response = await signedFetch(`${baseUrl}/api/v1/complaints`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"channel":' });
      expect(response.status).to.equal(400);
    });

    it('stores the same complaint once per Idempotency-Key', async () => {
      const first = await post(complaint, { 'Idempotency-Key': 'call-2026-0001' });
      const again = await post(complaint, { 'Idempotency-Key': 'call-2026-0001' });
      expect(first.status).to.equal(201);
      expect(again.status).to.equal(200);
      expect(((await again.json()) as { id: string }).id).to.equal(((await first.json()) as { id: string }).id);
    });

    it('stores the same channel message once', async () => {
      const message = { ...complaint, channel: 'social_media', external_id: 'tweet-1234' };
      const [first, again] = [await post(message), await post(message)];
      expect([first.status, again.status]).to.deep.equal([201, 200]);
      const { rows } = await db.pool.query("SELECT count(*)::int AS n FROM complaint WHERE external_id = 'tweet-1234'");
      expect(rows[0].n).to.equal(1);
    });

    it('keeps a complaint outside every zone and flags it', async () => {
      const response = await post({ ...complaint, location: { lat: -7.25, lon: 112.75 } });
      expect(response.status).to.equal(201);
      expect(await response.json()).to.include({ zone: null, location_status: 'outside_zones' });
    });
  });
});

describe('health when a dependency is down', () => {
  it('answers 503 naming the broker when it is not connected', async () => {
    const db = await freshDatabase();
    try {
      const app = createApp({ pool: db.pool, site: await demoSiteOnFreePorts(), log: silentLogger, brokerConnected: () => false, storageFlavour: 'postgres' });
      const server = app.listen(0);
      const port = (server.address() as { port: number }).port;
      const response = await fetch(`http://127.0.0.1:${port}/health`);
      server.close();
      expect(response.status).to.equal(503);
      expect(await response.json()).to.deep.include({ status: 'down', database: { status: 'up' }, broker: { status: 'down', error: 'not connected' } });
    } finally {
      await db.drop();
    }
  });

  it('answers 503 naming the database when it does not answer', async () => {
    const pool = new pg.Pool({ host: '127.0.0.1', port: 1, connectionTimeoutMillis: 1000 });
    const app = createApp({ pool, site: await demoSiteOnFreePorts(), log: silentLogger, brokerConnected: () => true, storageFlavour: 'postgres' });
    const server = app.listen(0);
    const port = (server.address() as { port: number }).port;
    const response = await fetch(`http://127.0.0.1:${port}/health`);
    server.close();
    await pool.end();
    expect(response.status).to.equal(503);
    const body = (await response.json()) as { database: { status: string }; broker: { status: string } };
    expect(body.database.status).to.equal('down');
    expect(body.broker.status).to.equal('up');
  });
});
