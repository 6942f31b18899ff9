//! A real `wa-producer serve` process for the tests, on free loopback ports.

use std::net::TcpListener;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::binary;

/// A running collector, killed (SIGKILL) when dropped.
pub struct Collector {
    child: Child,
    /// `http://127.0.0.1:PORT`: the public address (`/collect`, `/collect.js`, `/health`).
    pub base: String,
    /// `http://127.0.0.1:PORT`: the operators' address (`/metrics`, `/health`).
    pub operators: String,
}

/// A loopback port nothing listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("binding an ephemeral loopback port")
}

impl Collector {
    /// Starts `wa-producer serve --kafka-brokers BROKERS --topic TOPIC EXTRA…` on two free ports
    /// (stdout discarded, stderr inherited) and waits until `/health` answers 200.
    ///
    /// # Errors
    /// When the binary is missing, or the collector exits or is not healthy within 30 s.
    pub async fn start(brokers: &str, topic: &str, extra: &[&str]) -> Result<Collector> {
        let (port, metrics_port) = (free_port(), free_port());
        let child = Command::new(binary("wa-producer")?)
            .args(["serve", "--kafka-brokers", brokers, "--topic", topic])
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .args(["--metrics-addr", &format!("127.0.0.1:{metrics_port}")])
            .args(extra)
            .stdout(Stdio::null())
            .spawn()
            .context("starting wa-producer serve")?;
        let mut collector = Collector {
            child,
            base: format!("http://127.0.0.1:{port}"),
            operators: format!("http://127.0.0.1:{metrics_port}"),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            collector.check_running()?;
            if let Ok(response) = reqwest::get(format!("{}/health", collector.base)).await {
                if response.status() == reqwest::StatusCode::OK {
                    return Ok(collector);
                }
            }
            if Instant::now() > deadline {
                bail!("collector not healthy after 30 s");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The collector's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// # Errors
    /// When the collector has exited (with its status).
    pub fn check_running(&mut self) -> Result<()> {
        match self.child.try_wait()? {
            Some(status) => bail!("collector exited: {status}"),
            None => Ok(()),
        }
    }

    /// Panics when the collector has exited.
    pub fn assert_running(&mut self) {
        if let Err(error) = self.check_running() {
            panic!("{error:#}");
        }
    }

    /// Sends SIGTERM and waits at most `timeout` for the exit status.
    ///
    /// # Errors
    /// When the signal cannot be sent or the process is still running after `timeout`.
    pub fn terminate(&mut self, timeout: Duration) -> Result<ExitStatus> {
        let sent = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .context("running kill -TERM")?;
        if !sent.success() {
            bail!("kill -TERM {} failed: {sent}", self.child.id());
        }
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Ok(status);
            }
            if Instant::now() > deadline {
                bail!("collector still running {timeout:?} after SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The process's peak resident set size (`VmHWM`), bytes.
    ///
    /// # Errors
    /// When `/proc/PID/status` cannot be read (the process has exited).
    pub fn peak_rss_bytes(&self) -> Result<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .context("reading the collector's /proc status")?;
        let kib = status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .context("no VmHWM in /proc status")?;
        Ok(kib * 1024)
    }
}

impl Drop for Collector {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
