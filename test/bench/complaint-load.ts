// Load benchmark: complaints posted to the API at 200 per second for 60 s while 10,000 tags stream
// into ingest and the engine, against the machine's PostgreSQL and MQTT broker (DATABASE_URL,
// MQTT_URL; embedded ones otherwise). The ingest, engine and api roles run as `tirta` processes of
// their own, as a site deploys them, so that their memory is measured apart from the load
// generator. Measured: how long each complaint takes from its request to a work order that
// covers it, the errors and latency of the requests, telemetry stored meanwhile, and the roles'
// resident memory and CPU (Linux /proc) through the load.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import autocannon from 'autocannon';
import mqtt, { type MqttClient } from 'mqtt';
import { parse as parseYaml } from 'yaml';
import { createApiKey } from '../../src/access/accounts.js';
import type { ComplaintBody, ComplaintCategory, ComplaintChannel } from '../../src/contracts/complaint.js';
import { offsetM } from '../../src/contracts/geometry.js';
import { siteConfigSchema, type LatLon } from '../../src/contracts/site.js';
import { topics, type TelemetryBatch } from '../../src/contracts/telemetry.js';
import { mulberry32 } from '../../simulators/random.js';
import { leastSquaresSlope } from './least-squares.js';
import { freshDatabase, testServices, type FreshDatabase } from '../support/services.js';
import type { BenchmarkResult, Figure } from './benchmarks.js';

const COMPLAINTS_PER_S = 200;
const LOAD_SECONDS = 60;
/** Each connection sends its share of a second's requests one after another (autocannon's rate limit). */
const CONNECTIONS = 100;
const STREAM_DEVICES = 20;
const TAGS_PER_DEVICE = 500;
/** Telemetry streams this long before the load, so that ingest and the engine are in their steady state. */
const WARM_UP_MS = 20_000;
/** The site's work_order.settle_ms for the run (default 5 min, longer than the whole load). */
const SETTLE_MS = 10_000;
/**
 * The correlation windows for the run (match.lookback_ms, cluster.window_ms, decision_window_ms;
 * defaults 24 h, 1 h and 7 days), so that the engine reaches the steady state it would reach after
 * a week within the load, and its memory there can be judged; engine-memory covers the defaults.
 */
const CORRELATION_WINDOW_MS = 5_000;
const RESOLUTION_POLL_MS = 200;
/**
 * Memory is judged on the heap each full collection leaves (V8's --trace-gc), over the load after
 * its first 20 s, by when sockets, pools and compiled code are in place. Resident memory is
 * reported too, but over a minute it mostly shows where the collector is in its cycle.
 */
const MEMORY_WINDOW_S = 40;
/** Each role's V8 heap limit, as a deployment sizes it; it also makes full collections frequent enough to measure. */
const ROLE_HEAP_MIB = 512;
/** Flat: no role's retained heap grows by more than this over the window, per minute. */
const FLAT_MIB_PER_MIN = 5;
const PROGRESS_EVERY_MS = 10_000;
/** After the load, how long the last complaints may still take to reach a work order (four times the floor of a healthy run). */
const DRAIN_TIMEOUT_MS = 60_000;
const SEED = 20_261_128;
const ROLES = ['ingest', 'engine', 'api'] as const;
/** A role still running this long after SIGTERM is killed. */
const STOP_TIMEOUT_MS = 15_000;
type Role = (typeof ROLES)[number];

/** The log line each role writes once it is serving. */
const READY: Record<Role, string> = {
  ingest: 'ingest connected to broker',
  engine: 'engine caught up from stored telemetry and complaints',
  api: 'Tirta API listening on',
};

