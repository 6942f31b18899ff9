//! The local real stack as tests see it: endpoints, start-once, locks and fault injection.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};

/// Endpoints of the running local stack. Ports come from the same environment variables as
/// `tests/stack/stack` (`WA_KAFKA_PORT`, `WA_HDFS_PORT`, …) with the same defaults.
#[derive(Debug)]
pub struct Stack {
    /// Kafka bootstrap servers, `host:port` (default `127.0.0.1:9092`).
    pub kafka_brokers: String,
    /// NameNode URL, `hdfs://host:port` (default `hdfs://127.0.0.1:9000`).
    pub hdfs_url: String,
    /// Hive Metastore Thrift address (default `127.0.0.1:9083`).
    pub metastore_addr: SocketAddr,
    /// HiveServer2 JDBC URL of the Spark Thrift Server (default `jdbc:hive2://127.0.0.1:10000`).
    pub hive_jdbc_url: String,
    /// Hive warehouse directory on HDFS, as a full URL.
    pub warehouse: String,
    ports: Ports,
    script: PathBuf,
    state_dir: PathBuf,
}

#[derive(Debug, Clone, Copy)]
struct Ports {
    kafka: u16,
    hdfs: u16,
    hdfs_http: u16,
    hdfs_control: u16,
    metastore: u16,
    thrift: u16,
}

/// Holds a shared or exclusive claim on the stack; released on drop.
///
/// Tests that stop a service hold the exclusive claim; all other tests hold a shared one, so a
/// fault is only injected when no other test is using the stack.
#[derive(Debug)]
pub struct StackGuard {
    _file: File,
}

static STACK: OnceLock<Stack> = OnceLock::new();

/// The running local stack, started first if it is not up (once per test run: concurrent test
/// processes serialise on a lock file, and later calls find it running).
///
/// # Panics
/// With a message saying what to do when a prerequisite is missing or the stack cannot start.
pub fn stack() -> &'static Stack {
    STACK.get_or_init(
        || match Stack::from_env().and_then(|s| s.ensure_up().map(|()| s)) {
            Ok(s) => s,
            Err(e) => panic!("the local real stack is not available: {e:#}"),
        },
    )
}

fn env_port(name: &str, default: u16) -> Result<u16> {
    match std::env::var(name) {
        Ok(v) => v
            .parse()
            .with_context(|| format!("{name}={v:?} is not a port number")),
        Err(_) => Ok(default),
    }
}

