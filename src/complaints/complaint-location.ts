// Where a complaint is. Coordinates fall in a zone by its boundary; a customer account is looked
// up in the directory; an address goes to the geocoder. The placement rules are pure functions
// of what those lookups found; `locateComplaints` does the lookups, batched, through ports.
// A complaint is never refused for its location: one in no zone is 'outside_zones', one whose
// address or account cannot be placed is 'unresolved', and both are kept for an operator.
import { accountKey } from '../contracts/customers.js';
import type { ComplaintLocation, LocationStatus } from '../contracts/complaint.js';
import { zoneAt } from '../contracts/geometry.js';
import type { SiteConfig } from '../contracts/site.js';
import type { AccountPlace } from './customer-accounts.js';
import type { GeocodeResult, Geocoder } from './geocoder.js';

export interface ComplaintPlacement {
  lat: number | null;
  lon: number | null;
  zone: string | null;
  status: LocationStatus;
}

/** What the lookups found for one complaint's location. */
export type LocationLookup =
  | { kind: 'coordinates' }
  | { kind: 'account'; found: AccountPlace | undefined }
  | { kind: 'address'; found: GeocodeResult | undefined };

const UNRESOLVED: ComplaintPlacement = { lat: null, lon: null, zone: null, status: 'unresolved' };

/** Pure: where a point is. */
export function placePoint(point: { lat: number; lon: number }, site: SiteConfig): ComplaintPlacement {
  const zone = zoneAt(point, site.zones);
  return { lat: point.lat, lon: point.lon, zone: zone?.id ?? null, status: zone ? 'in_zone' : 'outside_zones' };
}

/**
 * Pure: where a complaint is, given what its lookups found. A zone named by the directory or the
 * geocoder is trusted over the point's own zone (a boundary drawn coarsely should not move a
 * known customer); a zone the site does not have leaves the complaint unresolved.
 */
export function placeLocation(location: ComplaintLocation, lookup: LocationLookup, site: SiteConfig): ComplaintPlacement {
  if ('lat' in location) return placePoint(location, site);
  const found = lookup.kind === 'coordinates' ? undefined : lookup.found;
  if (found === undefined) return UNRESOLVED;
  const point = 'lat' in found && found.lat !== null && found.lon !== null ? { lat: found.lat, lon: found.lon } : undefined;
  const namedZone = found.zone;
  if (namedZone === undefined) return point === undefined ? UNRESOLVED : placePoint(point, site);
  if (!site.zones.some((zone) => zone.id === namedZone)) return UNRESOLVED;
  return { lat: point?.lat ?? null, lon: point?.lon ?? null, zone: namedZone, status: 'in_zone' };
}

/** Pure, no lookups: coordinates are placed, an address or account is left unresolved (offline replay). */
export function placeComplaint(location: ComplaintLocation, site: SiteConfig): ComplaintPlacement {
  return 'lat' in location ? placePoint(location, site) : UNRESOLVED;
}

export interface LocationPorts {
  findAccounts(accounts: readonly string[]): Promise<Map<string, AccountPlace>>;
  geocoder: Geocoder;
}

export interface LocatedComplaint {
  placement: ComplaintPlacement;
  /** Set when the geocoder failed (rather than not finding the address): the complaint is kept unresolved. */
  geocodeFailure?: unknown;
}

/** Places many complaints: one directory query for all accounts, one geocoder call per distinct address. */
export async function locateComplaints(locations: readonly ComplaintLocation[], site: SiteConfig, ports: LocationPorts): Promise<LocatedComplaint[]> {
  const accounts = locations.flatMap((location) => ('account' in location ? [location.account] : []));
  const accountPlaces = accounts.length === 0 ? new Map<string, AccountPlace>() : await ports.findAccounts(accounts);
  const geocoded = new Map<string, Promise<{ found?: GeocodeResult; failure?: unknown }>>();
  const geocode = (address: string) => {
    let pending = geocoded.get(address);
    if (pending === undefined) {
      pending = ports.geocoder.geocode(address).then(
        (found) => (found === undefined ? {} : { found }),
        (failure: unknown) => ({ failure }),
      );
      geocoded.set(address, pending);
    }
    return pending;
  };
  const located: LocatedComplaint[] = [];
  for (const location of locations) {
    if ('lat' in location) located.push({ placement: placePoint(location, site) });
    else if ('account' in location) located.push({ placement: placeLocation(location, { kind: 'account', found: accountPlaces.get(accountKey(location.account)) }, site) });
    else {
      const { found, failure } = await geocode(location.address);
      const placement = placeLocation(location, { kind: 'address', found }, site);
      located.push(failure === undefined ? { placement } : { placement, geocodeFailure: failure });
    }
  }
  return located;
}
