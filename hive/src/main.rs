//! `wa-hive`: table initialisation and inspection for our Hive tables.
//!
//! What it will own (SPEC §3): the table definitions in `hive/ddl/*.sql`
//! (`raw_web_events`, `page_analytics`, `rejected_web_events`,
//! `late_web_events`), the Arrow schemas and ORC writing (with column
//! statistics Hive's reader needs), atomic file commits into `dt=` partitions
//! on HDFS, and the metastore client that creates tables and adds partitions.
//! Subcommands: `init`, `tables`, `partitions TABLE`, `repair`.

fn main() -> anyhow::Result<()> {
    anyhow::bail!("wa-hive is not built yet (see the Hive layer issue)")
}
