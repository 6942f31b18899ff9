//! Kafka over SASL_SSL (issue 22): the programs against the stack's SASL_SSL listener
//! (SCRAM-SHA-512 over TLS with the stack's own CA, `tests/stack/stack env` prints its
//! address, CA file, user and password), with `security.protocol=SASL_SSL` only.
//!
//! - **Pipeline.** `wa-producer simulate` → Kafka → a 2-process `wa-dataflow` cluster (one
//!   `wa-dataflow run` per process) and `wa-archiver`, every one of them through the SASL_SSL
//!   listener: the four tables equal the oracle's recomputation from the producer's log, and
//!   the archive holds every record of the topic.
//! - **Wrong password.** Each program exits non-zero within 30 s with an error that names the
//!   brokers and says "authentication failed".
//! - **The password stays secret.** Settings reach the programs in `WA_KAFKA_PROPERTIES`,
//!   never on a command line: while the programs run, no `/proc/*/cmdline` holds the
//!   password; it is in none of their logs (stderr) and in no `--help`.
//!
//! The test harness itself creates topics and reads them back through the PLAINTEXT listener
//! (that is checking, not the pipeline). A stack without the SASL_SSL listener fails the tests
//! with what to do; nothing is skipped.

#![allow(clippy::unwrap_used)] // a test fails by panicking

#[path = "archiver/support.rs"]
#[allow(dead_code)]
mod archiver_support;
#[path = "dataflow/support.rs"]
#[allow(dead_code)]
mod support;

use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use support::*;
use wa_tests::dataflow::{cleanup, init_database, Dataflow, DataflowOptions, Launcher};
use wa_tests::oracle::{assert_tables_eq, Expected, Layout, OracleConfig, Tables};
use wa_tests::{binary, read_topic, simulate_command, stack, unique_name, Stack};

const MINUTE_MS: i64 = 60_000;
const LATENESS_MS: i64 = 3_000;
/// How long a program may take to give up on a wrong password.
const AUTH_FAILURE_WITHIN: Duration = Duration::from_secs(30);

/// The stack's SASL_SSL listener and its SCRAM user, from `tests/stack/stack env`.
struct Sasl {
    brokers: String,
    ca: String,
    user: String,
    password: String,
}

impl Sasl {
    /// The listener of the running stack.
    ///
    /// # Panics
    /// When the stack has no SASL_SSL listener or it does not answer, saying what to do.
    fn of(s: &Stack) -> Sasl {
        let env = s.run_script(&["env"]).unwrap();
        let get = |name: &str| -> String {
            env.lines()
                .find_map(|l| l.strip_prefix(name)?.strip_prefix('='))
                .map(unquote)
                .unwrap_or_default()
        };
        let sasl = Sasl {
            brokers: get("WA_KAFKA_SASL_BROKERS"),
            ca: get("WA_KAFKA_SASL_CA"),
            user: get("WA_KAFKA_SASL_USER"),
            password: get("WA_KAFKA_SASL_PASSWORD"),
        };
        assert!(
            !sasl.brokers.is_empty() && !sasl.password.is_empty() && !sasl.ca.is_empty(),
            "the local stack has no SASL_SSL listener (`tests/stack/stack env` prints no \
             WA_KAFKA_SASL_BROKERS / _PASSWORD / _CA): unset WA_KAFKA_SASL=off if it is set and \
             run `tests/stack/stack up`"
        );
        let addr: SocketAddr = sasl.brokers.parse().unwrap();
        assert!(
            TcpStream::connect_timeout(&addr, Duration::from_secs(2)).is_ok(),
            "the stack's SASL_SSL listener {} does not answer: run `tests/stack/stack up`, which \
             restarts a broker of the stack that was started without it",
            sasl.brokers
        );
        assert!(Path::new(&sasl.ca).is_file(), "no CA file {}", sasl.ca);
        sasl
    }

    /// `WA_KAFKA_PROPERTIES` for SASL_SSL with SCRAM-SHA-512 and `password`.
    fn properties(&self, password: &str) -> String {
        format!(
            "security.protocol=SASL_SSL;sasl.mechanism=SCRAM-SHA-512;sasl.username={};\
             sasl.password={password};ssl.ca.location={}",
            self.user, self.ca
        )
    }
}