/** Where complaints come from: a few streets of the demo town, each with its own mix of problems. */
const HOTSPOTS: ReadonlyArray<{ zone: string; centre: LatLon; weight: number; categories: ReadonlyArray<readonly [ComplaintCategory, number]> }> = [
  { zone: 'dma-1', centre: { lat: -6.893, lon: 107.608 }, weight: 3, categories: [['no_water', 6], ['low_pressure', 3], ['leak_burst', 1]] },
  { zone: 'dma-1', centre: { lat: -6.8895, lon: 107.615 }, weight: 1, categories: [['low_pressure', 1]] },
  { zone: 'dma-2', centre: { lat: -6.9075, lon: 107.61 }, weight: 3, categories: [['leak_burst', 5], ['no_water', 3], ['low_pressure', 2]] },
  { zone: 'dma-3', centre: { lat: -6.899, lon: 107.63 }, weight: 2, categories: [['no_water', 1], ['low_pressure', 1]] },
  { zone: 'dma-3', centre: { lat: -6.908, lon: 107.633 }, weight: 1, categories: [['low_pressure', 1]] },
];
/** Complainants live within this distance of their hotspot. */
const SCATTER_M = 250;
const CHANNELS: ReadonlyArray<readonly [ComplaintChannel, number]> = [['call_center', 35], ['whatsapp', 30], ['social_media', 15], ['web', 12], ['walk_in', 8]];
const TEXTS: Record<ComplaintCategory, string> = {
  no_water: 'Air tidak keluar sama sekali sejak pagi.',
  low_pressure: 'Tekanan air sangat lemah, tidak bisa naik ke toren.',
  leak_burst: 'Pipa bocor, air menyembur ke jalan.',
  water_quality: 'Air keruh dan berbau.',
  other: 'Meteran air rusak.',
};

const MIB = 2 ** 20;

