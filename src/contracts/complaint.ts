// HTTP contract of complaint intake: the body every channel (call centre, WhatsApp, social media,
// web, walk-in desks, SP4N-LAPOR) posts to /api/v1/complaints.
import { z } from 'zod';
import { latLonSchema } from './site.js';

export const complaintChannels = ['call_center', 'whatsapp', 'social_media', 'web', 'walk_in', 'sp4n_lapor'] as const;
export const complaintCategories = ['no_water', 'low_pressure', 'leak_burst', 'water_quality', 'other'] as const;
export type ComplaintCategory = (typeof complaintCategories)[number];
export type ComplaintChannel = (typeof complaintChannels)[number];

export const complaintLocationSchema = z.union([
  latLonSchema,
  z.strictObject({ address: z.string().trim().min(3).max(500) }),
  z.strictObject({ account: z.string().trim().min(1).max(64) }),
]);
export type ComplaintLocation = z.infer<typeof complaintLocationSchema>;

export const complaintBodySchema = z.strictObject({
  channel: z.enum(complaintChannels),
  category: z.enum(complaintCategories),
  location: complaintLocationSchema,
  text: z.string().trim().min(1).max(5000),
  contact: z.string().trim().min(1).max(200).optional(),
  external_id: z.string().trim().min(1).max(200).optional(),
  /** ISO 8601 with a zone offset; defaults to the time the service receives the complaint. */
  reported_at: z.iso.datetime({ offset: true }).optional(),
});
export type ComplaintBody = z.infer<typeof complaintBodySchema>;
