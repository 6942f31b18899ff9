//! `wa-archiver`: Kafka → HDFS raw archive, exactly once; `wa-archiver replay` publishes a
//! date range of the archive back to a topic. See the `archiver` crate docs and README.

use anyhow::Result;
use archiver::config::{Cli, Command};
use clap::Parser as _;
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    match cli.command {
        None => archiver::service::run(cli.run).await,
        Some(Command::Run(args)) => archiver::service::run(args).await,
        Some(Command::Replay(args)) => {
            let published = archiver::replay::replay(args).await?;
            println!("{published}");
            Ok(())
        }
    }
}
