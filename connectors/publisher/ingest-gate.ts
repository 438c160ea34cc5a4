// Holds a connector's telemetry back while its site's shared ingest group is missing at the broker.
//
// Several ingest processes split a site's stream through an MQTT 5 shared subscription, which
// exists only at the broker. Mosquitto 2.0.11 saves sessions and plain subscriptions in its
// persistence file but not shared ones, so after a broker restart the group has no subscription
// until its members have reconnected and subscribed again; what is published meanwhile never
// reaches the group, and the broker still acknowledges it with reason 0 because the engine's
// plain subscription matches. Shared-mode ingest therefore announces its group (retained on
// `topics.ingestGroup`) and also subscribes, through the group, to a probe topic nothing else
// subscribes to. After every connection the gate publishes a QoS 1 probe: while the group is
// missing the broker answers 0x10 "no matching subscribers", and the gate stays shut (telemetry
// waits in the store-and-forward buffer) and probes again with backoff.
//
// Without an announcement (one ingest with a plain, persisted subscription) or over MQTT 3.1.1
// (no reason codes) the gate opens on connection. It never opens or closes the connection.
import type { ISubscriptionMap, MqttClient, Packet } from 'mqtt';
import { ingestGroupSchema, topics } from '../../src/contracts/telemetry.js';
import type { Logger } from '../../src/log.js';

/** Probes after the first, while the group is missing: doubling up to the maximum. */
export const PROBE_BACKOFF_MS = { first: 100, max: 2000 } as const;

const NO_MATCHING_SUBSCRIBERS = 0x10;

export interface IngestGateOptions {
  siteId: string;
  log: Logger;
  /** Called when the gate opens; the publisher sends what waits. */
  onOpen: () => void;
}

export class IngestGate {
  private isOpen = false;
  /** The shared group the site's ingest announced, if any. */
  private group: string | undefined;
  /** Message ids whose latest PUBACK said "no matching subscribers". */
  private readonly unmatchedIds = new Set<number>();
  private probeTimer: NodeJS.Timeout | undefined;
  private probeDelayMs: number = PROBE_BACKOFF_MS.first;
  private heldSinceMs: number | undefined;
  private stopped = false;
  private readonly groupTopic: string;
  private readonly probeTopic: string;

  constructor(
    private readonly client: MqttClient,
    private readonly options: IngestGateOptions,
  ) {
    this.groupTopic = topics.ingestGroup(options.siteId);
    this.probeTopic = topics.ingestProbe(options.siteId);
    client.on('packetreceive', (packet) => {
      if (packet.cmd !== 'puback' || packet.messageId === undefined) return;
      // mqtt.js treats 0x10 as success and does not pass the PUBACK on: note it by message id.
      if (packet.reasonCode === NO_MATCHING_SUBSCRIBERS) this.unmatchedIds.add(packet.messageId);
      else this.unmatchedIds.delete(packet.messageId);
    });
    client.on('message', (topic, payload) => {
      if (topic === this.groupTopic) this.announced(payload);
    });
  }

  get open(): boolean {
    return this.isOpen;
  }

  /** True when a shared ingest group takes the site's telemetry: a lost connection may have lost the group too. */
  get groupAnnounced(): boolean {
    return this.group !== undefined;
  }

  /** On every (re)connection: learn the announcement, then probe. */
  connected(): void {
    if (this.client.options.protocolVersion !== 5) {
      this.openGate();
      return;
    }
    // The broker sends the retained announcement right after the SUBACK, so it arrives before
    // the probe's PUBACK: the probe's answer is read knowing the announcement.
    this.client.subscribe({ [this.groupTopic]: { qos: 1 }, resubscribe: true } as ISubscriptionMap, (error) => {
      if (error) this.options.log.warn({ err: error, topic: this.groupTopic }, 'cannot subscribe to the ingest group announcement; probing without it');
    });
    this.probe();
  }

  disconnected(): void {
    this.isOpen = false;
    clearTimeout(this.probeTimer);
    this.probeTimer = undefined;
  }

  /**
   * Whether a batch the broker acknowledged reached nobody while a group should take it; then the
   * gate shuts until a probe finds the group again.
   */
  undelivered(packet: Packet | undefined): boolean {
    if (packet?.messageId === undefined || !this.unmatchedIds.delete(packet.messageId) || this.group === undefined) return false;
    if (this.isOpen) {
      this.isOpen = false;
      this.hold();
    }
    return true;
  }

  stop(): void {
    this.stopped = true;
    this.disconnected();
  }

  private probe(): void {
    this.probeTimer = undefined;
    if (this.stopped || !this.client.connected) return;
    this.client.publish(this.probeTopic, '', { qos: 1 }, (error, packet) => {
      // A lost connection answers with an error: the next connection probes again.
      if (error || this.stopped || !this.client.connected) return;
      const missing = packet?.messageId !== undefined && this.unmatchedIds.delete(packet.messageId);
      if (missing && this.group !== undefined) this.hold();
      else this.openGate();
    });
  }

  private hold(): void {
    if (this.heldSinceMs === undefined) {
      this.heldSinceMs = Date.now();
      this.options.log.warn({ group: this.group, probe: this.probeTopic }, 'telemetry held: the ingest group has no subscription at the broker (restarted?); buffering until it subscribes again');
    }
    if (this.probeTimer !== undefined) return;
    this.probeTimer = setTimeout(() => this.probe(), this.probeDelayMs);
    this.probeDelayMs = Math.min(PROBE_BACKOFF_MS.max, this.probeDelayMs * 2);
  }

  private openGate(): void {
    this.probeDelayMs = PROBE_BACKOFF_MS.first;
    if (this.heldSinceMs !== undefined) {
      this.options.log.info({ group: this.group, heldMs: Date.now() - this.heldSinceMs }, 'ingest group subscribed again; sending the held telemetry');
      this.heldSinceMs = undefined;
    }
    this.isOpen = true;
    this.options.onOpen();
  }

  private announced(payload: Buffer): void {
    if (payload.length === 0) {
      this.group = undefined;
      return;
    }
    let json: unknown;
    try {
      json = JSON.parse(payload.toString('utf8'));
    } catch {
      json = undefined;
    }
    const result = ingestGroupSchema.safeParse(json);
    if (result.success) this.group = result.data.group;
    else this.options.log.warn({ topic: this.groupTopic, payload: payload.toString('utf8').slice(0, 200) }, 'ingest group announcement not understood; ignored');
  }
}
