-- Complaint intake, continued: the customer account directory that places complaints naming an
-- account, the verification state of every complaint, and the ordered feeds the engine reads
-- (complaints and operator decisions, each by seq).

-- One row per account of the site config (inline or from its CSV), replaced at each start.
CREATE TABLE customer_account (
  site_id text NOT NULL REFERENCES site (id),
  -- The account number without case, spaces, "-", "." or "/": how complaints are matched to it.
  account_key text NOT NULL,
  account text NOT NULL,
  zone_id text NOT NULL,
  lat double precision,
  lon double precision,
  address text,
  registered_at timestamptz NOT NULL,
  PRIMARY KEY (site_id, account_key),
  CHECK ((lat IS NULL) = (lon IS NULL))
);

-- seq orders complaints by arrival; writers take a per-site lock so seq order is commit order.
ALTER TABLE complaint
  ADD COLUMN seq bigint GENERATED ALWAYS AS IDENTITY,
  -- pending until telemetry backs it (the engine matched an anomaly) or an operator decides.
  ADD COLUMN verification text NOT NULL DEFAULT 'pending'
    CHECK (verification IN ('pending', 'verified_by_telemetry', 'verified_by_operator', 'rejected')),
  ADD COLUMN verified_at timestamptz,
  ADD COLUMN verified_by text,
  ADD COLUMN verification_note text,
  -- The engine's ids (text, deterministic); no foreign key, so a complaint may name an anomaly
  -- the engine has yet to write.
  ADD COLUMN matched_anomaly_id text,
  ADD COLUMN incident_id text;

CREATE UNIQUE INDEX complaint_site_seq ON complaint (site_id, seq);
CREATE INDEX complaint_site_reported ON complaint (site_id, reported_at DESC, seq DESC);

-- Operator decisions in the order they were made; the engine replays them by seq.
CREATE TABLE complaint_decision (
  seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  site_id text NOT NULL REFERENCES site (id),
  complaint_id uuid NOT NULL REFERENCES complaint (id),
  decision text NOT NULL CHECK (decision IN ('verified', 'rejected')),
  by text NOT NULL,
  note text,
  at timestamptz NOT NULL
);

CREATE INDEX complaint_decision_site_seq ON complaint_decision (site_id, seq);
