// The Modbus connector against real servers: the simulated plant's PLCs (several units behind
// one gateway) and pymodbus as a third-party PLC (invalid addresses, RTU over TCP, writes).
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import type { Connector } from '../../connectors/connector.js';
import { ConnectorMetrics } from '../../connectors/metrics.js';
import { createModbusConnectors, ModbusLinkConnector } from '../../connectors/modbus/modbus-connector.js';
import { siteConfigSchema, type ModbusDevice, type SiteConfig } from '../../src/contracts/site.js';
import { silentLogger } from '../../src/log.js';
import { freePort } from '../../src/runtime/embedded-services.js';
import { ModbusPlantServer, SimulatedUnit } from '../../simulators/modbus/modbus-plant-server.js';
import { ModbusTcpServer } from '../../simulators/modbus/modbus-tcp-server.js';
import { serveRtuOnSerialLine } from '../support/rtu-serial-device.js';
import { SyntheticPlant } from '../../simulators/plant/synthetic-plant.js';
import { MemorySink } from '../support/memory-sink.js';
import { startPymodbusServer, type PymodbusServer } from '../support/pymodbus-server.js';
import { waitFor } from '../support/services.js';

const zone = { id: 'z', name: 'Z', customers: 1, boundary: { type: 'Polygon', coordinates: [[[0, 0], [1, 0], [1, 1], [0, 0]]] } };
const fast = [{ id: 'fast', interval_ms: 100 }];

function site(devices: unknown[], tags: unknown[]): SiteConfig {
  return siteConfigSchema.parse({ site: { id: 'test', name: 'Test' }, zones: [zone], devices, tags });
}

function connect(config: SiteConfig, sink: MemorySink, metrics = new ConnectorMetrics()): Connector[] {
  const connectors = createModbusConnectors(config.devices, { site: config, sink, log: silentLogger, metrics, clock: Date.now, dataDir: '/nonexistent' });
  for (const connector of connectors) connector.start();
  return connectors;
}

