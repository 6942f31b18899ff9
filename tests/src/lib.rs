//! Test support for the integration and end-to-end tests: everything a test needs to run
//! against the local real stack (Kafka, HDFS with 2 DataNodes, Hive Metastore, Spark Thrift
//! Server) started by `tests/stack/stack`.
//!
//! - [`stack()`] makes sure the stack is up, starting it once per test run if it is not, and
//!   gives the endpoints. A missing prerequisite (java, mvn, python3) fails the test with a
//!   message saying what to install; nothing is ever skipped.
//! - [`binary`] builds a workspace binary (`wa-producer`, …) and gives its path, so tests run
//!   the real programs.
//! - [`unique_name`] gives each test its own topic, table and HDFS path names.
//! - [`Stack::hive_sql`] runs Hive SQL through the Thrift server (Hive's own ORC reader) and
//!   returns typed rows; [`SqlEngine`] starts a private one in another JVM time zone.
//! - [`oracle`] recomputes from a topic's content what the dataflow's tables must hold,
//!   reads them back through Hive SQL and prints a readable diff; [`dataflow`] runs the real
//!   `wa-dataflow` cluster from a private `workers.toml` and kills every process of it on drop.
//! - [`Stack::datanode_outage`], [`Stack::broker_outage`] and [`Stack::metastore_outage`]
//!   inject faults (the service comes back when the [`Outage`] ends or is dropped); tests that
//!   do must hold [`Stack::exclusive`], every other test holds [`Stack::shared`], so a fault
//!   never hits an unrelated test.
//! - [`corpus`] holds more than 50 kinds of malformed records, each with its rejection reason.
//! - [`Stack::orc_tools`] runs Apache ORC's Java tools (`meta`, `data`) of the ORC release
//!   Hive 4.0.1 ships on local copies of our files.
//!
//! Must never: mock a service, or pass when a service is missing.

mod bin;
mod collector;
pub mod corpus;
pub mod dataflow;
mod hive_sql;
mod kafka;
pub mod oracle;
mod orc_tools;
mod sql_engine;
mod stack;
pub mod web;

pub use bin::{binary, simulate_command};
pub use collector::{free_port, Collector};
pub use hive_sql::{Column, ResultSet};
pub use kafka::{create_topic, kafka_config, read_topic, read_topic_records, ReadRecord};
pub use orc_tools::{DataRow, FileMeta, OrcTools};
pub use sql_engine::SqlEngine;
pub use stack::{stack, Outage, Stack, StackGuard};

/// A name no other test (or earlier run) uses: `PREFIX_` followed by 12 lowercase hex digits.
///
/// Valid as a Kafka topic, a Hive table or database name and an HDFS path segment, as long as
/// `prefix` is made of lowercase ASCII letters, digits and `_`.
pub fn unique_name(prefix: &str) -> String {
    let id = uuid::Uuid::new_v4().simple().to_string();
    format!("{prefix}_{}", &id[..12])
}
