-- The raw archive written by wa-archiver: every Kafka record of the topic, verbatim, one per
-- line, in text files under the archive root (not in the database's directory).
-- Placeholders: ${DATABASE} (the Hive database) and ${ARCHIVE_ROOT} (the archive root on HDFS,
-- e.g. hdfs://namenode:9000/raw/web_analytics). wa-archiver --hive-table may rename the table.
CREATE EXTERNAL TABLE IF NOT EXISTS ${DATABASE}.raw_web_events_json (
  line STRING COMMENT 'one record value: verbatim, or ~b64:<base64 of the bytes>, or ~null'
)
COMMENT 'Raw archive of every Kafka record of the web_analytics topic, one record value per line, date = UTC date of the Kafka record timestamp. A line is the value itself when it is valid UTF-8 without control characters (tab allowed) and does not start with ''~''; otherwise ''~b64:'' followed by the base64 of the exact bytes, or ''~null'' for a record without a value. Written by wa-archiver.'
PARTITIONED BY (`date` STRING COMMENT 'UTC date of the Kafka record timestamp, YYYY-MM-DD')
STORED AS TEXTFILE
LOCATION '${ARCHIVE_ROOT}';
