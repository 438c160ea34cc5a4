// Complaint intake, placement and operator verification over HTTP against a real PostgreSQL:
// every location form, idempotency under concurrent retries, bulk imports, verification flows.
import path from 'node:path';
import { expect } from 'chai';
import { createApp } from '../../src/api/app.js';
import { acceptComplaint } from '../../src/complaints/complaint-intake.js';
import { listComplaintsAfter, listDecisionsAfter, recordComplaintAssignments } from '../../src/complaints/complaint-store.js';
import { findCustomerAccounts, registerCustomerAccounts } from '../../src/complaints/customer-accounts.js';
import type { Geocoder } from '../../src/complaints/geocoder.js';
import { customerDirectorySchema } from '../../src/contracts/customers.js';
import type { SiteConfig } from '../../src/contracts/site.js';
import { ConfigError } from '../../src/errors.js';
import { silentLogger } from '../../src/log.js';
import { migrate } from '../../src/storage/migrate.js';
import { registerSite } from '../../src/storage/site-registry.js';
import { pgDatabase } from '../../src/storage/sql.js';
import { serve, TestCallers } from '../support/http.js';
import { freshDatabase, type FreshDatabase } from '../support/services.js';
import { demoSiteOnFreePorts } from '../support/site-fixture.js';

const TESTCASES = 'test/testcases/complaints';
const IN_DMA_1 = { lat: -6.8915, lon: 107.6105 };
const OUTSIDE = { lat: -7.25, lon: 112.75 };

interface Api {
  db: FreshDatabase;
  site: SiteConfig;
  url: string;
  callers: TestCallers;
  close(): Promise<void>;
}

