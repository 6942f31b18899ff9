//! Running the real `wa-dataflow` cluster in tests: a private process list (`workers.toml`
//! with free local ports), its own Hive database, checkpoint directory and consumer group,
//! logs in a file, and no process left behind.
//!
//! A [`Dataflow`] is either one `wa-dataflow launch` (which starts every process of the list
//! as its children) or one `wa-dataflow run --process I` per process ([`Launcher`]). Every
//! process it starts lives in one new process group; killing the cluster sends SIGKILL to
//! that group *and* to every descendant found under `/proc` (so a child that left the group
//! dies too), then checks that none survived. Dropping a [`Dataflow`] kills it.

use std::fs::File;
use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::{binary, unique_name, Stack};

/// How the processes of the cluster are started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Launcher {
    /// One `wa-dataflow launch`, which starts the processes of the list itself.
    Launch,
    /// One `wa-dataflow run --process I` per process, started by the test.
    PerProcess,
}

/// Settings of one dataflow cluster run. Fields map one to one onto `wa-dataflow` flags
/// (`dataflow/src/config.rs`); durations are passed in milliseconds (`1500ms`).
#[derive(Debug, Clone)]
pub struct DataflowOptions {
    /// `--topic`.
    pub topic: String,
    /// `--database`: the Hive database of the tables (create it with [`init_database`]).
    pub database: String,
    /// `--checkpoint-dir`, a path on the stack's HDFS.
    pub checkpoint_dir: String,
    /// `--consumer-group` (lag monitoring only).
    pub consumer_group: String,
    /// Processes in `workers.toml`.
    pub processes: usize,
    /// `workers_per_process` in `workers.toml`.
    pub workers_per_process: usize,
    /// `--window-size`.
    pub window_size: Duration,
    /// `--window-slide`; `None` for tumbling windows.
    pub window_slide: Option<Duration>,
    /// `--max-out-of-orderness`.
    pub max_out_of_orderness: Duration,
    /// `--idle-timeout`.
    pub idle_timeout: Duration,
    /// `--roll-interval`.
    pub roll_interval: Duration,
    /// `--stop-at-watermark`, UTC epoch ms; `None` runs until killed.
    pub stop_at_watermark_ms: Option<i64>,
    /// `--session-gap`; `None` leaves the dataflow's default (30 min).
    pub session_gap: Option<Duration>,
    /// `--max-session-duration`; `None` leaves the dataflow's default (24 h).
    pub max_session_duration: Option<Duration>,
    /// How the processes are started.
    pub launcher: Launcher,
    /// More flags, appended last (e.g. `["--compression", "none"]`).
    pub extra_args: Vec<String>,
    /// `--kafka-brokers`; `None`: the stack's PLAINTEXT listener.
    pub kafka_brokers: Option<String>,
    /// Environment variables of every process, e.g. `WA_KAFKA_PROPERTIES` (which keeps
    /// secrets off command lines); set after the test's own `WA_*` variables are removed.
    pub env: Vec<(String, String)>,
}

impl DataflowOptions {
    /// Defaults for a test: 1 process × 1 worker through `launch`, tumbling 1-minute windows,
    /// 3 s out-of-orderness, 5 s idle timeout, 2 s roll interval, no stop time, the dataflow's
    /// own session gap and maximum session duration; checkpoints in
    /// `/tmp/wa-tests/<database>/checkpoints` and consumer group `<database>`, both unique
    /// when `database` is (see [`crate::unique_name`]).
    pub fn new(topic: &str, database: &str) -> DataflowOptions {
        DataflowOptions {
            topic: topic.to_owned(),
            database: database.to_owned(),
            checkpoint_dir: format!("{}/checkpoints", test_root(database)),
            consumer_group: database.to_owned(),
            processes: 1,
            workers_per_process: 1,
            window_size: Duration::from_secs(60),
            window_slide: None,
            max_out_of_orderness: Duration::from_secs(3),
            idle_timeout: Duration::from_secs(5),
            roll_interval: Duration::from_secs(2),
            stop_at_watermark_ms: None,
            session_gap: None,
            max_session_duration: None,
            launcher: Launcher::Launch,
            extra_args: Vec::new(),
            kafka_brokers: None,
            env: Vec::new(),
        }
    }

