// The OPC UA connector against the real simulated OPC UA server (node-opcua, port 0) with an
// in-memory plant behind it: subscriptions and server-side deadbands, polling, `nsu=` node ids,
// bad values, SignAndEncrypt with a certificate that survives restarts, a server restart on the
// same port (one session afterwards), writes, and a stop that leaves nothing running.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { pino } from 'pino';
import { StatusCodes } from 'node-opcua';
import { CommandError, type DeviceReading, type TelemetrySink } from '../../connectors/connector.js';
import { ConnectorMetrics } from '../../connectors/metrics.js';
import { OpcuaConnector, OpcuaConnectorError, createOpcuaConnectors } from '../../connectors/opcua/opcua-connector.js';
import { resolveNodeId } from '../../connectors/opcua/node-ids.js';
import { reconnectDelayMs } from '../../connectors/opcua/reconnect-backoff.js';
import { deadbandOf, effectiveLimit, planMonitoredItems, planReads, queueSizeFor, type PlannedTag } from '../../connectors/opcua/request-plan.js';
import { qualityOf, sampleFrom, statusCodes } from '../../connectors/opcua/status.js';
import { opcuaDeviceSchema, siteConfigSchema, type OpcuaDevice, type SiteConfig } from '../../src/contracts/site.js';
import type { Sample } from '../../src/contracts/telemetry.js';
import { silentLogger, type Logger } from '../../src/log.js';
import { OpcuaPlantServer, type PlantReading, type PlantValueSource } from '../../simulators/opcua/opcua-plant-server.js';

const SITE_ID = 'opcua-connector-test';
const NAMESPACE_URI = `urn:tirta:sim:${SITE_ID}`;
const DEVICE_ID = 'plc-trunk';

const site: SiteConfig = siteConfigSchema.parse({
  site: { id: SITE_ID, name: 'OPC UA connector test' },
  zones: [{ id: 'zone-1', name: 'Zone 1', customers: 1, boundary: { type: 'Polygon', coordinates: [[[0, 0], [1, 0], [1, 1], [0, 0]]] } }],
  devices: [
    // The port is a placeholder: the server binds port 0 and each test points its device at it.
    { id: DEVICE_ID, protocol: 'opcua', endpoint: 'opc.tcp://127.0.0.1:4840', poll_groups: [{ id: 'fast', interval_ms: 50 }, { id: 'slow', interval_ms: 200 }] },
  ],
  tags: [
    { id: 'pressure', device: DEVICE_ID, poll_group: 'fast', kind: 'pressure', unit: 'm', range: { min: 0, max: 120 }, deadband: { absolute: 0.5 }, opcua: { node_id: 'ns=1;s=Trunk.Pressure' } },
    // Addressed by namespace URI; 1 % of its 0-1000 range is 10 m3/h.
    { id: 'flow', device: DEVICE_ID, poll_group: 'fast', kind: 'flow', unit: 'm3/h', range: { min: 0, max: 1000 }, deadband: { percent: 1 }, opcua: { node_id: `nsu=${NAMESPACE_URI};s=Trunk.Flow` } },
    { id: 'level', device: DEVICE_ID, poll_group: 'fast', kind: 'level', unit: 'm', range: { min: 0, max: 8 }, opcua: { node_id: 'ns=1;s=Tank.Level' } },
    // No range, so no EURange: the server refuses a percent deadband on it.
    { id: 'chlorine', device: DEVICE_ID, poll_group: 'slow', kind: 'chlorine', unit: 'mg/l', deadband: { percent: 5 }, opcua: { node_id: 'ns=1;s=Tank.Chlorine' } },
    { id: 'pump', device: DEVICE_ID, poll_group: 'slow', kind: 'pump_status', unit: 'bool', range: { min: 0, max: 1 }, opcua: { node_id: 'ns=1;s=Trunk.Pump1.Running' } },
  ],
});
const initialValues = { pressure: 40, flow: 500, level: 4, chlorine: 0.3, pump: 0 };
const fastTags = ['pressure', 'flow', 'level'];
const slowTags = ['chlorine', 'pump'];

class FakePlant implements PlantValueSource {
  readonly readings = new Map<string, PlantReading>();
  readonly writes: Array<{ tagId: string; value: number }> = [];

