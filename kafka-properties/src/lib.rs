//! librdkafka configuration properties passed through by the user, read the same way by every
//! program (`wa-producer`, `wa-dataflow`, `wa-archiver`, `wa-bench`).
//!
//! A value of `-X` / `--kafka-property`, or of the environment variable
//! `WA_KAFKA_PROPERTIES`, is one or more `KEY=VALUE` properties separated by `;`:
//!
//! ```text
//! WA_KAFKA_PROPERTIES='security.protocol=SASL_SSL;sasl.mechanism=SCRAM-SHA-512'
//! wa-archiver -X security.protocol=SASL_SSL -X 'sasl.mechanism=SCRAM-SHA-512'
//! ```
//!
//! `;` and not `,` because librdkafka values hold commas (`debug=broker,topic`, lists of SASL
//! extensions). Whitespace around a key is dropped, a value is kept as written (after the first
//! `=`, so it may hold `=`). A key is a property name: ASCII letters, digits, `.`, `_` and `-`.
//! Empty entries are skipped, so an empty `WA_KAFKA_PROPERTIES` or a trailing `;` means
//! nothing rather than an error. As with every flag, `-X` on the command line replaces the
//! environment variable; it does not add to it.
//!
//! **Escapes.** A backslash escapes the two characters that would otherwise be read
//! differently: `\;` is a `;` inside a value (not a separator) and `\\` is one `\`. A backslash
//! before any other character, or at the end, is kept as written, so a regular expression such
//! as `^wa\.` needs no doubling; only a `\` that comes right before a `;` or another `\` must be
//! doubled. For example `sasl.password=a\;b\\c` is the password `a;b\c` ([`encode`] writes a
//! list this way).
//!
//! **Secrets.** The value of a property whose name contains `password`, `secret` or `key`, or
//! is `sasl.jaas.config`, is a secret ([`is_secret`]): it is never shown — not by `Debug` or
//! `Display` of [`KafkaProperties`], not in a parse error ([`PropertyError`] names an entry by
//! its position and never quotes what was written), and `--help` does not print the
//! environment variable's value. A command line is visible to every local user (`ps`), the
//! environment only to the same user (`/proc/PID/environ`): give secrets in
//! `WA_KAFKA_PROPERTIES`, not with `-X`.
//!
//! The properties are applied after the program's own settings ([`apply`]), so they win.
//! librdkafka checks names and values when the client is created, and a wrong one fails that
//! program's start-up with librdkafka's message.

use std::ffi::OsStr;
use std::fmt;
use std::str::FromStr;

use rdkafka::ClientConfig;

mod auth;
pub use auth::{is_authentication_failure, AuthContext, AuthWatch, AuthenticationFailed};

/// The environment variable every program reads its librdkafka properties from when no `-X`
/// is given.
pub const ENV: &str = "WA_KAFKA_PROPERTIES";

/// What is shown instead of a secret value.
pub const REDACTED: &str = "[redacted]";

/// Whether the value of the librdkafka property `key` is a secret: its name (ignoring case and
/// surrounding whitespace) contains `password`, `secret` or `key` (`sasl.password`,
/// `ssl.key.password`, `ssl.key.pem`, `sasl.oauthbearer.client.secret`, …), or is
/// `sasl.jaas.config`.
pub fn is_secret(key: &str) -> bool {
    let key = key.trim().to_ascii_lowercase();
    ["password", "secret", "key"]
        .iter()
        .any(|word| key.contains(word))
        || key == "sasl.jaas.config"
}

/// `value` as it may be shown for the property `key`: [`REDACTED`] when [`is_secret`]`(key)`,
/// otherwise `value` itself.
pub fn redact<'a>(key: &str, value: &'a str) -> &'a str {
    if is_secret(key) {
        REDACTED
    } else {
        value
    }
}

/// The properties of one `-X` value or of `WA_KAFKA_PROPERTIES`: `(key, value)` pairs in the
/// order written. Parsed with [`FromStr`]; clap fields of type `Vec<KafkaProperties>` use
/// [`KafkaPropertiesParser`], whose errors do not quote the value.
///
/// `Debug` and `Display` show every secret value ([`is_secret`]) as [`REDACTED`]; `Display`
/// writes the list as it is read, other values escaped (`security.protocol=SASL_SSL;
/// sasl.password=[redacted]` without the space). [`pairs`](KafkaProperties::pairs) and
/// [`encode`] give the values in clear.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct KafkaProperties(Vec<(String, String)>);

impl KafkaProperties {
    /// The `(key, value)` pairs, in the order written, values in clear.
    pub fn pairs(&self) -> &[(String, String)] {
        &self.0
    }
}

