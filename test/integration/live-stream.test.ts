// Live updates over Server-Sent Events against the real broker: telemetry batches and engine and
// work-order events published to Mosquitto reach the browser's stream through the LiveEvents hub;
// bad payloads, client disconnects, a cut broker link and a client that stops reading are met
// as they happen in a control room.
import type { Socket } from 'node:net';
import { expect } from 'chai';
import express, { type NextFunction, type Request, type Response } from 'express';
import mqtt, { type MqttClient } from 'mqtt';
import type pg from 'pg';
import { AccessError } from '../../src/api/access.js';
import type { ApiDependencies } from '../../src/api/app.js';
import { LiveEvents } from '../../src/api/live-events.js';
import { defaultLiveStreamSettings, liveRoutes, MAX_STREAM_TAGS, type LiveStreamSettings } from '../../src/api/routes/live.js';
import { RequestValidationError } from '../../src/api/validation.js';
import { loadSiteConfig } from '../../src/config/site-loader.js';
import type { Principal } from '../../src/contracts/access.js';
import type { SiteConfig } from '../../src/contracts/site.js';
import { topics, type Sample, type TelemetryBatch } from '../../src/contracts/telemetry.js';
import { silentLogger } from '../../src/log.js';
import { serve, type ServedApp } from '../support/http.js';
import { testServices, uniqueId, waitFor } from '../support/services.js';

interface SseEvent {
  event: string;
  data: string;
}

/** A browser's EventSource, by hand: fetch, a stream reader, and the SSE line format. */
class SseClient {
  readonly events: SseEvent[] = [];
  readonly comments: string[] = [];
  retryMs: number | undefined;
  ended = false;
  private cursor = 0;
  private buffer = '';
  private fields: { event: string; data: string[] } = { event: '', data: [] };
  private wake: (() => void) | undefined;
  private paused: Promise<void> | undefined;
  private resumeReading: (() => void) | undefined;

  private constructor(
    readonly response: globalThis.Response,
    private readonly abort: AbortController,
  ) {
    void this.pump();
  }

  static async open(url: string, headers: Record<string, string> = {}): Promise<SseClient> {
    const abort = new AbortController();
    const response = await fetch(url, { headers: { accept: 'text/event-stream', ...headers }, signal: abort.signal });
    expect(response.status, await SseClient.describe(response)).to.equal(200);
    return new SseClient(response, abort);
  }

  private static async describe(response: globalThis.Response): Promise<string> {
    return response.status === 200 ? '' : `${response.status}: ${await response.text()}`;
  }

