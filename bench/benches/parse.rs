//! Stage 1 of `wa-dataflow`: a Kafka record value → a valid event or a typed rejection
//! ([`events::parse`]), on producer-like records and on malformed ones.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use wa_bench::fixtures;

fn parse(c: &mut Criterion) {
    let events = fixtures::events(10_000, 50_000.0, 1);
    let mut group = c.benchmark_group("parse");
    for (form, records) in [
        ("rfc3339", fixtures::wire_records(&events)),
        ("epoch_ms", fixtures::wire_records_epoch_ms(&events)),
    ] {
        let bytes: usize = records.iter().map(Vec::len).sum();
        group.throughput(Throughput::Elements(records.len() as u64));
        group.bench_with_input(BenchmarkId::new("valid", form), &records, |b, records| {
            b.iter(|| {
                for r in records {
                    black_box(events::parse(black_box(r)).is_ok());
                }
            })
        });
        eprintln!(
            "parse/valid/{form}: {} records, {:.0} bytes per record",
            records.len(),
            bytes as f64 / records.len() as f64
        );
    }
    for (name, record) in fixtures::malformed_records() {
        group.throughput(Throughput::Elements(1));
        group.bench_with_input(BenchmarkId::new("malformed", name), &record, |b, r| {
            b.iter(|| black_box(events::parse(black_box(r)).is_err()))
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(3));
    targets = parse
}
criterion_main!(benches);