  set(values: Record<string, number | null>): void {
    for (const [tagId, value] of Object.entries(values)) this.readings.set(tagId, value === null ? { value: null, quality: 'bad' } : { value, quality: 'good' });
  }

  read(tagId: string): PlantReading {
    return this.readings.get(tagId) ?? { value: null, quality: 'bad' };
  }

  write(tagId: string, value: number): void {
    this.writes.push({ tagId, value });
  }
}

class MemorySink implements TelemetrySink {
  readonly readings: DeviceReading[] = [];
  readonly states: Array<{ state: 'online' | 'offline'; reason: string | undefined; atMs: number }> = [];

  deliver(reading: DeviceReading): void {
    this.readings.push(reading);
  }

  deviceState(_device: string, state: 'online' | 'offline', reason?: string): void {
    this.states.push({ state, reason, atMs: Date.now() });
  }

  samples(tag: string): Sample[] {
    return this.readings.flatMap((reading) => reading.samples.filter((sample) => sample.tag === tag));
  }

  latest(tag: string): Sample | undefined {
    return this.samples(tag).at(-1);
  }

  get state(): 'online' | 'offline' | undefined {
    return this.states.at(-1)?.state;
  }
}

/** A logger whose warnings the test can read. */
function capturingLogger(): { log: Logger; warnings: Array<Record<string, unknown>> } {
  const warnings: Array<Record<string, unknown>> = [];
  const log = pino({ level: 'warn' }, { write: (line: string) => warnings.push(JSON.parse(line) as Record<string, unknown>) });
  return { log, warnings };
}

