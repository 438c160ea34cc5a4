// Publishes connector output to MQTT: one telemetry batch per device and poll cycle (QoS 1),
// retained device states, and the connector's own retained birth message with a last-will death
// message that the broker sends if the connector dies.
//
// Data flow: reading -> report by exception (drops samples that say nothing new) -> batch
// numbered per device -> store-and-forward buffer -> broker. Every batch is appended to the
// buffer first and removed only after its PUBACK, so a batch never lives only in a socket: an
// outage, a broker restart or a restart of this process (with the disk buffer) loses nothing
// short of the buffer's size limit. Order is kept: batches are sent from the oldest end only.
//
// - seq counts published batches: a reading whose samples were all filtered out is not sent and
//   takes no number, so a gap in seq always means a lost batch. With the disk buffer the next
//   seq per device survives a restart (`sequence.json`, written each second and on close); only
//   after a crash may the last second's numbers be used again (ingest de-duplicates on tag and time).
// - historical: a batch is flagged when it was buffered because the broker was unreachable, when
//   it queued behind such a backlog, or when it was recovered from an earlier process. The few
//   batches already in flight when the link dropped are resent by mqtt.js as they were (live).
// - Draining: historical batches go out at most drain_messages_per_second; live batches queue
//   behind them. At most max_in_flight publications await their PUBACK at once.
// - The connection has one owner, mqtt.js: it reconnects, and resends what was in flight when the
//   link dropped. This class only reacts to its events ('connect' starts sending, a dropped link
//   stops it) and never opens or closes the connection except in close().
// - MQTT 5 when the broker speaks it, else 3.1.1 (the embedded broker). Over MQTT 5 the ingest
//   gate (ingest-gate.ts) keeps telemetry buffered after a connection while the site's shared
//   ingest group is missing at the broker; then what was in flight when the link dropped is
//   taken back from mqtt.js and sent again from the buffer once the group is back, not resent
//   by mqtt.js on reconnection into the gap.
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import mqtt, { type MqttClient, type Packet } from 'mqtt';
import type { ConnectorSettings } from '../../src/contracts/connector-settings.js';
import type { SiteConfig } from '../../src/contracts/site.js';
import { topics, type StateMessage, type TelemetryBatch } from '../../src/contracts/telemetry.js';
import type { Logger } from '../../src/log.js';
import type { Clock, DeviceReading, TelemetrySink } from '../connector.js';
import type { ConnectorMetrics } from '../metrics.js';
import { IngestGate } from './ingest-gate.js';
import { ReportByException } from './report-by-exception.js';
import { DiskMessageBuffer, MemoryMessageBuffer, type BufferEntry, type MessageBuffer } from './store-and-forward.js';

export interface MqttPublisherOptions {
  url: string;
  site: SiteConfig;
  connectorId: string;
  log: Logger;
  metrics: ConnectorMetrics;
  clock?: Clock;
  /** Directory of the on-disk buffer; absent, the buffer is in memory and lost with the process. */
  bufferDir?: string;
  settings: ConnectorSettings;
  /** How long close() keeps draining to a reachable broker before leaving the rest buffered. */
  closeFlushTimeoutMs?: number;
}

interface InFlight {
  id: number;
  device: string;
  historical: boolean;
  state: 'sent' | 'acked' | 'failed';
  /** The callback given to mqtt.js, by which its pending publication is found again. */
  callback: (error: Error | null | undefined, packet?: Packet) => void;
}

type PublishCallback = InFlight['callback'];

/** A broker that speaks only MQTT 3.1.1 refuses an MQTT 5 CONNECT with one of these codes. */
const UNSUPPORTED_PROTOCOL_CODES: ReadonlySet<number> = new Set([0x01, 0x84]);

export class MqttPublisher implements TelemetrySink {
  private readonly client: MqttClient;
  private readonly ingestGate: IngestGate;
  private readonly clock: Clock;
  private readonly siteId: string;
  private readonly buffer: MessageBuffer;
  private readonly exceptions: ReportByException;
  private readonly sequences: SequenceNumbers;
  private readonly drainLimiter: RateLimiter;
  private readonly maxInFlight: number;
  /** Entries with ids up to this were left by an earlier process: all of them are historical. */
  private readonly recoveredThroughId: number;
  /** In id order; an entry is removed from the buffer once it and every older one are acknowledged. */
  private inFlight: InFlight[] = [];
  /** The newest entry handed to mqtt.js; sending resumes after it. */
  private lastSentId = 0;
  /** True from a batch buffered while the broker is unreachable until the backlog has been handed on. */
  private draining: boolean;
  private pumpTimer: NodeJS.Timeout | undefined;
  /** Device states not yet handed to a connected client: the latest per device. */
  private readonly pendingStates = new Map<string, StateMessage>();
  private acknowledged = 0;
  private connectionErrorReported = false;
  private closing: Promise<void> | undefined;
  /** No more sending (close() has begun); acknowledgements still remove entries until the buffer closes. */
  private stopped = false;
  private bufferClosed = false;
  /** The broker refused MQTT 5: reconnect over 3.1.1 when that connection has closed. */
  private reconnectOver311 = false;
  /** True while in-flight telemetry is taken back from mqtt.js: its failures are expected. */
  private withdrawing = false;

