// Store and forward against a real broker that the test stops and starts itself: a private
// mosquitto when the binary is installed, else the embedded aedes broker. A poll-like timer feeds
// the publisher readings whose values change every time; a persistent QoS 1 subscriber records
// every batch that reaches the broker.
//
// The mosquitto runs with persistence on (in a temporary directory) so that the subscriber's
// session and subscription outlive the broker restart; without it the *test's subscriber* could
// miss batches published before it had subscribed again. The aedes fallback cannot keep sessions
// across a restart, so there that race remains possible.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import mqtt, { type MqttClient } from 'mqtt';
import { ConnectorMetrics } from '../../connectors/metrics.js';
import { MqttPublisher } from '../../connectors/publisher/mqtt-publisher.js';
import { connectorSettingsSchema } from '../../src/contracts/connector-settings.js';
import { siteConfigSchema, type SiteConfig } from '../../src/contracts/site.js';
import { topics, type TelemetryBatch } from '../../src/contracts/telemetry.js';
import { silentLogger } from '../../src/log.js';
import { restartableBroker, type RestartableBroker } from '../support/restartable-broker.js';
import { uniqueId, waitFor } from '../support/services.js';

const POLL_INTERVAL_MS = 150;
const DEVICES = ['plc-a', 'plc-b'];
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Every batch that reaches the broker, on a persistent QoS 1 session. */
class Recorder {
  readonly received: Array<{ batch: TelemetryBatch; atMs: number }> = [];
  private constructor(readonly client: MqttClient) {}

  static async start(url: string, siteId: string): Promise<Recorder> {
    const client = mqtt.connect(url, { clientId: uniqueId('tirta-test-recorder'), clean: false, reconnectPeriod: 100 });
    const recorder = new Recorder(client);
    client.on('message', (_topic, payload) => recorder.received.push({ batch: JSON.parse(payload.toString()) as TelemetryBatch, atMs: Date.now() }));
    client.on('error', () => undefined);
    await new Promise((resolve) => client.once('connect', resolve));
    await client.subscribeAsync(topics.telemetry(siteId, '+'), { qos: 1 });
    return recorder;
  }

  /** First arrival of each (device, seq), in arrival order. */
  distinct(): TelemetryBatch[] {
    const seen = new Set<string>();
    return this.received.filter(({ batch }) => !seen.has(`${batch.device}/${batch.seq}`) && seen.add(`${batch.device}/${batch.seq}`)).map(({ batch }) => batch);
  }

  /** Copies of one (device, seq) that differ from its first arrival, other than by the historical flag. */
  conflicts(): string[] {
    const first = new Map<string, string>();
    const out: string[] = [];
    for (const { batch } of this.received) {
      const key = `${batch.device}/${batch.seq}`;
      const content = JSON.stringify({ ...batch, historical: undefined });
      if (!first.has(key)) first.set(key, content);
      else if (first.get(key) !== content) out.push(key);
    }
    return out;
  }
}

/** A poll loop stand-in: one reading per device every POLL_INTERVAL_MS, values always changing. */
class Feeder {
  /** poll_ts_ms of every reading delivered, per device. */
  readonly delivered = new Map<string, number[]>(DEVICES.map((device) => [device, []]));
  private timer: NodeJS.Timeout | undefined;
  private count = 0;
  publisher: MqttPublisher | undefined;

