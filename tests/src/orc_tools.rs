//! Apache ORC's Java reader as one more reader of our files: the `orc-tools` uber jar of the ORC
//! release Hive 4.0.1 ships (1.8.5; `tests/stack/pom.xml`, profile `orc-tools`), resolved from
//! Maven Central into `~/.m2` by `tests/stack/stack fetch`, its path printed by `stack env` as
//! `WA_ORC_TOOLS_JAR`. [`OrcTools::meta`] and [`OrcTools::data`] run
//! `java -jar orc-tools-1.8.5-uber.jar meta|data FILE…` on local files (the jar has no HDFS
//! client), several files in one JVM.
//!
//! orc-tools reports a file it cannot read in two ways: `meta` dies with the exception
//! (non-zero exit), but `data` prints `Unable to dump data for file …` and the stack trace on
//! stderr and goes on with the next file, exiting 0. So a run counts as failed when it exits
//! non-zero *or* prints anything on stderr besides its `Processing data file …` line per file
//! and log4j 1's warning that it has no configuration.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{bail, Context, Result};
use serde_json::{Map, Value};

use crate::Stack;

/// The runnable orc-tools jar and the `java` that runs it.
#[derive(Debug, Clone)]
pub struct OrcTools {
    java: PathBuf,
    jar: PathBuf,
}

/// What `orc-tools meta` says about one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileMeta {
    /// The file, as `meta` names it (`Structure for …`).
    pub file: String,
    /// `File Version: …` (format version, writer version, writer software).
    pub version: String,
    /// `Rows: N`.
    pub rows: u64,
    /// `Compression: …`, e.g. `ZLIB`.
    pub compression: String,
    /// `Type: …`: the file's schema, e.g. `struct<page_url:string,event_count:bigint>`.
    pub schema: String,
    /// The `File Statistics:` lines, one per column id (`Column 0: count: 12 hasNull: false`).
    pub file_statistics: Vec<String>,
    /// The `Stripe Statistics:` lines of each stripe, as [`FileMeta::file_statistics`].
    pub stripe_statistics: Vec<Vec<String>>,
    /// The stripes (`Stripe: offset: 3 data: … rows: …`).
    pub stripes: Vec<String>,
    /// The column encodings of every stripe (`Encoding column 1: DIRECT_V2`).
    pub encodings: Vec<String>,
}

/// One row as `orc-tools data` prints it: a JSON object of column name → value (timestamps as
/// `java.sql.Timestamp` text, binary as an array of byte values).
pub type DataRow = Map<String, Value>;

impl Stack {
    /// The orc-tools jar `tests/stack/stack env` names (`WA_ORC_TOOLS_JAR`) and the `java` of
    /// `JAVA_HOME` or `PATH`.
    ///
    /// # Errors
    /// When the jar has not been fetched (`stack fetch` resolves it) or is gone from `~/.m2`.
    pub fn orc_tools(&self) -> Result<OrcTools> {
        let env = self.run_script(&["env"])?;
        let quoted = env
            .lines()
            .find_map(|l| l.strip_prefix("WA_ORC_TOOLS_JAR="))
            .context(
                "`tests/stack/stack env` prints no WA_ORC_TOOLS_JAR: the stack script predates \
                 orc-tools",
            )?;
        let jar = PathBuf::from(shell_unquote(quoted)?);
        if jar.as_os_str().is_empty() || !jar.is_file() {
            bail!(
                "the orc-tools jar (org.apache.orc:orc-tools:1.8.5:uber, the ORC Java reader of \
                 Hive 4.0.1) is missing: run `tests/stack/stack fetch`, which resolves it from \
                 Maven Central into ~/.m2 (`stack env` said WA_ORC_TOOLS_JAR={quoted})"
            );
        }
        let java = match std::env::var_os("JAVA_HOME") {
            Some(home) if Path::new(&home).join("bin/java").is_file() => {
                Path::new(&home).join("bin/java")
            }
            _ => PathBuf::from("java"),
        };
        Ok(OrcTools { java, jar })
    }
}

