#!/usr/bin/env python3
"""The seed's Spark Structured Streaming job, rebuilt as the baseline our pipeline is measured
against (issue 10). The seed design (`spark/kafka_to_hive.py`) "consumes Kafka, parses and
validates events, performs window-based aggregations, writes results to Hive tables"; this is
that job written the way a data engineer would write it on Spark, doing the same work as
`wa-dataflow`:

  Kafka topic ──▶ parse + validate (the event schema) ──┬──▶ raw_web_events   (every valid event)
                                               └──▶ 1-minute tumbling windows, watermark
                                                    delay 5 s, count per (page_url,
                                                    event_type, window) ──▶ page_analytics

Both tables are created from our own DDL (`hive/ddl/*.sql`: external, ORC, `PARTITIONED BY
(dt STRING)`) in a database of their own (default `bench_spark`), on the same HDFS and
metastore, so the job never touches our tables. Rows reach Hive through `foreachBatch` +
`insertInto`, which writes the files and adds new `dt` partitions to the metastore in each
micro-batch, so they are visible to Hive SQL as soon as the batch commits (a plain file sink
would not register partitions).

Modes:
  drain   `Trigger.AvailableNow`: read everything the topic holds when the job starts, in as
          few micro-batches as Spark likes, then stop; prints events/s. The throughput figure.
  stream  a processing-time trigger (`--trigger-interval`, default 1 s): the latency figure;
          runs until `--run-for` seconds have passed or SIGTERM/SIGINT.

The last line on stdout is a JSON summary; progress goes to stderr.

Where it differs from `wa-dataflow`, by Spark's design rather than by choice here:
  - Spark's watermark is global: the largest event time seen in any partition minus the delay
    (ours is per Kafka partition). Events behind it are dropped from the aggregates silently
    (ours are counted and kept in `late_web_events`).
  - In append mode a window is emitted only when a later micro-batch moves the watermark past
    its end: the last window(s) stay open when the topic stops (ours close them once the
    partitions have been idle).
  - Invalid records are filtered out, not kept in a dead-letter table (the seed kept none),
    and `from_json` reads a number where a string is expected as its text.
  - `foreachBatch` is at-least-once: a batch retried after a crash is inserted again (ours is
    exactly once).
"""

import argparse
import json
import os
import signal
import sys
import threading
import time
from pathlib import Path

STARTED = time.time()

REPO = Path(__file__).resolve().parents[2]

# The event fields, in wire order. Every field is read as a string first: `event_time` may be an
# RFC 3339 string or epoch milliseconds, and from_json turns a JSON number read as a string
# into its text, so one string column covers both forms.
FIELDS = ["event_id", "user_id", "session_id", "event_type", "page_url",
          "browser", "os", "country", "event_time"]
REQUIRED = ["event_id", "user_id", "session_id", "event_type", "page_url"]
MAX_EVENT_BYTES = 64 * 1024  # events::MAX_EVENT_BYTES
MAX_PAGE_URL_BYTES = 2048  # events::MAX_PAGE_URL_BYTES
EPOCH_MS = r"^-?[0-9]{1,15}$"
RFC3339 = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2})$"


def log(msg, **fields):
    extra = " ".join(f"{k}={v}" for k, v in fields.items())
    print(f"[kafka_to_hive {time.time() - STARTED:7.1f}s] {msg} {extra}".rstrip(),
          file=sys.stderr, flush=True)


def parse_args():
    env = os.environ.get
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--mode", choices=["drain", "stream"], default="drain")
    p.add_argument("--brokers", default=env("WA_KAFKA_BROKERS", "127.0.0.1:9092"))
    p.add_argument("--topic", default=env("WA_TOPIC", "web_analytics"))
    p.add_argument("--database", default="bench_spark",
                   help="Hive database of the job's tables (never ours)")
    p.add_argument("--hdfs-url", default=env("WA_HDFS_URL", "hdfs://127.0.0.1:9000"))
    p.add_argument("--warehouse", default=env("WA_WAREHOUSE", None),
                   help="default: <hdfs-url>/user/hive/warehouse")
    p.add_argument("--metastore-uri", default=env("WA_METASTORE_URI", "thrift://127.0.0.1:9083"))
    p.add_argument("--checkpoint-dir", default=None,
                   help="default: <hdfs-url>/bench/spark-checkpoints/<database>")
    p.add_argument("--fresh", action="store_true",
                   help="drop the database (and its files) and the checkpoint first")
    p.add_argument("--tables", default="raw_web_events,page_analytics",
                   help="which of the two outputs to run (comma-separated)")
    p.add_argument("--window", default="1 minute", help="tumbling window length")
    p.add_argument("--watermark-delay", default="5 seconds",
                   help="same as wa-dataflow --max-out-of-orderness")
    p.add_argument("--trigger-interval", default="1 second", help="stream mode only")
    p.add_argument("--run-for", type=float, default=None,
                   help="stream mode: stop after this many seconds (default: until SIGTERM)")
    p.add_argument("--shuffle-partitions", type=int, default=os.cpu_count() or 2)
    p.add_argument("--max-offsets-per-trigger", type=int, default=None,
                   help="cap on records per micro-batch (default: none)")
    p.add_argument("--compression", default="zlib",
                   help="ORC codec; zlib, as wa-dataflow writes by default")
    a = p.parse_args()
    a.warehouse = a.warehouse or f"{a.hdfs_url}/user/hive/warehouse"
    a.checkpoint_dir = a.checkpoint_dir or f"{a.hdfs_url}/bench/spark-checkpoints/{a.database}"
    a.tables = [t.strip() for t in a.tables.split(",") if t.strip()]
    for t in a.tables:
        if t not in ("raw_web_events", "page_analytics"):
            p.error(f"unknown table {t!r}")
    return a