impl fmt::Debug for KafkaProperties {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown: Vec<(&str, &str)> = self
            .0
            .iter()
            .map(|(key, value)| (key.as_str(), redact(key, value)))
            .collect();
        f.debug_tuple("KafkaProperties").field(&shown).finish()
    }
}

impl fmt::Display for KafkaProperties {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (key, value)) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(";")?;
            }
            if is_secret(key) {
                write!(f, "{}={REDACTED}", escape(key))?;
            } else {
                write!(f, "{}={}", escape(key), escape(value))?;
            }
        }
        Ok(())
    }
}

/// Why a property list was refused. Names the entry by its position and, when there is one,
/// the key of the property before it; it never quotes what was written, which may be part of
/// a password.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "entry {position} of the property list{} {problem}; entries are KEY=VALUE separated by \
     ';' (inside a value, write ';' as '\\;' and '\\' as '\\\\')",
    after.as_ref().map(|key| format!(" (after {key})")).unwrap_or_default()
)]
pub struct PropertyError {
    /// 1-based position of the entry among the `;`-separated entries, empty ones counted.
    position: usize,
    /// The key of the last well-formed entry before it (a property name, never a value).
    after: Option<String>,
    /// What is wrong with it.
    problem: Problem,
}

impl PropertyError {
    /// 1-based position of the refused entry among the `;`-separated entries of the list
    /// (empty entries counted, so it is one more than the `;` before it).
    pub fn position(&self) -> usize {
        self.position
    }
}

/// What is wrong with an entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Problem {
    /// No `=`.
    NoEquals,
    /// Nothing but whitespace before the `=`.
    EmptyKey,
    /// The key holds a character no property name has.
    NotAName,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Problem::NoEquals => "has no '='",
            Problem::EmptyKey => "has an empty key",
            Problem::NotAName => "has a key that is not a property name",
        })
    }
}

/// Whether `key` (already trimmed) looks like a librdkafka property name.
fn is_name(key: &str) -> bool {
    key.chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

/// The `;`-separated entries of `s`, with `\;` and `\\` unescaped.
fn entries(s: &str) -> Vec<String> {
    let mut entries = Vec::new();
    let mut current = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.peek() {
                Some(&next @ (';' | '\\')) => {
                    current.push(next);
                    chars.next();
                }
                _ => current.push('\\'),
            },
            ';' => entries.push(std::mem::take(&mut current)),
            c => current.push(c),
        }
    }
    entries.push(current);
    entries
}

/// `text` with every `\` and `;` escaped (`\\`, `\;`), so [`entries`] reads it back as one.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '\\' | ';') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

impl FromStr for KafkaProperties {
    type Err = PropertyError;

    /// Parses `KEY=VALUE[;KEY=VALUE…]`, with `\;` and `\\` unescaped.
    ///
    /// # Errors
    /// An entry without `=`, with an empty key, or with a key that holds a character other
    /// than ASCII letters, digits, `.`, `_` and `-`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut pairs: Vec<(String, String)> = Vec::new();
        for (i, entry) in entries(s).into_iter().enumerate() {
            if entry.trim().is_empty() {
                continue;
            }
            let problem = match entry.split_once('=') {
                None => Problem::NoEquals,
                Some((key, _)) if key.trim().is_empty() => Problem::EmptyKey,
                Some((key, _)) if !is_name(key.trim()) => Problem::NotAName,
                Some((key, value)) => {
                    pairs.push((key.trim().to_owned(), value.to_owned()));
                    continue;
                }
            };
            return Err(PropertyError {
                position: i + 1,
                after: pairs.last().map(|(key, _)| key.clone()),
                problem,
            });
        }
        Ok(KafkaProperties(pairs))
    }
}

/// One property list holding every pair of `properties`, in order, that parses back to the
/// same pairs: keys and values with `;` and `\` escaped, joined by `;`. For handing the
/// properties to a child process in [`ENV`]. Holds secret values in clear: never log it.
pub fn encode(properties: &[KafkaProperties]) -> String {
    properties
        .iter()
        .flat_map(KafkaProperties::pairs)
        .map(|(key, value)| format!("{}={}", escape(key), escape(value)))
        .collect::<Vec<_>>()
        .join(";")
}

/// Sets every property of `properties` on `config`, in order (a later one wins), after what
/// the caller has set already.
pub fn apply(config: &mut ClientConfig, properties: &[KafkaProperties]) {
    for (key, value) in properties.iter().flat_map(KafkaProperties::pairs) {
        config.set(key, value);
    }
}

