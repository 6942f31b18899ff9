//! Secrets stay secret (issue 22): the value of a secret librdkafka property
//! (`sasl.password`, …) is printed by no program and shown on no command line.
//!
//! - **`--help`:** every program and subcommand, run with a unique password in
//!   `WA_KAFKA_PROPERTIES`, prints the variable's name where it has one but never its value.
//! - **Parse errors:** a property list whose password holds an unescaped `;` is refused by
//!   every program with an error that names the entry and quotes none of the password.
//! - **`wa-dataflow launch`:** a 2-process cluster started with `-X sasl.password=…` (against
//!   the PLAINTEXT broker, where librdkafka ignores it) runs; while it runs, the password is on
//!   no command line in `/proc` but the launcher's own (which the test wrote), it reaches every
//!   child through its environment (escaped `;` included), and it is in no log line and on no
//!   `/metrics` page.

#![allow(clippy::unwrap_used)] // a test fails by panicking

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use wa_tests::dataflow::{cleanup, init_database, Dataflow, DataflowOptions};
use wa_tests::{binary, create_topic, stack, unique_name};

/// A password no other process on this machine holds.
fn password() -> String {
    unique_name("pw")
}

/// Runs `bin args` with only `WA_KAFKA_PROPERTIES` of the `WA_*` variables set, to `kafka`.
fn run(bin: &str, args: &[&str], kafka: &str) -> Output {
    let mut command = Command::new(binary(bin).unwrap());
    command.args(args).stdin(Stdio::null());
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("WA_") {
            command.env_remove(key);
        }
    }
    command.env("WA_KAFKA_PROPERTIES", kafka).output().unwrap()
}

/// stdout and stderr of `output`.
fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
fn help_and_parse_errors_print_no_secret() {
    let secret = password();
    let kafka =
        format!("security.protocol=PLAINTEXT;sasl.password={secret};ssl.key.password={secret}");
    // (program, arguments, whether this help lists the -X flag and its variable)
    let helps: [(&str, &[&str], bool); 12] = [
        ("wa-producer", &["--help"], false),
        ("wa-producer", &["simulate", "--help"], true),
        ("wa-producer", &["serve", "--help"], true),
        ("wa-producer", &["serve", "-h"], true),
        ("wa-dataflow", &["--help"], true),
        ("wa-dataflow", &["run", "--help"], true),
        ("wa-dataflow", &["launch", "--help"], true),
        ("wa-archiver", &["--help"], true),
        ("wa-archiver", &["replay", "--help"], true),
        ("wa-archiver", &["-h"], true),
        ("wa-bench", &["--help"], false),
        ("wa-bench", &["kafka-count", "--help"], false),
    ];
    for (bin, args, lists_it) in helps {
        let out = run(bin, args, &kafka);
        let shown = text(&out);
        let what = format!("{bin} {}", args.join(" "));
        assert!(out.status.success(), "{what}: {}\n{shown}", out.status);
        assert!(
            !shown.contains(&secret),
            "{what} printed the password:\n{shown}"
        );
        if lists_it {
            assert!(shown.contains("WA_KAFKA_PROPERTIES"), "{what}:\n{shown}");
            assert!(shown.contains("-X"), "{what}:\n{shown}");
        }
    }

    // A password with an unescaped ';': its second half is entry 3, which is refused without
    // being quoted — from the environment and from the command line.
    let (head, tail) = secret.split_at(secret.len() / 2);
    let broken = format!("security.protocol=PLAINTEXT;sasl.password={head};{tail}");
    let refusals: [(&str, Vec<&str>, &str); 5] = [
        ("wa-producer", vec!["simulate", "--events", "1"], &broken),
        ("wa-dataflow", vec!["run"], &broken),
        ("wa-dataflow", vec!["launch"], &broken),
        ("wa-archiver", vec![], &broken),
        ("wa-bench", vec!["kafka-count", "-X", &broken], ""),
    ];
    for (bin, args, kafka) in refusals {
        let out = run(bin, &args, kafka);
        let shown = text(&out);
        let what = format!("{bin} {}", args.join(" ").replace(&broken, "<broken list>"));
        assert!(!out.status.success(), "{what} accepted the list:\n{shown}");
        assert!(
            !shown.contains(head) && !shown.contains(tail),
            "{what} printed part of the password:\n{shown}"
        );
        assert!(
            shown.contains("entry 3") && shown.contains("after sasl.password"),
            "{what} does not say which entry is wrong:\n{shown}"
        );
    }
}

