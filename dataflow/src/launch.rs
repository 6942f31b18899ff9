//! `wa-dataflow launch`: every process of `workers.toml` on this host, as child processes.
//!
//! For development and tests. The children get this process's arguments with `launch`
//! replaced by `run --process I`; their output goes to this process's stdout/stderr. When one
//! child exits with a failure (or is killed), the others are killed and `launch` exits with
//! that failure: a timely cluster cannot continue without one of its processes, and the
//! checkpoint makes a restart of the whole cluster safe. SIGINT/SIGTERM stop all children. A
//! child notices when its launcher disappears (even after `kill -9`) and exits.

use std::process::ExitStatus;
use std::time::Duration;

use anyhow::{bail, Context as _, Result};
use tokio::process::{Child, Command};
use tokio::signal::unix::{signal, SignalKind};

use crate::config::RunArgs;
use crate::pipeline::cluster_of;

/// Environment variable a launched child finds its launcher's pid in.
pub const LAUNCHER_PID_ENV: &str = "WA_DATAFLOW_LAUNCHER_PID";

/// The child's argument list: ours without `launch`, with `run --process I`.
fn child_args(ours: &[String], process: usize) -> Result<Vec<String>> {
    let mut args: Vec<String> = Vec::with_capacity(ours.len() + 3);
    let mut replaced = false;
    for a in ours.iter().skip(1) {
        if !replaced && a == "launch" {
            replaced = true;
            continue;
        }
        if a == "--process" || a.starts_with("--process=") {
            bail!("launch starts every process itself; do not pass --process");
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

/// Runs every process of the cluster and waits for them.
///
/// # Errors
/// When the process list is unusable, a child cannot start, or a child fails.
pub fn launch(args: RunArgs) -> Result<()> {
    let cluster = cluster_of(&args)?;
    let exe = std::env::current_exe().context("finding the wa-dataflow executable")?;
    let ours: Vec<String> = std::env::args().collect();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the tokio runtime")?;
    runtime.block_on(async move {
        let mut children: Vec<(usize, Child)> = Vec::new();
        for process in 0..cluster.process_count() {
            let child = Command::new(&exe)
                .args(child_args(&ours, process)?)
                .env_remove("WA_PROCESS")
                .env(LAUNCHER_PID_ENV, std::process::id().to_string())
                .kill_on_drop(true)
                .spawn()
                .with_context(|| format!("starting process {process}"))?;
            tracing::info!(process, pid = child.id(), "started");
            children.push((process, child));
        }
        let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
        let mut int = signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;
        let mut failure: Option<(usize, ExitStatus)> = None;
        while !children.is_empty() {
            tokio::select! {
                _ = term.recv() => { tracing::info!("SIGTERM: stopping every process"); break; }
                _ = int.recv() => { tracing::info!("SIGINT: stopping every process"); break; }
                _ = tokio::time::sleep(Duration::from_millis(200)) => {}
            }
            let mut i = 0;
            while i < children.len() {
                match children[i].1.try_wait() {
                    Ok(Some(status)) => {
                        let (process, _) = children.remove(i);
                        tracing::info!(process, %status, "process exited");
                        if !status.success() && failure.is_none() {
                            failure = Some((process, status));
                        }
                    }
                    Ok(None) => i += 1,
                    Err(e) => bail!("waiting for process {}: {e}", children[i].0),
                }
            }
            if failure.is_some() {
                break;
            }
        }
        for (process, child) in &mut children {
            let _ = child.start_kill();
            let _ = child.wait().await;
            tracing::info!(process = *process, "stopped");
        }
        match failure {
            Some((process, status)) => {
                bail!("process {process} failed ({status}); stopped the others")
            }
            None => Ok(()),
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
        assert!(child_args(&s(&["wa-dataflow", "run"]), 0).is_err());
    }
}