/// Undoes bash's `printf %q` for what it makes of a path: `''` for the empty string, a
/// backslash before each special character.
fn shell_unquote(quoted: &str) -> Result<String> {
    if quoted == "''" {
        return Ok(String::new());
    }
    if quoted.starts_with("$'") {
        bail!("WA_ORC_TOOLS_JAR={quoted}: a path with control characters is not supported");
    }
    let mut out = String::new();
    let mut chars = quoted.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            out.extend(chars.next());
        } else {
            out.push(c);
        }
    }
    Ok(out)
}

/// The line orc-tools prints after each file (`FileDump.SEPARATOR`: 120 underscores).
fn is_separator(line: &str) -> bool {
    line.len() == 120 && line.bytes().all(|b| b == b'_')
}

impl OrcTools {
    /// The jar's path.
    pub fn jar(&self) -> &Path {
        &self.jar
    }

    /// `java -jar … ARGS`, in UTC; stdout, or an error with everything it printed when it exits
    /// non-zero or prints anything unexpected on stderr.
    fn run(&self, args: &[&str], files: &[PathBuf]) -> Result<String> {
        let out = Command::new(&self.java)
            .arg("-Duser.timezone=UTC")
            .arg("-jar")
            .arg(&self.jar)
            .args(args)
            .args(files)
            .stdin(Stdio::null())
            .output()
            .with_context(|| {
                format!(
                    "running {} -jar {}",
                    self.java.display(),
                    self.jar.display()
                )
            })?;
        let stdout = String::from_utf8(out.stdout).context("orc-tools printed invalid UTF-8")?;
        let stderr = String::from_utf8_lossy(&out.stderr);
        let unexpected: Vec<&str> = stderr
            .lines()
            .filter(|l| !l.starts_with("Processing data file ") && !l.starts_with("log4j:WARN "))
            .collect();
        if !out.status.success() || !unexpected.is_empty() {
            let tail: Vec<&str> = stdout.lines().rev().take(20).collect();
            bail!(
                "`java -jar {} {} <{} files>` exited with {} and printed on stderr:\n{stderr}\n\
                 last lines of its stdout:\n{}",
                self.jar.display(),
                args.join(" "),
                files.len(),
                out.status,
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            );
        }
        Ok(stdout)
    }

    /// `orc-tools version`, e.g. `ORC 1.8.5`.
    ///
    /// # Errors
    /// When the jar does not run.
    pub fn version(&self) -> Result<String> {
        Ok(self.run(&["version"], &[])?.trim().to_string())
    }

    /// `orc-tools meta FILE…` in one JVM: one [`FileMeta`] per file, in order.
    ///
    /// # Errors
    /// When orc-tools fails on a file (the error carries its output) or its report lacks a
    /// file or a field.
    pub fn meta(&self, files: &[PathBuf]) -> Result<Vec<FileMeta>> {
        let out = self.run(&["meta"], files)?;
        let metas = parse_meta(&out)?;
        let got: Vec<&str> = metas.iter().map(|m| m.file.as_str()).collect();
        let want: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
        if got != want {
            bail!("orc-tools meta reported on {got:?}, asked for {want:?}");
        }
        Ok(metas)
    }

    /// `orc-tools data FILE…` in one JVM: the rows of each file, in order.
    ///
    /// # Errors
    /// When orc-tools fails on a file (it then prints the file's name and the exception on
    /// stderr) or prints something that is not one JSON object per row.
    pub fn data(&self, files: &[PathBuf]) -> Result<Vec<Vec<DataRow>>> {
        let out = self.run(&["data"], files)?;
        let per_file = parse_data(&out)?;
        if per_file.len() != files.len() {
            bail!(
                "orc-tools data printed {} files' rows for {} files",
                per_file.len(),
                files.len()
            );
        }
        Ok(per_file)
    }
}

