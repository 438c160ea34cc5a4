// Work orders over HTTP against a real PostgreSQL and MQTT broker: every lifecycle transition and
// every refused one, optimistic concurrency under concurrent dispatchers, due times from the
// queue, dispatcher overrides and auto-assignment, the outbox under a failed commit, SLA
// escalations, and complainants' notifications when an incident's order completes.
import { expect } from 'chai';
import mqtt, { type MqttClient } from 'mqtt';
import { createApp } from '../../src/api/app.js';
import { dispatchSettingsSchema, workOrderActions, type WorkOrderAction, type WorkOrderStatus } from '../../src/contracts/dispatch.js';
import type { SiteConfig } from '../../src/contracts/site.js';
import { topics } from '../../src/contracts/telemetry.js';
import { silentLogger } from '../../src/log.js';
import { migrate } from '../../src/storage/migrate.js';
import { registerSite } from '../../src/storage/site-registry.js';
import { inTransaction, pgDatabase } from '../../src/storage/sql.js';
import { registerCrews } from '../../src/workorders/crews.js';
import { allowedActions } from '../../src/workorders/lifecycle.js';
import { enqueueMessage, OutboxRelay } from '../../src/workorders/outbox.js';
import { openIncidentWorkOrder, raiseSlaEscalations } from '../../src/workorders/work-orders.js';
import { serve, TestCallers } from '../support/http.js';
import { freshDatabase, testServices, type FreshDatabase } from '../support/services.js';
import { demoSiteOnFreePorts } from '../support/site-fixture.js';

const MINUTE = 60_000;
// Monday 2026-11-30 10:00 in Asia/Jakarta: the day crews are on shift.
const T0 = Date.parse('2026-11-30T03:00:00Z');
const IN_DMA_1 = { lat: -6.8915, lon: 107.6105 };

type Json = Record<string, any>;

interface Api {
  db: FreshDatabase;
  site: SiteConfig;
  url: string;
  clock: { nowMs: number };
  callers: TestCallers;
  close(): Promise<void>;
}

/** Officers act with their crew's role, "admin" as an admin; every other actor here is a dispatcher. */
const crewOfOfficer: Record<string, string> = { a1: 'crew-a', a2: 'crew-a', b1: 'crew-b' };

function dispatch(autoAssign: boolean) {
  return dispatchSettingsSchema.parse({
    auto_assign: autoAssign,
    crews: [
      {
        id: 'crew-a', name: 'Crew A', skills: ['burst_repair', 'leak_repair'], zones: ['dma-1', 'dma-2'],
        shifts: [{ days: ['mon', 'tue', 'wed', 'thu', 'fri'], start: '07:00', end: '19:00' }],
        base: { lat: -6.8990, lon: 107.6020 }, officers: [{ id: 'a1', name: 'Asep' }, { id: 'a2', name: 'Dewi' }],
      },
      {
        id: 'crew-b', name: 'Crew B', skills: ['burst_repair', 'leak_repair'],
        base: { lat: -6.9000, lon: 107.6380 }, officers: [{ id: 'b1', name: 'Budi' }],
      },
      { id: 'crew-lab', name: 'Lab', skills: ['meter', 'quality_sampling'], base: { lat: -6.8950, lon: 107.6150 }, officers: [{ id: 'l1', name: 'Lina' }] },
    ],
  });
}

async function startApi(autoAssign: boolean): Promise<Api> {
  const db = await freshDatabase();
  await migrate(pgDatabase(db.pool));
  const demo = await demoSiteOnFreePorts();
  const site: SiteConfig = { ...demo, dispatch: dispatch(autoAssign) };
  await registerSite(db.pool, site);
  await registerCrews(db.pool, site);
  const clock = { nowMs: T0 };
  const app = createApp({ pool: db.pool, site, log: silentLogger, brokerConnected: () => true, storageFlavour: 'postgres', clock: () => clock.nowMs });
  const http = await serve(app);
  return {
    db,
    site,
    clock,
    url: http.apiUrl,
    callers: new TestCallers(db.pool),
    async close() {
      await http.close();
      await db.drop();
    },
  };
}

