// Properties of the MQTT telemetry payload at ingest: any bytes on a telemetry topic (random
// buffers, invalid UTF-8, JSON of the wrong shape, "NaN", 1e400, times outside the contract's
// range, unknown and prototype keys, huge arrays) are either a valid batch taken unchanged or
// dropped, counted, with a logged reason naming the field; and through a real broker and
// database, nothing that passes the parser ever jams the ingest's write path.
import { expect } from 'chai';
import fc from 'fast-check';
import mqtt, { type IPublishPacket } from 'mqtt';
import { qualityCode, telemetryBatchSchema, topics, type TelemetryBatch } from '../../src/contracts/telemetry.js';
import type { SiteConfig } from '../../src/contracts/site.js';
import { TelemetryIngest } from '../../src/ingest/telemetry-ingest.js';
import { createLogger } from '../../src/log.js';
import { migrate } from '../../src/storage/migrate.js';
import { registerSite, type TagIds } from '../../src/storage/site-registry.js';
import { pgDatabase } from '../../src/storage/sql.js';
import type { TelemetryRow } from '../../src/storage/telemetry-store.js';
import { freshDatabase, testServices, uniqueId, waitFor, type FreshDatabase } from '../support/services.js';
import { demoSiteOnFreePorts } from '../support/site-fixture.js';
import {
  deepJsonText,
  EPOCH_MS_MAX,
  fieldsOf,
  hostileKey,
  hostileString,
  invalidUtf8,
  jsonPaths,
  jsonText,
  numberToken,
  objectText,
  spliceBytes,
  stringToken,
  telemetryBatch,
  type Fields,
} from './arbitraries.js';

const BATCH_FIELDS = ['site', 'device', 'seq', 'poll_ts_ms', 'historical', 'samples'];
const SAMPLE_FIELDS = ['tag', 'value', 'quality', 'source_status', 'source_ts_ms'];

/** A warning the ingest logged, as pino wrote it. */
interface Warning {
  msg: string;
  reason?: string;
  topic?: string;
}

/**
 * The ingest's payload parser, reached the way the broker client reaches it: `parse` is private
 * to TelemetryIngest (decoding is not yet apart from the MQTT shell), so it is called through a
 * cast on an ingest that never connects.
 */
function offlineParser(tagIds: ReadonlyMap<string, TagIds>) {
  const warnings: Warning[] = [];
  const log = createLogger({ level: 'warn', destination: { write: (line: string) => void warnings.push(JSON.parse(line) as Warning) } });
  const ingest = new TelemetryIngest({ mqttUrl: 'mqtt://127.0.0.1:1', pool: undefined as never, tagIds, log, clientId: uniqueId('property-ingest') });
  const parse = (payload: Buffer): TelemetryRow[] =>
    (ingest as unknown as { parse(packet: IPublishPacket): TelemetryRow[] }).parse({ cmd: 'publish', topic: 'tirta/v1/property/plc/telemetry', payload, qos: 1, dup: false, retain: false, messageId: 1 });
  return { ingest, parse, warnings };
}

/** What a payload should come to, judged apart from the parser: not JSON, not a batch, or a batch. */
function judge(payload: Buffer): { kind: 'not-json' } | { kind: 'invalid'; json: unknown } | { kind: 'batch'; batch: TelemetryBatch } {
  let json: unknown;
  try {
    json = JSON.parse(payload.toString('utf8'));
  } catch {
    return { kind: 'not-json' };
  }
  const result = telemetryBatchSchema.safeParse(json);
  return result.success ? { kind: 'batch', batch: result.data } : { kind: 'invalid', json };
}

/** The rows a batch must give: its samples of known tags, in order, unchanged. */
function expectedRows(batch: TelemetryBatch, tagIds: ReadonlyMap<string, TagIds>): TelemetryRow[] {
  const ids = tagIds.get(batch.site);
  return batch.samples.flatMap((sample) => {
    const tagId = ids?.get(sample.tag);
    return tagId === undefined ? [] : [{ tagId, timeMs: sample.source_ts_ms, value: sample.value, quality: qualityCode[sample.quality] }];
  });
}

