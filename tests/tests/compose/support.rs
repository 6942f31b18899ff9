//! Helpers of the Compose checks: finding Compose v2, the resolved compose file (`docker
//! compose config --format json`, anchors and `${…}` from `compose/.env` expanded) as typed
//! services, the Dockerfile's instructions, the `[env: …]` names a program's `--help` lists,
//! and properties of the Hadoop/Hive XML files. None of this needs a Docker engine.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use serde_json::Value;

/// The compose file, relative to the repository root.
pub const COMPOSE_FILE: &str = "compose/docker-compose.yml";
/// Our Dockerfile, relative to the repository root (and as `build.dockerfile` says it).
pub const DOCKERFILE: &str = "compose/Dockerfile";

/// The repository root (the workspace root).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ is inside the workspace")
        .to_path_buf()
}

/// The command that runs Compose v2 here: `docker compose`, a standalone `docker-compose`, or
/// the plugin binary itself. Panics with what to install when there is none.
pub fn compose_program() -> &'static [String] {
    static PROGRAM: OnceLock<Vec<String>> = OnceLock::new();
    PROGRAM.get_or_init(|| {
        let candidates: [&[&str]; 5] = [
            &["docker", "compose"],
            &["docker-compose"],
            &["/usr/libexec/docker/cli-plugins/docker-compose"],
            &["/usr/lib/docker/cli-plugins/docker-compose"],
            &["/usr/local/lib/docker/cli-plugins/docker-compose"],
        ];
        let mut seen = Vec::new();
        for candidate in candidates {
            let Ok(out) = Command::new(candidate[0])
                .args(&candidate[1..])
                .args(["version", "--short"])
                .output()
            else {
                continue;
            };
            if !out.status.success() {
                continue;
            }
            let version = String::from_utf8_lossy(&out.stdout).trim().to_string();
            let major: u32 = version
                .trim_start_matches('v')
                .split('.')
                .next()
                .and_then(|m| m.parse().ok())
                .unwrap_or(0);
            if major >= 2 {
                return candidate.iter().map(|s| s.to_string()).collect();
            }
            seen.push(format!("{} ({version})", candidate.join(" ")));
        }
        panic!(
            "Docker Compose v2 is needed to check compose/ (no Docker engine is needed), found \
             {}. On Debian: `tests/stack/system-packages` (which ./run-pipeline runs first) \
             installs the docker-compose package (2.x; on Debian 12 the one of Debian 13); \
             elsewhere Docker's compose plugin.",
            if seen.is_empty() {
                "none".to_string()
            } else {
                format!("only {}", seen.join(", "))
            }
        )
    })
}

/// Runs Compose on the compose file with `args`, from the repository root, in an environment
/// without the caller's variables (so only `compose/.env` fills `${…}`).
pub fn compose(args: &[&str]) -> Output {
    let program = compose_program();
    let mut command = Command::new(&program[0]);
    command
        .args(&program[1..])
        .args(["-f", COMPOSE_FILE])
        .args(args)
        .current_dir(repo_root())
        .env_clear();
    for keep in ["PATH", "HOME"] {
        if let Some(value) = std::env::var_os(keep) {
            command.env(keep, value);
        }
    }
    command
        .output()
        .unwrap_or_else(|e| panic!("running {}: {e}", program.join(" ")))
}

/// The resolved compose file (`config --format json`), once per test process.
pub fn resolved() -> &'static Value {
    static CONFIG: OnceLock<Value> = OnceLock::new();
    CONFIG.get_or_init(|| {
        let out = compose(&["config", "--format", "json"]);
        assert!(
            out.status.success(),
            "docker compose config failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("docker compose config --format json")
    })
}

/// One service of the resolved compose file.
#[derive(Debug, Clone, Copy)]
pub struct Service<'a> {
    /// Service name.
    pub name: &'a str,
    /// Its resolved definition.
    pub def: &'a Value,
}