/// `/proc/PID/<file>` of every process that is still there and readable, as text (NULs as
/// spaces).
fn proc_files(file: &str) -> Vec<(u32, String)> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        if let Ok(bytes) = std::fs::read(entry.path().join(file)) {
            found.push((pid, String::from_utf8_lossy(&bytes).replace('\0', " ")));
        }
    }
    found
}

/// The pids of processes whose command line holds `needle`.
fn command_lines_with(needle: &str) -> Vec<u32> {
    proc_files("cmdline")
        .into_iter()
        .filter(|(_, cmdline)| cmdline.contains(needle))
        .map(|(pid, _)| pid)
        .collect()
}

/// Every file under `dir` (logs, `workers.toml`) that holds `needle`.
fn files_with(dir: &Path, needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let text =
            String::from_utf8_lossy(&std::fs::read(entry.path()).unwrap_or_default()).into_owned();
        if text.contains(needle) {
            found.push(entry.path().display().to_string());
        }
    }
    found
}

#[test]
fn launch_keeps_kafka_properties_off_command_lines() {
    let s = stack();
    let _claim = s.shared();
    let topic = unique_name("secrets");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(create_topic(s, &topic, 2)).unwrap();
    let db = unique_name("secrets");
    init_database(s, &db).unwrap();

    // `sasl.password` is ignored on a PLAINTEXT connection; the escaped ';' must reach the
    // children as part of the value, or they refuse the list and exit.
    let secret = password();
    let written = format!(r"sasl.password=x\;{secret}");
    let mut options = DataflowOptions::new(&topic, &db).cluster(2, 1);
    options.extra_args = vec![
        "-X".into(),
        written.clone(),
        "-X".into(),
        "client.id=wa-secrets-test".into(),
    ];
    let mut df = Dataflow::start(s, &options).unwrap();

    // Both processes started, each serving /metrics (so past reading its settings).
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        df.ensure_running().unwrap();
        let pids = df.process_pids();
        if pids.len() == 2 && (0..2).all(|p| df.metrics(p).is_ok()) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the cluster did not come up\n{}",
            df.log_tail(40)
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    df.run_for(Duration::from_secs(5)).unwrap();
    let children = df.process_pids();
    assert_eq!(children.len(), 2, "{}", df.log_tail(40));

    // Only the launcher's own command line (written by this test) holds the password: not
    // its children's, nor any other process's.
    let holders = command_lines_with(&secret);
    let launchers: Vec<u32> = holders
        .iter()
        .copied()
        .filter(|&pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .map(|c| String::from_utf8_lossy(&c).contains("\0launch\0"))
                .unwrap_or(false)
        })
        .collect();
    assert_eq!(
        launchers.len(),
        1,
        "the launcher's command line: {holders:?}"
    );
    assert_eq!(
        holders, launchers,
        "processes other than the launcher show the password on their command line"
    );
    for child in &children {
        assert!(!holders.contains(child));
        let cmdline = std::fs::read(format!("/proc/{child}/cmdline")).unwrap();
        let cmdline = String::from_utf8_lossy(&cmdline);
        assert!(!cmdline.contains("-X"), "child {child}: {cmdline:?}");
        // The properties reached the child in its environment, as written.
        let environ = std::fs::read(format!("/proc/{child}/environ")).unwrap();
        let environ = String::from_utf8_lossy(&environ);
        assert!(
            environ
                .split('\0')
                .any(|v| v == format!("WA_KAFKA_PROPERTIES={written};client.id=wa-secrets-test")),
            "child {child} lacks WA_KAFKA_PROPERTIES"
        );
    }
    for process in 0..2 {
        let page = df.metrics(process).unwrap();
        assert!(!page.contains(&secret), "/metrics of process {process}");
    }

    let dir = df.dir().to_path_buf();
    df.stop(Duration::from_secs(20)).unwrap();
    let logged = files_with(&dir, &secret);
    assert!(logged.is_empty(), "the password is in {logged:?}");
    assert!(command_lines_with(&secret).is_empty());

    rt.block_on(cleanup(s, &db)).unwrap();
}