  /** The next event (of the given name) after those already taken. */
  async next(name?: string, timeoutMs = 5000): Promise<SseEvent> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      while (this.cursor < this.events.length) {
        const event = this.events[this.cursor++]!;
        if (name === undefined || event.event === name) return event;
      }
      if (this.ended) throw new Error(`the stream ended while waiting for ${name ?? 'an event'}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no ${name ?? 'event'} within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }

  /** Stops taking data from the socket, as a stalled browser tab does. */
  pause(): void {
    this.paused ??= new Promise((resolve) => (this.resumeReading = resolve));
  }

  resume(): void {
    this.resumeReading?.();
    this.paused = undefined;
  }

  close(): void {
    this.abort.abort();
  }

  private async pump(): Promise<void> {
    const reader = this.response.body!.getReader();
    const decoder = new TextDecoder();
    try {
      for (;;) {
        if (this.paused !== undefined) await this.paused;
        const { done, value } = await reader.read();
        if (done) break;
        this.take(decoder.decode(value, { stream: true }));
      }
    } catch {
      // Aborted by close().
    } finally {
      this.ended = true;
      this.wake?.();
    }
  }

  private take(text: string): void {
    this.buffer += text;
    const lines = this.buffer.split(/\r\n|\r|\n/);
    this.buffer = lines.pop()!;
    for (const line of lines) {
      if (line === '') {
        if (this.fields.data.length > 0) this.events.push({ event: this.fields.event || 'message', data: this.fields.data.join('\n') });
        this.fields = { event: '', data: [] };
        continue;
      }
      if (line.startsWith(':')) {
        this.comments.push(line.slice(1).trim());
        continue;
      }
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
      if (field === 'event') this.fields.event = value;
      else if (field === 'data') this.fields.data.push(value);
      else if (field === 'retry' && /^\d+$/.test(value)) this.retryMs = Number(value);
    }
    this.wake?.();
  }
}

/** The error answers createApp gives, for the errors these routes raise. */
function errorHandler(error: unknown, _request: Request, response: Response, _next: NextFunction): void {
  if (error instanceof AccessError) {
    response.status(error.status).json({ error: error.status === 401 ? 'unauthenticated' : 'forbidden', message: error.message });
  } else if (error instanceof RequestValidationError) {
    response.status(400).json({ error: 'validation_failed', message: error.message, issues: error.issues });
  } else {
    response.status(500).json({ error: 'internal_error', message: String(error) });
  }
}

/**
 * The live router alone on a bare app. The caller is an operator unless the request says
 * otherwise in X-Test-Role ("none": no caller at all).
 */
async function serveLive(site: SiteConfig, hub: LiveEvents | undefined, settings: LiveStreamSettings = defaultLiveStreamSettings): Promise<ServedApp> {
  const deps: ApiDependencies = { pool: {} as pg.Pool, site, log: silentLogger, brokerConnected: () => hub !== undefined, storageFlavour: 'postgres' };
  const app = express();
  app.use((request, response, next) => {
    const role = request.get('x-test-role') ?? 'operator';
    if (role !== 'none') response.locals.principal = { kind: 'api_key', name: 'test', role, crew: null } as Principal;
    next();
  });
  app.use('/api/v1', liveRoutes(deps, hub, settings).router);
  app.use(errorHandler);
  const served = await serve(app);
  return {
    ...served,
    // Streams left open would hold server.close() forever.
    close: () => {
      served.server.closeAllConnections();
      return served.close();
    },
  };
}

const T0 = Date.parse('2026-03-02T08:00:00Z');

describe('live updates over Server-Sent Events', function () {
  this.timeout(60_000);

  let site: SiteConfig;
  let siteId: string;
  let mqttUrl: string;
  let publisher: MqttClient;
  let hubClient: MqttClient;
  let hub: LiveEvents;
  let api: ServedApp;
  let seq = 0;
  const open: SseClient[] = [];

  /** A valid batch of the given samples (value, quality, time), from one device. */
  function batch(samples: Array<Partial<Sample> & { tag: string }>, device = 'ps-plc'): TelemetryBatch {
    return {
      site: siteId,
      device,
      seq: seq++,
      poll_ts_ms: T0,
      historical: false,
      samples: samples.map((sample) => ({ value: 1, quality: 'good', source_ts_ms: T0, ...sample })),
    };
  }

  async function publishTelemetry(payload: TelemetryBatch | string, device = 'ps-plc'): Promise<void> {
    await publisher.publishAsync(topics.telemetry(siteId, device), typeof payload === 'string' ? payload : JSON.stringify(payload), { qos: 0 });
  }

  async function stream(path: string, headers: Record<string, string> = {}): Promise<SseClient> {
    const client = await SseClient.open(`${api.apiUrl}${path}`, headers);
    open.push(client);
    return client;
  }

  before(async () => {
    ({ mqttUrl } = await testServices());
    const demo = await loadSiteConfig('config/demo-town.yaml');
    siteId = uniqueId('live');
    site = { ...demo, site: { ...demo.site, id: siteId } };
    publisher = await mqtt.connectAsync(mqttUrl, { clientId: uniqueId('live-publisher') });
    hubClient = await mqtt.connectAsync(mqttUrl, { clientId: uniqueId('live-api'), reconnectPeriod: 200 });
    hub = new LiveEvents({ client: hubClient, siteId, log: silentLogger });
    await hub.ready();
    api = await serveLive(site, hub, { ...defaultLiveStreamSettings, keepaliveMs: 300 });
  });

  afterEach(async () => {
    for (const client of open.splice(0)) client.close();
    await waitFor('every stream detached from the hub', async () => (hub.listenerCount === 0 ? true : undefined), 5000);
  });

  after(async () => {
    await api?.close();
    await hub?.close();
    await hubClient?.endAsync();
    await publisher?.endAsync();
  });

  it('streams only the requested tags, with their time, value and quality', async () => {
    const sse = await stream('/telemetry/stream?tag=ps.outlet.pressure,dma-1.pressure.1');
    expect(sse.response.headers.get('content-type')).to.match(/^text\/event-stream/);
    expect(sse.response.headers.get('cache-control')).to.equal('no-cache');
    expect(sse.response.headers.get('x-accel-buffering')).to.equal('no');
    await waitFor('the listener', async () => (hub.listenerCount === 1 ? true : undefined));

    await publishTelemetry(
      batch([
        { tag: 'ps.outlet.pressure', value: 42.5, source_ts_ms: T0 + 1500 },
        { tag: 'ps.tank.level', value: 3.2 },
        { tag: 'dma-1.pressure.1', value: null, quality: 'bad', source_ts_ms: T0 + 2000 },
        { tag: 'ps.outlet.pressure', value: 42.7, quality: 'uncertain', source_ts_ms: T0 + 2500 },
      ]),
    );
    // A batch with none of the requested tags sends nothing; the next one shows it sent nothing.
    await publishTelemetry(batch([{ tag: 'ps.tank.level', value: 3.3 }]));
    await publishTelemetry(batch([{ tag: 'dma-1.pressure.1', value: 31, source_ts_ms: T0 + 3000 }], 'dma-1-rtu'));

    const first = await sse.next();
    expect(sse.retryMs).to.equal(3000);
    expect(first.event).to.equal('samples');
    expect(JSON.parse(first.data)).to.deep.equal([
      { tag: 'ps.outlet.pressure', time: '2026-03-02T08:00:01.500Z', value: 42.5, quality: 'good' },
      { tag: 'dma-1.pressure.1', time: '2026-03-02T08:00:02.000Z', value: null, quality: 'bad' },
      { tag: 'ps.outlet.pressure', time: '2026-03-02T08:00:02.500Z', value: 42.7, quality: 'uncertain' },
    ]);
    const second = await sse.next();
    expect(JSON.parse(second.data)).to.deep.equal([{ tag: 'dma-1.pressure.1', time: '2026-03-02T08:00:03.000Z', value: 31, quality: 'good' }]);
  });

  it('keeps a stream open with keepalive comments', async () => {
    const sse = await stream('/telemetry/stream?tag=ps.tank.level');
    await waitFor('two keepalive comments', async () => (sse.comments.filter((comment) => comment === 'keepalive').length >= 2 ? true : undefined), 5000, 50);
  });

  it('drops invalid payloads without breaking the stream', async () => {
    const sse = await stream('/telemetry/stream?tag=ps.tank.level');
    await waitFor('the listener', async () => (hub.listenerCount === 1 ? true : undefined));
    const invalidBefore = hub.counters.invalidMessages;

    await publishTelemetry('{ not json');
    await publishTelemetry(JSON.stringify({ ...batch([{ tag: 'ps.tank.level' }]), seq: -1 }));
    await publishTelemetry(JSON.stringify({ ...batch([{ tag: 'ps.tank.level' }]), samples: [{ tag: 'ps.tank.level', value: 'high', quality: 'good', source_ts_ms: T0 }] }));
    await publishTelemetry({ ...batch([{ tag: 'ps.tank.level', value: 9 }]), site: 'another-site' });
    await publishTelemetry(batch([{ tag: 'ps.tank.level', value: 3.4, source_ts_ms: T0 + 60_000 }]));

    const event = await sse.next('samples');
    expect(JSON.parse(event.data)).to.deep.equal([{ tag: 'ps.tank.level', time: '2026-03-02T08:01:00.000Z', value: 3.4, quality: 'good' }]);
    expect(hub.counters.invalidMessages - invalidBefore).to.equal(4);
  });

  it("relays the site's work-order, incident and anomaly events", async () => {
    const sse = await stream('/events/stream');
    await waitFor('the listener', async () => (hub.listenerCount === 1 ? true : undefined));
    const order = { type: 'assigned', at: '2026-03-02T08:05:00.000Z', work_order: { id: 'wo-1', code: 'WO-0001', status: 'assigned', crew: 'crew-a', version: 2 } };
    const incident = { type: 'opened', at: '2026-03-02T08:04:00.000Z', incident: { id: 'inc-1', kind: 'burst', priority: 'P1', zone: 'dma-1' } };
    const anomaly = { type: 'opened', at: '2026-03-02T08:03:00.000Z', anomaly: { id: 'an-1', kind: 'pressure_drop', tag: 'dma-1.pressure.1' } };

    await publisher.publishAsync(topics.workOrders(siteId), JSON.stringify(order), { qos: 1 });
    await publisher.publishAsync(topics.incidents(siteId), 'not json', { qos: 1 });
    await publisher.publishAsync(topics.incidents(siteId), JSON.stringify(incident), { qos: 1 });
    await publisher.publishAsync(topics.anomalies(siteId), JSON.stringify(anomaly), { qos: 1 });
    // Another site's events are not this site's console's business.
    await publisher.publishAsync(topics.incidents(`${siteId}-other`), JSON.stringify({ type: 'opened' }), { qos: 1 });
    await publisher.publishAsync(topics.workOrders(siteId), JSON.stringify({ ...order, type: 'completed' }), { qos: 1 });

    const received = [await sse.next(), await sse.next(), await sse.next(), await sse.next()];
    expect(received.map((event) => event.event)).to.deep.equal(['work_order', 'incident', 'anomaly', 'work_order']);
    expect(received.map((event) => JSON.parse(event.data))).to.deep.equal([order, incident, anomaly, { ...order, type: 'completed' }]);
  });

  it("removes a client's listener when the client disconnects", async () => {
    const first = await stream('/telemetry/stream?tag=ps.tank.level');
    const second = await stream('/events/stream');
    await waitFor('two listeners', async () => (hub.listenerCount === 2 ? true : undefined));
    first.close();
    await waitFor('one listener', async () => (hub.listenerCount === 1 ? true : undefined));
    second.close();
    await waitFor('no listener', async () => (hub.listenerCount === 0 ? true : undefined));
    // Telemetry with nobody watching is not even validated.
    const batches = hub.counters.telemetryBatches;
    await publishTelemetry(batch([{ tag: 'ps.tank.level' }]));
    await publisher.publishAsync(topics.incidents(siteId), JSON.stringify({ type: 'opened' }), { qos: 1 });
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(hub.counters.telemetryBatches).to.equal(batches);
  });

  it('answers 400 naming the tag field and each unknown tag', async () => {
    const unknown = await fetch(`${api.apiUrl}/telemetry/stream?tag=ps.tank.level,no.such.tag,dma-9.pressure`);
    expect(unknown.status).to.equal(400);
    const body = (await unknown.json()) as { error: string; issues: Array<{ field: string; message: string }> };
    expect(body.error).to.equal('validation_failed');
    expect(body.issues).to.deep.equal([
      { field: 'tag', message: 'unknown tag "no.such.tag"' },
      { field: 'tag', message: 'unknown tag "dma-9.pressure"' },
    ]);

    const tooMany = Array.from({ length: MAX_STREAM_TAGS + 1 }, (_unused, index) => `t${index}`).join(',');
    for (const query of ['', '?tag=', '?tag=,', `?tag=${tooMany}`, '?tag=ps.tank.level&tag=ps.outlet.flow']) {
      const answer = await fetch(`${api.apiUrl}/telemetry/stream${query}`);
      expect(answer.status, query).to.equal(400);
      const issues = ((await answer.json()) as { issues: Array<{ field: string }> }).issues;
      expect(issues.map((issue) => issue.field), query).to.include('tag');
    }
    const extra = await fetch(`${api.apiUrl}/events/stream?since=yesterday`);
    expect(extra.status).to.equal(400);
    expect(hub.listenerCount).to.equal(0);
  });

  it('answers 401 without a caller and 403 to a crew member', async () => {
    for (const path of ['/telemetry/stream?tag=ps.tank.level', '/events/stream']) {
      const anonymous = await fetch(`${api.apiUrl}${path}`, { headers: { 'x-test-role': 'none' } });
      expect(anonymous.status, path).to.equal(401);
      expect(((await anonymous.json()) as { error: string }).error).to.equal('unauthenticated');
      const crew = await fetch(`${api.apiUrl}${path}`, { headers: { 'x-test-role': 'crew' } });
      expect(crew.status, path).to.equal(403);
      await crew.body?.cancel();
    }
    const engineer = await stream('/events/stream', { 'x-test-role': 'engineer' });
    expect(engineer.response.status).to.equal(200);
  });

  it('answers 503 when the API has no broker connection', async () => {
    const withoutBroker = await serveLive(site, undefined);
    try {
      for (const path of ['/telemetry/stream?tag=ps.tank.level', '/events/stream']) {
        const answer = await fetch(`${withoutBroker.apiUrl}${path}`);
        expect(answer.status, path).to.equal(503);
        expect(await answer.json()).to.deep.equal({ error: 'unavailable', message: 'live updates need the MQTT broker' });
      }
    } finally {
      await withoutBroker.close();
    }
  });

  it('streams again after the broker link is cut and the client reconnects', async () => {
    const sse = await stream('/telemetry/stream?tag=ps.outlet.flow');
    await waitFor('the listener', async () => (hub.listenerCount === 1 ? true : undefined));
    const reconnected = new Promise<void>((resolve) => hubClient.once('connect', () => resolve()));
    (hubClient.stream as Socket).destroy();
    await reconnected;

    // The resubscription is mqtt.js's; a few batches may pass before the broker has it.
    let value = 0;
    const event = await waitFor(
      'samples after the reconnect',
      async () => {
        await publishTelemetry(batch([{ tag: 'ps.outlet.flow', value: ++value }]));
        return sse.next('samples', 200).catch(() => undefined);
      },
      10_000,
      0,
    );
    expect(JSON.parse(event.data)[0]).to.include({ tag: 'ps.outlet.flow', quality: 'good' });
    expect(hubClient.connected).to.equal(true);
  });

  it('drops events for a client that stops reading, tells it how many, and goes on', async () => {
    const sse = await stream('/telemetry/stream?tag=dma-2.pressure.1');
    await waitFor('the listener', async () => (hub.listenerCount === 1 ? true : undefined));
    sse.pause();
    const droppedBefore = hub.counters.droppedDeliveries;
    const batchesBefore = hub.counters.telemetryBatches;
    // About 1.7 MB of events per batch: the socket buffers fill, then the response's 1 MB allowance.
    const samples = Array.from({ length: 20_000 }, (_unused, index) => ({ tag: 'dma-2.pressure.1', value: 20 + index / 1000, source_ts_ms: T0 + index * 1000 }));
    let published = 0;
    while (hub.counters.droppedDeliveries === droppedBefore && published < 40) {
      await publishTelemetry(batch(samples, 'dma-2-rtu'));
      published += 1;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    // A few more, all dropped while the client is still behind.
    for (let extra = 0; extra < 3; extra += 1) await publishTelemetry(batch(samples, 'dma-2-rtu'));
    published += 3;
    await waitFor('every batch delivered or dropped', async () => (hub.counters.telemetryBatches - batchesBefore >= published && hub.counters.droppedDeliveries - droppedBefore >= 4 ? true : undefined), 20_000);
    const dropped = hub.counters.droppedDeliveries - droppedBefore;
    expect(dropped).to.be.greaterThan(3);

    sse.resume();
    let delivered = 0;
    let notice: SseEvent;
    for (;;) {
      const event = await sse.next(undefined, 20_000);
      if (event.event === 'dropped') {
        notice = event;
        break;
      }
      expect(JSON.parse(event.data)).to.have.length(20_000);
      delivered += 1;
    }
    expect(JSON.parse(notice.data)).to.deep.equal({ events: dropped });
    expect(delivered + dropped).to.equal(published);

    await publishTelemetry(batch([{ tag: 'dma-2.pressure.1', value: 7.5, source_ts_ms: T0 }], 'dma-2-rtu'));
    const after = await sse.next('samples', 5000);
    expect(JSON.parse(after.data)).to.deep.equal([{ tag: 'dma-2.pressure.1', time: '2026-03-02T08:00:00.000Z', value: 7.5, quality: 'good' }]);
  });

  it('ends open streams when the hub closes, and leaves the client connected', async () => {
    const client = await mqtt.connectAsync(mqttUrl, { clientId: uniqueId('live-api-2'), reconnectPeriod: 200 });
    const ownHub = new LiveEvents({ client, siteId });
    await ownHub.ready();
    const ownApi = await serveLive(site, ownHub);
    try {
      const sse = await SseClient.open(`${ownApi.apiUrl}/events/stream`);
      await waitFor('the listener', async () => (ownHub.listenerCount === 1 ? true : undefined));
      await ownHub.close();
      expect(ownHub.listenerCount).to.equal(0);
      await waitFor('the stream to end', async () => (sse.ended ? true : undefined));
      expect(client.connected).to.equal(true);
      const late = await fetch(`${ownApi.apiUrl}/events/stream`);
      expect(late.status).to.equal(200);
      expect(await late.text()).to.equal('retry: 3000\n\n');
    } finally {
      await ownApi.close();
      await client.endAsync();
    }
  });

  it('refuses an MQTT client that would not resubscribe after a reconnect', () => {
    const once = mqtt.connect(mqttUrl, { reconnectPeriod: 0, manualConnect: true });
    expect(() => new LiveEvents({ client: once, siteId })).to.throw(/reconnects and resubscribes/);
    const noResubscribe = mqtt.connect(mqttUrl, { resubscribe: false, manualConnect: true });
    expect(() => new LiveEvents({ client: noResubscribe, siteId })).to.throw(/reconnects and resubscribes/);
  });
});