impl Stack {
    /// The endpoints from the environment, without checking or starting anything.
    pub(crate) fn from_env() -> Result<Self> {
        let ports = Ports {
            kafka: env_port("WA_KAFKA_PORT", 9092)?,
            hdfs: env_port("WA_HDFS_PORT", 9000)?,
            hdfs_http: env_port("WA_HDFS_HTTP_PORT", 9870)?,
            hdfs_control: env_port("WA_HDFS_CONTROL_PORT", 9001)?,
            metastore: env_port("WA_METASTORE_PORT", 9083)?,
            thrift: env_port("WA_THRIFT_PORT", 10000)?,
        };
        let repo = Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .context("tests/ has a parent")?
            .to_path_buf();
        let state_dir = std::env::var_os("WA_STACK_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| repo.join(".stack"));
        let hdfs_url = format!("hdfs://127.0.0.1:{}", ports.hdfs);
        Ok(Stack {
            kafka_brokers: format!("127.0.0.1:{}", ports.kafka),
            warehouse: format!("{hdfs_url}/user/hive/warehouse"),
            hdfs_url,
            metastore_addr: SocketAddr::from(([127, 0, 0, 1], ports.metastore)),
            hive_jdbc_url: format!("jdbc:hive2://127.0.0.1:{}", ports.thrift),
            ports,
            script: repo.join("tests/stack/stack"),
            state_dir,
        })
    }

    fn all_up(&self) -> bool {
        let p = self.ports;
        [p.kafka, p.hdfs, p.hdfs_control, p.metastore, p.thrift]
            .iter()
            .all(|&port| port_open(port))
    }

    fn ensure_up(&self) -> Result<()> {
        check_prerequisites()?;
        if self.all_up() {
            return Ok(());
        }
        std::fs::create_dir_all(&self.state_dir)
            .with_context(|| format!("creating {}", self.state_dir.display()))?;
        let lock = self.lock_file("start.lock")?;
        lock.lock().context("locking the stack start lock")?;
        // A service may be down because a fault test (holding the exclusive claim) stopped it on
        // purpose: wait for that test to finish instead of restarting the service under it,
        // which would race with the test's own restart and orphan a process.
        let faults = self.lock_file("faults.lock")?;
        faults
            .lock_shared()
            .context("waiting for fault tests to finish")?;
        if self.all_up() {
            return Ok(());
        }
        eprintln!("[wa-tests] starting the local real stack (tests/stack/stack up)");
        self.run_script(&["up"])
            .context("`tests/stack/stack up` failed; its logs are under the stack state folder")?;
        Ok(())
    }

    fn lock_file(&self, name: &str) -> Result<File> {
        std::fs::create_dir_all(&self.state_dir)?;
        let path = self.state_dir.join(name);
        OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .with_context(|| format!("opening {}", path.display()))
    }

    /// A shared claim on the stack: many tests may hold one at once; blocks while a fault test
    /// holds [`Stack::exclusive`].
    pub fn shared(&self) -> StackGuard {
        let file = self.lock_file("faults.lock").expect("stack lock file");
        file.lock_shared().expect("shared stack lock");
        StackGuard { _file: file }
    }

    /// The exclusive claim a test must hold while it stops or restarts a service.
    pub fn exclusive(&self) -> StackGuard {
        let file = self.lock_file("faults.lock").expect("stack lock file");
        file.lock().expect("exclusive stack lock");
        StackGuard { _file: file }
    }

    /// Runs `tests/stack/stack ARGS…` and returns its standard output.
    ///
    /// # Errors
    /// When the script exits non-zero; the error carries its standard error.
    pub fn run_script(&self, args: &[&str]) -> Result<String> {
        let out = Command::new("bash")
            .arg(&self.script)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .with_context(|| format!("running {}", self.script.display()))?;
        if !out.status.success() {
            bail!(
                "`stack {}` exited with {}:\n{}",
                args.join(" "),
                out.status,
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Stops DataNode `index` (0 or 1) while the NameNode and the other DataNode keep running.
    /// Hold [`Stack::exclusive`].
    pub fn stop_datanode(&self, index: usize) -> Result<()> {
        self.run_script(&["datanode", "stop", &index.to_string()])
            .map(drop)
    }

    /// Starts DataNode `index` again on its old ports and storage; returns once it registered.
    pub fn start_datanode(&self, index: usize) -> Result<()> {
        self.run_script(&["datanode", "start", &index.to_string()])
            .map(drop)
    }

    /// Stops the Kafka broker (SIGTERM, then SIGKILL after 30 s). Hold [`Stack::exclusive`].
    pub fn stop_broker(&self) -> Result<()> {
        self.run_script(&["broker", "stop"]).map(drop)
    }

    /// Starts the Kafka broker again and waits until it accepts connections.
    pub fn start_broker(&self) -> Result<()> {
        self.run_script(&["broker", "start"]).map(drop)
    }

    /// Stops the Hive Metastore. Hold [`Stack::exclusive`].
    pub fn stop_metastore(&self) -> Result<()> {
        self.run_script(&["metastore", "stop"]).map(drop)
    }

    /// Starts the Hive Metastore again and waits until it accepts connections.
    pub fn start_metastore(&self) -> Result<()> {
        self.run_script(&["metastore", "start"]).map(drop)
    }

    /// Stops DataNode `index` (0 or 1) until the returned [`Outage`] ends or is dropped.
    /// Hold [`Stack::exclusive`].
    ///
    /// # Errors
    /// When the stack script cannot stop it.
    pub fn datanode_outage(&self, index: usize) -> Result<Outage<'_>> {
        self.stop_datanode(index)?;
        Ok(Outage {
            stack: self,
            service: Service::DataNode(index),
            ended: false,
        })
    }

    /// Stops the Kafka broker until the returned [`Outage`] ends or is dropped.
    /// Hold [`Stack::exclusive`].
    ///
    /// # Errors
    /// When the stack script cannot stop it.
    pub fn broker_outage(&self) -> Result<Outage<'_>> {
        self.stop_broker()?;
        Ok(Outage {
            stack: self,
            service: Service::Broker,
            ended: false,
        })
    }

    /// Stops the Hive Metastore until the returned [`Outage`] ends or is dropped.
    /// Hold [`Stack::exclusive`].
    ///
    /// # Errors
    /// When the stack script cannot stop it.
    pub fn metastore_outage(&self) -> Result<Outage<'_>> {
        self.stop_metastore()?;
        Ok(Outage {
            stack: self,
            service: Service::Metastore,
            ended: false,
        })
    }

    /// The NameNode's count of live DataNodes, read from its JMX endpoint
    /// (`FSNamesystemState.NumLiveDataNodes`).
    pub fn live_datanodes(&self) -> Result<u64> {
        self.namenode_figure("FSNamesystemState", "NumLiveDataNodes")
    }

    /// Blocks the NameNode counts below their replication factor, from its JMX endpoint
    /// (`FSNamesystem.UnderReplicatedBlocks`): 0 once HDFS has re-replicated everything.
    ///
    /// # Errors
    /// When the NameNode's web server does not answer or the figure is missing.
    pub fn under_replicated_blocks(&self) -> Result<u64> {
        self.namenode_figure("FSNamesystem", "UnderReplicatedBlocks")
    }

    /// Figure `attribute` of the NameNode's JMX bean `Hadoop:service=NameNode,name=<bean>`.
    fn namenode_figure(&self, bean: &str, attribute: &str) -> Result<u64> {
        let body = http_get(
            self.ports.hdfs_http,
            &format!("/jmx?qry=Hadoop:service=NameNode,name={bean}"),
        )?;
        let json: serde_json::Value =
            serde_json::from_str(&body).context("NameNode JMX is not JSON")?;
        json["beans"][0][attribute]
            .as_u64()
            .ok_or_else(|| anyhow!("no {attribute} in the NameNode's JMX answer: {body}"))
    }

    /// The NameNode's `fsck` report of `path` (an absolute HDFS path, recursively) with one
    /// line per file and one per block, each block line ending in `Live_repl=N` (replicas on
    /// live DataNodes). Plain text, as `hdfs fsck PATH -files -blocks` prints it.
    ///
    /// # Errors
    /// When the NameNode's web server does not answer.
    pub fn fsck(&self, path: &str) -> Result<String> {
        let encoded: String = path
            .bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'/' | b'-' | b'_' | b'.' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect();
        http_get(
            self.ports.hdfs_http,
            &format!("/fsck?ugi=wa-tests&path={encoded}&files=1&blocks=1"),
        )
    }

    /// Polls [`Stack::live_datanodes`] until it equals `want`, for at most `timeout`.
    pub fn wait_live_datanodes(&self, want: u64, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            let live = self.live_datanodes()?;
            if live == want {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("NameNode reports {live} live DataNodes, expected {want} within {timeout:?}");
            }
            std::thread::sleep(Duration::from_millis(500));
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Service {
    DataNode(usize),
    Broker,
    Metastore,
}

/// A stopped service of the stack, started again by [`Outage::end`] — or on drop, so a test
/// that fails half-way never leaves the stack broken for the tests after it.
#[derive(Debug)]
#[must_use = "the service restarts when the outage is dropped"]
pub struct Outage<'a> {
    stack: &'a Stack,
    service: Service,
    ended: bool,
}

impl Outage<'_> {
    /// Starts the service again and waits until it answers.
    ///
    /// # Errors
    /// When the stack script cannot start it.
    pub fn end(mut self) -> Result<()> {
        self.ended = true;
        self.restart()
    }

    fn restart(&self) -> Result<()> {
        match self.service {
            Service::DataNode(i) => self.stack.start_datanode(i),
            Service::Broker => self.stack.start_broker(),
            Service::Metastore => self.stack.start_metastore(),
        }
    }
}

impl Drop for Outage<'_> {
    fn drop(&mut self) {
        if !self.ended {
            if let Err(e) = self.restart() {
                eprintln!(
                    "could not restart {:?} after a fault test: {e:#}",
                    self.service
                );
            }
        }
    }
}