/// clap's parser of a [`KafkaProperties`] value (`-X` or `WA_KAFKA_PROPERTIES`), used by every
/// `Vec<KafkaProperties>` field through [`clap::builder::ValueParserFactory`]. Unlike a parser
/// built on [`FromStr`], whose error quotes the whole value (`invalid value '…' for '-X'`), its
/// error names the flag and the entry ([`PropertyError`]) and never quotes the value.
#[derive(Clone, Copy, Debug, Default)]
pub struct KafkaPropertiesParser;

impl clap::builder::TypedValueParser for KafkaPropertiesParser {
    type Value = KafkaProperties;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &OsStr,
    ) -> Result<KafkaProperties, clap::Error> {
        let flag = arg.map_or_else(|| "-X".to_owned(), ToString::to_string);
        let env = arg
            .and_then(clap::Arg::get_env)
            .map(|env| format!(" (or {})", env.to_string_lossy()))
            .unwrap_or_default();
        let problem = match value.to_str() {
            None => "it is not valid UTF-8".to_owned(),
            Some(text) => match text.parse::<KafkaProperties>() {
                Ok(properties) => return Ok(properties),
                Err(e) => e.to_string(),
            },
        };
        Err(clap::Error::raw(
            clap::error::ErrorKind::ValueValidation,
            format!("invalid value for '{flag}'{env}: {problem}"),
        )
        .format(&mut cmd.clone()))
    }
}

impl clap::builder::ValueParserFactory for KafkaProperties {
    type Parser = KafkaPropertiesParser;

