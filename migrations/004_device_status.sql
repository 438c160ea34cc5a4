-- The last known state of every PLC link and connector, kept by the engine from the retained
-- state messages connectors publish. Detection reads it to tell a dead link from a hydraulic event.
CREATE TABLE device_status (
  site_id text NOT NULL REFERENCES site (id),
  source text NOT NULL CHECK (source IN ('device', 'connector')),
  id text NOT NULL,
  state text NOT NULL CHECK (state IN ('online', 'offline')),
  since timestamptz NOT NULL,
  reason text,
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (site_id, source, id)
);
