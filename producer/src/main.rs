//! `wa-producer`: puts browser events on the `web_analytics` Kafka topic (`producer/README.md`).
//!
//! - `simulate` ([`simulate`]): seeded, reproducible traffic from the [`generator`] model
//!   (users, sessions, Zipf page popularity, out-of-order and late events for testing).
//! - `serve` ([`serve`]): the HTTP collector for real browser beacons (`POST /collect`,
//!   `GET /collect.js`, `/health`, `/metrics`).
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
mod serve;
mod simulate;
mod skew;
mod user_agent;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use tracing_subscriber::EnvFilter;

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

fn main() -> Result<()> {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();
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
