-- What the engine concludes: anomalies found in telemetry, incidents (one event in the network
-- with its complaints and anomalies), and the work orders incidents open. Ids are the engine's
-- deterministic ids, so writing the same conclusion twice (after a restart that re-reads recent
-- history) changes nothing.
CREATE TABLE anomaly (
  id text PRIMARY KEY,
  site_id text NOT NULL REFERENCES site (id),
  kind text NOT NULL,
  sensor_fault boolean NOT NULL,
  tag_key text NOT NULL,
  zone_id text,
  start_at timestamptz NOT NULL,
  end_at timestamptz,
  magnitude double precision NOT NULL,
  unit text NOT NULL,
  confidence double precision NOT NULL CHECK (confidence BETWEEN 0 AND 1),
  detail text NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX anomaly_site_start ON anomaly (site_id, start_at DESC);

CREATE TABLE incident (
  id text PRIMARY KEY,
  site_id text NOT NULL REFERENCES site (id),
  zone_id text,
  kind text NOT NULL,
  opened_at timestamptz NOT NULL,
  closed_at timestamptz,
  priority text NOT NULL CHECK (priority IN ('P1', 'P2', 'P3', 'P4')),
  score double precision NOT NULL,
  reasons jsonb NOT NULL,
  complaint_ids text[] NOT NULL,
  anomaly_ids text[] NOT NULL,
  verified boolean NOT NULL,
  -- Set when another incident absorbed this one.
  merged_into text REFERENCES incident (id),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX incident_site_open ON incident (site_id, opened_at DESC);

CREATE TABLE work_order (
  id text PRIMARY KEY,
  site_id text NOT NULL REFERENCES site (id),
  incident_id text REFERENCES incident (id),
  job_type text NOT NULL,
  priority text NOT NULL CHECK (priority IN ('P1', 'P2', 'P3', 'P4')),
  created_at timestamptz NOT NULL,
  due_at timestamptz NOT NULL
);
CREATE UNIQUE INDEX work_order_one_per_incident ON work_order (incident_id);
