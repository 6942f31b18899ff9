//! `wa-hive`: create and inspect our Hive tables.
//!
//! ```text
//! wa-hive init                 create the database and all tables (idempotent)
//! wa-hive tables               list the tables of the database
//! wa-hive partitions TABLE     list a table's partitions (dt=YYYY-MM-DD)
//! wa-hive repair               add committed partition directories the metastore lacks,
//!                              delete temporary files older than a day
//! wa-hive ddl                  print the DDL as it would run (placeholders filled)
//! ```
//!
//! Every flag has an environment twin (`WA_METASTORE_URI`, `WA_HDFS_URL`, `WA_WAREHOUSE`,
//! `WA_DATABASE`, `WA_METASTORE_TIMEOUT`); defaults match the local stack. The timeout is a
//! duration read by [`wa_cli::duration`], as in every program; its old spelling in
//! milliseconds, `--metastore-timeout-ms` / `WA_METASTORE_TIMEOUT_MS`, is deprecated and still
//! read ([`RENAMED`]).

use std::time::Duration;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use hive::config::{DEFAULT_DATABASE, DEFAULT_HDFS_URL, DEFAULT_METASTORE_URI, DEFAULT_WAREHOUSE};
use hive::metastore::Created;
use hive::{HiveConfig, HiveTables, Table};
use wa_cli::renamed::{OldValue, Renamed};

/// Age after which `repair` deletes a temporary file: 1 day, far longer than any file write.
const STALE_TEMP_FILE_AGE: Duration = Duration::from_secs(24 * 3600);

/// The renamed settings of `wa-hive`, still read under their old names with a warning
/// ([`wa_cli::renamed`]): `--metastore-timeout-ms` / `WA_METASTORE_TIMEOUT_MS` (whole
/// milliseconds) is now `--metastore-timeout` / `WA_METASTORE_TIMEOUT`, a duration.
const RENAMED: &[Renamed] = &[Renamed {
    id: "metastore_timeout",
    old_flag: Some("metastore-timeout-ms"),
    old_env: Some("WA_METASTORE_TIMEOUT_MS"),
    old_value: OldValue::Millis,
}];

#[derive(Debug, Parser)]
#[command(
    name = "wa-hive",
    version,
    about = "Create and inspect the web analytics Hive tables"
)]
struct Cli {
    /// Hive Metastore Thrift address.
    #[arg(long, env = "WA_METASTORE_URI", default_value = DEFAULT_METASTORE_URI, global = true)]
    metastore_uri: String,
    /// HDFS NameNode URL (hdfs-native also honours HADOOP_CONF_DIR).
    #[arg(long, env = "WA_HDFS_URL", default_value = DEFAULT_HDFS_URL, global = true)]
    hdfs_url: String,
    /// Warehouse directory (URL or path on --hdfs-url); database `x` lives in <warehouse>/x.db.
    #[arg(long, env = "WA_WAREHOUSE", default_value = DEFAULT_WAREHOUSE, global = true)]
    warehouse: String,
    /// Hive database of the tables.
    #[arg(long, env = "WA_DATABASE", default_value = DEFAULT_DATABASE, global = true)]
    database: String,
    /// Longest time one metastore call may take: a duration (`10s`, `500ms`, `1m`; a bare
    /// number is seconds). Was `--metastore-timeout-ms` / `WA_METASTORE_TIMEOUT_MS`
    /// (milliseconds; deprecated, still read).
    // The default is hive::config::DEFAULT_METASTORE_TIMEOUT, written out (a test compares).
    #[arg(long, env = "WA_METASTORE_TIMEOUT", default_value = "10s",
          value_parser = wa_cli::parse_duration, global = true)]
    metastore_timeout: Duration,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create the database and all tables unless they exist (an existing table must match its DDL).
    Init,
    /// List the tables of the database.
    Tables,
    /// List the partitions of TABLE.
    Partitions {
        /// Table name, e.g. page_analytics.
        table: String,
    },
    /// Add to the metastore every committed partition directory it lacks, and delete temporary
    /// files older than a day (left by crashed writers), printing each.
    Repair,
    /// Print the DDL of every table with the placeholders filled in.
    Ddl,
}