    /// The same options with a `processes` × `workers_per_process` cluster.
    pub fn cluster(mut self, processes: usize, workers_per_process: usize) -> DataflowOptions {
        self.processes = processes;
        self.workers_per_process = workers_per_process;
        self
    }

    /// `"2×1"`-style label of the cluster shape, for messages.
    pub fn shape(&self) -> String {
        format!("{}×{}", self.processes, self.workers_per_process)
    }
}

/// The HDFS folder a test run keeps its non-warehouse files in (checkpoints).
fn test_root(database: &str) -> String {
    format!("/tmp/wa-tests/{database}")
}

fn millis(d: Duration) -> String {
    format!("{}ms", d.as_millis())
}

/// Creates `database` and its tables with `wa-hive init` (idempotent), in the stack's
/// warehouse, so a test never depends on the dataflow creating them.
///
/// # Errors
/// When `wa-hive` cannot be built or fails; the error carries its output.
pub fn init_database(stack: &Stack, database: &str) -> Result<()> {
    let out = Command::new(binary("wa-hive")?)
        .args([
            "init",
            "--database",
            database,
            "--warehouse",
            &stack.warehouse,
        ])
        .args(["--hdfs-url", &stack.hdfs_url])
        .arg("--metastore-uri")
        .arg(format!("thrift://{}", stack.metastore_addr))
        .stdin(Stdio::null())
        .output()
        .context("running wa-hive init")?;
    if !out.status.success() {
        bail!(
            "wa-hive init --database {database} failed ({}):\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

/// Removes what runs with `options` left: the Hive database (cascade), its warehouse folder
/// and the test's HDFS folder (checkpoints). For the end of a passing test.
///
/// # Errors
/// When Hive SQL or HDFS refuse.
pub async fn cleanup(stack: &Stack, database: &str) -> Result<()> {
    stack
        .hive_sql(&[&format!("DROP DATABASE IF EXISTS {database} CASCADE")])
        .with_context(|| format!("dropping {database}"))?;
    let client = hdfs_native::ClientBuilder::new()
        .with_url(&stack.hdfs_url)
        .build()
        .context("HDFS client")?;
    let warehouse_path = stack
        .warehouse
        .strip_prefix(&stack.hdfs_url)
        .unwrap_or(&stack.warehouse);
    for dir in [
        format!("{warehouse_path}/{database}.db"),
        test_root(database),
    ] {
        match client.delete(&dir, true).await {
            Ok(_) | Err(hdfs_native::HdfsError::FileNotFound(_)) => {}
            Err(e) => return Err(e).with_context(|| format!("deleting {dir}")),
        }
    }
    Ok(())
}

/// A running `wa-dataflow` cluster; killed (SIGKILL, every process) when dropped.
#[derive(Debug)]
pub struct Dataflow {
    shape: String,
    launcher: Launcher,
    children: Vec<Child>,
    group: u32,
    logs: Vec<PathBuf>,
    metrics_port: u16,
    dir: PathBuf,
    done: bool,
}

impl Dataflow {
    /// Writes a `workers.toml` with free local ports and starts the cluster against `stack`.
    /// Logs (stdout and stderr, `RUST_LOG=info` unless set) go to files in a fresh temporary
    /// folder ([`Dataflow::log_tail`]); `/metrics` of process `I` is on
    /// [`Dataflow::metrics_port`] `+ I`.
    ///
    /// # Errors
    /// When `wa-dataflow` cannot be built or started.
    pub fn start(stack: &Stack, options: &DataflowOptions) -> Result<Dataflow> {
        let bin = binary("wa-dataflow")?;
        let dir = std::env::temp_dir().join(unique_name("wa_dataflow"));
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let workers_file = dir.join("workers.toml");
        std::fs::write(&workers_file, workers_toml(options)?)
            .with_context(|| format!("writing {}", workers_file.display()))?;
        let metrics_port = free_port_range(options.processes)?;
        let args = run_args(stack, options, &workers_file, metrics_port);

        let mut df = Dataflow {
            shape: options.shape(),
            launcher: options.launcher,
            children: Vec::new(),
            group: 0,
            logs: Vec::new(),
            metrics_port,
            dir,
            done: false,
        };
        let commands: Vec<Vec<String>> = match options.launcher {
            Launcher::Launch => vec![vec!["launch".to_owned()]],
            Launcher::PerProcess => (0..options.processes)
                .map(|i| vec!["run".to_owned(), "--process".to_owned(), i.to_string()])
                .collect(),
        };
        for (i, head) in commands.into_iter().enumerate() {
            let log = df.dir.join(format!("{}-{i}.log", head[0]));
            let out = File::create(&log).with_context(|| format!("creating {}", log.display()))?;
            let err = out.try_clone()?;
            let mut command = Command::new(&bin);
            command
                .args(&head)
                .args(&args)
                .stdin(Stdio::null())
                .stdout(out)
                .stderr(err)
                // The first process leads a new group; the others join it.
                .process_group(if i == 0 { 0 } else { df.group as i32 });
            // Only what we pass counts: no WA_* setting of the test's environment leaks in.
            for (key, _) in std::env::vars_os() {
                if key.to_string_lossy().starts_with("WA_") {
                    command.env_remove(key);
                }
            }
            command.envs(options.env.iter().map(|(k, v)| (k, v)));
            if std::env::var_os("RUST_LOG").is_none() {
                command.env("RUST_LOG", "info");
            }
            // Backtraces for panics, none for `anyhow` errors: the error stays the last line.
            command
                .env("RUST_BACKTRACE", "1")
                .env("RUST_LIB_BACKTRACE", "0");
            let child = command
                .spawn()
                .with_context(|| format!("starting {} {}", bin.display(), head.join(" ")))?;
            if i == 0 {
                df.group = child.id();
            }
            df.children.push(child);
            df.logs.push(log);
        }
        eprintln!(
            "[wa-tests] started wa-dataflow {} ({:?}) on {}; logs in {}",
            df.shape,
            options.launcher,
            options.topic,
            df.dir.display()
        );
        Ok(df)
    }

    /// Base port of `/metrics`: process `I` answers on this + `I`.
    pub fn metrics_port(&self) -> u16 {
        self.metrics_port
    }

    /// The `/metrics` page of process `process`.
    ///
    /// # Errors
    /// When nothing answers on its port.
    pub fn metrics(&self, process: usize) -> Result<String> {
        let port = self.metrics_port + process as u16;
        let mut conn = TcpStream::connect(("127.0.0.1", port))
            .with_context(|| format!("connecting to /metrics on port {port}"))?;
        conn.set_read_timeout(Some(Duration::from_secs(10)))?;
        conn.write_all(b"GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")?;
        let mut page = String::new();
        conn.read_to_string(&mut page)?;
        Ok(page)
    }

    /// Waits until every process has exited, for at most `timeout`.
    ///
    /// # Errors
    /// When a process exits with a failure status (e.g. the binary is not built yet), or
    /// `timeout` passes first; the error carries the status and the tail of the logs.
    pub fn wait(&mut self, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            let mut running = 0;
            for i in 0..self.children.len() {
                match self.children[i].try_wait()? {
                    Some(status) if !status.success() => {
                        bail!("{}", self.exited_message(i, status));
                    }
                    Some(_) => {}
                    None => running += 1,
                }
            }
            if running == 0 {
                self.done = true;
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!(
                    "wa-dataflow {} did not finish within {timeout:?}\n{}",
                    self.shape,
                    self.log_tail(40)
                );
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Checks that no process has exited.
    ///
    /// # Errors
    /// When one has (whatever its status), with the status and the tail of the logs.
    pub fn ensure_running(&mut self) -> Result<()> {
        for i in 0..self.children.len() {
            if let Some(status) = self.children[i].try_wait()? {
                bail!("{}", self.exited_message(i, status));
            }
        }
        Ok(())
    }

    /// Lets the cluster run for `duration`, checking every 200 ms that no process has exited.
    ///
    /// # Errors
    /// As [`Dataflow::ensure_running`], as soon as a process exits.
    pub fn run_for(&mut self, duration: Duration) -> Result<()> {
        let deadline = Instant::now() + duration;
        loop {
            self.ensure_running()?;
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(());
            }
            std::thread::sleep(left.min(Duration::from_millis(200)));
        }
    }

    fn exited_message(&self, i: usize, status: ExitStatus) -> String {
        format!(
            "wa-dataflow {} (process {i} as started by the test) exited with {status}\n{}",
            self.shape,
            self.log_tail(40)
        )
    }

    /// Kills every process of the cluster with SIGKILL (a crash at an arbitrary moment) and
    /// waits until all are gone.
    ///
    /// # Errors
    /// When a process survives for 10 s.
    pub fn kill(mut self) -> Result<()> {
        self.kill_all()
    }

    /// Asks the cluster to stop (SIGTERM to every process), waits up to `grace`, then kills
    /// whatever is left. Says nothing about how it exited.
    ///
    /// # Errors
    /// When a process survives the final SIGKILL.
    pub fn stop(mut self, grace: Duration) -> Result<()> {
        signal(&self.all_pids(), self.group, "TERM");
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline {
            let mut all_done = true;
            for child in &mut self.children {
                all_done &= child.try_wait()?.is_some();
            }
            if all_done {
                break;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        self.kill_all()
    }

    /// The pids of the cluster's live `wa-dataflow run` processes, one per process of
    /// `workers.toml` while the cluster runs: the children of `launch` (new ones after it
    /// restarted the cluster), or the processes the test started itself.
    pub fn process_pids(&self) -> Vec<u32> {
        match self.launcher {
            Launcher::Launch => self
                .children
                .iter()
                .flat_map(|launcher| {
                    let launcher = launcher.id();
                    descendants(launcher)
                        .into_iter()
                        .filter(move |&p| parent_of(p) == Some(launcher) && is_alive(p))
                })
                .collect(),
            Launcher::PerProcess => self
                .children
                .iter()
                .map(Child::id)
                .filter(|&p| is_alive(p))
                .collect(),
        }
    }

    /// Every live process we started, directly or through `launch`.
    fn all_pids(&self) -> Vec<u32> {
        let mut pids = Vec::new();
        for child in &self.children {
            pids.push(child.id());
            pids.extend(descendants(child.id()));
        }
        pids
    }

    fn kill_all(&mut self) -> Result<()> {
        let pids = self.all_pids();
        signal(&pids, self.group, "KILL");
        for child in &mut self.children {
            let _ = child.wait();
        }
        self.done = true;
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let alive: Vec<u32> = pids.iter().copied().filter(|&p| is_alive(p)).collect();
            if alive.is_empty() {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!(
                    "processes {alive:?} of wa-dataflow {} survived SIGKILL",
                    self.shape
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The last `lines` lines of every process's log, each under a header naming the file.
    pub fn log_tail(&self, lines: usize) -> String {
        let mut out = String::new();
        for log in &self.logs {
            let text = std::fs::read_to_string(log).unwrap_or_default();
            let all: Vec<&str> = text.lines().collect();
            let from = all.len().saturating_sub(lines);
            out.push_str(&format!(
                "--- {} (last {} lines)\n",
                log.display(),
                all.len() - from
            ));
            for line in &all[from..] {
                out.push_str(line);
                out.push('\n');
            }
        }
        out
    }

    /// The folder of the logs and `workers.toml`.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Drop for Dataflow {
    fn drop(&mut self) {
        if !self.done {
            if let Err(e) = self.kill_all() {
                eprintln!("[wa-tests] {e:#}");
            }
        }
    }
}

/// The flags every process gets (after `launch` or `run --process I`).
fn run_args(
    stack: &Stack,
    options: &DataflowOptions,
    workers_file: &Path,
    metrics_port: u16,
) -> Vec<String> {
    let mut args: Vec<String> = vec![
        "--workers-file".into(),
        workers_file.display().to_string(),
        "--kafka-brokers".into(),
        options
            .kafka_brokers
            .clone()
            .unwrap_or_else(|| stack.kafka_brokers.clone()),
        "--topic".into(),
        options.topic.clone(),
        "--consumer-group".into(),
        options.consumer_group.clone(),
        "--start-position".into(),
        "earliest".into(),
        "--hdfs-url".into(),
        stack.hdfs_url.clone(),
        "--warehouse".into(),
        stack.warehouse.clone(),
        "--metastore-uri".into(),
        format!("thrift://{}", stack.metastore_addr),
        "--database".into(),
        options.database.clone(),
        "--checkpoint-dir".into(),
        options.checkpoint_dir.clone(),
        "--window-size".into(),
        millis(options.window_size),
        "--max-out-of-orderness".into(),
        millis(options.max_out_of_orderness),
        "--idle-timeout".into(),
        millis(options.idle_timeout),
        "--roll-interval".into(),
        millis(options.roll_interval),
        "--metrics-addr".into(),
        format!("127.0.0.1:{metrics_port}"),
        "--status-interval".into(),
        "2s".into(),
    ];
    if let Some(slide) = options.window_slide {
        args.extend(["--window-slide".into(), millis(slide)]);
    }
    if let Some(ms) = options.stop_at_watermark_ms {
        args.extend(["--stop-at-watermark".into(), rfc3339(ms)]);
    }
    if let Some(gap) = options.session_gap {
        args.extend(["--session-gap".into(), millis(gap)]);
    }
    if let Some(max) = options.max_session_duration {
        args.extend(["--max-session-duration".into(), millis(max)]);
    }
    args.extend(options.extra_args.iter().cloned());
    args
}

/// UTC epoch ms as RFC 3339 with milliseconds, `2026-11-30T00:02:00.000Z`.
pub fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_else(|| panic!("{ms} ms is not a representable time"))
}

/// A `workers.toml` for `options`, every process on a free loopback port.
fn workers_toml(options: &DataflowOptions) -> Result<String> {
    if options.processes == 0 || options.workers_per_process == 0 {
        bail!("a cluster needs at least one process and one worker");
    }
    // Hold every listener until all ports are chosen, so no two processes get the same one.
    let listeners: Vec<TcpListener> = (0..options.processes)
        .map(|_| TcpListener::bind("127.0.0.1:0"))
        .collect::<std::io::Result<_>>()?;
    let mut text = format!("workers_per_process = {}\n", options.workers_per_process);
    for listener in &listeners {
        text.push_str(&format!(
            "\n[[process]]\naddress = \"127.0.0.1:{}\"\n",
            listener.local_addr()?.port()
        ));
    }
    Ok(text)
}

/// A port `p` such that `p .. p + n` are all free on loopback right now.
fn free_port_range(n: usize) -> Result<u16> {
    for _ in 0..100 {
        let base = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let held: Vec<TcpListener> = (0..n)
            .map_while(|i| {
                let port = base.checked_add(i as u16)?;
                TcpListener::bind(("127.0.0.1", port)).ok()
            })
            .collect();
        if held.len() == n {
            return Ok(base);
        }
    }
    bail!("found no {n} consecutive free ports for /metrics")
}

/// Sends `SIG<name>` to `pids` and to the process group `group` (0: none started yet),
/// ignoring processes that are already gone.
fn signal(pids: &[u32], group: u32, name: &str) {
    let mut command = Command::new("kill");
    command.arg(format!("-{name}")).arg("--");
    // Never `-0`: that would be the test's own process group.
    if group > 1 {
        command.arg(format!("-{group}"));
    }
    if group <= 1 && pids.is_empty() {
        return;
    }
    for pid in pids {
        command.arg(pid.to_string());
    }
    let _ = command.stdout(Stdio::null()).stderr(Stdio::null()).status();
}

/// Whether `pid` is a live process (not gone, not a zombie).
fn is_alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat_fields(&stat).is_some_and(|(state, _)| state != "Z" && state != "X"),
        Err(_) => false,
    }
}

/// Every descendant of `pid`, from `/proc` (children, grandchildren, …).
fn descendants(pid: u32) -> Vec<u32> {
    let mut parent_of: Vec<(u32, u32)> = Vec::new();
    if let Ok(entries) = std::fs::read_dir("/proc") {
        for entry in entries.flatten() {
            let Some(p) = entry
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<u32>().ok())
            else {
                continue;
            };
            if let Ok(stat) = std::fs::read_to_string(format!("/proc/{p}/stat")) {
                if let Some((_, ppid)) = stat_fields(&stat) {
                    parent_of.push((p, ppid));
                }
            }
        }
    }
    let mut found = Vec::new();
    let mut frontier = vec![pid];
    while let Some(parent) = frontier.pop() {
        for &(p, ppid) in &parent_of {
            if ppid == parent && !found.contains(&p) {
                found.push(p);
                frontier.push(p);
            }
        }
    }
    found
}

/// The parent of `pid`, `None` when it is gone.
fn parent_of(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat_fields(&stat).map(|(_, ppid)| ppid)
}

/// (state, parent pid) from a `/proc/PID/stat` line; the command name in parentheses may hold
/// spaces, so fields are counted after its closing parenthesis.
fn stat_fields(stat: &str) -> Option<(&str, u32)> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    let state = fields.next()?;
    let ppid = fields.next()?.parse().ok()?;
    Some((state, ppid))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workers_toml_lists_distinct_ports() {
        let options = DataflowOptions::new("t", "d").cluster(3, 2);
        let text = workers_toml(&options).unwrap();
        assert!(text.starts_with("workers_per_process = 2\n"));
        let ports: std::collections::BTreeSet<&str> = text
            .lines()
            .filter_map(|l| l.strip_prefix("address = \"127.0.0.1:"))
            .collect();
        assert_eq!(ports.len(), 3);
        assert!(workers_toml(&DataflowOptions::new("t", "d").cluster(0, 1)).is_err());
    }

    #[test]
    fn stat_lines_with_spaces_in_the_name_parse() {
        let line = "1234 (wa data (flow)) S 99 1234 1234 0 -1";
        assert_eq!(stat_fields(line), Some(("S", 99)));
        assert!(is_alive(std::process::id()));
        assert!(!is_alive(u32::MAX));
    }

    #[test]
    fn flags_carry_the_options() {
        let stack = crate::Stack::from_env().unwrap();
        let mut options = DataflowOptions::new("topic_x", "db_x").cluster(2, 1);
        options.window_slide = Some(Duration::from_secs(20));
        options.stop_at_watermark_ms = Some(1_795_996_920_000);
        let args = run_args(&stack, &options, Path::new("/w.toml"), 4000).join(" ");
        assert!(!args.contains("--session-gap") && !args.contains("--max-session-duration"));
        options.session_gap = Some(Duration::from_secs(8));
        options.max_session_duration = Some(Duration::from_secs(60));
        let args = run_args(&stack, &options, Path::new("/w.toml"), 4000).join(" ");
        for part in [
            "--workers-file /w.toml",
            "--topic topic_x",
            "--database db_x",
            "--consumer-group db_x",
            "--checkpoint-dir /tmp/wa-tests/db_x/checkpoints",
            "--window-size 60000ms",
            "--window-slide 20000ms",
            "--max-out-of-orderness 3000ms",
            "--metrics-addr 127.0.0.1:4000",
            "--stop-at-watermark 2026-11-30T00:02:00.000Z",
            "--session-gap 8000ms",
            "--max-session-duration 60000ms",
        ] {
            assert!(args.contains(part), "{part} missing from {args}");
        }
    }
}
