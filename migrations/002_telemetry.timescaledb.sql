-- Telemetry on TimescaleDB: a hypertable in 1-day chunks, compressed per tag after 7 days,
-- kept 400 days, with a 1-minute continuous aggregate that also answers for the newest,
-- not yet materialised minutes (real-time aggregation).
CREATE EXTENSION IF NOT EXISTS timescaledb;

CREATE TABLE telemetry (
  tag_id integer NOT NULL,
  time timestamptz NOT NULL,
  value double precision,
  quality smallint NOT NULL CHECK (quality IN (0, 1, 2)),
  PRIMARY KEY (tag_id, time)
);

SELECT create_hypertable('telemetry', by_range('time', INTERVAL '1 day'));

ALTER TABLE telemetry SET (
  timescaledb.compress,
  timescaledb.compress_segmentby = 'tag_id',
  timescaledb.compress_orderby = 'time DESC'
);
SELECT add_compression_policy('telemetry', INTERVAL '7 days');
SELECT add_retention_policy('telemetry', INTERVAL '400 days');

CREATE MATERIALIZED VIEW telemetry_1m WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
SELECT
  tag_id,
  time_bucket(INTERVAL '1 minute', time) AS bucket,
  min(value) AS min,
  max(value) AS max,
  avg(value) AS avg,
  last(value, time) AS last,
  count(value) AS count
FROM telemetry
GROUP BY tag_id, bucket
WITH NO DATA;

SELECT add_continuous_aggregate_policy('telemetry_1m',
  start_offset => INTERVAL '3 hours',
  end_offset => INTERVAL '1 minute',
  schedule_interval => INTERVAL '1 minute');
