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
//! extensions); a value cannot hold `;`. Whitespace around a key is dropped, a value is kept as
//! written (after the first `=`, so it may hold `=`). Empty entries are skipped, so an empty
//! `WA_KAFKA_PROPERTIES` or a trailing `;` means nothing rather than an error. As with every
//! flag, `-X` on the command line replaces the environment variable; it does not add to it.
//!
//! The properties are applied after the program's own settings ([`apply`]), so they win.
//! librdkafka checks names and values when the client is created, and a wrong one fails that
//! program's start-up with librdkafka's message.

use std::str::FromStr;

use rdkafka::ClientConfig;

/// The properties of one `-X` value or of `WA_KAFKA_PROPERTIES`: `(key, value)` pairs in the
/// order written. Parsed with [`FromStr`] (clap uses it for `Vec<KafkaProperties>` fields).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KafkaProperties(Vec<(String, String)>);

impl KafkaProperties {
    /// The `(key, value)` pairs, in the order written.
    pub fn pairs(&self) -> &[(String, String)] {
        &self.0
    }
}

/// Why a property list was refused: an entry (quoted in the message) without `=` or with an
/// empty key.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("expected KEY=VALUE (several separated by ';'), got {0:?}")]
pub struct PropertyError(String);

impl FromStr for KafkaProperties {
    type Err = PropertyError;

    /// Parses `KEY=VALUE[;KEY=VALUE…]`.
    ///
    /// # Errors
    /// An entry without `=` or with an empty key.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut pairs = Vec::new();
        for entry in s.split(';').filter(|e| !e.trim().is_empty()) {
            match entry.split_once('=') {
                Some((key, value)) if !key.trim().is_empty() => {
                    pairs.push((key.trim().to_owned(), value.to_owned()));
                }
                _ => return Err(PropertyError(entry.to_owned())),
            }
        }
        Ok(KafkaProperties(pairs))
    }
}

/// Sets every property of `properties` on `config`, in order (a later one wins), after what
/// the caller has set already.
pub fn apply(config: &mut ClientConfig, properties: &[KafkaProperties]) {
    for (key, value) in properties.iter().flat_map(KafkaProperties::pairs) {
        config.set(key, value);
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
    fn an_entry_without_a_key_is_refused_by_name() {
        let err = parse("a=1;novalue").unwrap_err().to_string();
        assert!(err.contains("\"novalue\""), "{err}");
        assert!(parse("=x").is_err());
        assert!(parse(" =x").is_err());
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
