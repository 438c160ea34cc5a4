// Live updates for the browser console: one subscription per API process to the site's telemetry
// and to its anomaly, incident and work-order events, fanned out to the open event streams.
// The MQTT client is the caller's, which owns connecting and reconnecting; mqtt.js subscribes
// again after each reconnect, so the hub only insists on a client set up to do that. QoS 0: a
// live view shows what arrives now, and what it missed is in the database.
import type { MqttClient } from 'mqtt';
import { telemetryBatchSchema, topics, type Quality } from '../contracts/telemetry.js';
import { TirtaError } from '../errors.js';
import { silentLogger, type Logger } from '../log.js';

/** One sample as a live view shows it. */
export interface LiveSample {
  tag: string;
  /** ISO 8601, from the sample's source timestamp. */
  time: string;
  value: number | null;
  quality: Quality;
}

export const liveEventTypes = ['anomaly', 'incident', 'work_order'] as const;
export type LiveEventType = (typeof liveEventTypes)[number];

export interface LiveEvent {
  type: LiveEventType;
  /** The message as the engine or the work-order outbox published it. */
  data: unknown;
}

/**
 * A listener answers false when it dropped a delivery (its client is too far behind), so the hub
 * can count it; `closed` is called when the hub closes, to end the listener's stream.
 */
export interface TelemetryListener {
  samples(batch: readonly LiveSample[]): boolean | void;
  closed?(): void;
}

export interface LiveEventListener {
  event(event: LiveEvent): boolean | void;
  closed?(): void;
}

export interface LiveCounters {
  /** Telemetry batches validated and fanned out (only while someone watches telemetry). */
  telemetryBatches: number;
  /** Anomaly, incident and work-order messages fanned out (only while someone watches events). */
  events: number;
  /** Messages that were not JSON, or not a valid telemetry batch of this site: dropped. */
  invalidMessages: number;
  /** Deliveries a listener dropped because its client was too far behind. */
  droppedDeliveries: number;
  /** Listener calls that threw: logged and skipped. */
  listenerErrors: number;
}

export interface LiveEventsOptions {
  /** Connected or not yet; must reconnect and resubscribe (mqtt.js defaults). The hub never ends it. */
  client: MqttClient;
  siteId: string;
  log?: Logger;
}

/** Topics whose first bad message is logged as a warning: a bound against junk device names. */
const MAX_REPORTED_TOPICS = 1000;

export class LiveEvents {
  readonly counters: LiveCounters = { telemetryBatches: 0, events: 0, invalidMessages: 0, droppedDeliveries: 0, listenerErrors: 0 };
  private readonly client: MqttClient;
  private readonly siteId: string;
  private readonly log: Logger;
  private readonly telemetryPrefix: string;
  private readonly telemetrySuffix: string;
  private readonly eventTopics: ReadonlyMap<string, LiveEventType>;
  private readonly subscription: string[];
  private readonly subscribed: Promise<void>;
  /** Tag key → the listeners watching it. */
  private readonly telemetryByTag = new Map<string, Set<TelemetryListener>>();
  private readonly telemetryListeners = new Map<TelemetryListener, readonly string[]>();
  private readonly eventListeners = new Set<LiveEventListener>();
  private readonly reportedTopics = new Set<string>();
  private closed = false;

  constructor(options: LiveEventsOptions) {
    const { client, siteId } = options;
    // Without these a reconnect would leave the hub subscribed to nothing, and no one would notice.
    if (client.options.resubscribe === false || client.options.reconnectPeriod === 0) {
      throw new TirtaError('bad_usage', 'live updates need an MQTT client that reconnects and resubscribes (reconnectPeriod > 0, resubscribe not false)');
    }
    this.client = client;
    this.siteId = siteId;
    this.log = (options.log ?? silentLogger).child({ component: 'live-events', site: siteId });
    const telemetryFilter = topics.telemetry(siteId, '+');
    const [prefix = '', suffix = ''] = telemetryFilter.split('+');
    this.telemetryPrefix = prefix;
    this.telemetrySuffix = suffix;
    this.eventTopics = new Map<string, LiveEventType>([
      [topics.anomalies(siteId), 'anomaly'],
      [topics.incidents(siteId), 'incident'],
      [topics.workOrders(siteId), 'work_order'],
    ]);
    this.subscription = [telemetryFilter, ...this.eventTopics.keys()];
    client.on('message', this.onMessage);
    this.subscribed = new Promise<void>((resolve, reject) => {
      client.subscribe(this.subscription, { qos: 0 }, (error, granted) => {
        const refused = (granted ?? []).filter((grant) => grant.qos >= 128).map((grant) => grant.topic);
        if (!error && refused.length === 0) {
          resolve();
          return;
        }
        const failure = error || new TirtaError('subscription_refused', `the broker refused ${refused.join(', ')}`);
        // A subscription lost with the connection is made again by mqtt.js when it reconnects.
        this.log.warn({ err: failure, subscription: this.subscription }, 'live updates could not subscribe yet');
        reject(failure);
      });
    });
    this.subscribed.catch(() => undefined);
  }

  /** Resolves when the broker has acknowledged the hub's first subscription; for tests and startup checks. */
  ready(): Promise<void> {
    return this.subscribed;
  }

  /** Open listeners of both kinds. */
  get listenerCount(): number {
    return this.telemetryListeners.size + this.eventListeners.size;
  }