async function until<T>(what: string, probe: () => T | undefined | false, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/**
 * A TCP relay that can go silent: while `silent`, bytes are dropped in both directions and no
 * FIN or RST is sent, like a cable pulled or a firewall dropping packets. A connection that saw
 * silence stays dead; new connections work again once the relay speaks.
 */
class SilentLinkProxy {
  private readonly server = net.createServer((client) => this.relay(client));
  private readonly sockets = new Set<net.Socket>();
  private readonly dead = new WeakSet<net.Socket>();
  private silentNow = false;

  async listen(targetPort: number): Promise<number> {
    this.targetPort = targetPort;
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return (this.server.address() as net.AddressInfo).port;
  }

  set silent(silent: boolean) {
    this.silentNow = silent;
    if (silent) for (const socket of this.sockets) this.dead.add(socket);
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private targetPort = 0;

  private relay(client: net.Socket): void {
    const upstream = net.connect(this.targetPort, '127.0.0.1');
    for (const [from, to] of [[client, upstream], [upstream, client]] as const) {
      this.sockets.add(from);
      if (this.silentNow) this.dead.add(from);
      from.on('data', (chunk) => {
        if (!this.silentNow && !this.dead.has(from)) to.write(chunk);
      });
      from.on('error', () => to.destroy());
      from.on('close', () => {
        this.sockets.delete(from);
        to.destroy();
      });
    }
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('OPC UA connector (real simulated server)', function () {
  this.timeout(30_000);
  const plant = new FakePlant();
  let scratch: string;
  let server: OpcuaPlantServer;
  const running: OpcuaConnector[] = [];

  function newServer(port: number): OpcuaPlantServer {
    return new OpcuaPlantServer({ siteId: SITE_ID, device: site.devices[0] as OpcuaDevice, tags: site.tags, source: plant, pkiFolder: path.join(scratch, 'server-pki'), port, host: '127.0.0.1' });
  }

  /** Starts a connector for the served device with these settings (short intervals and backoff by default). */
  function connect(settings: Record<string, unknown>, options: { dataDir?: string; log?: Logger } = {}): { connector: OpcuaConnector; sink: MemorySink; metrics: ConnectorMetrics } {
    const device = opcuaDeviceSchema.parse({
      ...(site.devices[0] as OpcuaDevice),
      endpoint: server.endpointUrl,
      publishing_interval_ms: 50,
      timeout_ms: 2000,
      reconnect: { initial_ms: 100, max_ms: 500 },
      ...settings,
    });
    const sink = new MemorySink();
    const metrics = new ConnectorMetrics();
    const context = { site: { ...site, devices: [device] }, sink, log: options.log ?? silentLogger, metrics, clock: Date.now, dataDir: options.dataDir ?? path.join(scratch, 'data') };
    const [connector] = createOpcuaConnectors([device], context) as OpcuaConnector[];
    running.push(connector!);
    connector!.start();
    return { connector: connector!, sink, metrics };
  }

  async function stopConnector(connector: OpcuaConnector): Promise<void> {
    running.splice(running.indexOf(connector), 1);
    await connector.stop();
  }

  before(async function () {
    scratch = await mkdtemp(path.join(os.tmpdir(), 'tirta-opcua-connector-'));
    plant.set(initialValues);
    server = newServer(0);
    await server.start();
  });

  // Each test starts from the same plant, whatever the one before left.
  beforeEach(function () {
    plant.set(initialValues);
    server.update();
  });

  afterEach(async function () {
    for (const connector of running.splice(0)) await connector.stop();
  });

  after(async function () {
    await server?.stop();
    if (scratch !== undefined) await rm(scratch, { recursive: true, force: true });
  });

  it('subscription mode: initial and changed values arrive with good quality, the StatusCode and the source timestamp', async function () {
    const { sink } = connect({ mode: 'subscription' });
    await until('online and first values', () => sink.state === 'online' && [...fastTags, ...slowTags].every((tag) => sink.latest(tag) !== undefined));
    expect(sink.latest('flow')).to.include({ value: 500, quality: 'good', source_status: 0 }); // nsu= node id

    const sourceTime = new Date('2026-03-01T08:00:00.000Z');
    plant.set({ level: 5.25 });
    server.update(sourceTime);
    const changed = await until('changed level', () => sink.samples('level').find((sample) => sample.value === 5.25));
    expect(changed).to.deep.equal({ tag: 'level', value: 5.25, quality: 'good', source_status: 0, source_ts_ms: sourceTime.getTime() });
    expect(sink.readings.every((reading) => reading.device === DEVICE_ID)).to.equal(true);
  });

  it('subscription mode: the server applies each tag\'s deadband (absolute, percent of EURange), and one it refuses falls back to none with a warning', async function () {
    const { log, warnings } = capturingLogger();
    plant.set({ level: 1 });
    server.update();
    const { sink } = connect({ mode: 'subscription' }, { log });
    await until('first values', () => sink.latest('pressure') && sink.latest('flow') && sink.latest('chlorine'));

    // Each step moves the level (no deadband) too: once its change arrives, the same publish had its chance to carry the others.
    const step = async (values: Record<string, number>, level: number) => {
      plant.set({ ...values, level });
      server.update();
      await until(`level ${level}`, () => sink.samples('level').some((sample) => sample.value === level));
      await sleep(120);
    };
    await step({ pressure: 40.2, flow: 505, chlorine: 0.31 }, 2);
    await step({ pressure: 40.4, flow: 509 }, 3);
    await step({ pressure: 41, flow: 511 }, 4);

    expect(sink.samples('pressure').map((sample) => sample.value)).to.deep.equal([40, 41]);
    expect(sink.samples('flow').map((sample) => sample.value)).to.deep.equal([500, 511]);
    // The server refused 5 % of no range; without a deadband every change arrives.
    expect(sink.samples('chlorine').map((sample) => sample.value)).to.deep.equal([0.3, 0.31]);
    expect(warnings.find((warning) => warning.tag === 'chlorine')?.msg).to.match(/refused the deadband/);
  });

  it('polling mode: reads every tag of each poll group on the group\'s interval, in Read calls within the server\'s limits', async function () {
    const sourceTime = new Date('2026-03-01T09:00:00.000Z');
    server.update(sourceTime);
    const { sink, metrics } = connect({ mode: 'polling' });
    await until('online', () => sink.state === 'online');
    const startedMs = Date.now();
    const firstReading = sink.readings.length;
    await sleep(1000);
    const elapsedMs = Date.now() - startedMs;
    const readings = sink.readings.slice(firstReading);
    const fast = readings.filter((reading) => reading.samples.some((sample) => sample.tag === 'level'));
    const slow = readings.filter((reading) => reading.samples.some((sample) => sample.tag === 'pump'));
    // Every reading of a group holds all its tags, good, with the server's source time.
    for (const reading of fast) expect(reading.samples.map((sample) => sample.tag)).to.have.members(fastTags);
    for (const reading of slow) expect(reading.samples.map((sample) => sample.tag)).to.have.members(slowTags);
    // A cycle still running when the next is due is skipped, so a loaded machine may see a few less.
    expect(fast.length).to.be.within(Math.floor((elapsedMs / 50) * 0.7), Math.ceil(elapsedMs / 50) + 1);
    expect(slow.length).to.be.within(Math.floor((elapsedMs / 200) * 0.7), Math.ceil(elapsedMs / 200) + 1);
    expect(sink.latest('flow')).to.deep.equal({ tag: 'flow', value: 500, quality: 'good', source_status: 0, source_ts_ms: sourceTime.getTime() });
    // The simulator allows 10,000 nodes per Read: each group is one request per cycle.
    const planned = (await metrics.render()).split('\n').filter((line) => line.startsWith('tirta_connector_requests_per_cycle'));
    expect(planned).to.have.members([`tirta_connector_requests_per_cycle{device="${DEVICE_ID}",poll_group="fast"} 1`, `tirta_connector_requests_per_cycle{device="${DEVICE_ID}",poll_group="slow"} 1`]);
  });

  it('a bad source value arrives as bad quality with a null value and the server\'s StatusCode, in both modes', async function () {
    const subscribed = connect({ mode: 'subscription' });
    const polled = connect({ mode: 'polling' });
    await until('both online', () => subscribed.sink.state === 'online' && polled.sink.state === 'online');
    plant.set({ level: null });
    server.update();
    for (const sink of [subscribed.sink, polled.sink]) {
      const bad = await until('bad level', () => sink.samples('level').find((sample) => sample.quality === 'bad'));
      expect(bad).to.include({ value: null, quality: 'bad', source_status: StatusCodes.BadCommunicationError.value });
    }
  });

  it('write() reaches the plant; unknown tags and refused writes throw CommandError', async function () {
    const { connector, sink } = connect({ mode: 'subscription' });
    await until('online', () => sink.state === 'online');
    await connector.write('pump', 1);
    expect(plant.writes).to.deep.include({ tagId: 'pump', value: 1 });

    const unknown = await connector.write('no-such-tag', 1).catch((error: unknown) => error);
    expect(unknown).to.be.instanceOf(CommandError).and.include({ code: 'unknown_tag' });
    const readOnly = await connector.write('pressure', 99).catch((error: unknown) => error);
    expect(readOnly).to.be.instanceOf(CommandError).and.include({ code: 'not_writable' });
    expect((readOnly as Error).message).to.match(/BadNotWritable/);
  });

  it('SignAndEncrypt Basic256Sha256: connects with a certificate made on first start and reused by the next connector', async function () {
    const dataDir = path.join(scratch, 'secure-data');
    const secure = { mode: 'subscription', security_mode: 'SignAndEncrypt', security_policy: 'Basic256Sha256' };
    const first = connect(secure, { dataDir });
    await until('secure values', () => first.sink.state === 'online' && first.sink.latest('level')?.quality === 'good');
    const certificateFile = first.connector.certificateFile;
    expect(certificateFile).to.equal(path.join(dataDir, 'pki', 'connector', 'own', 'certs', 'client_certificate.pem'));
    const certificate = readFileSync(certificateFile);
    await stopConnector(first.connector);

    const second = connect(secure, { dataDir });
    await until('secure values after restart', () => second.sink.state === 'online' && second.sink.latest('level')?.quality === 'good');
    expect(readFileSync(second.connector.certificateFile).equals(certificate), 'same certificate after a restart').to.equal(true);
  });

  it('username login: the password comes from the named environment variable; a missing variable or a refused login is reported', async function () {
    const user = { username: 'operator', password_env: 'TIRTA_TEST_OPCUA_PASSWORD' };
    const device = opcuaDeviceSchema.parse({ ...(site.devices[0] as OpcuaDevice), endpoint: server.endpointUrl, user });
    const context = { site: { ...site, devices: [device] }, sink: new MemorySink(), log: silentLogger, metrics: new ConnectorMetrics(), clock: Date.now, dataDir: path.join(scratch, 'data') };
    const missing = (() => {
      try {
        new OpcuaConnector(device, context, { env: {} });
      } catch (error) {
        return error;
      }
    })();
    expect(missing).to.be.instanceOf(OpcuaConnectorError).and.include({ reason: 'missing_password', field: 'user.password_env' });

    // The simulator has no user database: it refuses every username, which the connector must report, not hide.
    const connector = new OpcuaConnector(device, context, { env: { TIRTA_TEST_OPCUA_PASSWORD: 'secret' } });
    running.push(connector);
    connector.start();
    const offline = await until('offline', () => context.sink.states.find((state) => state.state === 'offline'));
    expect(offline.reason).to.match(/Bad(UserAccessDenied|IdentityTokenRejected|IdentityTokenInvalid)/);
    expect(server.sessionCount).to.equal(0);
  });

  it('server restart on the same port: offline with bad values, then online with exactly one session and values flowing again', async function () {
    const { sink } = connect({ mode: 'subscription' });
    await until('online', () => sink.state === 'online' && sink.latest('level')?.quality === 'good');
    expect(server.sessionCount).to.equal(1);

    const port = server.port;
    const stoppingMs = Date.now();
    await server.stop();
    const offline = await until('offline', () => sink.states.find((state) => state.state === 'offline'));
    const offlineAfterMs = offline.atMs - stoppingMs;
    // Every tag is reported bad with no value, never its last good value.
    for (const tag of [...fastTags, ...slowTags]) expect(sink.latest(tag)).to.include({ value: null, quality: 'bad', source_status: statusCodes.badNotConnected });
    // Let the connector fail a few reconnects against the closed port.
    await sleep(700);

    server = newServer(port);
    const restartedMs = Date.now();
    await server.start();
    const serverUpMs = Date.now();
    const online = await until('online again', () => sink.states.find((state) => state.state === 'online' && state.atMs > offline.atMs));
    plant.set({ level: 6.5 });
    server.update();
    const flowing = await until('values again', () => sink.samples('level').find((sample) => sample.value === 6.5));
    expect(flowing.quality).to.equal('good');
    expect(server.sessionCount).to.equal(1);
    expect(sink.states.map((state) => state.state)).to.deep.equal(['online', 'offline', 'online']);
    console.log(`      server restart: offline ${offlineAfterMs} ms after stop(); online ${online.atMs - restartedMs} ms after start() was called (${serverUpMs - restartedMs} ms of it the server's own start-up; backoff 100-500 ms)`);

    await stopConnector(running[0]!);
    expect(server.sessionCount, 'session closed on stop').to.equal(0);
  });

  it('a link that goes silent (no FIN, no RST) is found dead by the keep-alive, and the connector recovers when it speaks again', async function () {
    const proxy = new SilentLinkProxy();
    const proxyPort = await proxy.listen(server.port);
    try {
      const { sink } = connect({ mode: 'subscription', endpoint: `opc.tcp://127.0.0.1:${proxyPort}`, timeout_ms: 500 });
      await until('online', () => sink.state === 'online' && sink.latest('level')?.quality === 'good');
      const silencedMs = Date.now();
      proxy.silent = true;
      const offline = await until('offline', () => sink.states.find((state) => state.state === 'offline'));
      expect(sink.latest('level')).to.include({ value: null, quality: 'bad' });
      await sleep(500);
      proxy.silent = false;
      const restoredMs = Date.now();
      await until('online again', () => sink.states.find((state) => state.state === 'online' && state.atMs > offline.atMs));
      plant.set({ level: 7.25 });
      server.update();
      await until('values again', () => sink.samples('level').some((sample) => sample.value === 7.25));
      console.log(`      silent link: offline ${offline.atMs - silencedMs} ms after the link went silent; values again ${Date.now() - restoredMs} ms after it spoke`);
    } finally {
      for (const connector of running.splice(0)) await connector.stop();
      await proxy.close();
    }
  });

  it('stop() leaves no timers or sockets behind: a process that ran server and connector exits by itself', async function () {
    const script = `
      const { siteConfigSchema, opcuaDeviceSchema } = await import('./src/contracts/site.ts');
      const { OpcuaPlantServer } = await import('./simulators/opcua/opcua-plant-server.ts');
      const { createOpcuaConnectors } = await import('./connectors/opcua/opcua-connector.ts');
      const { ConnectorMetrics } = await import('./connectors/metrics.ts');
      const { silentLogger } = await import('./src/log.ts');
      const site = siteConfigSchema.parse(JSON.parse(process.env.SITE));
      const source = { read: () => ({ value: 1, quality: 'good' }), write: () => {} };
      const server = new OpcuaPlantServer({ siteId: site.site.id, device: site.devices[0], tags: site.tags, source, pkiFolder: process.env.DATA_DIR + '/server-pki', port: 0, host: '127.0.0.1' });
      await server.start();
      const device = opcuaDeviceSchema.parse({ ...site.devices[0], endpoint: server.endpointUrl, mode: process.env.MODE, publishing_interval_ms: 50 });
      let samples = 0;
      const sink = { deliver: (reading) => { samples += reading.samples.length; }, deviceState: () => {} };
      const [connector] = createOpcuaConnectors([device], { site: { ...site, devices: [device] }, sink, log: silentLogger, metrics: new ConnectorMetrics(), clock: Date.now, dataDir: process.env.DATA_DIR });
      connector.start();
      while (samples === 0) await new Promise((resolve) => setTimeout(resolve, 20));
      await connector.stop();
      await server.stop();
      console.log('STOPPED ' + Date.now());
    `;
    for (const mode of ['subscription', 'polling']) {
      const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
        env: { ...process.env, SITE: JSON.stringify(site), DATA_DIR: path.join(scratch, `exit-${mode}`), MODE: mode },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let output = '';
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
      const killer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      const exitCode = await new Promise<number | null>((resolve) => child.on('close', resolve));
      clearTimeout(killer);
      const exitedMs = Date.now();
      const stoppedMs = Number(/STOPPED (\d+)/.exec(output)?.[1]);
      expect(exitCode, `${mode}: the process exits by itself\n${output.slice(-2000)}`).to.equal(0);
      expect(exitedMs - stoppedMs, `${mode}: exit soon after stop()`).to.be.lessThan(2000);
    }
  });
});

describe('OPC UA connector: pure parts (status, node ids, plans, backoff)', function () {
  it('maps StatusCode severity to quality, and never passes a value with a Bad status', function () {
    const cases: Array<[number, 'good' | 'uncertain' | 'bad']> = [
      [StatusCodes.Good.value, 'good'],
      [StatusCodes.GoodClamped.value, 'good'],
      [StatusCodes.Uncertain.value, 'uncertain'],
      [StatusCodes.UncertainLastUsableValue.value, 'uncertain'],
      [StatusCodes.Bad.value, 'bad'],
      [StatusCodes.BadCommunicationError.value, 'bad'],
      [0xc000_0000, 'bad'],
    ];
    for (const [code, quality] of cases) expect(qualityOf(code), `0x${code.toString(16)}`).to.equal(quality);
    for (const [name, code] of Object.entries(statusCodes)) {
      const known = Object.values(StatusCodes).find((candidate) => candidate.value === code);
      expect(known, `${name} is a real StatusCode`).to.not.equal(undefined);
    }
    expect(sampleFrom('t', { value: 7, statusCode: StatusCodes.BadSensorFailure.value, sourceTimestampMs: 5 }, 9)).to.deep.equal({ tag: 't', value: null, quality: 'bad', source_status: StatusCodes.BadSensorFailure.value, source_ts_ms: 5 });
    expect(sampleFrom('t', { value: 7.5, statusCode: StatusCodes.UncertainLastUsableValue.value, sourceTimestampMs: undefined }, 9)).to.deep.equal({ tag: 't', value: 7.5, quality: 'uncertain', source_status: StatusCodes.UncertainLastUsableValue.value, source_ts_ms: 9 });
    expect(sampleFrom('t', { value: true, statusCode: 0, sourceTimestampMs: 5 }, 9)).to.include({ value: 1, quality: 'good' });
    expect(sampleFrom('t', { value: 'text', statusCode: 0, sourceTimestampMs: 5 }, 9)).to.include({ value: null, quality: 'bad', source_status: StatusCodes.BadTypeMismatch.value });
  });

  it('resolves ns= and nsu= node ids through the namespace array', function () {
    const namespaces = ['http://opcfoundation.org/UA/', 'urn:a', 'urn:b'];
    expect(resolveNodeId('ns=3;s=X.Y', namespaces)).to.deep.equal({ ok: true, nodeId: 'ns=3;s=X.Y' });
    expect(resolveNodeId('i=2255', namespaces)).to.deep.equal({ ok: true, nodeId: 'ns=0;i=2255' });
    expect(resolveNodeId('nsu=urn:b;s=X;Y', namespaces)).to.deep.equal({ ok: true, nodeId: 'ns=2;s=X;Y' });
    expect(resolveNodeId('nsu=urn:c;i=5', namespaces)).to.deep.include({ ok: false });
  });

  it('plans monitored items in calls of at most monitored_items_per_call, one call per sampling interval and deadband; reads by MaxNodesPerRead', function () {
    const tag = (id: string, samplingIntervalMs: number, deadband: PlannedTag['deadband'] = { type: 'none' }): PlannedTag => ({ tagId: id, nodeId: `ns=1;s=${id}`, samplingIntervalMs, deadband });
    const tags = [tag('a', 100), tag('b', 100), tag('c', 100, { type: 'absolute', value: 0.5 }), tag('d', 100), tag('e', 1000), tag('f', 100)];
    const batches = planMonitoredItems(tags, { itemsPerCall: 2, publishingIntervalMs: 500 });
    expect(batches.map((batch) => [batch.samplingIntervalMs, batch.queueSize, batch.deadband.type, batch.tags.map((planned) => planned.tagId)])).to.deep.equal([
      [100, 5, 'none', ['a', 'b']],
      [100, 5, 'none', ['d', 'f']],
      [100, 5, 'absolute', ['c']],
      [1000, 1, 'none', ['e']],
    ]);
    expect(queueSizeFor(0, 1000)).to.equal(100);
    expect(deadbandOf({ deadband: { percent: 0 } })).to.deep.equal({ type: 'none' });
    expect(deadbandOf({ deadband: { percent: 2 } })).to.deep.equal({ type: 'percent', value: 2 });
    expect(planReads([1, 2, 3, 4, 5], 2)).to.deep.equal([[1, 2], [3, 4], [5]]);
    expect(effectiveLimit(500, 0, 500)).to.equal(500); // 0 means no limit
    expect(effectiveLimit(500, 100, 500)).to.equal(100);
    expect(effectiveLimit(undefined, undefined, 500)).to.equal(500);
  });

  it('backs off exponentially with jitter between half and the whole of the capped delay', function () {
    const settings = { initialMs: 100, maxMs: 1000 };
    expect([1, 2, 3, 4, 5, 40].map((failures) => reconnectDelayMs(failures, settings, () => 0))).to.deep.equal([50, 100, 200, 400, 500, 500]);
    expect([1, 2, 3, 4, 5].map((failures) => reconnectDelayMs(failures, settings, () => 0.999999))).to.deep.equal([100, 200, 400, 800, 1000]);
  });

  it('site schema: security policy must match the mode; defaults as documented', function () {
    const base = { id: 'd', protocol: 'opcua', endpoint: 'opc.tcp://h:4840', poll_groups: [{ id: 'g', interval_ms: 1000 }] };
    expect(opcuaDeviceSchema.parse(base)).to.deep.include({
      mode: 'subscription',
      security_mode: 'None',
      security_policy: 'None',
      publishing_interval_ms: 1000,
      monitored_items_per_call: 500,
      reconnect: { initial_ms: 1000, max_ms: 60_000 },
    });
    const mismatch = opcuaDeviceSchema.safeParse({ ...base, security_mode: 'SignAndEncrypt' });
    expect(mismatch.error?.issues.map((issue) => [issue.path.join('.'), issue.message])).to.deep.equal([['security_policy', 'security_mode SignAndEncrypt needs security_policy Basic256Sha256 (got None)']]);
    expect(opcuaDeviceSchema.safeParse({ ...base, user: { username: 'op', password: 'x' } }).success, 'a password in the file is refused').to.equal(false);
  });
});
