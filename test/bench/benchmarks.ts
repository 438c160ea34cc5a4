// The project's benchmarks. Each measures on this machine and returns named figures.
import { ModbusClient } from '../../connectors/modbus/modbus-client.js';
import { siteConfigSchema } from '../../src/contracts/site.js';
import { freePort } from '../../src/runtime/embedded-services.js';
import { ModbusPlantServer } from '../../simulators/modbus/modbus-plant-server.js';
import { SyntheticPlant } from '../../simulators/plant/synthetic-plant.js';

export interface Figure {
  name: string;
  value: number;
  unit: string;
  note?: string;
}

export interface BenchmarkResult {
  name: string;
  figures: Figure[];
}

export interface Benchmark {
  name: string;
  description: string;
  run(): Promise<BenchmarkResult>;
}

async function modbusServeRate(): Promise<BenchmarkResult> {
  const port = await freePort();
  const tags = Array.from({ length: 125 }, (_, index) => ({
    id: `t${index}`, device: 'plc', poll_group: 'fast', kind: 'pressure', unit: 'm', modbus: { table: 'input_register', address: index, type: 'uint16' },
  }));
  const site = siteConfigSchema.parse({
    site: { id: 'bench', name: 'Bench' },
    zones: [{ id: 'z', name: 'Z', customers: 1, boundary: { type: 'Polygon', coordinates: [[[0, 0], [1, 0], [1, 1], [0, 0]]] } }],
    devices: [{ id: 'plc', protocol: 'modbus', endpoint: `tcp://127.0.0.1:${port}`, poll_groups: [{ id: 'fast', interval_ms: 1000 }] }],
    tags,
  });
  const device = site.devices[0]!;
  if (device.protocol !== 'modbus') throw new Error('bench device must be Modbus');
  const server = new ModbusPlantServer({ device, tags: site.tags, source: new SyntheticPlant(site) });
  await server.start();
  const client = new ModbusClient();
  await client.connectTCP('127.0.0.1', { port });
  client.setID(1);
  client.setTimeout(2000);
  const durationMs = 5000;
  const deadline = Date.now() + durationMs;
  let requests = 0;
  const started = process.hrtime.bigint();
  while (Date.now() < deadline) {
    const { data } = await client.readInputRegisters(0, 125);
    if (data.length !== 125) throw new Error(`short read: ${data.length} registers`);
    requests += 1;
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  await new Promise<void>((resolve) => client.close(() => resolve()));
  await server.stop();
  return {
    name: 'modbus-simulator',
    figures: [{ name: 'requests served per second', value: requests / seconds, unit: 'req/s', note: '125 input registers per read, one client, one request in flight' }],
  };
}

export const benchmarks: Benchmark[] = [
  { name: 'modbus-simulator', description: 'Modbus TCP reads of 125 registers served by the simulated PLC', run: modbusServeRate },
];
