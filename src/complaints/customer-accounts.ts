// The customer account directory in PostgreSQL (`customer_account`): loaded from the site config
// (inline accounts and the accounts CSV) at start, looked up by account number when a complaint
// names one. Kept in the database so that a directory of a few hundred thousand accounts does
// not live in the service's memory.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type pg from 'pg';
import { z } from 'zod';
import { accountKey, customerAccountSchema, customerDirectoryIssues, type CustomerAccount } from '../contracts/customers.js';
import type { SiteConfig } from '../contracts/site.js';
import { ConfigError, formatPath, type ConfigIssue } from '../errors.js';
import { inTransaction } from '../storage/sql.js';

type Queryable = pg.Pool | pg.PoolClient;

/** Where an account's complaints are placed. */
export interface AccountPlace {
  account: string;
  zone: string;
  lat: number | null;
  lon: number | null;
}

const UPSERT_CHUNK = 2000;

/** Splits CSV text into rows of fields (RFC 4180: quoted fields may hold commas, quotes as "", and line breaks). */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  let index = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  for (; index < text.length; index += 1) {
    const char = text[index]!;
    if (quoted) {
      if (char !== '"') field += char;
      else if (text[index + 1] === '"') {
        field += '"';
        index += 1;
      } else quoted = false;
    } else if (char === '"') quoted = true;
    else if (char === ',') {
      row.push(field);
      field = '';
    } else if (char === '\n' || char === '\r') {
      if (char === '\r' && text[index + 1] === '\n') index += 1;
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
    } else field += char;
  }
  if (field !== '' || row.length > 0) {
    row.push(field);
    rows.push(row);
  }
  return rows.filter((fields) => !(fields.length === 1 && fields[0]!.trim() === ''));
}

const csvNumber = z
  .string()
  .trim()
  .regex(/^-?\d+(\.\d+)?$/, 'must be a decimal number')
  .transform(Number);

/**
 * The accounts of a CSV file with a header row (account, zone, and optionally lat, lon, address).
 * Issues name the line and column: `line 12: lat`.
 */
export function parseAccountsCsv(text: string, file: string): CustomerAccount[] {
  const [header, ...rows] = parseCsv(text);
  if (header === undefined) return [];
  const columns = header.map((name) => name.trim().toLowerCase());
  const known = ['account', 'zone', 'lat', 'lon', 'address'];
  const issues: ConfigIssue[] = [];
  for (const name of columns) if (!known.includes(name)) issues.push({ path: 'line 1', message: `unknown column "${name}"; the columns are ${known.join(', ')}` });
  for (const name of ['account', 'zone']) if (!columns.includes(name)) issues.push({ path: 'line 1', message: `missing column "${name}"` });
  if (issues.length > 0) throw new ConfigError(file, issues);
  const accounts: CustomerAccount[] = [];
  rows.forEach((fields, rowIndex) => {
    const line = `line ${rowIndex + 2}`;
    const cell = (name: string) => {
      const value = fields[columns.indexOf(name)]?.trim();
      return value === undefined || value === '' ? undefined : value;
    };
    if (fields.length !== columns.length) {
      issues.push({ path: line, message: `has ${fields.length} fields, the header ${columns.length}` });
      return;
    }
    const lat = cell('lat');
    const lon = cell('lon');
    if ((lat === undefined) !== (lon === undefined)) {
      issues.push({ path: `${line}: ${lat === undefined ? 'lat' : 'lon'}`, message: 'give both lat and lon, or neither' });
      return;
    }
    const location = lat === undefined || lon === undefined ? undefined : { lat: csvNumber.safeParse(lat), lon: csvNumber.safeParse(lon) };
    if (location !== undefined && (!location.lat.success || !location.lon.success)) {
      if (!location.lat.success) issues.push({ path: `${line}: lat`, message: 'must be a decimal number' });
      if (!location.lon.success) issues.push({ path: `${line}: lon`, message: 'must be a decimal number' });
      return;
    }
    const candidate = {
      account: cell('account'),
      zone: cell('zone'),
      address: cell('address'),
      location: location === undefined ? undefined : { lat: location.lat.data, lon: location.lon.data },
    };
    const result = customerAccountSchema.safeParse(Object.fromEntries(Object.entries(candidate).filter(([, value]) => value !== undefined)));
    if (result.success) accounts.push(result.data);
    else for (const issue of result.error.issues) issues.push({ path: `${line}: ${csvColumnOf(issue.path)}`, message: issue.message });
  });
  if (issues.length > 0) throw new ConfigError(file, issues);
  return accounts;
}

function csvColumnOf(issuePath: ReadonlyArray<PropertyKey>): string {
  return issuePath[0] === 'location' && issuePath[1] !== undefined ? String(issuePath[1]) : formatPath(issuePath);
}

