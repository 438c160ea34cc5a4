// GET /api/v1/kpi against a real PostgreSQL: crews, officers and work orders written as rows,
// figures checked against hand-computed numbers per local day (Asia/Jakarta) and for the whole
// window, in JSON and CSV, with the default window and the refusals of bad queries.
import { expect } from 'chai';
import { createApp } from '../../src/api/app.js';
import type { SiteConfig } from '../../src/contracts/site.js';
import { silentLogger } from '../../src/log.js';
import { migrate } from '../../src/storage/migrate.js';
import { registerSite } from '../../src/storage/site-registry.js';
import { pgDatabase } from '../../src/storage/sql.js';
import { serve, TestCallers } from '../support/http.js';
import { freshDatabase, type FreshDatabase } from '../support/services.js';
import { demoSiteOnFreePorts } from '../support/site-fixture.js';

const MINUTE_MS = 60_000;
const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;
/** 1 March 2026, 00:00 in Asia/Jakarta (UTC+7), the demo site's time zone. */
const T0 = Date.parse('2026-03-01T00:00:00+07:00');
const time = (hours: number, minutes = 0) => new Date(T0 + hours * HOUR_MS + minutes * MINUTE_MS);
/** The clock of the API: two local days after T0. */
const NOW_MS = T0 + 2 * DAY_MS;

interface OrderRow {
  id: string;
  site?: string;
  crew: string | null;
  status: string;
  created: Date;
  due: Date;
  assigned?: Date;
  acknowledged?: Date;
  completed?: Date;
  cancelled?: Date;
  by?: string[];
}

// Hand-computed in the comments; P1 is 1 March (local), P2 is 2 March.
const orders: OrderRow[] = [
  // Completed 40 days before: outside every window asked for.
  { id: 'wo-0', crew: 'crew-a', status: 'completed', created: time(-41 * 24), due: time(-39 * 24), assigned: time(-41 * 24), acknowledged: time(-41 * 24, 5), completed: time(-40 * 24), by: ['off-a1'] },
  // P1, on time exactly at due: 20 min to acknowledge, 240 to complete, both crew-a officers.
  { id: 'wo-1', crew: 'crew-a', status: 'completed', created: time(1), due: time(5), assigned: time(1, 10), acknowledged: time(1, 30), completed: time(5), by: ['off-a1', 'off-a2'] },
  // P1, late: 10 min to acknowledge, 270 to complete, off-a1 only.
  { id: 'wo-2', crew: 'crew-a', status: 'completed', created: time(2), due: time(4), assigned: time(2), acknowledged: time(2, 10), completed: time(6, 30), by: ['off-a1'] },
  // Acknowledged in P1 after 5 min, completed on time in P2 after 1380 min; crew-b's backlog at the end of P1.
  { id: 'wo-3', crew: 'crew-b', status: 'completed', created: time(3), due: time(30), assigned: time(3), acknowledged: time(3, 5), completed: time(26), by: ['off-b1'] },
  // Acknowledged in P1 after 60 min and still in progress: crew-a's backlog at both ends.
  { id: 'wo-4', crew: 'crew-a', status: 'in_progress', created: time(20), due: time(40), assigned: time(20), acknowledged: time(21) },
  // Cancelled in P1: nowhere.
  { id: 'wo-5', crew: 'crew-b', status: 'cancelled', created: time(4), due: time(10), assigned: time(4), cancelled: time(10) },
  // Assigned in P2, not acknowledged: crew-b's backlog at the end of P2 only.
  { id: 'wo-6', crew: 'crew-b', status: 'assigned', created: time(25), due: time(50), assigned: time(25) },
  // Not assigned: nobody's.
  { id: 'wo-7', crew: null, status: 'new', created: time(2), due: time(10) },
  // Another site's order naming the same crew and officer: not this site's KPI.
  { id: 'wo-other', site: 'other-site', crew: 'crew-a', status: 'completed', created: time(1), due: time(2), assigned: time(1), acknowledged: time(1, 1), completed: time(5), by: ['off-a1'] },
];

