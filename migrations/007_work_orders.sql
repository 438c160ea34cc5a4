-- Work orders as dispatchers and crews work them: a lifecycle with optimistic concurrency
-- (version), an audit row for every change, the crews of the site config with their last known
-- location, a transactional outbox for MQTT notifications to crews (rows appear only when the
-- change commits), and one notification record per complaint and channel when an order completes.

CREATE SEQUENCE work_order_code_seq START 1001;

ALTER TABLE work_order
  -- Readable over a radio or a phone call: WO-1001, WO-1002, ...
  ADD COLUMN code text NOT NULL UNIQUE DEFAULT 'WO-' || nextval('work_order_code_seq'),
  ADD COLUMN source text NOT NULL DEFAULT 'incident' CHECK (source IN ('incident', 'manual')),
  ADD COLUMN title text NOT NULL DEFAULT '',
  ADD COLUMN description text,
  ADD COLUMN zone_id text,
  ADD COLUMN lat double precision,
  ADD COLUMN lon double precision,
  ADD COLUMN status text NOT NULL DEFAULT 'new'
    CHECK (status IN ('new', 'assigned', 'acknowledged', 'in_progress', 'completed', 'cancelled')),
  ADD COLUMN version integer NOT NULL DEFAULT 1,
  ADD COLUMN crew_id text,
  -- How due_at was computed: standard duration, queue ahead, crews able to do it.
  ADD COLUMN due_basis jsonb,
  ADD COLUMN assigned_at timestamptz,
  ADD COLUMN acknowledged_at timestamptz,
  ADD COLUMN started_at timestamptz,
  ADD COLUMN completed_at timestamptz,
  ADD COLUMN cancelled_at timestamptz,
  ADD COLUMN completion_note text,
  -- The officers credited with the completion (their KPI).
  ADD COLUMN completed_by text[],
  -- When the SLA warning is due (part of the allowed time left), and the escalations already
  -- raised for the current due time; cleared when the due time changes.
  ADD COLUMN sla_warning_at timestamptz,
  ADD COLUMN sla_warned_at timestamptz,
  ADD COLUMN sla_breached_at timestamptz,
  ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now(),
  ADD CHECK ((lat IS NULL) = (lon IS NULL));
ALTER TABLE work_order ALTER COLUMN source DROP DEFAULT;
CREATE INDEX work_order_open ON work_order (site_id, status) WHERE status NOT IN ('completed', 'cancelled');
CREATE INDEX work_order_crew ON work_order (crew_id, completed_at);

-- Every change of every order: who, when, from which state to which, and why.
CREATE TABLE work_order_event (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  work_order_id text NOT NULL REFERENCES work_order (id),
  at timestamptz NOT NULL,
  actor text NOT NULL,
  action text NOT NULL,
  from_status text,
  to_status text NOT NULL,
  version integer NOT NULL,
  note text,
  detail jsonb
);
CREATE INDEX work_order_event_order ON work_order_event (work_order_id, id);

-- The crews of the site config, replaced at each start except for their last known location.
CREATE TABLE crew (
  id text PRIMARY KEY,
  site_id text NOT NULL REFERENCES site (id),
  name text NOT NULL,
  skills text[] NOT NULL,
  zones text[] NOT NULL,
  shifts jsonb NOT NULL,
  base_lat double precision NOT NULL,
  base_lon double precision NOT NULL,
  active boolean NOT NULL DEFAULT true,
  last_lat double precision,
  last_lon double precision,
  last_location_at timestamptz,
  CHECK ((last_lat IS NULL) = (last_lon IS NULL))
);

CREATE TABLE crew_officer (
  id text PRIMARY KEY,
  crew_id text NOT NULL REFERENCES crew (id),
  name text NOT NULL,
  active boolean NOT NULL DEFAULT true
);

-- MQTT messages waiting to be published; written in the transaction of the change they announce.
CREATE TABLE outbox (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  topic text NOT NULL,
  payload jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  published_at timestamptz
);
CREATE INDEX outbox_unpublished ON outbox (id) WHERE published_at IS NULL;

-- What complainants are told when the order of their incident completes.
CREATE TABLE complaint_notification (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  site_id text NOT NULL REFERENCES site (id),
  complaint_id uuid NOT NULL REFERENCES complaint (id),
  work_order_id text NOT NULL REFERENCES work_order (id),
  channel text NOT NULL,
  contact text,
  message text NOT NULL,
  status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed', 'no_contact')),
  attempts integer NOT NULL DEFAULT 0,
  -- A failed send waits until then (exponential backoff).
  next_attempt_at timestamptz NOT NULL DEFAULT now(),
  last_error text,
  created_at timestamptz NOT NULL DEFAULT now(),
  sent_at timestamptz,
  UNIQUE (complaint_id, channel)
);
CREATE INDEX complaint_notification_pending ON complaint_notification (next_attempt_at) WHERE status = 'pending';
