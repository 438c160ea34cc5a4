// Settings of the streaming detectors: one block per site config (`detection:`), every field with a default.
import { z } from 'zod';

export const detectionSettingsSchema = z.strictObject({});
export type DetectionSettings = z.infer<typeof detectionSettingsSchema>;
