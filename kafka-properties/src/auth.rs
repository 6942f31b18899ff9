//! Kafka refusing a program's credentials ends the program.
//!
//! librdkafka treats an authentication failure (wrong SASL password or user, a mechanism the
//! listener does not offer) like a lost connection: it reports it as an error event and tries
//! again, forever. A program waiting for a topic's metadata or for records would wait without
//! end, or until its own timeout, with a vague "cannot reach Kafka". So every program's client
//! context records the first authentication failure in an [`AuthWatch`], and the code waiting
//! on the client checks it ([`AuthWatch::check`]) and fails with [`AuthenticationFailed`]: the
//! brokers, "authentication failed" and librdkafka's reason (which names the broker and the
//! mechanism, never the password).
//!
//! librdkafka delivers error events when the client is polled: a producer's polling thread
//! does it by itself; a consumer's owner must poll (or `recv`) between its waits.

use std::sync::{Arc, OnceLock};

use rdkafka::client::{ClientContext, DefaultClientContext};
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::ConsumerContext;
use rdkafka::error::KafkaError;
use rdkafka::types::RDKafkaErrorCode;

/// Whether librdkafka reports `error` as a failed authentication: its own
/// `Authentication` (SASL handshake or authentication refused) or the broker's
/// `SaslAuthenticationFailed`.
pub fn is_authentication_failure(error: &KafkaError) -> bool {
    matches!(
        error.rdkafka_error_code(),
        Some(RDKafkaErrorCode::Authentication | RDKafkaErrorCode::SaslAuthenticationFailed)
    )
}

/// The error a program fails with when Kafka refused its credentials.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "Kafka at {brokers}: authentication failed: {reason} \
     (check sasl.mechanism, sasl.username and sasl.password)"
)]
pub struct AuthenticationFailed {
    /// The bootstrap servers the client was given.
    pub brokers: String,
    /// librdkafka's description of the first failure.
    pub reason: String,
}

/// The first authentication failure one client reported, shared by its context (which
/// records it) and the code that waits on the client (which checks it).
#[derive(Debug)]
pub struct AuthWatch {
    brokers: String,
    failure: OnceLock<String>,
}

impl AuthWatch {
    /// A watch for a client of `brokers` (its `bootstrap.servers`, named in the error).
    pub fn new(brokers: &str) -> Arc<AuthWatch> {
        Arc::new(AuthWatch {
            brokers: brokers.to_owned(),
            failure: OnceLock::new(),
        })
    }

    /// Records `error` (with librdkafka's `reason`) if it is an authentication failure and
    /// none was recorded before; returns whether it is one.
    pub fn observe(&self, error: &KafkaError, reason: &str) -> bool {
        if !is_authentication_failure(error) {
            return false;
        }
        let reason = if reason.trim().is_empty() {
            error.to_string()
        } else {
            reason.trim().to_owned()
        };
        let _ = self.failure.set(reason);
        true
    }

    /// Whether an authentication failure was recorded.
    pub fn failed(&self) -> bool {
        self.failure.get().is_some()
    }

    /// `Ok` until an authentication failure was recorded.
    ///
    /// # Errors
    /// [`AuthenticationFailed`] with the first failure recorded.
    pub fn check(&self) -> Result<(), AuthenticationFailed> {
        match self.failure.get() {
            None => Ok(()),
            Some(reason) => Err(AuthenticationFailed {
                brokers: self.brokers.clone(),
                reason: reason.clone(),
            }),
        }
    }
}

/// A client (and consumer) context that records authentication failures in its
/// [`AuthWatch`] and otherwise behaves as librdkafka's default context (errors and logs go to
/// the log).
#[derive(Clone, Debug)]
pub struct AuthContext {
    watch: Arc<AuthWatch>,
}

impl AuthContext {
    /// A context recording into `watch`.
    pub fn new(watch: Arc<AuthWatch>) -> AuthContext {
        AuthContext { watch }
    }

    /// The watch this context records into.
    pub fn watch(&self) -> &Arc<AuthWatch> {
        &self.watch
    }
}

impl ClientContext for AuthContext {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, log_message: &str) {
        DefaultClientContext.log(level, fac, log_message);
    }

    fn error(&self, error: KafkaError, reason: &str) {
        self.watch.observe(&error, reason);
        DefaultClientContext.error(error, reason);
    }
}

impl ConsumerContext for AuthContext {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_authentication_failures_are_recorded_and_the_first_wins() {
        let watch = AuthWatch::new("127.0.0.1:9094");
        assert!(!watch.observe(
            &KafkaError::Global(RDKafkaErrorCode::BrokerTransportFailure),
            "connection refused"
        ));
        assert_eq!(watch.check(), Ok(()));
        assert!(watch.observe(
            &KafkaError::Global(RDKafkaErrorCode::Authentication),
            "sasl_ssl://127.0.0.1:9094/bootstrap: SASL authentication error: invalid credentials"
        ));
        assert!(watch.observe(
            &KafkaError::MessageConsumption(RDKafkaErrorCode::SaslAuthenticationFailed),
            "second"
        ));
        let error = watch.check().unwrap_err();
        assert!(watch.failed());
        assert_eq!(
            error.to_string(),
            "Kafka at 127.0.0.1:9094: authentication failed: sasl_ssl://127.0.0.1:9094/bootstrap: \
             SASL authentication error: invalid credentials \
             (check sasl.mechanism, sasl.username and sasl.password)"
        );
    }

    #[test]
    fn an_empty_reason_falls_back_to_the_error() {
        let watch = AuthWatch::new("b:1");
        watch.observe(
            &KafkaError::MetadataFetch(RDKafkaErrorCode::Authentication),
            " ",
        );
        assert!(watch.check().unwrap_err().reason.contains("Authentication"));
    }
}
