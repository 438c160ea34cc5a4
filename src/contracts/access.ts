// Who may call the API: the roles of people and machines, and the login body.
import { z } from 'zod';
import { identifier } from './primitives.js';

/**
 * operator: the control room (telemetry, anomalies, incidents, complaint intake and verification);
 * dispatcher: the work-order queue and crews; crew: its own crew's orders, from a phone;
 * engineer: reads everything to check configs and simulated plants, changes nothing;
 * admin: everything, and the accounts.
 */
export const roles = ['operator', 'dispatcher', 'crew', 'engineer', 'admin'] as const;
export type Role = (typeof roles)[number];

/** Who a route admits: named roles, anyone, or a complaint channel's webhook token. */
export type Access = readonly Role[] | 'public' | 'webhook';

/** The caller of a request, from its session cookie or API key. */
export interface Principal {
  kind: 'user' | 'api_key';
  /** The username or the key's name: recorded as the actor of every change. */
  name: string;
  role: Role;
  /** The crew a crew member (or a crew's device key) belongs to; null for other roles. */
  crew: string | null;
}

export const usernameSchema = z.string().trim().min(2).max(64).regex(/^[a-z0-9][a-z0-9._-]*$/, 'lower-case letters, digits, dot, underscore and hyphen');
/** Long enough to resist guessing; the limit keeps the hash cost bounded. */
export const passwordSchema = z.string().min(10, 'at least 10 characters').max(256);

export const loginBodySchema = z.strictObject({
  username: usernameSchema,
  password: z.string().min(1).max(256),
});

export const newUserSchema = z
  .strictObject({
    username: usernameSchema,
    display_name: z.string().trim().min(1).max(200).optional(),
    role: z.enum(roles),
    crew: identifier.optional(),
    password: passwordSchema,
  })
  .refine((user) => (user.role === 'crew') === (user.crew !== undefined), { path: ['crew'], message: 'a crew member names its crew, and only a crew member does' });
export type NewUser = z.infer<typeof newUserSchema>;
