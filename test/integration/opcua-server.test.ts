// The simulated OPC UA PLC against a real client: a node-opcua server in this process, a
// node-opcua client in another (test/support/opcua-browse-client.ts), so nothing is shared but
// the wire. The plant behind the server is an in-memory value source.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { siteConfigSchema, type OpcuaDevice, type SiteConfig, type Tag } from '../../src/contracts/site.js';
import {
  OpcuaPlantServerError,
  planAddressSpace,
  startOpcuaPlantServer,
  type OpcuaPlantServer,
  type PlantReading,
  type PlantValueSource,
} from '../../simulators/opcua/opcua-plant-server.js';
import type { BrowsedStation, BrowsedVariable, ClientEvent } from '../support/opcua-browse-client.js';

const SITE_ID = 'opcua-sim-test';
const NAMESPACE_URI = `urn:tirta:sim:${SITE_ID}`;
/** EUInformation.unitId of metre: UN/CEFACT code MTR packed into an Int32. */
const METRE_UNIT_ID = 5067858;

const site: SiteConfig = siteConfigSchema.parse({
  site: { id: SITE_ID, name: 'OPC UA simulator test' },
  zones: [
    {
      id: 'zone-1',
      name: 'Zone 1',
      customers: 1200,
      boundary: { type: 'Polygon', coordinates: [[[107.6, -6.9], [107.61, -6.9], [107.61, -6.89], [107.6, -6.9]]] },
    },
  ],
  devices: [
    // The port is a placeholder: the test binds port 0.
    { id: 'plc-ps', protocol: 'opcua', endpoint: 'opc.tcp://127.0.0.1:4840', poll_groups: [{ id: 'fast', interval_ms: 1000 }] },
  ],
  tags: [
    { id: 'ps-outlet-pressure', name: 'Pump station outlet pressure', device: 'plc-ps', poll_group: 'fast', kind: 'pressure', unit: 'm', range: { min: 0, max: 120 }, opcua: { node_id: 'ns=1;s=PumpStation.Outlet.Pressure' } },
    { id: 'ps-outlet-flow', device: 'plc-ps', poll_group: 'fast', kind: 'flow', unit: 'm3/h', range: { min: 0, max: 3000 }, opcua: { node_id: `nsu=${NAMESPACE_URI};s=PumpStation.Outlet.Flow` } },
    { id: 'ps-pump-1', name: 'Pump 1 running', device: 'plc-ps', poll_group: 'fast', kind: 'pump_status', unit: 'bool', range: { min: 0, max: 1 }, opcua: { node_id: 'ns=1;s=PumpStation.Pump1.Running' } },
    { id: 'res-level', device: 'plc-ps', poll_group: 'fast', kind: 'level', unit: 'm', zone: 'zone-1', range: { min: 0, max: 8 }, opcua: { node_id: 'ns=1;s=Reservoir.Level' } },
    { id: 'res-chlorine', device: 'plc-ps', poll_group: 'fast', kind: 'chlorine', unit: 'mg/l', opcua: { node_id: 'ns=1;s=Reservoir.Chlorine' } },
  ],
});
const device = site.devices[0] as OpcuaDevice;

class InMemoryPlant implements PlantValueSource {
  readonly readings = new Map<string, PlantReading>();
  readonly writes: Array<{ tagId: string; value: number }> = [];

  read(tagId: string): PlantReading {
    return this.readings.get(tagId) ?? { value: null, quality: 'bad' };
  }

  write(tagId: string, value: number): void {
    this.writes.push({ tagId, value });
  }
}

interface ClientRun {
  events: ClientEvent[];
  exitCode: number | null;
  stderr: string;
}

/** Runs the client to its end; `onEvent` may act on the server while the client waits. */
function runClient(args: string[], onEvent: (event: ClientEvent) => void = () => {}): Promise<ClientRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/support/opcua-browse-client.ts', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    const events: ClientEvent[] = [];
    let pending = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      pending += chunk;
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      // node-opcua logs to stdout too: keep only our JSON lines.
      for (const line of lines) {
        if (!line.startsWith('{"event":')) continue;
        const event = JSON.parse(line) as ClientEvent;
        events.push(event);
        onEvent(event);
      }
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (exitCode) => resolve({ events, exitCode, stderr }));
  });
}

function only<T extends ClientEvent['event']>(run: ClientRun, kind: T): Array<Extract<ClientEvent, { event: T }>> {
  return run.events.filter((event): event is Extract<ClientEvent, { event: T }> => event.event === kind);
}

function browsed(run: ClientRun): Extract<ClientEvent, { event: 'browsed' }> {
  expect(run.exitCode, `client failed: ${JSON.stringify(only(run, 'error'))}\n${run.stderr}`).to.equal(0);
  const [event] = only(run, 'browsed');
  expect(event, 'browsed event').to.not.equal(undefined);
  return event!;
}

function variable(stations: BrowsedStation[], nodeId: string): BrowsedVariable {
  const found = stations.flatMap((station) => station.variables).find((candidate) => candidate.nodeId === nodeId);
  expect(found, `variable ${nodeId}`).to.not.equal(undefined);
  return found!;
}