  constructor(private readonly options: MqttPublisherOptions) {
    this.clock = options.clock ?? Date.now;
    this.siteId = options.site.site.id;
    const { buffer: bufferSettings, publish } = options.settings;
    const log = options.log.child({ component: 'store-and-forward' });
    this.buffer =
      options.bufferDir === undefined
        ? new MemoryMessageBuffer({ maxBytes: bufferSettings.max_bytes, log, metrics: options.metrics })
        : DiskMessageBuffer.open(options.bufferDir, { maxBytes: bufferSettings.max_bytes, segmentBytes: bufferSettings.segment_bytes, log, metrics: options.metrics });
    this.recoveredThroughId = this.buffer.lastId;
    this.draining = this.buffer.depth > 0;
    this.sequences = new SequenceNumbers(options.bufferDir === undefined ? undefined : path.join(options.bufferDir, 'sequence.json'), this.buffer, options.log);
    this.exceptions = ReportByException.forTags(options.site.tags, publish.max_interval_ms);
    this.drainLimiter = new RateLimiter(publish.drain_messages_per_second);
    this.maxInFlight = publish.max_in_flight;

    const stateTopic = topics.connectorState(this.siteId, options.connectorId);
    this.client = mqtt.connect(options.url, {
      clientId: `tirta-connector-${this.siteId}-${options.connectorId}`,
      protocolVersion: 5,
      clean: false,
      properties: { sessionExpiryInterval: 3600 },
      reconnectPeriod: 1000,
      will: { topic: stateTopic, payload: Buffer.from(JSON.stringify(this.state('offline', 'connection lost'))), qos: 1, retain: true },
    });
    this.ingestGate = new IngestGate(this.client, { siteId: this.siteId, log: options.log, onOpen: () => this.pump() });
    this.client.on('connect', () => {
      this.connectionErrorReported = false;
      options.log.info({ url: redactUrl(options.url), buffered: this.buffer.depth, protocolVersion: this.client.options.protocolVersion }, 'connector connected to broker');
      this.client.publish(stateTopic, JSON.stringify(this.state('online')), { qos: 1, retain: true });
      this.publishStates();
      this.ingestGate.connected();
    });
    this.client.on('close', () => {
      this.ingestGate.disconnected();
      if (this.ingestGate.groupAnnounced) this.withdrawInFlight();
      // Once the refused connection has closed: sooner, mqtt.js would also schedule a reconnection of its own.
      if (this.reconnectOver311) {
        this.reconnectOver311 = false;
        this.client.reconnect();
      }
    });
    this.client.on('error', (error: Error & { code?: number }) => {
      if (this.client.options.protocolVersion === 5 && error.code !== undefined && UNSUPPORTED_PROTOCOL_CODES.has(error.code)) {
        options.log.info({ url: redactUrl(options.url) }, 'broker speaks MQTT 3.1.1 only: publishing over 3.1.1, without the ingest group check');
        this.client.options.protocolVersion = 4;
        delete this.client.options.properties;
        this.reconnectOver311 = true;
        return;
      }
      // Refused reconnects repeat every second during an outage: warn once per outage.
      if (this.connectionErrorReported) options.log.debug({ err: error }, 'broker connection error');
      else options.log.warn({ err: error }, 'broker connection error');
      this.connectionErrorReported = true;
    });
    this.client.on('offline', () => options.log.warn({ buffered: this.buffer.depth }, 'broker unreachable; buffering telemetry until it is back'));
  }

  /** Batches the broker has acknowledged so far. */
  get publishedBatches(): number {
    return this.acknowledged;
  }

  /** Batches waiting in the store-and-forward buffer, in flight included. */
  get bufferedBatches(): number {
    return this.buffer.depth;
  }

  deliver(reading: DeviceReading): void {
    if (this.stopped) {
      this.options.log.warn({ device: reading.device }, 'reading delivered after the publisher closed; not published');
      return;
    }
    const samples = this.exceptions.filter(reading.samples, reading.pollTsMs);
    if (samples.length === 0) return;
    if (!this.client.connected) this.draining = true;
    const batch: TelemetryBatch = {
      site: this.siteId,
      device: reading.device,
      seq: this.sequences.take(reading.device),
      poll_ts_ms: reading.pollTsMs,
      historical: this.draining,
      samples,
    };
    try {
      this.buffer.append(JSON.stringify(batch));
    } catch (error) {
      this.options.metrics.bufferDroppedMessages(1);
      this.options.log.error({ err: error, device: reading.device, seq: batch.seq }, 'telemetry batch not buffered; it is lost');
      return;
    }
    this.pump();
  }

