// Publishes connector output to MQTT: one telemetry batch per device and poll cycle (QoS 1,
// numbered per device so gaps show), retained device states, and the connector's own retained
// birth message with a last-will death message that the broker sends if the connector dies.
import mqtt, { type MqttClient } from 'mqtt';
import { topics, type StateMessage, type TelemetryBatch } from '../../src/contracts/telemetry.js';
import type { Logger } from '../../src/log.js';
import type { Clock, DeviceReading, TelemetrySink } from '../connector.js';

export interface MqttPublisherOptions {
  url: string;
  site: string;
  connectorId: string;
  log: Logger;
  clock?: Clock;
}

export class MqttPublisher implements TelemetrySink {
  private readonly client: MqttClient;
  private readonly sequence = new Map<string, number>();
  private readonly clock: Clock;
  private published = 0;

  constructor(private readonly options: MqttPublisherOptions) {
    this.clock = options.clock ?? Date.now;
    const stateTopic = topics.connectorState(options.site, options.connectorId);
    this.client = mqtt.connect(options.url, {
      clientId: `tirta-connector-${options.site}-${options.connectorId}`,
      clean: false,
      reconnectPeriod: 1000,
      will: { topic: stateTopic, payload: Buffer.from(JSON.stringify(this.state('offline', 'connection lost'))), qos: 1, retain: true },
    });
    this.client.on('connect', () => {
      options.log.info({ url: redactUrl(options.url) }, 'connector connected to broker');
      this.client.publish(stateTopic, JSON.stringify(this.state('online')), { qos: 1, retain: true });
    });
    this.client.on('error', (error) => options.log.warn({ err: error }, 'broker connection error'));
    this.client.on('offline', () => options.log.warn('broker unreachable; publishing resumes on reconnect'));
  }

  /** Batches handed to the client so far. */
  get publishedBatches(): number {
    return this.published;
  }

  deliver(reading: DeviceReading): void {
    const seq = this.sequence.get(reading.device) ?? 0;
    this.sequence.set(reading.device, seq + 1);
    const batch: TelemetryBatch = {
      site: this.options.site,
      device: reading.device,
      seq,
      poll_ts_ms: reading.pollTsMs,
      historical: false,
      samples: reading.samples,
    };
    this.published += 1;
    this.client.publish(topics.telemetry(this.options.site, reading.device), JSON.stringify(batch), { qos: 1 });
  }

  deviceState(device: string, state: 'online' | 'offline', reason?: string): void {
    this.client.publish(topics.deviceState(this.options.site, device), JSON.stringify(this.state(state, reason)), { qos: 1, retain: true });
  }

  /** Announces a clean shutdown, waits for in-flight QoS 1 messages, then disconnects. */
  async close(): Promise<void> {
    const stateTopic = topics.connectorState(this.options.site, this.options.connectorId);
    if (this.client.connected) {
      await this.client.publishAsync(stateTopic, JSON.stringify(this.state('offline', 'stopped')), { qos: 1, retain: true }).catch(() => undefined);
    }
    await this.client.endAsync(!this.client.connected);
  }

  private state(state: StateMessage['state'], reason?: string): StateMessage {
    return reason === undefined ? { state, ts_ms: this.clock() } : { state, ts_ms: this.clock(), reason };
  }
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