describe('OPC UA plant server (real client in another process)', function () {
  const plant = new InMemoryPlant();
  let server: OpcuaPlantServer;
  let scratch: string;
  let startMs = 0;

  before(async function () {
    scratch = await mkdtemp(path.join(os.tmpdir(), 'tirta-opcua-'));
    plant.readings.set('ps-outlet-pressure', { value: 41.5, quality: 'good' });
    plant.readings.set('ps-outlet-flow', { value: 812.25, quality: 'good' });
    plant.readings.set('ps-pump-1', { value: 0, quality: 'good' });
    plant.readings.set('res-level', { value: 4.2, quality: 'good' });
    plant.readings.set('res-chlorine', { value: 0.35, quality: 'uncertain' });
    const started = performance.now();
    server = await startOpcuaPlantServer({ siteId: SITE_ID, device, tags: site.tags, source: plant, pkiFolder: path.join(scratch, 'server-pki'), port: 0 });
    startMs = performance.now() - started;
  });

  after(async function () {
    await server?.stop();
    if (scratch !== undefined) await rm(scratch, { recursive: true, force: true });
  });

  it('starts on a free port within a few seconds, certificate included', function () {
    expect(server.port).to.be.greaterThan(0);
    expect(server.endpointUrl).to.equal(`opc.tcp://127.0.0.1:${server.port}`);
    expect(existsSync(server.certificateFile)).to.equal(true);
    expect(startMs).to.be.lessThan(10_000);
  });

  it('serves the configured node ids in station folders with units, ranges and status; subscriptions see updates; command tags take writes', async function () {
    const sourceTime = new Date('2026-03-01T08:00:00.000Z');
    server.update(sourceTime);
    const run = await runClient(
      [server.endpointUrl, '--pki', path.join(scratch, 'client-pki'), '--watch', 'ns=1;s=PumpStation.Outlet.Pressure', '--write', 'ns=1;s=PumpStation.Pump1.Running=1', '--write', 'ns=1;s=PumpStation.Outlet.Pressure=99'],
      (event) => {
        if (event.event !== 'subscribed') return;
        plant.readings.set('ps-outlet-pressure', { value: 43.25, quality: 'good' });
        server.update(new Date('2026-03-01T08:00:01.000Z'));
      },
    );
    const { namespaceArray, stations } = browsed(run);

    expect(namespaceArray[1]).to.equal(NAMESPACE_URI);
    expect(stations.map((station) => [station.browseName, station.nodeId])).to.have.deep.members([
      ['PumpStation', 'ns=1;s=PumpStation'],
      ['Reservoir', 'ns=1;s=Reservoir'],
    ]);
    const pumpStation = stations.find((station) => station.browseName === 'PumpStation')!;
    expect(pumpStation.variables.map((served) => served.nodeId)).to.have.members([
      'ns=1;s=PumpStation.Outlet.Pressure',
      'ns=1;s=PumpStation.Outlet.Flow', // configured as nsu=urn:tirta:sim:...
      'ns=1;s=PumpStation.Pump1.Running',
    ]);

    const pressure = variable(stations, 'ns=1;s=PumpStation.Outlet.Pressure');
    expect(pressure).to.deep.include({
      browseName: 'ps-outlet-pressure',
      displayName: 'Pump station outlet pressure',
      value: 41.5,
      statusCode: 'Good',
      sourceTimestamp: sourceTime.toISOString(),
      writable: false,
      typeDefinition: 'ns=0;i=2368', // AnalogItemType
    });
    expect(pressure.engineeringUnits).to.deep.equal({ unitId: METRE_UNIT_ID, displayName: 'm', description: 'metre' });
    expect(pressure.euRange).to.deep.equal({ low: 0, high: 120 });

    expect(variable(stations, 'ns=1;s=PumpStation.Outlet.Flow')).to.deep.include({ displayName: 'ps-outlet-flow', value: 812.25 });
    expect(variable(stations, 'ns=1;s=PumpStation.Outlet.Flow').engineeringUnits?.displayName).to.equal('m3/h');
    expect(variable(stations, 'ns=1;s=PumpStation.Pump1.Running')).to.deep.include({ value: 0, writable: true });
    expect(variable(stations, 'ns=1;s=PumpStation.Pump1.Running').engineeringUnits).to.deep.equal({ unitId: -1, displayName: 'bool', description: 'bool' });
    const chlorine = variable(stations, 'ns=1;s=Reservoir.Chlorine');
    expect(chlorine).to.deep.include({ value: 0.35, statusCode: 'Uncertain', euRange: null });
    expect(chlorine.engineeringUnits?.displayName).to.equal('mg/l');

    expect(only(run, 'subscribed')).to.deep.equal([{ event: 'subscribed', nodeId: 'ns=1;s=PumpStation.Outlet.Pressure', value: 41.5, statusCode: 'Good' }]);
    expect(only(run, 'changed')).to.deep.equal([
      { event: 'changed', nodeId: 'ns=1;s=PumpStation.Outlet.Pressure', value: 43.25, statusCode: 'Good', sourceTimestamp: '2026-03-01T08:00:01.000Z' },
    ]);

    expect(only(run, 'written').map((written) => [written.nodeId, written.statusCode])).to.deep.equal([
      ['ns=1;s=PumpStation.Pump1.Running', 'Good'],
      ['ns=1;s=PumpStation.Outlet.Pressure', 'BadNotWritable'],
    ]);
    expect(plant.writes).to.deep.equal([{ tagId: 'ps-pump-1', value: 1 }]);
  });

  it('serves a bad reading with a Bad status and no value, even when the source still has a number', async function () {
    plant.readings.set('res-level', { value: null, quality: 'bad' });
    plant.readings.set('ps-outlet-flow', { value: 812.25, quality: 'bad' });
    server.update();
    const { stations } = browsed(await runClient([server.endpointUrl, '--pki', path.join(scratch, 'client-pki')]));

    expect(variable(stations, 'ns=1;s=Reservoir.Level')).to.deep.include({ value: null, statusCode: 'BadCommunicationError' });
    expect(variable(stations, 'ns=1;s=PumpStation.Outlet.Flow')).to.deep.include({ value: null, statusCode: 'BadCommunicationError' });
    expect(variable(stations, 'ns=1;s=Reservoir.Chlorine').statusCode).to.equal('Uncertain');
    // The earlier command showed until this update; now the pump reads what the plant says.
    expect(variable(stations, 'ns=1;s=PumpStation.Pump1.Running')).to.deep.include({ value: 0, statusCode: 'Good' });
  });

  it('reports a port already in use as start_failed, naming the device', async function () {
    const error = await startOpcuaPlantServer({ siteId: SITE_ID, device, tags: site.tags, source: plant, pkiFolder: path.join(scratch, 'server-pki'), port: server.port }).then(
      () => undefined,
      (failure: unknown) => failure,
    );
    expect(error).to.be.instanceOf(OpcuaPlantServerError);
    expect(error).to.include({ code: 'start_failed', deviceId: 'plc-ps' });
    expect((error as Error).message).to.match(/EADDRINUSE/);
  });

  it('answers on a SignAndEncrypt Basic256Sha256 endpoint with its own certificate', async function () {
    const run = await runClient([server.endpointUrl, '--security', 'SignAndEncrypt', '--pki', path.join(scratch, 'client-pki')]);
    const { securityMode, stations } = browsed(run);
    expect(securityMode).to.equal('SignAndEncrypt');
    expect(variable(stations, 'ns=1;s=PumpStation.Outlet.Pressure').statusCode).to.equal('Good');
  });
});