interface Figures {
  orders: number;
  on_time: number;
  on_time_rate: number | null;
  mean_minutes_to_acknowledge: number | null;
  mean_minutes_to_complete: number | null;
  open_backlog: number;
}
const zero = (openBacklog: number): Figures => ({ orders: 0, on_time: 0, on_time_rate: null, mean_minutes_to_acknowledge: null, mean_minutes_to_complete: null, open_backlog: openBacklog });
const counted = (orders: number, onTime: number, rate: number, acknowledge: number | null, complete: number, openBacklog: number): Figures => ({
  orders,
  on_time: onTime,
  on_time_rate: rate,
  mean_minutes_to_acknowledge: acknowledge,
  mean_minutes_to_complete: complete,
  open_backlog: openBacklog,
});

const P1 = { period_start: '2026-02-28T17:00:00.000Z', period_end: '2026-03-01T17:00:00.000Z' };
const P2 = { period_start: '2026-03-01T17:00:00.000Z', period_end: '2026-03-02T17:00:00.000Z' };
const WHOLE = { period_start: P1.period_start, period_end: P2.period_end };

const CREW_C_NAME = 'Regu "C", malam';

interface Api {
  db: FreshDatabase;
  site: SiteConfig;
  url: string;
  callers: TestCallers;
  close(): Promise<void>;
}

async function startApi(): Promise<Api> {
  const db = await freshDatabase();
  await migrate(pgDatabase(db.pool));
  const demo = await demoSiteOnFreePorts();
  // The crews of this test are written as rows below, not taken from the config.
  const site: SiteConfig = { ...demo, dispatch: { ...demo.dispatch, crews: [] } };
  await registerSite(db.pool, site);
  await seed(db, site.site.id);

  const http = await serve(createApp({ pool: db.pool, site, log: silentLogger, brokerConnected: () => true, storageFlavour: 'postgres', clock: () => NOW_MS }));
  return {
    db,
    site,
    url: http.apiUrl,
    callers: new TestCallers(db.pool),
    async close() {
      await http.close();
      await db.drop();
    },
  };
}

async function seed(db: FreshDatabase, siteId: string): Promise<void> {
  await db.pool.query(`INSERT INTO site (id, name, timezone) VALUES ('other-site', 'Other', 'UTC')`);
  const crews = [
    { id: 'crew-a', name: 'Regu A', officers: [['off-a1', 'Asep'], ['off-a2', 'Budi']] },
    { id: 'crew-b', name: 'Regu B', officers: [['off-b1', 'Citra']] },
    { id: 'crew-c', name: CREW_C_NAME, officers: [['off-c1', 'Dewi']] },
  ];
  for (const crew of crews) {
    await db.pool.query(
      `INSERT INTO crew (id, site_id, name, skills, zones, shifts, base_lat, base_lon) VALUES ($1, $2, $3, '{burst_repair}', '{}', '[]', -6.9, 107.6)`,
      [crew.id, siteId, crew.name],
    );
    for (const [id, name] of crew.officers) await db.pool.query('INSERT INTO crew_officer (id, crew_id, name) VALUES ($1, $2, $3)', [id, crew.id, name]);
  }
  for (const order of orders) {
    await db.pool.query(
      `INSERT INTO work_order (id, site_id, incident_id, job_type, priority, created_at, due_at, source, title, status, crew_id,
         assigned_at, acknowledged_at, started_at, completed_at, cancelled_at, completed_by)
       VALUES ($1, $2, NULL, 'burst_repair', 'P2', $3, $4, 'manual', $1, $5, $6, $7, $8, $9, $10, $11, $12)`,
      [
        order.id,
        order.site ?? siteId,
        order.created,
        order.due,
        order.status,
        order.crew,
        order.assigned ?? null,
        order.acknowledged ?? null,
        order.status === 'in_progress' || order.completed !== undefined ? (order.acknowledged ?? null) : null,
        order.completed ?? null,
        order.cancelled ?? null,
        order.by ?? null,
      ],
    );
  }
}

type Json = Record<string, any>;

async function get(api: Api, pathAndQuery: string, headers: Record<string, string> = {}): Promise<{ status: number; type: string; text: string; body: Json }> {
  const response = await fetch(`${api.url}${pathAndQuery}`, { headers: { ...(await api.callers.headers('dispatcher-rina', 'dispatcher')), ...headers } });
  const text = await response.text();
  const type = response.headers.get('content-type') ?? '';
  return { status: response.status, type, text, body: type.startsWith('application/json') ? (JSON.parse(text) as Json) : {} };
}

