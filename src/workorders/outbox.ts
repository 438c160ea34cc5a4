// The transactional outbox: a change writes the MQTT messages that announce it into `outbox` in
// its own transaction, so a message exists only if the change committed. The relay publishes
// committed messages in id order at QoS 1 and marks them published after the broker's PUBACK:
// at least once, never before the commit. One relay publishes at a time (an advisory lock), so
// order holds with several engine processes.
import type { MqttClient } from 'mqtt';
import type pg from 'pg';
import type { Logger } from '../log.js';
import { PollingLoop } from '../polling-loop.js';

const RELAY_LOCK_KEY = 0x7469_7274; // "tirt"
const BATCH_SIZE = 100;

export async function enqueueMessage(client: pg.PoolClient, topic: string, payload: unknown): Promise<void> {
  await client.query('INSERT INTO outbox (topic, payload) VALUES ($1, $2)', [topic, JSON.stringify(payload)]);
}

export interface OutboxRelayOptions {
  pool: pg.Pool;
  mqtt: MqttClient;
  log: Logger;
  pollIntervalMs?: number;
}

export class OutboxRelay {
  readonly counters = { published: 0, failures: 0 };
  private readonly loop: PollingLoop;
  private stopped = false;

  constructor(private readonly options: OutboxRelayOptions) {
    this.loop = new PollingLoop(() => this.drain(), {
      intervalMs: options.pollIntervalMs ?? 250,
      onError: (error) => {
        this.counters.failures += 1;
        options.log.warn({ err: error }, 'outbox relay cannot publish; retrying');
      },
    });
  }

  start(): void {
    this.stopped = false;
    this.loop.start();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop.stop();
  }

  /** Publishes every committed message not yet published; returns how many. */
  async drain(): Promise<number> {
    let total = 0;
    for (;;) {
      const published = await this.publishBatch();
      total += published;
      if (published < BATCH_SIZE || this.stopped) return total;
    }
  }

  private async publishBatch(): Promise<number> {
    // Offline, mqtt.js would queue the messages in memory and hold this transaction open; the
    // messages wait in the table instead (the client logs its own connection failures).
    if (!this.options.mqtt.connected) return 0;
    const client = await this.options.pool.connect();
    try {
      await client.query('BEGIN');
      const lock = await client.query<{ locked: boolean }>('SELECT pg_try_advisory_xact_lock($1) AS locked', [RELAY_LOCK_KEY]);
      if (!lock.rows[0]!.locked) {
        await client.query('ROLLBACK');
        return 0;
      }
      const { rows } = await client.query<{ id: string; topic: string; payload: unknown }>(
        'SELECT id, topic, payload FROM outbox WHERE published_at IS NULL ORDER BY id LIMIT $1',
        [BATCH_SIZE],
      );
      for (const row of rows) await this.options.mqtt.publishAsync(row.topic, JSON.stringify(row.payload), { qos: 1 });
      if (rows.length > 0) await client.query('UPDATE outbox SET published_at = now() WHERE id = ANY($1::bigint[])', [rows.map((row) => row.id)]);
      await client.query('COMMIT');
      this.counters.published += rows.length;
      return rows.length;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  }
}