#[tokio::main]
async fn main() -> Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    // The old names of renamed settings are still read; each use is logged as a warning.
    let (cli, deprecations) = wa_cli::renamed::parse::<Cli>(RENAMED);
    wa_cli::renamed::warn(&deprecations);
    let config = HiveConfig {
        metastore_uri: cli.metastore_uri,
        hdfs_url: cli.hdfs_url,
        warehouse: cli.warehouse,
        database: cli.database,
        metastore_timeout: cli.metastore_timeout,
        ..HiveConfig::default()
    };
    if let Command::Ddl = cli.command {
        config.validate()?;
        for table in Table::ALL {
            println!(
                "{}",
                table
                    .def()
                    .render(&config.database, &config.database_location())?
            );
        }
        return Ok(());
    }
    let tables = HiveTables::connect(config).await?;
    match cli.command {
        Command::Init => {
            for (name, created) in tables.init().await.context("init failed")? {
                let what = match created {
                    Created::New => "created",
                    Created::Existing => "exists",
                };
                println!("{what}\t{name}");
            }
        }
        Command::Tables => {
            for name in tables.tables().await? {
                println!("{name}");
            }
        }
        Command::Partitions { table } => {
            for name in tables.partitions(&table).await? {
                println!("{name}");
            }
        }
        Command::Repair => {
            let added = tables.repair().await.context("repair failed")?;
            for p in &added {
                let db = &tables.config().database;
                println!("added\t{db}.{}\t{}", p.table, p.dt.partition_name());
            }
            println!("{} partition(s) added", added.len());
            let removed = tables
                .remove_stale_temp_files(STALE_TEMP_FILE_AGE)
                .await
                .context("removing stale temporary files failed")?;
            for path in &removed {
                println!("removed\t{path}");
            }
            println!("{} stale temporary file(s) removed", removed.len());
        }
        Command::Ddl => unreachable!("handled above"),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use wa_cli::renamed::try_parse_from;

    use super::*;

    /// `argv` (after `wa-hive`) parsed as `main` does, with `env` as the renamed settings'
    /// environment; the old names used.
    fn parse(argv: &[&str], env: &[(&str, &str)]) -> (Cli, Vec<String>) {
        let lookup = wa_cli::renamed::env_from(env);
        let argv = std::iter::once("wa-hive").chain(argv.iter().copied());
        let (cli, deprecations) = try_parse_from::<Cli, _, _>(argv, RENAMED, lookup).unwrap();
        (
            cli,
            deprecations.iter().map(|d| d.old().to_owned()).collect(),
        )
    }

    #[test]
    fn defaults_are_the_hive_crates() {
        let (cli, olds) = parse(&["tables"], &[]);
        let hive = HiveConfig::default();
        assert_eq!(cli.metastore_uri, hive.metastore_uri);
        assert_eq!(cli.hdfs_url, hive.hdfs_url);
        assert_eq!(cli.warehouse, hive.warehouse);
        assert_eq!(cli.database, hive.database);
        assert_eq!(cli.metastore_timeout, hive.metastore_timeout);
        assert!(olds.is_empty());
    }

    #[test]
    fn the_metastore_timeout_is_a_duration_and_its_old_milliseconds_are_read() {
        let (cli, _) = parse(&["init", "--metastore-timeout", "1.5s"], &[]);
        assert_eq!(cli.metastore_timeout, Duration::from_millis(1500));
        let (cli, olds) = parse(&["--metastore-timeout-ms", "2500", "init"], &[]);
        assert_eq!(cli.metastore_timeout, Duration::from_millis(2500));
        assert_eq!(olds, ["--metastore-timeout-ms"]);
        let (cli, olds) = parse(&["repair"], &[("WA_METASTORE_TIMEOUT_MS", "30000")]);
        assert_eq!(cli.metastore_timeout, Duration::from_secs(30));
        assert_eq!(olds, ["WA_METASTORE_TIMEOUT_MS"]);
    }
}
