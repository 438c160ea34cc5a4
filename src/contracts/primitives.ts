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

/** A NUL character, or a UTF-16 surrogate without its pair: text PostgreSQL cannot store as sent. */
const UNSTORABLE = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/**
 * Free text from outside, trimmed. A text column refuses NUL (and jsonb its escape), and an unpaired
 * surrogate would be stored as U+FFFD (or refused inside jsonb): either is a 400 naming the field.
 */
export const storableText = (minLength: number, maxLength: number) =>
  z
    .string()
    .trim()
    .min(minLength)
    .max(maxLength)
    .refine((text) => !UNSTORABLE.test(text), 'must not contain NUL characters or unpaired UTF-16 surrogates');
