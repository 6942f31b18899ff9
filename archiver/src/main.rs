//! `wa-archiver`: keeps every Kafka record of `web_analytics` verbatim in HDFS.
//!
//! What it will own (SPEC §5): consuming all partitions, writing each record's
//! value one per line under `/raw/web_analytics/date=YYYY-MM-DD/` (date of the
//! record timestamp, UTC), committing files atomically (temporary name, then
//! rename) with the partition and offset range in the file name, rolling by
//! size and time, and recovering after a crash from what HDFS holds so every
//! record is archived exactly once. It also registers the
//! `raw_web_events_json` Hive table's partitions.

fn main() -> anyhow::Result<()> {
    anyhow::bail!("wa-archiver is not built yet (see the archiver issue)")
}
