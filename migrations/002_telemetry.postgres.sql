-- Telemetry on plain PostgreSQL: one row per tag and time; (tag, time) is unique so that
-- at-least-once delivery stores each sample once. A BRIN index serves time-range scans
-- cheaply on append-mostly data; the 1-minute rollup is a view over the raw table.
CREATE TABLE telemetry (
  tag_id integer NOT NULL,
  time timestamptz NOT NULL,
  value double precision,
  quality smallint NOT NULL CHECK (quality IN (0, 1, 2)),
  PRIMARY KEY (tag_id, time)
);

CREATE INDEX telemetry_time_brin ON telemetry USING brin (time);

CREATE VIEW telemetry_1m AS
SELECT
  tag_id,
  date_bin(INTERVAL '1 minute', time, TIMESTAMPTZ '2000-01-01 00:00:00+00') AS bucket,
  min(value) AS min,
  max(value) AS max,
  avg(value) AS avg,
  (array_agg(value ORDER BY time DESC))[1] AS last,
  count(value) AS count
FROM telemetry
GROUP BY tag_id, bucket;
