-- Customer complaints from every channel. A complaint accepted with HTTP 201 is here;
-- the same Idempotency-Key, or the same channel message id, is stored once.
CREATE TABLE complaint (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  site_id text NOT NULL REFERENCES site (id),
  channel text NOT NULL,
  category text NOT NULL,
  location jsonb NOT NULL,
  lat double precision,
  lon double precision,
  zone_id text,
  -- in_zone: located inside a zone; outside_zones: located, but in no zone; unresolved: not located yet.
  location_status text NOT NULL CHECK (location_status IN ('in_zone', 'outside_zones', 'unresolved')),
  text text NOT NULL,
  contact text,
  external_id text,
  idempotency_key text UNIQUE,
  reported_at timestamptz NOT NULL,
  received_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (channel, external_id)
);

CREATE INDEX complaint_zone_time ON complaint (zone_id, reported_at);