async function startApi(nowMs?: () => number): Promise<Api> {
  const db = await freshDatabase();
  await migrate(pgDatabase(db.pool));
  const demo = await demoSiteOnFreePorts();
  const site: SiteConfig = {
    ...demo,
    customers: customerDirectorySchema.parse({
      accounts: [
        { account: '01-0001-23', zone: 'dma-1', location: { lat: -6.8900, lon: 107.6050 }, address: 'Jl. Merdeka 3' },
        { account: '03-0009-99', zone: 'dma-3' },
      ],
      accounts_file: 'accounts.csv',
      streets: [
        { name: 'Jalan Merdeka', aliases: ['Jl. Merdeka Lama'], zone: 'dma-1', location: { lat: -6.8920, lon: 107.6100 } },
        { name: 'Braga', zone: 'dma-2' },
      ],
    }),
  };
  await registerSite(db.pool, site);
  await registerCustomerAccounts(db.pool, site, { baseDir: path.resolve(TESTCASES) });
  const app = createApp({ pool: db.pool, site, log: silentLogger, brokerConnected: () => true, storageFlavour: 'postgres', ...(nowMs ? { clock: nowMs } : {}) });
  const http = await serve(app);
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

type Json = Record<string, any>;

/** A request as the operator named by the body's `by` (operator.siti by default), with that operator's API key. */
async function call(api: Api, method: string, pathAndQuery: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: Json; headers: Headers }> {
  const { by = 'operator.siti', ...fields } = (body !== null && typeof body === 'object' && !Array.isArray(body) ? body : {}) as Json;
  const response = await fetch(`${api.url}${pathAndQuery}`, {
    method,
    headers: { 'content-type': 'application/json', ...(await api.callers.headers(by as string, 'operator')), ...headers },
    ...(body === undefined ? {} : { body: JSON.stringify(body !== null && typeof body === 'object' && !Array.isArray(body) ? fields : body) }),
  });
  return { status: response.status, body: (await response.json()) as Json, headers: response.headers };
}

const complaint = (overrides: Json = {}) => ({ channel: 'call_center', category: 'no_water', location: IN_DMA_1, text: 'no water since 6 am', ...overrides });
const fieldsOf = (body: Json) => (body.issues as Array<{ field: string }>).map((issue) => issue.field);
const count = async (api: Api, where = 'true', params: unknown[] = []) => (await api.db.pool.query(`SELECT count(*)::int AS n FROM complaint WHERE ${where}`, params)).rows[0].n as number;

describe('complaint intake', function () {
  this.timeout(60_000);
  let api: Api;
  before(async () => {
    api = await startApi();
  });
  after(async () => api?.close());

  it('places coordinates in their zone, pending verification', async () => {
    const { status, body, headers } = await call(api, 'POST', '/complaints', complaint());
    expect(status).to.equal(201);
    expect(body).to.include({ zone: 'dma-1', location_status: 'in_zone', verification: 'pending', matched_anomaly_id: null, incident_id: null });
    expect(body.position).to.deep.equal(IN_DMA_1);
    expect(headers.get('location')).to.equal(`/api/v1/complaints/${body.id}`);
    expect((await call(api, 'GET', `/complaints/${body.id}`)).body).to.deep.equal(body);
  });

  it('places a customer account, however its number is written, at its zone and point', async () => {
    const { status, body } = await call(api, 'POST', '/complaints', complaint({ location: { account: ' 01 0001 23 ' } }));
    expect(status).to.equal(201);
    expect(body).to.include({ zone: 'dma-1', location_status: 'in_zone' });
    expect(body.position).to.deep.equal({ lat: -6.89, lon: 107.605 });
    expect(body.location).to.deep.equal({ account: '01 0001 23' });
  });

  it('places an account from the accounts file, and one known only by its zone', async () => {
    const fromFile = await call(api, 'POST', '/complaints', complaint({ location: { account: '02-0001-01' } }));
    expect(fromFile.body).to.include({ zone: 'dma-2', location_status: 'in_zone' });
    expect(fromFile.body.position).to.deep.equal({ lat: -6.907, lon: 107.61 });
    const zoneOnly = await call(api, 'POST', '/complaints', complaint({ location: { account: '03-0009-99' } }));
    expect(zoneOnly.body).to.include({ zone: 'dma-3', location_status: 'in_zone', position: null });
  });

  it('places an address by its street name', async () => {
    const merdeka = await call(api, 'POST', '/complaints', complaint({ location: { address: 'JL. MERDEKA LAMA no. 7, RT 02/RW 05' } }));
    expect(merdeka.status).to.equal(201);
    expect(merdeka.body).to.include({ zone: 'dma-1', location_status: 'in_zone' });
    expect(merdeka.body.position).to.deep.equal({ lat: -6.892, lon: 107.61 });
    const braga = await call(api, 'POST', '/complaints', complaint({ location: { address: 'jalan braga 40' } }));
    expect(braga.body).to.include({ zone: 'dma-2', location_status: 'in_zone', position: null });
  });

  it('keeps a complaint outside every zone and flags it', async () => {
    const { status, body } = await call(api, 'POST', '/complaints', complaint({ location: OUTSIDE }));
    expect(status).to.equal(201);
    expect(body).to.include({ zone: null, location_status: 'outside_zones' });
  });

  it('keeps an unknown account or address unresolved', async () => {
    const account = await call(api, 'POST', '/complaints', complaint({ location: { account: '99-9999' } }));
    const address = await call(api, 'POST', '/complaints', complaint({ location: { address: 'Jl. Asia Afrika 8' } }));
    for (const { status, body } of [account, address]) {
      expect(status).to.equal(201);
      expect(body).to.include({ zone: null, location_status: 'unresolved', position: null, verification: 'pending' });
    }
  });

  it('answers 400 naming the bad fields, and stores nothing', async () => {
    const before = await count(api);
    const { status, body } = await call(api, 'POST', '/complaints', { channel: 'fax', category: 'no_water', location: { street: 'x' }, text: 'x', reported_at: 'today' });
    expect(status).to.equal(400);
    expect(fieldsOf(body)).to.include.members(['channel', 'location', 'reported_at']);
    expect(await count(api)).to.equal(before);
  });

  it('stores one complaint per Idempotency-Key, answering 200 with it on a repeat', async () => {
    const first = await call(api, 'POST', '/complaints', complaint(), { 'Idempotency-Key': 'cc-0001' });
    const again = await call(api, 'POST', '/complaints', complaint({ text: 'typed again' }), { 'Idempotency-Key': 'cc-0001' });
    expect([first.status, again.status]).to.deep.equal([201, 200]);
    expect(again.body).to.deep.equal(first.body);
  });

  it('stores one complaint for ten concurrent posts with one Idempotency-Key', async () => {
    const responses = await Promise.all(Array.from({ length: 10 }, () => call(api, 'POST', '/complaints', complaint(), { 'Idempotency-Key': 'cc-race' })));
    expect(responses.map((response) => response.status).sort()).to.deep.equal([200, 200, 200, 200, 200, 200, 200, 200, 200, 201]);
    expect(new Set(responses.map((response) => response.body.id)).size).to.equal(1);
    expect(await count(api, 'idempotency_key = $1', ['cc-race'])).to.equal(1);
  });

  it('stores one complaint for ten concurrent posts of one channel message', async () => {
    const message = complaint({ channel: 'whatsapp', external_id: 'wamid.HBgL001' });
    const responses = await Promise.all(Array.from({ length: 10 }, () => call(api, 'POST', '/complaints', message)));
    expect(responses.filter((response) => response.status === 201)).to.have.length(1);
    expect(responses.filter((response) => response.status === 200)).to.have.length(9);
    expect(new Set(responses.map((response) => response.body.id)).size).to.equal(1);
    expect(await count(api, 'external_id = $1', ['wamid.HBgL001'])).to.equal(1);
    // The same message id on another channel is another message.
    expect((await call(api, 'POST', '/complaints', { ...message, channel: 'sp4n_lapor' })).status).to.equal(201);
  });

  it('gives the engine every complaint in arrival order by seq', async () => {
    const siteId = api.site.site.id;
    const before = (await listComplaintsAfter(api.db.pool, siteId, 0, 100_000)).at(-1)?.seq ?? 0;
    const posted: string[] = [];
    for (let index = 0; index < 5; index += 1) posted.push((await call(api, 'POST', '/complaints', complaint({ text: `feed ${index}` }))).body.id);
    const feed = await listComplaintsAfter(api.db.pool, siteId, before, 100);
    expect(feed.map((stored) => stored.id)).to.deep.equal(posted);
    const seqs = feed.map((stored) => stored.seq);
    expect(seqs).to.deep.equal([...seqs].sort((a, b) => a - b));
    const page = await listComplaintsAfter(api.db.pool, siteId, seqs[1]!, 2);
    expect(page.map((stored) => stored.id)).to.deep.equal(posted.slice(2, 4));
  });
});

describe('complaint placement through a plugged-in geocoder', function () {
  this.timeout(60_000);
  let api: Api;
  before(async () => {
    api = await startApi();
  });
  after(async () => api?.close());

  const address = (text: string) => ({ channel: 'web' as const, category: 'leak_burst' as const, location: { address: text }, text: 'pipe burst' });

  it('uses the point the geocoder returns, and keeps the complaint unresolved when the geocoder fails', async () => {
    const geocoder: Geocoder = {
      async geocode(text) {
        if (text.includes('down')) throw new Error('geocoding service unavailable');
        return text.includes('far') ? OUTSIDE : IN_DMA_1;
      },
    };
    const options = { geocoder, receivedAtMs: Date.parse('2026-03-01T08:00:00Z') };
    const placed = await acceptComplaint(api.db.pool, api.site, address('Somewhere 1'), options);
    expect(placed.complaint).to.include({ zone: 'dma-1', location_status: 'in_zone' });
    const far = await acceptComplaint(api.db.pool, api.site, address('far away'), options);
    expect(far.complaint).to.include({ zone: null, location_status: 'outside_zones' });
    const failed = await acceptComplaint(api.db.pool, api.site, address('service down'), options);
    expect(failed.created).to.equal(true);
    expect(failed.complaint).to.include({ location_status: 'unresolved' });
    expect((failed.geocodeFailure as Error).message).to.equal('geocoding service unavailable');
  });
});

describe('complaint bulk import', function () {
  this.timeout(60_000);
  let api: Api;
  before(async () => {
    api = await startApi();
  });
  after(async () => api?.close());

  const batch = (prefix: string, size: number) =>
    Array.from({ length: size }, (_, index) => complaint({ channel: 'sp4n_lapor', external_id: `${prefix}-${index}`, location: index % 2 === 0 ? IN_DMA_1 : { account: '02-0001-02' } }));

  it('stores every item and lists each id', async () => {
    const { status, body } = await call(api, 'POST', '/complaints:bulk', batch('lapor-a', 20));
    expect(status).to.equal(201);
    expect(body).to.include({ created: 20, existing: 0 });
    expect(body.items).to.have.length(20);
    expect(body.items[1]).to.include({ index: 1, created: true, zone: 'dma-2', location_status: 'in_zone', verification: 'pending' });
    expect(await count(api, "external_id LIKE 'lapor-a-%'")).to.equal(20);
  });

  it('stores nothing new on a retry and answers the same ids', async () => {
    const items = batch('lapor-b', 5);
    const first = await call(api, 'POST', '/complaints:bulk', items.slice(0, 3));
    const retry = await call(api, 'POST', '/complaints:bulk', items);
    expect(first.status).to.equal(201);
    expect(retry.status).to.equal(201);
    expect(retry.body).to.include({ created: 2, existing: 3 });
    expect(retry.body.items.slice(0, 3).map((item: Json) => item.id)).to.deep.equal(first.body.items.map((item: Json) => item.id));
    const again = await call(api, 'POST', '/complaints:bulk', items);
    expect(again.status).to.equal(200);
    expect(again.body).to.include({ created: 0, existing: 5 });
  });

  it('is idempotent by Idempotency-Key for items without external_id', async () => {
    const items = [complaint({ text: 'one' }), complaint({ text: 'two' })];
    const first = await call(api, 'POST', '/complaints:bulk', items, { 'Idempotency-Key': 'import-2026-03-01' });
    const retry = await call(api, 'POST', '/complaints:bulk', items, { 'Idempotency-Key': 'import-2026-03-01' });
    expect([first.status, retry.status]).to.deep.equal([201, 200]);
    expect(retry.body.items.map((item: Json) => item.id)).to.deep.equal(first.body.items.map((item: Json) => item.id));
  });

  it('stores a message repeated inside one import once', async () => {
    const item = complaint({ channel: 'social_media', external_id: 'tweet-77' });
    const { body } = await call(api, 'POST', '/complaints:bulk', [item, item]);
    expect(body).to.include({ created: 1, existing: 1 });
    expect(body.items[1].id).to.equal(body.items[0].id);
  });

  it('refuses the whole import when one item is bad, naming its index and field', async () => {
    const items = batch('lapor-c', 6);
    items[3] = { ...items[3]!, location: { lat: 123, lon: 107.6 } };
    items[5] = { ...items[5]!, category: 'flood' };
    const { status, body } = await call(api, 'POST', '/complaints:bulk', items);
    expect(status).to.equal(400);
    expect(fieldsOf(body)).to.deep.equal(['[3].location.lat', '[5].category']);
    expect(await count(api, "external_id LIKE 'lapor-c-%'")).to.equal(0);
  });

  it('refuses an empty import, one that is not a list, and one over 1000 items', async () => {
    expect((await call(api, 'POST', '/complaints:bulk', [])).status).to.equal(400);
    expect((await call(api, 'POST', '/complaints:bulk', complaint())).status).to.equal(400);
    const tooMany = Array.from({ length: 1001 }, (_, index) => ({ channel: 'web', category: 'other', location: IN_DMA_1, text: 'x', external_id: `many-${index}` }));
    const { status, body } = await call(api, 'POST', '/complaints:bulk', tooMany);
    expect(status).to.equal(400);
    expect(fieldsOf(body)).to.deep.equal(['body']);
  });

  it('takes a full import of 1000 items', async () => {
    const { status, body } = await call(api, 'POST', '/complaints:bulk', batch('lapor-d', 1000));
    expect(status).to.equal(201);
    expect(body.created).to.equal(1000);
  });
});

describe('complaint verification', function () {
  this.timeout(60_000);
  let api: Api;
  before(async () => {
    api = await startApi(() => Date.parse('2026-03-01T09:00:00Z'));
  });
  after(async () => api?.close());

  const newComplaint = async () => (await call(api, 'POST', '/complaints', complaint())).body.id as string;
  const verify = (id: string, body: unknown = { by: 'operator.siti' }) => call(api, 'POST', `/complaints/${id}/verify`, body);
  const reject = (id: string, body: unknown = { by: 'operator.siti' }) => call(api, 'POST', `/complaints/${id}/reject`, body);

  it('an operator verifies a pending complaint, once', async () => {
    const id = await newComplaint();
    const verified = await verify(id, { by: 'operator.siti', note: 'called back: no water on the whole street' });
    expect(verified.status).to.equal(200);
    expect(verified.body).to.include({ verification: 'verified_by_operator', verified_by: 'operator.siti', verification_note: 'called back: no water on the whole street', verified_at: '2026-03-01T09:00:00.000Z' });
    const again = await verify(id);
    expect(again.status).to.equal(409);
    expect(again.body.error).to.equal('conflict');
    expect(again.body.complaint.verification).to.equal('verified_by_operator');
    expect((await reject(id)).status).to.equal(409);
  });

  it('an operator rejects a pending complaint, once', async () => {
    const id = await newComplaint();
    const rejected = await reject(id, { by: 'operator.budi', note: 'duplicate of a prank call' });
    expect(rejected.status).to.equal(200);
    expect(rejected.body).to.include({ verification: 'rejected', verified_by: 'operator.budi' });
    expect((await reject(id)).status).to.equal(409);
    expect((await verify(id)).status).to.equal(409);
  });

  it('a telemetry-verified complaint cannot be verified again but can be rejected', async () => {
    const id = await newComplaint();
    expect(await recordComplaintAssignments(api.db.pool, [{ complaintId: id, incidentId: 'incident-1', telemetryMatch: { anomalyId: 'anomaly-dma-1-pressure-drop', atMs: Date.parse('2026-03-01T08:30:00Z') } }])).to.equal(1);
    const stored = (await call(api, 'GET', `/complaints/${id}`)).body;
    expect(stored).to.include({ verification: 'verified_by_telemetry', matched_anomaly_id: 'anomaly-dma-1-pressure-drop', incident_id: 'incident-1', verified_at: '2026-03-01T08:30:00.000Z', verified_by: null });
    const verified = await verify(id);
    expect(verified.status).to.equal(409);
    expect(verified.body.message).to.contain('verified by telemetry');
    expect((await reject(id, { by: 'operator.siti', note: 'unrelated to the burst' })).body).to.include({ verification: 'rejected' });
  });

  it('telemetry does not overturn an operator decision, but records the match', async () => {
    const id = await newComplaint();
    await reject(id);
    expect(await recordComplaintAssignments(api.db.pool, [{ complaintId: id, telemetryMatch: { anomalyId: 'anomaly-2', atMs: Date.parse('2026-03-01T09:30:00Z') } }])).to.equal(1);
    expect((await call(api, 'GET', `/complaints/${id}`)).body).to.include({ verification: 'rejected', matched_anomaly_id: 'anomaly-2', verified_at: '2026-03-01T09:00:00.000Z' });
    expect(await recordComplaintAssignments(api.db.pool, [{ complaintId: '00000000-0000-4000-8000-000000000000', telemetryMatch: { anomalyId: 'a', atMs: 0 } }])).to.equal(0);
  });

  it('gives the engine operator decisions in the order they were made', async () => {
    const siteId = api.site.site.id;
    const before = (await listDecisionsAfter(api.db.pool, siteId, 0, 100_000)).at(-1)?.seq ?? 0;
    const [first, second, third] = [await newComplaint(), await newComplaint(), await newComplaint()];
    await reject(second!, { by: 'operator.budi', note: 'not our network' });
    await verify(first!, { by: 'operator.siti' });
    await verify(third!, { by: 'operator.siti' });
    await verify(first!, { by: 'operator.budi' });
    const decisions = await listDecisionsAfter(api.db.pool, siteId, before, 100);
    expect(decisions.map(({ complaintId, decision, by }) => [complaintId, decision, by])).to.deep.equal([
      [second, 'rejected', 'operator.budi'],
      [first, 'verified', 'operator.siti'],
      [third, 'verified', 'operator.siti'],
    ]);
    expect(decisions[0]).to.include({ note: 'not our network', atMs: Date.parse('2026-03-01T09:00:00Z') });
    expect(await listDecisionsAfter(api.db.pool, siteId, decisions[0]!.seq, 1)).to.deep.equal([decisions[1]]);
  });

  it('answers 404 for an unknown complaint and 400 naming a bad field', async () => {
    expect((await verify('00000000-0000-4000-8000-000000000000')).status).to.equal(404);
    const badId = await verify('not-a-uuid');
    expect(badId.status).to.equal(400);
    expect(fieldsOf(badId.body)).to.deep.equal(['id']);
    const id = await newComplaint();
    const emptyNote = await verify(id, { note: '' });
    expect(emptyNote.status).to.equal(400);
    expect(fieldsOf(emptyNote.body)).to.deep.equal(['note']);
    expect((await call(api, 'GET', `/complaints/${id}`)).body.verification).to.equal('pending');
  });
});

describe('complaint list', function () {
  this.timeout(60_000);
  let api: Api;
  const ids: Record<string, string> = {};
  before(async () => {
    api = await startApi();
    const post = async (name: string, overrides: Json) => {
      ids[name] = (await call(api, 'POST', '/complaints', complaint(overrides))).body.id;
    };
    await post('dma1-early', { reported_at: '2026-03-01T01:00:00Z' });
    await post('dma2', { location: { account: '02-0001-01' }, reported_at: '2026-03-01T02:00:00Z' });
    await post('outside', { location: OUTSIDE, reported_at: '2026-03-01T03:00:00Z' });
    await post('unresolved', { location: { address: 'nowhere 1' }, reported_at: '2026-03-01T04:00:00+07:00' });
    await post('dma1-late', { reported_at: '2026-03-01T05:00:00Z' });
    await call(api, 'POST', `/complaints/${ids['dma1-late']}/verify`, { by: 'operator.siti' });
  });
  after(async () => api?.close());

  const list = async (query: string) => {
    const { status, body } = await call(api, 'GET', `/complaints${query}`);
    expect(status).to.equal(200);
    return (body.complaints as Json[]).map((stored) => Object.entries(ids).find(([, id]) => id === stored.id)?.[0]);
  };

  it('lists newest report first', async () => {
    expect(await list('')).to.deep.equal(['dma1-late', 'outside', 'dma2', 'dma1-early', 'unresolved']);
  });

  it('filters by zone, location status, verification, time and limit', async () => {
    expect(await list('?zone=dma-1')).to.deep.equal(['dma1-late', 'dma1-early']);
    expect(await list('?status=outside_zones')).to.deep.equal(['outside']);
    expect(await list('?status=unresolved')).to.deep.equal(['unresolved']);
    expect(await list('?verification=verified_by_operator')).to.deep.equal(['dma1-late']);
    expect(await list('?verification=pending&zone=dma-1')).to.deep.equal(['dma1-early']);
    expect(await list('?from=2026-03-01T02:00:00Z&to=2026-03-01T05:00:00Z')).to.deep.equal(['outside', 'dma2']);
    expect(await list('?limit=2')).to.deep.equal(['dma1-late', 'outside']);
  });

  it('answers 400 naming each bad query parameter', async () => {
    const { status, body } = await call(api, 'GET', '/complaints?zone=dma-9&status=lost&verification=maybe&from=yesterday&limit=0&colour=red');
    expect(status).to.equal(400);
    expect(fieldsOf(body)).to.include.members(['zone', 'status', 'verification', 'from', 'limit', 'colour']);
    const backwards = await call(api, 'GET', '/complaints?from=2026-03-02T00:00:00Z&to=2026-03-01T00:00:00Z');
    expect(fieldsOf(backwards.body)).to.deep.equal(['to']);
    expect((await call(api, 'GET', '/complaints?zone=dma-1&zone=dma-2')).status).to.equal(400);
  });
});

describe('complaint customer directory', function () {
  this.timeout(60_000);
  let api: Api;
  before(async () => {
    api = await startApi();
  });
  after(async () => api?.close());

  const siteWith = (customers: unknown): SiteConfig => ({ ...api.site, customers: customerDirectorySchema.parse(customers) });

  it('loads inline accounts and the accounts file', async () => {
    const found = await findCustomerAccounts(api.db.pool, api.site.site.id, ['010001-23', '02.0001.02', '03-0007-11', 'missing']);
    expect([...found.values()].map((place) => [place.account, place.zone]).sort()).to.deep.equal([
      ['01-0001-23', 'dma-1'],
      ['02-0001-02', 'dma-2'],
      ['03-0007-11', 'dma-3'],
    ]);
  });

  it('replaces the accounts on a new registration, dropping those no longer listed', async () => {
    const result = await registerCustomerAccounts(api.db.pool, siteWith({ accounts: [{ account: '01-0001-23', zone: 'dma-2' }] }));
    expect(result).to.deep.equal({ accounts: 1 });
    const { rows } = await api.db.pool.query('SELECT account, zone_id, lat FROM customer_account WHERE site_id = $1', [api.site.site.id]);
    expect(rows).to.deep.equal([{ account: '01-0001-23', zone_id: 'dma-2', lat: null }]);
  });

  it('refuses unknown zones, duplicates across inline and file, and a missing file, changing nothing', async () => {
    const attempts = [
      siteWith({ accounts: [{ account: '1', zone: 'dma-9' }] }),
      siteWith({ accounts: [{ account: '02 0001 01', zone: 'dma-1' }], accounts_file: path.join(TESTCASES, 'accounts.csv') }),
      siteWith({ accounts_file: path.join(TESTCASES, 'no-such-file.csv') }),
    ];
    const accountsBefore = await api.db.pool.query('SELECT account, zone_id FROM customer_account ORDER BY account');
    const messages: string[] = [];
    for (const site of attempts) {
      try {
        await registerCustomerAccounts(api.db.pool, site);
        expect.fail('expected a ConfigError');
      } catch (error) {
        expect(error).to.be.instanceOf(ConfigError);
        messages.push((error as Error).message);
      }
    }
    expect(messages[0]).to.contain('customers.accounts[0].zone').and.contain('unknown zone "dma-9"');
    expect(messages[1]).to.contain('accounts.csv line 2').and.contain('first at customers.accounts[0]');
    expect(messages[2]).to.contain('no-such-file.csv');
    expect(await count(api)).to.equal(0);
    expect((await api.db.pool.query('SELECT account, zone_id FROM customer_account ORDER BY account')).rows).to.deep.equal(accountsBefore.rows);
  });
});
