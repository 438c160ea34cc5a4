// Storage benchmarks: telemetry from MQTT into PostgreSQL against a raw COPY of the same rows
// (the ceiling), and the latency of week-long 1-minute queries through the HTTP API.
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import mqtt from 'mqtt';
import { from as copyFrom } from 'pg-copy-streams';
import { createApiKey } from '../../src/access/accounts.js';
import { createApp } from '../../src/api/app.js';
import { siteConfigSchema, type SiteConfig } from '../../src/contracts/site.js';
import { topics, type TelemetryBatch } from '../../src/contracts/telemetry.js';
import { TelemetryIngest } from '../../src/ingest/telemetry-ingest.js';
import { silentLogger } from '../../src/log.js';
import { migrate } from '../../src/storage/migrate.js';
import { registerSite, type TagIds } from '../../src/storage/site-registry.js';
import { pgDatabase } from '../../src/storage/sql.js';
import { copyText, type TelemetryRow } from '../../src/storage/telemetry-store.js';
import { restartableBroker } from '../support/restartable-broker.js';
import { freshDatabase, type FreshDatabase } from '../support/services.js';
import type { BenchmarkResult } from './benchmarks.js';

const DEVICES = 20;
const TAGS_PER_DEVICE = 500;
const POLL_CYCLES = 100;
const ROUNDS = 3;

