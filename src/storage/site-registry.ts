// Registers the site config's site, zones, devices and tags in the database (upsert) and returns
// the compact integer id of every tag, which telemetry rows carry.
import type pg from 'pg';
import type { SiteConfig } from '../contracts/site.js';
import { inTransaction } from './sql.js';

/** Tag key (the config's tag id) to database tag id. */
export type TagIds = ReadonlyMap<string, number>;

export async function registerSite(pool: pg.Pool, config: SiteConfig): Promise<TagIds> {
  return inTransaction(pool, async (client) => {
    const siteId = config.site.id;
    await client.query(
      `INSERT INTO site (id, name, timezone) VALUES ($1, $2, $3)
       ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, timezone = EXCLUDED.timezone, updated_at = now()`,
      [siteId, config.site.name, config.site.timezone],
    );
    await client.query(
      `INSERT INTO zone (site_id, id, name, customers, boundary, critical_customers)
       SELECT $1, z.id, z.name, z.customers, z.boundary, z.critical_customers
       FROM jsonb_to_recordset($2::jsonb) AS z(id text, name text, customers integer, boundary jsonb, critical_customers jsonb)
       ON CONFLICT (site_id, id) DO UPDATE SET name = EXCLUDED.name, customers = EXCLUDED.customers,
         boundary = EXCLUDED.boundary, critical_customers = EXCLUDED.critical_customers`,
      [siteId, JSON.stringify(config.zones)],
    );
    await client.query(
      `INSERT INTO device (site_id, id, protocol, endpoint)
       SELECT $1, d.id, d.protocol, d.endpoint FROM jsonb_to_recordset($2::jsonb) AS d(id text, protocol text, endpoint text)
       ON CONFLICT (site_id, id) DO UPDATE SET protocol = EXCLUDED.protocol, endpoint = EXCLUDED.endpoint`,
      [siteId, JSON.stringify(config.devices.map(({ id, protocol, endpoint }) => ({ id, protocol, endpoint })))],
    );
    const tags = config.tags.map((tag) => ({
      key: tag.id,
      name: tag.name ?? null,
      device_id: tag.device ?? null,
      zone_id: tag.zone ?? null,
      kind: tag.kind,
      unit: tag.unit,
      lat: tag.location?.lat ?? null,
      lon: tag.location?.lon ?? null,
      range_min: tag.range?.min ?? null,
      range_max: tag.range?.max ?? null,
    }));
    const { rows } = await client.query<{ id: number; key: string }>(
      `INSERT INTO tag (site_id, key, name, device_id, zone_id, kind, unit, lat, lon, range_min, range_max, active)
       SELECT $1, t.key, t.name, t.device_id, t.zone_id, t.kind, t.unit, t.lat, t.lon, t.range_min, t.range_max, true
       FROM jsonb_to_recordset($2::jsonb) AS t(key text, name text, device_id text, zone_id text, kind text, unit text,
         lat double precision, lon double precision, range_min double precision, range_max double precision)
       ON CONFLICT (site_id, key) DO UPDATE SET name = EXCLUDED.name, device_id = EXCLUDED.device_id, zone_id = EXCLUDED.zone_id,
         kind = EXCLUDED.kind, unit = EXCLUDED.unit, lat = EXCLUDED.lat, lon = EXCLUDED.lon,
         range_min = EXCLUDED.range_min, range_max = EXCLUDED.range_max, active = true
       RETURNING id, key`,
      [siteId, JSON.stringify(tags)],
    );
    await client.query('UPDATE tag SET active = false WHERE site_id = $1 AND NOT (key = ANY($2::text[]))', [siteId, config.tags.map((tag) => tag.id)]);
    return new Map(rows.map((row) => [row.key, row.id]));
  });
}

export interface TagRow {
  id: number;
  key: string;
  name: string | null;
  device: string | null;
  zone: string | null;
  kind: string;
  unit: string;
  location: { lat: number; lon: number } | null;
  range: { min: number; max: number } | null;
  active: boolean;
}

export async function listTags(pool: pg.Pool, siteId: string): Promise<TagRow[]> {
  const { rows } = await pool.query(
    `SELECT id, key, name, device_id, zone_id, kind, unit, lat, lon, range_min, range_max, active
     FROM tag WHERE site_id = $1 ORDER BY key`,
    [siteId],
  );
  return rows.map((row) => ({
    id: row.id,
    key: row.key,
    name: row.name,
    device: row.device_id,
    zone: row.zone_id,
    kind: row.kind,
    unit: row.unit,
    location: row.lat === null ? null : { lat: row.lat, lon: row.lon },
    range: row.range_min === null ? null : { min: row.range_min, max: row.range_max },
    active: row.active,
  }));
}