describe('OPC UA plant server: address-space plan', function () {
  const tag = (id: string, nodeId: string, kind: Tag['kind'] = 'pressure'): Tag => ({ id, device: 'plc-ps', poll_group: 'fast', kind, unit: 'm', opcua: { node_id: nodeId } });

  const rejected: Array<{ name: string; tags: Tag[]; code: OpcuaPlantServerError['code'] }> = [
    { name: 'a node id in namespace 2', tags: [tag('a', 'ns=2;s=X.Y')], code: 'foreign_namespace' },
    { name: 'a node id without namespace (namespace 0)', tags: [tag('a', 's=X.Y')], code: 'foreign_namespace' },
    { name: 'another site\'s namespace URI', tags: [tag('a', 'nsu=urn:tirta:sim:elsewhere;s=X.Y')], code: 'foreign_namespace' },
    { name: 'two tags on one node id (ns=1 and nsu spellings)', tags: [tag('a', 'ns=1;s=X.Y'), tag('b', `nsu=${NAMESPACE_URI};s=X.Y`)], code: 'duplicate_node_id' },
  ];
  for (const testCase of rejected) {
    it(`refuses ${testCase.name}`, function () {
      expect(() => planAddressSpace(SITE_ID, { id: 'plc-ps' }, testCase.tags))
        .to.throw(OpcuaPlantServerError)
        .with.property('code', testCase.code);
    });
  }

  it('puts non-string and undotted ids in the device folder, and keeps a folder id clear of a tag named like its station', function () {
    const stations = planAddressSpace(SITE_ID, { id: 'plc-ps' }, [
      tag('a', 'ns=1;i=5001'),
      tag('b', 'ns=1;s=Station'),
      tag('c', 'ns=1;s=Station.Flow', 'setpoint'),
      { ...tag('d', 'ns=1;s=Other.Flow'), device: 'another-plc' },
    ]);
    expect(stations.map((station) => ({ name: station.name, folder: station.folderNodeId, nodes: station.variables.map((planned) => [planned.nodeId, planned.writable]) }))).to.deep.equal([
      { name: 'plc-ps', folder: 'ns=1;s=plc-ps', nodes: [['ns=1;i=5001', false], ['ns=1;s=Station', false]] },
      { name: 'Station', folder: 'ns=1;s=Station#folder', nodes: [['ns=1;s=Station.Flow', true]] },
    ]);
  });
});
