//! The fault-injection suite (issue 8): the real binaries on the real local stack, faults
//! injected while they run, and every case judged against ground truth from the producer's
//! log (the oracle, `wa_tests::oracle`) and against a failure-free run, through Hive SQL.
//!
//! Outages of the stack's services (a DataNode, the Kafka broker, the metastore) are in
//! `faults/outages.rs`.

#![allow(clippy::unwrap_used)] // a test fails by panicking

#[path = "dataflow/support.rs"]
#[allow(dead_code)] // shared with the dataflow and end-to-end tests
mod support;

#[path = "faults/outages.rs"]
mod outages;
