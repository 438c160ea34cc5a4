// Who may call what: every route of the API for every role, against a permission table written
// out here (least privilege), plus sign-in, sessions, API keys, webhook tokens, crew scoping,
// rate limits, security headers and logs free of secrets.
import { Writable } from 'node:stream';
import { expect } from 'chai';
import { createApiKey, createUser, createWebhookToken, revokeApiKey } from '../../src/access/accounts.js';
import { verifyPassword } from '../../src/access/secrets.js';
import { createApp, type ApiDependencies } from '../../src/api/app.js';
import { roles, type Role } from '../../src/contracts/access.js';
import type { SiteConfig } from '../../src/contracts/site.js';
import { createLogger } from '../../src/log.js';
import { migrate } from '../../src/storage/migrate.js';
import { registerSite } from '../../src/storage/site-registry.js';
import { pgDatabase } from '../../src/storage/sql.js';
import { registerCrews } from '../../src/workorders/crews.js';
import { serve, type ServedApp } from '../support/http.js';
import { freshDatabase, type FreshDatabase } from '../support/services.js';
import { demoSiteOnFreePorts } from '../support/site-fixture.js';

type Json = Record<string, any>;

const CONTROL_ROOM: Role[] = ['operator', 'dispatcher', 'engineer', 'admin'];
/** The permission table: who may call each route. Anything else is refused. */
const permissions: Record<string, Role[] | 'public' | 'webhook'> = {
  'GET /health': 'public',
  'GET /metrics': ['engineer', 'admin'],
  'GET /api/v1/openapi.json': 'public',
  'POST /api/v1/auth/login': 'public',
  'POST /api/v1/auth/logout': [...roles],
  'GET /api/v1/auth/me': [...roles],
  'GET /api/v1/users': ['admin'],
  'GET /api/v1/tags': CONTROL_ROOM,
  'GET /api/v1/devices': CONTROL_ROOM,
  'GET /api/v1/telemetry': CONTROL_ROOM,
  'GET /api/v1/telemetry/latest': CONTROL_ROOM,
  'GET /api/v1/telemetry/stream': CONTROL_ROOM,
  'GET /api/v1/events/stream': CONTROL_ROOM,
  'POST /api/v1/complaints': ['operator', 'dispatcher', 'admin'],
  'POST /api/v1/complaints:bulk': ['operator', 'admin'],
  'GET /api/v1/complaints': CONTROL_ROOM,
  'GET /api/v1/complaints/{id}': CONTROL_ROOM,
  'POST /api/v1/complaints/{id}/verify': ['operator', 'admin'],
  'POST /api/v1/complaints/{id}/reject': ['operator', 'admin'],
  'POST /api/v1/webhooks/complaints': 'webhook',
  'GET /api/v1/anomalies': CONTROL_ROOM,
  'GET /api/v1/incidents': CONTROL_ROOM,
  'GET /api/v1/incidents/{id}': CONTROL_ROOM,
  'GET /api/v1/work-orders': ['operator', 'dispatcher', 'crew', 'engineer', 'admin'],
  'POST /api/v1/work-orders': ['dispatcher', 'admin'],
  'GET /api/v1/work-orders/{id}': ['operator', 'dispatcher', 'crew', 'engineer', 'admin'],
  'POST /api/v1/work-orders/{id}/assign': ['dispatcher', 'admin'],
  'POST /api/v1/work-orders/{id}/cancel': ['dispatcher', 'admin'],
  'POST /api/v1/work-orders/{id}/reopen': ['dispatcher', 'admin'],
  'POST /api/v1/work-orders/{id}/acknowledge': ['crew', 'dispatcher', 'admin'],
  'POST /api/v1/work-orders/{id}/start': ['crew', 'dispatcher', 'admin'],
  'POST /api/v1/work-orders/{id}/complete': ['crew', 'dispatcher', 'admin'],
  'GET /api/v1/crews': ['dispatcher', 'crew', 'engineer', 'admin'],
  'POST /api/v1/crews/{id}/location': ['crew', 'admin'],
  'GET /api/v1/kpi': ['dispatcher', 'engineer', 'admin'],
};