    fn value_parser() -> KafkaPropertiesParser {
        KafkaPropertiesParser
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The pairs `s` parses to.
    fn parse(s: &str) -> Result<Vec<(String, String)>, PropertyError> {
        Ok(s.parse::<KafkaProperties>()?.0)
    }

    fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
        expected
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn one_or_several_properties_separated_by_semicolons() {
        assert_eq!(
            parse("security.protocol=SASL_SSL").unwrap(),
            pairs(&[("security.protocol", "SASL_SSL")])
        );
        assert_eq!(
            parse("a=1; b = 2 ;debug=broker,topic").unwrap(),
            pairs(&[("a", "1"), ("b", " 2 "), ("debug", "broker,topic")])
        );
    }

    #[test]
    fn a_value_keeps_its_equals_signs_and_spaces() {
        assert_eq!(
            parse("sasl.oauthbearer.config=principal=admin scope=x").unwrap(),
            pairs(&[("sasl.oauthbearer.config", "principal=admin scope=x")])
        );
        assert_eq!(parse("linger.ms=").unwrap(), pairs(&[("linger.ms", "")]));
    }

    #[test]
    fn empty_entries_mean_nothing() {
        assert_eq!(parse("").unwrap(), pairs(&[]));
        assert_eq!(parse(" ; ;").unwrap(), pairs(&[]));
        assert_eq!(parse("a=1;").unwrap(), pairs(&[("a", "1")]));
    }

    #[test]
    fn a_backslash_escapes_a_semicolon_or_a_backslash() {
        assert_eq!(
            parse(r"sasl.password=a\;b\\c;acks=1").unwrap(),
            pairs(&[("sasl.password", r"a;b\c"), ("acks", "1")])
        );
        // `\\;` is a backslash, then a separator.
        assert_eq!(
            parse(r"a=x\\;b=y").unwrap(),
            pairs(&[("a", r"x\"), ("b", "y")])
        );
        // `\\\;` is a backslash and a semicolon.
        assert_eq!(parse(r"a=x\\\;y").unwrap(), pairs(&[("a", r"x\;y")]));
        // Before any other character, or at the end, a backslash is kept as written.
        assert_eq!(
            parse(r"topic.blacklist=^wa\..*;p=C:\dir\").unwrap(),
            pairs(&[("topic.blacklist", r"^wa\..*"), ("p", r"C:\dir\")])
        );
        // An escaped `;` alone is an entry, not an empty one.
        assert!(parse(r"a=1;\;").is_err());
    }

    #[test]
    fn encode_round_trips_every_value() {
        let values = [
            "plain",
            "",
            ";",
            "\\",
            r"a;b\c",
            r"ends with \",
            r"\;\\;;\\\",
            "=;= and spaces ",
            "ünïcödé;ß",
        ];
        for value in values {
            let props = KafkaProperties(vec![
                ("sasl.password".to_owned(), value.to_owned()),
                ("client.id".to_owned(), value.to_owned()),
            ]);
            let encoded = encode(std::slice::from_ref(&props));
            assert_eq!(
                encoded.parse::<KafkaProperties>().unwrap(),
                props,
                "{value:?}"
            );
        }
        // Several lists become one, in order.
        let lists = [
            "a=1;b=2".parse().unwrap(),
            KafkaProperties::default(),
            r"c=x\;y".parse().unwrap(),
        ];
        assert_eq!(encode(&lists), r"a=1;b=2;c=x\;y");
        assert_eq!(encode(&[]), "");
    }

    #[test]
    fn secrets_are_told_by_their_name() {
        for key in [
            "sasl.password",
            "ssl.key.password",
            "ssl.keystore.password",
            "ssl.key.pem",
            "ssl.key.location",
            "sasl.oauthbearer.client.secret",
            "sasl.kerberos.keytab",
            "sasl.jaas.config",
            " SASL.Password ",
        ] {
            assert!(is_secret(key), "{key}");
        }
        for key in [
            "security.protocol",
            "sasl.mechanism",
            "sasl.username",
            "ssl.ca.location",
            "bootstrap.servers",
            "sasl.jaas",
        ] {
            assert!(!is_secret(key), "{key}");
        }
        assert_eq!(redact("sasl.password", "hunter2"), REDACTED);
        assert_eq!(redact("sasl.username", "alice"), "alice");
    }

    #[test]
    fn debug_and_display_redact_secrets() {
        let props: KafkaProperties =
            r"security.protocol=SASL_SSL;sasl.username=alice;sasl.password=hunter2;ssl.key.pem=PEMDATA;sasl.jaas.config=JAAS;x.y=a\;b"
                .parse()
                .unwrap();
        let debug = format!("{props:?} {props:#?} {:?}", vec![props.clone()]);
        let display = props.to_string();
        for shown in [&debug, &display] {
            for secret in ["hunter2", "PEMDATA", "JAAS"] {
                assert!(!shown.contains(secret), "{secret} in {shown}");
            }
            assert!(shown.contains("alice"), "{shown}");
            assert!(shown.contains(REDACTED), "{shown}");
        }
        assert_eq!(
            display,
            r"security.protocol=SASL_SSL;sasl.username=alice;sasl.password=[redacted];ssl.key.pem=[redacted];sasl.jaas.config=[redacted];x.y=a\;b"
        );
    }

    #[test]
    fn an_error_names_the_entry_and_quotes_no_value() {
        // A password with an unescaped `;`: its second half is entry 3.
        let err = parse("security.protocol=SASL_SSL;sasl.password=hun;ter2").unwrap_err();
        assert_eq!(err.position(), 3);
        let message = err.to_string();
        assert!(
            !message.contains("ter2") && !message.contains("hun"),
            "{message}"
        );
        assert!(message.contains("entry 3"), "{message}");
        assert!(message.contains("after sasl.password"), "{message}");
        assert!(message.contains(r"'\;'"), "{message}");
        assert!(!format!("{err:?}").contains("ter2"));

        // The second half holds `=`, but its key is no property name.
        let err = parse("sasl.password=a;b c=d").unwrap_err();
        assert_eq!(err.position(), 2);
        assert!(!err.to_string().contains("b c"), "{err}");
        let err = parse("sasl.password=a;x!y=z").unwrap_err();
        assert!(!err.to_string().contains("x!y"), "{err}");

        // Empty entries count in the position; nothing well-formed before means no "after".
        let err = parse(";;novalue").unwrap_err();
        assert_eq!(err.position(), 3);
        assert!(!err.to_string().contains("novalue"), "{err}");
        assert!(!err.to_string().contains("after"), "{err}");

        assert!(parse("=x").is_err());
        assert!(parse(" =x").is_err());
    }

    #[test]
    fn clap_errors_quote_no_value() {
        use clap::Parser;

        #[derive(Debug, Parser)]
        struct Cli {
            #[arg(
                short = 'X',
                env = "WA_KAFKA_PROPERTIES_UNIT_TEST",
                hide_env_values = true
            )]
            properties: Vec<KafkaProperties>,
        }

        let cli = Cli::try_parse_from(["t", "-X", r"sasl.password=a\;b", "-X", "acks=1"]).unwrap();
        assert_eq!(encode(&cli.properties), r"sasl.password=a\;b;acks=1");
        let err = Cli::try_parse_from(["t", "-X", "sasl.password=hun;ter2"])
            .unwrap_err()
            .to_string();
        assert!(!err.contains("ter2") && !err.contains("hun"), "{err}");
        assert!(err.contains("-X") && err.contains("entry 2"), "{err}");
        assert!(err.contains("(or WA_KAFKA_PROPERTIES_UNIT_TEST)"), "{err}");
    }

    #[test]
    fn later_properties_win() {
        let mut config = ClientConfig::new();
        config.set("linger.ms", "20");
        let props = [
            "linger.ms=5;acks=1".parse().unwrap(),
            "acks=all".parse().unwrap(),
        ];
        apply(&mut config, &props);
        assert_eq!(config.get("linger.ms"), Some("5"));
        assert_eq!(config.get("acks"), Some("all"));
    }
}