export async function complaintLoad(): Promise<BenchmarkResult> {
  const db = await freshDatabase();
  const { mqttUrl } = await testServices();
  const workDir = await mkdtemp(path.join(os.tmpdir(), 'tirta-complaint-load-'));
  const roles = new Map<Role, RoleProcess>();
  let stream: TelemetryStream | undefined;
  let resources: ResourceSampler | undefined;
  let resolutions: WorkOrderResolutions | undefined;
  let cleanRun = false;
  try {
    const { siteFile, siteId, streamDevices } = await writeLoadSite(workDir);
    const env = {
      DATABASE_URL: db.url,
      MQTT_URL: mqttUrl,
      PORT: '0',
      HOST: '127.0.0.1',
      TIRTA_SITE_CONFIG: siteFile,
      TIRTA_DATA_DIR: workDir,
      TIRTA_METRICS_PORT: '0',
      LOG_LEVEL: 'info',
    };
    // One at a time: each applies migrations and registers the site's 10,000 tags at start.
    for (const role of ROLES) {
      console.error(`  starting tirta ${role}`);
      roles.set(role, await RoleProcess.start(role, { ...env, TIRTA_INSTANCE_ID: `bench-${role}` }, workDir));
    }
    const apiUrl = roles.get('api')!.url!;
    const apiKey = await createApiKey(db.pool, { name: 'complaint-load', role: 'operator' });

    stream = await TelemetryStream.start(mqttUrl, siteId, streamDevices);
    await sleep(WARM_UP_MS);

    const sampler = new ResourceSampler(roles);
    const watcher = new WorkOrderResolutions(db, siteId);
    resources = sampler;
    resolutions = watcher;
    const complaints = new ComplaintSource(SEED);
    const telemetryAtStart = await countTelemetry(db);
    const loadStartedMs = Date.now();
    const load = { answered: 0, failures: 0, created: 0 };
    sampler.start();
    watcher.start(complaints.sentAtMs);
    const progress = setInterval(() => {
      const seconds = Math.round((Date.now() - loadStartedMs) / 1000);
      console.error(`  ${seconds} s: ${complaints.sent} complaints sent, ${load.answered} answered, ${load.failures} errors, ${watcher.resolved.size} with a work order; roles' RSS ${sampler.describeLatest()}`);
    }, PROGRESS_EVERY_MS);
    let result: autocannon.Result;
    try {
      result = await new Promise<autocannon.Result>((resolve, reject) => {
        const instance = autocannon(
          {
            url: apiUrl,
            connections: CONNECTIONS,
            overallRate: COMPLAINTS_PER_S,
            duration: LOAD_SECONDS,
            // The rate limit sends a connection's share in bursts; its coordinated-omission
            // correction assumes evenly spaced requests and would invent latencies.
            ignoreCoordinatedOmission: true,
            requests: [
              {
                method: 'POST',
                path: '/api/v1/complaints',
                headers: { 'content-type': 'application/json', authorization: `Bearer ${apiKey}` },
                // Called as each request is written, so the complaint's send time is known.
                setupRequest: (request) => ({ ...request, body: JSON.stringify(complaints.next()) }),
              },
            ],
          },
          (error: unknown, done: autocannon.Result) => (error ? reject(error) : resolve(done)),
        );
        instance.on('response', (_client, statusCode) => {
          load.answered += 1;
          if (statusCode === 201) load.created += 1;
          else load.failures += 1;
        });
        instance.on('reqError', () => (load.failures += 1));
      });
    } finally {
      clearInterval(progress);
    }
    const loadEndedMs = Date.now();
    sampler.stop();
    if (sampler.failure !== undefined) throw sampler.failure;
    const telemetryAtEnd = await countTelemetry(db);
    const loadSeconds = (loadEndedMs - loadStartedMs) / 1000;

    const acceptedIds = (await db.pool.query<{ external_id: string }>('SELECT external_id FROM complaint WHERE site_id = $1', [siteId])).rows.map((row) => row.external_id);
    const accepted = acceptedIds.length;
    console.error(`  load done: ${accepted} complaints stored; waiting for their work orders`);
    const drainStartedMs = Date.now();
    let reportedAtMs = drainStartedMs;
    // Requests still in flight when the load ended may add complaints after the count: judge the accepted ones only.
    const resolvedOfAccepted = () => acceptedIds.filter((id) => watcher.resolved.has(id)).length;
    while (resolvedOfAccepted() < accepted && Date.now() - drainStartedMs < DRAIN_TIMEOUT_MS) {
      await sleep(RESOLUTION_POLL_MS);
      if (Date.now() - reportedAtMs >= PROGRESS_EVERY_MS) {
        reportedAtMs = Date.now();
        console.error(`  ${resolvedOfAccepted()} of ${accepted} complaints with a work order`);
      }
    }
    const resolved = resolvedOfAccepted();
    await watcher.stop();
    if (watcher.failure !== undefined) throw watcher.failure;
    const waitEndedMs = Date.now();
    const workOrders = (await db.pool.query<{ code: string; job_type: string; priority: string; zone_id: string; complaints: number }>(
      `SELECT w.code, w.job_type, w.priority, w.zone_id, count(c.id)::int AS complaints
       FROM work_order w LEFT JOIN complaint c ON c.incident_id = w.incident_id
       WHERE w.site_id = $1 GROUP BY w.id ORDER BY w.code`,
      [siteId],
    )).rows;
    for (const order of workOrders) console.error(`  ${order.code}: ${order.job_type}, ${order.priority}, ${order.zone_id}, ${order.complaints} complaints`);
    const windowFromMs = loadEndedMs - MEMORY_WINDOW_S * 1000;
    const retainedGrowth = new Map(
      [...roles.values()].map((role) => {
        const collections = role.fullCollections.filter((collection) => collection.atMs >= windowFromMs && collection.atMs <= loadEndedMs);
        return [role.role, { collections: collections.length, slope: leastSquaresSlope(collections.map((collection) => ({ x: collection.atMs / 60_000, y: collection.retainedMiB }))), last: collections.at(-1)?.retainedMiB ?? Number.NaN }];
      }),
    );
    const stops = await stopRoles(roles);

    // A complaint still without a work order counts with the time it has waited so far, which
    // makes every percentile a lower bound of the true one.
    const waitedS = acceptedIds.map((id) => (watcher.resolved.get(id) ?? waitEndedMs - complaints.sentAtMs.get(id)!) / 1000).sort((a, b) => a - b);
    const unresolved = accepted - resolved;
    const bound = unresolved === 0 ? '' : `at least (${unresolved.toLocaleString('en-US')} complaints still had none ${DRAIN_TIMEOUT_MS / 1000} s after the load and count with their wait so far); `;
    const errors = result.non2xx + result.errors + result.timeouts;
    const requestRate = (result['2xx'] + result.non2xx) / result.duration;
    const first = sampler.first();
    const last = sampler.last();
    const cpu = sampler.cpuPercent();
    const fastestGrowth = Math.max(...[...retainedGrowth.values()].map((growth) => growth.slope));
    const slowestStop = Math.max(...stops.map((stop) => stop.seconds));
    const floor = `floor: the engine's 15 s event-time lateness, up to 1 s between telemetry samples and its 1 s complaint poll`;
    const figures: Figure[] = [
      { name: 'complaint to its work order, p50', value: percentile(waitedS, 50), unit: 's', note: `${bound}from the request being sent to a work order covering the complaint being in the database (polled every ${RESOLUTION_POLL_MS} ms); ${floor}` },
      { name: 'complaint to its work order, p99', value: percentile(waitedS, 99), unit: 's', note: `${bound}complaints of an incident's first ${SETTLE_MS / 1000} s also wait for its settling time (work_order.settle_ms shortened from 5 min to ${SETTLE_MS / 1000} s for the run)` },
      { name: 'complaint to its work order, max', value: waitedS.at(-1) ?? Number.NaN, unit: 's', note: bound.replace(/; $/, '') },
      { name: 'complaints that got a work order', value: resolved, unit: 'complaints', note: `of ${accepted.toLocaleString('en-US')} accepted, by ${DRAIN_TIMEOUT_MS / 1000} s after the load; ${workOrders.length} work orders (${HOTSPOTS.length} hotspots in 3 zones; unverified supply complaints may open one)` },
      { name: 'errors', value: errors, unit: 'requests', note: `non-2xx ${result.non2xx}, connection errors ${result.errors}, timeouts ${result.timeouts}; expected 0` },
      { name: 'complaint requests answered per second', value: requestRate, unit: 'req/s', note: `POST /api/v1/complaints, target ${COMPLAINTS_PER_S}/s for ${LOAD_SECONDS} s, each a new complaint (autocannon, ${CONNECTIONS} connections, operator API key; a connection sends only after its previous answer, so slow answers lower the rate)` },
      { name: 'complaint request latency, p50', value: result.latency.p50, unit: 'ms', note: 'autocannon, request written to response read; each connection sends its share of a second back to back' },
      { name: 'complaint request latency, p99', value: result.latency.p99, unit: 'ms', note: '' },
      { name: 'telemetry stored during the load', value: (telemetryAtEnd - telemetryAtStart) / loadSeconds, unit: 'points/s', note: `${(STREAM_DEVICES * TAGS_PER_DEVICE).toLocaleString('en-US')} tags of ${STREAM_DEVICES} devices at 1 s published to the broker (one batch per device and second), stored by the ingest role; rows added to telemetry over the load` },
      { name: "roles' resident memory at load start", value: first.totalMiB, unit: 'MiB', note: `ingest, engine and api processes summed (${describeByRole(first.byRole, 0)}) after ${WARM_UP_MS / 1000} s of telemetry` },
      { name: "roles' resident memory at load end", value: last.totalMiB, unit: 'MiB', note: describeByRole(last.byRole, 0) },
      {
        name: `fastest growth of a role's retained heap over the last ${MEMORY_WINDOW_S} s`,
        value: fastestGrowth,
        unit: 'MiB/min',
        note: `least-squares slope of the heap left by each full collection, each role's V8 heap limited to ${ROLE_HEAP_MIB} MiB (${ROLES.map((role) => {
          const growth = retainedGrowth.get(role)!;
          return `${role} ${growth.slope.toFixed(1)} over ${growth.collections} collections, last ${growth.last.toFixed(0)} MiB`;
        }).join('; ')}); correlation windows ${CORRELATION_WINDOW_MS / 1000} s for the run, so the engine is in its steady state; flat means every role under ${FLAT_MIB_PER_MIN} MiB/min: ${fastestGrowth < FLAT_MIB_PER_MIN ? 'flat' : 'not flat'}`,
      },
      { name: "roles' CPU during the load", value: cpu.total, unit: '% of one core', note: `${describeByRole(cpu.byRole, 0)}; ${os.cpus().length} cores shared with PostgreSQL, the broker and the load generator` },
      {
        name: 'slowest role to stop on SIGTERM',
        value: slowestStop,
        unit: 's',
        note: `${stops.map((stop) => `${stop.role} ${stop.code === 0 ? 'exit 0' : stop.code === null ? 'killed' : `exit ${stop.code}`} after ${stop.seconds.toFixed(1)} s`).join(', ')}; goal: exit 0 within 10 s (killed after ${STOP_TIMEOUT_MS / 1000} s)`,
      },
    ];
    console.error(`  ${load.created} created, ${load.failures} errors seen by the load generator; work orders for ${resolved} of ${accepted} complaints`);
    cleanRun = stops.every((stop) => stop.code === 0);
    return { name: 'complaint-load', figures };
  } finally {
    // After a failure, these still run.
    resources?.stop();
    await resolutions?.stop();
    await stopRoles(roles);
    await stream?.stop();
    await db.drop();
    if (cleanRun) await rm(workDir, { recursive: true, force: true });
    else console.error(`  role logs kept in ${workDir}`);
  }
}