  deviceState(device: string, state: 'online' | 'offline', reason?: string): void {
    // Retained: only the latest state of a device matters, so one waits per device while offline.
    this.pendingStates.set(device, this.state(state, reason));
    if (this.client.connected) this.publishStates();
  }

  /**
   * Sends what it can within closeFlushTimeoutMs while the broker is reachable, announces a clean
   * shutdown, disconnects, and leaves the rest in the buffer (on disk, for the next start).
   */
  close(): Promise<void> {
    this.closing ??= this.shutDown();
    return this.closing;
  }

  private async shutDown(): Promise<void> {
    const deadline = Date.now() + (this.options.closeFlushTimeoutMs ?? 5000);
    while (this.client.connected && this.buffer.depth > 0 && Date.now() < deadline) await sleep(20);
    this.stopped = true;
    clearTimeout(this.pumpTimer);
    this.ingestGate.stop();
    let stateAcknowledged = false;
    if (this.client.connected) {
      const stateTopic = topics.connectorState(this.siteId, this.options.connectorId);
      const published = this.client.publishAsync(stateTopic, JSON.stringify(this.state('offline', 'stopped')), { qos: 1, retain: true }).then(() => true, () => false);
      stateAcknowledged = await Promise.race([published, sleep(2000).then(() => false)]);
    }
    const settled = this.inFlight.every((entry) => entry.state !== 'sent');
    // A graceful DISCONNECT makes the broker discard the last will; it waits for in-flight
    // messages, so it is only used when none is left unanswered.
    await this.client.endAsync(!(stateAcknowledged && settled));
    if (this.buffer.depth > 0) {
      this.options.log.warn({ buffered: this.buffer.depth, durable: this.options.bufferDir !== undefined }, 'publisher closed with telemetry still buffered');
    }
    this.sequences.save();
    this.sequences.stop();
    this.bufferClosed = true;
    this.buffer.close();
  }

  /** Hands buffered batches to mqtt.js, oldest first, within the in-flight and drain limits. */
  private pump(): void {
    if (this.stopped || !this.client.connected || !this.ingestGate.open || this.pumpTimer !== undefined) return;
    while (this.inFlight.length < this.maxInFlight) {
      const entries = this.buffer.peek(Math.min(64, this.maxInFlight - this.inFlight.length), this.lastSentId);
      if (entries.length === 0) {
        this.draining = false;
        return;
      }
      for (const entry of entries) {
        const outgoing = this.prepare(entry);
        if (outgoing.historical) {
          const waitMs = this.drainLimiter.take(performance.now());
          if (waitMs > 0) {
            this.schedulePump(waitMs);
            return;
          }
        }
        this.send(entry.id, outgoing);
        if (!this.client.connected || !this.ingestGate.open) return;
      }
    }
  }

  private prepare(entry: BufferEntry): { device: string; historical: boolean; payload: Buffer | string } {
    const batch = JSON.parse(entry.message.toString('utf8')) as TelemetryBatch;
    if (entry.id <= this.recoveredThroughId && !batch.historical) {
      return { device: batch.device, historical: true, payload: JSON.stringify({ ...batch, historical: true }) };
    }
    return { device: batch.device, historical: batch.historical, payload: entry.message };
  }

  private send(id: number, outgoing: { device: string; historical: boolean; payload: Buffer | string }): void {
    const callback: PublishCallback = (error, packet) => this.settled(id, error, packet);
    this.inFlight.push({ id, device: outgoing.device, historical: outgoing.historical, state: 'sent', callback });
    this.lastSentId = id;
    this.client.publish(topics.telemetry(this.siteId, outgoing.device), outgoing.payload, { qos: 1 }, callback);
  }

  /**
   * Takes the telemetry still awaiting its PUBACK out of mqtt.js, which would otherwise resend it
   * as soon as it reconnects, before the ingest group can be back; settled() then queues it again.
   */
  private withdrawInFlight(): void {
    const awaiting = new Set<PublishCallback>(this.inFlight.filter((entry) => entry.state === 'sent').map((entry) => entry.callback));
    for (const [messageId, pending] of Object.entries(this.client.outgoing)) {
      if (pending.cmd !== 'publish' || !awaiting.has(pending.cb as PublishCallback)) continue;
      this.withdrawing = true;
      this.client.removeOutgoingMessage(Number(messageId));
      this.withdrawing = false;
    }
  }

