//! `wa-producer simulate`: sends the [`Generator`]'s events to Kafka at `--rate`, paced by
//! the wall clock, logging each one (`--log`) and showing progress. Each record's Kafka
//! timestamp is its slot's stream time ([`crate::generator::SimEvent::stream_time_ms`]), the
//! ingestion time by the simulation's clock: the same seed and `--start-time` give the same
//! timestamps.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use wa_cli::parse_duration;

use crate::generator::{Generator, SimConfig};
use crate::kafka::{Enqueue, EventProducer, KafkaArgs};

/// Flags of `simulate`. Durations are read by [`wa_cli::duration`], as in every program.
#[derive(Debug, Clone, clap::Args)]
pub struct SimulateArgs {
    #[command(flatten)]
    pub kafka: KafkaArgs,

    /// Events per second (stream time, and wall-clock pace).
    #[arg(long, env = "WA_SIM_RATE", default_value_t = 100.0)]
    pub rate: f64,

    /// Stop after this many events. Without it and without `--duration`: run until Ctrl-C.
    #[arg(long, env = "WA_SIM_EVENTS", conflicts_with = "duration")]
    pub events: Option<u64>,

    /// Stop after this much stream time, e.g. `30s`, `5m`, `1h30m`, `500ms`, or a bare number
    /// of seconds (`floor(duration × rate)` events).
    #[arg(long, env = "WA_SIM_DURATION", value_parser = parse_duration)]
    pub duration: Option<Duration>,

    /// Seed of the simulation: same seed and flags → the same events, byte for byte.
    /// Default: a random seed, logged at start.
    #[arg(long, env = "WA_SIM_SEED")]
    pub seed: Option<u64>,

    /// Stream time of the first event, RFC 3339 or UTC epoch ms. Default: now. Give it to
    /// reproduce a run exactly (event times and record timestamps included). Records are
    /// timestamped with their stream time, so Kafka refuses a stream more than
    /// `log.message.timestamp.after.max.ms` (1 h by default) ahead of the broker's clock.
    #[arg(long, env = "WA_SIM_START_TIME", value_parser = parse_start_time)]
    pub start_time: Option<i64>,

    /// Largest backward jitter of event times, a duration in whole milliseconds (`2s`,
    /// `1500ms`; keep it below the dataflow's `--max-out-of-orderness` so these events stay
    /// on time). 0: in order. Was `--out-of-order-ms` / `WA_SIM_OUT_OF_ORDER_MS` (deprecated,
    /// still read).
    #[arg(long, env = "WA_SIM_OUT_OF_ORDER", default_value = "0s", value_parser = parse_duration)]
    pub out_of_order: Duration,

    /// Share of late events (0..=1), once the stream has run for 2 × `--late-by`.
    #[arg(long, env = "WA_SIM_LATE_FRACTION", default_value_t = 0.0)]
    pub late_fraction: f64,

    /// How much older than the stream's current time a late event is: a duration in whole
    /// milliseconds (`2m`, `30s`). Was `--late-by-ms` / `WA_SIM_LATE_BY_MS` (deprecated, still
    /// read).
    #[arg(long, env = "WA_SIM_LATE_BY", default_value = "2m", value_parser = parse_duration)]
    pub late_by: Duration,

    /// Number of distinct simulated users.
    #[arg(long, env = "WA_SIM_USERS", default_value_t = 100_000)]
    pub users: u64,

    /// Publish as fast as Kafka takes the events instead of at `--rate` per wall-clock second
    /// (backfills, tests, benchmarks). Event times are the same either way.
    #[arg(long, env = "WA_SIM_NO_PACING")]
    pub no_pacing: bool,

    /// Write every event sent, one wire-form JSON object per line (NDJSON), to this file.
    #[arg(long, env = "WA_SIM_LOG")]
    pub log: Option<PathBuf>,
}

/// `d` in whole milliseconds (finer parts dropped; saturating far beyond any real setting).
fn whole_millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Parses RFC 3339 or UTC epoch milliseconds.
fn parse_start_time(s: &str) -> Result<i64, String> {
    match s.trim().parse::<i64>() {
        Ok(ms) => events::format_event_time(ms)
            .map(|_| ms)
            .ok_or_else(|| format!("{ms} ms is outside the accepted event times (1970..=2099)")),
        Err(_) => events::parse_event_time(s.trim()).map_err(|e| e.to_string()),
    }
}

