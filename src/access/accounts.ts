// Accounts, sessions, API keys and webhook tokens in the database. Every secret is returned once,
// when it is made, and stored only as a hash.
import type pg from 'pg';
import type { Principal, Role } from '../contracts/access.js';
import type { NewUser } from '../contracts/access.js';
import { decoyPasswordHash, hashPassword, newToken, tokenHash, tokenPrefixes, verifyPassword } from './secrets.js';

type Queryable = Pick<pg.Pool, 'query'>;

/** A person's session lasts one shift, then they sign in again. */
export const SESSION_MS = 12 * 60 * 60_000;

export class AccountExistsError extends Error {}

export interface UserSummary {
  username: string;
  display_name: string;
  role: Role;
  crew: string | null;
  demo: boolean;
  disabled: boolean;
}

/** Creates an account; `replace` overwrites one of the same name (demo accounts at every start). */
export async function createUser(pool: Queryable, user: NewUser, options: { demo?: boolean; replace?: boolean } = {}): Promise<UserSummary> {
  const passwordHash = await hashPassword(user.password);
  const conflict = options.replace
    ? 'ON CONFLICT (username) DO UPDATE SET display_name = EXCLUDED.display_name, role = EXCLUDED.role, crew_id = EXCLUDED.crew_id, password_hash = EXCLUDED.password_hash, demo = EXCLUDED.demo, disabled_at = NULL'
    : 'ON CONFLICT (username) DO NOTHING';
  const { rows } = await pool.query<{ username: string; display_name: string; role: Role; crew_id: string | null; demo: boolean }>(
    `INSERT INTO app_user (username, display_name, role, crew_id, password_hash, demo) VALUES ($1, $2, $3, $4, $5, $6) ${conflict}
     RETURNING username, display_name, role, crew_id, demo`,
    [user.username, user.display_name ?? user.username, user.role, user.crew ?? null, passwordHash, options.demo ?? false],
  );
  const row = rows[0];
  if (row === undefined) throw new AccountExistsError(`an account named ${user.username} already exists`);
  return { username: row.username, display_name: row.display_name, role: row.role, crew: row.crew_id, demo: row.demo, disabled: false };
}

export async function listUsers(pool: Queryable): Promise<UserSummary[]> {
  const { rows } = await pool.query<{ username: string; display_name: string; role: Role; crew_id: string | null; demo: boolean; disabled: boolean }>(
    'SELECT username, display_name, role, crew_id, demo, disabled_at IS NOT NULL AS disabled FROM app_user ORDER BY username',
  );
  return rows.map((row) => ({ username: row.username, display_name: row.display_name, role: row.role, crew: row.crew_id, demo: row.demo, disabled: row.disabled }));
}

export async function countEnabledDemoUsers(pool: Queryable): Promise<number> {
  const { rows } = await pool.query<{ count: number }>('SELECT count(*)::int AS count FROM app_user WHERE demo AND disabled_at IS NULL');
  return rows[0]!.count;
}

export interface SignedIn {
  token: string;
  expiresAtMs: number;
  principal: Principal;
  displayName: string;
}

/** Checks a password and opens a session; undefined for a wrong name or password, told apart by nobody. */
export async function signIn(pool: Queryable, username: string, password: string, nowMs: number): Promise<SignedIn | undefined> {
  const { rows } = await pool.query<{ id: string; username: string; display_name: string; role: Role; crew_id: string | null; password_hash: string }>(
    'SELECT id, username, display_name, role, crew_id, password_hash FROM app_user WHERE username = $1 AND disabled_at IS NULL',
    [username],
  );
  const user = rows[0];
  const matches = await verifyPassword(password, user?.password_hash ?? (await decoyPasswordHash()));
  if (user === undefined || !matches) return undefined;
  const token = newToken(tokenPrefixes.session);
  const expiresAtMs = nowMs + SESSION_MS;
  await pool.query('DELETE FROM user_session WHERE expires_at < $1', [new Date(nowMs)]);
  await pool.query('INSERT INTO user_session (token_hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)', [tokenHash(token), user.id, new Date(nowMs), new Date(expiresAtMs)]);
  return { token, expiresAtMs, displayName: user.display_name, principal: { kind: 'user', name: user.username, role: user.role, crew: user.crew_id } };
}

