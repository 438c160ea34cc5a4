// The telemetry query API against real PostgreSQL (plain path), and the same bucket SQL on the
// PGlite TimescaleDB build, where telemetry_1m is a continuous aggregate with real-time aggregation.
import type { Server } from 'node:http';
import { expect } from 'chai';
import { createApiKey } from '../../src/access/accounts.js';
import { createApp } from '../../src/api/app.js';
import type { SiteConfig } from '../../src/contracts/site.js';
import { silentLogger } from '../../src/log.js';
import { migrate } from '../../src/storage/migrate.js';
import { registerSite } from '../../src/storage/site-registry.js';
import { pgDatabase } from '../../src/storage/sql.js';
import { planBuckets, readBuckets, type SqlQuery, type TelemetryBucket } from '../../src/storage/telemetry-query.js';
import { openPgliteTimescale, type PgliteTimescale } from '../support/pglite-database.js';
import { freshDatabase, type FreshDatabase } from '../support/services.js';
import { demoSiteOnFreePorts } from '../support/site-fixture.js';

const DAY = 86_400_000;
type Sample = [time: string, value: number | null, quality: number];

/** Four minutes of 2026-01-01: a mix of good, uncertain and bad samples, a gap, a minute of only bad samples. */
const shortRange: Sample[] = [
  ['2026-01-01T00:00:10Z', 1, 0],
  ['2026-01-01T00:00:30Z', null, 2],
  ['2026-01-01T00:00:50Z', 4, 1],
  // 00:01 has no samples
  ['2026-01-01T00:02:00Z', 10, 0],
  ['2026-01-01T00:02:20Z', 20, 0],
  ['2026-01-01T00:02:40Z', null, 2],
  ['2026-01-01T00:03:30Z', null, 2],
];
const shortBuckets: TelemetryBucket[] = [
  { time: '2026-01-01T00:00:00.000Z', min: 1, max: 4, avg: 2.5, last: 4, count: 2 },
  { time: '2026-01-01T00:01:00.000Z', min: null, max: null, avg: null, last: null, count: 0 },
  { time: '2026-01-01T00:02:00.000Z', min: 10, max: 20, avg: 15, last: 20, count: 2 },
  { time: '2026-01-01T00:03:00.000Z', min: null, max: null, avg: null, last: null, count: 0 },
];

/** January 2026: day d has one sample of value d at 06:00; days 10 and 11 have none, day 20 only a bad one, day 5 six spread over four minutes. */
function monthSamples(): Sample[] {
  const samples: Sample[] = [];
  for (let day = 1; day <= 30; day += 1) {
    const date = `2026-01-${String(day).padStart(2, '0')}`;
    if (day === 10 || day === 11) continue;
    if (day === 20) {
      samples.push([`${date}T06:00:00Z`, null, 2]);
      continue;
    }
    samples.push([`${date}T06:00:00Z`, day, 0]);
  }
  samples.push(
    ['2026-01-05T00:00:00Z', 1, 0],
    ['2026-01-05T00:00:20Z', 2, 0],
    ['2026-01-05T00:00:40Z', 3, 0],
    ['2026-01-05T12:00:00Z', 10, 0],
    // The day's latest minute ends on a bad sample, so its rollup `last` is null: the last good value is still 5.
    ['2026-01-05T23:59:15Z', 5, 0],
    ['2026-01-05T23:59:30Z', null, 2],
  );
  return samples;
}

/** By hand: day 5 is min 1, max 10, (1+2+3+5+10+5)/6 = 26/6 (not the mean of minute means, 5.5), last 5. */
function monthBuckets(): TelemetryBucket[] {
  const buckets: TelemetryBucket[] = [];
  for (let day = 1; day <= 30; day += 1) {
    const time = new Date(Date.UTC(2026, 0, day)).toISOString();
    if (day === 10 || day === 11 || day === 20) buckets.push({ time, min: null, max: null, avg: null, last: null, count: 0 });
    else if (day === 5) buckets.push({ time, min: 1, max: 10, avg: 26 / 6, last: 5, count: 6 });
    else buckets.push({ time, min: day, max: day, avg: day, last: day, count: 1 });
  }
  return buckets;
}

async function insertSamples(sql: SqlQuery, tagId: number, samples: readonly Sample[]): Promise<void> {
  await sql.query(
    `INSERT INTO telemetry (tag_id, time, value, quality)
     SELECT $1, * FROM unnest($2::timestamptz[], $3::double precision[], $4::smallint[])`,
    [tagId, samples.map((sample) => sample[0]), samples.map((sample) => sample[1]), samples.map((sample) => sample[2])],
  );
}