fn parse_meta(out: &str) -> Result<Vec<FileMeta>> {
    #[derive(PartialEq)]
    enum Section {
        Head,
        StripeStatistics,
        FileStatistics,
        Stripes,
        Other,
    }
    let mut metas = Vec::new();
    let mut current: Option<(FileMeta, [bool; 4])> = None;
    let mut section = Section::Other;
    let finish = |current: Option<(FileMeta, [bool; 4])>, metas: &mut Vec<FileMeta>| {
        if let Some((meta, seen)) = current {
            if seen != [true; 4] {
                bail!(
                    "orc-tools meta's report on {} lacks File Version, Rows, Compression or Type",
                    meta.file
                );
            }
            metas.push(meta);
        }
        Ok(())
    };
    for line in out.lines() {
        if let Some(file) = line.strip_prefix("Structure for ") {
            finish(current.take(), &mut metas)?;
            current = Some((
                FileMeta {
                    file: file.to_string(),
                    version: String::new(),
                    rows: 0,
                    compression: String::new(),
                    schema: String::new(),
                    file_statistics: Vec::new(),
                    stripe_statistics: Vec::new(),
                    stripes: Vec::new(),
                    encodings: Vec::new(),
                },
                [false; 4],
            ));
            section = Section::Head;
            continue;
        }
        let Some((meta, seen)) = current.as_mut() else {
            continue;
        };
        match line {
            "File Statistics:" => section = Section::FileStatistics,
            "Stripes:" => section = Section::Stripes,
            "Stripe Statistics:" => section = Section::StripeStatistics,
            "" if section != Section::Stripes => section = Section::Other,
            _ if section == Section::Head => {
                if let Some(v) = line.strip_prefix("File Version: ") {
                    meta.version = v.to_string();
                    seen[0] = true;
                } else if let Some(v) = line.strip_prefix("Rows: ") {
                    meta.rows = v.parse().with_context(|| format!("bad line {line:?}"))?;
                    seen[1] = true;
                } else if let Some(v) = line.strip_prefix("Compression: ") {
                    meta.compression = v.to_string();
                    seen[2] = true;
                } else if let Some(v) = line.strip_prefix("Type: ") {
                    meta.schema = v.to_string();
                    seen[3] = true;
                }
            }
            _ if section == Section::StripeStatistics => {
                let l = line.trim();
                if l.starts_with("Stripe ") && l.ends_with(':') {
                    meta.stripe_statistics.push(Vec::new());
                } else if let Some(stripe) = meta.stripe_statistics.last_mut() {
                    stripe.push(l.to_string());
                } else {
                    bail!("{}: statistics line {line:?} before any stripe", meta.file);
                }
            }
            _ if section == Section::FileStatistics => {
                meta.file_statistics.push(line.trim().to_string());
            }
            _ if section == Section::Stripes => {
                let l = line.trim();
                if l.starts_with("Stripe: ") {
                    meta.stripes.push(l.to_string());
                } else if l.starts_with("Encoding column ") {
                    meta.encodings.push(l.to_string());
                } else if l.is_empty() || l.starts_with("File length:") {
                    section = Section::Other;
                }
            }
            _ => {}
        }
    }
    finish(current.take(), &mut metas)?;
    Ok(metas)
}