describe('Modbus connector', function () {
  this.timeout(60_000);
  const running: Connector[] = [];
  afterEach(async () => {
    for (const connector of running.splice(0)) await connector.stop();
  });

  describe('several units behind one gateway (simulated plant)', () => {
    let server: ModbusPlantServer;
    let plant: SyntheticPlant;
    let config: SiteConfig;

    before(async () => {
      const port = await freePort();
      const endpoint = `tcp://127.0.0.1:${port}`;
      const backoff = { initial_ms: 300, max_ms: 1000 };
      config = site(
        [
          { id: 'rtu-a', protocol: 'modbus', endpoint, unit_id: 1, timeout_ms: 200, backoff, poll_groups: fast },
          { id: 'rtu-b', protocol: 'modbus', endpoint, unit_id: 2, timeout_ms: 200, backoff, poll_groups: fast },
        ],
        [
          { id: 'a.pressure', device: 'rtu-a', poll_group: 'fast', kind: 'pressure', unit: 'm', modbus: { table: 'input_register', address: 0, type: 'int16', scale: 0.01 } },
          { id: 'a.flow', device: 'rtu-a', poll_group: 'fast', kind: 'flow', unit: 'm3/h', modbus: { table: 'holding_register', address: 4, type: 'float32', byte_order: 'DCBA' } },
          { id: 'b.pressure', device: 'rtu-b', poll_group: 'fast', kind: 'pressure', unit: 'm', modbus: { table: 'input_register', address: 0, type: 'uint16', scale: 0.1 } },
          { id: 'b.pump', device: 'rtu-b', poll_group: 'fast', kind: 'pump_status', unit: 'bool', modbus: { table: 'coil', address: 3, type: 'bool' } },
        ],
      );
      plant = new SyntheticPlant(config);
      server = new ModbusPlantServer({ devices: config.devices as never, tags: config.tags, source: plant });
      await server.start();
    });
    after(async () => server.stop());

    it('polls every unit through one link, with values and good quality', async () => {
      plant.pin('a.pressure', 31.25);
      plant.pin('a.flow', 812.5);
      plant.pin('b.pressure', 42.7);
      plant.pin('b.pump', 1);
      const sink = new MemorySink();
      const connectors = connect(config, sink);
      running.push(...connectors);
      expect(connectors).to.have.length(1);
      expect(connectors[0]!.devices).to.deep.equal(['rtu-a', 'rtu-b']);
      await waitFor('samples of both units', async () => (sink.latest('a.flow') && sink.latest('b.pump') ? true : undefined));
      expect(sink.latest('a.pressure')).to.include({ value: 31.25, quality: 'good' });
      expect(sink.latest('a.flow')).to.include({ value: 812.5, quality: 'good' });
      expect(sink.latest('b.pressure')!.value).to.be.closeTo(42.7, 1e-9);
      expect(sink.latest('b.pump')!.value).to.equal(1);
    });

    it('a unit that stops answering is reported bad and backs off, without stalling the other unit', async () => {
      const sink = new MemorySink();
      running.push(...connect(config, sink));
      await waitFor('both online', async () => (sink.stateOf('rtu-a') === 'online' && sink.stateOf('rtu-b') === 'online' ? true : undefined));
      server.unit('rtu-b').offline = true;
      await waitFor('rtu-b offline', async () => (sink.stateOf('rtu-b') === 'offline' ? true : undefined));
      const offlineAt = sink.readings.length;
      await new Promise((resolve) => setTimeout(resolve, 1500));
      const during = sink.readings.slice(offlineAt);
      const aCycles = during.filter((reading) => reading.device === 'rtu-a');
      const bCycles = during.filter((reading) => reading.device === 'rtu-b');
      // rtu-a keeps its 100 ms rhythm; rtu-b's cycles deliver bad samples, never a stale value.
      expect(aCycles.length).to.be.at.least(10);
      expect(aCycles.every((reading) => reading.samples.every((sample) => sample.quality === 'good'))).to.equal(true);
      expect(bCycles.length).to.be.at.least(10);
      for (const reading of bCycles) for (const sample of reading.samples) expect(sample).to.include({ value: null, quality: 'bad' });
      // Gateway exception 0B is passed on as the source status while the unit is tried; -1 while it backs off.
      const statuses = new Set(bCycles.flatMap((reading) => reading.samples.map((sample) => sample.source_status)));
      expect([...statuses].every((status) => status === 0x0b || status === -1)).to.equal(true);
      expect(statuses.has(-1), 'cycles skipped while backing off').to.equal(true);
      server.unit('rtu-b').offline = false;
      await waitFor('rtu-b back online', async () => (sink.stateOf('rtu-b') === 'online' ? true : undefined));
      await waitFor('good rtu-b samples again', async () => (sink.latest('b.pressure')?.quality === 'good' ? true : undefined));
    });

    it('a dead link makes every unit bad and offline, and recovers when the PLC returns', async () => {
      const sink = new MemorySink();
      running.push(...connect(config, sink));
      await waitFor('online', async () => (sink.stateOf('rtu-a') === 'online' ? true : undefined));
      await server.stop();
      await waitFor('both offline', async () => (sink.stateOf('rtu-a') === 'offline' && sink.stateOf('rtu-b') === 'offline' ? true : undefined));
      expect(sink.latest('a.pressure')).to.include({ value: null, quality: 'bad', source_status: -1 });
      await server.start();
      await waitFor('both online again', async () => (sink.stateOf('rtu-a') === 'online' && sink.stateOf('rtu-b') === 'online' ? true : undefined), 20_000);
    });

    it('writes commands: a coil with FC5 and a float with FC16 change the plant', async () => {
      const sink = new MemorySink();
      const [connector] = connect(config, sink);
      running.push(connector!);
      plant.unpin('b.pump');
      await connector!.write('b.pump', 0);
      expect(plant.read('b.pump').value).to.equal(0);
      await connector!.write('a.flow', 99.5);
      expect(plant.read('a.flow').value).to.equal(99.5);
      const error = await connector!.write('a.pressure', 1).catch((caught: Error) => caught);
      expect(error).to.have.property('code', 'not_writable');
    });
  });

  describe('pymodbus as a third-party PLC', () => {
    let pymodbus: PymodbusServer;
    before(async () => {
      pymodbus = await startPymodbusServer(await freePort(), 200);
    });
    after(async () => pymodbus.stop());

    const tags = (addresses: number[]) =>
      addresses.map((address) => ({ id: `r${address}`, device: 'plc', poll_group: 'fast', kind: 'other', unit: 'count', modbus: { table: 'holding_register', address, type: 'uint16' } }));

    it('splits a merged read refused with exception 02/03, learns the invalid address and keeps reading the valid ones', async () => {
      const config = site([{ id: 'plc', protocol: 'modbus', endpoint: `tcp://127.0.0.1:${pymodbus.port}`, max_gap_registers: 10, poll_groups: fast }], tags([190, 195, 198, 205]));
      const sink = new MemorySink();
      const [connector] = connect(config, sink) as ModbusLinkConnector[];
      running.push(connector!);
      await waitFor('a full cycle after learning', async () => (sink.samples('r190').length >= 3 ? true : undefined));
      expect(sink.latest('r190')).to.include({ value: 190, quality: 'good' });
      expect(sink.latest('r195')).to.include({ value: 195, quality: 'good' });
      expect(sink.latest('r198')).to.include({ value: 198, quality: 'good' });
      const invalid = sink.latest('r205')!;
      expect(invalid).to.include({ value: null, quality: 'bad' });
      expect([2, 3]).to.include(invalid.source_status);
      // The first cycle already delivered the valid values, read by the split requests.
      expect(sink.readings[0]!.samples.find((sample) => sample.tag === 'r190')).to.include({ quality: 'good' });
      // From then on one read covers the three valid registers; the invalid one is no longer requested.
      expect(connector!.requestsPerCycle()).to.deep.equal({ plc: { fast: 1 } });
    });

    it('counts registers from 1 when the device says so', async () => {
      const config = site([{ id: 'plc', protocol: 'modbus', endpoint: `tcp://127.0.0.1:${pymodbus.port}`, addressing: 1, poll_groups: fast }], tags([11, 12]));
      const sink = new MemorySink();
      running.push(...connect(config, sink));
      await waitFor('values', async () => (sink.latest('r12') ? true : undefined));
      expect([sink.latest('r11')!.value, sink.latest('r12')!.value]).to.deep.equal([10, 11]);
    });

    it('writes single and multiple registers with FC6, FC16 and FC15, read back by pymodbus', async () => {
      const config = site(
        [
          { id: 'plc', protocol: 'modbus', endpoint: `tcp://127.0.0.1:${pymodbus.port}`, poll_groups: fast },
          { id: 'plc2', protocol: 'modbus', endpoint: `tcp://127.0.0.1:${pymodbus.port}`, unit_id: 1, poll_groups: fast },
        ].slice(0, 1),
        [
          { id: 'setpoint', device: 'plc', poll_group: 'fast', kind: 'setpoint', unit: 'm', modbus: { table: 'holding_register', address: 20, type: 'uint16', scale: 0.1 } },
          { id: 'target', device: 'plc', poll_group: 'fast', kind: 'setpoint', unit: 'm3/h', modbus: { table: 'holding_register', address: 30, type: 'float32', byte_order: 'CDAB' } },
          { id: 'pump', device: 'plc', poll_group: 'fast', kind: 'pump_status', unit: 'bool', modbus: { table: 'coil', address: 5, type: 'bool' } },
        ],
      );
      const sink = new MemorySink();
      const [connector] = connect(config, sink);
      running.push(connector!);
      await connector!.write('setpoint', 42.5);
      await connector!.write('target', 1234.5);
      await connector!.write('pump', 1);
      await waitFor('written values polled back', async () =>
        sink.latest('setpoint')?.value === 42.5 && sink.latest('target')?.value === 1234.5 && sink.latest('pump')?.value === 1 ? true : undefined,
      );
      const multiple = site([{ id: 'plc', protocol: 'modbus', endpoint: `tcp://127.0.0.1:${pymodbus.port}`, write_function: 'multiple', poll_groups: fast }], config.tags);
      const [multi] = connect(multiple, new MemorySink());
      running.push(multi!);
      await multi!.write('setpoint', 7);
      await multi!.write('pump', 0);
      await waitFor('values written with FC16 and FC15', async () => (sink.latest('setpoint')?.value === 7 && sink.latest('pump')?.value === 0 ? true : undefined));
    });
  });

  describe('RTU framing over TCP (pymodbus RTU gateway)', () => {
    it('polls a unit through an RTU-over-TCP gateway', async () => {
      const gateway = await startPymodbusServer(await freePort(), 50, { units: [3], rtuOverTcp: true });
      try {
        const config = site(
          [{ id: 'rtu', protocol: 'modbus', endpoint: `rtu-over-tcp://127.0.0.1:${gateway.port}`, unit_id: 3, poll_groups: fast }],
          [{ id: 'level', device: 'rtu', poll_group: 'fast', kind: 'level', unit: 'm', modbus: { table: 'input_register', address: 40, type: 'uint16', scale: 0.1 } }],
        );
        const sink = new MemorySink();
        running.push(...connect(config, sink));
        await waitFor('a value over RTU framing', async () => (sink.latest('level')?.quality === 'good' ? true : undefined));
        expect(sink.latest('level')!.value).to.equal(4);
      } finally {
        for (const connector of running.splice(0)) await connector.stop();
        await gateway.stop();
      }
    });
  });
});