function expectBuckets(actual: readonly TelemetryBucket[], expected: readonly TelemetryBucket[]): void {
  expect(actual.map((bucket) => ({ ...bucket, avg: bucket.avg === null ? null : Math.round(bucket.avg * 1e9) / 1e9 }))).to.deep.equal(
    expected.map((bucket) => ({ ...bucket, avg: bucket.avg === null ? null : Math.round(bucket.avg * 1e9) / 1e9 })),
  );
}

describe('telemetry query API', function () {
  this.timeout(60_000);
  let db: FreshDatabase;
  let site: SiteConfig;
  let server: Server;
  let baseUrl: string;
  let credentials: Record<string, string>;
  let pressureId: number;
  const pressure = 'dma-1.pressure.1';
  const flow = 'dma-2.inlet.flow';
  const month = 'dma-3.pressure.1';

  before(async () => {
    db = await freshDatabase();
    await migrate(pgDatabase(db.pool), { flavour: 'postgres' });
    site = await demoSiteOnFreePorts();
    const tagIds = await registerSite(db.pool, site);
    pressureId = tagIds.get(pressure)!;
    await insertSamples(db.pool, pressureId, shortRange);
    await insertSamples(db.pool, tagIds.get(flow)!, [['2026-01-01T00:00:05Z', 300, 0], ['2026-01-01T00:05:00Z', 310.5, 1]]);
    await insertSamples(db.pool, tagIds.get(month)!, monthSamples());
    server = createApp({ pool: db.pool, site, log: silentLogger, brokerConnected: () => true, storageFlavour: 'postgres' }).listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    baseUrl = `http://127.0.0.1:${(server.address() as { port: number }).port}/api/v1`;
    credentials = { authorization: `Bearer ${await createApiKey(db.pool, { name: 'engineer', role: 'engineer' })}` };
  });

  after(async () => {
    await new Promise((resolve) => server?.close(resolve));
    await db?.drop();
  });

  const get = (query: string, headers: Record<string, string> = {}) => fetch(`${baseUrl}/telemetry${query}`, { headers: { ...credentials, ...headers } });

  type BucketAnswer = { tag: string; unit: string; from: string; to: string; step: string; step_ms: number; source: string; buckets: TelemetryBucket[] };

  it('answers 1-minute buckets from the raw table: statistics, a gap, bad samples left out', async () => {
    const response = await get(`?tag=${pressure}&from=2026-01-01T00:00:00Z&to=2026-01-01T00:04:00Z&step=1m`);
    expect(response.status).to.equal(200);
    const body = (await response.json()) as BucketAnswer;
    expect(body).to.include({ tag: pressure, unit: 'm', from: '2026-01-01T00:00:00.000Z', to: '2026-01-01T00:04:00.000Z', step: '1m', step_ms: 60_000, source: 'telemetry' });
    expect(body.buckets).to.deep.equal(shortBuckets);
  });

  it('widens the range to whole buckets and picks a default step when none is given', async () => {
    const body = (await (await get(`?tag=${pressure}&from=2026-01-01T00:00:30Z&to=2026-01-01T00:02:30Z&step=2m`)).json()) as BucketAnswer;
    expect(body.buckets).to.deep.equal([
      { time: '2026-01-01T00:00:00.000Z', min: 1, max: 4, avg: 2.5, last: 4, count: 2 },
      { time: '2026-01-01T00:02:00.000Z', min: 10, max: 20, avg: 15, last: 20, count: 2 },
    ]);
    const defaulted = (await (await get(`?tag=${pressure}&from=2026-01-01T00:00:00Z&to=2026-01-01T01:00:00Z`)).json()) as BucketAnswer;
    expect(defaulted).to.include({ step: '5s', source: 'telemetry' });
    expect(defaulted.buckets).to.have.length(720);
    expect(defaulted.buckets.filter((bucket) => bucket.count > 0).map((bucket) => [bucket.time, bucket.last])).to.deep.equal([
      ['2026-01-01T00:00:10.000Z', 1],
      ['2026-01-01T00:00:50.000Z', 4],
      ['2026-01-01T00:02:00.000Z', 10],
      ['2026-01-01T00:02:20.000Z', 20],
    ]);
  });

  it('answers a 30-day range by hand-checked numbers, from the raw table on plain PostgreSQL', async () => {
    const response = await get(`?tag=${month}&from=2026-01-01T00:00:00Z&to=2026-01-31T00:00:00Z&step=1d`);
    expect(response.status).to.equal(200);
    const body = (await response.json()) as BucketAnswer;
    expect(body).to.include({ source: 'telemetry', step: '1d' });
    expectBuckets(body.buckets, monthBuckets());
  });

  it('gives the same buckets from the raw table and from the rollup', async () => {
    const tagIds = await registerSite(db.pool, site);
    const plan = planBuckets(Date.UTC(2026, 0, 1), Date.UTC(2026, 0, 31), DAY, 'timescaledb');
    const fromRollup = await readBuckets(db.pool, tagIds.get(month)!, { ...plan, source: 'telemetry_1m' });
    const fromRaw = await readBuckets(db.pool, tagIds.get(month)!, { ...plan, source: 'telemetry' });
    expectBuckets(fromRollup, fromRaw);
  });

  it('answers CSV for Accept: text/csv, with empty fields for nulls', async () => {
    const response = await get(`?tag=${pressure}&from=2026-01-01T00:00:00Z&to=2026-01-01T00:04:00Z&step=1m`, { accept: 'text/csv' });
    expect(response.status).to.equal(200);
    expect(response.headers.get('content-type')).to.contain('text/csv');
    expect(response.headers.get('x-telemetry-source')).to.equal('telemetry');
    expect(await response.text()).to.equal(
      [
        'time,min,max,avg,last,count',
        '2026-01-01T00:00:00.000Z,1,4,2.5,4,2',
        '2026-01-01T00:01:00.000Z,,,,,0',
        '2026-01-01T00:02:00.000Z,10,20,15,20,2',
        '2026-01-01T00:03:00.000Z,,,,,0',
        '',
      ].join('\n'),
    );
  });

  it('keeps the raw points answer for step=raw, in JSON and CSV', async () => {
    const query = `?tag=${pressure}&from=2026-01-01T00:00:00Z&to=2026-01-01T00:01:00Z&step=raw`;
    const body = (await (await get(query)).json()) as { step: string; truncated: boolean; points: unknown[] };
    expect(body).to.include({ step: 'raw', truncated: false });
    expect(body.points).to.deep.equal([
      { time: '2026-01-01T00:00:10.000Z', value: 1, quality: 'good' },
      { time: '2026-01-01T00:00:30.000Z', value: null, quality: 'bad' },
      { time: '2026-01-01T00:00:50.000Z', value: 4, quality: 'uncertain' },
    ]);
    expect(await (await get(query, { accept: 'text/csv' })).text()).to.equal(
      'time,value,quality\n2026-01-01T00:00:10.000Z,1,good\n2026-01-01T00:00:30.000Z,,bad\n2026-01-01T00:00:50.000Z,4,uncertain\n',
    );
  });

  it("gives each tag's last sample, bad ones included, optionally for one tag", async () => {
    const all = (await (await fetch(`${baseUrl}/telemetry/latest`, { headers: credentials })).json()) as unknown[];
    expect(all).to.deep.equal([
      { tag: pressure, time: '2026-01-01T00:03:30.000Z', value: null, quality: 'bad' },
      { tag: flow, time: '2026-01-01T00:05:00.000Z', value: 310.5, quality: 'uncertain' },
      { tag: month, time: '2026-01-30T06:00:00.000Z', value: 30, quality: 'good' },
    ]);
    const one = await fetch(`${baseUrl}/telemetry/latest?tag=${flow}`, { headers: credentials });
    expect(await one.json()).to.deep.equal([{ tag: flow, time: '2026-01-01T00:05:00.000Z', value: 310.5, quality: 'uncertain' }]);
    expect((await fetch(`${baseUrl}/telemetry/latest?tag=nope`, { headers: credentials })).status).to.equal(404);
  });

  it('reads the latest samples through one primary-key probe per tag', async () => {
    const { rows } = await db.pool.query(
      `EXPLAIN SELECT tag.key, latest.time FROM tag CROSS JOIN LATERAL (SELECT time FROM telemetry WHERE telemetry.tag_id = tag.id ORDER BY time DESC LIMIT 1) AS latest WHERE tag.site_id = $1`,
      [site.site.id],
    );
    const plan = rows.map((row) => row['QUERY PLAN'] as string).join('\n');
    expect(plan).to.match(/Index (Only )?Scan Backward using telemetry_pkey/);
  });

  describe('400 naming each bad field', () => {
    const cases: Array<{ name: string; query: string; fields: string[]; message?: RegExp }> = [
      { name: 'bad ISO times', query: `?tag=${pressure}&from=yesterday&to=2026-13-01`, fields: ['from', 'to'] },
      { name: 'every bad field at once', query: `?from=noon&to=2026-01-01T00:00:00Z&step=5w`, fields: ['tag', 'from', 'step'] },
      { name: 'to before from', query: `?tag=${pressure}&from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z`, fields: ['to'], message: /after from/ },
      { name: 'to equal to from', query: `?tag=${pressure}&from=2026-01-01T00:00:00Z&to=2026-01-01T00:00:00Z`, fields: ['to'], message: /after from/ },
      { name: 'an unknown step unit', query: `?tag=${pressure}&from=2026-01-01T00:00:00Z&to=2026-01-02T00:00:00Z&step=5w`, fields: ['step'], message: /unknown step unit "w"/ },
      { name: 'a step that is not a number and unit', query: `?tag=${pressure}&from=2026-01-01T00:00:00Z&to=2026-01-02T00:00:00Z&step=fast`, fields: ['step'] },
      { name: 'a bucketed range over 400 days', query: `?tag=${pressure}&from=2025-01-01T00:00:00Z&to=2026-02-06T00:00:00Z&step=1d`, fields: ['to'], message: /400 days/ },
      { name: 'a raw range over 31 days', query: `?tag=${pressure}&from=2026-01-01T00:00:00Z&to=2026-02-01T00:00:01Z&step=raw`, fields: ['to'], message: /31 days/ },
      { name: 'more than 50,000 buckets', query: `?tag=${pressure}&from=2026-01-01T00:00:00Z&to=2026-03-01T00:00:00Z&step=1m`, fields: ['step'], message: /84960 buckets.*use a larger step/ },
      { name: 'an unknown parameter', query: `?tag=${pressure}&from=2026-01-01T00:00:00Z&to=2026-01-02T00:00:00Z&stp=1m`, fields: ['stp'] },
    ];
    for (const testCase of cases) {
      it(testCase.name, async () => {
        const response = await get(testCase.query);
        expect(response.status).to.equal(400);
        const body = (await response.json()) as { error: string; issues: Array<{ field: string; message: string }> };
        expect(body.error).to.equal('validation_failed');
        expect(body.issues.map((issue) => issue.field)).to.have.members(testCase.fields);
        if (testCase.message !== undefined) expect(body.issues.map((issue) => issue.message).join('; ')).to.match(testCase.message);
      });
    }

    it('answers 404 for an unknown tag', async () => {
      expect((await get('?tag=nope&from=2026-01-01T00:00:00Z&to=2026-01-01T01:00:00Z')).status).to.equal(404);
    });
  });
});