/// A value as `stack env` prints it (bash `printf %q`): `''` is empty, `\x` is `x`.
fn unquote(value: &str) -> String {
    if value == "''" {
        return String::new();
    }
    let mut out = String::new();
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            out.extend(chars.next());
        } else {
            out.push(c);
        }
    }
    out
}

/// Watches every process's command line (`/proc/*/cmdline`) for `secret` every 100 ms until
/// dropped; [`CmdlineWatch::offenders`] says which processes held it (pid and program, never
/// the command line itself).
struct CmdlineWatch {
    stop: Arc<AtomicBool>,
    offenders: Arc<Mutex<Vec<String>>>,
    scans: Arc<Mutex<u64>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl CmdlineWatch {
    fn start(secret: &str) -> CmdlineWatch {
        let stop = Arc::new(AtomicBool::new(false));
        let offenders = Arc::new(Mutex::new(Vec::new()));
        let scans = Arc::new(Mutex::new(0));
        let thread = {
            let (stop, offenders, scans) = (stop.clone(), offenders.clone(), scans.clone());
            let secret = secret.as_bytes().to_vec();
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    for (pid, cmdline) in cmdlines() {
                        if contains(&cmdline, &secret) {
                            let program = cmdline.split(|&b| b == 0).next().unwrap_or_default();
                            let entry = format!("pid {pid} ({})", String::from_utf8_lossy(program));
                            let mut o = offenders.lock().unwrap();
                            if !o.contains(&entry) {
                                o.push(entry);
                            }
                        }
                    }
                    *scans.lock().unwrap() += 1;
                    std::thread::sleep(Duration::from_millis(100));
                }
            })
        };
        CmdlineWatch {
            stop,
            offenders,
            scans,
            thread: Some(thread),
        }
    }

    /// Stops watching; panics if a command line held the secret.
    fn assert_clean(mut self, what: &str) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            t.join().unwrap();
        }
        let scans = *self.scans.lock().unwrap();
        assert!(scans > 0, "{what}: the command lines were never scanned");
        let offenders = self.offenders.lock().unwrap();
        assert!(
            offenders.is_empty(),
            "{what}: the SASL password was on the command line of {offenders:?}"
        );
    }
}

impl Drop for CmdlineWatch {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Every readable `/proc/<pid>/cmdline`.
fn cmdlines() -> Vec<(u32, Vec<u8>)> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| {
        let e = e.ok()?;
        let pid: u32 = e.file_name().to_str()?.parse().ok()?;
        Some((pid, std::fs::read(e.path().join("cmdline")).ok()?))
    })
    .collect()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

/// Panics if `secret` is in any of `files` (named in the message, the secret never).
fn assert_not_in_files(secret: &str, files: &[PathBuf], what: &str) {
    assert!(!files.is_empty(), "{what}: no log files to check");
    for file in files {
        let content = std::fs::read(file)
            .unwrap_or_else(|e| panic!("{what}: reading {}: {e}", file.display()));
        assert!(
            !contains(&content, secret.as_bytes()),
            "{what}: the SASL password is in {}",
            file.display()
        );
    }
}

/// Every file in `dir`.
fn files_in(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect()
}

/// `wa-producer simulate` of `sim` through the SASL_SSL listener, settings in the environment
/// only; stderr to `stderr`.
fn simulate(sim: &Sim, brokers: &str, properties: &str, topic: &str, log: &Path) -> Command {
    let mut command = simulate_command(brokers, topic);
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("WA_") {
            command.env_remove(key);
        }
    }
    command
        .arg("--log")
        .arg(log)
        .args(["--seed", &sim.seed.to_string()])
        .args(["--events", &sim.events.to_string()])
        .args(["--rate", &sim.rate.to_string()])
        .args(["--start-time", &sim.start_ms.to_string()])
        .args(["--out-of-order", &format!("{}ms", sim.out_of_order_ms)])
        .args(["--late-fraction", &sim.late_fraction.to_string()])
        .args(["--late-by", &format!("{}ms", sim.late_by_ms)])
        .arg("--no-pacing")
        .env("WA_KAFKA_PROPERTIES", properties)
        .env("RUST_LOG", "info")
        .env("RUST_LIB_BACKTRACE", "0")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::null());
    command
}

