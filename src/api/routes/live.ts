// Live updates for the browser console over Server-Sent Events: the samples of chosen tags as they
// arrive, and the site's anomaly, incident and work-order events. Each open stream is one listener
// on the LiveEvents hub. A client that falls too far behind loses events, and is told how many,
// rather than growing the process's memory; it can fetch what it missed from the history routes.
import type { Request, Response } from 'express';
import { z } from 'zod';
import type { ApiDependencies } from '../app.js';
import type { LiveEvents } from '../live-events.js';
import { DocumentedRouter } from '../openapi.js';
import { parseOrThrow } from '../validation.js';

export const MAX_STREAM_TAGS = 50;
/** How long a browser's EventSource waits before reconnecting. */
const RETRY_MS = 3000;

export interface LiveStreamSettings {
  /** A comment this often keeps proxies and load balancers from closing an idle stream. */
  keepaliveMs: number;
  /** Bytes a client may fall behind before its events are dropped. */
  maxBehindBytes: number;
}

export const defaultLiveStreamSettings: LiveStreamSettings = { keepaliveMs: 15_000, maxBehindBytes: 1024 * 1024 };

/** Everyone who watches the network; crews work from their own orders. */
const CONTROL_ROOM = ['operator', 'dispatcher', 'engineer', 'admin'] as const;

function streamQuery(siteTags: ReadonlySet<string>) {
  return z.strictObject({
    tag: z
      .string()
      .describe(`comma-separated tag keys, 1 to ${MAX_STREAM_TAGS}`)
      .transform((text) => [...new Set(text.split(',').map((key) => key.trim()).filter((key) => key !== ''))])
      .pipe(
        z
          .array(z.string())
          .min(1, 'name at least one tag')
          .max(MAX_STREAM_TAGS, `at most ${MAX_STREAM_TAGS} tags`)
          .superRefine((keys, context) => {
            for (const key of keys) if (!siteTags.has(key)) context.addIssue({ code: 'custom', message: `unknown tag "${key}"` });
          }),
      ),
  });
}

const eventsQuery = z.strictObject({});

/** One client's event stream: the frames, the keepalive comments and the slow-client rule. */
class EventStream {
  /** Events dropped over the stream's life. */
  dropped = 0;
  private droppedSinceDrain = 0;
  private waitingForDrain = false;
  private ended = false;
  private readonly keepalive: NodeJS.Timeout;

  constructor(
    private readonly response: Response,
    private readonly settings: LiveStreamSettings,
  ) {
    response.status(200).set({
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-cache',
      Connection: 'keep-alive',
      // nginx would otherwise hold events back to fill its buffer.
      'X-Accel-Buffering': 'no',
    });
    response.flushHeaders();
    response.write(`retry: ${RETRY_MS}\n\n`);
    this.keepalive = setInterval(() => this.write(': keepalive\n\n'), settings.keepaliveMs);
    response.on('drain', () => {
      this.waitingForDrain = false;
      if (this.droppedSinceDrain > 0) {
        // Tells the client its view has a gap to fill from the history routes.
        this.write(`event: dropped\ndata: ${JSON.stringify({ events: this.droppedSinceDrain })}\n\n`);
        this.droppedSinceDrain = 0;
      }
    });
  }

  /** Writes one event; false when the client is too far behind and the event was dropped. */
  send(event: string, data: unknown): boolean {
    if (this.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`)) return true;
    this.dropped += 1;
    this.droppedSinceDrain += 1;
    return false;
  }

  end(): void {
    if (this.ended) return;
    this.ended = true;
    clearInterval(this.keepalive);
    if (!this.response.writableEnded) this.response.end();
  }

  private write(frame: string): boolean {
    if (this.ended) return false;
    // Up to the limit the response buffers what the socket has not yet taken; past it, drop.
    if (this.waitingForDrain && this.response.writableLength > this.settings.maxBehindBytes) return false;
    if (!this.response.write(frame)) this.waitingForDrain = true;
    return true;
  }
}

function unavailable(response: Response): void {
  response.status(503).json({ error: 'unavailable', message: 'live updates need the MQTT broker' });
}

/** Opens the stream, lets `watch` attach it to the hub, and detaches it when either side ends. */
function openStream(request: Request, response: Response, deps: ApiDependencies, settings: LiveStreamSettings, what: Record<string, unknown>, watch: (stream: EventStream) => () => void): void {
  const stream = new EventStream(response, settings);
  let unwatch: (() => void) | undefined;
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    unwatch?.();
    stream.end();
    if (stream.dropped > 0) deps.log.warn({ ...what, dropped: stream.dropped }, 'live stream closed after dropping events for a slow client');
  };
  request.on('close', close);
  response.on('close', close);
  response.on('error', close);
  unwatch = watch(stream);
  // The client may have gone before the listeners were attached.
  if (request.destroyed) close();
}

export function liveRoutes(deps: ApiDependencies, live: LiveEvents | undefined, settings: LiveStreamSettings = defaultLiveStreamSettings): DocumentedRouter {
  const api = new DocumentedRouter('live updates');
  const telemetryQuery = streamQuery(new Set(deps.site.tags.map((tag) => tag.id)));

  api.get(
    '/telemetry/stream',
    {
      summary: 'the samples of the given tags as they arrive, as Server-Sent Events',
      description: `\`samples\` events, each a JSON array of { tag, time, value, quality } from one batch; \`dropped\` ({ events }) after a client fell more than ${settings.maxBehindBytes} bytes behind and lost events; a \`: keepalive\` comment every ${settings.keepaliveMs / 1000} s.`,
      access: CONTROL_ROOM,
      query: telemetryQuery,
      responses: { 200: 'the event stream', 400: 'no tag, more than 50, or a tag the site does not have, each named', 503: 'no broker connection: live updates are unavailable' },
      produces: ['text/event-stream'],
    },
    (request, response) => {
      if (live === undefined) return unavailable(response);
      const { tag } = parseOrThrow(telemetryQuery, request.query, 'query');
      openStream(request, response, deps, settings, { stream: 'telemetry', tags: tag }, (stream) =>
        live.watchTelemetry(tag, { samples: (batch) => stream.send('samples', batch), closed: () => stream.end() }),
      );
    },
  );

  api.get(
    '/events/stream',
    {
      summary: "the site's anomaly, incident and work-order events as they happen, as Server-Sent Events",
      description: `\`anomaly\`, \`incident\` and \`work_order\` events, each the JSON message the engine or the work-order outbox published; \`dropped\` ({ events }) after a client fell behind and lost events; a \`: keepalive\` comment every ${settings.keepaliveMs / 1000} s.`,
      access: CONTROL_ROOM,
      query: eventsQuery,
      responses: { 200: 'the event stream', 400: 'a query parameter, which this route takes none of', 503: 'no broker connection: live updates are unavailable' },
      produces: ['text/event-stream'],
    },
    (request, response) => {
      if (live === undefined) return unavailable(response);
      parseOrThrow(eventsQuery, request.query, 'query');
      openStream(request, response, deps, settings, { stream: 'events' }, (stream) =>
        live.watchEvents({ event: (event) => stream.send(event.type, event.data), closed: () => stream.end() }),
      );
    },
  );

  return api;
}
