//! Stage 2 of `wa-dataflow`: which event-time windows an event belongs to
//! ([`dataflow::window::WindowSpec::windows_of`]), for 1-minute tumbling windows (the default)
//! and 10-minute windows sliding by 1 minute (ten windows per event).

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use dataflow::window::WindowSpec;
use wa_bench::fixtures;

fn windows_of(c: &mut Criterion) {
    let times: Vec<i64> = fixtures::events(10_000, 50_000.0, 1)
        .iter()
        .map(|e| e.event_time_ms)
        .collect();
    let mut group = c.benchmark_group("windows_of");
    group.throughput(Throughput::Elements(times.len() as u64));
    for (name, spec) in [
        ("tumbling_1m", WindowSpec::tumbling(60_000)),
        ("hopping_10m_1m", WindowSpec::hopping(600_000, 60_000)),
    ] {
        let spec = spec.expect("a valid window spec");
        group.bench_with_input(BenchmarkId::new(name, times.len()), &times, |b, times| {
            b.iter(|| {
                let mut sum = 0i64;
                for &t in times {
                    for w in spec.windows_of(black_box(t)) {
                        sum = sum.wrapping_add(w.start_ms);
                    }
                }
                black_box(sum)
            })
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(3));
    targets = windows_of
}
criterion_main!(benches);
