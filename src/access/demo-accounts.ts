// Demo accounts: a file of published names and passwords that `npm start` loads so that anyone
// can try each role. They are marked in the database, and the service warns while any is enabled.
import { readFile } from 'node:fs/promises';
import type pg from 'pg';
import { z } from 'zod';
import { newUserSchema } from '../contracts/access.js';
import { parseConfigText } from '../contracts/config-text.js';
import { ConfigError } from '../errors.js';
import type { Logger } from '../log.js';
import { createUser } from './accounts.js';

const demoAccountsSchema = z.strictObject({ accounts: z.array(newUserSchema).min(1).max(100) });

export async function loadDemoAccounts(pool: pg.Pool, file: string, log: Logger): Promise<void> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (cause) {
    throw new ConfigError(file, [{ path: '', message: `cannot read the demo accounts file: ${(cause as Error).message}` }], { cause });
  }
  const { accounts } = parseConfigText(text, file, demoAccountsSchema);
  // Re-created at every start, so a changed password in the file takes effect and nobody keeps a demo password changed.
  for (const account of accounts) await createUser(pool, account, { demo: true, replace: true });
  log.warn({ file, accounts: accounts.map((account) => `${account.username} (${account.role})`) }, 'DEMO ACCOUNTS with published passwords are enabled: for demonstration only');
}