/** A request as the actor named by the body's `by` (a dispatcher by default), sent with that actor's API key. */
async function call(api: Api, method: string, path: string, body?: Json): Promise<{ status: number; body: Json }> {
  const { by = 'dispatcher-rina', ...fields } = body ?? {};
  const crew = crewOfOfficer[by as string];
  const credentials = await api.callers.headers(by as string, crew !== undefined ? 'crew' : by === 'admin' ? 'admin' : 'dispatcher', crew);
  const response = await fetch(`${api.url}${path}`, {
    method,
    headers: { 'content-type': 'application/json', ...credentials },
    ...(body === undefined ? {} : { body: JSON.stringify(fields) }),
  });
  const text = await response.text();
  return { status: response.status, body: text === '' ? {} : (JSON.parse(text) as Json) };
}

const manual = (overrides: Json = {}) => ({ job_type: 'leak_repair', priority: 'P2', title: 'Leak at Jl. Merdeka 12', zone: 'dma-1', location: IN_DMA_1, by: 'dispatcher-rina', ...overrides });

async function create(api: Api, overrides: Json = {}): Promise<Json> {
  const { status, body } = await call(api, 'POST', '/work-orders', manual(overrides));
  expect(status, JSON.stringify(body)).to.equal(201);
  return body;
}

async function act(api: Api, order: Json, action: WorkOrderAction, extra: Json = {}): Promise<Json> {
  const defaults: Json = { version: order.version, by: action === 'assign' || action === 'cancel' || action === 'reopen' ? 'dispatcher-rina' : 'a1' };
  if (action === 'cancel' || action === 'reopen') defaults.note = `${action} for the test`;
  if (action === 'assign') defaults.crew = 'crew-a';
  const { status, body } = await call(api, 'POST', `/work-orders/${order.id}/${action}`, { ...defaults, ...extra });
  expect(status, JSON.stringify(body)).to.equal(200);
  return body;
}

/** The path from `new` to each state, through the API. */
const pathTo: Record<WorkOrderStatus, WorkOrderAction[]> = {
  new: [],
  assigned: ['assign'],
  acknowledged: ['assign', 'acknowledge'],
  in_progress: ['assign', 'acknowledge', 'start'],
  completed: ['assign', 'acknowledge', 'start', 'complete'],
  cancelled: ['cancel'],
};

async function orderIn(api: Api, status: WorkOrderStatus): Promise<Json> {
  let order = await create(api);
  for (const action of pathTo[status]) order = await act(api, order, action);
  expect(order.status).to.equal(status);
  return order;
}

const outboxCount = async (api: Api) => (await api.db.pool.query('SELECT count(*)::int AS n FROM outbox')).rows[0].n as number;