/** Stops the roles, the api first and ingest last, as a site would drain them. */
async function stopRoles(roles: Map<Role, RoleProcess>): Promise<Array<{ role: Role; code: number | null; seconds: number }>> {
  const stops = [];
  for (const role of [...ROLES].reverse()) {
    const roleProcess = roles.get(role);
    if (roleProcess === undefined) continue;
    roles.delete(role);
    stops.push({ role, ...(await roleProcess.stop()) });
  }
  return stops;
}

/**
 * The demo town under its own site id, plus 20 devices of 500 pressure tags each (the stream),
 * and correlation settings under which a run of one minute opens work orders: unverified supply
 * complaints may open one, after 10 s of settling.
 */
async function writeLoadSite(workDir: string): Promise<{ siteFile: string; siteId: string; streamDevices: Array<{ id: string; tags: string[] }> }> {
  const demo = parseYaml(await readFile('config/demo-town.yaml', 'utf8')) as Record<string, any>;
  // Its own id: a broker shared with tests or other runs never mixes their topics or ingest groups.
  const siteId = `load-town-${process.pid}-${Date.now().toString(36)}`;
  const zones = (demo.zones as Array<{ id: string }>).map((zone) => zone.id);
  const streamDevices = Array.from({ length: STREAM_DEVICES }, (_, device) => {
    const id = `load-plc-${String(device).padStart(2, '0')}`;
    return { id, tags: Array.from({ length: TAGS_PER_DEVICE }, (__, index) => `${id}.pressure-${String(index).padStart(3, '0')}`) };
  });
  const raw = {
    ...demo,
    site: { ...demo.site, id: siteId },
    // Never polled: no connector runs; the stream is published straight to the broker.
    devices: [
      ...demo.devices,
      ...streamDevices.map((device, index) => ({ id: device.id, protocol: 'modbus', endpoint: `tcp://127.0.0.1:${20_000 + index}`, poll_groups: [{ id: 'fast', interval_ms: 1000 }] })),
    ],
    tags: [
      ...demo.tags,
      ...streamDevices.flatMap((device) =>
        device.tags.map((id, index) => ({
          id,
          device: device.id,
          poll_group: 'fast',
          kind: 'pressure',
          unit: 'm',
          zone: zones[index % zones.length],
          range: { min: 0, max: 100 },
          modbus: { table: 'holding_register', address: index * 2, type: 'float32' },
        })),
      ),
    ],
    correlation: {
      ...demo.correlation,
      work_order: { ...demo.correlation?.work_order, settle_ms: SETTLE_MS, open_unverified: { no_water: true, low_pressure: true, leak_burst: true } },
      match: { ...demo.correlation?.match, lookback_ms: CORRELATION_WINDOW_MS },
      cluster: { ...demo.correlation?.cluster, window_ms: CORRELATION_WINDOW_MS },
      decision_window_ms: CORRELATION_WINDOW_MS,
    },
  };
  siteConfigSchema.parse(raw);
  const siteFile = path.join(workDir, 'site.json');
  await writeFile(siteFile, JSON.stringify(raw));
  return { siteFile, siteId, streamDevices };
}

