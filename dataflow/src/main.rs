//! `wa-dataflow`: the timely/differential cluster that replaces Spark (see the crate docs).

use clap::Parser as _;

fn main() -> anyhow::Result<()> {
    let _cli = dataflow::config::Cli::parse();
    anyhow::bail!("wa-dataflow is not built yet (see the dataflow issue)")
}
