//! `wa-dataflow launch`: every process of `workers.toml` on this host, as child processes.
//!
//! The children get this process's arguments with `launch` replaced by `run --process I` (and
//! the supervisor's own flags removed); their output goes to this process's stdout/stderr.
//! Kafka properties never go on a child's command line, which every local user can read
//! (`ps`): `-X` values are taken off and the properties `launch` read (from `-X`, else from
//! `WA_KAFKA_PROPERTIES`) are handed to each child in its `WA_KAFKA_PROPERTIES`, escaped as
//! `kafka-properties` reads them — the environment is readable by the same user only.
//! When one child fails (exits non-zero or is killed), the others are killed: a timely cluster
//! cannot continue without one of its processes. Then `launch` either exits with that failure
//! or, with `--restart-on-failure`, starts the whole cluster again after a backoff — the
//! checkpoint makes a restart of the whole cluster exact. SIGINT/SIGTERM stop all children. A
//! child notices when its launcher disappears (even after `kill -9`) and exits.

use std::process::ExitStatus;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _, Result};
use tokio::process::{Child, Command};
use tokio::signal::unix::{signal, Signal, SignalKind};

use kafka_properties::KafkaProperties;

use crate::config::LaunchArgs;
use crate::pipeline::cluster_of;

/// Environment variable a launched child finds its launcher's pid in.
pub const LAUNCHER_PID_ENV: &str = "WA_DATAFLOW_LAUNCHER_PID";

/// A cluster that ran this long before failing restarts after the first backoff again.
const HEALTHY_RUN: Duration = Duration::from_secs(60);

/// `launch` flags that belong to the supervisor, not to the processes: (flag, takes a value).
const SUPERVISOR_FLAGS: [(&str, bool); 4] = [
    ("--restart-on-failure", false),
    ("--max-restarts", true),
    ("--restart-backoff", true),
    ("--restart-backoff-max", true),
];

/// Flags that carry Kafka properties (`-X VALUE`, `-XVALUE`, `-X=VALUE`; the long form for
/// the day `wa-dataflow` gets one): never passed on a child's command line.
const KAFKA_PROPERTY_SHORT: &str = "-X";
const KAFKA_PROPERTY_LONG: &str = "--kafka-property";

/// Whether `arg` is a Kafka-property flag, and if so whether its value is the next argument.
fn kafka_property_flag(arg: &str) -> Option<bool> {
    if arg == KAFKA_PROPERTY_SHORT || arg == KAFKA_PROPERTY_LONG {
        Some(true)
    } else if arg.starts_with(KAFKA_PROPERTY_SHORT)
        || arg.starts_with(&format!("{KAFKA_PROPERTY_LONG}="))
    {
        Some(false)
    } else {
        None
    }
}

/// The child's argument list: ours without `launch`, the supervisor's flags and the Kafka
/// properties (`-X`; see [`child_kafka_properties`]), with `run --process I`.
fn child_args(ours: &[String], process: usize) -> Result<Vec<String>> {
    let mut args: Vec<String> = Vec::with_capacity(ours.len() + 3);
    let mut replaced = false;
    let mut rest = ours.iter().skip(1);
    while let Some(a) = rest.next() {
        if !replaced && a == "launch" {
            replaced = true;
            continue;
        }
        if a == "--process" || a.starts_with("--process=") {
            bail!("launch starts every process itself; do not pass --process");
        }
        if let Some(value_follows) = kafka_property_flag(a) {
            if value_follows {
                rest.next();
            }
            continue;
        }
        if let Some(&(_, takes_value)) = SUPERVISOR_FLAGS
            .iter()
            .find(|(flag, _)| a == flag || a.starts_with(&format!("{flag}=")))
        {
            if takes_value && !a.contains('=') {
                rest.next();
            }
            continue;
        }
        args.push(a.clone());
    }
    if !replaced {
        bail!("launch: subcommand not found in the arguments");
    }
    let mut out = vec![
        "run".to_string(),
        "--process".to_string(),
        process.to_string(),
    ];
    out.extend(args);
    Ok(out)
}

/// The child's `WA_KAFKA_PROPERTIES`: every property `launch` read (from `-X`, which replaced
/// the variable, or from the variable), escaped so the child reads the same pairs; `None`
/// (the variable removed) when there are none.
fn child_kafka_properties(properties: &[KafkaProperties]) -> Option<String> {
    let encoded = kafka_properties::encode(properties);
    (!encoded.is_empty()).then_some(encoded)
}

/// The wait before the next restart: `first`, doubling after each failure up to `max`; a
/// cluster that ran at least [`HEALTHY_RUN`] before it failed starts again from `first`.
fn next_backoff(
    previous: Option<Duration>,
    ran_for: Duration,
    first: Duration,
    max: Duration,
) -> Duration {
    match previous {
        Some(p) if ran_for < HEALTHY_RUN => (p * 2).min(max).max(first),
        _ => first.min(max),
    }
}

