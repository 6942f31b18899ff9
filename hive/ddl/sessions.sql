-- One row per closed session (hive/README.md, docs/visitors-and-sessions.md): the on-time events
-- of one session_id until --session-gap (30 min) passes without an event, cut at
-- --max-session-duration (24 h) from its first event. Written by the dataflow once the
-- watermark passes the session's last event + the gap.
-- Placeholders: ${DATABASE} (the Hive database) and ${DB_LOCATION} (its directory on HDFS).
CREATE EXTERNAL TABLE IF NOT EXISTS ${DATABASE}.sessions (
  session_id STRING,
  user_id STRING,
  session_start TIMESTAMP COMMENT 'UTC time of the first event',
  session_end TIMESTAMP COMMENT 'UTC time of the last event',
  duration_ms BIGINT COMMENT 'session_end - session_start, milliseconds',
  events BIGINT COMMENT 'on-time events of the session',
  page_views BIGINT COMMENT 'events of type page_view',
  entry_page STRING COMMENT 'page_url of the first event',
  exit_page STRING COMMENT 'page_url of the last event',
  is_bounce BOOLEAN COMMENT 'not engaged (GA4): engaged = lasted at least 10 s, or at least 2 page views, or a form_submit',
  browser STRING COMMENT 'of the first event',
  os STRING COMMENT 'of the first event',
  country STRING COMMENT 'of the first event'
)
COMMENT 'Closed sessions (visits): one row per session_id and session_start'
PARTITIONED BY (dt STRING COMMENT 'UTC date of session_start, YYYY-MM-DD')
STORED AS ORC
LOCATION '${DB_LOCATION}/sessions';
