// Signing in and out for people (a session cookie for the console), who the caller is, and the
// account list for admins. Machines use API keys instead (tirta key add).
import type { RequestHandler } from 'express';
import { listUsers, signIn, signOut } from '../../access/accounts.js';
import { loginBodySchema, roles } from '../../contracts/access.js';
import type { ApiDependencies } from '../app.js';
import { caller, SESSION_COOKIE } from '../access.js';
import { DocumentedRouter } from '../openapi.js';
import { parseOrThrow, route } from '../validation.js';

export function authRoutes(deps: ApiDependencies, loginLimit: RequestHandler): DocumentedRouter {
  const api = new DocumentedRouter('access');
  const now = deps.clock ?? Date.now;

  api.post('/auth/login', { summary: 'sign in: sets the session cookie for one shift (12 h)', access: 'public', body: loginBodySchema, responses: { 200: 'who signed in', 400: 'bad fields', 401: 'wrong username or password', 429: 'too many failed sign-ins from this address' } }, loginLimit, route(async (request, response) => {
    const { username, password } = parseOrThrow(loginBodySchema, request.body, 'body');
    const signedIn = await signIn(deps.pool, username, password, now());
    if (signedIn === undefined) {
      deps.log.warn({ username, ip: request.ip }, 'failed sign-in');
      response.status(401).json({ error: 'unauthenticated', message: 'wrong username or password' });
      return;
    }
    deps.log.info({ username, role: signedIn.principal.role }, 'signed in');
    response.cookie(SESSION_COOKIE, signedIn.token, { httpOnly: true, sameSite: 'strict', secure: request.secure, path: '/', maxAge: signedIn.expiresAtMs - now() });
    response.json({ username, display_name: signedIn.displayName, role: signedIn.principal.role, crew: signedIn.principal.crew, expires_at: new Date(signedIn.expiresAtMs).toISOString() });
  }));

  api.post('/auth/logout', { summary: 'sign out: ends the session', access: roles, responses: { 204: 'signed out' } }, route(async (_request, response) => {
    const token = caller(response).sessionToken;
    if (token !== undefined) await signOut(deps.pool, token);
    response.clearCookie(SESSION_COOKIE, { path: '/' }).status(204).end();
  }));

  api.get('/auth/me', { summary: 'who is calling: name, role and crew', access: roles, responses: { 200: '{ name, kind, role, crew }' } }, (_request, response) => {
    const principal = caller(response).principal!;
    response.json({ name: principal.name, kind: principal.kind, role: principal.role, crew: principal.crew });
  });

  api.get('/users', { summary: 'the accounts of people, without secrets', access: ['admin'], responses: { 200: '{ users }' } }, route(async (_request, response) => {
    response.json({ users: await listUsers(deps.pool) });
  }));

  return api;
}
