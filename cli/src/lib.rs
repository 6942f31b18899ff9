//! The command-line vocabulary shared by every program (`wa-producer`, `wa-archiver`,
//! `wa-dataflow`, `wa-hive`, `wa-bench`), so a setting is written the same way wherever it
//! appears.
//!
//! - Every setting is a long flag with an environment twin `WA_…` (shown by `--help`); a flag
//!   beats its variable, which beats the default. A setting shared by several programs has the
//!   same flag and variable in each (`--database` / `WA_DATABASE`, `--roll-interval` /
//!   `WA_ROLL_INTERVAL`), and its default comes from one constant (the Hive endpoints and
//!   database: `hive::config`).
//! - A time span is a **duration**, never a number with the unit in its name (`--roll-interval
//!   1m`, not `--roll-interval-secs 60`): [`duration`] is the one parser of every duration flag.
//!   A bare number is seconds, so `--roll-interval 60` and `0.5` still work.
//! - A renamed flag or variable keeps working under its old name, with a warning logged at
//!   start, until it is removed: [`renamed`].
//!
//! Kafka client properties (`-X`, `WA_KAFKA_PROPERTIES`) are read by the `kafka-properties`
//! crate, which needs librdkafka; this crate needs only clap and humantime, so `wa-hive` uses it
//! too.

pub mod duration;
pub mod renamed;

pub use duration::{parse_duration, DurationError};
