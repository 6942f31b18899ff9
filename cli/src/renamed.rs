//! Settings whose flag or environment variable was renamed, still read under the old name
//! with a warning, so existing command lines, scripts and deployments keep working.
//!
//! A program lists its renamed settings ([`Renamed`]) and parses its command line with
//! [`parse`] instead of `clap::Parser::parse`:
//!
//! - An **old flag** (`--hive-database x`, `--roll-interval-secs=60`) is read as the new one:
//!   the command line is rewritten before clap sees it, with the value converted
//!   ([`OldValue`]). The old flag stays out of `--help`. Giving the old and the new flag
//!   together is the same error as giving the new one twice.
//! - An **old environment variable** (`WA_HIVE_DATABASE`) is read only when the new one
//!   (`WA_DATABASE`) is not set, and ranks below it and below every flag: the order is the
//!   new or the old flag, the new variable, the old variable, the built-in default. An empty
//!   old variable counts as unset.
//! - Every use of an old name yields a [`Deprecation`], which the program logs as a warning
//!   once its logging is set up ([`warn`]): what was read as what, or why it was ignored.

use std::ffi::{OsStr, OsString};
use std::fmt;

use clap::error::ErrorKind;
use clap::parser::ValueSource;
use clap::{Arg, ArgMatches, Command, CommandFactory, FromArgMatches};

/// How a value written under an old name becomes a value of the new setting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OldValue {
    /// Written the same way under both names (`WA_HIVE_DATABASE` → `WA_DATABASE`), or so that
    /// the new setting reads it the same: an old number of seconds is a valid duration, since
    /// a bare number is seconds (`--roll-interval-secs 60` → `--roll-interval 60`).
    Same,
    /// A whole number of milliseconds (`--late-by-ms 120000`), for a setting that now takes a
    /// duration: it is passed on with the unit `ms` (`--late-by 120000ms`).
    Millis,
}

impl OldValue {
    /// The value for the new setting.
    fn convert(self, value: &str) -> Result<String, String> {
        match self {
            OldValue::Same => Ok(value.to_owned()),
            OldValue::Millis => value
                .trim()
                .parse::<u64>()
                .map(|ms| format!("{ms}ms"))
                .map_err(|_| "expected a whole number of milliseconds".to_owned()),
        }
    }
}

/// A setting whose long flag and/or environment variable was renamed. The new names are the
/// argument's own (clap's `long` and `env`); this names the old ones.
#[derive(Clone, Copy, Debug)]
pub struct Renamed {
    /// The argument's id: its field name in the program's clap derive struct (e.g.
    /// `"hive_database"`), which may differ from its flag (`--database`).
    pub id: &'static str,
    /// The old long flag, without the leading `--` (e.g. `"hive-database"`).
    pub old_flag: Option<&'static str>,
    /// The old environment variable (e.g. `"WA_HIVE_DATABASE"`).
    pub old_env: Option<&'static str>,
    /// How a value under the old names is read.
    pub old_value: OldValue,
}

/// One use of an old name: what it was read as, or why it was ignored. Its `Display` is the
/// warning to log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Deprecation {
    old: String,
    message: String,
}

impl Deprecation {
    /// The old name as used: `--hive-database` or `WA_HIVE_DATABASE`.
    pub fn old(&self) -> &str {
        &self.old
    }
}

impl fmt::Display for Deprecation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// Logs every deprecation as a `tracing` warning (target `wa_cli::renamed`).
pub fn warn(deprecations: &[Deprecation]) {
    for d in deprecations {
        tracing::warn!(deprecated = d.old(), "{d}");
    }
}

/// Parses the program's command line and environment like `clap::Parser::parse`, reading
/// the `renamed` settings' old names too ([module docs](self)). Returns the parsed settings
/// and the deprecations to log once logging is set up.
///
/// On an error (or `--help`, `--version`) prints clap's message and exits, as clap does.
///
/// # Panics
/// When an entry of `renamed` names no argument of `P`, or one without a long flag: a
/// programming error, which a unit test calling [`try_parse_from`] catches.
pub fn parse<P: CommandFactory + FromArgMatches>(renamed: &[Renamed]) -> (P, Vec<Deprecation>) {
    try_parse_from(std::env::args_os(), renamed, |name| {
        std::env::var_os(name).map(|v| v.to_string_lossy().into_owned())
    })
    .unwrap_or_else(|e| e.exit())
}

