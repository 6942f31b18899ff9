//! Command line of `wa-dashboard`. Every flag has an environment twin; defaults match the
//! local stack and `workers.toml` (two dataflow processes exporting metrics on 9185 and
//! 9186), so a bare `wa-dashboard` works against it. Durations are read by
//! [`wa_cli::duration`], as in every program.

use std::net::SocketAddr;
use std::time::Duration;

use clap::Parser;
use kafka_properties::KafkaProperties;
use wa_cli::parse_duration;

/// Default of `--metrics-urls`: the two processes of `workers.toml`.
pub const DEFAULT_METRICS_URLS: &str =
    "http://127.0.0.1:9185/metrics,http://127.0.0.1:9186/metrics";

/// A live page of the pipeline's results (the results feed) and of the dataflow processes'
/// health (their /metrics).
#[derive(Debug, Clone, Parser)]
#[command(name = "wa-dashboard", version, about)]
pub struct Cli {
    /// Address the HTTP server listens on (the page, `/api/snapshot`, `/events`, `/health`).
    /// Loopback by default: the page has no login, so expose it on purpose (`0.0.0.0:8090`,
    /// best behind a proxy that authenticates).
    #[arg(long, env = "WA_DASHBOARD_LISTEN", default_value = "127.0.0.1:8090")]
    pub listen: SocketAddr,
    /// Kafka bootstrap servers, `host:port[,host:port…]`.
    #[arg(long, env = "WA_KAFKA_BROKERS", default_value = "127.0.0.1:9092")]
    pub kafka_brokers: String,
    /// librdkafka properties passed through as is, applied after ours (repeatable; e.g.
    /// `-X security.protocol=SASL_SSL`). Several in one value, here or in the environment, are
    /// separated by `;` (`debug=broker,topic;linger.ms=5`); `\;` is a `;` inside a value and
    /// `\\` a `\`. Give secrets in the environment: a command line is visible to every user.
    /// `-X` replaces the environment variable, it does not add to it.
    #[arg(
        short = 'X',
        value_name = "KEY=VALUE[;…]",
        env = "WA_KAFKA_PROPERTIES",
        hide_env_values = true
    )]
    pub kafka_properties: Vec<KafkaProperties>,
    /// The results feed the dataflow publishes (`wa-dataflow --results-topic`), read from
    /// every partition. Waited for when it does not exist yet.
    #[arg(
        long,
        env = "WA_RESULTS_TOPIC",
        default_value = "web_analytics_results"
    )]
    pub results_topic: String,
    /// The dataflow processes' Prometheus endpoints, comma-separated (empty: none). Each is
    /// shown as a process, up or unreachable.
    #[arg(
        long,
        env = "WA_DASHBOARD_METRICS_URLS",
        value_delimiter = ',',
        default_value = DEFAULT_METRICS_URLS
    )]
    pub metrics_urls: Vec<String>,
    /// How often each metrics URL is scraped: a duration (`2s`, `500ms`), more than 0. A
    /// scrape that takes longer fails.
    #[arg(
        long,
        env = "WA_DASHBOARD_SCRAPE_INTERVAL",
        default_value = "2s",
        value_parser = positive_duration
    )]
    pub scrape_interval: Duration,
    /// How far back the feed is read at start, by record timestamp (publish time): a duration
    /// (`2h`, `90m`). The page shows the last hour of event time; more history covers a
    /// dataflow that publishes behind.
    #[arg(long, env = "WA_DASHBOARD_HISTORY", default_value = "2h", value_parser = parse_duration)]
    pub history: Duration,
}

impl Cli {
    /// The metrics URLs given, empty entries and surrounding spaces dropped.
    pub fn metrics_urls(&self) -> Vec<String> {
        self.metrics_urls
            .iter()
            .map(|u| u.trim().to_owned())
            .filter(|u| !u.is_empty())
            .collect()
    }
}

/// A duration ([`wa_cli::duration`]) refused unless more than 0.
fn positive_duration(s: &str) -> Result<Duration, String> {
    let duration = parse_duration(s).map_err(|e| e.to_string())?;
    if duration.is_zero() {
        return Err(format!("{s:?} is no time: it must be more than 0"));
    }
    Ok(duration)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_flags() {
        let cli = Cli::try_parse_from(["wa-dashboard"]).unwrap();
        assert_eq!(cli.listen, "127.0.0.1:8090".parse().unwrap());
        assert_eq!(cli.results_topic, "web_analytics_results");
        assert_eq!(
            cli.metrics_urls(),
            [
                "http://127.0.0.1:9185/metrics",
                "http://127.0.0.1:9186/metrics"
            ]
        );
        assert_eq!(cli.scrape_interval, Duration::from_secs(2));
        assert_eq!(cli.history, Duration::from_secs(7200));
        let cli = Cli::try_parse_from([
            "wa-dashboard",
            "--metrics-urls",
            "",
            "--scrape-interval",
            "500ms",
            "--history",
            "30m",
        ])
        .unwrap();
        assert!(cli.metrics_urls().is_empty());
        assert_eq!(cli.scrape_interval, Duration::from_millis(500));
        assert_eq!(cli.history, Duration::from_secs(1800));
        assert!(Cli::try_parse_from(["wa-dashboard", "--scrape-interval", "0s"]).is_err());
    }
}
