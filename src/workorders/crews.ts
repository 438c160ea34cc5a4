// The crews of the site config in PostgreSQL (replaced at each start, keeping each crew's last
// known location), their reported positions, and what dispatch needs to know of them now:
// skills, zones, whether on shift, where they are and how much work they hold.
import type pg from 'pg';
import type { DispatchSettings, Shift } from '../contracts/dispatch.js';
import type { JobType } from '../contracts/incident.js';
import type { SiteConfig } from '../contracts/site.js';
import { inTransaction } from '../storage/sql.js';
import type { CrewCandidate } from './assignment.js';
import { openStatuses } from './lifecycle.js';
import { onShift } from './shifts.js';

type Queryable = pg.Pool | pg.PoolClient;

/** Writes the configured crews and officers; crews and officers no longer configured become inactive. */
export async function registerCrews(pool: pg.Pool, site: SiteConfig): Promise<{ crews: number; officers: number }> {
  const crews = site.dispatch.crews;
  return inTransaction(pool, async (client) => {
    await client.query('UPDATE crew SET active = false WHERE site_id = $1', [site.site.id]);
    await client.query('UPDATE crew_officer SET active = false WHERE crew_id IN (SELECT id FROM crew WHERE site_id = $1)', [site.site.id]);
    let officers = 0;
    for (const crew of crews) {
      await client.query(
        `INSERT INTO crew (id, site_id, name, skills, zones, shifts, base_lat, base_lon, active)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, true)
         ON CONFLICT (id) DO UPDATE SET site_id = EXCLUDED.site_id, name = EXCLUDED.name, skills = EXCLUDED.skills, zones = EXCLUDED.zones,
           shifts = EXCLUDED.shifts, base_lat = EXCLUDED.base_lat, base_lon = EXCLUDED.base_lon, active = true`,
        [crew.id, site.site.id, crew.name, crew.skills, crew.zones, JSON.stringify(crew.shifts), crew.base.lat, crew.base.lon],
      );
      for (const officer of crew.officers) {
        officers += 1;
        await client.query(
          `INSERT INTO crew_officer (id, crew_id, name, active) VALUES ($1, $2, $3, true)
           ON CONFLICT (id) DO UPDATE SET crew_id = EXCLUDED.crew_id, name = EXCLUDED.name, active = true`,
          [officer.id, crew.id, officer.name],
        );
      }
    }
    return { crews: crews.length, officers };
  });
}

export interface CrewRecord {
  id: string;
  name: string;
  skills: JobType[];
  zones: string[];
  shifts: Shift[];
  base: { lat: number; lon: number };
  lastLocation: { lat: number; lon: number; atMs: number } | null;
  officers: Array<{ id: string; name: string }>;
}

export async function listCrews(db: Queryable, siteId: string): Promise<CrewRecord[]> {
  const { rows } = await db.query(
    `SELECT c.*, coalesce(json_agg(json_build_object('id', o.id, 'name', o.name) ORDER BY o.id) FILTER (WHERE o.id IS NOT NULL), '[]') AS officers
     FROM crew c LEFT JOIN crew_officer o ON o.crew_id = c.id AND o.active
     WHERE c.site_id = $1 AND c.active GROUP BY c.id ORDER BY c.id`,
    [siteId],
  );
  return rows.map((row) => ({
    id: row.id,
    name: row.name,
    skills: row.skills,
    zones: row.zones,
    shifts: row.shifts,
    base: { lat: row.base_lat, lon: row.base_lon },
    lastLocation: row.last_lat === null ? null : { lat: row.last_lat, lon: row.last_lon, atMs: (row.last_location_at as Date).getTime() },
    officers: row.officers,
  }));
}

export function crewToJson(crew: CrewRecord, timeZone: string, nowMs: number) {
  return {
    id: crew.id,
    name: crew.name,
    skills: crew.skills,
    zones: crew.zones,
    shifts: crew.shifts,
    on_shift: onShift(crew.shifts, nowMs, timeZone),
    base: crew.base,
    last_location: crew.lastLocation === null ? null : { lat: crew.lastLocation.lat, lon: crew.lastLocation.lon, at: new Date(crew.lastLocation.atMs).toISOString() },
    officers: crew.officers,
  };
}

/** Records a crew's reported position; an older report than the one stored is ignored. Returns false for an unknown crew. */
export async function updateCrewLocation(pool: pg.Pool, siteId: string, crewId: string, position: { lat: number; lon: number; atMs: number }): Promise<boolean> {
  const known = await pool.query('SELECT 1 FROM crew WHERE id = $1 AND site_id = $2 AND active', [crewId, siteId]);
  if (known.rowCount === 0) return false;
  await pool.query(
    `UPDATE crew SET last_lat = $3, last_lon = $4, last_location_at = $5
     WHERE id = $1 AND site_id = $2 AND (last_location_at IS NULL OR last_location_at <= $5)`,
    [crewId, siteId, position.lat, position.lon, new Date(position.atMs)],
  );
  return true;
}

/** Every active crew as dispatch sees it at `nowMs`: on shift or not, where, and the work it holds. */
export async function crewCandidates(db: Queryable, site: SiteConfig, settings: DispatchSettings, nowMs: number): Promise<CrewCandidate[]> {
  const crews = await listCrews(db, site.site.id);
  const { rows } = await db.query<{ crew_id: string; job_type: JobType }>(
    `SELECT crew_id, job_type FROM work_order WHERE site_id = $1 AND crew_id IS NOT NULL AND status = ANY($2)`,
    [site.site.id, openStatuses],
  );
  const loadMinutes = new Map<string, number>();
  for (const row of rows) loadMinutes.set(row.crew_id, (loadMinutes.get(row.crew_id) ?? 0) + settings.standard_minutes[row.job_type]);
  return crews.map((crew) => ({
    id: crew.id,
    skills: crew.skills,
    zones: crew.zones,
    onShift: onShift(crew.shifts, nowMs, site.site.timezone),
    location: crew.lastLocation ?? crew.base,
    loadMinutes: loadMinutes.get(crew.id) ?? 0,
  }));
}
