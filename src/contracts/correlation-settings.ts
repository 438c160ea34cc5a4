// Settings of correlation, incidents, priority and work-order opening (`correlation:` in the site config), every field with a default.
import { z } from 'zod';

export const correlationSettingsSchema = z.strictObject({});
export type CorrelationSettings = z.infer<typeof correlationSettingsSchema>;
