//! Stage 3 of `wa-dataflow`: a batch of rows → one complete ORC file in memory
//! ([`hive::orc::encode`]), for `raw_web_events` (every valid event) and `page_analytics`
//! (one row per page, event type and 1-minute window), with each codec: `zlib` and `snappy`
//! as the pipeline writes them (string columns dictionary-encoded where that pays),
//! `zlib-direct` with every string column written directly, as files were before
//! dictionaries, for a side-by-side comparison.
//!
//! Throughput is in rows; the size of each encoded file is printed once.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use hive::{Compression, Table};
use wa_bench::fixtures;

/// Rows of the `raw_web_events` batch: 2 s of traffic at 50 K events/s.
const RAW_ROWS: usize = 100_000;
/// Events aggregated into the `page_analytics` batch: one minute at 5 K events/s (a few
/// thousand rows, the size of one window's output).
const WINDOW_EVENTS: usize = 300_000;

fn encode(c: &mut Criterion) {
    let events = fixtures::events(RAW_ROWS, 50_000.0, 1);
    let raw = fixtures::raw_web_events_batch(&events);
    let window = fixtures::page_analytics_batch(&fixtures::events(WINDOW_EVENTS, 5_000.0, 2));
    let mut group = c.benchmark_group("orc_encode");
    group.sample_size(10);
    for (table, batch) in [(Table::RawWebEvents, raw), (Table::PageAnalytics, window)] {
        group.throughput(Throughput::Elements(batch.num_rows() as u64));
        for (codec, compression, threshold) in [
            (
                "zlib",
                Compression::Zlib,
                hive::orc::DICTIONARY_KEY_THRESHOLD,
            ),
            ("zlib-direct", Compression::Zlib, 0.0),
            (
                "snappy",
                Compression::Snappy,
                hive::orc::DICTIONARY_KEY_THRESHOLD,
            ),
        ] {
            let batches = [batch.clone()];
            let size =
                hive::orc::encode_with(table.arrow_schema(), &batches, compression, threshold)
                    .expect("the fixture batch encodes")
                    .len();
            eprintln!(
                "orc_encode/{table}/{codec}: {} rows → {size} bytes ({:.1} bytes/row, arrow {} bytes)",
                batch.num_rows(),
                size as f64 / batch.num_rows() as f64,
                batch.get_array_memory_size(),
            );
            group.bench_with_input(
                BenchmarkId::new(table.name(), codec),
                &batches,
                |b, batches| {
                    b.iter(|| {
                        hive::orc::encode_with(
                            table.arrow_schema(),
                            black_box(batches),
                            compression,
                            threshold,
                        )
                        .expect("the fixture batch encodes")
                    })
                },
            );
        }
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(5));
    targets = encode
}
criterion_main!(benches);