export async function signOut(pool: Queryable, token: string): Promise<void> {
  await pool.query('DELETE FROM user_session WHERE token_hash = $1', [tokenHash(token)]);
}

export async function sessionPrincipal(pool: Queryable, token: string, nowMs: number): Promise<(Principal & { displayName: string }) | undefined> {
  const { rows } = await pool.query<{ username: string; display_name: string; role: Role; crew_id: string | null }>(
    `SELECT u.username, u.display_name, u.role, u.crew_id FROM user_session s JOIN app_user u ON u.id = s.user_id
     WHERE s.token_hash = $1 AND s.expires_at > $2 AND u.disabled_at IS NULL`,
    [tokenHash(token), new Date(nowMs)],
  );
  const row = rows[0];
  return row === undefined ? undefined : { kind: 'user', name: row.username, role: row.role, crew: row.crew_id, displayName: row.display_name };
}

/** A machine's key; `replace` re-issues a key of the same name (the old one stops working). */
export async function createApiKey(pool: Queryable, key: { name: string; role: Role; crew?: string | undefined }, options: { replace?: boolean } = {}): Promise<string> {
  if ((key.role === 'crew') !== (key.crew !== undefined)) throw new RangeError('a crew key names its crew, and only a crew key does');
  const token = newToken(tokenPrefixes.apiKey);
  const conflict = options.replace ? 'ON CONFLICT (name) DO UPDATE SET role = EXCLUDED.role, crew_id = EXCLUDED.crew_id, key_hash = EXCLUDED.key_hash, revoked_at = NULL' : 'ON CONFLICT (name) DO NOTHING';
  const { rowCount } = await pool.query(`INSERT INTO api_key (name, role, crew_id, key_hash) VALUES ($1, $2, $3, $4) ${conflict}`, [key.name, key.role, key.crew ?? null, tokenHash(token)]);
  if (rowCount === 0) throw new AccountExistsError(`an API key named ${key.name} already exists`);
  return token;
}

export async function revokeApiKey(pool: Queryable, name: string): Promise<boolean> {
  const { rowCount } = await pool.query('UPDATE api_key SET revoked_at = now() WHERE name = $1 AND revoked_at IS NULL', [name]);
  return rowCount === 1;
}

export async function apiKeyPrincipal(pool: Queryable, token: string): Promise<Principal | undefined> {
  const hash = tokenHash(token);
  const { rows } = await pool.query<{ name: string; role: Role; crew_id: string | null; stale: boolean }>(
    "SELECT name, role, crew_id, last_used_at IS NULL OR last_used_at < now() - interval '1 minute' AS stale FROM api_key WHERE key_hash = $1 AND revoked_at IS NULL",
    [hash],
  );
  const row = rows[0];
  if (row === undefined) return undefined;
  // Last use is kept to the minute, so that a busy key does not write on every request.
  if (row.stale) await pool.query('UPDATE api_key SET last_used_at = now() WHERE key_hash = $1', [hash]);
  return { kind: 'api_key', name: row.name, role: row.role, crew: row.crew_id };
}

export async function createWebhookToken(pool: Queryable, hook: { name: string; channel: string }): Promise<string> {
  const token = newToken(tokenPrefixes.webhook);
  const { rowCount } = await pool.query('INSERT INTO webhook_token (name, channel, token_hash) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING', [hook.name, hook.channel, tokenHash(token)]);
  if (rowCount === 0) throw new AccountExistsError(`a webhook token named ${hook.name} already exists`);
  return token;
}

/** The channel a webhook token speaks for, with the token's name. */
export async function webhookTokenChannel(pool: Queryable, token: string): Promise<{ name: string; channel: string } | undefined> {
  const { rows } = await pool.query<{ name: string; channel: string }>('SELECT name, channel FROM webhook_token WHERE token_hash = $1 AND revoked_at IS NULL', [tokenHash(token)]);
  return rows[0];
}
