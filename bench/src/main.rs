//! `wa-bench`: the helpers of the end-to-end bench (`bench/run`) that are not the pipeline.
//!
//! `wa-bench kafka-count --topic T` reads topic `T` from its beginning to its end offsets and
//! prints records/s and MB/s: the bare limit of reading it (see [`wa_bench::kafka_count`]).
//! A human line goes to stderr, one JSON object to stdout.

use anyhow::Result;
use clap::{Parser, Subcommand};
use kafka_properties::KafkaProperties;
use wa_bench::kafka_count::{count, CountConfig};
use wa_bench::state_memory::{self, StateMemoryConfig};

/// The allocator `wa-dataflow` uses, so `state-memory` measures what the pipeline would.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Benchmark helpers (not part of the pipeline).
#[derive(Debug, Parser)]
#[command(name = "wa-bench", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Count a topic's records and bytes from its beginning to its end offsets, as fast as one
    /// librdkafka consumer can.
    KafkaCount {
        /// Kafka bootstrap servers (`--brokers` is an old name of the flag).
        #[arg(
            long = "kafka-brokers",
            alias = "brokers",
            env = "WA_KAFKA_BROKERS",
            default_value = "127.0.0.1:9092"
        )]
        brokers: String,
        /// The topic.
        #[arg(long, env = "WA_TOPIC", default_value = "web_analytics")]
        topic: String,
        /// Also parse and validate every value (`events::parse`).
        #[arg(long)]
        parse: bool,
        /// librdkafka properties `KEY=VALUE[;KEY=VALUE…]` (repeatable), applied after ours;
        /// `\;` is a `;` inside a value and `\\` a `\`.
        #[arg(short = 'X', value_name = "KEY=VALUE[;…]")]
        properties: Vec<KafkaProperties>,
    },
    /// Peak and released memory of the visitor state (one window of `--users` distinct
    /// users) and of the session state (`--sessions` open sessions), in-process, no services.
    StateMemory {
        /// Distinct users in the one window.
        #[arg(long, default_value_t = 1_000_000)]
        users: u64,
        /// Distinct pages.
        #[arg(long, default_value_t = 100)]
        pages: u64,
        /// Open sessions.
        #[arg(long, default_value_t = 100_000)]
        sessions: u64,
        /// Events per session.
        #[arg(long, default_value_t = 8)]
        events_per_session: u64,
        /// Windows and rounds of sessions, one after the other.
        #[arg(long, default_value_t = 3)]
        rounds: u64,
        /// Distinct `event_id`s the deduplication state remembers (36-character UUIDs).
        #[arg(long, default_value_t = 1_000_000)]
        event_ids: u64,
    },
}

fn main() -> Result<()> {
    match Cli::parse().command {
        Command::KafkaCount {
            brokers,
            topic,
            parse,
            properties,
        } => {
            let report = count(&CountConfig {
                brokers,
                topic: topic.clone(),
                parse,
                properties,
            })?;
            eprintln!(
                "kafka-count {topic}: {} records, {:.1} MB in {:.2} s = {:.0} records/s, {:.1} MB/s{}",
                report.records,
                report.bytes as f64 / 1e6,
                report.seconds,
                report.records_per_sec(),
                report.megabytes_per_sec(),
                report
                    .parsed
                    .map(|(v, r)| format!(" (parsed: {v} valid, {r} rejected)"))
                    .unwrap_or_default(),
            );
            println!("{}", report.to_json());
        }
        Command::StateMemory {
            users,
            pages,
            sessions,
            events_per_session,
            rounds,
            event_ids,
        } => {
            let stages = state_memory::run(StateMemoryConfig {
                users,
                pages,
                sessions,
                events_per_session,
                rounds,
                event_ids,
            });
            println!("state-memory: {rounds} windows of {users} distinct users over {pages} pages; {rounds} rounds of {sessions} sessions × {events_per_session} events; {event_ids} event_ids");
            for s in stages {
                println!(
                    "  {:<60} RSS {:8.1} MiB  ({:.1} s)",
                    s.label,
                    s.rss as f64 / (1024.0 * 1024.0),
                    s.seconds
                );
            }
        }
    }
    Ok(())
}
