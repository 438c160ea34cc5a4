// The ingest role: subscribes to every device's telemetry, validates each message, writes
// samples in batches, and acknowledges each MQTT message (PUBACK) only after the batch holding
// it has committed. A crash before commit therefore loses nothing: the broker redelivers the
// unacknowledged messages and the (tag, time) key stores each sample once. When the database
// falls behind, messages stop being taken from the socket, so memory stays bounded.
//
// Shared mode (MQTT 5): the workers of a site split its stream through one shared group, which
// lives at the broker only while it is subscribed; Mosquitto 2.0.11 does not save shared
// subscriptions in its persistence file, so a broker restart removes the group until its
// workers reconnect and subscribe again. Each worker therefore subscribes anew on every
// connection, to the telemetry and to the site's probe topic in one SUBSCRIBE, and keeps the
// group announced (retained on `topics.ingestGroup`): connectors that see the announcement probe
// for the group and hold their telemetry while it is absent (connectors/publisher/ingest-gate.ts).
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import type { IPublishPacket, ISubscriptionMap, Packet } from 'mqtt';
import type pg from 'pg';
import { qualityCode, telemetryBatchSchema, topics, type IngestGroup } from '../contracts/telemetry.js';
import type { Logger } from '../log.js';
import type { TagIds } from '../storage/site-registry.js';
import { writeTelemetry, type TelemetryRow } from '../storage/telemetry-store.js';

export interface IngestOptions {
  mqttUrl: string;
  pool: pg.Pool;
  /** Tag ids by site, then by tag key. */
  tagIds: ReadonlyMap<string, TagIds>;
  log: Logger;
  /** With MQTT 5, ingest workers sharing this group split the stream; MQTT 3.1.1 brokers get a plain subscription. */
  sharedGroup?: string;
  /** Must be unique per worker and stable across its restarts: the broker keeps its session (and its share of the stream) under this id. */
  clientId: string;
  protocolVersion?: 4 | 5;
  maxBatchRows?: number;
  flushIntervalMs?: number;
  /** Unacknowledged messages held before intake pauses (back-pressure). */
  maxPendingMessages?: number;
  /** Called when a batch has committed, just before its messages are acknowledged to the broker. */
  onCommitted?: (batch: { rows: number; inserted: number; messages: number }) => void;
}

export interface IngestCounters {
  messages: number;
  invalidMessages: number;
  unknownTagSamples: number;
  rowsWritten: number;
  duplicateRows: number;
  batches: number;
  failedBatches: number;
}

interface PendingMessage {
  generation: number;
  messageId: number | undefined;
  puback?: Packet;
}

type SendPacket = (packet: Packet, cb?: (error?: Error) => void, cbStorePut?: () => void, noStore?: boolean) => void;

export class TelemetryIngest {
  readonly counters: IngestCounters = { messages: 0, invalidMessages: 0, unknownTagSamples: 0, rowsWritten: 0, duplicateRows: 0, batches: 0, failedBatches: 0 };
  private client: MqttClient | undefined;
  private rows: TelemetryRow[] = [];
  private pending: PendingMessage[] = [];
  private waitingIntake: Array<() => void> = [];
  private flushTimer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;
  private generation = 0;
  private messagesInWrite = 0;
  private readonly reportedUnknownTags = new Set<string>();
  /** Connectors' probes for the shared group: acknowledged and otherwise ignored. */
  private readonly probeTopics: ReadonlySet<string>;
  private readonly maxBatchRows: number;
  private readonly flushIntervalMs: number;
  private readonly maxPendingMessages: number;

  constructor(private readonly options: IngestOptions) {
    this.maxBatchRows = options.maxBatchRows ?? 5000;
    this.flushIntervalMs = options.flushIntervalMs ?? 100;
    this.maxPendingMessages = options.maxPendingMessages ?? 1000;
    this.probeTopics = new Set([...options.tagIds.keys()].map((site) => topics.ingestProbe(site)));
  }

  /** Messages taken from the broker and not yet acknowledged: bounded by twice maxPendingMessages (one batch writing, one filling). */
  get unacknowledged(): number {
    return this.pending.length + this.messagesInWrite;
  }

  /** The telemetry of the sites this ingest has registered, shared with the other workers of its group. */
  get subscription(): string[] {
    return [...this.options.tagIds.keys()].map((site) => this.subscriptionFor(site));
  }

