//! A second, private Spark Thrift Server (Hive SQL through Hive's own ORC reader) whose JVM runs
//! in a chosen time zone, for tests that prove results do not depend on the reader's zone.
//!
//! It is started with `tests/stack/stack thrift start` on a free port and a state folder of its
//! own, so the shared server is never touched; it uses the shared metastore and HDFS, and stops
//! when the [`SqlEngine`] is dropped. Starting one takes tens of seconds and about 1 GB of memory.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{bail, Context, Result};

use crate::hive_sql::parse_json_lines;
use crate::ResultSet;

/// A running private Thrift server; stopped on drop.
#[derive(Debug)]
pub struct SqlEngine {
    time_zone: String,
    port: u16,
    state_dir: PathBuf,
    script: PathBuf,
}

impl SqlEngine {
    /// Starts a Thrift server whose JVM (`-Duser.timezone`) and so Spark session run in
    /// `time_zone` (e.g. `America/New_York`), and waits until it accepts connections.
    ///
    /// # Errors
    /// When the script fails to start it (its log is in the error).
    pub fn start(time_zone: &str) -> Result<Self> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let repo = Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .context("tests/ has a parent")?;
        let state_dir = std::env::temp_dir().join(format!("wa-sql-engine-{port}"));
        std::fs::create_dir_all(&state_dir)?;
        let engine = SqlEngine {
            time_zone: time_zone.to_string(),
            port,
            state_dir,
            script: repo.join("tests/stack/stack"),
        };
        engine
            .run(&["thrift", "start"])
            .context("starting a private Thrift server")?;
        Ok(engine)
    }

    /// The JVM time zone it runs in.
    pub fn time_zone(&self) -> &str {
        &self.time_zone
    }

    fn run(&self, args: &[&str]) -> Result<String> {
        let out = Command::new("bash")
            .arg(&self.script)
            .args(args)
            .env("WA_STACK_DIR", &self.state_dir)
            .env("WA_THRIFT_PORT", self.port.to_string())
            .env("WA_SQL_TZ", &self.time_zone)
            .stdin(Stdio::null())
            .output()
            .with_context(|| format!("running {}", self.script.display()))?;
        if !out.status.success() {
            let log =
                std::fs::read_to_string(self.state_dir.join("logs/thrift.log")).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(30).collect();
            bail!(
                "`stack {}` (private server, port {}) exited with {}:\n{}\nlog tail:\n{}",
                args.join(" "),
                self.port,
                out.status,
                String::from_utf8_lossy(&out.stderr),
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            );
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// As [`crate::Stack::hive_sql`], on this server.
    ///
    /// # Errors
    /// As [`crate::Stack::hive_sql`].
    pub fn hive_sql(&self, statements: &[&str]) -> Result<Vec<ResultSet>> {
        let mut args = vec!["sql"];
        args.extend_from_slice(statements);
        parse_json_lines(&self.run(&args)?)
    }

    /// As [`crate::Stack::query`], on this server.
    ///
    /// # Errors
    /// As [`crate::Stack::query`].
    pub fn query(&self, sql: &str) -> Result<ResultSet> {
        self.hive_sql(&[sql])?
            .pop()
            .with_context(|| format!("`{sql}` returned no result set"))
    }
}

impl Drop for SqlEngine {
    fn drop(&mut self) {
        if let Err(e) = self.run(&["thrift", "stop"]) {
            eprintln!("[wa-tests] could not stop the private Thrift server: {e:#}");
        }
        let _ = std::fs::remove_dir_all(&self.state_dir);
    }
}