describe('Modbus RTU on a serial line', function () {
  this.timeout(60_000);

  it('polls a simulated RTU device over a serial port pair', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'tirta-serial-'));
    // socat joins two pseudo-terminals: the device's end and the connector's end of one serial line.
    const line = spawn('socat', [`pty,raw,echo=0,link=${dir}/device`, `pty,raw,echo=0,link=${dir}/master`], { stdio: 'ignore' });
    const running: Connector[] = [];
    let device: { close(): Promise<void> } | undefined;
    try {
      await waitFor('the serial pair', async () => (existsSync(`${dir}/master`) && existsSync(`${dir}/device`) ? true : undefined));
      const config = site(
        [{ id: 'rtu', protocol: 'modbus', endpoint: `rtu://${dir}/master`, unit_id: 7, timeout_ms: 500, link: { serial: { baud_rate: 19_200, parity: 'even' } }, poll_groups: [{ id: 'fast', interval_ms: 200 }] }],
        [{ id: 'pressure', device: 'rtu', poll_group: 'fast', kind: 'pressure', unit: 'm', modbus: { table: 'holding_register', address: 25, type: 'uint16', scale: 0.01 } }],
      );
      const plant = new SyntheticPlant(config);
      plant.pin('pressure', 37.5);
      const unit = new SimulatedUnit(config.devices[0] as ModbusDevice, config.tags, plant);
      device = await serveRtuOnSerialLine(`${dir}/device`, new ModbusTcpServer({
        servesUnit: (id) => id === 7,
        readBits: (table, _unit, start, count) => unit.readRegisters(table, start, count).map((bit) => bit !== 0),
        readRegisters: (table, _unit, start, count) => unit.readRegisters(table, start, count),
        writeBits: (_unit, start, values) => unit.writeRegisters('coil', start, values.map(Number)),
        writeRegisters: (_unit, start, values) => unit.writeRegisters('holding_register', start, values),
      }));
      const sink = new MemorySink();
      running.push(...connect(config, sink));
      await waitFor('a value over the serial line', async () => (sink.latest('pressure')?.quality === 'good' ? true : undefined), 20_000);
      expect(sink.latest('pressure')!.value).to.equal(37.5);
    } finally {
      for (const connector of running) await connector.stop();
      await device?.close();
      line.kill();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