/// `wa-archiver` of `setup` through the SASL_SSL listener, settings in the environment only;
/// stderr to `setup.log`.
fn archiver(
    s: &Stack,
    setup: &archiver_support::Setup,
    brokers: &str,
    properties: &str,
) -> Command {
    let mut command = setup.command(s);
    command
        .env("WA_KAFKA_BROKERS", brokers)
        .env("WA_KAFKA_PROPERTIES", properties)
        .env("WA_TOPIC", &setup.topic)
        .env("WA_CONSUMER_GROUP", &setup.topic)
        .env("WA_DATABASE", &setup.database)
        .env("WA_ROLL_SIZE_BYTES", setup.roll_size_bytes.to_string())
        .env("WA_ROLL_INTERVAL", format!("{}s", setup.roll_interval_secs))
        .env("WA_COMPRESSION", "none")
        .env("RUST_LIB_BACKTRACE", "0")
        .env("NO_COLOR", "1")
        .stdout(Stdio::null());
    command
}

/// An archiver setup on `topic`, archiving into `database` (created by the caller).
fn archive_setup(topic: &str, database: &str) -> archiver_support::Setup {
    archiver_support::Setup {
        topic: topic.to_owned(),
        root: format!("/tmp/wa-tests/{database}/raw"),
        database: database.to_owned(),
        roll_size_bytes: 1 << 20,
        roll_interval_secs: 2.0,
        gzip: false,
        log: std::env::temp_dir().join(format!("{database}-archiver.log")),
    }
}

/// A 2-process dataflow cluster (one `wa-dataflow run` each) through the SASL_SSL listener.
fn dataflow_options(
    topic: &str,
    database: &str,
    brokers: &str,
    properties: &str,
) -> DataflowOptions {
    let mut options = DataflowOptions::new(topic, database).cluster(2, 1);
    // `run` per process: the settings stay in each process's environment.
    options.launcher = Launcher::PerProcess;
    options.kafka_brokers = Some(brokers.to_owned());
    options.env = vec![
        ("WA_KAFKA_PROPERTIES".to_owned(), properties.to_owned()),
        ("RUST_LIB_BACKTRACE".to_owned(), "0".to_owned()),
        ("NO_COLOR".to_owned(), "1".to_owned()),
    ];
    options
}

