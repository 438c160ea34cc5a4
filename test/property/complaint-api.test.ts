// Properties of complaint intake over real HTTP against a real PostgreSQL: whatever bytes arrive
// at POST /complaints, /complaints:bulk, the channel webhook or GET /complaints' query string,
// the answer is a stored complaint or a 400/413/415 naming what is wrong, never a 5xx or a hang;
// what is stored reads back as sent (after trimming), and nothing is half stored.
import querystring from 'node:querystring';
import { Writable } from 'node:stream';
import { expect } from 'chai';
import fc from 'fast-check';
import { createApiKey, createWebhookToken } from '../../src/access/accounts.js';
import { createApp } from '../../src/api/app.js';
import { complaintBodySchema, complaintVerifications, locationStatuses } from '../../src/contracts/complaint.js';
import type { SiteConfig } from '../../src/contracts/site.js';
import { formatPath } from '../../src/errors.js';
import { createLogger } from '../../src/log.js';
import { migrate } from '../../src/storage/migrate.js';
import { registerSite } from '../../src/storage/site-registry.js';
import { pgDatabase } from '../../src/storage/sql.js';
import { serve, type ServedApp } from '../support/http.js';
import { freshDatabase, type FreshDatabase } from '../support/services.js';
import { demoSiteOnFreePorts } from '../support/site-fixture.js';
import {
  fieldMutation,
  fieldsOf,
  hostileKey,
  hostileString,
  invalidUtf8,
  isoDateTime,
  jsonPaths,
  jsonText,
  mutateFields,
  objectText,
  spliceBytes,
  validComplaint,
} from './arbitraries.js';

type Json = Record<string, any>;

const REQUEST_TIMEOUT_MS = 15_000;
/** express.json's limits: app.ts */
const BODY_LIMIT = 1024 * 1024;
const BULK_BODY_LIMIT = 8 * 1024 * 1024;
const COMPLAINT_FIELDS = ['channel', 'category', 'location', 'text', 'contact', 'external_id', 'reported_at'] as const;
const LOCATION_FIELDS = ['lat', 'lon', 'address', 'account'] as const;
const HEADER_FIELDS = ['Idempotency-Key'];

type Endpoint = 'single' | 'bulk' | 'webhook';

interface Sent {
  endpoint: Endpoint;
  bytes: Buffer;
  contentType: string | undefined;
  contentEncoding?: string | undefined;
  idempotencyKey?: string | undefined;
}

interface Answer {
  status: number;
  body: Json;
}

// ---------------------------------------------------------------------------------------------
// What is sent

const contentType = fc.oneof(
  { arbitrary: fc.constant('application/json'), weight: 12 },
  { arbitrary: fc.constantFrom('application/json; charset=utf-8', 'application/JSON; charset=UTF-8', 'application/merge-patch+json'), weight: 2 },
  { arbitrary: fc.constantFrom('text/plain', 'application/x-www-form-urlencoded', 'application/json; charset=latin1', 'application/json; charset=utf-16', 'multipart/form-data; boundary=x', undefined), weight: 2 },
);

/** How the JSON text becomes bytes: plain UTF-8 mostly, else with a BOM, invalid UTF-8 spliced in, truncated, or not JSON at all. */
const encoding = fc.oneof(
  { arbitrary: fc.constant({ kind: 'utf8' as const }), weight: 10 },
  { arbitrary: fc.constant({ kind: 'bom' as const }), weight: 1 },
  { arbitrary: fc.record({ kind: fc.constant('invalid-utf8-in-text' as const), bytes: invalidUtf8 }), weight: 3 },
  { arbitrary: fc.record({ kind: fc.constant('invalid-utf8-anywhere' as const), bytes: invalidUtf8, at: fc.nat() }), weight: 1 },
  { arbitrary: fc.record({ kind: fc.constant('truncated' as const), at: fc.nat() }), weight: 1 },
  { arbitrary: fc.record({ kind: fc.constant('random-bytes' as const), bytes: fc.uint8Array({ maxLength: 200 }) }), weight: 1 },
  { arbitrary: fc.record({ kind: fc.constant('not-json' as const), text: hostileString }), weight: 1 },
);
type Encoding = typeof encoding extends fc.Arbitrary<infer T> ? T : never;