  /** Delivers each batch's samples of the given tags (only when the batch has any); returns the way to stop. */
  watchTelemetry(tags: Iterable<string>, listener: TelemetryListener): () => void {
    if (this.closed) {
      listener.closed?.();
      return () => undefined;
    }
    const keys = [...new Set(tags)];
    this.telemetryListeners.set(listener, keys);
    for (const key of keys) {
      let listeners = this.telemetryByTag.get(key);
      if (listeners === undefined) this.telemetryByTag.set(key, (listeners = new Set()));
      listeners.add(listener);
    }
    return () => this.unwatchTelemetry(listener);
  }

  /** Delivers every anomaly, incident and work-order event; returns the way to stop. */
  watchEvents(listener: LiveEventListener): () => void {
    if (this.closed) {
      listener.closed?.();
      return () => undefined;
    }
    this.eventListeners.add(listener);
    return () => {
      this.eventListeners.delete(listener);
    };
  }

  /** Ends every listener's stream and unsubscribes; the client stays the caller's to end. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.client.removeListener('message', this.onMessage);
    const listeners: Array<TelemetryListener | LiveEventListener> = [...this.telemetryListeners.keys(), ...this.eventListeners];
    this.telemetryListeners.clear();
    this.telemetryByTag.clear();
    this.eventListeners.clear();
    for (const listener of listeners) this.deliver(() => listener.closed?.());
    // Offline, the unsubscription waits in mqtt.js's queue (and is dropped from its resubscriptions
    // at once): nothing to wait for. Online, the answer comes within a round trip or with the close.
    const unsubscribed = new Promise<void>((resolve) => {
      this.client.unsubscribe(this.subscription, (error?: Error) => {
        if (error) this.log.debug({ err: error }, 'live updates unsubscribe not confirmed');
        resolve();
      });
    });
    if (this.client.connected) await unsubscribed;
  }

  private unwatchTelemetry(listener: TelemetryListener): void {
    const keys = this.telemetryListeners.get(listener);
    if (keys === undefined) return;
    this.telemetryListeners.delete(listener);
    for (const key of keys) {
      const listeners = this.telemetryByTag.get(key);
      listeners?.delete(listener);
      if (listeners?.size === 0) this.telemetryByTag.delete(key);
    }
  }

  // The client may carry other subscriptions: messages not of this hub's topics are ignored.
  private readonly onMessage = (topic: string, payload: Buffer): void => {
    const type = this.eventTopics.get(topic);
    if (type !== undefined) {
      this.takeEvent(type, topic, payload);
      return;
    }
    if (topic.length > this.telemetryPrefix.length + this.telemetrySuffix.length && topic.startsWith(this.telemetryPrefix) && topic.endsWith(this.telemetrySuffix)) {
      const device = topic.slice(this.telemetryPrefix.length, topic.length - this.telemetrySuffix.length);
      if (!device.includes('/')) this.takeTelemetry(topic, payload);
    }
  };

  private takeTelemetry(topic: string, payload: Buffer): void {
    // Nobody watching: not worth validating a batch for.
    if (this.telemetryByTag.size === 0) return;
    const json = this.parseJson(topic, payload);
    if (json === undefined) return;
    const result = telemetryBatchSchema.safeParse(json);
    if (!result.success) {
      const first = result.error.issues[0];
      this.reject(topic, `${first?.path.join('.') || 'payload'}: ${first?.message ?? 'invalid'}`);
      return;
    }
    if (result.data.site !== this.siteId) {
      this.reject(topic, `the batch names site "${result.data.site}"`);
      return;
    }
    this.counters.telemetryBatches += 1;
    const batches = new Map<TelemetryListener, LiveSample[]>();
    for (const sample of result.data.samples) {
      const listeners = this.telemetryByTag.get(sample.tag);
      if (listeners === undefined) continue;
      const live: LiveSample = { tag: sample.tag, time: new Date(sample.source_ts_ms).toISOString(), value: sample.value, quality: sample.quality };
      for (const listener of listeners) {
        let batch = batches.get(listener);
        if (batch === undefined) batches.set(listener, (batch = []));
        batch.push(live);
      }
    }
    for (const [listener, batch] of batches) this.deliver(() => listener.samples(batch));
  }

  private takeEvent(type: LiveEventType, topic: string, payload: Buffer): void {
    if (this.eventListeners.size === 0) return;
    const data = this.parseJson(topic, payload);
    if (data === undefined) return;
    this.counters.events += 1;
    const event: LiveEvent = { type, data };
    for (const listener of [...this.eventListeners]) this.deliver(() => listener.event(event));
  }

  private parseJson(topic: string, payload: Buffer): unknown {
    try {
      return JSON.parse(payload.toString('utf8')) as unknown;
    } catch (error) {
      this.reject(topic, `not JSON: ${(error as Error).message}`);
      return undefined;
    }
  }

  private reject(topic: string, reason: string): void {
    this.counters.invalidMessages += 1;
    // Ingest reports bad telemetry too; here once per topic is enough.
    const level = this.reportedTopics.has(topic) || this.reportedTopics.size >= MAX_REPORTED_TOPICS ? 'debug' : 'warn';
    if (level === 'warn') this.reportedTopics.add(topic);
    this.log[level]({ topic, reason }, 'invalid message dropped from live updates');
  }

  private deliver(call: () => boolean | void): void {
    try {
      if (call() === false) this.counters.droppedDeliveries += 1;
    } catch (error) {
      this.counters.listenerErrors += 1;
      this.log.error({ err: error }, 'a live-updates listener failed');
    }
  }
}
