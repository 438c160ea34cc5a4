// The project's benchmarks. Each measures on this machine and returns named figures.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { ConnectorMetrics } from '../../connectors/metrics.js';
import { ModbusClient } from '../../connectors/modbus/modbus-client.js';
import { createModbusConnectors, type ModbusLinkConnector } from '../../connectors/modbus/modbus-connector.js';
import { silentLogger } from '../../src/log.js';
import { benchSimulateDay } from '../../simulators/hydraulics/bench.js';
import { siteConfigSchema } from '../../src/contracts/site.js';
import { freePort } from '../../src/runtime/embedded-services.js';
import { ModbusPlantServer } from '../../simulators/modbus/modbus-plant-server.js';
import { SyntheticPlant } from '../../simulators/plant/synthetic-plant.js';
import { startPymodbusServer } from '../support/pymodbus-server.js';
import { replayYear } from './replay-year.js';
import { ingestThroughput, telemetryQueryLatency } from './telemetry-store.js';
import { detectionQuality } from './detection-quality.js';
import { complaintLoad } from './complaint-load.js';
import { engineMemory } from './engine-memory.js';

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

const BENCH_SECONDS = 5;

/** Closed loop: one client, one request in flight, 125-register reads for BENCH_SECONDS. */
async function closedLoopRate(port: number): Promise<number> {
  const client = new ModbusClient();
  await client.connectTCP('127.0.0.1', { port });
  client.setID(1);
  client.setTimeout(2000);
  const deadline = Date.now() + BENCH_SECONDS * 1000;
  let requests = 0;
  const started = process.hrtime.bigint();
  while (Date.now() < deadline) {
    const { data } = await client.readInputRegisters(0, 125);
    if (data.length !== 125) throw new Error(`short read: ${data.length} registers`);
    requests += 1;
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  await new Promise<void>((resolve) => client.close(() => resolve()));
  return requests / seconds;
}

/** mbpoll polling continuously at its fastest rate (10 ms): completed 125-register reads per second. */
async function mbpollRate(port: number): Promise<number> {
  const child = spawn('mbpoll', ['-m', 'tcp', '-p', String(port), '-a', '1', '-0', '-t', '3', '-r', '0', '-c', '125', '-l', '10', '-o', '1', '127.0.0.1']);
  let polls = 0;
  let errors = 0;
  child.stdout.on('data', (chunk: Buffer) => {
    polls += (chunk.toString().match(/^\[124\]:/gm) ?? []).length;
  });
  child.stderr.on('data', () => (errors += 1));
  await new Promise((resolve) => setTimeout(resolve, BENCH_SECONDS * 1000));
  child.kill('SIGINT');
  await once(child, 'close');
  if (errors > 0) throw new Error(`mbpoll reported ${errors} errors`);
  return polls / BENCH_SECONDS;
}

async function modbusServeRate(): Promise<BenchmarkResult> {
  const tirtaPort = await freePort();
  const tags = Array.from({ length: 125 }, (_, index) => ({
    id: `t${index}`, device: 'plc', poll_group: 'fast', kind: 'pressure', unit: 'm', modbus: { table: 'input_register', address: index, type: 'uint16' },
  }));
  const site = siteConfigSchema.parse({
    site: { id: 'bench', name: 'Bench' },
    zones: [{ id: 'z', name: 'Z', customers: 1, boundary: { type: 'Polygon', coordinates: [[[0, 0], [1, 0], [1, 1], [0, 0]]] } }],
    devices: [{ id: 'plc', protocol: 'modbus', endpoint: `tcp://127.0.0.1:${tirtaPort}`, poll_groups: [{ id: 'fast', interval_ms: 1000 }] }],
    tags,
  });
  const device = site.devices[0]!;
  if (device.protocol !== 'modbus') throw new Error('bench device must be Modbus');
  const tirta = new ModbusPlantServer({ devices: [device], tags: site.tags, source: new SyntheticPlant(site) });
  await tirta.start();
  const pymodbusPort = await freePort();
  const pymodbus = await startPymodbusServer(pymodbusPort, 200);
  try {
    const figures: Figure[] = [
      { name: 'Tirta simulator, closed loop', value: await closedLoopRate(tirtaPort), unit: 'req/s', note: '125 input registers per read, one request in flight (modbus-serial client)' },
      { name: 'pymodbus server, closed loop', value: await closedLoopRate(pymodbusPort), unit: 'req/s', note: 'the same client against pymodbus 3.0 (Debian) as the reference' },
      { name: 'Tirta simulator, mbpoll at 10 ms', value: await mbpollRate(tirtaPort), unit: 'req/s', note: 'mbpoll cannot poll faster than every 10 ms' },
      { name: 'pymodbus server, mbpoll at 10 ms', value: await mbpollRate(pymodbusPort), unit: 'req/s', note: 'the third-party reference pair' },
    ];
    return { name: 'modbus-simulator', figures };
  } finally {
    await pymodbus.stop();
    await tirta.stop();
  }
}

async function simulateDay(): Promise<BenchmarkResult> {
  const result = await benchSimulateDay();
  return {
    name: 'hydraulic-model',
    figures: [{ name: 'wall time per simulated day', value: result.secondsPerSimulatedDay, unit: 's', note: `demo town, 1-minute steps (${result.steps} solver steps), demand noise on` }],
  };
}

const PLCS = 20;
const TAGS_PER_PLC = 500;

/** 20 PLCs of 500 float32 tags each, polled every second, as the planner or as one read per tag would. */
async function connectorScale(): Promise<BenchmarkResult> {
  const ports = await Promise.all(Array.from({ length: PLCS }, () => freePort()));
  const tags = ports.flatMap((_, plc) =>
    Array.from({ length: TAGS_PER_PLC }, (__, index) => ({
      id: `plc${plc}.t${index}`, device: `plc${plc}`, poll_group: 'fast', kind: 'pressure', unit: 'm',
      modbus: { table: 'holding_register', address: index * 2, type: 'float32' },
    })),
  );
  const siteFor = (naive: boolean) =>
    siteConfigSchema.parse({
      site: { id: 'bench', name: 'Bench' },
      zones: [{ id: 'z', name: 'Z', customers: 1, boundary: { type: 'Polygon', coordinates: [[[0, 0], [1, 0], [1, 1], [0, 0]]] } }],
      devices: ports.map((port, plc) => ({
        id: `plc${plc}`, protocol: 'modbus', endpoint: `tcp://127.0.0.1:${port}`, timeout_ms: 2000,
        // The naive plan: one read per tag.
        ...(naive ? { max_registers_per_read: 2, max_gap_registers: 0 } : {}),
        poll_groups: [{ id: 'fast', interval_ms: 1000 }],
      })),
      tags,
    });
  const farm = spawn(process.execPath, ['--import', 'tsx', 'test/bench/plc-farm.ts'], { stdio: ['pipe', 'pipe', 'inherit'] });
  farm.stdin!.write(`${JSON.stringify(siteFor(false))}\n`);
  await new Promise<void>((resolve, reject) => {
    farm.stdout!.once('data', () => resolve());
    farm.once('exit', (code) => reject(new Error(`PLC farm exited with ${code}`)));
  });
  const measure = async (naive: boolean, seconds: number) => {
    const site = siteFor(naive);
    let updates = 0;
    let bad = 0;
    const sink = {
      deliver(reading: { samples: Array<{ quality: string }> }) {
        for (const sample of reading.samples) {
          if (sample.quality === 'good') updates += 1;
          else bad += 1;
        }
      },
      deviceState() {},
    };
    const connectors = createModbusConnectors(site.devices, { site, sink, log: silentLogger, metrics: new ConnectorMetrics(), clock: Date.now, dataDir: '/nonexistent' }) as ModbusLinkConnector[];
    const requestsPerCycle = connectors.reduce((sum, connector) => sum + Object.values(connector.requestsPerCycle()).reduce((total, groups) => total + Object.values(groups).reduce((a, b) => a + b, 0), 0), 0);
    // One warm-up second, then the measured window.
    for (const connector of connectors) connector.start();
    await new Promise((resolve) => setTimeout(resolve, 1000));
    updates = 0;
    bad = 0;
    const cpuBefore = process.cpuUsage();
    const startedAt = process.hrtime.bigint();
    await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
    const wallS = Number(process.hrtime.bigint() - startedAt) / 1e9;
    const cpu = process.cpuUsage(cpuBefore);
    const memory = process.memoryUsage();
    for (const connector of connectors) await connector.stop();
    return { updatesPerS: updates / wallS, badPerS: bad / wallS, requestsPerCycle, cpuPercent: ((cpu.user + cpu.system) / 1e6 / wallS) * 100, rssMiB: memory.rss / 2 ** 20, heapMiB: memory.heapUsed / 2 ** 20 };
  };
  try {
    const planned = await measure(false, 15);
    const naive = await measure(true, 10);
    const tagCount = PLCS * TAGS_PER_PLC;
    return {
      name: 'modbus-connector',
      figures: [
        { name: 'tag updates per second, planned reads', value: planned.updatesPerS, unit: 'updates/s', note: `${tagCount} float32 tags on ${PLCS} simulated PLCs, 1 s poll; ${tagCount} is every tag every second` },
        { name: 'requests per cycle, planned', value: planned.requestsPerCycle, unit: 'requests', note: 'merged reads of up to 125 registers' },
        { name: 'requests per cycle, one read per tag', value: naive.requestsPerCycle, unit: 'requests', note: 'the naive plan, same tags' },
        { name: 'tag updates per second, one read per tag', value: naive.updatesPerS, unit: 'updates/s', note: 'the naive plan, same tags and PLCs' },
        { name: 'connector CPU per 10,000 tags at 1 s, planned', value: planned.cpuPercent * (10_000 / tagCount), unit: '% of one core', note: 'simulated PLCs in another process' },
        { name: 'connector CPU per 10,000 tags at 1 s, one read per tag', value: naive.cpuPercent * (10_000 / tagCount), unit: '% of one core', note: 'the naive plan' },
        { name: 'connector resident memory', value: planned.rssMiB, unit: 'MiB', note: `whole process after polling ${tagCount} tags (heap ${planned.heapMiB.toFixed(0)} MiB)` },
      ],
    };
  } finally {
    farm.stdin!.end();
    await new Promise((resolve) => farm.once('exit', resolve));
  }
}

export const benchmarks: Benchmark[] = [
  { name: 'modbus-simulator', description: 'Modbus TCP reads of 125 registers served by the simulated PLC, against pymodbus as reference', run: modbusServeRate },
  { name: 'hydraulic-model', description: 'one day of the demo network at 1-minute steps', run: simulateDay },
  { name: 'modbus-connector', description: '10,000 tags on 20 simulated PLCs at 1 s, planned reads against one read per tag', run: connectorScale },
  { name: 'telemetry-ingest', description: 'points per second from MQTT into PostgreSQL, against a raw COPY of the same rows', run: ingestThroughput },
  { name: 'replay-year', description: 'tirta replay over a year of 5-minute data for 50 tags', run: replayYear },
  { name: 'telemetry-query', description: 'p50 and p95 of a 7-day, 1-minute query of 10 tags over 30 days of data', run: telemetryQueryLatency },
  { name: 'detection-quality', description: 'incidents, complaint assignment and work orders scored against simulated ground truth (leaks, a burst, pump trips, sensor faults, a normal day; 3 seeds)', run: detectionQuality },
  { name: 'engine-memory', description: 'retained heap of the correlation over 30 simulated days of complaints and bursts, against the decision window', run: engineMemory },
  { name: 'complaint-load', description: 'complaints at 200/s for 60 s through the API while 10,000 tags stream: complaint to work order latency, errors, memory of the ingest, engine and api processes', run: complaintLoad },
];
