//! `wa-archiver`: Kafka → HDFS raw archive, exactly once; `wa-archiver replay` publishes a
//! date range of the archive back to a topic. See the `archiver` crate docs and README.

use anyhow::Result;
use archiver::config::{Cli, Command, RENAMED};
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    // The old names of renamed settings are still read; each use is logged as a warning.
    let (cli, deprecations) = wa_cli::renamed::parse::<Cli>(RENAMED);
    wa_cli::renamed::warn(&deprecations);
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