  private get shared(): boolean {
    return this.options.protocolVersion === 5 && this.options.sharedGroup !== undefined;
  }

  private subscriptionFor(site: string): string {
    const topic = topics.telemetry(site, '+');
    return this.shared ? `$share/${this.options.sharedGroup}/${topic}` : topic;
  }

  async start(): Promise<void> {
    const protocolVersion = this.options.protocolVersion ?? 4;
    const connectOptions: IClientOptions = {
      clientId: this.options.clientId,
      protocolVersion,
      // A persistent session keeps unacknowledged messages at the broker across reconnects.
      clean: false,
      reconnectPeriod: 1000,
      ...(protocolVersion === 5 ? { properties: { sessionExpiryInterval: 3600, receiveMaximum: this.maxPendingMessages } } : {}),
    };
    const client = mqtt.connect(this.options.mqttUrl, connectOptions);
    this.client = client;
    this.deferPubacks(client);
    client.handleMessage = (packet, callback) => this.take(packet, callback);
    client.on('connect', (connack) => {
      this.generation += 1;
      this.options.log.info({ subscription: this.subscription, sessionPresent: connack.sessionPresent }, 'ingest connected to broker');
      if (this.shared) this.joinSharedGroup(client);
      else {
        client.subscribe(this.subscription, { qos: 1 }, (error) => {
          if (error) this.options.log.error({ err: error, subscription: this.subscription }, 'ingest cannot subscribe');
          // No group takes the telemetry: connectors must not wait for one.
          else this.announceGroup(client, undefined);
        });
      }
    });
    client.on('close', () => {
      // Acks owed on a closed connection can never be sent: the broker redelivers those messages.
      this.generation += 1;
    });
    client.on('error', (error) => this.options.log.warn({ err: error }, 'ingest broker connection error'));
    await new Promise<void>((resolve, reject) => {
      client.once('connect', () => resolve());
      client.once('error', reject);
    });
  }

  /**
   * Subscribes on every connection, session present or not: after a broker restart the shared
   * subscription is gone even though the session is back, and a repeated SUBSCRIBE of a live one
   * replaces it without a gap (mqtt.js would skip it as already subscribed unless forced).
   */
  private joinSharedGroup(client: MqttClient): void {
    const filters = [...this.subscription, ...[...this.probeTopics].map((topic) => `$share/${this.options.sharedGroup}/${topic}`)];
    const request = { ...Object.fromEntries(filters.map((filter) => [filter, { qos: 1 }])), resubscribe: true } as ISubscriptionMap;
    client.subscribe(request, (error) => {
      if (error) this.options.log.error({ err: error, subscription: filters }, 'ingest cannot subscribe');
      else this.announceGroup(client, { group: this.options.sharedGroup! });
    });
  }

  /** Retained, so that a connector learns how its site's telemetry is taken even across broker restarts. */
  private announceGroup(client: MqttClient, announcement: IngestGroup | undefined): void {
    const payload = announcement === undefined ? '' : JSON.stringify(announcement);
    for (const site of this.options.tagIds.keys()) {
      client.publish(topics.ingestGroup(site), payload, { qos: 1, retain: true }, (error) => {
        if (error) this.options.log.warn({ err: error, site }, 'ingest group announcement not published; sent again on the next connection');
      });
    }
  }

  /** Commits what is buffered, acknowledges it, and disconnects. */
  async stop(): Promise<void> {
    clearTimeout(this.flushTimer);
    await this.flush();
    await this.client?.endAsync();
    this.client = undefined;
  }

  /** Writes the current batch now; resolves when it has committed (or failed and been kept for retry). */
  async flush(): Promise<void> {
    while (this.flushing) await this.flushing;
    if (this.pending.length === 0) return;
    this.flushing = this.writeBatch().finally(() => {
      this.flushing = undefined;
    });
    await this.flushing;
  }

  private take(packet: IPublishPacket, callback: (error?: Error) => void): void {
    if (this.probeTopics.has(packet.topic)) {
      callback();
      return;
    }
    this.counters.messages += 1;
    this.pending.push({ generation: this.generation, messageId: packet.messageId });
    this.rows.push(...this.parse(packet));
    const full = this.pending.length >= this.maxPendingMessages;
    // mqtt.js answers the message as soon as the callback runs, so run it while the message is
    // still pending: its PUBACK is then held until the batch that takes it commits.
    if (full) this.waitingIntake.push(() => callback());
    else callback();
    if (this.rows.length >= this.maxBatchRows || full) {
      void this.flush();
    } else {
      this.flushTimer ??= setTimeout(() => {
        this.flushTimer = undefined;
        void this.flush();
      }, this.flushIntervalMs);
    }
  }

