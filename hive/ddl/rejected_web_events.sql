-- Dead letters: Kafka records that are not valid events (events/README.md), kept verbatim with the
-- reason. The value is BINARY, not STRING: a record may be invalid UTF-8 and must survive
-- byte for byte (read it as text with CAST(raw_value AS STRING)).
-- Placeholders: ${DATABASE} (the Hive database) and ${DB_LOCATION} (its directory on HDFS).
CREATE EXTERNAL TABLE IF NOT EXISTS ${DATABASE}.rejected_web_events (
  raw_value BINARY COMMENT 'the Kafka record value, byte for byte',
  reason STRING COMMENT 'rejection reason code, e.g. not_json, invalid_utf8, missing_field, oversize',
  reason_detail STRING COMMENT 'human-readable detail, e.g. the missing field name',
  kafka_topic STRING,
  kafka_partition INT,
  kafka_offset BIGINT,
  kafka_timestamp TIMESTAMP COMMENT 'Kafka record timestamp (UTC, ms); null when the record has none',
  seen_at TIMESTAMP COMMENT 'UTC time the dataflow read the record'
)
COMMENT 'Kafka records rejected by validation, with the reason'
PARTITIONED BY (dt STRING COMMENT 'UTC date of kafka_timestamp (of seen_at when it is null), YYYY-MM-DD')
STORED AS ORC
LOCATION '${DB_LOCATION}/rejected_web_events';
