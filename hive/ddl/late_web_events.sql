-- Valid events that arrived behind their Kafka partition's watermark (docs/dataflow-design.md): not counted in
-- page_analytics, but never lost. They are still in raw_web_events and the raw archive.
-- Placeholders: ${DATABASE} (the Hive database) and ${DB_LOCATION} (its directory on HDFS).
CREATE EXTERNAL TABLE IF NOT EXISTS ${DATABASE}.late_web_events (
  event_id STRING,
  user_id STRING,
  session_id STRING,
  event_type STRING,
  page_url STRING,
  browser STRING,
  os STRING,
  country STRING,
  event_time TIMESTAMP COMMENT 'UTC wall-clock time, millisecond precision',
  watermark TIMESTAMP COMMENT 'the Kafka partition watermark (UTC) the event was behind when read',
  kafka_topic STRING,
  kafka_partition INT,
  kafka_offset BIGINT
)
COMMENT 'Valid events that arrived behind the watermark'
PARTITIONED BY (dt STRING COMMENT 'UTC date of event_time, YYYY-MM-DD')
STORED AS ORC
LOCATION '${DB_LOCATION}/late_web_events';