function benchSite(devices: number, tagsPerDevice: number): SiteConfig {
  return siteConfigSchema.parse({
    site: { id: 'bench', name: 'Bench' },
    zones: [{ id: 'z', name: 'Z', customers: 1, boundary: { type: 'Polygon', coordinates: [[[0, 0], [1, 0], [1, 1], [0, 0]]] } }],
    devices: Array.from({ length: devices }, (_, device) => ({ id: `plc${device}`, protocol: 'modbus', endpoint: `tcp://127.0.0.1:${1024 + device}`, poll_groups: [{ id: 'fast', interval_ms: 1000 }] })),
    tags: Array.from({ length: devices * tagsPerDevice }, (_, index) => ({
      id: `plc${Math.floor(index / tagsPerDevice)}.t${index % tagsPerDevice}`,
      device: `plc${Math.floor(index / tagsPerDevice)}`,
      poll_group: 'fast',
      kind: 'pressure',
      unit: 'm',
      modbus: { table: 'holding_register', address: (index % tagsPerDevice) * 2, type: 'float32' },
    })),
  });
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

/** One message per device and poll cycle, as a connector publishes them, and the rows they hold. */
function pollMessages(site: SiteConfig, tagIds: TagIds): { payloads: Array<{ topic: string; payload: Buffer }>; rows: TelemetryRow[] } {
  const payloads: Array<{ topic: string; payload: Buffer }> = [];
  const rows: TelemetryRow[] = [];
  const startMs = Date.UTC(2026, 10, 1);
  for (let cycle = 0; cycle < POLL_CYCLES; cycle += 1) {
    const timeMs = startMs + cycle * 1000;
    for (const device of site.devices) {
      const samples = site.tags.filter((tag) => tag.device === device.id).map((tag, index) => ({ tag: tag.id, value: 30 + ((cycle * 7 + index) % 100) / 10, quality: 'good' as const, source_ts_ms: timeMs }));
      const batch: TelemetryBatch = { site: site.site.id, device: device.id, seq: cycle, poll_ts_ms: timeMs, historical: false, samples };
      payloads.push({ topic: topics.telemetry(site.site.id, device.id), payload: Buffer.from(JSON.stringify(batch)) });
      for (const sample of samples) rows.push({ tagId: tagIds.get(sample.tag)!, timeMs, value: sample.value, quality: 0 });
    }
  }
  return { payloads, rows };
}

async function rawCopy(db: FreshDatabase, rows: readonly TelemetryRow[]): Promise<number> {
  await db.pool.query('TRUNCATE telemetry');
  const client = await db.pool.connect();
  try {
    const startedAt = process.hrtime.bigint();
    await client.query('BEGIN');
    await pipeline(Readable.from(copyText(rows)), client.query(copyFrom('COPY telemetry (tag_id, time, value, quality) FROM STDIN')));
    await client.query('COMMIT');
    return rows.length / (Number(process.hrtime.bigint() - startedAt) / 1e9);
  } finally {
    client.release();
  }
}

/** Publishes the messages while the ingest is away, then times the ingest draining that backlog into the table. */
async function ingestDrain(db: FreshDatabase, brokerUrl: string, protocolVersion: 4 | 5, site: SiteConfig, tagIds: TagIds, payloads: ReadonlyArray<{ topic: string; payload: Buffer }>, expectedRows: number, round: number) {
  await db.pool.query('TRUNCATE telemetry');
  // One worker identity for every round, as a restarted ingest keeps its own: a second identity in
  // the same shared group would be dealt a share of the stream while it is away.
  const clientId = 'tirta-bench-ingest';
  const options = { mqttUrl: brokerUrl, pool: db.pool, tagIds: new Map([[site.site.id, tagIds]]), log: silentLogger, clientId, protocolVersion, sharedGroup: 'tirta-bench' };
  // The first connection creates the persistent session and its subscription.
  const subscriber = new TelemetryIngest(options);
  await subscriber.start();
  await subscriber.stop();
  const publisher = await mqtt.connectAsync(brokerUrl, { clientId: `tirta-bench-publisher-${round}`, protocolVersion });
  await Promise.all(payloads.map(({ topic, payload }) => publisher.publishAsync(topic, payload, { qos: 1 })));
  await publisher.endAsync();

  const ingest = new TelemetryIngest(options);
  const cpuBefore = process.cpuUsage();
  const startedAt = process.hrtime.bigint();
  await ingest.start();
  // A backlog that stops moving is a failure to report, not a wait to sit out.
  let progress = { rows: -1, atMs: Date.now() };
  while (ingest.counters.rowsWritten < expectedRows) {
    if (ingest.counters.rowsWritten !== progress.rows) progress = { rows: ingest.counters.rowsWritten, atMs: Date.now() };
    else if (Date.now() - progress.atMs > 30_000) {
      await ingest.stop();
      throw new Error(`ingest stalled at ${JSON.stringify(ingest.counters)} of ${expectedRows} rows`);
    }
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  const seconds = Number(process.hrtime.bigint() - startedAt) / 1e9;
  const cpu = process.cpuUsage(cpuBefore);
  await ingest.stop();
  if (ingest.counters.rowsWritten !== expectedRows || ingest.counters.invalidMessages > 0) throw new Error(`ingest wrote ${ingest.counters.rowsWritten} of ${expectedRows} rows`);
  return { pointsPerS: expectedRows / seconds, batches: ingest.counters.batches, cpuPercent: ((cpu.user + cpu.system) / 1e6 / seconds) * 100 };
}

export async function ingestThroughput(): Promise<BenchmarkResult> {
  const db = await freshDatabase();
  const broker = await restartableBroker();
  await broker.start();
  try {
    const report = await migrate(pgDatabase(db.pool));
    const site = benchSite(DEVICES, TAGS_PER_DEVICE);
    const tagIds = await registerSite(db.pool, site);
    const { payloads, rows } = pollMessages(site, tagIds);
    const probe = await mqtt.connectAsync(broker.url, { protocolVersion: 5, reconnectPeriod: 0 }).then(
      async (client) => (await client.endAsync(), 5 as const),
      () => 4 as const,
    );
    const copyRates: number[] = [];
    const ingestRuns: Array<Awaited<ReturnType<typeof ingestDrain>>> = [];
    for (let round = 0; round < ROUNDS; round += 1) {
      copyRates.push(await rawCopy(db, rows));
      ingestRuns.push(await ingestDrain(db, broker.url, probe, site, tagIds, payloads, rows.length, round));
      console.error(`  round ${round + 1}/${ROUNDS}: raw COPY ${Math.round(copyRates.at(-1)!)} rows/s, MQTT ingest ${Math.round(ingestRuns.at(-1)!.pointsPerS)} points/s`);
    }
    const copyRate = median(copyRates);
    const ingestRate = median(ingestRuns.map((run) => run.pointsPerS));
    const setting = `${rows.length.toLocaleString('en-US')} points, ${payloads.length} messages of ${TAGS_PER_DEVICE} samples, ${report.flavour}, MQTT ${probe === 5 ? '5 shared subscription' : '3.1.1'}, median of ${ROUNDS}`;
    return {
      name: 'telemetry-ingest',
      figures: [
        { name: 'MQTT to PostgreSQL, ingest role', value: ingestRate, unit: 'points/s', note: `backlog drained from the broker: validate, COPY, commit, then PUBACK; ${setting}` },
        { name: 'raw COPY of the same rows', value: copyRate, unit: 'rows/s', note: 'one COPY of every row in one transaction into the same table: the ceiling' },
        { name: 'ingest as a share of raw COPY', value: ingestRate / copyRate, unit: 'ratio', note: 'goal 0.6 or better' },
        { name: 'ingest process CPU while draining', value: median(ingestRuns.map((run) => run.cpuPercent)), unit: '% of one core', note: `${median(ingestRuns.map((run) => run.batches))} batches` },
      ],
    };
  } finally {
    await broker.remove();
    await db.drop();
  }
}

const QUERY_TAGS = 10;
const QUERY_DAYS = 30;
const SAMPLE_SECONDS = 10;
const QUERIES = 40;

/** 30 days of 10-second samples for 10 tags; p50 and p95 of a 7-day, 1-minute query of all 10 tags through the HTTP API. */
export async function telemetryQueryLatency(): Promise<BenchmarkResult> {
  const db = await freshDatabase();
  try {
    const report = await migrate(pgDatabase(db.pool));
    const site = benchSite(1, QUERY_TAGS);
    const tagIds = await registerSite(db.pool, site);
    const endMs = Date.UTC(2026, 10, 1);
    const startMs = endMs - QUERY_DAYS * 86_400_000;
    await db.pool.query(
      `INSERT INTO telemetry (tag_id, time, value, quality)
       SELECT tag_id, t, 30 + 5 * sin(extract(epoch FROM t) / 3600) + tag_id % 7, 0
       FROM unnest($1::integer[]) AS tag_id, generate_series($2::timestamptz, $3::timestamptz - interval '1 second', $4::interval) AS t`,
      [[...tagIds.values()], new Date(startMs), new Date(endMs), `${SAMPLE_SECONDS} seconds`],
    );
    await db.pool.query('ANALYZE telemetry');
    const rowCount = Number((await db.pool.query('SELECT count(*) AS n FROM telemetry')).rows[0].n);
    const server = createApp({ pool: db.pool, site, log: silentLogger, brokerConnected: () => true, storageFlavour: 'postgres' }).listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/v1/telemetry`;
    const credentials = { authorization: `Bearer ${await createApiKey(db.pool, { name: 'bench', role: 'engineer' })}` };
    const latencies: number[] = [];
    let source = '';
    try {
      for (let query = 0; query < QUERIES; query += 1) {
        // A different week each time, on whole minutes, within the 30 days.
        const fromMs = startMs + Math.floor(((query * 7919) % (23 * 1440))) * 60_000;
        const toMs = fromMs + 7 * 86_400_000;
        const startedAt = process.hrtime.bigint();
        const answers = await Promise.all(
          site.tags.map(async (tag) => {
            const response = await fetch(`${base}?tag=${encodeURIComponent(tag.id)}&from=${new Date(fromMs).toISOString()}&to=${new Date(toMs).toISOString()}&step=1m`, { headers: credentials });
            if (!response.ok) throw new Error(`query failed: ${response.status} ${await response.text()}`);
            return (await response.json()) as { source: string; buckets: Array<{ count: number }> };
          }),
        );
        latencies.push(Number(process.hrtime.bigint() - startedAt) / 1e6);
        source = answers[0]!.source;
        const buckets = answers.reduce((sum, answer) => sum + answer.buckets.length, 0);
        if (buckets !== QUERY_TAGS * 7 * 1440) throw new Error(`expected ${QUERY_TAGS * 7 * 1440} buckets, got ${buckets}`);
      }
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
    latencies.sort((a, b) => a - b);
    const percentile = (p: number) => latencies[Math.min(latencies.length - 1, Math.ceil((p / 100) * latencies.length) - 1)]!;
    const setting = `${QUERY_TAGS} tags, 7 days at 1 minute (${QUERY_TAGS * 7 * 1440} buckets) over ${QUERY_DAYS} days of ${SAMPLE_SECONDS}-second data (${rowCount.toLocaleString('en-US')} rows), ${report.flavour}, read from ${source}`;
    return {
      name: 'telemetry-query',
      figures: [
        { name: '7-day 1-minute query of 10 tags, p50', value: percentile(50), unit: 'ms', note: `${setting}; one HTTP request per tag, all 10 at once; ${QUERIES} queries` },
        { name: '7-day 1-minute query of 10 tags, p95', value: percentile(95), unit: 'ms', note: 'as above' },
      ],
    };
  } finally {
    await db.drop();
  }
}
