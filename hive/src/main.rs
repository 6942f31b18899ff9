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
//! `WA_DATABASE`, `WA_METASTORE_TIMEOUT_MS`); defaults match the local
//! stack.

use std::time::Duration;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use hive::config::{DEFAULT_DATABASE, DEFAULT_HDFS_URL, DEFAULT_METASTORE_URI, DEFAULT_WAREHOUSE};
use hive::metastore::Created;
use hive::{HiveConfig, HiveTables, Table};

/// Age after which `repair` deletes a temporary file: 1 day, far longer than any file write.
const STALE_TEMP_FILE_AGE: Duration = Duration::from_secs(24 * 3600);

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
    /// Longest time one metastore call may take, in milliseconds.
    #[arg(long, env = "WA_METASTORE_TIMEOUT_MS", default_value_t = hive::config::DEFAULT_METASTORE_TIMEOUT.as_millis() as u64, global = true)]
    metastore_timeout_ms: u64,
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
    let cli = Cli::parse();
    let config = HiveConfig {
        metastore_uri: cli.metastore_uri,
        hdfs_url: cli.hdfs_url,
        warehouse: cli.warehouse,
        database: cli.database,
        metastore_timeout: Duration::from_millis(cli.metastore_timeout_ms),
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