describe('work orders: lifecycle', function () {
  this.timeout(120_000);
  let api: Api;
  before(async () => {
    api = await startApi(false);
  });
  after(async () => api?.close());

  it('a manual order gets a short code, a due time from the queue with how it was computed, and an audit row', async () => {
    const leak = await create(api);
    expect(leak.code).to.match(/^WO-\d{4,}$/);
    expect(leak).to.include({ status: 'new', version: 1, source: 'manual', crew: null, job_type: 'leak_repair', priority: 'P2', zone: 'dma-1' });
    // Crews A and B can repair leaks in dma-1 and are on shift: nothing queued, the standard 480 min.
    expect(leak.due_basis).to.include({ standard_minutes: 480, queue_orders: 0, queue_minutes: 0, capable_crews: 2, crews_on_shift: 2, crews_counted: 2, wait_minutes: 0 });
    expect(Date.parse(leak.due_at) - T0).to.equal(480 * MINUTE);
    // A P1 burst is not behind the P2 leak.
    const burst = await create(api, { job_type: 'burst_repair', priority: 'P1', title: 'Burst main' });
    expect(Date.parse(burst.due_at) - T0).to.equal(240 * MINUTE);
    // A second P2 leak waits for both: (480 + 240) / 2 crews = 360 min, after its own 480.
    const second = await create(api, { title: 'Second leak' });
    expect(second.due_basis).to.include({ queue_orders: 2, queue_minutes: 720, wait_minutes: 360 });
    expect(second.due_basis.explanation).to.equal('480 min standard for leak_repair + 720 min of 2 orders of P2 or higher queued ÷ 2 crews = 840 min (2 of 2 capable crews on shift)');
    expect(Date.parse(second.due_at) - T0).to.equal(840 * MINUTE);
    const detail = (await call(api, 'GET', `/work-orders/${second.code}`)).body;
    expect(detail.id).to.equal(second.id);
    expect(detail.timeline).to.have.length(1);
    expect(detail.timeline[0]).to.include({ action: 'create', actor: 'dispatcher-rina', from: null, to: 'new', version: 1 });
    for (const order of [leak, burst, second]) await act(api, order, 'cancel');
  });

  it('walks new → assigned → acknowledged → in_progress → completed, auditing who, when, from, to and why', async () => {
    let order = await create(api);
    const steps: Array<[WorkOrderAction, Json, WorkOrderStatus, number]> = [
      ['assign', { by: 'dispatcher-rina', note: 'closest crew' }, 'assigned', 5],
      ['acknowledge', { by: 'a1' }, 'acknowledged', 2],
      ['start', { by: 'a1', note: 'on site' }, 'in_progress', 20],
      ['complete', { by: 'a2', note: 'joint replaced', officers: ['a2'] }, 'completed', 90],
    ];
    for (const [action, extra, status, afterMinutes] of steps) {
      api.clock.nowMs += afterMinutes * MINUTE;
      order = await act(api, order, action, extra);
      expect(order.status).to.equal(status);
    }
    expect(order).to.include({ version: 5, crew: 'crew-a', completion_note: 'joint replaced' });
    expect(order.completed_by).to.deep.equal(['a2']);
    expect(order.allowed_actions).to.deep.equal(['reopen']);
    const timeline = (await call(api, 'GET', `/work-orders/${order.id}`)).body.timeline as Json[];
    expect(timeline.map((event) => [event.action, event.from, event.to, event.actor, event.version])).to.deep.equal([
      ['create', null, 'new', 'dispatcher-rina', 1],
      ['assign', 'new', 'assigned', 'dispatcher-rina', 2],
      ['acknowledge', 'assigned', 'acknowledged', 'a1', 3],
      ['start', 'acknowledged', 'in_progress', 'a1', 4],
      ['complete', 'in_progress', 'completed', 'a2', 5],
    ]);
    expect(timeline[1]!.note).to.equal('closest crew');
    expect(timeline[4]!.at).to.equal(new Date(api.clock.nowMs).toISOString());
    expect(timeline[4]!.detail).to.deep.equal({ officers: ['a2'], on_time: true });
  });

  for (const status of Object.keys(pathTo) as WorkOrderStatus[]) {
    it(`from ${status}: allowed actions succeed, every other action is 409 with the allowed ones`, async () => {
      const allowed = allowedActions(status);
      for (const action of workOrderActions) {
        const order = await orderIn(api, status);
        if (allowed.includes(action)) {
          const after = await act(api, order, action, action === 'assign' ? { crew: 'crew-b' } : {});
          expect(after.version).to.equal(order.version + 1);
          continue;
        }
        const body: Json = { version: order.version, by: 'x', note: 'n' };
        const refused = await call(api, 'POST', `/work-orders/${order.id}/${action}`, body);
        expect(refused.status, `${action} from ${status}`).to.equal(409);
        expect(refused.body).to.include({ error: 'invalid_transition', status, version: order.version });
        expect(refused.body.allowed_actions).to.deep.equal(allowed);
        expect((await call(api, 'GET', `/work-orders/${order.id}`)).body.version).to.equal(order.version);
      }
    });
  }

  it('a stale version is 409 and changes nothing', async () => {
    const order = await orderIn(api, 'assigned');
    const stale = await call(api, 'POST', `/work-orders/${order.id}/acknowledge`, { version: order.version - 1, by: 'a1' });
    expect(stale.status).to.equal(409);
    expect(stale.body).to.include({ error: 'stale_version', status: 'assigned', version: order.version });
    expect(stale.body.allowed_actions).to.deep.equal(['assign', 'acknowledge', 'cancel']);
    const now = (await call(api, 'GET', `/work-orders/${order.id}`)).body;
    expect(now).to.include({ status: 'assigned', version: order.version });
    expect(now.timeline).to.have.length(2);
  });

  it('of concurrent dispatchers assigning the same version, exactly one wins', async () => {
    const order = await create(api);
    const crews = ['crew-a', 'crew-b', 'crew-a', 'crew-b', 'crew-a', 'crew-b', 'crew-a', 'crew-b'];
    const answers = await Promise.all(crews.map((crew, index) => call(api, 'POST', `/work-orders/${order.id}/assign`, { version: 1, by: `dispatcher-${index}`, crew })));
    expect(answers.filter((answer) => answer.status === 200)).to.have.length(1);
    const refused = answers.filter((answer) => answer.status === 409);
    expect(refused).to.have.length(crews.length - 1);
    for (const answer of refused) expect(answer.body).to.include({ error: 'stale_version', version: 2 });
    const detail = (await call(api, 'GET', `/work-orders/${order.id}`)).body;
    expect(detail.timeline.filter((event: Json) => event.action === 'assign')).to.have.length(1);
    expect(detail.version).to.equal(2);
  });

  it('cancel and reopen need a note; a reopened order is back in the queue with a new due time', async () => {
    const order = await orderIn(api, 'acknowledged');
    const bare = await call(api, 'POST', `/work-orders/${order.id}/cancel`, { version: order.version, by: 'dispatcher-rina' });
    expect(bare.status).to.equal(400);
    expect(bare.body.issues.map((issue: Json) => issue.field)).to.deep.equal(['note']);
    const cancelled = await act(api, order, 'cancel', { note: 'duplicate of WO-1001' });
    api.clock.nowMs += 60 * MINUTE;
    const reopened = await act(api, cancelled, 'reopen', { note: 'not a duplicate after all' });
    expect(reopened).to.include({ status: 'new', crew: null, cancelled_at: null, acknowledged_at: null });
    expect(Date.parse(reopened.due_at)).to.be.greaterThan(Date.parse(order.due_at));
  });

  it('a dispatcher may assign any active crew with the skill; others are refused naming the field', async () => {
    const order = await create(api);
    const unknown = await call(api, 'POST', `/work-orders/${order.id}/assign`, { version: 1, by: 'd', crew: 'crew-z' });
    expect(unknown.status).to.equal(400);
    expect(unknown.body.issues).to.deep.equal([{ field: 'crew', message: 'no active crew "crew-z"' }]);
    const unskilled = await call(api, 'POST', `/work-orders/${order.id}/assign`, { version: 1, by: 'd', crew: 'crew-lab' });
    expect(unskilled.status).to.equal(400);
    expect(unskilled.body.issues[0].message).to.equal('crew "crew-lab" lacks the skill leak_repair');
    let assigned = await act(api, order, 'assign', { crew: 'crew-b' });
    expect(assigned.crew).to.equal('crew-b');
    assigned = await act(api, assigned, 'acknowledge', { by: 'b1' });
    assigned = await act(api, assigned, 'start', { by: 'b1' });
    const stranger = await call(api, 'POST', `/work-orders/${order.id}/complete`, { version: assigned.version, by: 'b1', officers: ['a1'] });
    expect(stranger.status).to.equal(400);
    expect(stranger.body.issues).to.deep.equal([{ field: 'officers', message: 'not officers of crew "crew-b": a1' }]);
    const done = await act(api, assigned, 'complete', { by: 'b1' });
    expect(done.completed_by).to.deep.equal(['b1']);
  });

  it('refuses bad bodies naming each field, and unknown orders with 404', async () => {
    // PostgreSQL cannot store a NUL: refused as a bad field rather than failing in the insert.
    const nul = await call(api, 'POST', '/work-orders', manual({ title: 'Leak\u0000' }));
    expect([nul.status, nul.body.issues?.[0]?.field]).to.deep.equal([400, 'title']);
    const bad = await call(api, 'POST', '/work-orders', { job_type: 'digging', priority: 'P9', title: '', by: 'd', zone: 'dma-1' });
    expect(bad.status).to.equal(400);
    expect(bad.body.issues.map((issue: Json) => issue.field)).to.have.members(['job_type', 'priority', 'title']);
    const zone = await call(api, 'POST', '/work-orders', manual({ zone: 'dma-9' }));
    expect(zone.status).to.equal(400);
    expect(zone.body.issues).to.deep.equal([{ field: 'zone', message: 'unknown zone "dma-9"' }]);
    expect((await call(api, 'POST', '/work-orders/nope/assign', { version: 1, by: 'd' })).status).to.equal(404);
    expect((await call(api, 'GET', '/work-orders/WO-0')).status).to.equal(404);
  });

  it('the queue lists open orders most urgent first, then earliest due', async () => {
    const queue = (await call(api, 'GET', '/work-orders?open=true')).body.work_orders as Json[];
    expect(queue.length).to.be.greaterThan(0);
    for (const order of queue) expect(['new', 'assigned', 'acknowledged', 'in_progress']).to.include(order.status);
    const keys = queue.map((order) => `${order.priority}|${order.due_at}`);
    expect(keys).to.deep.equal([...keys].sort());
    expect((await call(api, 'GET', '/work-orders?status=done')).status).to.equal(400);
  });
});

