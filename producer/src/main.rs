//! `wa-producer`: puts browser events on the `web_analytics` Kafka topic (`producer/README.md`).
//!
//! - `simulate` ([`simulate`]): seeded, reproducible traffic from the [`generator`] model
//!   (users, sessions, Zipf page popularity, out-of-order and late events for testing).
//! - `serve` ([`serve`]): the HTTP collector for real browser beacons (`POST /collect`,
//!   `GET /collect.js`, `/health`; `/metrics` on its own address), under the connection
//!   limits of [`limits`].
//!
//! Both publish each event's wire form ([`events::WebEvent::to_json`]) keyed by `session_id`
//! through one idempotent Kafka producer ([`kafka`]), with the record timestamp set to the
//! ingestion time (the collector's receipt time; the simulator's schedule), never the event
//! time, which stays in the value. Every flag has a `WA_…` environment twin; defaults match
//! the local stack.
//!
//! Must never lose an accepted event silently: a full Kafka queue is answered with 503,
//! invalid input with 400 and a reason, and `simulate` fails unless Kafka acknowledged every
//! event it sent.

mod batch;
mod generator;
mod kafka;
mod limits;
mod serve;
mod simulate;
mod skew;
mod user_agent;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use tracing_subscriber::EnvFilter;
use wa_cli::renamed::{OldValue, Renamed};

/// Simulated and real browser traffic into Kafka.
#[derive(Debug, Parser)]
#[command(name = "wa-producer", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Send simulated traffic (seeded, reproducible) to Kafka.
    Simulate(simulate::SimulateArgs),
    /// Run the HTTP collector for browser beacons.
    Serve(serve::ServeArgs),
}

/// The renamed settings of `wa-producer`, still read under their old names with a warning
/// ([`wa_cli::renamed`]):
/// - `--brokers` is `--kafka-brokers`, as in every other program (`WA_KAFKA_BROKERS` is
///   unchanged);
/// - `simulate`'s `--out-of-order-ms` / `WA_SIM_OUT_OF_ORDER_MS` and `--late-by-ms` /
///   `WA_SIM_LATE_BY_MS`, whole milliseconds, are durations like every other program's:
///   `--out-of-order` / `WA_SIM_OUT_OF_ORDER`, `--late-by` / `WA_SIM_LATE_BY` (an old value
///   `N` is read as `Nms`).
const RENAMED: &[Renamed] = &[
    Renamed {
        id: "brokers",
        old_flag: Some("brokers"),
        old_env: None,
        old_value: OldValue::Same,
    },
    Renamed {
        id: "out_of_order",
        old_flag: Some("out-of-order-ms"),
        old_env: Some("WA_SIM_OUT_OF_ORDER_MS"),
        old_value: OldValue::Millis,
    },
    Renamed {
        id: "late_by",
        old_flag: Some("late-by-ms"),
        old_env: Some("WA_SIM_LATE_BY_MS"),
        old_value: OldValue::Millis,
    },
];

fn main() -> Result<()> {
    // The old names of renamed settings are still read; each use is logged as a warning.
    let (cli, deprecations) = wa_cli::renamed::parse::<Cli>(RENAMED);
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();
    wa_cli::renamed::warn(&deprecations);
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    runtime.block_on(async move {
        match cli.command {
            Command::Simulate(args) => {
                let stop = Arc::new(AtomicBool::new(false));
                let stop_on_signal = stop.clone();
                tokio::spawn(async move {
                    shutdown_signal().await;
                    tracing::info!("stopping: flushing what was sent");
                    stop_on_signal.store(true, Ordering::Relaxed);
                });
                tokio::task::spawn_blocking(move || simulate::run(&args, stop))
                    .await
                    .context("simulation thread")?
                    .map(|_| ())
            }
            Command::Serve(args) => serve::run(args).await,
        }
    })
}

