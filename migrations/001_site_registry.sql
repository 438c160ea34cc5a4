-- The site registry: the site config's zones, devices and tags, upserted at start-up so that
-- telemetry rows carry a compact integer tag id.
CREATE TABLE site (
  id text PRIMARY KEY,
  name text NOT NULL,
  timezone text NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE zone (
  site_id text NOT NULL REFERENCES site (id),
  id text NOT NULL,
  name text NOT NULL,
  customers integer NOT NULL CHECK (customers >= 0),
  boundary jsonb NOT NULL,
  critical_customers jsonb NOT NULL DEFAULT '[]',
  PRIMARY KEY (site_id, id)
);

CREATE TABLE device (
  site_id text NOT NULL REFERENCES site (id),
  id text NOT NULL,
  protocol text NOT NULL CHECK (protocol IN ('modbus', 'opcua')),
  endpoint text NOT NULL,
  PRIMARY KEY (site_id, id)
);

CREATE TABLE tag (
  id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  site_id text NOT NULL REFERENCES site (id),
  key text NOT NULL,
  name text,
  device_id text,
  zone_id text,
  kind text NOT NULL,
  unit text NOT NULL,
  lat double precision,
  lon double precision,
  range_min double precision,
  range_max double precision,
  -- false once a tag leaves the site config; its history stays queryable.
  active boolean NOT NULL DEFAULT true,
  UNIQUE (site_id, key)
);