describe('telemetry query API on TimescaleDB (PGlite build)', function () {
  this.timeout(120_000);
  let timescale: PgliteTimescale;
  let sql: SqlQuery;
  const tagId = 7;

  before(async () => {
    timescale = await openPgliteTimescale();
    await migrate(timescale.database);
    sql = { query: async <Row,>(text: string, params?: readonly unknown[]) => timescale.pglite.query<Row>(text, params as unknown[] | undefined) };
  });
  after(async () => timescale?.close());

  it('answers the hand-checked buckets from the raw hypertable and from the continuous aggregate, part materialised, part real-time', async () => {
    const samples = monthSamples();
    // Days 1 to 15 are materialised; the rest is inserted afterwards and answered by real-time aggregation.
    await insertSamples(sql, tagId, samples.filter((sample) => sample[0] < '2026-01-16'));
    await timescale.pglite.exec("CALL refresh_continuous_aggregate('telemetry_1m', '2026-01-01', '2026-01-16')");
    await insertSamples(sql, tagId, samples.filter((sample) => sample[0] >= '2026-01-16'));
    const materialised = await timescale.pglite.query<{ n: number }>('SELECT count(*)::int AS n FROM _timescaledb_catalog.continuous_aggs_watermark');
    expect(materialised.rows[0]?.n).to.equal(1);

    const plan = planBuckets(Date.UTC(2026, 0, 1), Date.UTC(2026, 0, 31), DAY, 'timescaledb');
    expect(plan.source).to.equal('telemetry_1m');
    expectBuckets(await readBuckets(sql, tagId, plan), monthBuckets());
    expectBuckets(await readBuckets(sql, tagId, { ...plan, source: 'telemetry' }), monthBuckets());
  });

  it('answers short raw-table buckets alike; late rows below the watermark reach the rollup only when refreshed', async () => {
    await insertSamples(sql, tagId + 1, shortRange);
    const plan = planBuckets(Date.UTC(2026, 0, 1), Date.UTC(2026, 0, 1, 0, 4), 60_000, 'timescaledb');
    expect(plan.source).to.equal('telemetry');
    expect(await readBuckets(sql, tagId + 1, plan)).to.deep.equal(shortBuckets);
    // 2026-01-01 is already materialised, so real-time aggregation does not cover these late rows.
    const stale = await readBuckets(sql, tagId + 1, { ...plan, source: 'telemetry_1m' });
    expect(stale.map((bucket) => bucket.count)).to.deep.equal([0, 0, 0, 0]);
    await timescale.pglite.exec("CALL refresh_continuous_aggregate('telemetry_1m', '2026-01-01', '2026-01-02')");
    expectBuckets(await readBuckets(sql, tagId + 1, { ...plan, source: 'telemetry_1m' }), shortBuckets);
  });
});