describe('work orders: escalation before and at the due time', function () {
  this.timeout(60_000);
  let api: Api;
  before(async () => {
    api = await startApi(false);
  });
  after(async () => api?.close());

  it('warns once when a quarter of the allowed time is left, and raises a breach once at the due time', async () => {
    const order = await create(api, { job_type: 'burst_repair', priority: 'P1', title: 'Burst' });
    const done = await act(api, await create(api, { job_type: 'burst_repair', priority: 'P1', title: 'Done early' }), 'assign');
    // The first order is due at T0 + 240 min; the second, queued behind it, later.
    expect(Date.parse(order.due_at) - T0).to.equal(240 * MINUTE);
    const siteId = api.site.site.id;
    expect(await raiseSlaEscalations(api.db.pool, siteId, T0 + 179 * MINUTE)).to.deep.equal({ warnings: 0, breaches: 0 });
    expect(await raiseSlaEscalations(api.db.pool, siteId, T0 + 180 * MINUTE)).to.deep.equal({ warnings: 1, breaches: 0 });
    expect(await raiseSlaEscalations(api.db.pool, siteId, T0 + 200 * MINUTE)).to.deep.equal({ warnings: 0, breaches: 0 });
    await act(api, await act(api, await act(api, done, 'acknowledge'), 'start'), 'complete');
    expect(await raiseSlaEscalations(api.db.pool, siteId, T0 + 240 * MINUTE)).to.deep.equal({ warnings: 0, breaches: 1 });
    expect(await raiseSlaEscalations(api.db.pool, siteId, T0 + 600 * MINUTE)).to.deep.equal({ warnings: 0, breaches: 0 });
    const detail = (await call(api, 'GET', `/work-orders/${order.id}`)).body;
    expect(detail.overdue).to.equal(true);
    expect(detail.version).to.equal(1);
    expect(detail.timeline.map((event: Json) => [event.action, event.actor, event.at])).to.deep.equal([
      ['create', 'dispatcher-rina', new Date(T0).toISOString()],
      ['sla_warning', 'sla-monitor', new Date(T0 + 180 * MINUTE).toISOString()],
      ['sla_breach', 'sla-monitor', new Date(T0 + 240 * MINUTE).toISOString()],
    ]);
    const { rows } = await api.db.pool.query("SELECT payload FROM outbox WHERE topic = $1 AND payload->>'action' LIKE 'sla_%' ORDER BY id", [topics.workOrders(siteId)]);
    expect(rows.map((row) => [row.payload.action, row.payload.order.id])).to.deep.equal([['sla_warning', order.id], ['sla_breach', order.id]]);
  });
});