def session(a):
    from pyspark.sql import SparkSession

    cores = os.cpu_count() or 2
    b = SparkSession.builder.appName(f"kafka_to_hive[{a.mode}] {a.topic}")
    # spark-submit --master wins; run as a plain script, use every core of this machine.
    b = b.config("spark.master", os.environ.get("SPARK_MASTER", f"local[{cores}]"))
    for k, v in {
        # The same metastore, warehouse and HDFS as our tables.
        "spark.hadoop.hive.metastore.uris": a.metastore_uri,
        "spark.sql.warehouse.dir": a.warehouse,
        "spark.hadoop.fs.defaultFS": a.hdfs_url,
        # Replication 2 on a 2-DataNode HDFS (the HDFS client's default is 3).
        "spark.hadoop.dfs.replication": "2",
        # Windows, `dt` and timestamps in UTC, like ours.
        "spark.sql.session.timeZone": "UTC",
        # Spark's default of 200 shuffle partitions is for clusters: each would be a task per
        # micro-batch and a state store instance. One per core is what a tuned job uses. (It
        # is fixed in the checkpoint once the query has run.)
        "spark.sql.shuffle.partitions": str(a.shuffle_partitions),
        # Inserts into a Hive ORC table go through Spark's native ORC writer (Spark's default,
        # said explicitly: the local stack's Thrift Server turns it off for *reading* the way
        # Hive reads), with the codec our pipeline uses.
        "spark.sql.hive.convertMetastoreOrc": "true",
        "spark.sql.hive.convertInsertingPartitionedTable": "true",
        "spark.sql.orc.compression.codec": a.compression,
        # `dt` comes from the data: dynamic partitions, none given in the INSERT.
        "spark.hadoop.hive.exec.dynamic.partition": "true",
        "spark.hadoop.hive.exec.dynamic.partition.mode": "nonstrict",
        # No web UI on a 2-core benchmark machine.
        "spark.ui.enabled": "false",
        # Keep every micro-batch's progress for the summary (default: the last 100).
        "spark.sql.streaming.numRecentProgressUpdates": "100000",
    }.items():
        b = b.config(k, v)
    return b.enableHiveSupport().getOrCreate()


def hadoop_delete(spark, url):
    jvm = spark._jvm
    path = jvm.org.apache.hadoop.fs.Path(url)
    fs = path.getFileSystem(spark._jsc.hadoopConfiguration())
    return fs.delete(path, True)


def create_tables(spark, a):
    db = a.database
    db_location = f"{a.warehouse.rstrip('/')}/{db}.db"
    if a.fresh:
        log("dropping", database=db)
        spark.sql(f"DROP DATABASE IF EXISTS {db} CASCADE")
        hadoop_delete(spark, db_location)
        hadoop_delete(spark, a.checkpoint_dir)
    spark.sql(f"CREATE DATABASE IF NOT EXISTS {db} LOCATION '{db_location}'")
    for table in a.tables:
        ddl = (REPO / "hive" / "ddl" / f"{table}.sql").read_text()
        ddl = ddl.replace("${DATABASE}", db).replace("${DB_LOCATION}", db_location)
        spark.sql(ddl.strip().rstrip(";"))


def valid_events(spark, a):
    """The topic as a stream of valid events: the event columns (event_time a UTC timestamp),
    then clock_skew_ms (a long, null when absent)."""
    from pyspark.sql import functions as F
    from pyspark.sql.types import StringType, StructField, StructType

    reader = (spark.readStream.format("kafka")
              .option("kafka.bootstrap.servers", a.brokers)
              .option("subscribe", a.topic)
              .option("startingOffsets", "earliest")
              # A record Kafka deleted before we read it is an error, not a silent skip.
              .option("failOnDataLoss", "true"))
    if a.max_offsets_per_trigger:
        reader = reader.option("maxOffsetsPerTrigger", a.max_offsets_per_trigger)
    records = reader.load()

    # `clock_skew_ms` (optional, not in the seed's schema) is read too: raw_web_events has it.
    schema = StructType([StructField(f, StringType()) for f in FIELDS + ["clock_skew_ms"]])
    parsed = records.select(
        F.length("value").alias("value_bytes"),
        F.from_json(F.col("value").cast("string"), schema).alias("e"),
    ).select("value_bytes", "e.*")

    et = F.col("event_time")
    event_time = (F.when(et.rlike(EPOCH_MS), F.timestamp_millis(et.cast("long")))
                  .when(et.rlike(RFC3339), F.to_timestamp(et)))
    parsed = parsed.withColumn("event_time", event_time)

    ok = F.col("value_bytes") <= MAX_EVENT_BYTES
    for f in REQUIRED:
        ok = ok & F.col(f).isNotNull() & (F.length(f) > 0)
    ok = ok & (F.octet_length("page_url") <= MAX_PAGE_URL_BYTES)
    ok = ok & (F.col("country").isNull() | F.col("country").rlike("^[A-Z]{2}$"))
    ok = ok & F.col("event_time").isNotNull()
    skew = F.col("clock_skew_ms")
    parsed = parsed.withColumn(
        "clock_skew_ms", F.when(skew.rlike(EPOCH_MS), skew.cast("long")))
    return parsed.where(ok).select(*FIELDS, "clock_skew_ms")


