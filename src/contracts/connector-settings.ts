// Settings of a site's connector process: how it publishes and how it buffers while the broker
// is unreachable. Part of the site file (`connector:`), validated with it.
import { z } from 'zod';

export const connectorSettingsSchema = z.strictObject({
  /** The connector's id, unique per site: its MQTT client id and state topic name. */
  id: z.string().min(1).max(64).regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/).default('connector-1'),
});
export type ConnectorSettings = z.infer<typeof connectorSettingsSchema>;