describe('work orders: crews, auto-assignment and the outbox', function () {
  this.timeout(60_000);
  let api: Api;
  let subscriber: MqttClient;
  let relay: OutboxRelay;
  let publisher: MqttClient;
  const received: Array<{ topic: string; payload: Json }> = [];

  before(async () => {
    api = await startApi(true);
    const { mqttUrl } = await testServices();
    subscriber = await mqtt.connectAsync(mqttUrl, { clientId: `wo-sub-${process.pid}-${Date.now()}` });
    subscriber.on('message', (topic, payload) => received.push({ topic, payload: JSON.parse(payload.toString()) as Json }));
    await subscriber.subscribeAsync([topics.crewOrders('crew-a'), topics.crewOrders('crew-b'), topics.workOrders(api.site.site.id)], { qos: 1 });
    publisher = await mqtt.connectAsync(mqttUrl, { clientId: `wo-pub-${process.pid}-${Date.now()}` });
    relay = new OutboxRelay({ pool: api.db.pool, mqtt: publisher, log: silentLogger });
  });
  after(async () => {
    await subscriber?.endAsync();
    await publisher?.endAsync();
    await api?.close();
  });

  const settle = () => new Promise((resolve) => setTimeout(resolve, 300));

  it('lists crews with shifts and takes their positions; an older position does not overwrite a newer one', async () => {
    const crews = (await call(api, 'GET', '/crews')).body.crews as Json[];
    expect(crews.map((crew) => [crew.id, crew.on_shift, crew.officers.length])).to.deep.equal([['crew-a', true, 2], ['crew-b', true, 1], ['crew-lab', true, 1]]);
    expect((await call(api, 'POST', '/crews/crew-b/location', { lat: -6.892, lon: 107.611, at: '2026-11-30T02:59:00Z', by: 'b1' })).status).to.equal(204);
    expect((await call(api, 'POST', '/crews/crew-b/location', { lat: -6.95, lon: 107.7, at: '2026-11-30T02:00:00Z', by: 'b1' })).status).to.equal(204);
    const crewB = ((await call(api, 'GET', '/crews')).body.crews as Json[]).find((crew) => crew.id === 'crew-b')!;
    expect(crewB.last_location).to.deep.equal({ lat: -6.892, lon: 107.611, at: '2026-11-30T02:59:00.000Z' });
    expect((await call(api, 'POST', '/crews/nobody/location', { lat: 0, lon: 0, by: 'admin' })).status).to.equal(404);
    const bad = await call(api, 'POST', '/crews/crew-a/location', { lat: 91, lon: 'east', by: 'a1' });
    expect(bad.body.issues.map((issue: Json) => issue.field)).to.deep.equal(['lat', 'lon']);
  });

  it('assigns a new order to the capable crew with the least travel and load, and says why', async () => {
    // Crew B reported a position beside the order; crew A is at its base 1 km away.
    const first = await create(api);
    expect(first).to.include({ status: 'assigned', crew: 'crew-b', version: 2 });
    const timeline = (await call(api, 'GET', `/work-orders/${first.id}`)).body.timeline as Json[];
    expect(timeline[1]).to.include({ action: 'assign', actor: 'auto-dispatch' });
    expect(timeline[1]!.detail.chosen_by).to.equal('auto');
    expect(timeline[1]!.detail.candidates.map((candidate: Json) => candidate.crew)).to.deep.equal(['crew-b', 'crew-a']);
    // Crew B now holds 480 min of work; the next order goes to crew A despite the distance.
    const second = await create(api, { title: 'Another leak' });
    expect(second.crew).to.equal('crew-a');
    // No crew reads meters in the zone except the lab, which serves every zone.
    expect((await create(api, { job_type: 'meter', priority: 'P4', title: 'Meter swap' })).crew).to.equal('crew-lab');
  });

  it('publishes each committed change to the crew and the dashboards at QoS 1, in order', async () => {
    received.length = 0;
    const order = await create(api, { title: 'Published' });
    await act(api, order, 'assign', { version: order.version, crew: 'crew-a' });
    const published = await relay.drain();
    expect(published).to.be.greaterThan(0);
    await settle();
    const toCrewA = received.filter((message) => message.topic === topics.crewOrders('crew-a') && message.payload.order.id === order.id);
    const toCrewB = received.filter((message) => message.topic === topics.crewOrders('crew-b') && message.payload.order.id === order.id);
    const firstCrew = order.crew as string;
    expect(firstCrew).to.equal('crew-b');
    expect(toCrewB.map((message) => message.payload.action)).to.deep.equal(['assign', 'unassigned']);
    expect(toCrewA.map((message) => [message.payload.action, message.payload.order.version])).to.deep.equal([['assign', 3]]);
    expect((await api.db.pool.query('SELECT count(*)::int AS n FROM outbox WHERE published_at IS NULL')).rows[0].n).to.equal(0);
  });

  it('publishes nothing of a transaction before it commits', async () => {
    await relay.drain();
    received.length = 0;
    const client = await api.db.pool.connect();
    try {
      await client.query('BEGIN');
      await enqueueMessage(client, topics.crewOrders('crew-a'), { type: 'work_order', action: 'probe' });
      expect(await relay.drain()).to.equal(0);
      await client.query('COMMIT');
    } finally {
      client.release();
    }
    expect(await relay.drain()).to.equal(1);
    await settle();
    expect(received.map((message) => message.payload.action)).to.deep.equal(['probe']);
  });

  it('a change whose commit fails leaves no message behind and the order as it was', async () => {
    await relay.drain();
    received.length = 0;
    const order = await create(api, { title: 'Commit fails' });
    await relay.drain();
    await settle();
    received.length = 0;
    // A deferred constraint trigger fails the COMMIT itself, after every row of the change is written.
    await api.db.pool.query(`
      CREATE FUNCTION refuse_at_commit() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN IF NEW.note = 'refused at commit' THEN RAISE EXCEPTION 'commit refused'; END IF; RETURN NEW; END $$;
      CREATE CONSTRAINT TRIGGER refuse_at_commit AFTER INSERT ON work_order_event DEFERRABLE INITIALLY DEFERRED
        FOR EACH ROW EXECUTE FUNCTION refuse_at_commit();`);
    const before = await outboxCount(api);
    const failed = await call(api, 'POST', `/work-orders/${order.id}/acknowledge`, { version: order.version, by: 'b1', note: 'refused at commit' });
    expect(failed.status).to.equal(500);
    expect(await outboxCount(api)).to.equal(before);
    expect(await relay.drain()).to.equal(0);
    await settle();
    expect(received).to.deep.equal([]);
    const now = (await call(api, 'GET', `/work-orders/${order.id}`)).body;
    expect(now).to.include({ status: 'assigned', version: order.version });
    await api.db.pool.query('DROP TRIGGER refuse_at_commit ON work_order_event');
    const retried = await act(api, order, 'acknowledge', { by: 'b1' });
    expect(retried.status).to.equal('acknowledged');
  });

  it('opens an incident order in the engine transaction, and notifies each complainant once when it completes', async () => {
    const ids: string[] = [];
    for (const [channel, contact] of [['whatsapp', '+6281234567890'], ['call_center', '+622270001111'], ['walk_in', undefined]] as const) {
      const { body } = await call(api, 'POST', '/complaints', { channel, category: 'leak_burst', location: IN_DMA_1, text: 'pipe burst', ...(contact ? { contact } : {}) });
      ids.push(body.id as string);
    }
    const siteId = api.site.site.id;
    await api.db.pool.query(
      `INSERT INTO incident (id, site_id, zone_id, kind, opened_at, priority, score, reasons, complaint_ids, anomaly_ids, verified)
       VALUES ('inc-x', $1, 'dma-1', 'burst', $2, 'P1', 80, '[]', $3, '{}', true)`,
      [siteId, new Date(T0), ids],
    );
    const opening = { id: 'wo-inc-x', incidentId: 'inc-x', jobType: 'burst_repair' as const, priority: 'P1' as const, createdAtMs: T0, dueAtMs: T0 + 240 * MINUTE };
    const opened = await inTransaction(api.db.pool, (client) => openIncidentWorkOrder(client, api.site, opening));
    expect(opened).to.include({ source: 'incident', incident_id: 'inc-x', status: 'assigned', title: 'burst in DMA 1 Merdeka (3 complaints)' });
    expect(opened!.location!.lat).to.be.closeTo(IN_DMA_1.lat, 1e-9);
    expect(opened!.location!.lon).to.be.closeTo(IN_DMA_1.lon, 1e-9);
    expect(await inTransaction(api.db.pool, (client) => openIncidentWorkOrder(client, api.site, opening))).to.equal(undefined);
    let order: Json = opened!;
    for (const action of ['acknowledge', 'start', 'complete'] as const) order = await act(api, order, action, { by: order.crew === 'crew-a' ? 'a1' : 'b1' });
    const notifications = async () =>
      (await api.db.pool.query('SELECT complaint_id::text, channel, status FROM complaint_notification WHERE work_order_id = $1 ORDER BY channel', ['wo-inc-x'])).rows;
    const expected = [
      { complaint_id: ids[1], channel: 'call_center', status: 'pending' },
      { complaint_id: ids[2], channel: 'walk_in', status: 'no_contact' },
      { complaint_id: ids[0], channel: 'whatsapp', status: 'pending' },
    ];
    expect(await notifications()).to.deep.equal(expected);
    order = await act(api, order, 'reopen', { note: 'leaking again' });
    for (const action of ['acknowledge', 'start', 'complete'] as const) order = await act(api, order, action, { by: order.crew === 'crew-a' ? 'a1' : 'b1' });
    expect(await notifications()).to.deep.equal(expected);
  });
});
