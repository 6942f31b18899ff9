//! `wa-dataflow`: the timely/differential cluster that replaces Spark.
//!
//! What it will own (SPEC §4): a Kafka source operator per worker (manual
//! partition assignment, per-partition watermarks that are the timely
//! frontier), validation with the shared event model, tumbling and hopping
//! event-time windows counted per (page_url, event_type), late-event and
//! rejected-record routing, ORC output through the `hive` crate, and offset
//! checkpoints on HDFS taken only after the outputs they cover are committed.
//! Processes and worker threads come from `workers.toml`.

fn main() -> anyhow::Result<()> {
    anyhow::bail!("wa-dataflow is not built yet (see the dataflow issue)")
}
