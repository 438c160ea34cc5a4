// Keeps the last known state of every PLC link and connector, from the retained state messages
// on MQTT, so that operators see which links are down and detection can tell a dead link from
// a hydraulic event. Times are the publishers' event times; an older message never overwrites
// a newer state.
import mqtt, { type MqttClient } from 'mqtt';
import type pg from 'pg';
import { stateMessageSchema, TOPIC_ROOT, type StateMessage } from '../contracts/telemetry.js';
import type { Logger } from '../log.js';

export interface DeviceStateEvent {
  site: string;
  source: 'device' | 'connector';
  id: string;
  message: StateMessage;
}

/** Pure: the state event a topic and payload carry, or the reason they are not one. */
export function parseStateMessage(topic: string, payload: Buffer): DeviceStateEvent | { error: string } {
  const parts = topic.split('/');
  const prefix = TOPIC_ROOT.split('/').length;
  const [site, first, second, third] = parts.slice(prefix);
  let event: Omit<DeviceStateEvent, 'message'>;
  if (site !== undefined && first !== undefined && second === 'state' && third === undefined) event = { site, source: 'device', id: first };
  else if (site !== undefined && first === 'connectors' && second !== undefined && third === 'state') event = { site, source: 'connector', id: second };
  else return { error: `not a state topic: ${topic}` };
  let json: unknown;
  try {
    json = JSON.parse(payload.toString('utf8'));
  } catch {
    return { error: 'payload is not JSON' };
  }
  const result = stateMessageSchema.safeParse(json);
  if (!result.success) return { error: result.error.issues.map((issue) => `${issue.path.join('.') || 'payload'}: ${issue.message}`).join('; ') };
  return { ...event, message: result.data };
}

export async function recordDeviceState(pool: pg.Pool, event: DeviceStateEvent): Promise<boolean> {
  const result = await pool.query(
    `INSERT INTO device_status (site_id, source, id, state, since, reason)
     SELECT $1, $2, $3, $4, $5, $6 WHERE EXISTS (SELECT 1 FROM site WHERE id = $1)
     ON CONFLICT (site_id, source, id) DO UPDATE
       SET state = EXCLUDED.state, since = EXCLUDED.since, reason = EXCLUDED.reason, updated_at = now()
       WHERE device_status.since <= EXCLUDED.since`,
    [event.site, event.source, event.id, event.message.state, new Date(event.message.ts_ms), event.message.reason ?? null],
  );
  return (result.rowCount ?? 0) > 0;
}

export class DeviceStatusTracker {
  private client: MqttClient | undefined;
  private chain: Promise<unknown> = Promise.resolve();
  rejected = 0;

  constructor(private readonly options: { mqttUrl: string; pool: pg.Pool; log: Logger; clientId: string }) {}

  async start(): Promise<void> {
    const client = mqtt.connect(this.options.mqttUrl, { clientId: this.options.clientId, reconnectPeriod: 1000 });
    this.client = client;
    client.on('connect', () => {
      client.subscribe([`${TOPIC_ROOT}/+/+/state`, `${TOPIC_ROOT}/+/connectors/+/state`], { qos: 1 }, (error) => {
        if (error) this.options.log.error({ err: error }, 'engine cannot subscribe to state topics');
      });
    });
    client.on('error', (error) => this.options.log.warn({ err: error }, 'engine broker connection error'));
    client.on('message', (topic, payload) => {
      const event = parseStateMessage(topic, payload);
      if ('error' in event) {
        this.rejected += 1;
        this.options.log.warn({ topic, reason: event.error }, 'invalid state message ignored');
        return;
      }
      // One write at a time keeps each link's states in arrival order.
      this.chain = this.chain
        .then(() => recordDeviceState(this.options.pool, event))
        .then((changed) => {
          if (changed) this.options.log.info({ site: event.site, source: event.source, id: event.id, state: event.message.state, reason: event.message.reason }, 'link state');
        })
        .catch((error: unknown) => this.options.log.error({ err: error, topic }, 'cannot record link state'));
    });
    await new Promise<void>((resolve, reject) => {
      client.once('connect', () => resolve());
      client.once('error', reject);
    });
  }

  async stop(): Promise<void> {
    await this.client?.endAsync();
    await this.chain;
  }
}

export interface DeviceStatusRow {
  device: string;
  protocol: string;
  endpoint: string;
  state: 'online' | 'offline' | 'unknown';
  since: string | null;
  reason: string | null;
}

export async function listDeviceStatus(pool: pg.Pool, siteId: string): Promise<DeviceStatusRow[]> {
  const { rows } = await pool.query(
    `SELECT d.id, d.protocol, d.endpoint, s.state, s.since, s.reason
     FROM device d LEFT JOIN device_status s ON s.site_id = d.site_id AND s.source = 'device' AND s.id = d.id
     WHERE d.site_id = $1 ORDER BY d.id`,
    [siteId],
  );
  return rows.map((row) => ({
    device: row.id,
    protocol: row.protocol,
    endpoint: row.endpoint,
    state: row.state ?? 'unknown',
    since: row.since ? (row.since as Date).toISOString() : null,
    reason: row.reason,
  }));
}
