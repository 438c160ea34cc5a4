// Ingest against a real broker and database: duplicates stored once, bad payloads counted and
// skipped without stopping the worker.
import { expect } from 'chai';
import mqtt from 'mqtt';
import { topics, type TelemetryBatch } from '../../src/contracts/telemetry.js';
import { TelemetryIngest } from '../../src/ingest/telemetry-ingest.js';
import { silentLogger } from '../../src/log.js';
import { migrate } from '../../src/storage/migrate.js';
import { registerSite } from '../../src/storage/site-registry.js';
import { pgDatabase } from '../../src/storage/sql.js';
import { freshDatabase, testServices, uniqueId, waitFor, type FreshDatabase } from '../support/services.js';
import { demoSiteOnFreePorts } from '../support/site-fixture.js';

describe('telemetry ingest', function () {
  this.timeout(30_000);
  let db: FreshDatabase;
  let ingest: TelemetryIngest;
  let publisher: mqtt.MqttClient;
  let siteId: string;

  before(async () => {
    db = await freshDatabase();
    await migrate(pgDatabase(db.pool));
    const site = await demoSiteOnFreePorts();
    siteId = site.site.id;
    const tagIds = await registerSite(db.pool, site);
    const { mqttUrl } = await testServices();
    ingest = new TelemetryIngest({ mqttUrl, pool: db.pool, tagIds: new Map([[siteId, tagIds]]), log: silentLogger, clientId: uniqueId('ingest'), flushIntervalMs: 20 });
    await ingest.start();
    publisher = await mqtt.connectAsync(mqttUrl, { clientId: uniqueId('publisher') });
  });

  after(async () => {
    await publisher?.endAsync();
    await ingest?.stop();
    await db?.drop();
  });

  const batch = (seq: number, timeMs: number, value: number): TelemetryBatch => ({
    site: siteId,
    device: 'plc-dma',
    seq,
    poll_ts_ms: timeMs,
    historical: false,
    samples: [
      { tag: 'dma-2.pressure.1', value, quality: 'good', source_ts_ms: timeMs },
      { tag: 'dma-2.inlet.flow', value: null, quality: 'bad', source_status: -1, source_ts_ms: timeMs },
    ],
  });

  const storedRows = async () =>
    (await db.pool.query(`SELECT tag.key, t.time, t.value, t.quality FROM telemetry t JOIN tag ON tag.id = t.tag_id WHERE tag.site_id = $1 ORDER BY t.time, tag.key`, [siteId])).rows;

  it('stores a redelivered batch once', async () => {
    const timeMs = Date.UTC(2026, 10, 28, 6, 0, 0);
    const payload = JSON.stringify(batch(0, timeMs, 31.5));
    await publisher.publishAsync(topics.telemetry(siteId, 'plc-dma'), payload, { qos: 1 });
    await publisher.publishAsync(topics.telemetry(siteId, 'plc-dma'), payload, { qos: 1 });
    await waitFor('both copies processed', async () => (ingest.counters.messages >= 2 && ingest.counters.batches > 0 && ingest.counters.rowsWritten + ingest.counters.duplicateRows >= 4 ? true : undefined));
    const rows = await storedRows();
    expect(rows.map((row) => [row.key, row.value, row.quality])).to.deep.equal([
      ['dma-2.inlet.flow', null, 2],
      ['dma-2.pressure.1', 31.5, 0],
    ]);
    expect(ingest.counters.duplicateRows).to.equal(2);
  });

  it('counts and skips invalid payloads and unknown tags, and keeps working', async () => {
    const topic = topics.telemetry(siteId, 'plc-dma');
    await publisher.publishAsync(topic, 'not json', { qos: 1 });
    await publisher.publishAsync(topic, JSON.stringify({ ...batch(1, 0, 1), seq: -4 }), { qos: 1 });
    const unknownTag = batch(2, Date.UTC(2026, 10, 28, 6, 0, 1), 1);
    unknownTag.samples[0]!.tag = 'no.such.tag';
    await publisher.publishAsync(topic, JSON.stringify(unknownTag), { qos: 1 });
    const timeMs = Date.UTC(2026, 10, 28, 6, 0, 2);
    await publisher.publishAsync(topic, JSON.stringify(batch(3, timeMs, 29.75)), { qos: 1 });
    await waitFor('the valid batch after the bad ones', async () => ((await storedRows()).some((row) => row.value === 29.75) ? true : undefined));
    expect(ingest.counters.invalidMessages).to.equal(2);
    expect(ingest.counters.unknownTagSamples).to.equal(1);
  });
});
