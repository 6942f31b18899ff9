//! `wa-dashboard`: serves a live page of the results feed and the dataflow processes' health.
//! See the `dashboard` crate docs and README.

use anyhow::Result;
use clap::Parser;
use dashboard::config::Cli;
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    dashboard::run(Cli::parse()).await
}