/// Resolves on Ctrl-C or SIGTERM (how Compose and Kubernetes stop a container).
pub(crate) async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = ctrl_c => {}
                    _ = term.recv() => {}
                }
            }
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGTERM; Ctrl-C only");
                let _ = ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use wa_cli::renamed::try_parse_from;

    use super::*;

    /// `simulate`'s settings from `argv` (after `wa-producer simulate`), parsed as `main`
    /// does with `env` as the renamed settings' environment, and the old names used.
    fn simulate(argv: &[&str], env: &[(&str, &str)]) -> (simulate::SimulateArgs, Vec<String>) {
        let lookup = wa_cli::renamed::env_from(env);
        let argv = ["wa-producer", "simulate"]
            .into_iter()
            .chain(argv.iter().copied());
        let (cli, deprecations) = try_parse_from::<Cli, _, _>(argv, RENAMED, lookup).unwrap();
        let Command::Simulate(args) = cli.command else {
            panic!("simulate expected")
        };
        (
            args,
            deprecations.iter().map(|d| d.old().to_owned()).collect(),
        )
    }

    #[test]
    fn simulate_durations() {
        let (args, olds) = simulate(&[], &[]);
        assert_eq!(
            (args.out_of_order, args.late_by),
            (Duration::ZERO, Duration::from_secs(120))
        );
        assert_eq!(args.duration, None);
        assert!(olds.is_empty());
        let (args, _) = simulate(
            &[
                "--duration",
                "1min",
                "--out-of-order",
                "1.5s",
                "--late-by",
                "30",
            ],
            &[],
        );
        assert_eq!(args.duration, Some(Duration::from_secs(60)));
        assert_eq!(args.out_of_order, Duration::from_millis(1500));
        assert_eq!(args.late_by, Duration::from_secs(30));
    }

    #[test]
    fn millisecond_flags_and_variables_are_still_read() {
        let (args, olds) = simulate(&["--out-of-order-ms", "2000", "--late-by-ms=60000"], &[]);
        assert_eq!(args.out_of_order, Duration::from_secs(2));
        assert_eq!(args.late_by, Duration::from_secs(60));
        assert_eq!(olds, ["--out-of-order-ms", "--late-by-ms"]);
        let env = [
            ("WA_SIM_OUT_OF_ORDER_MS", "1000"),
            ("WA_SIM_LATE_BY_MS", "8000"),
        ];
        let (args, olds) = simulate(&[], &env);
        assert_eq!(args.out_of_order, Duration::from_secs(1));
        assert_eq!(args.late_by, Duration::from_secs(8));
        assert_eq!(olds, ["WA_SIM_OUT_OF_ORDER_MS", "WA_SIM_LATE_BY_MS"]);
        // A flag wins over an old variable.
        let (args, _) = simulate(&["--late-by", "10s"], &env);
        assert_eq!(args.late_by, Duration::from_secs(10));
    }

    #[test]
    fn the_old_brokers_flag_is_read_as_kafka_brokers_in_both_commands() {
        let (args, olds) = simulate(&["--brokers", "k1:9092"], &[]);
        assert_eq!(args.kafka.brokers, "k1:9092");
        assert_eq!(olds, ["--brokers"]);
        let (args, olds) = simulate(&["--kafka-brokers=k2:9092"], &[]);
        assert_eq!(args.kafka.brokers, "k2:9092");
        assert!(olds.is_empty());
        let argv = ["wa-producer", "serve", "--brokers=k3:9092"];
        let (cli, deprecations) =
            try_parse_from::<Cli, _, _>(argv, RENAMED, wa_cli::renamed::env_from(&[])).unwrap();
        let Command::Serve(args) = cli.command else {
            panic!("serve expected")
        };
        assert_eq!(args.kafka.brokers, "k3:9092");
        assert_eq!(deprecations[0].old(), "--brokers");
    }

    #[test]
    fn serve_is_untouched_by_simulate_renames() {
        let argv = ["wa-producer", "serve"];
        let env = |name: &str| (name == "WA_SIM_LATE_BY_MS").then(|| "8000".to_owned());
        let (cli, deprecations) = try_parse_from::<Cli, _, _>(argv, RENAMED, env).unwrap();
        assert!(matches!(cli.command, Command::Serve(_)));
        assert!(deprecations[0]
            .to_string()
            .contains("not read by this command"));
    }
}
