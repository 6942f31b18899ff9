//! The `wa-archiver` binary's command line. Also makes `cargo test -p archiver --test
//! archiver` build the binary that `wa-tests`' integration test of the same name runs.

#![allow(clippy::unwrap_used)] // a test fails by panicking

use std::process::Command;

#[test]
fn help_lists_every_flag_with_its_environment_twin() {
    let out = Command::new(env!("CARGO_BIN_EXE_wa-archiver"))
        .arg("--help")
        .output()
        .unwrap();
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    for env in [
        "WA_KAFKA_BROKERS",
        "WA_TOPIC",
        "WA_HDFS_URL",
        "WA_METASTORE_URI",
        "WA_ARCHIVE_ROOT",
        "WA_ROLL_SIZE_BYTES",
        "WA_ROLL_INTERVAL",
        "WA_DATABASE",
        "WA_KAFKA_PROPERTIES",
        "WA_METRICS_ADDR",
    ] {
        assert!(
            help.contains(&format!("[env: {env}")),
            "--help does not mention {env}:\n{help}"
        );
    }
}

#[test]
fn bad_flags_fail_with_a_message_instead_of_running() {
    let out = Command::new(env!("CARGO_BIN_EXE_wa-archiver"))
        .args(["--roll-size-bytes", "lots"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--roll-size-bytes"));
}

#[test]
fn old_names_of_renamed_settings_are_read_with_a_warning() {
    // A metrics address that is not this host's stops the service before it connects to
    // anything, after the settings were read and the deprecations logged.
    let out = Command::new(env!("CARGO_BIN_EXE_wa-archiver"))
        .args(["--metrics-addr", "192.0.2.1:9184", "--hive-database", "wa"])
        .env_remove("WA_DATABASE")
        .env_remove("WA_ROLL_INTERVAL")
        .env("WA_ROLL_INTERVAL_SECS", "0.5")
        .env("RUST_LOG", "warn")
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    for expected in [
        "starting the metrics listener on 192.0.2.1:9184",
        "--hive-database is deprecated: --hive-database wa was read as --database wa",
        "WA_ROLL_INTERVAL_SECS=0.5 was read as WA_ROLL_INTERVAL=0.5",
    ] {
        assert!(stderr.contains(expected), "no {expected:?} in:\n{stderr}");
    }
}