/** The paths a rejection's reason may name (`samples.3.value`): any in the payload, any the contract has, or the payload itself. */
function reasonPaths(json: unknown): Set<string> {
  const paths = new Set(['payload', ...BATCH_FIELDS]);
  for (const path of jsonPaths(json, 3)) paths.add(path.join('.'));
  const samples = (json as { samples?: unknown })?.samples;
  if (Array.isArray(samples)) samples.forEach((_sample, index) => SAMPLE_FIELDS.forEach((field) => paths.add(`samples.${index}.${field}`)));
  return paths;
}

// ---------------------------------------------------------------------------------------------
// Payloads

const sampleMutation = fc.record({ at: fc.nat(), field: fc.constantFrom(...SAMPLE_FIELDS, '__proto__', 'constructor', 'extra'), value: fc.oneof(numberToken, stringToken, jsonText, fc.constantFrom('"NaN"', '"Infinity"', '1e400', '-1e400', '-1', '8640000000001', '1.5', 'null', '{}', '[]')) });
const batchMutation = fc.record({ field: fc.oneof(fc.constantFrom(...BATCH_FIELDS), hostileKey), value: fc.oneof(numberToken, stringToken, jsonText, deepJsonText, fc.constantFrom('"NaN"', '1e400', '-1', '8640000000001', '1.5', 'null', '"2026-01-01T00:00:00Z"')) });

/** A batch as JSON text with some of its fields (or one sample's) replaced by hostile JSON. */
function mutatedBatchText(batch: TelemetryBatch, batchMutations: Array<{ field: string; value: string }>, sampleMutations: Array<{ at: number; field: string; value: string }>): string {
  const sampleTexts = batch.samples.map((sample) => fieldsOf(sample));
  for (const { at, field, value } of sampleMutations) if (sampleTexts.length > 0) setField(sampleTexts[at % sampleTexts.length]!, field, value);
  const fields = fieldsOf(batch);
  setField(fields, 'samples', `[${sampleTexts.map(objectText).join(',')}]`);
  for (const { field, value } of batchMutations) setField(fields, field, value);
  return objectText(fields);
}

function setField(fields: Fields, key: string, value: string): void {
  const index = fields.findIndex(([name]) => name === key);
  if (index < 0) fields.push([key, value]);
  else fields[index] = [key, value];
}

const SITE = 'property-site';
const TAGS = ['dma-1.pressure.1', 'dma-1.inlet.flow', 'ps.tank.level', '__proto__', 'constructor'];
const offlineTagIds: ReadonlyMap<string, TagIds> = new Map([[SITE, new Map(TAGS.map((tag, index) => [tag, index + 1]))]]);

const hostilePayload: fc.Arbitrary<Buffer> = fc.oneof(
  { arbitrary: fc.uint8Array({ maxLength: 300 }).map((bytes) => Buffer.from(bytes)), weight: 2 },
  { arbitrary: hostileString.map((text) => Buffer.from(text)), weight: 1 },
  { arbitrary: fc.oneof(jsonText, deepJsonText).map((text) => Buffer.from(text)), weight: 2 },
  {
    arbitrary: fc
      .tuple(telemetryBatch(SITE, TAGS), fc.array(batchMutation, { maxLength: 2 }), fc.array(sampleMutation, { maxLength: 3 }))
      .map(([batch, batchMutations, sampleMutations]) => Buffer.from(mutatedBatchText(batch, batchMutations, sampleMutations))),
    weight: 6,
  },
  { arbitrary: fc.tuple(telemetryBatch(SITE, TAGS), invalidUtf8, fc.nat()).map(([batch, bytes, at]) => spliceBytes(Buffer.from(JSON.stringify(batch)), at, bytes)), weight: 2 },
  { arbitrary: fc.tuple(telemetryBatch(SITE, TAGS), fc.nat()).map(([batch, at]) => Buffer.from(JSON.stringify(batch)).subarray(0, at % (JSON.stringify(batch).length + 1))), weight: 1 },
  { arbitrary: telemetryBatch(SITE, TAGS).map((batch) => Buffer.from(`\uFEFF${JSON.stringify(batch)}`)), weight: 1 },
);