function encode(text: string, how: Encoding): Buffer {
  const utf8 = Buffer.from(text, 'utf8');
  switch (how.kind) {
    case 'utf8':
      return utf8;
    case 'bom':
      return Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), utf8]);
    case 'invalid-utf8-in-text': {
      // Right after the opening quote of "text": the bytes land inside the string.
      const at = utf8.indexOf('"text":"');
      return at < 0 ? Buffer.concat([utf8, how.bytes]) : spliceBytes(utf8, at + 8, how.bytes);
    }
    case 'invalid-utf8-anywhere':
      return spliceBytes(utf8, how.at, how.bytes);
    case 'truncated':
      return utf8.subarray(0, how.at % (utf8.length + 1));
    case 'random-bytes':
      return Buffer.from(how.bytes);
    case 'not-json':
      return Buffer.from(how.text, 'utf8');
  }
}

/** A complaint as JSON text: valid, or (`mutatedPercent` of them) with fields deleted, replaced by hostile JSON, added or repeated. */
const complaintText = (options: { webhook: boolean; mutatedPercent: number }) =>
  fc
    .tuple(validComplaint, fc.oneof({ arbitrary: fc.constant([]), weight: 100 - options.mutatedPercent }, { arbitrary: fc.array(fieldMutation, { minLength: 1, maxLength: 3 }), weight: options.mutatedPercent }), fc.integer({ min: 1, max: 1_000_000 }))
    .map(([complaint, mutations, unique]) => {
      const body: Json = { ...complaint };
      if (options.webhook) {
        delete body.channel;
        // Each delivery its own message id, so that a repeat is one the test meant.
        body.external_id = `${body.external_id ?? 'wa'}-${unique}`;
      }
      return objectText(mutateFields(fieldsOf(body), mutations));
    });

// ---------------------------------------------------------------------------------------------
// What the server saw, and what it may answer

/** The text express.json() parses: UTF-8 with invalid sequences replaced by U+FFFD, one leading BOM dropped. */
function decodedText(bytes: Buffer): string {
  const text = bytes.toString('utf8');
  return text.startsWith('\uFEFF') ? text.slice(1) : text;
}

function parsedBody(sent: Sent): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(decodedText(sent.bytes)) };
  } catch {
    return { ok: false };
  }
}

/** The field names a 400 may use: any path present in the body, any field the schema has, the body itself and the header. */
function allowedFields(endpoint: Endpoint, body: unknown): Set<string> {
  const paths = jsonPaths(body, endpoint === 'bulk' ? 4 : 3).map((path) => formatPath(path));
  const schemaPaths = (prefix: Array<string | number>) => [
    ...COMPLAINT_FIELDS.filter((field) => !(endpoint === 'webhook' && field === 'channel')).map((field) => formatPath([...prefix, field])),
    ...LOCATION_FIELDS.map((field) => formatPath([...prefix, 'location', field])),
  ];
  if (endpoint === 'bulk' && Array.isArray(body)) body.forEach((_item, index) => paths.push(formatPath([index]), ...schemaPaths([index])));
  else paths.push(...schemaPaths([]));
  return new Set([...paths.filter((path) => path !== ''), 'body', ...HEADER_FIELDS]);
}

const trimmedOrNull = (value: unknown) => (typeof value === 'string' ? value.trim() : null);

function trimmedLocation(location: Json): Json {
  if ('address' in location) return { address: String(location.address).trim() };
  if ('account' in location) return { account: String(location.account).trim() };
  return location;
}

