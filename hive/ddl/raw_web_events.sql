-- Every valid web event, one row each (events/README.md, hive/README.md). Written by the dataflow.
-- Placeholders: ${DATABASE} (the Hive database) and ${DB_LOCATION} (its directory on HDFS).
-- Run with beeline: --hivevar DATABASE=default --hivevar DB_LOCATION=hdfs://…/user/hive/warehouse
CREATE EXTERNAL TABLE IF NOT EXISTS ${DATABASE}.raw_web_events (
  event_id STRING COMMENT 'UUID from the producer',
  user_id STRING,
  session_id STRING,
  event_type STRING COMMENT 'page_view, click, scroll, form_submit, video_play, ... (kept as sent)',
  page_url STRING COMMENT 'path or absolute URL, at most 2048 bytes',
  browser STRING,
  os STRING,
  country STRING COMMENT 'ISO 3166-1 alpha-2',
  event_time TIMESTAMP COMMENT 'UTC wall-clock time, millisecond precision',
  clock_skew_ms BIGINT COMMENT 'collector clock-skew correction already in event_time, ms (received_at - sent_at); NULL when none was made'
)
COMMENT 'Every valid web analytics event'
PARTITIONED BY (dt STRING COMMENT 'UTC date of event_time, YYYY-MM-DD')
STORED AS ORC
LOCATION '${DB_LOCATION}/raw_web_events';