/** A --trace-gc line of a full collection, with its isolate: "[pid:0x3e75]  1297 ms: Mark-Compact 201.3 (230.5) -> 150.2 (231.0) MB, ...". */
const FULL_COLLECTION = /^\[\d+:(0x[0-9a-f]+)\]\s+(\d+) ms: Mark-Compact(?: \(reduce\))? [\d.]+ \([\d.]+\) -> ([\d.]+) \([\d.]+\) MB/;

/** One `tirta` role in a process of its own, its output written to a log file. */
class RoleProcess {
  private constructor(
    readonly role: Role,
    private readonly child: ChildProcess,
    private readonly exited: Promise<number | null>,
    /** The API's address, for the api role. */
    readonly url: string | undefined,
  ) {}

  static async start(role: Role, env: Record<string, string>, logDir: string, timeoutMs = 60_000): Promise<RoleProcess> {
    const logFile = path.join(logDir, `${role}.log`);
    const log = createWriteStream(logFile);
    const spawnedAtMs = Date.now();
    const child = spawn(process.execPath, ['--trace-gc', `--max-old-space-size=${ROLE_HEAP_MIB}`, 'src/cli/bin.js', role], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.pipe(log, { end: false });
    child.stderr!.pipe(log, { end: false });
    const exited = new Promise<number | null>((resolve) =>
      child.once('exit', (code, signal) => {
        log.end();
        resolve(signal === null ? code : null);
      }),
    );
    let seen = '';
    const url = await new Promise<string | undefined>((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`tirta ${role} not ready within ${timeoutMs} ms; log: ${logFile}`));
      }, timeoutMs);
      const onOutput = (chunk: Buffer) => {
        seen += chunk.toString();
        const line = seen.split('\n').find((candidate) => candidate.includes(READY[role]));
        if (line === undefined) return;
        clearTimeout(timer);
        child.stdout!.off('data', onOutput);
        resolve(role === 'api' ? (JSON.parse(line) as { url: string }).url : undefined);
      };
      child.stdout!.on('data', onOutput);
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`tirta ${role} exited (${code ?? signal}) before it was ready:\n${seen.slice(-4000)}`));
      });
    });
    const roleProcess = new RoleProcess(role, child, exited, url);
    // Worker threads have heaps of their own: the process's retained heap is the sum of each heap's latest.
    const retainedByIsolate = new Map<string, number>();
    let partial = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      const lines = (partial + chunk.toString()).split('\n');
      partial = lines.pop()!;
      for (const line of lines) {
        const match = FULL_COLLECTION.exec(line);
        if (match === null) continue;
        retainedByIsolate.set(match[1]!, Number(match[3]));
        // V8's own time stamp (ms since its isolate started, within a second of the spawn for workers too): lines can reach the pipe in bunches.
        roleProcess.fullCollections.push({ atMs: spawnedAtMs + Number(match[2]), retainedMiB: [...retainedByIsolate.values()].reduce((sum, mib) => sum + mib, 0) });
      }
    });
    return roleProcess;
  }

  /** The heap each full collection left, as V8's --trace-gc prints it. */
  readonly fullCollections: Array<{ atMs: number; retainedMiB: number }> = [];

  get pid(): number {
    return this.child.pid!;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** SIGTERM, as a service manager stops it; SIGKILL if it is still running after STOP_TIMEOUT_MS. Null: killed. */
  async stop(): Promise<{ code: number | null; seconds: number }> {
    const startedMs = Date.now();
    if (this.running) this.child.kill('SIGTERM');
    const killer = setTimeout(() => this.child.kill('SIGKILL'), STOP_TIMEOUT_MS);
    try {
      return { code: await this.exited, seconds: (Date.now() - startedMs) / 1000 };
    } finally {
      clearTimeout(killer);
    }
  }
}