impl<'a> Service<'a> {
    /// `command` as a list (empty when the image's default runs).
    pub fn command(&self) -> Vec<&'a str> {
        strings(&self.def["command"])
    }

    /// `environment` as name → value (a variable without a value maps to "").
    pub fn env(&self) -> BTreeMap<&'a str, &'a str> {
        self.def["environment"]
            .as_object()
            .map(|m| {
                m.iter()
                    .map(|(k, v)| (k.as_str(), v.as_str().unwrap_or("")))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The value of environment variable `name`; panics when the service does not set it.
    pub fn var(&self, name: &str) -> &'a str {
        self.env()
            .get(name)
            .copied()
            .unwrap_or_else(|| panic!("service {} does not set {name}", self.name))
    }

    /// Whether the service runs our image, built from [`DOCKERFILE`].
    pub fn is_ours(&self) -> bool {
        self.def["build"]["dockerfile"].as_str() == Some(DOCKERFILE)
    }

    /// `image`, or "" when there is none.
    pub fn image(&self) -> &'a str {
        self.def["image"].as_str().unwrap_or("")
    }

    /// `restart`, or "no" when unset (Compose's default).
    pub fn restart(&self) -> &'a str {
        self.def["restart"].as_str().unwrap_or("no")
    }

    /// `depends_on` as dependency → condition.
    pub fn depends_on(&self) -> BTreeMap<&'a str, &'a str> {
        self.def["depends_on"]
            .as_object()
            .map(|m| {
                m.iter()
                    .map(|(k, v)| {
                        (
                            k.as_str(),
                            v["condition"].as_str().unwrap_or("service_started"),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Bind mounts as (source on the host, target in the container).
    pub fn binds(&self) -> Vec<(PathBuf, &'a str)> {
        self.def["volumes"]
            .as_array()
            .map(|vs| {
                vs.iter()
                    .filter(|v| v["type"] == "bind")
                    .map(|v| {
                        (
                            PathBuf::from(v["source"].as_str().unwrap_or("")),
                            v["target"].as_str().unwrap_or(""),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Container ports published on the host.
    pub fn published_targets(&self) -> BTreeSet<u64> {
        self.def["ports"]
            .as_array()
            .map(|ps| ps.iter().filter_map(|p| p["target"].as_u64()).collect())
            .unwrap_or_default()
    }

    /// Whether the service has a healthcheck that is not disabled.
    pub fn has_healthcheck(&self) -> bool {
        let check = &self.def["healthcheck"];
        check.is_object() && check["disable"] != true && !strings(&check["test"]).is_empty()
    }

    /// The healthcheck's test as one string.
    pub fn healthcheck(&self) -> String {
        strings(&self.def["healthcheck"]["test"]).join(" ")
    }
}

/// Every service of the resolved compose file, by name.
pub fn services() -> BTreeMap<&'static str, Service<'static>> {
    resolved()["services"]
        .as_object()
        .expect("the compose file has services")
        .iter()
        .map(|(name, def)| (name.as_str(), Service { name, def }))
        .collect()
}

/// The service `name`; panics when there is none.
pub fn service(name: &str) -> Service<'static> {
    *services()
        .get(name)
        .unwrap_or_else(|| panic!("the compose file has no service {name}"))
}

/// The services whose command starts with `program` (e.g. `wa-dataflow`, `hdfs`).
pub fn running(program: &str) -> Vec<Service<'static>> {
    services()
        .into_values()
        .filter(|s| s.command().first() == Some(&program))
        .collect()
}

fn strings(v: &Value) -> Vec<&str> {
    match v {
        Value::Array(items) => items.iter().filter_map(Value::as_str).collect(),
        Value::String(s) => s.split_whitespace().collect(),
        _ => Vec::new(),
    }
}

/// One Dockerfile instruction, continuation lines joined: keyword (upper case) and the rest.
#[derive(Debug, Clone)]
pub struct Instruction {
    /// `FROM`, `RUN`, `COPY`, …
    pub keyword: String,
    /// Everything after the keyword, on one line.
    pub args: String,
}

/// The instructions of `text` (a Dockerfile), comments and blank lines dropped.
pub fn dockerfile_instructions(text: &str) -> Vec<Instruction> {
    let mut out = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('#') || (trimmed.is_empty() && current.is_empty()) {
            continue;
        }
        match trimmed.strip_suffix('\\') {
            Some(part) => {
                current.push_str(part);
                current.push(' ');
            }
            None => {
                current.push_str(trimmed);
                let joined = std::mem::take(&mut current);
                if let Some((keyword, args)) = joined.trim().split_once(char::is_whitespace) {
                    out.push(Instruction {
                        keyword: keyword.to_ascii_uppercase(),
                        args: args.trim().to_string(),
                    });
                }
            }
        }
    }
    out
}

/// The values of every `--bin NAME` in `args`.
pub fn bin_flags(args: &str) -> BTreeSet<String> {
    let words: Vec<&str> = args.split_whitespace().collect();
    words
        .windows(2)
        .filter(|w| w[0] == "--bin")
        .map(|w| w[1].to_string())
        .collect()
}

/// The binary targets of the workspace's own packages that the image ships (all but the
/// benchmark tools), from `cargo metadata`.
pub fn workspace_binaries() -> BTreeSet<String> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let out = Command::new(cargo)
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(repo_root())
        .output()
        .expect("running cargo metadata");
    assert!(
        out.status.success(),
        "cargo metadata failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let metadata: Value = serde_json::from_slice(&out.stdout).expect("cargo metadata JSON");
    metadata["packages"]
        .as_array()
        .expect("packages")
        .iter()
        // The benchmark tools (`bench/`) run beside the stack, not in the product's image.
        .filter(|p| {
            p["manifest_path"]
                .as_str()
                .is_some_and(|m| !m.ends_with("/bench/Cargo.toml"))
        })
        .flat_map(|p| p["targets"].as_array().cloned().unwrap_or_default())
        .filter(|t| {
            t["kind"]
                .as_array()
                .is_some_and(|kinds| kinds.iter().any(|k| k == "bin"))
        })
        .filter_map(|t| t["name"].as_str().map(str::to_string))
        .collect()
}

/// The paths of the workspace's `[patch.crates-io]` path dependencies (relative to the root).
pub fn patched_paths() -> Vec<String> {
    let text = std::fs::read_to_string(repo_root().join("Cargo.toml")).expect("Cargo.toml");
    let manifest: toml::Table = text.parse().expect("Cargo.toml is TOML");
    manifest
        .get("patch")
        .and_then(|p| p.get("crates-io"))
        .and_then(|p| p.as_table())
        .map(|patches| {
            patches
                .values()
                .filter_map(|p| p.get("path").and_then(|v| v.as_str()))
                .map(|p| p.trim_end_matches('/').to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// The environment variables `--help` of `program args…` lists (`[env: NAME=…]`), from the
/// freshly built workspace binary.
pub fn env_vars_in_help(program: &str, args: &[&str]) -> BTreeSet<String> {
    let path = wa_tests::binary(program).unwrap_or_else(|e| panic!("building {program}: {e:#}"));
    let mut command = Command::new(&path);
    command.args(args).arg("--help");
    // Values from the caller's environment would only show up in the text; names are enough.
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("WA_") {
            command.env_remove(name);
        }
    }
    let out = command
        .output()
        .unwrap_or_else(|e| panic!("running {program} --help: {e}"));
    assert!(
        out.status.success(),
        "{program} {} --help failed:\n{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    text.split("[env: ")
        .skip(1)
        .map(|rest| {
            rest.chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect::<String>()
        })
        .filter(|name| !name.is_empty())
        .collect()
}

/// The value of property `name` in a Hadoop-style XML configuration file.
pub fn xml_property(path: &Path, name: &str) -> Option<String> {
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    let mut rest = text.as_str();
    while let Some(start) = rest.find("<property>") {
        let end = rest[start..].find("</property>")? + start;
        let block = &rest[start..end];
        if tag(block, "name").as_deref() == Some(name) {
            return tag(block, "value");
        }
        rest = &rest[end..];
    }
    None
}

fn tag(block: &str, tag: &str) -> Option<String> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let start = block.find(&open)? + open.len();
    let end = block[start..].find(&close)? + start;
    Some(block[start..end].trim().to_string())
}

/// `host` and `port` of `scheme://host:port[/path]` or `host:port`.
pub fn host_port(address: &str) -> (&str, u16) {
    let rest = address.split_once("://").map_or(address, |(_, r)| r);
    let authority = rest.split('/').next().unwrap_or(rest);
    let (host, port) = authority
        .rsplit_once(':')
        .unwrap_or_else(|| panic!("{address} has no port"));
    (
        host,
        port.parse()
            .unwrap_or_else(|_| panic!("{address}: bad port")),
    )
}