/// Runs the simulation until its end (`--events`, `--duration`) or until `stop` is set.
/// Returns the number of events sent, all delivered.
///
/// # Errors
/// Invalid flags, a topic that does not exist or brokers that do not answer within 30 s, an
/// unwritable log, a record librdkafka refuses, any record Kafka failed to take, or records
/// not acknowledged by the end of [`EventProducer::drain`] (`message.timeout.ms` + 10 s).
pub fn run(args: &SimulateArgs, stop: Arc<AtomicBool>) -> Result<u64> {
    let seed = args
        .seed
        .unwrap_or_else(|| uuid::Uuid::new_v4().as_u64_pair().0);
    let start_ms = args
        .start_time
        .unwrap_or_else(|| chrono::Utc::now().timestamp_millis());
    let config = SimConfig {
        seed,
        rate_per_sec: args.rate,
        start_ms,
        out_of_order_ms: whole_millis(args.out_of_order),
        late_fraction: args.late_fraction,
        late_by_ms: whole_millis(args.late_by),
        users: args.users,
    };
    let generator = Generator::new(config).context("invalid simulation flags")?;
    let limit = match (args.events, args.duration) {
        (Some(n), _) => Some(n),
        (None, Some(d)) => Some((d.as_secs_f64() * args.rate).floor() as u64),
        (None, None) => None,
    };
    tracing::info!(
        seed,
        start_ms,
        rate = args.rate,
        events = limit,
        topic = %args.kafka.topic,
        "simulate"
    );

    let producer = EventProducer::new(&args.kafka)?;
    let partitions = producer.check_topic(Duration::from_secs(30))?;
    tracing::debug!(partitions, "topic found");
    let mut log = match &args.log {
        Some(path) => Some(BufWriter::new(
            File::create(path).with_context(|| format!("creating {}", path.display()))?,
        )),
        None => None,
    };
    let progress = progress_bar(limit);

    let began = Instant::now();
    let mut sent = 0u64;
    for sim in generator {
        if limit.is_some_and(|n| sent >= n) || stop.load(Ordering::Relaxed) {
            break;
        }
        // Pace: slot i is sent once the wall clock has advanced as far as its stream time.
        let due = Duration::from_millis(sim.offset_ms.max(0) as u64);
        if let Some(wait) = due.checked_sub(began.elapsed()).filter(|_| !args.no_pacing) {
            if wait >= Duration::from_millis(1) {
                std::thread::sleep(wait);
            }
        }
        let json = sim.event.to_json()?;
        let mut queued = false;
        while !queued && !stop.load(Ordering::Relaxed) {
            // Ingestion time: the slot's time on the simulation's clock (the send time when
            // paced from now; reproducible with --start-time).
            match producer.enqueue(&sim.event, &json, sim.stream_time_ms)? {
                Enqueue::Queued => queued = true,
                // Kafka is behind: wait for librdkafka to drain its queue.
                Enqueue::QueueFull => std::thread::sleep(Duration::from_millis(5)),
            }
        }
        if !queued {
            break;
        }
        // Fail fast rather than simulate on while Kafka drops what we send.
        let failed = producer.counter().failed();
        if failed > 0 {
            bail!("{failed} records could not be delivered to Kafka; stopping");
        }
        if let Some(log) = &mut log {
            writeln!(log, "{json}").context("writing the event log")?;
        }
        sent += 1;
        metrics::counter!("wa_producer_events_sent_total", "source" => "simulate").increment(1);
        progress.inc(1);
    }
    progress.finish_and_clear();
    if let Some(log) = &mut log {
        log.flush().context("writing the event log")?;
    }
    let enqueued_secs = began.elapsed().as_secs_f64();
    // However long Kafka is away (a broker restarting): librdkafka holds every record until
    // it is delivered or `message.timeout.ms` passes.
    producer.drain()?;
    let secs = began.elapsed().as_secs_f64();
    let delivered = producer.counter().delivered();
    if delivered != sent {
        bail!("{sent} events sent but {delivered} acknowledged by Kafka");
    }
    tracing::info!(
        events = sent,
        enqueued_secs,
        delivered_secs = secs,
        events_per_sec = (sent as f64 / secs).round(),
        "simulate done: every event acknowledged"
    );
    Ok(sent)
}

/// A bar with totals and rate when the end is known, a counter otherwise; drawn on stderr
/// only when it is a terminal (indicatif hides it otherwise).
fn progress_bar(limit: Option<u64>) -> ProgressBar {
    match limit {
        Some(n) => {
            let bar = ProgressBar::new(n);
            if let Ok(style) = ProgressStyle::with_template(
                "{elapsed_precise} [{wide_bar}] {human_pos}/{human_len} events {per_sec} eta {eta}",
            ) {
                bar.set_style(style);
            }
            bar
        }
        None => {
            let bar = ProgressBar::new_spinner();
            if let Ok(style) = ProgressStyle::with_template(
                "{elapsed_precise} {spinner} {human_pos} events {per_sec}",
            ) {
                bar.set_style(style);
            }
            bar
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_millis_drops_finer_parts() {
        assert_eq!(whole_millis(Duration::from_micros(1_500_900)), 1_500);
        assert_eq!(whole_millis(Duration::MAX), u64::MAX);
    }

    #[test]
    fn start_times() {
        assert_eq!(parse_start_time("1796011699123"), Ok(1_796_011_699_123));
        assert_eq!(
            parse_start_time("2026-11-30T04:08:19.123Z"),
            Ok(1_796_011_699_123)
        );
        assert!(parse_start_time("yesterday").is_err());
        assert!(parse_start_time("99999999999999999").is_err());
    }
}