  private settled(id: number, error: Error | null | undefined, packet?: Packet): void {
    const entry = this.inFlight.find((candidate) => candidate.id === id);
    if (entry === undefined) return;
    // mqtt.js answers null, not undefined, on success; a batch that reached nobody while an ingest group should have taken it is kept.
    if (!error && !this.ingestGate.undelivered(packet)) {
      entry.state = 'acked';
      this.acknowledged += 1;
      this.options.metrics.batchPublished(entry.device, entry.historical);
    } else {
      entry.state = 'failed';
      if (!this.stopped && !this.withdrawing) this.options.log.warn({ err: error, device: entry.device }, 'telemetry publication failed; it stays buffered and is sent again');
    }
    let acknowledgedThrough = 0;
    while (this.inFlight[0]?.state === 'acked') acknowledgedThrough = this.inFlight.shift()!.id;
    if (this.bufferClosed) return;
    if (acknowledgedThrough > 0) this.buffer.remove(acknowledgedThrough);
    if (this.stopped) return;
    const first = this.inFlight[0];
    if (first !== undefined && this.inFlight.every((candidate) => candidate.state !== 'sent')) {
      // Everything from the first failure on is sent again, in order (a few may arrive twice).
      this.lastSentId = first.id - 1;
      this.inFlight = [];
    }
    this.schedulePump(0);
  }

  private schedulePump(delayMs: number): void {
    if (this.pumpTimer !== undefined || this.stopped) return;
    this.pumpTimer = setTimeout(() => {
      this.pumpTimer = undefined;
      this.pump();
    }, delayMs);
  }

  private publishStates(): void {
    for (const [device, message] of this.pendingStates) {
      this.client.publish(topics.deviceState(this.siteId, device), JSON.stringify(message), { qos: 1, retain: true });
    }
    this.pendingStates.clear();
  }

  private state(state: StateMessage['state'], reason?: string): StateMessage {
    return reason === undefined ? { state, ts_ms: this.clock() } : { state, ts_ms: this.clock(), reason };
  }
}

/**
 * The next seq per device. With a directory it survives restarts: the file is rewritten each
 * second while numbers are taken and on close, and on start the buffered batches are read too,
 * so numbers already given to batches still waiting are never reused.
 */
class SequenceNumbers {
  private readonly next = new Map<string, number>();
  private changed = false;
  private readonly timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly file: string | undefined,
    buffer: MessageBuffer,
    private readonly log: Logger,
  ) {
    if (file === undefined) return;
    try {
      const saved = JSON.parse(readFileSync(file, 'utf8')) as Record<string, number>;
      for (const [device, seq] of Object.entries(saved)) if (Number.isInteger(seq) && seq >= 0) this.next.set(device, seq);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') log.warn({ err: error, file }, 'sequence numbers unreadable; continuing from the buffered batches');
    }
    for (let after = 0, entries = buffer.peek(1000); entries.length > 0; entries = buffer.peek(1000, after)) {
      for (const entry of entries) {
        const { device, seq } = JSON.parse(entry.message.toString('utf8')) as Pick<TelemetryBatch, 'device' | 'seq'>;
        if (seq + 1 > (this.next.get(device) ?? 0)) this.next.set(device, seq + 1);
        after = entry.id;
      }
    }
    this.timer = setInterval(() => this.save(), 1000);
    this.timer.unref();
  }

  take(device: string): number {
    const seq = this.next.get(device) ?? 0;
    this.next.set(device, seq + 1);
    this.changed = true;
    return seq;
  }

  save(): void {
    if (this.file === undefined || !this.changed) return;
    try {
      writeFileSync(`${this.file}.tmp`, JSON.stringify(Object.fromEntries(this.next)));
      renameSync(`${this.file}.tmp`, this.file);
      this.changed = false;
    } catch (error) {
      this.log.warn({ err: error, file: this.file }, 'cannot save sequence numbers; retrying in a second');
    }
  }

  stop(): void {
    clearInterval(this.timer);
  }
}

/** Token bucket for the drain rate; holds 50 ms worth of sends so timers need not fire every message. */
export class RateLimiter {
  private tokens: number;
  private lastMs: number | undefined;
  private readonly capacity: number;

  constructor(private readonly perSecond: number) {
    this.capacity = Math.max(1, perSecond / 20);
    this.tokens = this.capacity;
  }

  /** Takes one send at nowMs: 0 when allowed, else how long to wait before asking again. */
  take(nowMs: number): number {
    if (this.lastMs !== undefined) this.tokens = Math.min(this.capacity, this.tokens + ((nowMs - this.lastMs) * this.perSecond) / 1000);
    this.lastMs = nowMs;
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return 0;
    }
    return Math.max(10, Math.ceil(((1 - this.tokens) * 1000) / this.perSecond));
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '[unparseable url]';
  }
}
