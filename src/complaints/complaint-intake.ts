// Complaint intake: places each complaint (coordinates, customer account, address) and stores it
// once, however often a channel sends it. The HTTP routes and importers call this.
import type pg from 'pg';
import type { ComplaintBody } from '../contracts/complaint.js';
import type { SiteConfig } from '../contracts/site.js';
import { locateComplaints } from './complaint-location.js';
import { storeComplaints, type StoredComplaint } from './complaint-store.js';
import { findCustomerAccounts } from './customer-accounts.js';
import type { Geocoder } from './geocoder.js';

export interface IntakeItem {
  body: ComplaintBody;
  idempotencyKey?: string | undefined;
}

export interface IntakeResult {
  complaint: StoredComplaint;
  created: boolean;
  /** The geocoder failed for this complaint's address; it was kept unresolved. */
  geocodeFailure?: unknown;
}

/** Places and stores complaints in one transaction: all are stored, or none. */
export async function acceptComplaints(
  pool: pg.Pool,
  site: SiteConfig,
  items: readonly IntakeItem[],
  options: { geocoder: Geocoder; receivedAtMs: number },
): Promise<IntakeResult[]> {
  const siteId = site.site.id;
  const located = await locateComplaints(
    items.map((item) => item.body.location),
    site,
    { findAccounts: (accounts) => findCustomerAccounts(pool, siteId, accounts), geocoder: options.geocoder },
  );
  const stored = await storeComplaints(
    pool,
    siteId,
    items.map((item, index) => ({ body: item.body, idempotencyKey: item.idempotencyKey, placement: located[index]!.placement })),
    options.receivedAtMs,
  );
  return stored.map((result, index) => {
    const failure = located[index]!.geocodeFailure;
    return failure === undefined ? result : { ...result, geocodeFailure: failure };
  });
}

export async function acceptComplaint(
  pool: pg.Pool,
  site: SiteConfig,
  body: ComplaintBody,
  options: { idempotencyKey?: string | undefined; geocoder: Geocoder; receivedAtMs: number },
): Promise<IntakeResult> {
  const [result] = await acceptComplaints(pool, site, [{ body, idempotencyKey: options.idempotencyKey }], options);
  return result!;
}