const IN_DMA_1 = { lat: -6.8925, lon: 107.6105 };
const NOW_MS = Date.parse('2026-11-30T03:00:00Z');

describe('access: roles, sessions, keys and webhooks', function () {
  this.timeout(60_000);
  let db: FreshDatabase;
  let site: SiteConfig;
  let http: ServedApp;
  let logLines: string[];
  const clock = { nowMs: NOW_MS };
  const keys = {} as Record<Role, string>;

  async function start(overrides: Partial<ApiDependencies> = {}): Promise<ServedApp> {
    const capture = new Writable({ write: (chunk, _encoding, done) => { logLines.push(String(chunk)); done(); } });
    const log = createLogger({ level: 'debug', destination: capture });
    return serve(createApp({ pool: db.pool, site, log, brokerConnected: () => true, storageFlavour: 'postgres', metrics: async () => '', clock: () => clock.nowMs, ...overrides }));
  }

  before(async () => {
    logLines = [];
    db = await freshDatabase();
    await migrate(pgDatabase(db.pool));
    site = await demoSiteOnFreePorts();
    await registerSite(db.pool, site);
    await registerCrews(db.pool, site);
    for (const role of roles) keys[role] = await createApiKey(db.pool, { name: `${role}-key`, role, crew: role === 'crew' ? 'crew-west' : undefined });
    await createUser(db.pool, { username: 'siti', display_name: 'Siti (operator)', role: 'operator', password: 'correct horse battery' });
    await createUser(db.pool, { username: 'asep', role: 'crew', crew: 'crew-west', password: 'asep-field-phone' });
    http = await start();
  });

  after(async () => {
    await http?.close();
    await db?.drop();
  });

  const base = () => http.apiUrl.replace(/\/api\/v1$/, '');

  async function request(method: string, path: string, options: { key?: string; cookie?: string; body?: unknown; headers?: Record<string, string>; app?: ServedApp } = {}): Promise<{ status: number; body: Json; headers: Headers }> {
    const origin = (options.app ?? http).apiUrl.replace(/\/api\/v1$/, '');
    const response = await fetch(`${origin}${path}`, {
      method,
      headers: {
        'content-type': 'application/json',
        ...(options.key === undefined ? {} : { authorization: `Bearer ${options.key}` }),
        ...(options.cookie === undefined ? {} : { cookie: options.cookie }),
        ...options.headers,
      },
      ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
    });
    // Streams stay open: the status and headers are the answer here.
    if (response.headers.get('content-type')?.startsWith('text/event-stream')) {
      await response.body?.cancel();
      return { status: response.status, body: {}, headers: response.headers };
    }
    const text = await response.text();
    let body: Json = {};
    try {
      body = JSON.parse(text) as Json;
    } catch {
      body = { text };
    }
    return { status: response.status, body, headers: response.headers };
  }

  /** A concrete path for a documented one: the crew's own id where the route is about a crew. */
  const concrete = (path: string) => path.replace('/crews/{id}', '/crews/crew-west').replace('{id}', '00000000-0000-4000-8000-000000000000');

  it('documents exactly the permission table', async () => {
    const document = (await request('GET', '/api/v1/openapi.json')).body;
    const documented: Record<string, unknown> = {};
    for (const [path, operations] of Object.entries(document.paths as Json)) {
      for (const [method, operation] of Object.entries(operations as Json)) documented[`${method.toUpperCase()} ${path}`] = operation['x-roles'];
    }
    expect(documented).to.deep.equal(permissions);
  });

  for (const [route, allowed] of Object.entries(permissions)) {
    const [method, path] = route.split(' ') as [string, string];
    it(`${route}: ${allowed === 'public' ? 'anyone' : allowed === 'webhook' ? 'webhook tokens only' : allowed.join(', ')}`, async () => {
      const answers: Record<string, number> = {};
      for (const role of roles) answers[role] = (await request(method, concrete(path), { key: keys[role], body: method === 'POST' ? {} : undefined })).status;
      answers.anonymous = (await request(method, concrete(path), { body: method === 'POST' ? {} : undefined })).status;
      for (const role of roles) {
        const permitted = allowed === 'public' || (Array.isArray(allowed) && allowed.includes(role));
        if (permitted) expect(answers[role], `${role} on ${route}`).to.not.be.oneOf([401, 403]);
        else expect(answers[role], `${role} on ${route}`).to.equal(allowed === 'webhook' ? 401 : 403);
      }
      if (allowed === 'public') expect(answers.anonymous).to.not.be.oneOf([401, 403]);
      else expect(answers.anonymous, `anonymous on ${route}`).to.equal(401);
    });
  }

  it('signs a person in with a session cookie for one shift, records changes as theirs, and signs out', async () => {
    const wrong = await request('POST', '/api/v1/auth/login', { body: { username: 'siti', password: 'wrong password' } });
    const unknown = await request('POST', '/api/v1/auth/login', { body: { username: 'nobody', password: 'wrong password' } });
    expect([wrong.status, unknown.status]).to.deep.equal([401, 401]);
    expect(wrong.body.message).to.equal(unknown.body.message);
    const login = await request('POST', '/api/v1/auth/login', { body: { username: 'siti', password: 'correct horse battery' } });
    expect(login.status).to.equal(200);
    expect(login.body).to.include({ username: 'siti', role: 'operator', display_name: 'Siti (operator)' });
    const setCookie = login.headers.getSetCookie()[0]!;
    expect(setCookie).to.match(/^tirta_session=tirta_session_[\w-]{43}; Max-Age=43200; Path=\/; Expires=.+; HttpOnly; SameSite=Strict$/);
    const cookie = setCookie.split(';')[0]!;
    expect((await request('GET', '/api/v1/auth/me', { cookie })).body).to.deep.equal({ name: 'siti', kind: 'user', role: 'operator', crew: null });
    const complaint = await request('POST', '/api/v1/complaints', { cookie, body: { channel: 'call_center', category: 'no_water', location: IN_DMA_1, text: 'no water since 6 am' } });
    expect(complaint.status).to.equal(201);
    const verified = await request('POST', `/api/v1/complaints/${complaint.body.id}/verify`, { cookie, body: { note: 'called back' } });
    expect(verified.body).to.include({ verification: 'verified_by_operator', verified_by: 'siti' });
    // The session is not the operator's to widen: dispatch routes stay closed.
    expect((await request('POST', '/api/v1/work-orders', { cookie, body: {} })).status).to.equal(403);
    // A change carried by the cookie from another site's page is refused.
    expect((await request('POST', '/api/v1/complaints', { cookie, headers: { origin: 'https://evil.example' }, body: {} })).status).to.equal(403);
    expect((await request('POST', '/api/v1/auth/logout', { cookie })).status).to.equal(204);
    expect((await request('GET', '/api/v1/auth/me', { cookie })).status).to.equal(401);
  });

  it('ends a session after 12 hours', async () => {
    const login = await request('POST', '/api/v1/auth/login', { body: { username: 'siti', password: 'correct horse battery' } });
    const cookie = login.headers.getSetCookie()[0]!.split(';')[0]!;
    clock.nowMs += 12 * 60 * 60_000 - 1000;
    expect((await request('GET', '/api/v1/auth/me', { cookie })).status).to.equal(200);
    clock.nowMs += 2000;
    expect((await request('GET', '/api/v1/auth/me', { cookie })).status).to.equal(401);
    clock.nowMs = NOW_MS;
  });

  it('stores passwords as scrypt hashes and tokens only as digests', async () => {
    const { rows } = await db.pool.query<{ password_hash: string }>("SELECT password_hash FROM app_user WHERE username = 'siti'");
    expect(rows[0]!.password_hash).to.match(/^scrypt\$32768\$8\$1\$[\w-]{22}\$[\w-]{43}$/);
    expect(await verifyPassword('correct horse battery', rows[0]!.password_hash)).to.equal(true);
    expect(await verifyPassword('correct horse batterY', rows[0]!.password_hash)).to.equal(false);
    const stored = await db.pool.query("SELECT encode(key_hash, 'hex') AS hash FROM api_key WHERE name = 'admin-key'");
    expect(stored.rows[0].hash).to.have.length(64);
    const everything = JSON.stringify((await db.pool.query('SELECT * FROM api_key UNION ALL SELECT id, name, role, crew_id, key_hash, created_at, revoked_at, last_used_at FROM api_key')).rows);
    expect(everything).to.not.contain(keys.admin.slice('tirta_key_'.length));
  });

  it('refuses a revoked API key and an unknown one', async () => {
    const key = await createApiKey(db.pool, { name: 'scada-bridge', role: 'engineer' });
    expect((await request('GET', '/api/v1/tags', { key })).status).to.equal(200);
    expect(await revokeApiKey(db.pool, 'scada-bridge')).to.equal(true);
    expect((await request('GET', '/api/v1/tags', { key })).status).to.equal(401);
    expect((await request('GET', '/api/v1/tags', { key: 'tirta_key_forged' })).body).to.include({ error: 'unauthenticated' });
    expect((await request('GET', '/api/v1/tags', { headers: { authorization: 'Basic c2l0aTpwdw==' } })).status).to.equal(401);
  });

  it("keeps a crew member to its own crew's orders and position", async () => {
    const ownOrder = await request('POST', '/api/v1/work-orders', { key: keys.dispatcher, body: { job_type: 'leak_repair', priority: 'P2', title: 'Leak at Jl. Merdeka 12', zone: 'dma-1', location: IN_DMA_1 } });
    const assignedOwn = await request('POST', `/api/v1/work-orders/${ownOrder.body.id}/assign`, { key: keys.dispatcher, body: { version: ownOrder.body.version, crew: 'crew-west' } });
    const otherOrder = await request('POST', '/api/v1/work-orders', { key: keys.dispatcher, body: { job_type: 'leak_repair', priority: 'P2', title: 'Leak at Jl. Braga 3', zone: 'dma-2' } });
    const assignedOther = await request('POST', `/api/v1/work-orders/${otherOrder.body.id}/assign`, { key: keys.dispatcher, body: { version: otherOrder.body.version, crew: 'crew-east' } });
    expect([assignedOwn.status, assignedOther.status]).to.deep.equal([200, 200]);
    const login = await request('POST', '/api/v1/auth/login', { body: { username: 'asep', password: 'asep-field-phone' } });
    const cookie = login.headers.getSetCookie()[0]!.split(';')[0]!;
    const queue = await request('GET', '/api/v1/work-orders?open=true', { cookie });
    expect(queue.body.work_orders.map((order: Json) => order.crew)).to.deep.equal(['crew-west']);
    expect((await request('GET', '/api/v1/work-orders?crew=crew-east', { cookie })).status).to.equal(403);
    expect((await request('GET', `/api/v1/work-orders/${otherOrder.body.id}`, { cookie })).status).to.equal(404);
    expect((await request('POST', `/api/v1/work-orders/${otherOrder.body.id}/acknowledge`, { cookie, body: { version: assignedOther.body.version } })).status).to.equal(404);
    const acknowledged = await request('POST', `/api/v1/work-orders/${ownOrder.body.id}/acknowledge`, { cookie, body: { version: assignedOwn.body.version } });
    expect(acknowledged.body).to.include({ status: 'acknowledged' });
    const timeline = (await request('GET', `/api/v1/work-orders/${ownOrder.body.id}`, { cookie })).body.timeline as Json[];
    expect(timeline.at(-1)).to.include({ action: 'acknowledge', actor: 'asep' });
    expect((await request('GET', '/api/v1/crews', { cookie })).body.crews.map((crew: Json) => crew.id)).to.deep.equal(['crew-west']);
    expect((await request('POST', '/api/v1/crews/crew-east/location', { cookie, body: { lat: -6.9, lon: 107.6 } })).status).to.equal(403);
    expect((await request('POST', '/api/v1/crews/crew-west/location', { cookie, body: { lat: -6.9, lon: 107.6 } })).status).to.equal(204);
  });

  it("takes complaints from a channel's webhook with its own token, once per message, and nothing else", async () => {
    const token = await createWebhookToken(db.pool, { name: 'whatsapp-provider', channel: 'whatsapp' });
    const delivery = { category: 'low_pressure', location: IN_DMA_1, text: 'air kecil sekali', contact: '+628123456789', external_id: 'wamid.HBgM123' };
    const first = await request('POST', '/api/v1/webhooks/complaints', { key: token, body: delivery });
    const again = await request('POST', '/api/v1/webhooks/complaints', { key: token, body: delivery });
    expect([first.status, again.status]).to.deep.equal([201, 200]);
    expect(again.body.id).to.equal(first.body.id);
    expect(first.body).to.include({ channel: 'whatsapp', zone: 'dma-1' });
    const noChannelSwitch = await request('POST', '/api/v1/webhooks/complaints', { key: token, body: { ...delivery, channel: 'call_center' } });
    expect(noChannelSwitch.status).to.equal(400);
    expect(noChannelSwitch.body.issues[0].field).to.equal('channel');
    const noMessageId = await request('POST', '/api/v1/webhooks/complaints', { key: token, body: { ...delivery, external_id: undefined } });
    expect(noMessageId.body.issues.map((issue: Json) => issue.field)).to.deep.equal(['external_id']);
    expect((await request('GET', '/api/v1/complaints', { key: token })).status).to.equal(401);
    expect((await request('POST', '/api/v1/complaints', { key: token, body: { ...delivery, channel: 'whatsapp' } })).status).to.equal(401);
  });

  it('limits failed sign-ins, webhook deliveries and requests without credentials per address', async () => {
    const limited = await start({ limits: { failedLoginsPer15Min: 3, webhookPerMinute: 2, anonymousPerMinute: 5 } });
    try {
      const attempts: number[] = [];
      for (let attempt = 0; attempt < 4; attempt++) attempts.push((await request('POST', '/api/v1/auth/login', { app: limited, body: { username: 'siti', password: `guess ${attempt}` } })).status);
      expect(attempts).to.deep.equal([401, 401, 401, 429]);
      const anonymous: number[] = [];
      for (let call = 0; call < 3; call++) anonymous.push((await request('GET', '/health', { app: limited })).status);
      expect(anonymous.at(-1)).to.equal(429);
      // A keyed caller is not held back by the anonymous limit of its address.
      expect((await request('GET', '/api/v1/tags', { app: limited, key: keys.operator })).status).to.equal(200);
      const token = await createWebhookToken(db.pool, { name: 'social-desk', channel: 'social_media' });
      const deliveries: number[] = [];
      for (let call = 0; call < 3; call++) deliveries.push((await request('POST', '/api/v1/webhooks/complaints', { app: limited, key: token, body: {} })).status);
      expect(deliveries).to.deep.equal([400, 400, 429]);
    } finally {
      await limited.close();
    }
  });

  it('sends security headers and serves the console', async () => {
    const page = await fetch(`${base()}/`);
    expect(page.status).to.equal(200);
    expect(page.headers.get('content-type')).to.match(/^text\/html/);
    expect(page.headers.get('content-security-policy')).to.contain("script-src 'self'");
    expect(page.headers.get('x-content-type-options')).to.equal('nosniff');
    expect(page.headers.get('strict-transport-security')).to.match(/max-age=/);
    expect(page.headers.get('x-powered-by')).to.equal(null);
    expect((await fetch(`${base()}/assets/uplot/uPlot.esm.js`)).status).to.equal(200);
  });

  it('keeps passwords, keys, tokens and cookies out of the log', async () => {
    await request('POST', '/api/v1/auth/login', { body: { username: 'siti', password: 'a-guessed-password' } });
    const login = await request('POST', '/api/v1/auth/login', { body: { username: 'siti', password: 'correct horse battery' } });
    const session = login.headers.getSetCookie()[0]!.split(';')[0]!.split('=')[1]!;
    await request('GET', '/api/v1/telemetry?tag=nope', { key: keys.engineer });
    const log = logLines.join('');
    expect(log).to.contain('failed sign-in');
    for (const secret of ['a-guessed-password', 'correct horse battery', session, keys.engineer]) expect(log).to.not.contain(secret);
  });
});