/// An environment lookup for [`try_parse_from`] over fixed `(name, value)` pairs, the first
/// pair of a name winning: for tests, which must not depend on the process environment.
pub fn env_from<'a>(pairs: &'a [(&str, &str)]) -> impl Fn(&str) -> Option<String> + 'a {
    move |name| {
        pairs
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| (*v).to_owned())
    }
}

/// [`parse`] of the given command line (`argv[0]` first) that returns clap's error instead of
/// exiting. `env` looks up the renamed settings' environment variables, old and new (the
/// process environment in [`parse`]; a fixed map in tests). The new arguments' own values
/// from the environment are read by clap, from the process environment.
///
/// # Errors
/// Clap's error for the command line or the environment, including an old name's value that
/// cannot be converted (`--late-by-ms soon`), which names the old flag or variable.
///
/// # Panics
/// As [`parse`].
pub fn try_parse_from<P, I, T>(
    argv: I,
    renamed: &[Renamed],
    env: impl Fn(&str) -> Option<String>,
) -> Result<(P, Vec<Deprecation>), clap::Error>
where
    P: CommandFactory + FromArgMatches,
    I: IntoIterator<Item = T>,
    T: Into<OsString>,
{
    let mut cmd = P::command();
    let mut argv: Vec<OsString> = argv.into_iter().map(Into::into).collect();
    let mut deprecations = Vec::new();
    // Old variables applied as defaults: whether they were read is known after parsing.
    let mut applied = Vec::new();
    for r in renamed {
        let arg = find_arg(&cmd, r.id)
            .unwrap_or_else(|| panic!("renamed setting {:?} is no argument", r.id));
        let long = arg
            .get_long()
            .unwrap_or_else(|| panic!("renamed setting {:?} has no long flag", r.id))
            .to_owned();
        let new_env = arg.get_env().map(|e| e.to_string_lossy().into_owned());
        if let Some(old) = r.old_flag {
            argv = rename_flag(&mut cmd, argv, old, &long, r.old_value, &mut deprecations)?;
        }
        let Some(old_env) = r.old_env else { continue };
        let Some(value) = env(old_env).filter(|v| !v.is_empty()) else {
            continue;
        };
        if let Some(new_env) = new_env.as_deref().filter(|n| env(n).is_some()) {
            deprecations.push(Deprecation {
                old: old_env.to_owned(),
                message: format!(
                    "{old_env} is deprecated and was ignored: {new_env} is set; remove {old_env}"
                ),
            });
            continue;
        }
        let converted = r.old_value.convert(&value).map_err(|why| {
            cmd.error(
                ErrorKind::InvalidValue,
                format!("invalid value {value:?} in {old_env}: {why}"),
            )
        })?;
        cmd = set_default(cmd, r.id, &converted);
        applied.push((r.id, old_env, value, converted, new_env, long));
    }
    let matches = cmd.try_get_matches_from_mut(argv)?;
    let parsed = P::from_arg_matches(&matches).map_err(|e| e.format(&mut cmd))?;
    for (id, old_env, value, converted, new_env, long) in applied {
        let new_name = new_env.unwrap_or_else(|| format!("--{long}"));
        let message = match value_source(&matches, id) {
            Some(ValueSource::DefaultValue) => format!(
                "{old_env} is deprecated: {old_env}={value} was read as {new_name}={converted}; \
                 set {new_name} instead, {old_env} will be removed"
            ),
            Some(_) => format!(
                "{old_env} is deprecated and was ignored: --{long} is given; remove {old_env}"
            ),
            // The subcommand run does not have the setting.
            None => format!(
                "{old_env} is deprecated (and not read by this command); set {new_name} instead"
            ),
        };
        deprecations.push(Deprecation {
            old: old_env.to_owned(),
            message,
        });
    }
    Ok((parsed, deprecations))
}

