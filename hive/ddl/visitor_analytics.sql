-- Unique visitors and events per (page_url, window), plus one row per window for the whole site
-- (page_url NULL) (hive/README.md, docs/visitors-and-sessions.md). The windows are those of
-- page_analytics; only on-time events count. Written by the dataflow once the watermark passes
-- window_end.
-- Placeholders: ${DATABASE} (the Hive database) and ${DB_LOCATION} (its directory on HDFS).
CREATE EXTERNAL TABLE IF NOT EXISTS ${DATABASE}.visitor_analytics (
  page_url STRING COMMENT 'NULL = the whole site',
  window_start TIMESTAMP COMMENT 'UTC, inclusive',
  window_end TIMESTAMP COMMENT 'UTC, exclusive',
  unique_visitors BIGINT COMMENT 'distinct user_id with at least one on-time event on this page (NULL page_url: anywhere on the site) in the window',
  events BIGINT COMMENT 'on-time events of this page (NULL page_url: of the site) in the window'
)
COMMENT 'Unique visitors and events per page and event-time window; NULL page_url = the whole site'
PARTITIONED BY (dt STRING COMMENT 'UTC date of window_start, YYYY-MM-DD')
STORED AS ORC
LOCATION '${DB_LOCATION}/visitor_analytics';
