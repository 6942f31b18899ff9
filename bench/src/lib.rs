//! Benchmarks of the pipeline (issue 10), apart from the test suite.
//!
//! - `benches/`: criterion benches of each stage an event goes through in `wa-dataflow` —
//!   [`events::parse`] (parse + validate), window assignment, ORC encoding of both tables'
//!   batches, and the HDFS write of a finished ORC file (that one needs the local stack).
//! - [`fixtures`]: the inputs those benches use, shaped like `wa-producer simulate` output.
//! - [`kafka_count`] (binary `wa-bench kafka-count`): the bare limit — a consumer that only
//!   counts the records and bytes of a topic.
//! - [`state_memory`] (binary `wa-bench state-memory`): the memory of the visitor and session
//!   state at its peak and after it is released.
//! - `run`: the end-to-end bench script (ours vs. the seed's Spark job vs. the limit), and
//!   `spark/`: that Spark job.
//!
//! Nothing here is used by the pipeline itself.

pub mod fixtures;
pub mod kafka_count;
pub mod state_memory;