/// How one run of the whole cluster ended.
#[derive(Debug)]
enum Ended {
    /// Every process exited successfully (e.g. `--stop-at-watermark` reached).
    Finished,
    /// SIGINT or SIGTERM: every process was stopped.
    Stopped,
    /// A process failed; the others were killed.
    Failed { process: usize, status: ExitStatus },
}

/// SIGINT and SIGTERM, installed once for every run of the cluster.
struct StopSignals {
    term: Signal,
    int: Signal,
}

impl StopSignals {
    fn install() -> Result<StopSignals> {
        Ok(StopSignals {
            term: signal(SignalKind::terminate()).context("installing the SIGTERM handler")?,
            int: signal(SignalKind::interrupt()).context("installing the SIGINT handler")?,
        })
    }

    /// Waits up to `timeout`; `true` when a stop signal arrived.
    async fn received_within(&mut self, timeout: Duration) -> bool {
        tokio::select! {
            _ = self.term.recv() => { tracing::info!("SIGTERM: stopping every process"); true }
            _ = self.int.recv() => { tracing::info!("SIGINT: stopping every process"); true }
            _ = tokio::time::sleep(timeout) => false,
        }
    }
}

/// Starts every process of the cluster and waits until all succeeded, one failed, or a stop
/// signal arrived; then no child is left running.
async fn run_cluster(
    exe: &std::path::Path,
    ours: &[String],
    kafka: Option<&str>,
    processes: usize,
    signals: &mut StopSignals,
) -> Result<Ended> {
    let mut children: Vec<(usize, Child)> = Vec::new();
    for process in 0..processes {
        let mut command = Command::new(exe);
        match kafka {
            Some(properties) => command.env(kafka_properties::ENV, properties),
            None => command.env_remove(kafka_properties::ENV),
        };
        let child = command
            .args(child_args(ours, process)?)
            .env_remove("WA_PROCESS")
            .env(LAUNCHER_PID_ENV, std::process::id().to_string())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting process {process}"))?;
        tracing::info!(process, pid = child.id(), "started");
        children.push((process, child));
    }
    let mut ended = Ended::Finished;
    while !children.is_empty() {
        if signals.received_within(Duration::from_millis(200)).await {
            ended = Ended::Stopped;
            break;
        }
        let mut i = 0;
        while i < children.len() {
            match children[i].1.try_wait() {
                Ok(Some(status)) => {
                    let (process, _) = children.remove(i);
                    tracing::info!(process, %status, "process exited");
                    if !status.success() {
                        ended = Ended::Failed { process, status };
                    }
                }
                Ok(None) => i += 1,
                Err(e) => bail!("waiting for process {}: {e}", children[i].0),
            }
        }
        if matches!(ended, Ended::Failed { .. }) {
            break;
        }
    }
    for (process, child) in &mut children {
        let _ = child.start_kill();
        let _ = child.wait().await;
        tracing::info!(process = *process, "stopped");
    }
    Ok(ended)
}

/// Runs every process of the cluster and waits for them; with `--restart-on-failure`, starts
/// the cluster again whenever a process fails.
///
/// # Errors
/// When the process list is unusable, a child cannot start, or a child fails (without
/// `--restart-on-failure`, or after `--max-restarts` restarts).
pub fn launch(args: LaunchArgs) -> Result<()> {
    let cluster = cluster_of(&args.run)?;
    let exe = std::env::current_exe().context("finding the wa-dataflow executable")?;
    let ours: Vec<String> = std::env::args().collect();
    let kafka = child_kafka_properties(&args.run.kafka_properties);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the tokio runtime")?;
    runtime.block_on(async move {
        let mut signals = StopSignals::install()?;
        let mut restarts: u32 = 0;
        let mut backoff: Option<Duration> = None;
        loop {
            let started = Instant::now();
            let (process, status) = match run_cluster(
                &exe,
                &ours,
                kafka.as_deref(),
                cluster.process_count(),
                &mut signals,
            )
            .await?
            {
                Ended::Finished | Ended::Stopped => return Ok(()),
                Ended::Failed { process, status } => (process, status),
            };
            if !args.restart_on_failure {
                bail!("process {process} failed ({status}); stopped the others");
            }
            if args.max_restarts.is_some_and(|max| restarts >= max) {
                bail!(
                    "process {process} failed ({status}) after {restarts} restarts \
                     (--max-restarts); stopped the others"
                );
            }
            let wait = next_backoff(
                backoff,
                started.elapsed(),
                args.restart_backoff,
                args.restart_backoff_max,
            );
            backoff = Some(wait);
            restarts += 1;
            tracing::warn!(
                process,
                %status,
                restart = restarts,
                "a process failed; every process was stopped; restarting the cluster in {wait:?}"
            );
            if signals.received_within(wait).await {
                return Ok(());
            }
        }
    })
}

