// The engine's conclusions in PostgreSQL: anomalies and incidents, written
// idempotently under the engine's deterministic ids, and read back for the API.
import type pg from 'pg';
import { anomalyToJson, isSensorFault, type Anomaly } from '../contracts/anomaly.js';
import { incidentToJson, type Incident } from '../contracts/incident.js';

type Queryable = pg.Pool | pg.PoolClient;

export async function saveAnomaly(db: Queryable, siteId: string, anomaly: Anomaly): Promise<void> {
  await db.query(
    `INSERT INTO anomaly (id, site_id, kind, sensor_fault, tag_key, zone_id, start_at, end_at, magnitude, unit, confidence, detail)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
     ON CONFLICT (id) DO UPDATE SET end_at = EXCLUDED.end_at, magnitude = EXCLUDED.magnitude, confidence = EXCLUDED.confidence,
       detail = EXCLUDED.detail, updated_at = now()`,
    [anomaly.id, siteId, anomaly.kind, isSensorFault(anomaly.kind), anomaly.tag, anomaly.zone, new Date(anomaly.startMs), anomaly.endMs === null ? null : new Date(anomaly.endMs), anomaly.magnitude, anomaly.unit, anomaly.confidence, anomaly.detail],
  );
}

export async function saveIncident(db: Queryable, siteId: string, incident: Incident): Promise<void> {
  await db.query(
    `INSERT INTO incident (id, site_id, zone_id, kind, opened_at, closed_at, priority, score, reasons, complaint_ids, anomaly_ids, verified)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
     ON CONFLICT (id) DO UPDATE SET zone_id = EXCLUDED.zone_id, kind = EXCLUDED.kind, closed_at = EXCLUDED.closed_at, priority = EXCLUDED.priority,
       score = EXCLUDED.score, reasons = EXCLUDED.reasons, complaint_ids = EXCLUDED.complaint_ids, anomaly_ids = EXCLUDED.anomaly_ids,
       verified = EXCLUDED.verified, updated_at = now()`,
    [incident.id, siteId, incident.zone, incident.kind, new Date(incident.openedAtMs), incident.closedAtMs === null ? null : new Date(incident.closedAtMs), incident.priority, incident.score, JSON.stringify(incident.reasons), incident.complaintIds, incident.anomalyIds, incident.verified],
  );
}

/** Also moves the merged incident's complaints: the engine names only those it still holds in its events. */
export async function markIncidentMerged(db: Queryable, from: string, into: string): Promise<void> {
  await db.query('UPDATE incident SET merged_into = $2, updated_at = now() WHERE id = $1', [from, into]);
  await db.query('UPDATE complaint SET incident_id = $2 WHERE incident_id = $1', [from, into]);
}

export interface AnomalyFilter {
  fromMs?: number | undefined;
  toMs?: number | undefined;
  zone?: string | undefined;
  kind?: string | undefined;
  open?: boolean | undefined;
  limit: number;
}

export async function listAnomalies(pool: pg.Pool, siteId: string, filter: AnomalyFilter) {
  const { rows } = await pool.query(
    `SELECT * FROM anomaly
     WHERE site_id = $1
       AND ($2::timestamptz IS NULL OR coalesce(end_at, 'infinity') >= $2)
       AND ($3::timestamptz IS NULL OR start_at < $3)
       AND ($4::text IS NULL OR zone_id = $4)
       AND ($5::text IS NULL OR kind = $5)
       AND ($6::boolean IS NULL OR (end_at IS NULL) = $6)
     ORDER BY start_at DESC, id
     LIMIT $7`,
    [siteId, date(filter.fromMs), date(filter.toMs), filter.zone ?? null, filter.kind ?? null, filter.open ?? null, filter.limit],
  );
  return rows.map((row) => ({ ...anomalyToJson(anomalyFromRow(row)), sensor_fault: row.sensor_fault as boolean }));
}

export interface IncidentFilter {
  zone?: string | undefined;
  open?: boolean | undefined;
  limit: number;
}

/** Incidents not merged away, highest priority first, then newest. */
export async function listIncidents(pool: pg.Pool, siteId: string, filter: IncidentFilter) {
  const { rows } = await pool.query(
    `SELECT i.*, w.id AS work_order_id FROM incident i LEFT JOIN work_order w ON w.incident_id = i.id
     WHERE i.site_id = $1 AND i.merged_into IS NULL
       AND ($2::text IS NULL OR i.zone_id = $2)
       AND ($3::boolean IS NULL OR (i.closed_at IS NULL) = $3)
     ORDER BY i.priority, i.score DESC, i.opened_at DESC
     LIMIT $4`,
    [siteId, filter.zone ?? null, filter.open ?? null, filter.limit],
  );
  return rows.map((row) => ({ ...incidentToJson(incidentFromRow(row)), work_order_id: row.work_order_id as string | null }));
}

export async function getIncident(pool: pg.Pool, siteId: string, id: string) {
  const { rows } = await pool.query(`SELECT i.*, w.id AS work_order_id FROM incident i LEFT JOIN work_order w ON w.incident_id = i.id WHERE i.site_id = $1 AND i.id = $2`, [siteId, id]);
  const row = rows[0];
  if (row === undefined) return undefined;
  return { ...incidentToJson(incidentFromRow(row)), merged_into: row.merged_into as string | null, work_order_id: row.work_order_id as string | null };
}

const date = (ms: number | undefined) => (ms === undefined ? null : new Date(ms));

function anomalyFromRow(row: Record<string, any>): Anomaly {
  return {
    id: row.id,
    kind: row.kind,
    tag: row.tag_key,
    zone: row.zone_id,
    startMs: (row.start_at as Date).getTime(),
    endMs: row.end_at === null ? null : (row.end_at as Date).getTime(),
    magnitude: row.magnitude,
    unit: row.unit,
    confidence: row.confidence,
    detail: row.detail,
  };
}

function incidentFromRow(row: Record<string, any>): Incident {
  return {
    id: row.id,
    zone: row.zone_id,
    kind: row.kind,
    openedAtMs: (row.opened_at as Date).getTime(),
    closedAtMs: row.closed_at === null ? null : (row.closed_at as Date).getTime(),
    priority: row.priority,
    score: row.score,
    reasons: row.reasons,
    complaintIds: row.complaint_ids,
    anomalyIds: row.anomaly_ids,
    verified: row.verified,
  };
}