export interface RegisterAccountsOptions {
  /** Directory a relative `accounts_file` is resolved against; the working directory by default. */
  baseDir?: string;
}

/**
 * Replaces the site's accounts in `customer_account` with those of its config (inline and file),
 * in one transaction. Unknown zones and duplicate account numbers are configuration errors.
 */
export async function registerCustomerAccounts(pool: pg.Pool, site: SiteConfig, options: RegisterAccountsOptions = {}): Promise<{ accounts: number }> {
  const directory = site.customers;
  const zoneIds = new Set(site.zones.map((zone) => zone.id));
  const inlineIssues = customerDirectoryIssues(directory, zoneIds).filter((issue) => issue.path[0] === 'accounts');
  if (inlineIssues.length > 0) throw new ConfigError(`site ${site.site.id}`, inlineIssues.map((issue) => ({ path: formatPath(['customers', ...issue.path]), message: issue.message })));
  const sources: Array<{ where: (index: number) => string; accounts: CustomerAccount[] }> = [{ where: (index) => `customers.accounts[${index}]`, accounts: directory.accounts }];
  if (directory.accounts_file !== undefined) {
    const file = path.resolve(options.baseDir ?? process.cwd(), directory.accounts_file);
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (cause) {
      throw new ConfigError(file, [{ path: '', message: `cannot read the accounts file (customers.accounts_file): ${(cause as Error).message}` }], { cause });
    }
    const accounts = parseAccountsCsv(text, file);
    const issues: ConfigIssue[] = [];
    accounts.forEach((account, index) => {
      if (!zoneIds.has(account.zone)) issues.push({ path: `line ${index + 2}: zone`, message: `unknown zone "${account.zone}"` });
    });
    if (issues.length > 0) throw new ConfigError(file, issues);
    sources.push({ where: (index) => `${file} line ${index + 2}`, accounts });
  }
  const rowsByKey = new Map<string, { row: Record<string, unknown>; where: string }>();
  const duplicates: ConfigIssue[] = [];
  for (const source of sources) {
    source.accounts.forEach((account, index) => {
      const key = accountKey(account.account);
      const first = rowsByKey.get(key);
      if (first !== undefined) {
        duplicates.push({ path: source.where(index), message: `duplicate account "${account.account}" (first at ${first.where})` });
        return;
      }
      rowsByKey.set(key, {
        where: source.where(index),
        row: { account_key: key, account: account.account, zone_id: account.zone, lat: account.location?.lat ?? null, lon: account.location?.lon ?? null, address: account.address ?? null },
      });
    });
  }
  if (duplicates.length > 0) throw new ConfigError(`site ${site.site.id}`, duplicates);
  const rows = [...rowsByKey.values()].map((entry) => entry.row);
  await inTransaction(pool, async (client) => {
    await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`customer_account:${site.site.id}`]);
    for (let start = 0; start < rows.length; start += UPSERT_CHUNK) {
      await client.query(
        `INSERT INTO customer_account (site_id, account_key, account, zone_id, lat, lon, address, registered_at)
         SELECT $1, a.account_key, a.account, a.zone_id, a.lat, a.lon, a.address, now()
         FROM jsonb_to_recordset($2::jsonb) AS a(account_key text, account text, zone_id text, lat double precision, lon double precision, address text)
         ON CONFLICT (site_id, account_key) DO UPDATE SET account = EXCLUDED.account, zone_id = EXCLUDED.zone_id, lat = EXCLUDED.lat,
           lon = EXCLUDED.lon, address = EXCLUDED.address, registered_at = EXCLUDED.registered_at`,
        [site.site.id, JSON.stringify(rows.slice(start, start + UPSERT_CHUNK))],
      );
    }
    // now() is the transaction's start time: every row this registration wrote carries it.
    await client.query('DELETE FROM customer_account WHERE site_id = $1 AND registered_at <> now()', [site.site.id]);
  });
  return { accounts: rows.length };
}

/** The accounts found among those asked for, keyed by `accountKey`. */
export async function findCustomerAccounts(db: Queryable, siteId: string, accounts: readonly string[]): Promise<Map<string, AccountPlace>> {
  const keys = [...new Set(accounts.map(accountKey))];
  if (keys.length === 0) return new Map();
  const { rows } = await db.query<{ account_key: string; account: string; zone_id: string; lat: number | null; lon: number | null }>(
    'SELECT account_key, account, zone_id, lat, lon FROM customer_account WHERE site_id = $1 AND account_key = ANY($2::text[])',
    [siteId, keys],
  );
  return new Map(rows.map((row) => [row.account_key, { account: row.account, zone: row.zone_id, lat: row.lat, lon: row.lon }]));
}
