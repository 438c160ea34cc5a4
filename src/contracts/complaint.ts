// HTTP contract of complaint intake: the body every channel (call centre, WhatsApp, social media,
// web, walk-in desks, SP4N-LAPOR) posts to /api/v1/complaints.
import { z } from 'zod';
import { storableText } from './primitives.js';
import { latLonSchema } from './site.js';

export const complaintChannels = ['call_center', 'whatsapp', 'social_media', 'web', 'walk_in', 'sp4n_lapor'] as const;
export const complaintCategories = ['no_water', 'low_pressure', 'leak_burst', 'water_quality', 'other'] as const;
export type ComplaintCategory = (typeof complaintCategories)[number];
export type ComplaintChannel = (typeof complaintChannels)[number];

export const complaintLocationSchema = z.union(
  [
    latLonSchema,
    z.strictObject({ address: storableText(3, 500) }),
    z.strictObject({ account: storableText(1, 64) }),
  ],
  { error: 'must be { lat, lon }, { address } or { account }' },
);
export type ComplaintLocation = z.infer<typeof complaintLocationSchema>;

export const complaintBodySchema = z.strictObject({
  channel: z.enum(complaintChannels),
  category: z.enum(complaintCategories),
  location: complaintLocationSchema,
  text: storableText(1, 5000),
  contact: storableText(1, 200).optional(),
  external_id: storableText(1, 200).optional(),
  /** ISO 8601 with a zone offset; defaults to the time the service receives the complaint. */
  reported_at: z.iso.datetime({ offset: true }).optional(),
});
export type ComplaintBody = z.infer<typeof complaintBodySchema>;

/** Complaints per bulk import request: bounds the request's transaction and its body. */
export const MAX_BULK_COMPLAINTS = 1000;

export const complaintBulkSchema = z.array(complaintBodySchema).min(1).max(MAX_BULK_COMPLAINTS);

export const complaintVerifications = ['pending', 'verified_by_telemetry', 'verified_by_operator', 'rejected'] as const;
export type ComplaintVerificationState = (typeof complaintVerifications)[number];

export const locationStatuses = ['in_zone', 'outside_zones', 'unresolved'] as const;
export type LocationStatus = (typeof locationStatuses)[number];

/** An operator's verification or rejection of a complaint; the operator is the caller. */
export const complaintDecisionBodySchema = z.strictObject({
  note: storableText(1, 2000).optional(),
});
export type ComplaintDecisionBody = z.infer<typeof complaintDecisionBodySchema>;

/** A complaint delivered by a channel's webhook: the channel is the token's, and the message id makes redelivery harmless. */
export const complaintWebhookBodySchema = complaintBodySchema.omit({ channel: true }).extend({ external_id: storableText(1, 200) });