fn parse_data(out: &str) -> Result<Vec<Vec<DataRow>>> {
    let mut files = Vec::new();
    let mut rows = Vec::new();
    let mut after_separator = false;
    for line in out.lines() {
        if is_separator(line) {
            files.push(std::mem::take(&mut rows));
            after_separator = true;
        } else if line.is_empty() && after_separator {
            after_separator = false;
        } else {
            after_separator = false;
            let row: DataRow = serde_json::from_str(line)
                .with_context(|| format!("orc-tools data printed {line:?}, not a JSON object"))?;
            rows.push(row);
        }
    }
    if !rows.is_empty() {
        bail!(
            "orc-tools data printed {} rows after the last file's separator",
            rows.len()
        );
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    const META: &str = "Structure for /tmp/a/p0-o0.orc
File Version: 0.12 with ORC_14 by ORC Rust
Rows: 2
Compression: ZLIB
Compression size: 65536
Calendar: Julian/Gregorian
Type: struct<page_url:string,event_count:bigint>

Stripe Statistics:
  Stripe 1:
    Column 0: count: 2 hasNull: false
    Column 1: count: 2 hasNull: false min: /a max: /b sum: 4
    Column 2: count: 2 hasNull: false min: 1 max: 5 sum: 6

File Statistics:
  Column 0: count: 2 hasNull: false
  Column 1: count: 2 hasNull: false min: /a max: /b sum: 4
  Column 2: count: 2 hasNull: false min: 1 max: 5 sum: 6

Stripes:
  Stripe: offset: 3 data: 40 rows: 2 tail: 50 index: 0
    Stream: column 0 section PRESENT start: 3 length 5
    Encoding column 0: DIRECT
    Encoding column 1: DIRECT_V2
    Encoding column 2: DIRECT_V2

File length: 300 bytes
Padding length: 0 bytes
Padding ratio: 0%
________________________________________________________________________________________________________________________

Structure for /tmp/a/p0-o2.orc
File Version: 0.12 with ORC_14 by ORC Rust
Rows: 1
Compression: ZLIB
Type: struct<page_url:string,event_count:bigint>

File Statistics:
  Column 0: count: 1 hasNull: false

Stripes:
  Stripe: offset: 3 data: 20 rows: 1 tail: 50 index: 0

File length: 200 bytes
________________________________________________________________________________________________________________________

";

    #[test]
    fn parses_meta_reports() {
        let metas = parse_meta(META).unwrap();
        assert_eq!(metas.len(), 2);
        let m = &metas[0];
        assert_eq!(m.file, "/tmp/a/p0-o0.orc");
        assert_eq!(m.version, "0.12 with ORC_14 by ORC Rust");
        assert_eq!((m.rows, m.compression.as_str()), (2, "ZLIB"));
        assert_eq!(m.schema, "struct<page_url:string,event_count:bigint>");
        assert_eq!(m.file_statistics.len(), 3);
        assert_eq!(m.stripe_statistics.len(), 1);
        assert_eq!(m.stripe_statistics[0], m.file_statistics);
        assert_eq!(
            m.file_statistics[2],
            "Column 2: count: 2 hasNull: false min: 1 max: 5 sum: 6"
        );
        assert_eq!(m.stripes.len(), 1);
        assert_eq!(m.encodings.len(), 3);
        assert_eq!(metas[1].rows, 1);
        assert_eq!(
            metas[1].file_statistics,
            ["Column 0: count: 1 hasNull: false"]
        );
        assert!(metas[1].stripe_statistics.is_empty());
    }

    #[test]
    fn a_meta_report_without_rows_is_an_error() {
        assert!(parse_meta("Structure for /x\nType: struct<a:int>\n").is_err());
    }

    #[test]
    fn parses_data_per_file() {
        let sep = "_".repeat(120);
        let out = format!("{{\"a\":1}}\n{{\"a\":null}}\n{sep}\n\n{sep}\n\n{{\"a\":3}}\n{sep}\n\n");
        let files = parse_data(&out).unwrap();
        assert_eq!(files.len(), 3);
        assert_eq!(files[0].len(), 2);
        assert!(files[1].is_empty());
        assert_eq!(files[2][0]["a"], 3);
        assert!(parse_data("{\"a\":1}\n").is_err());
        assert!(parse_data("Unable to dump\n").is_err());
    }

    #[test]
    fn unquotes_printf_q() {
        assert_eq!(shell_unquote("''").unwrap(), "");
        assert_eq!(shell_unquote("/a\\ b/c.jar").unwrap(), "/a b/c.jar");
        assert!(shell_unquote("$'\\n'").is_err());
    }
}
