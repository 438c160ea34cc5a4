// Schemas every config block shares: identifiers and map positions. Apart from site.ts so that
// blocks site.ts imports (customers, dispatch) can use them without an import cycle.
import { z } from 'zod';

export const identifier = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, 'must start with a letter or digit and contain only letters, digits, "_", "." or "-"');

export const latLonSchema = z.strictObject({
  lat: z.number().min(-90).max(90),
  lon: z.number().min(-180).max(180),
});
export type LatLon = z.infer<typeof latLonSchema>;
