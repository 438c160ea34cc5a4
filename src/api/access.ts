// Who is calling: a person's session cookie or a machine's bearer key (or a complaint channel's
// webhook token), resolved once per request; and each route's check of the caller's role.
import type { NextFunction, Request, Response } from 'express';
import { rateLimit, type RateLimitRequestHandler } from 'express-rate-limit';
import type pg from 'pg';
import { apiKeyPrincipal, sessionPrincipal, webhookTokenChannel } from '../access/accounts.js';
import { tokenPrefixes } from '../access/secrets.js';
import type { Access, Principal } from '../contracts/access.js';

export const SESSION_COOKIE = 'tirta_session';

export interface CallerLocals {
  principal?: Principal;
  /** The channel a webhook token speaks for. */
  webhook?: { name: string; channel: string };
  /** The session token from the cookie, for signing out. */
  sessionToken?: string;
}

export function caller(response: Response): CallerLocals {
  return response.locals as CallerLocals;
}

/** The name recorded as the actor of a change: the signed-in user or the key. */
export function actorName(response: Response): string {
  const principal = caller(response).principal;
  if (principal === undefined) throw new AccessError(401, 'this change needs a signed-in user or an API key');
  return principal.name;
}

export class AccessError extends Error {
  constructor(
    readonly status: 401 | 403,
    message: string,
  ) {
    super(message);
  }
}

function cookie(request: Request, name: string): string | undefined {
  const header = request.headers.cookie;
  if (header === undefined) return undefined;
  for (const part of header.split(';')) {
    const separator = part.indexOf('=');
    if (separator > 0 && part.slice(0, separator).trim() === name) return decodeURIComponent(part.slice(separator + 1).trim());
  }
  return undefined;
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** Resolves the caller; an invalid credential is a 401 at once, no credential is left to each route. */
export function authenticate(pool: pg.Pool, clock: () => number) {
  return (request: Request, response: Response, next: NextFunction) => {
    const resolve = async () => {
      const locals = caller(response);
      const authorization = request.get('authorization');
      if (authorization !== undefined) {
        const match = /^Bearer\s+(\S+)$/i.exec(authorization);
        const token = match?.[1];
        if (token === undefined) throw new AccessError(401, 'the Authorization header must be "Bearer <key>"');
        if (token.startsWith(tokenPrefixes.webhook)) {
          locals.webhook = await webhookTokenChannel(pool, token);
          if (locals.webhook === undefined) throw new AccessError(401, 'unknown or revoked webhook token');
          return;
        }
        locals.principal = await apiKeyPrincipal(pool, token);
        if (locals.principal === undefined) throw new AccessError(401, 'unknown or revoked API key');
        return;
      }
      const sessionToken = cookie(request, SESSION_COOKIE);
      if (sessionToken === undefined) return;
      const principal = await sessionPrincipal(pool, sessionToken, clock());
      // An expired session is treated as none: public routes (the login page) still answer.
      if (principal === undefined) return;
      // A cookie rides along on cross-site requests the browser makes; a change must come from our own pages.
      const origin = request.get('origin');
      if (!SAFE_METHODS.has(request.method) && origin !== undefined && new URL(origin).host !== request.get('host')) {
        throw new AccessError(403, `a signed-in change must come from this site's own pages, not ${origin}`);
      }
      locals.principal = principal;
      locals.sessionToken = sessionToken;
    };
    resolve().then(() => next(), next);
  };
}

/** The route's own check: run before its handlers, from its declaration. */
export function requireAccess(access: Access) {
  return (_request: Request, response: Response, next: NextFunction) => {
    if (access === 'public') return next();
    const locals = caller(response);
    if (access === 'webhook') {
      return next(locals.webhook === undefined ? new AccessError(401, "this route takes a complaint channel's webhook token") : undefined);
    }
    if (locals.principal === undefined) return next(new AccessError(401, 'sign in, or send an API key as "Authorization: Bearer <key>"'));
    if (!access.includes(locals.principal.role)) return next(new AccessError(403, `the ${locals.principal.role} role may not use this route`));
    next();
  };
}

function limited(options: { windowMs: number; limit: number; message: string; skipSuccessfulRequests?: boolean; skip?: (request: Request, response: Response) => boolean }): RateLimitRequestHandler {
  return rateLimit({
    windowMs: options.windowMs,
    limit: options.limit,
    standardHeaders: 'draft-8',
    legacyHeaders: false,
    skipSuccessfulRequests: options.skipSuccessfulRequests ?? false,
    ...(options.skip === undefined ? {} : { skip: options.skip }),
    handler: (_request, response) => {
      response.status(429).json({ error: 'rate_limited', message: options.message });
    },
  });
}

/**
 * Limits per client address: failed sign-ins (guessing), webhook deliveries, and every request
 * made without credentials. Signed-in and keyed callers are not limited here.
 */
export function rateLimits(limits: { failedLoginsPer15Min: number; webhookPerMinute: number; anonymousPerMinute: number }) {
  return {
    login: limited({ windowMs: 15 * 60_000, limit: limits.failedLoginsPer15Min, skipSuccessfulRequests: true, message: 'too many failed sign-ins from this address; try again in 15 minutes' }),
    webhook: limited({ windowMs: 60_000, limit: limits.webhookPerMinute, message: 'too many webhook deliveries from this address; retry after a minute' }),
    anonymous: limited({ windowMs: 60_000, limit: limits.anonymousPerMinute, message: 'too many requests without credentials from this address', skip: (_request, response) => caller(response).principal !== undefined || caller(response).webhook !== undefined }),
  };
}