  start(publisher: MqttPublisher): void {
    this.publisher = publisher;
    this.timer ??= setInterval(() => this.poll(), POLL_INTERVAL_MS);
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  total(): number {
    return [...this.delivered.values()].reduce((sum, list) => sum + list.length, 0);
  }

  private poll(): void {
    const pollTsMs = Date.now();
    this.count += 1;
    for (const [index, device] of DEVICES.entries()) {
      const samples = [1, 2, 3].map((n) => ({ tag: `${device}.t${n}`, value: this.count * 0.25 + index * 1000 + n, quality: 'good' as const, source_ts_ms: pollTsMs }));
      this.publisher!.deliver({ device, pollTsMs, samples });
      this.delivered.get(device)!.push(pollTsMs);
    }
  }
}

function testSite(settings: object): SiteConfig {
  const polygon = { type: 'Polygon', coordinates: [[[0, 0], [1, 0], [1, 1], [0, 0]]] };
  return siteConfigSchema.parse({
    site: { id: uniqueId('saf'), name: 'store and forward' },
    connector: connectorSettingsSchema.parse(settings),
    zones: [{ id: 'z', name: 'zone', customers: 1, boundary: polygon }],
    devices: DEVICES.map((id, index) => ({ id, protocol: 'modbus', endpoint: `tcp://127.0.0.1:${1502 + index}`, poll_groups: [{ id: 'fast', interval_ms: 100 }] })),
    tags: DEVICES.flatMap((device) => [1, 2, 3].map((n) => ({ id: `${device}.t${n}`, device, poll_group: 'fast', kind: 'pressure', unit: 'm', modbus: { table: 'holding_register', address: n, type: 'uint16' } }))),
  });
}

async function droppedTotal(metrics: ConnectorMetrics): Promise<number> {
  return Number(/^tirta_connector_buffer_dropped_total (\d+)$/m.exec(await metrics.render())?.[1] ?? 0);
}

describe('store and forward through a broker outage', function () {
  this.timeout(75_000);
  let broker: RestartableBroker;
  let recorder: Recorder;
  let bufferDir: string;
  const publishers: MqttPublisher[] = [];
  const feeder = () => new Feeder();
  let feeders: Feeder[] = [];

  beforeEach(async () => {
    broker = await restartableBroker();
    await broker.start();
    bufferDir = await mkdtemp(path.join(os.tmpdir(), 'tirta-saf-buffer-'));
    feeders = [];
  });

  afterEach(async () => {
    for (const each of feeders) each.stop();
    for (const publisher of publishers.splice(0)) await publisher.close();
    await recorder?.client.endAsync(true);
    await broker.remove();
    await rm(bufferDir, { recursive: true, force: true });
  });

  const startPublisher = (site: SiteConfig, metrics = new ConnectorMetrics(), connectorId = 'connector-1') => {
    const publisher = new MqttPublisher({ url: broker.url, site, connectorId, log: silentLogger, metrics, bufferDir, settings: site.connector });
    publishers.push(publisher);
    return publisher;
  };

  /** Every (device, seq) from 0 to the number of readings delivered, each exactly once after de-duplication. */
  const expectNoGaps = (feed: Feeder) => {
    for (const device of DEVICES) {
      const batches = recorder.distinct().filter((batch) => batch.device === device);
      const delivered = feed.delivered.get(device)!;
      expect(batches.map((batch) => batch.seq).sort((a, b) => a - b), `${device} seq`).to.deep.equal(delivered.map((_, seq) => seq));
      expect(batches.map((batch) => batch.poll_ts_ms).sort((a, b) => a - b), `${device} readings`).to.deep.equal(delivered);
    }
    expect(recorder.conflicts(), 'different batches under one seq').to.deep.equal([]);
  };

  it('delivers every batch of a 30-second outage after the broker restarts, drained ones flagged historical', async () => {
    const site = testSite({});
    recorder = await Recorder.start(broker.url, site.site.id);
    const metrics = new ConnectorMetrics();
    const publisher = startPublisher(site, metrics);
    const feed = feeder();
    feeders.push(feed);
    feed.start(publisher);
    await waitFor('live batches', async () => (recorder.received.length >= 10 ? true : undefined));

    const outageStartMs = Date.now();
    await broker.stop();
    await sleep(31_000);
    const restartMs = Date.now();
    const bufferedAtRestart = publisher.bufferedBatches;
    expect(bufferedAtRestart).to.be.greaterThan(350);
    await broker.start();
    await waitFor('the backlog drained', async () => (publisher.bufferedBatches === 0 ? true : undefined), 30_000);
    await sleep(1000);
    feed.stop();
    await waitFor('every batch received', async () => (recorder.distinct().length === feed.total() ? true : undefined), 10_000);

    expectNoGaps(feed);
    const batches = recorder.distinct();
    const late = batches.filter((batch) => batch.poll_ts_ms >= outageStartMs + 500 && batch.poll_ts_ms < restartMs);
    expect(late.length).to.be.greaterThan(350);
    expect(late.filter((batch) => !batch.historical), 'batches polled during the outage not flagged historical').to.deep.equal([]);
    expect(batches.filter((batch) => batch.poll_ts_ms < outageStartMs && batch.historical)).to.deep.equal([]);
    expect(batches.at(-1)!.historical, 'live again once drained').to.equal(false);

    const drained = recorder.received.filter(({ batch, atMs }) => batch.historical && atMs >= restartMs);
    const drainMs = drained.at(-1)!.atMs - drained[0]!.atMs;
    const rate = ((drained.length - 1) * 1000) / drainMs;
    console.log(`      measured: ${drained.length} historical batches drained in ${drainMs} ms = ${rate.toFixed(0)} messages/s (limit ${site.connector.publish.drain_messages_per_second})`);
    expect(rate).to.be.at.most(site.connector.publish.drain_messages_per_second * 1.15);
    expect(await metrics.render()).to.match(/tirta_connector_published_batches_total\{device="plc-a",historical="true"\} [1-9]/);
  });

  it('keeps what a closed publisher buffered during an outage and delivers it through the next one', async () => {
    const site = testSite({});
    recorder = await Recorder.start(broker.url, site.site.id);
    const feed = feeder();
    feeders.push(feed);
    const first = startPublisher(site);
    feed.start(first);
    await waitFor('live batches', async () => (recorder.received.length >= 6 ? true : undefined));
    await broker.stop();
    await sleep(3000);
    await first.close(); // as the process stopping mid-outage
    const bufferedByFirst = first.bufferedBatches;
    expect(bufferedByFirst).to.be.greaterThan(30);
    const pollsOfFirst = new Map([...feed.delivered].map(([device, list]) => [device, [...list]]));

    const second = startPublisher(site);
    feed.start(second);
    await sleep(1500);
    await broker.start();
    await waitFor('the backlog drained', async () => (second.bufferedBatches === 0 ? true : undefined), 20_000);
    feed.stop();
    await waitFor('every batch received', async () => (recorder.distinct().length === feed.total() ? true : undefined), 10_000);

    expectNoGaps(feed);
    const received = new Set(recorder.distinct().map((batch) => `${batch.device}/${batch.poll_ts_ms}`));
    for (const [device, polls] of pollsOfFirst) for (const pollTsMs of polls) expect(received.has(`${device}/${pollTsMs}`), `${device} @ ${pollTsMs}`).to.equal(true);
  });

  it('drops the oldest batches when the buffer fills during an outage, counts them, and delivers the rest in order', async () => {
    const site = testSite({ buffer: { max_bytes: 8192, segment_bytes: 2048 } });
    recorder = await Recorder.start(broker.url, site.site.id);
    const metrics = new ConnectorMetrics();
    const publisher = startPublisher(site, metrics);
    const feed = feeder();
    feeders.push(feed);
    feed.start(publisher);
    await waitFor('live batches', async () => (recorder.received.length >= 6 ? true : undefined));
    await broker.stop();
    await sleep(5000);
    const dropped = await droppedTotal(metrics);
    expect(dropped).to.be.greaterThan(10);
    await broker.start();
    await waitFor('the backlog drained', async () => (publisher.bufferedBatches === 0 ? true : undefined), 20_000);
    await sleep(500);
    feed.stop();
    const finalDropped = await droppedTotal(metrics);
    // A batch handed to the broker as the link dropped may arrive although its PUBACK never came
    // back and the overflow then dropped it from the buffer: it counts as both, so received and
    // dropped together cover every batch, with at most the batches then awaiting a PUBACK twice.
    await waitFor('every kept batch received', async () => (recorder.distinct().length + finalDropped >= feed.total() ? true : undefined), 10_000);
    const receivedAndDropped = recorder.distinct().length + finalDropped - feed.total();
    expect(receivedAndDropped, 'batches both received and counted dropped').to.be.at.most(DEVICES.length);

    const batches = recorder.distinct();
    for (const device of DEVICES) {
      const seqs = batches.filter((batch) => batch.device === device).map((batch) => batch.seq);
      expect(seqs, `${device} arrives in order`).to.deep.equal([...seqs].sort((a, b) => a - b));
      // The dropped batches are the oldest of the outage: one run of missing numbers, nothing after it lost.
      const missing = feed.delivered.get(device)!.map((_, seq) => seq).filter((seq) => !seqs.includes(seq));
      expect(missing.length).to.be.greaterThan(0);
      expect(missing, `${device} missing seq`).to.deep.equal(missing.map((_, index) => missing[0]! + index));
    }
    // Across devices too, the oldest went first: every batch kept from the outage is newer than every one dropped.
    const keptPolls = new Set(batches.map((batch) => `${batch.device}/${batch.poll_ts_ms}`));
    const droppedPolls = [...feed.delivered].flatMap(([device, polls]) => polls.filter((poll) => !keptPolls.has(`${device}/${poll}`)));
    const newestDropped = Math.max(...droppedPolls);
    const historical = batches.filter((batch) => batch.historical);
    expect(droppedPolls.length).to.equal(finalDropped - receivedAndDropped);
    expect(historical.filter((batch) => batch.poll_ts_ms < newestDropped - POLL_INTERVAL_MS)).to.deep.equal([]);
  });
});