fn port_open(port: u16) -> bool {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    TcpStream::connect_timeout(&addr, Duration::from_millis(500)).is_ok()
}

fn check_prerequisites() -> Result<()> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let missing: Vec<&str> = [
        ("java", "a JDK 17 (Debian: openjdk-17-jdk-headless)"),
        ("mvn", "Maven (Debian: maven)"),
        (
            "python3",
            "Python 3 with venv (Debian: python3 python3-venv)",
        ),
    ]
    .iter()
    .filter(|(bin, _)| !std::env::split_paths(&path).any(|dir| dir.join(bin).is_file()))
    .map(|(bin, what)| {
        eprintln!("[wa-tests] '{bin}' not found on PATH: install {what}");
        *bin
    })
    .collect();
    if !missing.is_empty() {
        bail!(
            "missing prerequisites {missing:?}; install them (README.md, Prerequisites) and run again"
        );
    }
    Ok(())
}

/// A minimal HTTP/1.0 GET on loopback, enough for the NameNode's JMX servlet.
fn http_get(port: u16, path: &str) -> Result<String> {
    let mut conn = TcpStream::connect(SocketAddr::from(([127, 0, 0, 1], port)))
        .with_context(|| format!("connecting to 127.0.0.1:{port}"))?;
    conn.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(conn, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")?;
    let mut resp = String::new();
    conn.read_to_string(&mut resp)?;
    let (head, body) = resp
        .split_once("\r\n\r\n")
        .ok_or_else(|| anyhow!("malformed HTTP answer from 127.0.0.1:{port}"))?;
    if !head.starts_with("HTTP/1.1 200") && !head.starts_with("HTTP/1.0 200") {
        bail!(
            "GET {path} on 127.0.0.1:{port}: {}",
            head.lines().next().unwrap_or("")
        );
    }
    Ok(body.to_string())
}