#[test]
fn pipeline_over_sasl_ssl_equals_the_oracle_and_keeps_the_password_secret() {
    let s = stack();
    let _claim = s.shared();
    let sasl = Sasl::of(s);
    let properties = sasl.properties(&sasl.password);
    for bin in ["wa-producer", "wa-archiver", "wa-dataflow"] {
        binary(bin).unwrap();
    }
    let began = Instant::now();

    // 20 000 events over 100 s of stream time across a UTC midnight (two dates), with jitter
    // and late events, produced through the SASL_SSL listener.
    let sim = Sim {
        seed: 22_003,
        events: 20_000,
        rate: 200,
        start_ms: start_before_midnight(50_000),
        out_of_order_ms: 1_500,
        late_fraction: 0.02,
        late_by_ms: 10_000,
        no_pacing: true,
    };
    let stream = Stream::create(s, "sasl", sim.clone());
    let producer_stderr = stream.log.with_extension("stderr");
    let watch = CmdlineWatch::start(&sasl.password);
    let out = simulate(&sim, &sasl.brokers, &properties, &stream.topic, &stream.log)
        .stderr(std::fs::File::create(&producer_stderr).unwrap())
        .status()
        .unwrap();
    assert!(
        out.success(),
        "wa-producer simulate over SASL_SSL failed ({out}):\n{}",
        std::fs::read_to_string(&producer_stderr).unwrap_or_default()
    );
    let mut layout = Layout::new(&stream.topic, PARTITIONS);
    let n = layout
        .push_log(&std::fs::read_to_string(&stream.log).unwrap())
        .unwrap();
    assert_eq!(n as u64, sim.events, "events in the simulation log");
    let topic = read_topic(s, &stream.topic).unwrap();
    layout.check_against(&topic).unwrap();
    eprintln!(
        "[sasl] {} events produced over SASL_SSL in {:.1?}",
        sim.events,
        began.elapsed()
    );

    // The archiver and the dataflow share one database.
    let database = unique_name("sasl");
    init_database(s, &database).unwrap();
    let setup = archive_setup(&stream.topic, &database);
    let mut archiver = archiver_support::Archiver {
        child: archiver(s, &setup, &sasl.brokers, &properties)
            .env(
                "WA_METRICS_ADDR",
                format!("127.0.0.1:{}", archiver_support::free_port()),
            )
            .spawn()
            .unwrap(),
        metrics_port: 0,
        log: setup.log.clone(),
    };
    let mut options = dataflow_options(&stream.topic, &database, &sasl.brokers, &properties);
    options.stop_at_watermark_ms = Some(stream.stop_at_ms(MINUTE_MS, LATENESS_MS));
    let mut df = Dataflow::start(s, &options).unwrap();
    df.wait(Duration::from_secs(300))
        .unwrap_or_else(|e| panic!("wa-dataflow {} over SASL_SSL: {e:#}", options.shape()));
    eprintln!("[sasl] dataflow finished at {:.1?}", began.elapsed());

    // The archive: every record of the topic, per date of its timestamp.
    let want = archiver_support::expected(
        &topic
            .iter()
            .map(|r| (r.timestamp_ms.unwrap(), None, Some(r.value.clone())))
            .collect::<Vec<_>>(),
    );
    let archived = block_on(archiver_support::wait_for_records(
        s,
        &setup.root,
        topic.len(),
        Duration::from_secs(120),
    ));
    archiver.assert_running();
    assert!(
        archived == want,
        "the archive differs from the topic: {} records archived, {} on the topic",
        archiver_support::count(&archived),
        topic.len()
    );
    let dataflow_logs = files_in(df.dir());
    watch.assert_clean("producer, archiver and dataflow over SASL_SSL");
    archiver.stop();

    let expected = Expected::compute(&layout, &OracleConfig::tumbling(MINUTE_MS, LATENESS_MS));
    let t = &expected.tables;
    assert!(
        t.page.len() > 100 && t.late.len() > 50,
        "a degenerate stream: {}",
        t.summary()
    );
    let actual = Tables::read(s, &database).unwrap();
    assert_tables_eq(
        t,
        &actual.without_reason_detail(),
        "oracle vs 2×1 run over SASL_SSL",
    );
    let archive_rows: Vec<(i64,)> = s
        .query(&format!(
            "SELECT COUNT(*) FROM {database}.raw_web_events_json"
        ))
        .unwrap()
        .rows_as()
        .unwrap();
    assert_eq!(
        archive_rows[0].0,
        topic.len() as i64,
        "raw_web_events_json rows"
    );

    let mut logs = dataflow_logs;
    logs.push(producer_stderr);
    logs.push(setup.log.clone());
    assert_not_in_files(&sasl.password, &logs, "logs of the SASL_SSL run");
    eprintln!(
        "[sasl] pipeline over SASL_SSL checked in {:.1?}",
        began.elapsed()
    );

    drop(df);
    // The database and /tmp/wa-tests/<database> on HDFS (the archive root is inside).
    block_on(cleanup(s, &database)).unwrap();
    let _ = std::fs::remove_file(&setup.log);
    stream.remove_log();
}

