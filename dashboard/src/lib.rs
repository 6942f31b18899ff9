//! `wa-dashboard`: a live page of the pipeline's results and of the dataflow processes'
//! health. It reads the results feed (every final row of `page_analytics`,
//! `visitor_analytics` and `sessions`, published by the dataflow once a checkpoint covers it)
//! and the processes' `/metrics`, and serves the page, a JSON snapshot and a stream of
//! snapshots (Server-Sent Events). It writes nothing anywhere.
//!
//! The path of the data: [`feed`] reads records, [`record`] checks and reads each one,
//! [`model`] holds the rows by key over the last hour of event time; [`scrape`] reads every
//! process's page with [`metrics`]; [`snapshot`] is the JSON both become; [`http`] serves it.

pub mod config;
pub mod feed;
pub mod http;
pub mod metrics;
pub mod model;
pub mod record;
pub mod scrape;
pub mod snapshot;
pub mod state;

use std::sync::Arc;

use anyhow::{Context, Result};
use tracing::info;

/// Runs the dashboard until SIGINT or SIGTERM: listens on `--listen` first (so `/health`
/// answers as soon as possible), then reads the feed and scrapes the processes.
///
/// # Errors
/// The address cannot be bound, or the Kafka consumer or HTTP client cannot be created
/// (a bad `-X`). Once running, Kafka and scrape failures are logged and shown, never fatal.
pub async fn run(cli: config::Cli) -> Result<()> {
    let urls = cli.metrics_urls();
    let state = Arc::new(state::State::new(&urls));
    let listener = tokio::net::TcpListener::bind(cli.listen)
        .await
        .with_context(|| format!("listening on {}", cli.listen))?;
    info!(listen = %listener.local_addr()?, topic = %cli.results_topic, processes = urls.len(), "wa-dashboard serving");
    feed::spawn(
        state.clone(),
        &cli.kafka_brokers,
        &cli.kafka_properties,
        cli.results_topic.clone(),
        cli.history,
    )?;
    scrape::spawn(state.clone(), urls, cli.scrape_interval)?;
    let server = axum::serve(listener, http::router(state));
    // No graceful drain: `/events` streams never end, and nothing is lost by cutting them
    // (the page reconnects, the dashboard holds no state worth keeping).
    tokio::select! {
        result = server => result.context("serving HTTP")?,
        () = shutdown_signal() => info!("stopping"),
    }
    Ok(())
}

/// Resolves on SIGINT or SIGTERM.
async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = interrupt => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = interrupt.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
}