/// The argument `id` of `cmd` or of one of its subcommands (depth first).
fn find_arg<'a>(cmd: &'a Command, id: &str) -> Option<&'a Arg> {
    cmd.get_arguments()
        .find(|a| a.get_id() == id)
        .or_else(|| cmd.get_subcommands().find_map(|sub| find_arg(sub, id)))
}

/// `cmd` with `value` as the default of argument `id` wherever it appears (a struct of
/// settings may be flattened into several subcommands).
fn set_default(mut cmd: Command, id: &str, value: &str) -> Command {
    if cmd.get_arguments().any(|a| a.get_id() == id) {
        cmd = cmd.mut_arg(id, |a| a.default_value(value.to_owned()));
    }
    let subcommands: Vec<String> = cmd
        .get_subcommands()
        .map(|s| s.get_name().to_owned())
        .collect();
    for name in subcommands {
        cmd = cmd.mut_subcommand(name, |sub| set_default(sub, id, value));
    }
    cmd
}

/// Where the value of `id` came from, for the subcommand run: the innermost one that has the
/// argument. A parent's default does not count when a subcommand runs (our programs flatten
/// the same settings into the top level and into a subcommand, and the top level's are unused
/// then); global arguments are in every subcommand's matches anyway.
fn value_source(matches: &ArgMatches, id: &str) -> Option<ValueSource> {
    let here = match matches.try_contains_id(id) {
        Ok(_) => matches.value_source(id),
        Err(_) => None,
    };
    match matches.subcommand() {
        Some((_, sub)) => {
            value_source(sub, id).or(here.filter(|s| *s != ValueSource::DefaultValue))
        }
        None => here,
    }
}

