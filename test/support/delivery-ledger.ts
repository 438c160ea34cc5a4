// What the system was handed and what it kept, for tests that prove nothing is lost and nothing
// doubled: a persistent MQTT observer records every telemetry batch the connectors publish (by
// device and seq) and every message sent to crews' phones; the database is then compared with it.
import mqtt from 'mqtt';
import type pg from 'pg';
import { topics } from '../../src/contracts/telemetry.js';

interface CrewMessage {
  topic: string;
  action: string;
  order: { id: string; version: number; status: string };
}

export class DeliveryLedger {
  /** Every seq seen, per `site/device`. */
  private readonly seqs = new Map<string, Set<number>>();
  /** Every sample seen, as `site/tag@source_ts_ms`. */
  readonly sampleKeys = new Set<string>();
  /** Telemetry messages received, repeats included. */
  deliveries = 0;
  /** Telemetry messages received again with a seq already seen (QoS 1 redelivery, or resent after a crash). */
  redeliveries = 0;
  readonly crewMessages: CrewMessage[] = [];
  /** When the newest batch of each `site/device` arrived. */
  readonly lastBatchAt = new Map<string, number>();

  private constructor(private readonly client: mqtt.MqttClient) {
    client.on('message', (topic, payload) => {
      const message = JSON.parse(payload.toString());
      if (topic.endsWith('/telemetry')) this.recordBatch(message);
      else if (message.type === 'work_order') this.crewMessages.push({ topic, action: message.action, order: message.order });
    });
  }

  /**
   * Subscribes, with a session that outlives the observer's disconnections and the broker's
   * restarts, to the telemetry of the sites and to every crew's orders.
   */
  static async open(brokerUrl: string, siteIds: string[], clientId: string): Promise<DeliveryLedger> {
    const client = await mqtt.connectAsync(brokerUrl, { clientId, clean: false, protocolVersion: 5, properties: { sessionExpiryInterval: 3600 }, reconnectPeriod: 250 });
    const ledger = new DeliveryLedger(client);
    await client.subscribeAsync([...siteIds.map((site) => topics.telemetry(site, '+')), topics.crewOrders('+')], { qos: 1 });
    return ledger;
  }

  private recordBatch(batch: { site: string; device: string; seq: number; samples: Array<{ tag: string; source_ts_ms: number }> }): void {
    this.deliveries += 1;
    const device = `${batch.site}/${batch.device}`;
    const seen = this.seqs.get(device) ?? new Set<number>();
    this.seqs.set(device, seen);
    this.lastBatchAt.set(device, Date.now());
    if (seen.has(batch.seq)) this.redeliveries += 1;
    seen.add(batch.seq);
    for (const sample of batch.samples) this.sampleKeys.add(`${batch.site}/${sample.tag}@${sample.source_ts_ms}`);
  }

  /** Distinct batches seen. */
  get batches(): number {
    let count = 0;
    for (const seen of this.seqs.values()) count += seen.size;
    return count;
  }

  /** Per device, the seqs missing between the first and the last seen: batches lost on the way. */
  seqGaps(): Record<string, number[]> {
    const gaps: Record<string, number[]> = {};
    for (const [device, seen] of this.seqs) {
      const sorted = [...seen].sort((a, b) => a - b);
      const missing: number[] = [];
      for (let seq = sorted[0]!; seq <= sorted.at(-1)!; seq += 1) if (!seen.has(seq)) missing.push(seq);
      if (missing.length > 0) gaps[device] = missing;
    }
    return gaps;
  }

  async close(): Promise<void> {
    await this.client.endAsync(true);
  }
}

/** Every stored telemetry row of the sites, as `site/tag@source_ts_ms`, with the count of rows. */
export async function storedSampleKeys(db: pg.Pool | pg.PoolClient, siteIds: string[]): Promise<{ keys: Set<string>; rows: number }> {
  const { rows } = await db.query<{ key: string }>(
    `SELECT tag.site_id || '/' || tag.key || '@' || floor(extract(epoch FROM t.time) * 1000)::bigint AS key
     FROM telemetry t JOIN tag ON tag.id = t.tag_id WHERE tag.site_id = ANY($1)`,
    [siteIds],
  );
  return { keys: new Set(rows.map((row) => row.key)), rows: rows.length };
}

/** Samples seen on the broker but not stored, and rows stored that no connector published. */
export function compareSamples(published: Set<string>, stored: Set<string>): { missing: string[]; unexpected: string[] } {
  return { missing: [...published].filter((key) => !stored.has(key)), unexpected: [...stored].filter((key) => !published.has(key)) };
}