/// In a launched child: exits the process when the launcher is gone (its parent changed).
pub fn watch_launcher() {
    let Some(launcher) = std::env::var(LAUNCHER_PID_ENV)
        .ok()
        .and_then(|p| p.parse::<u32>().ok())
    else {
        return;
    };
    let spawned = std::thread::Builder::new()
        .name("launcher-watch".into())
        .spawn(move || loop {
            if std::os::unix::process::parent_id() != launcher {
                eprintln!("wa-dataflow: launcher {launcher} is gone; exiting");
                std::process::exit(3);
            }
            std::thread::sleep(Duration::from_millis(500));
        });
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "cannot watch the launcher");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Cli, Command as Subcommand};
    use clap::Parser as _;

    #[test]
    fn backoff_doubles_to_a_cap_and_resets_after_a_healthy_run() {
        let (first, max) = (Duration::from_secs(1), Duration::from_secs(30));
        let quick = Duration::from_secs(2);
        let mut waits = Vec::new();
        let mut backoff = None;
        for _ in 0..7 {
            let wait = next_backoff(backoff, quick, first, max);
            waits.push(wait.as_secs());
            backoff = Some(wait);
        }
        assert_eq!(waits, [1, 2, 4, 8, 16, 30, 30]);
        assert_eq!(next_backoff(backoff, HEALTHY_RUN, first, max), first);
    }

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn children_run_one_process_each() {
        let ours = s(&[
            "wa-dataflow",
            "launch",
            "--topic",
            "launch",
            "--workers-file",
            "w.toml",
        ]);
        assert_eq!(
            child_args(&ours, 1).unwrap(),
            s(&[
                "run",
                "--process",
                "1",
                "--topic",
                "launch",
                "--workers-file",
                "w.toml"
            ])
        );
        assert!(child_args(&s(&["wa-dataflow", "launch", "--process", "0"]), 0).is_err());
        // The supervisor's flags stay with the supervisor.
        let supervised = s(&[
            "wa-dataflow",
            "launch",
            "--restart-on-failure",
            "--max-restarts",
            "5",
            "--topic",
            "t",
            "--max-restarts=7",
            "--restart-backoff",
            "200ms",
            "--restart-backoff-max=2s",
        ]);
        assert_eq!(
            child_args(&supervised, 0).unwrap(),
            s(&["run", "--process", "0", "--topic", "t"])
        );
        assert!(child_args(&s(&["wa-dataflow", "run"]), 0).is_err());
    }

    #[test]
    fn kafka_properties_stay_off_the_childrens_command_lines() {
        let ours = s(&[
            "wa-dataflow",
            "launch",
            "-X",
            "sasl.password=hunter2",
            "--topic",
            "t",
            "-Xsasl.username=alice",
            "-X=ssl.key.password=k",
            "--kafka-property",
            "a=1",
            "--kafka-property=b=2",
            "--consumer-group",
            "g",
        ]);
        let args = child_args(&ours, 0).unwrap();
        assert_eq!(
            args,
            s(&[
                "run",
                "--process",
                "0",
                "--topic",
                "t",
                "--consumer-group",
                "g"
            ])
        );
        // The properties go to the children's environment instead, read back as given.
        let cli = Cli::try_parse_from(&ours[..8]).unwrap();
        let Some(Subcommand::Launch(launch)) = cli.command else {
            panic!("launch expected")
        };
        let env = child_kafka_properties(&launch.run.kafka_properties).unwrap();
        let read: KafkaProperties = env.parse().unwrap();
        assert_eq!(
            read.pairs(),
            [
                ("sasl.password".to_owned(), "hunter2".to_owned()),
                ("sasl.username".to_owned(), "alice".to_owned()),
                ("ssl.key.password".to_owned(), "k".to_owned()),
            ]
        );
        // A value holding ';' or '\\' survives the trip.
        let cli = Cli::try_parse_from([
            "wa-dataflow",
            "launch",
            "-X",
            r"sasl.password=a\;b\\c;acks=1",
        ])
        .unwrap();
        let Some(Subcommand::Launch(launch)) = cli.command else {
            panic!("launch expected")
        };
        let env = child_kafka_properties(&launch.run.kafka_properties).unwrap();
        let read: KafkaProperties = env.parse().unwrap();
        assert_eq!(read.pairs()[0].1, r"a;b\c");
        assert_eq!(child_kafka_properties(&[]), None);
        assert_eq!(child_kafka_properties(&[KafkaProperties::default()]), None);
    }
}
