// Complaint intake: locates each complaint in a zone and stores it once, however often it is sent.
import type pg from 'pg';
import type { ComplaintBody } from '../contracts/complaint.js';
import type { SiteConfig } from '../contracts/site.js';
import { zoneAt } from '../contracts/geometry.js';

export type LocationStatus = 'in_zone' | 'outside_zones' | 'unresolved';

export interface StoredComplaint {
  id: string;
  site: string;
  channel: string;
  category: string;
  location: ComplaintBody['location'];
  zone: string | null;
  location_status: LocationStatus;
  text: string;
  contact: string | null;
  external_id: string | null;
  reported_at: string;
  received_at: string;
}

export interface ComplaintPlacement {
  lat: number | null;
  lon: number | null;
  zone: string | null;
  status: LocationStatus;
}

/** Pure: where a complaint is, as far as its own location says. */
export function placeComplaint(location: ComplaintBody['location'], site: SiteConfig): ComplaintPlacement {
  if ('lat' in location) {
    const zone = zoneAt(location, site.zones);
    return { lat: location.lat, lon: location.lon, zone: zone?.id ?? null, status: zone ? 'in_zone' : 'outside_zones' };
  }
  return { lat: null, lon: null, zone: null, status: 'unresolved' };
}

const COLUMNS = `id, site_id, channel, category, location, zone_id, location_status, text, contact, external_id, reported_at, received_at`;

/**
 * Stores the complaint unless the same Idempotency-Key or (channel, external_id) was seen before,
 * in which case the stored one is returned with created = false.
 */
export async function acceptComplaint(
  pool: pg.Pool,
  site: SiteConfig,
  body: ComplaintBody,
  options: { idempotencyKey?: string | undefined; receivedAtMs: number },
): Promise<{ complaint: StoredComplaint; created: boolean }> {
  const placement = placeComplaint(body.location, site);
  const receivedAt = new Date(options.receivedAtMs);
  const { rows } = await pool.query(
    `INSERT INTO complaint (site_id, channel, category, location, lat, lon, zone_id, location_status, text, contact, external_id, idempotency_key, reported_at, received_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
     ON CONFLICT DO NOTHING
     RETURNING ${COLUMNS}`,
    [
      site.site.id,
      body.channel,
      body.category,
      JSON.stringify(body.location),
      placement.lat,
      placement.lon,
      placement.zone,
      placement.status,
      body.text,
      body.contact ?? null,
      body.external_id ?? null,
      options.idempotencyKey ?? null,
      body.reported_at ? new Date(body.reported_at) : receivedAt,
      receivedAt,
    ],
  );
  if (rows[0] !== undefined) return { complaint: toComplaint(rows[0]), created: true };
  const existing = await pool.query(
    `SELECT ${COLUMNS} FROM complaint
     WHERE ($1::text IS NOT NULL AND idempotency_key = $1) OR ($2::text IS NOT NULL AND channel = $3 AND external_id = $2)
     LIMIT 1`,
    [options.idempotencyKey ?? null, body.external_id ?? null, body.channel],
  );
  if (existing.rows[0] === undefined) throw new Error('complaint insert conflicted but no matching complaint was found');
  return { complaint: toComplaint(existing.rows[0]), created: false };
}

export async function getComplaint(pool: pg.Pool, id: string): Promise<StoredComplaint | undefined> {
  const { rows } = await pool.query(`SELECT ${COLUMNS} FROM complaint WHERE id = $1`, [id]);
  return rows[0] === undefined ? undefined : toComplaint(rows[0]);
}

function toComplaint(row: Record<string, any>): StoredComplaint {
  return {
    id: row.id,
    site: row.site_id,
    channel: row.channel,
    category: row.category,
    location: row.location,
    zone: row.zone_id,
    location_status: row.location_status,
    text: row.text,
    contact: row.contact,
    external_id: row.external_id,
    reported_at: (row.reported_at as Date).toISOString(),
    received_at: (row.received_at as Date).toISOString(),
  };
}