/** Every stream tag's value once a second, one batch per device, as connectors publish them. */
class TelemetryStream {
  private timer: NodeJS.Timeout | undefined;
  private seq = 0;
  private failures = 0;
  private inFlight = new Set<Promise<unknown>>();

  private constructor(
    private readonly client: MqttClient,
    private readonly siteId: string,
    private readonly devices: ReadonlyArray<{ id: string; tags: string[] }>,
  ) {}

  static async start(url: string, siteId: string, devices: ReadonlyArray<{ id: string; tags: string[] }>): Promise<TelemetryStream> {
    const client = await mqtt.connectAsync(url, { clientId: `tirta-bench-stream-${process.pid}` });
    const stream = new TelemetryStream(client, siteId, devices);
    stream.scheduleNext();
    return stream;
  }

  private scheduleNext(): void {
    const nextSecondMs = Math.floor(Date.now() / 1000) * 1000 + 1000;
    this.timer = setTimeout(() => {
      this.publish(nextSecondMs);
      this.scheduleNext();
    }, nextSecondMs - Date.now());
  }

  private publish(timeMs: number): void {
    const seq = this.seq++;
    for (const device of this.devices) {
      const samples = device.tags.map((tag, index) => ({ tag, value: pressureM(index, timeMs), quality: 'good' as const, source_ts_ms: timeMs }));
      const batch: TelemetryBatch = { site: this.siteId, device: device.id, seq, poll_ts_ms: timeMs, historical: false, samples };
      const sent = this.client.publishAsync(topics.telemetry(this.siteId, device.id), JSON.stringify(batch), { qos: 1 }).catch(() => (this.failures += 1));
      this.inFlight.add(sent);
      void sent.finally(() => this.inFlight.delete(sent));
    }
  }