/// Waits for `child` to exit, at most [`AUTH_FAILURE_WITHIN`] after `started`; returns how
/// long it took. Kills it and panics when it is still running then.
fn exits_within(child: &mut Child, started: Instant, what: &str, log: &Path) -> Duration {
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(
                !status.success(),
                "{what} with a wrong password exited successfully:\n{}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
            return started.elapsed();
        }
        if started.elapsed() > AUTH_FAILURE_WITHIN {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "{what} with a wrong password still ran after {AUTH_FAILURE_WITHIN:?}:\n{}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Panics unless `output` says that authentication with the brokers failed.
fn assert_authentication_error(output: &str, brokers: &str, what: &str) {
    let last = output
        .lines()
        .rev()
        .find(|l| l.contains("authentication failed"))
        .unwrap_or_else(|| panic!("{what}: no 'authentication failed' in its output:\n{output}"));
    assert!(
        last.contains(brokers),
        "{what}: the authentication error does not name the brokers {brokers}: {last}"
    );
}

#[test]
fn a_wrong_password_ends_every_program_with_an_authentication_error_within_30_s() {
    let s = stack();
    let _claim = s.shared();
    let sasl = Sasl::of(s);
    let wrong = format!("wrong{}", &unique_name("pw")[3..]);
    let properties = sasl.properties(&wrong);
    for bin in ["wa-producer", "wa-archiver", "wa-dataflow"] {
        binary(bin).unwrap();
    }
    let topic = unique_name("sasl_wrong");
    block_on(wa_tests::create_topic(s, &topic, PARTITIONS)).unwrap();
    let database = topic.clone();
    init_database(s, &database).unwrap();
    let dir = std::env::temp_dir().join(&topic);
    std::fs::create_dir_all(&dir).unwrap();
    let watch = CmdlineWatch::start(&wrong);

    // The producer.
    let sim = Sim {
        seed: 1,
        events: 1_000,
        rate: 100,
        start_ms: now_ms(),
        out_of_order_ms: 0,
        late_fraction: 0.0,
        late_by_ms: 1_000,
        no_pacing: true,
    };
    let producer_log = dir.join("producer.stderr");
    let started = Instant::now();
    let mut producer = simulate(
        &sim,
        &sasl.brokers,
        &properties,
        &topic,
        &dir.join("sim.ndjson"),
    )
    .stderr(std::fs::File::create(&producer_log).unwrap())
    .spawn()
    .unwrap();
    let took = exits_within(
        &mut producer,
        started,
        "wa-producer simulate",
        &producer_log,
    );
    let output = std::fs::read_to_string(&producer_log).unwrap();
    assert_authentication_error(&output, &sasl.brokers, "wa-producer simulate");
    eprintln!("[sasl] wa-producer simulate gave up after {took:.1?}");

    // The archiver.
    let setup = archive_setup(&topic, &database);
    let started = Instant::now();
    let mut child = archiver(s, &setup, &sasl.brokers, &properties)
        .env(
            "WA_METRICS_ADDR",
            format!("127.0.0.1:{}", archiver_support::free_port()),
        )
        .spawn()
        .unwrap();
    let took = exits_within(&mut child, started, "wa-archiver", &setup.log);
    let output = std::fs::read_to_string(&setup.log).unwrap();
    assert_authentication_error(&output, &sasl.brokers, "wa-archiver");
    eprintln!("[sasl] wa-archiver gave up after {took:.1?}");

    // The dataflow (one `wa-dataflow run`).
    let options = dataflow_options(&topic, &database, &sasl.brokers, &properties).cluster(1, 1);
    let started = Instant::now();
    let mut df = Dataflow::start(s, &options).unwrap();
    let error = df
        .wait(AUTH_FAILURE_WITHIN)
        .expect_err("wa-dataflow run with a wrong password finished successfully");
    let took = started.elapsed();
    let message = format!("{error:#}");
    assert!(
        message.contains("exited with") && took <= AUTH_FAILURE_WITHIN,
        "wa-dataflow run with a wrong password did not exit within {AUTH_FAILURE_WITHIN:?}: {message}"
    );
    assert_authentication_error(&message, &sasl.brokers, "wa-dataflow run");
    eprintln!("[sasl] wa-dataflow run gave up after {took:.1?}");

    watch.assert_clean("programs with a wrong password");
    let mut logs = files_in(df.dir());
    logs.push(producer_log);
    logs.push(setup.log.clone());
    assert_not_in_files(&wrong, &logs, "logs of the wrong-password runs");
    drop(df);

    // `--help` with the settings in the environment shows no password either.
    for (bin, args) in [
        ("wa-producer", &["simulate", "--help"][..]),
        ("wa-archiver", &["--help"][..]),
        ("wa-dataflow", &["run", "--help"][..]),
    ] {
        let out = Command::new(binary(bin).unwrap())
            .args(args)
            .env("WA_KAFKA_PROPERTIES", &properties)
            .output()
            .unwrap();
        let text = [out.stdout, out.stderr].concat();
        assert!(
            !contains(&text, wrong.as_bytes()),
            "{bin} {} prints the SASL password",
            args.join(" ")
        );
    }

    block_on(cleanup(s, &database)).unwrap();
    let _ = std::fs::remove_file(&setup.log);
    let _ = std::fs::remove_dir_all(&dir);
}
