// Passwords hashed with scrypt (memory-hard: 32 MiB per hash), and random bearer tokens stored
// only as their SHA-256: a token has 256 bits of entropy, so a fast hash suffices for it.
import { createHash, randomBytes, scrypt, timingSafeEqual } from 'node:crypto';

const SCRYPT = { cost: 2 ** 15, blockSize: 8, parallelization: 1, keyLength: 32 } as const;
const MAX_MEMORY = 64 * 1024 * 1024;

function scryptAsync(password: string, salt: Buffer, params: { cost: number; blockSize: number; parallelization: number }, keyLength: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(password, salt, keyLength, { N: params.cost, r: params.blockSize, p: params.parallelization, maxmem: MAX_MEMORY }, (error, key) => (error ? reject(error) : resolve(key)));
  });
}

/** `scrypt$N$r$p$salt$hash`, salt and hash in base64url: the parameters travel with the hash. */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await scryptAsync(password, salt, SCRYPT, SCRYPT.keyLength);
  return ['scrypt', SCRYPT.cost, SCRYPT.blockSize, SCRYPT.parallelization, salt.toString('base64url'), key.toString('base64url')].join('$');
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [scheme, cost, blockSize, parallelization, salt, hash] = stored.split('$');
  if (scheme !== 'scrypt' || salt === undefined || hash === undefined) return false;
  const expected = Buffer.from(hash, 'base64url');
  const key = await scryptAsync(password, Buffer.from(salt, 'base64url'), { cost: Number(cost), blockSize: Number(blockSize), parallelization: Number(parallelization) }, expected.length);
  return timingSafeEqual(key, expected);
}

/** A hash of nothing, checked when the username is unknown so that the answer takes as long. */
let decoyHash: Promise<string> | undefined;
export function decoyPasswordHash(): Promise<string> {
  decoyHash ??= hashPassword(randomBytes(16).toString('hex'));
  return decoyHash;
}

export const tokenPrefixes = { apiKey: 'tirta_key_', session: 'tirta_session_', webhook: 'tirta_hook_' } as const;

export function newToken(prefix: string): string {
  return `${prefix}${randomBytes(32).toString('base64url')}`;
}

export function tokenHash(token: string): Buffer {
  return createHash('sha256').update(token).digest();
}