  async stop(): Promise<void> {
    clearTimeout(this.timer);
    await Promise.all(this.inFlight);
    await this.client.endAsync();
    if (this.failures > 0) console.error(`  ${this.failures} telemetry batches were not acknowledged by the broker`);
  }
}

/** A steady pressure per tag with a slow swing of ±0.3 m, so no value holds still (a stuck sensor) and none falls fast (a burst). */
function pressureM(tagIndex: number, timeMs: number): number {
  const base = 25 + ((tagIndex * 37) % 200) / 10;
  return Math.round((base + 0.3 * Math.sin((2 * Math.PI * (timeMs / 60_000 + tagIndex / TAGS_PER_DEVICE)))) * 1000) / 1000;
}

/** Complaints from the hotspots, each from its own caller, all drawn from one seeded generator. */
class ComplaintSource {
  /** Send time of each complaint, by its external_id. */
  readonly sentAtMs = new Map<string, number>();
  private readonly random: () => number;

  constructor(seed: number) {
    this.random = mulberry32(seed);
  }

  get sent(): number {
    return this.sentAtMs.size;
  }

  next(): ComplaintBody {
    const ordinal = this.sentAtMs.size + 1;
    const hotspot = pick(this.random, HOTSPOTS.map((spot) => [spot, spot.weight] as const));
    const category = pick(this.random, hotspot.categories);
    const location = offsetM(hotspot.centre, SCATTER_M * Math.sqrt(this.random()), 2 * Math.PI * this.random());
    const externalId = `load-${ordinal}`;
    this.sentAtMs.set(externalId, Date.now());
    return {
      channel: pick(this.random, CHANNELS),
      category,
      location: { lat: Math.round(location.lat * 1e6) / 1e6, lon: Math.round(location.lon * 1e6) / 1e6 },
      text: TEXTS[category],
      contact: `+62812${String(10_000_000 + ordinal)}`,
      external_id: externalId,
    };
  }
}

function pick<T>(random: () => number, weighted: ReadonlyArray<readonly [T, number]>): T {
  const total = weighted.reduce((sum, [, weight]) => sum + weight, 0);
  let draw = random() * total;
  for (const [value, weight] of weighted) {
    draw -= weight;
    if (draw < 0) return value;
  }
  return weighted.at(-1)![0];
}

/**
 * Watches the database for complaints that a work order covers (their incident's, or that of an
 * incident merged into theirs) and notes, for each, how long after its request it first showed.
 */
class WorkOrderResolutions {
  /** Milliseconds from request to work order, by external_id. */
  readonly resolved = new Map<string, number>();
  private sentAtMs: ReadonlyMap<string, number> = new Map();
  /** Every complaint up to this seq is resolved. */
  private resolvedThroughSeq = 0;
  private readonly resolvedSeqs = new Set<number>();
  private polling: Promise<void> | undefined;
  private stopped = false;
  /** A query that failed, which ends the watching. */
  failure: Error | undefined;

  constructor(
    private readonly db: FreshDatabase,
    private readonly siteId: string,
  ) {}

  start(sentAtMs: ReadonlyMap<string, number>): void {
    this.sentAtMs = sentAtMs;
    this.polling = this.loop();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.polling;
  }

  private async loop(): Promise<void> {
    while (!this.stopped) {
      const startedMs = Date.now();
      try {
        await this.poll(startedMs);
      } catch (error) {
        this.failure = error as Error;
        return;
      }
      await sleep(Math.max(0, RESOLUTION_POLL_MS - (Date.now() - startedMs)));
    }
  }

