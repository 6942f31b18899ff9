//! `wa-dataflow`: the timely/differential cluster that replaces Spark (see the crate docs and
//! `docs/dataflow-design.md`).

use clap::Parser as _;
use dataflow::config::{Cli, Command};
use tracing_subscriber::EnvFilter;

/// mimalloc instead of glibc's malloc, for a flat memory profile. Rows are allocated on worker
/// threads and freed on tokio's commit threads; glibc's per-thread arenas let that creep up
/// with the stream's length, mimalloc starts higher and stays put. Measured on one build with
/// each (1 × 2 workers, `docs/BENCHMARKS.md`): glibc 410 MiB at 2 M events → 470 MiB at
/// 20 M (+15 %), mimalloc 564 → 604 MiB (+7 %), throughput within noise.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    // Crash-only: a panicking worker would leave its peers waiting for its progress forever,
    // so any panic ends the process (the checkpoint makes a restart exact).
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        default_hook(info);
        std::process::exit(101);
    }));
    let cli = Cli::parse();
    match cli.command {
        None => run(cli.run),
        Some(Command::Run(args)) => run(args),
        Some(Command::Launch(args)) => dataflow::launch::launch(args),
    }
}

fn run(args: dataflow::config::RunArgs) -> anyhow::Result<()> {
    dataflow::launch::watch_launcher();
    dataflow::pipeline::run(args)
}
