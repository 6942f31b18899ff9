-- Event counts per (page_url, event_type, window) (hive/README.md, docs/dataflow-design.md). Written by the dataflow once
-- the watermark passes window_end.
-- Placeholders: ${DATABASE} (the Hive database) and ${DB_LOCATION} (its directory on HDFS).
CREATE EXTERNAL TABLE IF NOT EXISTS ${DATABASE}.page_analytics (
  page_url STRING,
  event_type STRING,
  event_count BIGINT COMMENT 'events of this page and type in the window',
  window_start TIMESTAMP COMMENT 'UTC, inclusive',
  window_end TIMESTAMP COMMENT 'UTC, exclusive'
)
COMMENT 'Event counts per page, event type and event-time window'
PARTITIONED BY (dt STRING COMMENT 'UTC date of window_start, YYYY-MM-DD')
STORED AS ORC
LOCATION '${DB_LOCATION}/page_analytics';