  private async poll(nowMs: number): Promise<void> {
    const { rows } = await this.db.pool.query<{ seq: string; external_id: string }>(
      `SELECT c.seq, c.external_id FROM complaint c
       WHERE c.site_id = $1 AND c.seq > $2 AND c.incident_id IS NOT NULL
         AND EXISTS (SELECT 1 FROM work_order w WHERE w.incident_id = c.incident_id
                     OR w.incident_id IN (SELECT i.id FROM incident i WHERE i.merged_into = c.incident_id))`,
      [this.siteId, this.resolvedThroughSeq],
    );
    for (const row of rows) {
      const seq = Number(row.seq);
      if (this.resolvedSeqs.has(seq)) continue;
      this.resolvedSeqs.add(seq);
      const sentAtMs = this.sentAtMs.get(row.external_id);
      if (sentAtMs !== undefined) this.resolved.set(row.external_id, nowMs - sentAtMs);
    }
    while (this.resolvedSeqs.has(this.resolvedThroughSeq + 1)) {
      this.resolvedThroughSeq += 1;
      this.resolvedSeqs.delete(this.resolvedThroughSeq);
    }
  }
}

interface ResourceSample {
  atMs: number;
  /** Resident memory, MiB. */
  byRole: Map<Role, number>;
  totalMiB: number;
  /** CPU time used since the process started, seconds. */
  cpuSByRole: Map<Role, number>;
}

/** Resident memory (VmRSS) and CPU time of each role's process, once a second, from /proc. */
class ResourceSampler {
  private readonly samples: ResourceSample[] = [];
  private timer: NodeJS.Timeout | undefined;
  /** A role that died, or a process that could not be read. */
  failure: Error | undefined;

  constructor(private readonly roles: ReadonlyMap<Role, RoleProcess>) {}

  start(): void {
    const sample = () =>
      this.sample().catch((error: Error) => {
        this.failure ??= error;
      });
    void sample();
    this.timer = setInterval(sample, 1000);
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private async sample(): Promise<void> {
    const atMs = Date.now();
    const byRole = new Map<Role, number>();
    const cpuSByRole = new Map<Role, number>();
    for (const [role, roleProcess] of this.roles) {
      if (!roleProcess.running) throw new Error(`tirta ${role} exited during the load`);
      byRole.set(role, await residentMiB(roleProcess.pid));
      cpuSByRole.set(role, await cpuSeconds(roleProcess.pid));
    }
    this.samples.push({ atMs, byRole, totalMiB: [...byRole.values()].reduce((sum, mib) => sum + mib, 0), cpuSByRole });
  }

  first(): ResourceSample {
    return this.samples[0]!;
  }

  last(): ResourceSample {
    return this.samples.at(-1)!;
  }

  describeLatest(): string {
    const latest = this.samples.at(-1);
    return latest === undefined ? 'not sampled yet' : `${latest.totalMiB.toFixed(0)} MiB (${describeByRole(latest.byRole, 0)})`;
  }

  /** CPU between the first and last sample, in % of one core. */
  cpuPercent(): { total: number; byRole: Map<Role, number> } {
    const first = this.first();
    const last = this.last();
    const wallS = (last.atMs - first.atMs) / 1000;
    const byRole = new Map(ROLES.map((role) => [role, ((last.cpuSByRole.get(role)! - first.cpuSByRole.get(role)!) / wallS) * 100]));
    return { total: [...byRole.values()].reduce((sum, percent) => sum + percent, 0), byRole };
  }
}

async function residentMiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kib = /^VmRSS:\s+(\d+) kB$/m.exec(status)?.[1];
  if (kib === undefined) throw new Error(`no VmRSS in /proc/${pid}/status`);
  return (Number(kib) * 1024) / MIB;
}

/** Clock ticks of /proc/PID/stat, which Linux reports in units of 1/100 s (USER_HZ) on every architecture it runs Node on. */
const TICKS_PER_S = 100;

async function cpuSeconds(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name, which may hold spaces: state is field 3, utime 14, stime 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_S;
}

function describeByRole(byRole: ReadonlyMap<Role, number>, digits: number): string {
  return ROLES.map((role) => `${role} ${byRole.get(role)!.toFixed(digits)}`).join(', ');
}

async function countTelemetry(db: FreshDatabase): Promise<number> {
  return Number((await db.pool.query('SELECT count(*) AS n FROM telemetry')).rows[0].n);
}

/** Nearest rank. */
function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
