// `tirta user add`, `tirta key add|revoke` and `tirta webhook add`: accounts for people, API keys
// for machines and tokens for complaint channels' webhooks. A secret is printed once, never stored.
import { createInterface } from 'node:readline/promises';
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { AccountExistsError, createApiKey, createUser, createWebhookToken, revokeApiKey } from '../access/accounts.js';
import { newUserSchema, roles, usernameSchema } from '../contracts/access.js';
import { complaintChannels } from '../contracts/complaint.js';
import { identifier } from '../contracts/primitives.js';
import { UsageError } from '../errors.js';
import type { Services } from '../runtime/roles.js';

export interface AccessOptions {
  arguments: string[];
  role: string | undefined;
  crew: string | undefined;
  name: string | undefined;
  channel: string | undefined;
}

function checked<T extends z.ZodType>(schema: T, value: unknown, what: string): z.infer<T> {
  const result = schema.safeParse(value);
  if (!result.success) throw new UsageError(`${what}: ${result.error.issues.map((issue) => `${issue.path.length > 0 ? `${issue.path.join('.')}: ` : ''}${issue.message}`).join('; ')}`);
  return result.data;
}

function action(options: AccessOptions, command: string, actions: string[]): [string, string] {
  const [verb, subject, extra] = options.arguments;
  if (verb === undefined || !actions.includes(verb)) throw new UsageError(`tirta ${command} needs one of: ${actions.join(', ')}`);
  if (subject === undefined) throw new UsageError(`tirta ${command} ${verb} needs a name`);
  if (extra !== undefined) throw new UsageError(`unexpected argument "${extra}"`);
  return [verb, subject];
}

/** The password: the first line of standard input when it is piped, else a generated one. */
async function readPassword(): Promise<{ password: string; generated: boolean }> {
  if (process.stdin.isTTY) return { password: randomBytes(18).toString('base64url'), generated: true };
  const lines = createInterface({ input: process.stdin });
  for await (const line of lines) {
    lines.close();
    return { password: line, generated: false };
  }
  throw new UsageError('no password on standard input');
}

export async function userCommand(services: Services, options: AccessOptions): Promise<void> {
  const [, username] = action(options, 'user', ['add']);
  const { password, generated } = await readPassword();
  const user = checked(newUserSchema, { username, role: options.role, password, ...(options.crew === undefined ? {} : { crew: options.crew }), ...(options.name === undefined ? {} : { display_name: options.name }) }, 'tirta user add');
  const pool = await services.database();
  try {
    await createUser(pool, user);
  } catch (error) {
    if (error instanceof AccountExistsError) throw new UsageError(error.message);
    throw error;
  }
  process.stdout.write(`created ${user.username} (${user.role}${user.crew === undefined ? '' : `, ${user.crew}`})\n`);
  if (generated) process.stdout.write(`password (shown once): ${password}\n`);
}

export async function keyCommand(services: Services, options: AccessOptions): Promise<void> {
  const [verb, name] = action(options, 'key', ['add', 'revoke']);
  checked(usernameSchema, name, 'key name');
  const pool = await services.database();
  if (verb === 'revoke') {
    if (!(await revokeApiKey(pool, name))) throw new UsageError(`no active API key named ${name}`);
    process.stdout.write(`revoked ${name}\n`);
    return;
  }
  const role = checked(z.enum(roles), options.role, '--role');
  const crew = options.crew === undefined ? undefined : checked(identifier, options.crew, '--crew');
  if ((role === 'crew') !== (crew !== undefined)) throw new UsageError('--crew is given for, and only for, --role crew');
  try {
    const key = await createApiKey(pool, { name, role, crew });
    process.stdout.write(`API key ${name} (${role}); send it as "Authorization: Bearer <key>". Shown once:\n${key}\n`);
  } catch (error) {
    if (error instanceof AccountExistsError) throw new UsageError(error.message);
    throw error;
  }
}

export async function webhookCommand(services: Services, options: AccessOptions): Promise<void> {
  const [, name] = action(options, 'webhook', ['add']);
  checked(usernameSchema, name, 'webhook name');
  const channel = checked(z.enum(complaintChannels), options.channel, '--channel');
  const pool = await services.database();
  try {
    const token = await createWebhookToken(pool, { name, channel });
    process.stdout.write(`webhook token ${name} for ${channel}: POST /api/v1/webhooks/complaints with "Authorization: Bearer <token>". Shown once:\n${token}\n`);
  } catch (error) {
    if (error instanceof AccountExistsError) throw new UsageError(error.message);
    throw error;
  }
}