def insert_into(table):
    def write(batch, batch_id):
        # insertInto matches columns by position: the table's columns, then `dt`.
        batch.write.mode("append").insertInto(table)
    return write


def log_progress(queries, logged):
    """Logs the micro-batches completed since the last call (rows, ms per phase, watermark) to
    stderr; `logged` maps a query name to how many of its batches are logged already."""
    for q in queries:
        progress = q.recentProgress
        for p in progress[logged.get(q.name, 0):]:
            phases = ",".join(f"{k}:{v}" for k, v in sorted(p["durationMs"].items()))
            log("batch", query=q.name, id=p["batchId"], rows=p["numInputRows"], ms=phases,
                watermark=p["eventTime"].get("watermark", "-"))
        logged[q.name] = len(progress)


def main():
    a = parse_args()
    spark = session(a)
    spark.sparkContext.setLogLevel("WARN")
    create_tables(spark, a)
    ready = time.time()
    log("session ready", startup_s=f"{ready - STARTED:.1f}", spark=spark.version)

    events = valid_events(spark, a)
    db = a.database

    def start(name, df, output_mode):
        w = (df.writeStream.queryName(name).outputMode(output_mode)
             .option("checkpointLocation", f"{a.checkpoint_dir}/{name}")
             .foreachBatch(insert_into(f"{db}.{name}")))
        if a.mode == "drain":
            w = w.trigger(availableNow=True)
        else:
            w = w.trigger(processingTime=a.trigger_interval)
        return w.start()

    from pyspark.sql import functions as F

    queries = []
    began = time.time()
    if "raw_web_events" in a.tables:
        raw = events.withColumn("dt", F.date_format("event_time", "yyyy-MM-dd"))
        queries.append(start("raw_web_events", raw, "append"))
    if "page_analytics" in a.tables:
        counts = (events
                  .withWatermark("event_time", a.watermark_delay)
                  .groupBy(F.window("event_time", a.window), "page_url", "event_type")
                  .count()
                  .select("page_url", "event_type",
                          F.col("count").alias("event_count"),
                          F.col("window.start").alias("window_start"),
                          F.col("window.end").alias("window_end"),
                          F.date_format("window.start", "yyyy-MM-dd").alias("dt")))
        queries.append(start("page_analytics", counts, "append"))
    print(json.dumps({"ready": True, "queries": [q.name for q in queries]}), flush=True)

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    failed = None
    logged = {}
    if a.mode == "drain":
        for q in queries:
            while q.isActive and not stop.is_set():
                q.awaitTermination(1)
                log_progress(queries, logged)
    else:
        deadline = began + a.run_for if a.run_for else None
        while not stop.is_set() and all(q.isActive for q in queries):
            if deadline and time.time() >= deadline:
                break
            time.sleep(0.5)
            log_progress(queries, logged)
    ended = time.time()
    log_progress(queries, logged)
    for q in queries:
        if q.isActive:
            q.stop()
        if q.exception():
            failed = f"{q.name}: {str(q.exception()).splitlines()[0]}"

    seconds = ended - began
    # Every batch's progress (kept: spark.sql.streaming.numRecentProgressUpdates above).
    rows = {q.name: sum(p["numInputRows"] for p in q.recentProgress) for q in queries}
    batches = {q.name: len(q.recentProgress) for q in queries}
    # Events read from Kafka: every query reads the whole topic; report the first one's count.
    events_read = next(iter(rows.values()), 0)
    summary = {
        "mode": a.mode,
        "topic": a.topic,
        "database": db,
        "spark": spark.version,
        "startup_seconds": round(ready - STARTED, 2),
        "seconds": round(seconds, 2),
        "events": events_read,
        "events_per_sec": round(events_read / seconds) if seconds > 0 else None,
        "input_rows": rows,
        "batches": batches,
        "shuffle_partitions": a.shuffle_partitions,
        "trigger": "availableNow" if a.mode == "drain" else a.trigger_interval,
        "error": failed,
    }
    print(json.dumps(summary), flush=True)
    spark.stop()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