/// `argv` with `--old VALUE` and `--old=VALUE` written as the new flag (value converted),
/// up to a `--` that ends the flags.
fn rename_flag(
    cmd: &mut Command,
    argv: Vec<OsString>,
    old: &str,
    new: &str,
    old_value: OldValue,
    deprecations: &mut Vec<Deprecation>,
) -> Result<Vec<OsString>, clap::Error> {
    let old_flag = format!("--{old}");
    let new_flag = format!("--{new}");
    let mut convert = |value: &OsStr| -> Result<String, clap::Error> {
        let value = value.to_string_lossy();
        let converted = old_value.convert(&value).map_err(|why| {
            cmd.error(
                ErrorKind::InvalidValue,
                format!("invalid value {value:?} for {old_flag}: {why}"),
            )
        })?;
        deprecations.push(Deprecation {
            old: old_flag.clone(),
            message: format!(
                "{old_flag} is deprecated: {old_flag} {value} was read as {new_flag} \
                 {converted}; use {new_flag}, {old_flag} will be removed"
            ),
        });
        Ok(converted)
    };
    let mut out = Vec::with_capacity(argv.len());
    let mut args = argv.into_iter();
    out.extend(args.next()); // the program
    while let Some(arg) = args.next() {
        let text = arg.to_str().unwrap_or_default();
        if text == "--" {
            out.push(arg);
            out.extend(args);
            break;
        } else if text == old_flag {
            out.push(new_flag.clone().into());
            // A missing value is left for clap to report, under the new flag's name.
            if let Some(value) = args.next() {
                out.push(convert(&value)?.into());
            }
        } else if let Some(value) = text
            .strip_prefix(old_flag.as_str())
            .and_then(|rest| rest.strip_prefix('='))
        {
            out.push(format!("{new_flag}={}", convert(OsStr::new(value))?).into());
        } else {
            out.push(arg);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::time::Duration;

    use clap::{Args, Parser, Subcommand};

    use super::*;

    /// A program with renamed settings flattened into its top level and a subcommand, as the
    /// archiver's are. The environment variables are unique to these tests.
    #[derive(Debug, Parser)]
    #[command(args_conflicts_with_subcommands = true)]
    struct Cli {
        #[command(subcommand)]
        command: Option<Sub>,
        #[command(flatten)]
        run: RunArgs,
    }

    #[derive(Debug, Subcommand)]
    enum Sub {
        Run(RunArgs),
        Other,
    }

    #[derive(Debug, Clone, Args)]
    struct RunArgs {
        #[arg(
            long = "database",
            env = "WA_CLI_TEST_DATABASE",
            default_value = "default"
        )]
        hive_database: String,
        #[arg(long, env = "WA_CLI_TEST_LATE_BY", default_value = "2m",
              value_parser = crate::parse_duration)]
        late_by: Duration,
    }

    const RENAMED: &[Renamed] = &[
        Renamed {
            id: "hive_database",
            old_flag: Some("hive-database"),
            old_env: Some("WA_CLI_TEST_HIVE_DATABASE"),
            old_value: OldValue::Same,
        },
        Renamed {
            id: "late_by",
            old_flag: Some("late-by-ms"),
            old_env: Some("WA_CLI_TEST_LATE_BY_MS"),
            old_value: OldValue::Millis,
        },
    ];

    /// Parses `argv` with `env` as the environment of the old and new variables.
    fn parse_with(
        argv: &[&str],
        env: &[(&str, &str)],
    ) -> Result<(Cli, Vec<Deprecation>), clap::Error> {
        let env: HashMap<String, String> = env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let argv = std::iter::once("prog").chain(argv.iter().copied());
        try_parse_from(argv, RENAMED, |name| env.get(name).cloned())
    }

    /// The settings the command line runs with (of `run` when given).
    fn run_args(cli: Cli) -> RunArgs {
        match cli.command {
            Some(Sub::Run(args)) => args,
            _ => cli.run,
        }
    }

    fn olds(deprecations: &[Deprecation]) -> Vec<&str> {
        deprecations.iter().map(Deprecation::old).collect()
    }

    #[test]
    fn new_names_need_no_translation() {
        let (cli, deprecations) =
            parse_with(&["--database", "wa", "--late-by", "1min"], &[]).unwrap();
        let args = run_args(cli);
        assert_eq!(args.hive_database, "wa");
        assert_eq!(args.late_by, Duration::from_secs(60));
        assert!(deprecations.is_empty());
        let (cli, deprecations) = parse_with(&[], &[]).unwrap();
        assert_eq!(run_args(cli).late_by, Duration::from_secs(120));
        assert!(deprecations.is_empty());
    }

    #[test]
    fn old_flags_are_read_as_the_new_ones_with_converted_values() {
        for argv in [
            ["--hive-database", "wa", "--late-by-ms", "1500"].as_slice(),
            ["--hive-database=wa", "--late-by-ms=1500"].as_slice(),
            ["run", "--hive-database", "wa", "--late-by-ms", "1500"].as_slice(),
        ] {
            let (cli, deprecations) = parse_with(argv, &[]).unwrap();
            let args = run_args(cli);
            assert_eq!(args.hive_database, "wa", "{argv:?}");
            assert_eq!(args.late_by, Duration::from_millis(1500), "{argv:?}");
            assert_eq!(olds(&deprecations), ["--hive-database", "--late-by-ms"]);
            assert!(
                deprecations[1]
                    .to_string()
                    .contains("--late-by-ms 1500 was read as --late-by 1500ms"),
                "{}",
                deprecations[1]
            );
        }
    }

    #[test]
    fn old_flags_after_a_double_dash_are_left_alone() {
        // `--` ends the flags; this command takes no positionals, so clap refuses the rest,
        // as written.
        let e = parse_with(&["--", "--hive-database", "wa"], &[]).unwrap_err();
        assert!(e.to_string().contains("'--hive-database'"), "{e}");
    }

    #[test]
    fn an_old_and_a_new_flag_together_are_an_error() {
        let e = parse_with(&["--database", "a", "--hive-database", "b"], &[]).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::ArgumentConflict);
    }

    #[test]
    fn a_bad_old_value_names_the_old_flag_or_variable() {
        let e = parse_with(&["--late-by-ms", "2s"], &[]).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidValue);
        assert!(e.to_string().contains("--late-by-ms"), "{e}");
        let e = parse_with(&[], &[("WA_CLI_TEST_LATE_BY_MS", "soon")]).unwrap_err();
        assert!(e.to_string().contains("WA_CLI_TEST_LATE_BY_MS"), "{e}");
    }

    #[test]
    fn an_old_variable_is_read_when_the_new_one_is_unset() {
        let env = [
            ("WA_CLI_TEST_HIVE_DATABASE", "wa"),
            ("WA_CLI_TEST_LATE_BY_MS", "8000"),
        ];
        for argv in [[].as_slice(), ["run"].as_slice()] {
            let (cli, deprecations) = parse_with(argv, &env).unwrap();
            let args = run_args(cli);
            assert_eq!(args.hive_database, "wa");
            assert_eq!(args.late_by, Duration::from_secs(8));
            assert_eq!(
                olds(&deprecations),
                ["WA_CLI_TEST_HIVE_DATABASE", "WA_CLI_TEST_LATE_BY_MS"]
            );
            assert!(
                deprecations[0]
                    .to_string()
                    .contains("WA_CLI_TEST_HIVE_DATABASE=wa was read as WA_CLI_TEST_DATABASE=wa"),
                "{}",
                deprecations[0]
            );
        }
        // Empty counts as unset.
        let (cli, deprecations) = parse_with(&[], &[("WA_CLI_TEST_HIVE_DATABASE", "")]).unwrap();
        assert_eq!(run_args(cli).hive_database, "default");
        assert!(deprecations.is_empty());
    }

    #[test]
    fn an_old_variable_ranks_below_every_flag_and_the_new_variable() {
        let old = [("WA_CLI_TEST_HIVE_DATABASE", "old")];
        for argv in [
            ["--database", "flag"].as_slice(),
            ["run", "--database", "flag"].as_slice(),
            ["--hive-database", "flag"].as_slice(),
        ] {
            let (cli, deprecations) = parse_with(argv, &old).unwrap();
            assert_eq!(run_args(cli).hive_database, "flag", "{argv:?}");
            let ignored = deprecations
                .iter()
                .find(|d| d.old() == "WA_CLI_TEST_HIVE_DATABASE")
                .unwrap();
            assert!(
                ignored.to_string().contains("ignored: --database is given"),
                "{ignored}"
            );
        }
        // The new variable set: the old one is not applied (clap reads the new one from the
        // process environment, which these tests leave alone, so the default shows here).
        let both = [
            ("WA_CLI_TEST_HIVE_DATABASE", "old"),
            ("WA_CLI_TEST_DATABASE", "new"),
        ];
        let (cli, deprecations) = parse_with(&[], &both).unwrap();
        assert_eq!(run_args(cli).hive_database, "default");
        assert!(
            deprecations[0]
                .to_string()
                .contains("ignored: WA_CLI_TEST_DATABASE is set"),
            "{}",
            deprecations[0]
        );
    }

    #[test]
    fn an_old_variable_of_a_setting_the_subcommand_lacks_is_only_reported() {
        let (cli, deprecations) =
            parse_with(&["other"], &[("WA_CLI_TEST_HIVE_DATABASE", "wa")]).unwrap();
        assert!(matches!(cli.command, Some(Sub::Other)));
        assert!(
            deprecations[0]
                .to_string()
                .contains("not read by this command"),
            "{}",
            deprecations[0]
        );
    }

    #[test]
    #[should_panic(expected = "is no argument")]
    fn a_renamed_setting_must_exist() {
        let renamed = [Renamed {
            id: "nope",
            old_flag: None,
            old_env: None,
            old_value: OldValue::Same,
        }];
        let _ = try_parse_from::<Cli, _, _>(["prog"], &renamed, |_| None);
    }

    #[test]
    fn help_does_not_show_old_names() {
        let e = parse_with(&["--help"], &[]).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::DisplayHelp);
        let help = e.to_string();
        assert!(
            help.contains("--database") && help.contains("--late-by"),
            "{help}"
        );
        assert!(
            !help.contains("hive-database") && !help.contains("-ms"),
            "{help}"
        );
    }
}
