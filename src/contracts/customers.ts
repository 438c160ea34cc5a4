// Where a complaint that gives an address or a customer account is: the site's customer directory
// (`customers:` in the site config). Accounts map to a zone (and, where known, a point); streets
// map addresses to a zone for the built-in geocoder. Large account lists belong in a CSV file
// (`accounts_file`), loaded into the database at start rather than held in memory.
import { z } from 'zod';
import { latLonSchema } from './primitives.js';

const zoneId = z.string().min(1).max(64);

export const customerAccountSchema = z.strictObject({
  /** The account number as the utility prints it; matched ignoring case, spaces, "-", "." and "/". */
  account: z.string().trim().min(1).max(64),
  zone: zoneId,
  location: latLonSchema.optional(),
  address: z.string().trim().min(1).max(500).optional(),
});
export type CustomerAccount = z.infer<typeof customerAccountSchema>;

export const streetSchema = z.strictObject({
  /** As people write it; "Jl."/"Jln."/"Jalan" prefixes, case and punctuation do not matter. */
  name: z.string().trim().min(1).max(200),
  aliases: z.array(z.string().trim().min(1).max(200)).default([]),
  zone: zoneId,
  /** A representative point (the street's middle), given to the engine as the complaint's location. */
  location: latLonSchema.optional(),
});
export type Street = z.infer<typeof streetSchema>;

export const customerDirectorySchema = z.strictObject({
  accounts: z.array(customerAccountSchema).default([]),
  /**
   * CSV with a header row naming the columns account, zone and optionally lat, lon, address.
   * A relative path is resolved against the directory the service is given at registration
   * (by default the working directory), not against the site file.
   */
  accounts_file: z.string().trim().min(1).optional(),
  streets: z.array(streetSchema).default([]),
});
export type CustomerDirectory = z.infer<typeof customerDirectorySchema>;

export interface CustomerDirectoryIssue {
  path: Array<string | number>;
  message: string;
}

/** Account number as matched: "01-2345 67" and "012345.67" are the same account. */
export function accountKey(account: string): string {
  return account.toUpperCase().replace(/[\s\-./]/g, '');
}

/**
 * Cross-checks the directory against the site's zones, for the site schema's refinement: every
 * zone named exists, and no account number appears twice. Paths are relative to `customers`.
 */
export function customerDirectoryIssues(directory: CustomerDirectory, zoneIds: ReadonlySet<string>): CustomerDirectoryIssue[] {
  const issues: CustomerDirectoryIssue[] = [];
  const firstIndexByKey = new Map<string, number>();
  directory.accounts.forEach((account, index) => {
    if (!zoneIds.has(account.zone)) issues.push({ path: ['accounts', index, 'zone'], message: `unknown zone "${account.zone}"` });
    const key = accountKey(account.account);
    const first = firstIndexByKey.get(key);
    if (first !== undefined) issues.push({ path: ['accounts', index, 'account'], message: `duplicate account "${account.account}" (first at index ${first})` });
    else firstIndexByKey.set(key, index);
  });
  directory.streets.forEach((street, index) => {
    if (!zoneIds.has(street.zone)) issues.push({ path: ['streets', index, 'zone'], message: `unknown zone "${street.zone}"` });
  });
  return issues;
}