const fieldsOf = (body: Json) => (body.issues as Array<{ field: string }>).map((issue) => issue.field);
const crewEntry = (id: string, name: string, period: typeof P1, figures: Figures) => ({ crew_id: id, name, ...period, ...figures });
const officerEntry = (id: string, name: string, crewId: string, period: typeof P1, figures: Figures) => ({ officer_id: id, name, crew_id: crewId, ...period, ...figures });

describe('work-order KPI API', function () {
  this.timeout(60_000);
  let api: Api;
  before(async () => {
    api = await startApi();
  });
  after(async () => api?.close());

  it('gives each crew and officer per local day, also those without orders', async () => {
    const { status, body } = await get(api, '/kpi?from=2026-03-01T00:00:00%2B07:00&to=2026-03-03T00:00:00%2B07:00&bucket=day');
    expect(status).to.equal(200);
    expect(body).to.deep.include({ from: '2026-02-28T17:00:00.000Z', to: '2026-03-02T17:00:00.000Z', bucket: 'day' });
    expect(body.crews).to.deep.equal([
      // Acknowledged in P1: wo-1 20, wo-2 10, wo-4 60 min -> 30; completed: wo-1 240, wo-2 270 -> 255.
      crewEntry('crew-a', 'Regu A', P1, counted(2, 1, 0.5, 30, 255, 1)),
      crewEntry('crew-b', 'Regu B', P1, { ...zero(1), mean_minutes_to_acknowledge: 5 }),
      crewEntry('crew-c', CREW_C_NAME, P1, zero(0)),
      crewEntry('crew-a', 'Regu A', P2, zero(1)),
      crewEntry('crew-b', 'Regu B', P2, counted(1, 1, 1, null, 1380, 1)),
      crewEntry('crew-c', CREW_C_NAME, P2, zero(0)),
    ]);
    expect(body.officers).to.deep.equal([
      officerEntry('off-a1', 'Asep', 'crew-a', P1, counted(2, 1, 0.5, 15, 255, 1)),
      officerEntry('off-a2', 'Budi', 'crew-a', P1, counted(1, 1, 1, 20, 240, 1)),
      officerEntry('off-b1', 'Citra', 'crew-b', P1, zero(1)),
      officerEntry('off-c1', 'Dewi', 'crew-c', P1, zero(0)),
      officerEntry('off-a1', 'Asep', 'crew-a', P2, zero(1)),
      officerEntry('off-a2', 'Budi', 'crew-a', P2, zero(1)),
      // Credited with wo-3, acknowledged back in P1.
      officerEntry('off-b1', 'Citra', 'crew-b', P2, counted(1, 1, 1, 5, 1380, 1)),
      officerEntry('off-c1', 'Dewi', 'crew-c', P2, zero(0)),
    ]);
  });

  it('gives one period for the window without a bucket, by default the 30 days up to now', async () => {
    const explicit = await get(api, '/kpi?from=2026-02-28T17:00:00Z&to=2026-03-02T17:00:00Z');
    const byDefault = await get(api, '/kpi');
    expect(byDefault.body).to.deep.include({ from: new Date(NOW_MS - 30 * DAY_MS).toISOString(), to: '2026-03-02T17:00:00.000Z', bucket: null });
    const defaultWindow = { period_start: '2026-01-31T17:00:00.000Z', period_end: WHOLE.period_end };
    for (const [response, period] of [[explicit, WHOLE], [byDefault, defaultWindow]] as const) {
      expect(response.status).to.equal(200);
      expect(response.body.crews).to.deep.equal([
        crewEntry('crew-a', 'Regu A', period, counted(2, 1, 0.5, 30, 255, 1)),
        crewEntry('crew-b', 'Regu B', period, counted(1, 1, 1, 5, 1380, 1)),
        crewEntry('crew-c', CREW_C_NAME, period, zero(0)),
      ]);
      expect(response.body.officers.map((entry: Json) => [entry.officer_id, entry.orders, entry.on_time_rate, entry.mean_minutes_to_acknowledge, entry.mean_minutes_to_complete, entry.open_backlog])).to.deep.equal([
        ['off-a1', 2, 0.5, 15, 255, 1],
        ['off-a2', 1, 1, 20, 240, 1],
        ['off-b1', 1, 1, 5, 1380, 1],
        ['off-c1', 0, null, null, null, 0],
      ]);
    }
  });

  it('writes CSV for format=csv and for an Accept header that prefers it', async () => {
    const expected = [
      'subject_type,subject_id,name,crew_id,period_start,period_end,orders,on_time,on_time_rate,mean_minutes_to_acknowledge,mean_minutes_to_complete,open_backlog',
      'crew,crew-a,Regu A,crew-a,2026-02-28T17:00:00.000Z,2026-03-02T17:00:00.000Z,2,1,0.5,30,255,1',
      'crew,crew-b,Regu B,crew-b,2026-02-28T17:00:00.000Z,2026-03-02T17:00:00.000Z,1,1,1,5,1380,1',
      'crew,crew-c,"Regu ""C"", malam",crew-c,2026-02-28T17:00:00.000Z,2026-03-02T17:00:00.000Z,0,0,,,,0',
      'officer,off-a1,Asep,crew-a,2026-02-28T17:00:00.000Z,2026-03-02T17:00:00.000Z,2,1,0.5,15,255,1',
      'officer,off-a2,Budi,crew-a,2026-02-28T17:00:00.000Z,2026-03-02T17:00:00.000Z,1,1,1,20,240,1',
      'officer,off-b1,Citra,crew-b,2026-02-28T17:00:00.000Z,2026-03-02T17:00:00.000Z,1,1,1,5,1380,1',
      'officer,off-c1,Dewi,crew-c,2026-02-28T17:00:00.000Z,2026-03-02T17:00:00.000Z,0,0,,,,0',
      '',
    ].join('\r\n');
    const window = 'from=2026-02-28T17:00:00Z&to=2026-03-02T17:00:00Z';
    const byFormat = await get(api, `/kpi?${window}&format=csv`);
    const byAccept = await get(api, `/kpi?${window}`, { accept: 'text/csv, application/json;q=0.5' });
    for (const response of [byFormat, byAccept]) {
      expect(response.status).to.equal(200);
      expect(response.type).to.match(/^text\/csv/);
      expect(response.text).to.equal(expected);
    }
    // An explicit format wins over the Accept header.
    const json = await get(api, `/kpi?${window}&format=json`, { accept: 'text/csv' });
    expect(json.type).to.match(/^application\/json/);
    expect(json.body.crews).to.have.length(3);
  });

  it('answers 400 naming the bad field', async () => {
    const cases: Array<{ query: string; fields: string[]; message?: string }> = [
      { query: 'bucket=year', fields: ['bucket'] },
      { query: 'from=yesterday&to=2026-03-02', fields: ['from', 'to'] },
      { query: 'format=xml', fields: ['format'] },
      { query: 'colour=red', fields: ['colour'] },
      { query: 'bucket=day&bucket=week', fields: ['bucket'] },
      { query: 'from=2026-03-02T00:00:00Z&to=2026-03-01T00:00:00Z', fields: ['to'], message: 'must be after from' },
      { query: 'from=2026-03-01T00:00:00Z&to=2026-03-01T00:00:00Z', fields: ['to'], message: 'must be after from' },
      { query: 'from=2020-01-01T00:00:00Z&to=2026-01-01T00:00:00Z&bucket=day', fields: ['bucket'], message: 'more than 1000 periods' },
    ];
    for (const testCase of cases) {
      const { status, body } = await get(api, `/kpi?${testCase.query}`);
      expect(status, testCase.query).to.equal(400);
      expect(fieldsOf(body), testCase.query).to.deep.equal(testCase.fields);
      if (testCase.message !== undefined) expect(body.message, testCase.query).to.contain(testCase.message);
    }
    // Six years by month is well under the cap: 72 local months and the first 7 hours of January 2026 (UTC+7).
    expect((await get(api, '/kpi?from=2020-01-01T00:00:00Z&to=2026-01-01T00:00:00Z&bucket=month')).body.crews).to.have.length(73 * 3);
  });
});
