// Settings of a site's connector process: how it publishes and how it buffers while the broker
// is unreachable. Part of the site file (`connector:`), validated with it.
import { z } from 'zod';

const MIB = 1024 * 1024;

export const connectorSettingsSchema = z
  .strictObject({
    /** The connector's id, unique per site: its MQTT client id and state topic name. */
    id: z.string().min(1).max(64).regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/).default('connector-1'),
    /** The store-and-forward buffer that keeps telemetry while the broker is unreachable. */
    buffer: z
      .strictObject({
        /** Buffered message bytes at most; beyond it the oldest messages are dropped (and counted). */
        max_bytes: z.number().int().min(4096).max(64 * 1024 * MIB).default(256 * MIB),
        /** Size of one on-disk segment file; drained segments are deleted whole, so disk use can exceed max_bytes by one segment. */
        segment_bytes: z.number().int().min(1024).max(1024 * MIB).default(16 * MIB),
      })
      .prefault({}),
    publish: z
      .strictObject({
        /** Report by exception: an unchanged tag is republished after this long anyway (0 publishes every sample). */
        max_interval_ms: z.number().int().min(0).max(86_400_000).default(60_000),
        /** Buffered batches sent per second after an outage; must exceed the live batch rate or the backlog never drains. */
        drain_messages_per_second: z.number().int().min(1).max(100_000).default(200),
        /** QoS 1 publications awaiting their PUBACK at once. */
        max_in_flight: z.number().int().min(1).max(65_535).default(100),
      })
      .prefault({}),
  })
  .superRefine((settings, ctx) => {
    if (settings.buffer.segment_bytes > settings.buffer.max_bytes) {
      ctx.addIssue({ code: 'custom', path: ['buffer', 'segment_bytes'], message: 'must not exceed buffer.max_bytes' });
    }
  });
export type ConnectorSettings = z.infer<typeof connectorSettingsSchema>;
