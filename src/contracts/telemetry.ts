// MQTT contract between connectors and the service: topic names and the telemetry payload.
// Connectors publish one batch per device and poll cycle; ingest validates it here.
import { z } from 'zod';

export const TOPIC_ROOT = 'tirta/v1';

export const topics = {
  telemetry: (site: string, device: string) => `${TOPIC_ROOT}/${site}/${device}/telemetry`,
  deviceState: (site: string, device: string) => `${TOPIC_ROOT}/${site}/${device}/state`,
  connectorState: (site: string, connector: string) => `${TOPIC_ROOT}/${site}/connectors/${connector}/state`,
  command: (site: string, device: string) => `${TOPIC_ROOT}/${site}/${device}/command`,
  commandResult: (site: string, device: string) => `${TOPIC_ROOT}/${site}/${device}/command/result`,
  /** The engine's anomaly events (opened, updated, closed), QoS 1, after they are stored. */
  anomalies: (site: string) => `${TOPIC_ROOT}/${site}/anomalies`,
  /** The engine's incident events (opened, updated, closed, merged), QoS 1, after they are stored. */
  incidents: (site: string) => `${TOPIC_ROOT}/${site}/incidents`,
  /** A crew's orders: every change of an order assigned to it, QoS 1, from the outbox after commit. */
  crewOrders: (crew: string) => `${TOPIC_ROOT}/crews/${crew}/orders`,
  /** Every change and escalation of the site's work orders, for dashboards, QoS 1, after commit. */
  workOrders: (site: string) => `${TOPIC_ROOT}/${site}/work-orders`,
  /** Every device's telemetry of every site, for subscribers. */
  allTelemetry: `${TOPIC_ROOT}/+/+/telemetry`,
  /** Retained, by ingest: the MQTT 5 shared group that takes the site's telemetry (empty: a plain subscription). */
  ingestGroup: (site: string) => `${TOPIC_ROOT}/${site}/ingest/group`,
  /** Subscribed by the site's shared ingest group and nothing else: a QoS 1 publication here is answered 0x10 "no matching subscribers" while the group has no subscription. */
  ingestProbe: (site: string) => `${TOPIC_ROOT}/${site}/ingest/probe`,
} as const;

export const qualities = ['good', 'uncertain', 'bad'] as const;
export type Quality = (typeof qualities)[number];
/** Compact storage code of each quality. */
export const qualityCode: Record<Quality, number> = { good: 0, uncertain: 1, bad: 2 };
export const qualityFromCode: readonly Quality[] = qualities;

const epochMs = z.number().int().min(0).max(8_640_000_000_000);

export const sampleSchema = z.strictObject({
  tag: z.string().min(1).max(64),
  /** Null when the read failed: a bad sample never repeats the last good value. */
  value: z.number().finite().nullable(),
  quality: z.enum(qualities),
  /** The source's own status code (Modbus exception code, OPC UA StatusCode), when there is one. */
  source_status: z.number().int().optional(),
  /** When the value was true at the source (the PLC's or server's timestamp, else the poll time). */
  source_ts_ms: epochMs,
});
export type Sample = z.infer<typeof sampleSchema>;

export const telemetryBatchSchema = z.strictObject({
  site: z.string().min(1),
  device: z.string().min(1),
  /** Increments by one for each batch a connector publishes for a device; gaps reveal loss. */
  seq: z.number().int().nonnegative(),
  poll_ts_ms: epochMs,
  /** True when the batch was buffered during a broker outage and is delivered late. */
  historical: z.boolean().default(false),
  samples: z.array(sampleSchema).max(100_000),
});
export type TelemetryBatch = z.infer<typeof telemetryBatchSchema>;

/** The retained message on `topics.ingestGroup`. */
export const ingestGroupSchema = z.strictObject({ group: z.string().min(1) });
export type IngestGroup = z.infer<typeof ingestGroupSchema>;

export const stateMessageSchema = z.strictObject({
  state: z.enum(['online', 'offline']),
  ts_ms: epochMs,
  reason: z.string().optional(),
});
export type StateMessage = z.infer<typeof stateMessageSchema>;

/** A command to a device: write `value` to the tag (pump start/stop, valve position, setpoint). */
export const commandSchema = z.strictObject({
  id: z.string().min(1).max(100),
  tag: z.string().min(1).max(64),
  value: z.number().finite(),
});
export type Command = z.infer<typeof commandSchema>;

export const commandResultSchema = z.strictObject({
  id: z.string().nullable(),
  tag: z.string().nullable(),
  ok: z.boolean(),
  error: z.string().optional(),
  ts_ms: epochMs,
});
export type CommandResult = z.infer<typeof commandResultSchema>;