describe('property: telemetry payload at ingest', function () {
  this.timeout(120_000);

  it('a generated valid batch round-trips: the contract takes it unchanged and the parser gives its known-tag samples as rows', () => {
    fc.assert(
      fc.property(telemetryBatch(SITE, TAGS), (batch) => {
        const payload = Buffer.from(JSON.stringify(batch));
        expect(telemetryBatchSchema.parse(JSON.parse(payload.toString('utf8')))).to.deep.equal(batch);
        const { ingest, parse, warnings } = offlineParser(offlineTagIds);
        expect(parse(payload)).to.deep.equal(expectedRows(batch, offlineTagIds));
        expect(ingest.counters.invalidMessages).to.equal(0);
        expect(ingest.counters.unknownTagSamples).to.equal(batch.samples.filter((sample) => !TAGS.includes(sample.tag)).length);
        expect(warnings.every((warning) => warning.msg !== 'invalid telemetry message dropped')).to.equal(true);
      }),
      { numRuns: 200 },
    );
  });

  it('any payload is a batch taken unchanged, or dropped and counted with a reason naming the field', () => {
    const { ingest, parse, warnings } = offlineParser(offlineTagIds);
    fc.assert(
      fc.property(hostilePayload, (payload) => {
        const invalidBefore = ingest.counters.invalidMessages;
        const warningsBefore = warnings.length;
        const rows = parse(payload);
        const verdict = judge(payload);
        for (const row of rows) {
          // Rows the write path can always take: a known tag, an integer time in the contract's range, a finite value or null.
          expect([...offlineTagIds.get(SITE)!.values()]).to.include(row.tagId);
          expect(Number.isSafeInteger(row.timeMs) && row.timeMs >= 0 && row.timeMs <= EPOCH_MS_MAX, `time ${row.timeMs}`).to.equal(true);
          expect(row.value === null || Number.isFinite(row.value), `value ${row.value}`).to.equal(true);
          expect([0, 1, 2]).to.include(row.quality);
          expect(() => new Date(row.timeMs).toISOString()).to.not.throw();
        }
        if (verdict.kind === 'batch') {
          expect(rows).to.deep.equal(expectedRows(verdict.batch, offlineTagIds));
          expect(ingest.counters.invalidMessages).to.equal(invalidBefore);
          return;
        }
        expect(rows).to.deep.equal([]);
        expect(ingest.counters.invalidMessages, 'counted').to.equal(invalidBefore + 1);
        const dropped = warnings.slice(warningsBefore).filter((warning) => warning.msg === 'invalid telemetry message dropped');
        expect(dropped, 'logged once').to.have.length(1);
        const reason = dropped[0]!.reason!;
        if (verdict.kind === 'not-json') {
          expect(reason).to.match(/^not JSON: /);
          return;
        }
        const named = reason.slice(0, reason.indexOf(': '));
        expect(reasonPaths(verdict.json).has(named), `reason "${reason.slice(0, 200)}" names no field of the payload`).to.equal(true);
      }),
      { numRuns: 400 },
    );
  });

  it('"NaN", Infinity (1e400), -1 and times beyond the contract are refused naming the field', () => {
    const good: TelemetryBatch = { site: SITE, device: 'plc-dma', seq: 1, poll_ts_ms: Date.UTC(2026, 0, 1), historical: false, samples: [{ tag: TAGS[0]!, value: 1.5, quality: 'good', source_ts_ms: Date.UTC(2026, 0, 1) }] };
    const cases: Array<[sampleOrBatch: 'sample' | 'batch', field: string, valueText: string, named: string]> = [
      ['sample', 'value', '"NaN"', 'samples.0.value'],
      ['sample', 'value', '1e400', 'samples.0.value'],
      ['sample', 'value', '-1e400', 'samples.0.value'],
      ['sample', 'source_ts_ms', '-1', 'samples.0.source_ts_ms'],
      ['sample', 'source_ts_ms', String(EPOCH_MS_MAX + 1), 'samples.0.source_ts_ms'],
      ['sample', 'source_ts_ms', '1e400', 'samples.0.source_ts_ms'],
      ['sample', 'source_ts_ms', '1767225600000.5', 'samples.0.source_ts_ms'],
      ['sample', 'source_ts_ms', '"2026-01-01T00:00:00Z"', 'samples.0.source_ts_ms'],
      ['sample', 'quality', '"GOOD"', 'samples.0.quality'],
      ['sample', '__proto__', '{"value":1}', 'samples.0'],
      ['batch', 'poll_ts_ms', '-8640000000000000', 'poll_ts_ms'],
      ['batch', 'seq', '1e400', 'seq'],
      ['batch', 'seq', '9007199254740993', 'seq'],
      ['batch', 'constructor', '{"prototype":{}}', 'payload'],
    ];
    for (const [where, field, valueText, named] of cases) {
      const { ingest, parse, warnings } = offlineParser(offlineTagIds);
      const text = where === 'sample' ? mutatedBatchText(good, [], [{ at: 0, field, value: valueText }]) : mutatedBatchText(good, [{ field, value: valueText }], []);
      expect(parse(Buffer.from(text)), text).to.deep.equal([]);
      expect(ingest.counters.invalidMessages, text).to.equal(1);
      expect(warnings[0]?.reason, text).to.match(new RegExp(`^${named.replace(/\./g, '\\.')}: `));
    }
  });

  it('takes 100,000 samples in one batch and refuses 100,001', () => {
    const { ingest, parse } = offlineParser(offlineTagIds);
    const sample = { tag: TAGS[0]!, value: 1, quality: 'good' as const, source_ts_ms: 0 };
    const batch = (count: number): TelemetryBatch => ({ site: SITE, device: 'plc-dma', seq: 1, poll_ts_ms: 0, historical: false, samples: Array.from({ length: count }, (_, index) => ({ ...sample, source_ts_ms: index })) });
    expect(parse(Buffer.from(JSON.stringify(batch(100_000))))).to.have.length(100_000);
    expect(parse(Buffer.from(JSON.stringify(batch(100_001))))).to.deep.equal([]);
    expect(ingest.counters.invalidMessages).to.equal(1);
  });

  describe('through a real broker and database', () => {
    let db: FreshDatabase;
    let site: SiteConfig;
    let tagIds: ReadonlyMap<string, TagIds>;
    let ingest: TelemetryIngest;
    let publisher: mqtt.MqttClient;
    /** (tag id, time) of every sample that should now be stored. */
    const storedKeys = new Set<string>();

    before(async () => {
      db = await freshDatabase();
      await migrate(pgDatabase(db.pool));
      site = await demoSiteOnFreePorts();
      tagIds = new Map([[site.site.id, await registerSite(db.pool, site)]]);
      const { mqttUrl } = await testServices();
      ingest = new TelemetryIngest({ mqttUrl, pool: db.pool, tagIds, log: createLogger({ level: 'silent' }), clientId: uniqueId('property-ingest'), flushIntervalMs: 5 });
      await ingest.start();
      publisher = await mqtt.connectAsync(mqttUrl, { clientId: uniqueId('property-publisher') });
    });

    after(async () => {
      await publisher?.endAsync();
      await ingest?.stop();
      await db?.drop();
    });

    it('every message is stored or counted as invalid, and the write path never jams', async () => {
      const payloads = fc.array(
        fc.oneof(
          { arbitrary: telemetryBatch(site.site.id, site.tags.map((tag) => tag.id)).map((batch) => Buffer.from(JSON.stringify(batch))), weight: 3 },
          { arbitrary: hostilePayload, weight: 2 },
        ),
        { minLength: 1, maxLength: 5 },
      );
      await fc.assert(
        fc.asyncProperty(payloads, async (messages) => {
          const before = { ...ingest.counters };
          const topic = topics.telemetry(site.site.id, 'plc-dma');
          // QoS 1: each publish resolves on its PUBACK, which the ingest sends only after the batch holding the message commits.
          await Promise.all(messages.map((payload) => publisher.publishAsync(topic, payload, { qos: 1 })));
          await waitFor('the messages taken', async () => (ingest.counters.messages >= before.messages + messages.length && ingest.unacknowledged === 0 ? true : undefined), 10_000, 5);
          let invalid = 0;
          for (const payload of messages) {
            const verdict = judge(payload);
            if (verdict.kind !== 'batch') invalid += 1;
            else for (const row of expectedRows(verdict.batch, tagIds)) storedKeys.add(`${row.tagId}/${row.timeMs}`);
          }
          expect(ingest.counters.invalidMessages - before.invalidMessages, 'invalid messages counted').to.equal(invalid);
          expect(ingest.counters.failedBatches, 'failed batches').to.equal(0);
          const { rows } = await db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM telemetry');
          expect(rows[0]!.n, 'rows stored: one per (tag, time) sent in a valid batch').to.equal(storedKeys.size);
        }),
        { numRuns: 40 },
      );
    });
  });
});
