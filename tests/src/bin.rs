//! The workspace's own binaries, built fresh, for tests that run them as real processes.
//!
//! Cargo only gives a test `CARGO_BIN_EXE_<name>` for binaries of the test's own package, and
//! `wa-tests` is not the package of `wa-producer`, `wa-archiver`, …. So [`binary`] runs
//! `cargo build --bin NAME` (same cargo, same profile, same target directory as the running
//! test) once per test process and returns the path of the result. The build is a no-op when
//! the binary is up to date; a test therefore never runs a stale binary, and `cargo test`
//! alone is enough (no separate build step in CI).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, OnceLock};

use anyhow::{bail, Context, Result};

/// Builds (if needed) the workspace binary `name` (e.g. `"wa-producer"`) and returns its path,
/// `<target dir>/<profile>/<name>`, beside the running test executable.
///
/// The target directory and profile are those of the running test (found from
/// [`std::env::current_exe`], which lives in `<target dir>/<profile>/deps/`); cargo is the
/// `CARGO` that runs the tests. Builds are serialised and done once per name per process.
///
/// # Errors
/// When cargo fails to build `name` (compile error, no such binary in the workspace) or the
/// binary is not where cargo puts it.
pub fn binary(name: &str) -> Result<PathBuf> {
    static BUILT: OnceLock<Mutex<HashMap<String, PathBuf>>> = OnceLock::new();
    let built = BUILT.get_or_init(Default::default);
    let mut built = built
        .lock()
        .map_err(|_| anyhow::anyhow!("an earlier build of a binary panicked"))?;
    if let Some(path) = built.get(name) {
        return Ok(path.clone());
    }

    let exe = std::env::current_exe().context("locating the test executable")?;
    // <target dir>/<profile>/deps/<test executable>
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .context("the test executable is not in <target>/<profile>/deps")?;
    let target_dir = profile_dir
        .parent()
        .context("the test executable is not in <target>/<profile>/deps")?;
    let profile = profile_dir
        .file_name()
        .and_then(|p| p.to_str())
        .context("profile directory name")?;
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .context("workspace root")?;
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());

    let mut command = Command::new(cargo);
    command
        .current_dir(workspace)
        .args(["build", "--quiet", "--bin", name, "--target-dir"])
        .arg(target_dir);
    match profile {
        "debug" => {}
        "release" => {
            command.arg("--release");
        }
        other => {
            command.args(["--profile", other]);
        }
    }
    let status = command
        .status()
        .with_context(|| format!("running cargo build --bin {name}"))?;
    if !status.success() {
        bail!("cargo build --bin {name} failed ({status})");
    }
    let path = profile_dir.join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    if !path.is_file() {
        bail!("cargo built {name} but {} does not exist", path.display());
    }
    built.insert(name.to_owned(), path.clone());
    Ok(path)
}

/// `wa-producer simulate --kafka-brokers BROKERS --topic TOPIC`, built fresh ([`binary`]),
/// for the caller to add the run's other flags to.
///
/// # Panics
/// When the producer cannot be built (as [`binary`] errs).
pub fn simulate_command(brokers: &str, topic: &str) -> Command {
    let mut command = Command::new(binary("wa-producer").expect("building wa-producer"));
    command.args(["simulate", "--kafka-brokers", brokers, "--topic", topic]);
    command
}