describe('property: complaint API boundaries', function () {
  this.timeout(120_000);
  let db: FreshDatabase;
  let site: SiteConfig;
  let http: ServedApp;
  let apiKey: string;
  let webhookToken: string;
  let logLines: string[] = [];
  /** Complaints the API said it created: the table must hold exactly these. */
  let created = 0;

  before(async () => {
    db = await freshDatabase();
    await migrate(pgDatabase(db.pool));
    site = await demoSiteOnFreePorts();
    await registerSite(db.pool, site);
    const capture = new Writable({
      write: (chunk, _encoding, done) => {
        logLines.push(String(chunk));
        done();
      },
    });
    const log = createLogger({ level: 'error', destination: capture });
    // Rate limits raised: this test is one client sending thousands of requests a minute on purpose.
    const limits = { failedLoginsPer15Min: 10, webhookPerMinute: 1_000_000, anonymousPerMinute: 1_000_000 };
    http = await serve(createApp({ pool: db.pool, site, log, brokerConnected: () => true, storageFlavour: 'postgres', limits }));
    apiKey = await createApiKey(db.pool, { name: 'property.operator', role: 'operator' });
    webhookToken = await createWebhookToken(db.pool, { name: 'property.whatsapp', channel: 'whatsapp' });
  });

  after(async () => {
    await http?.close();
    await db?.drop();
  });

  beforeEach(() => {
    logLines = [];
  });

  const path = { single: '/complaints', bulk: '/complaints:bulk', webhook: '/webhooks/complaints' } as const;

  async function send(sent: Sent): Promise<Answer> {
    const headers: Record<string, string> = { authorization: `Bearer ${sent.endpoint === 'webhook' ? webhookToken : apiKey}` };
    if (sent.contentType !== undefined) headers['content-type'] = sent.contentType;
    if (sent.contentEncoding !== undefined) headers['content-encoding'] = sent.contentEncoding;
    if (sent.idempotencyKey !== undefined) headers['idempotency-key'] = sent.idempotencyKey;
    const response = await fetch(`${http.apiUrl}${path[sent.endpoint]}`, { method: 'POST', headers, body: sent.bytes, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
    const text = await response.text();
    let body: Json;
    try {
      body = JSON.parse(text) as Json;
    } catch {
      throw new Error(`${response.status} answered with non-JSON: ${text.slice(0, 200)}`);
    }
    return { status: response.status, body };
  }

  async function get(pathAndQuery: string): Promise<Answer> {
    const response = await fetch(`${http.apiUrl}${pathAndQuery}`, { headers: { authorization: `Bearer ${apiKey}` }, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
    return { status: response.status, body: (await response.json()) as Json };
  }

  const complaintCount = async () => (await db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM complaint')).rows[0]!.n;

  /** A complaint answered 201 (or 200 for a repeat) reads back unchanged, holding exactly what was sent, trimmed. */
  async function expectStoredAsSent(answer: Json, sentBody: Json, channel: string): Promise<void> {
    const readBack = await get(`/complaints/${answer.id}`);
    expect(readBack.status, 'read back').to.equal(200);
    expect(readBack.body, 'read back equals the answer').to.deep.equal(answer);
    expect(answer.text, 'text').to.equal(String(sentBody.text).trim());
    expect(answer.contact, 'contact').to.equal(trimmedOrNull(sentBody.contact));
    expect(answer.external_id, 'external_id').to.equal(trimmedOrNull(sentBody.external_id));
    expect(answer.channel).to.equal(channel);
    expect(answer.category).to.equal(sentBody.category);
    expect(answer.location, 'location').to.deep.equal(trimmedLocation(sentBody.location as Json));
    if (sentBody.reported_at !== undefined) expect(Date.parse(answer.reported_at), 'reported_at').to.equal(Date.parse(sentBody.reported_at as string));
    expect(locationStatuses).to.include(answer.location_status);
    expect(complaintVerifications).to.include(answer.verification);
  }

  /** The properties every answer to a POST must have; counts the complaints it created. */
  async function expectSoundAnswer(sent: Sent, answer: Answer): Promise<void> {
    const context = () => `${sent.endpoint} answered ${answer.status} ${JSON.stringify(answer.body).slice(0, 400)}${logLines.length > 0 ? `\nservice log: ${logLines.join('').slice(0, 1500)}` : ''}`;
    expect([200, 201, 400, 413, 415], context()).to.include(answer.status);
    expect(answer.body.error === undefined || typeof answer.body.message === 'string', context()).to.equal(true);
    const parsed = parsedBody(sent);
    if (answer.status === 413) {
      expect(sent.bytes.length, context()).to.be.greaterThan(sent.endpoint === 'bulk' ? BULK_BODY_LIMIT : BODY_LIMIT);
      return;
    }
    if (answer.status === 415) {
      expect(answer.body.error, context()).to.equal('bad_request');
      return;
    }
    if (answer.status === 400) {
      if (answer.body.error === 'bad_request') {
        // Only for bytes express.json() cannot take: not a JSON object or array, or a bad encoding.
        const declaredUtf8 = !/charset=(?!utf-?8\b)/i.test(sent.contentType ?? '');
        const takeable = parsed.ok && typeof parsed.value === 'object' && parsed.value !== null && sent.contentEncoding === undefined && declaredUtf8;
        expect(takeable, `JSON object refused as malformed: ${context()}`).to.equal(false);
        return;
      }
      expect(answer.body.error, context()).to.equal('validation_failed');
      expect(answer.body.issues, context()).to.be.an('array').that.is.not.empty;
      const jsonBody = sent.contentType?.toLowerCase().startsWith('application/json') && parsed.ok ? parsed.value : undefined;
      const allowed = allowedFields(sent.endpoint, jsonBody);
      for (const issue of answer.body.issues as Array<{ field: unknown; message: unknown }>) {
        expect(issue.field, `issue field: ${context()}`).to.be.a('string').that.is.not.empty;
        expect(issue.message, `issue message: ${context()}`).to.be.a('string').that.is.not.empty;
        expect(allowed.has(issue.field as string), `"${String(issue.field)}" names no field of the body: ${context()}`).to.equal(true);
      }
      return;
    }
    // 200 or 201: a JSON body the schema takes, stored as sent.
    expect(parsed.ok, context()).to.equal(true);
    const value = (parsed as { value: unknown }).value;
    if (sent.endpoint === 'bulk') {
      const items = value as Json[];
      expect(answer.body.items, context()).to.have.length(items.length);
      expect(answer.body.created + answer.body.existing, context()).to.equal(items.length);
      expect(answer.status, context()).to.equal(answer.body.created > 0 ? 201 : 200);
      created += answer.body.created as number;
      for (const [index, item] of (answer.body.items as Json[]).entries()) {
        expect(item.index).to.equal(index);
        expect(complaintBodySchema.safeParse(items[index]).success, context()).to.equal(true);
        if (item.created) await expectStoredAsSent((await get(`/complaints/${item.id}`)).body, items[index]!, items[index]!.channel);
      }
      return;
    }
    const sentBody = value as Json;
    const channel = sent.endpoint === 'webhook' ? 'whatsapp' : (sentBody.channel as string);
    expect(complaintBodySchema.safeParse({ ...sentBody, channel }).success, context()).to.equal(true);
    if (answer.status === 201) {
      created += 1;
      await expectStoredAsSent(answer.body, sentBody, channel);
    } else {
      // A repeat: the stored complaint, found by its Idempotency-Key or its channel and external_id.
      expect(sent.idempotencyKey !== undefined || sentBody.external_id !== undefined, context()).to.equal(true);
      expect((await get(`/complaints/${answer.body.id}`)).body).to.deep.equal(answer.body);
    }
  }

  async function check(sent: Sent): Promise<void> {
    const answer = await send(sent);
    await expectSoundAnswer(sent, answer);
    expect(await complaintCount(), 'complaints stored equal complaints the API created').to.equal(created);
  }

  const idempotencyKey = fc.oneof(
    { arbitrary: fc.constant(undefined), weight: 6 },
    { arbitrary: fc.string({ unit: 'grapheme-ascii', maxLength: 40 }), weight: 2 },
    { arbitrary: fc.constantFrom(' ', '\t', 'k'.repeat(200), 'k'.repeat(201), "'; DROP TABLE complaint; --"), weight: 1 },
  );

  it('POST /complaints: any body is stored as sent or refused naming the field', async () => {
    await fc.assert(
      fc.asyncProperty(complaintText({ webhook: false, mutatedPercent: 50 }), encoding, contentType, idempotencyKey, async (text, how, type, key) => {
        await check({ endpoint: 'single', bytes: encode(text, how), contentType: type, idempotencyKey: key });
      }),
      { numRuns: 250 },
    );
  });

  it('POST /webhooks/complaints: any delivery is stored as sent or refused naming the field', async () => {
    await fc.assert(
      fc.asyncProperty(complaintText({ webhook: true, mutatedPercent: 50 }), encoding, async (text, how) => {
        await check({ endpoint: 'webhook', bytes: encode(text, how), contentType: 'application/json' });
      }),
      { numRuns: 120 },
    );
  });

  it('POST /complaints:bulk: all or none, each bad item named by index and field', async () => {
    // One bad item spoils the import, so most items are valid: both all and none must happen.
    const items = fc.array(fc.oneof({ arbitrary: complaintText({ webhook: false, mutatedPercent: 10 }), weight: 12 }, { arbitrary: jsonText, weight: 1 }), { maxLength: 6 });
    const body = fc.oneof(
      { arbitrary: items.map((texts) => `[${texts.join(',')}]`), weight: 12 },
      { arbitrary: jsonText, weight: 1 },
      // More than 1000 valid complaints.
      { arbitrary: validComplaint.map((complaint) => `[${Array.from({ length: 1001 }, () => JSON.stringify(complaint)).join(',')}]`), weight: 1 },
    );
    await fc.assert(
      fc.asyncProperty(body, fc.oneof({ arbitrary: fc.constant({ kind: 'utf8' as const }), weight: 8 }, { arbitrary: encoding, weight: 2 }), idempotencyKey, async (text, how, key) => {
        await check({ endpoint: 'bulk', bytes: encode(text, how), contentType: 'application/json', idempotencyKey: key });
      }),
      { numRuns: 80 },
    );
  });

  it('answers the known hostile bodies: NUL, lone surrogates, 10,000-deep nesting, prototype keys, oversize, bad encodings', async () => {
    const valid = { channel: 'call_center', category: 'no_water', location: { lat: -6.8915, lon: 107.6105 }, text: 'no water since 6 am' };
    const json = (value: unknown) => Buffer.from(JSON.stringify(value));
    const cases: Array<Omit<Sent, 'contentType'> & { contentType?: string }> = [
      { endpoint: 'single', bytes: json({ ...valid, text: 'a\u0000b' }) },
      { endpoint: 'single', bytes: json({ ...valid, contact: '\u0000' }) },
      { endpoint: 'single', bytes: json({ ...valid, external_id: 'wa-\u0000' }) },
      { endpoint: 'single', bytes: json({ ...valid, location: { address: 'Jalan\u0000 Merdeka' } }) },
      { endpoint: 'single', bytes: json({ ...valid, location: { account: '01-\u0000' } }) },
      { endpoint: 'single', bytes: json({ ...valid, text: 'no water \ud83d' }) },
      { endpoint: 'single', bytes: json({ ...valid, location: { address: 'Jalan \udc00 Merdeka' } }) },
      { endpoint: 'webhook', bytes: json({ category: 'other', location: valid.location, text: 'x\u0000', external_id: 'wa-nul' }) },
      { endpoint: 'bulk', bytes: json([valid, { ...valid, text: 'fine' }, { ...valid, text: 'bad\u0000' }]) },
      { endpoint: 'single', bytes: Buffer.from(`{"text":${'['.repeat(10_000)}${']'.repeat(10_000)}}`) },
      { endpoint: 'single', bytes: Buffer.from(`${'['.repeat(10_000)}${']'.repeat(10_000)}`) },
      { endpoint: 'bulk', bytes: Buffer.from(`[${'{"a":'.repeat(10_000)}1${'}'.repeat(10_000)}]`) },
      { endpoint: 'single', bytes: Buffer.from(`{"__proto__":{"channel":"web"},"constructor":{"prototype":{"admin":true}},"category":"other"}`) },
      { endpoint: 'single', bytes: Buffer.from(objectText([...fieldsOf(valid), ['', '1'], ['a.b', '2'], ['[0]', '3']])) },
      { endpoint: 'single', bytes: Buffer.from(objectText([...fieldsOf(valid).filter(([key]) => key !== 'location'), ['location', '{"lat":1e400,"lon":-1e400}']])) },
      { endpoint: 'single', bytes: Buffer.from(objectText([...fieldsOf(valid), ['reported_at', '"2026-02-30T00:00:00Z"']])) },
      { endpoint: 'single', bytes: json({ ...valid, reported_at: '0000-01-01T00:00:00+14:00' }) },
      { endpoint: 'single', bytes: json({ ...valid, reported_at: '9999-12-31T23:59:59.999-23:59' }) },
      { endpoint: 'single', bytes: json({ ...valid, text: 'x'.repeat(BODY_LIMIT) }) },
      { endpoint: 'bulk', bytes: json(Array.from({ length: 1000 }, () => ({ ...valid, text: 'y'.repeat(8500) }))) },
      // Over express.json's default 1 MB, under the bulk route's 8 MB.
      { endpoint: 'bulk', bytes: json(Array.from({ length: 300 }, () => ({ ...valid, text: 'y'.repeat(5000) }))) },
      { endpoint: 'single', bytes: json(valid), contentType: 'application/json; charset=latin1' },
      { endpoint: 'single', bytes: json(valid), contentEncoding: 'gzip' },
      { endpoint: 'single', bytes: json(valid), contentEncoding: 'x-unknown' },
      { endpoint: 'single', bytes: Buffer.from(JSON.stringify(valid), 'utf16le') },
      { endpoint: 'single', bytes: json(valid), idempotencyKey: ' '.repeat(3) },
      { endpoint: 'single', bytes: json(valid), idempotencyKey: 'k'.repeat(201) },
    ];
    for (const sent of cases) await check({ contentType: 'application/json', ...sent });
  });

  it('GET /complaints: any query string answers 200 with matching complaints or 400 naming the parameter', async () => {
    const queryKeys = ['zone', 'status', 'verification', 'from', 'to', 'limit'] as const;
    const goodValue: Record<(typeof queryKeys)[number], fc.Arbitrary<string>> = {
      zone: fc.constantFrom('dma-1', 'dma-2', 'dma-3'),
      status: fc.constantFrom(...locationStatuses),
      verification: fc.constantFrom(...complaintVerifications),
      from: isoDateTime,
      to: isoDateTime,
      limit: fc.oneof(fc.integer({ min: 1, max: 1000 }).map(String), fc.constantFrom('1e3', '0x10', ' 5 ')),
    };
    /** Bytes of a string percent-encoded; lone surrogates become U+FFFD as any client would send them. */
    const percent = (text: string) => [...Buffer.from(text, 'utf8')].map((byte) => `%${byte.toString(16).padStart(2, '0')}`).join('');
    const rawValue = fc.oneof(
      hostileString.map(percent),
      fc.constantFrom('', '%', '%zz', '%E0%A4%A', '%00', '%FF%FE', '1e400', 'NaN', '-1', '0', '1001', 'Infinity', '%2B07:00', '0000-01-01T00:00:00%2B14:00', '9999-12-31T23:59:59.999-23:59'),
    );
    const parameter = fc.oneof(
      { arbitrary: fc.constantFrom(...queryKeys).chain((key) => goodValue[key].map((value) => [key, encodeURIComponent(value)] as const)), weight: 4 },
      { arbitrary: fc.tuple(fc.constantFrom(...queryKeys), rawValue), weight: 2 },
      { arbitrary: fc.tuple(hostileKey.map(percent), rawValue), weight: 1 },
    );
    await fc.assert(
      fc.asyncProperty(fc.array(parameter, { maxLength: 5 }), async (parameters) => {
        const query = parameters.map(([key, value]) => `${key}=${value}`).join('&');
        const answer = await get(`/complaints?${query}`);
        const context = `GET /complaints?${query} answered ${answer.status} ${JSON.stringify(answer.body).slice(0, 300)}`;
        expect([200, 400], context).to.include(answer.status);
        const seen = querystring.parse(query);
        const sentKeys = new Set([...new URLSearchParams(query).keys(), ...Object.keys(seen)].map((key) => formatPath([key])));
        if (answer.status === 400) {
          expect(answer.body.error, context).to.be.oneOf(['validation_failed', 'bad_request']);
          if (answer.body.error === 'validation_failed') {
            for (const issue of answer.body.issues as Array<{ field: string; message: string }>) {
              expect(issue.message, context).to.be.a('string').that.is.not.empty;
              expect(issue.field === 'query' || (queryKeys as readonly string[]).includes(issue.field) || sentKeys.has(issue.field), `"${issue.field}" names no parameter: ${context}`).to.equal(true);
            }
          }
          return;
        }
        // What the server saw (express's "simple" parser is node:querystring); a 200 means each was one string.
        const param = (key: string) => seen[key] as string | undefined;
        const complaints = answer.body.complaints as Json[];
        expect(complaints.length, context).to.be.at.most(Number(param('limit') ?? 100));
        for (const complaint of complaints) {
          if (param('zone') !== undefined) expect(complaint.zone, context).to.equal(param('zone'));
          if (param('status') !== undefined) expect(complaint.location_status, context).to.equal(param('status'));
          if (param('verification') !== undefined) expect(complaint.verification, context).to.equal(param('verification'));
          if (param('from') !== undefined) expect(Date.parse(complaint.reported_at), context).to.be.at.least(Date.parse(param('from')!));
          if (param('to') !== undefined) expect(Date.parse(complaint.reported_at), context).to.be.below(Date.parse(param('to')!));
        }
      }),
      { numRuns: 150 },
    );
  });
});