  private parse(packet: IPublishPacket): TelemetryRow[] {
    let json: unknown;
    try {
      json = JSON.parse(packet.payload.toString('utf8'));
    } catch (error) {
      return this.reject(packet.topic, `not JSON: ${(error as Error).message}`);
    }
    const result = telemetryBatchSchema.safeParse(json);
    if (!result.success) {
      const first = result.error.issues[0];
      return this.reject(packet.topic, `${first?.path.join('.') || 'payload'}: ${first?.message ?? 'invalid'}`);
    }
    const tagIds = this.options.tagIds.get(result.data.site);
    const rows: TelemetryRow[] = [];
    for (const sample of result.data.samples) {
      const tagId = tagIds?.get(sample.tag);
      if (tagId === undefined) {
        this.counters.unknownTagSamples += 1;
        const key = `${result.data.site}/${sample.tag}`;
        if (!this.reportedUnknownTags.has(key)) {
          this.reportedUnknownTags.add(key);
          this.options.log.warn({ topic: packet.topic, site: result.data.site, tag: sample.tag }, 'sample for a tag not in the site registry dropped');
        }
        continue;
      }
      rows.push({ tagId, timeMs: sample.source_ts_ms, value: sample.value, quality: qualityCode[sample.quality] });
    }
    return rows;
  }

  private reject(topic: string, reason: string): TelemetryRow[] {
    this.counters.invalidMessages += 1;
    this.options.log.warn({ topic, reason }, 'invalid telemetry message dropped');
    return [];
  }

  private async writeBatch(): Promise<void> {
    clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    const rows = this.rows;
    const messages = this.pending;
    this.rows = [];
    this.pending = [];
    this.messagesInWrite = messages.length;
    try {
      const inserted = await writeTelemetry(this.options.pool, rows);
      this.counters.batches += 1;
      this.counters.rowsWritten += inserted;
      this.counters.duplicateRows += rows.length - inserted;
      this.options.onCommitted?.({ rows: rows.length, inserted, messages: messages.length });
      this.messagesInWrite = 0;
      this.acknowledge(messages);
    } catch (error) {
      this.messagesInWrite = 0;
      this.counters.failedBatches += 1;
      this.options.log.error({ err: error, rows: rows.length, messages: messages.length }, 'telemetry batch failed; retrying');
      // Keep the batch ahead of newer messages so PUBACKs still go out in order.
      this.rows = rows.concat(this.rows);
      this.pending = messages.concat(this.pending);
      await new Promise((resolve) => setTimeout(resolve, 1000));
      if (this.client !== undefined) this.flushTimer ??= setTimeout(() => {
        this.flushTimer = undefined;
        void this.flush();
      }, 0);
      return;
    }
    const resume = this.waitingIntake;
    this.waitingIntake = [];
    for (const callback of resume) callback();
  }

  private acknowledge(messages: readonly PendingMessage[]): void {
    for (const message of messages) {
      if (message.puback !== undefined && message.generation === this.generation) this.sendPacket?.(message.puback);
    }
  }

  private sendPacket: SendPacket | undefined;

  /** mqtt.js answers just after handing the message over, so the owner is nearly always the newest pending message. */
  private pendingAwaitingPuback(messageId: number | undefined): PendingMessage | undefined {
    for (let index = this.pending.length - 1; index >= 0; index -= 1) {
      const message = this.pending[index]!;
      if (message.messageId === messageId && message.puback === undefined) return message;
    }
    return undefined;
  }

  /** mqtt.js sends a PUBACK as soon as a message is handled; hold it until the message's batch commits. */
  private deferPubacks(client: MqttClient): void {
    const internals = client as unknown as { _sendPacket: SendPacket };
    const send = internals._sendPacket.bind(client);
    this.sendPacket = (packet) => send(packet);
    internals._sendPacket = (packet, cb, cbStorePut, noStore) => {
      if (packet.cmd !== 'puback') return send(packet, cb, cbStorePut, noStore);
      const owner = this.pendingAwaitingPuback(packet.messageId);
      if (owner === undefined) return send(packet, cb, cbStorePut, noStore);
      owner.puback = packet;
      cb?.();
    };
  }
}
