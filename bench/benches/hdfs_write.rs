//! Stage 4 of `wa-dataflow`: a finished ORC file onto HDFS. Needs the local stack (`tests/stack/stack
//! up`; `WA_HDFS_URL` and `WA_METASTORE_URI` point elsewhere) and fails at once, saying so, when
//! HDFS does not answer.
//!
//! - `hdfs_write/create_write_close`: the bytes of one encoded `raw_web_events` file written
//!   with hdfs-native (replication 2 on the stack's 2 DataNodes).
//! - `hdfs_write/commit_file`: [`hive::HiveTables::commit_file`], the whole sink step — encode,
//!   write a temporary file, close, rename over the (deterministic) target, partition already
//!   in the metastore — into database `bench_criterion`, which it creates.
//!
//! Throughput is in bytes of the ORC file. Files go to `/bench/criterion/` and overwrite
//! themselves on every iteration, so nothing accumulates.

use std::time::Duration;

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use hdfs_native::{Client, ClientBuilder, WriteOptions};
use hive::{Compression, HiveConfig, HiveTables, PartitionDate, Table};
use tokio::runtime::Runtime;
use wa_bench::fixtures;

const ROWS: usize = 100_000;

fn env_or(key: &str, default: &str) -> String {
    std::env::var(key).unwrap_or_else(|_| default.to_owned())
}

/// The HDFS client, after checking that the NameNode answers within 5 s.
fn hdfs(runtime: &Runtime, url: &str) -> Client {
    let client = ClientBuilder::new()
        .with_url(url)
        .build()
        .unwrap_or_else(|e| panic!("hdfs_write: bad HDFS URL {url}: {e}"));
    let probe = runtime.block_on(async {
        tokio::time::timeout(Duration::from_secs(5), client.get_file_info("/")).await
    });
    match probe {
        Ok(Ok(_)) => client,
        Ok(Err(e)) => panic!(
            "hdfs_write needs HDFS at {url}, which answered: {e}. Start the local stack with \
             `tests/stack/stack up` (or set WA_HDFS_URL)."
        ),
        Err(_) => panic!(
            "hdfs_write needs HDFS at {url}, which did not answer within 5 s. Start the local \
             stack with `tests/stack/stack up` (or set WA_HDFS_URL)."
        ),
    }
}

fn hdfs_write(c: &mut Criterion) {
    let runtime = Runtime::new().expect("a tokio runtime");
    let hdfs_url = env_or("WA_HDFS_URL", hive::config::DEFAULT_HDFS_URL);
    let client = hdfs(&runtime, &hdfs_url);

    let events = fixtures::events(ROWS, 50_000.0, 1);
    let batch = fixtures::raw_web_events_batch(&events);
    let orc = Bytes::from(
        hive::orc::encode(
            Table::RawWebEvents.arrow_schema(),
            std::slice::from_ref(&batch),
            Compression::Zlib,
        )
        .expect("the fixture batch encodes"),
    );
    eprintln!(
        "hdfs_write: one raw_web_events file of {ROWS} rows, {} bytes",
        orc.len()
    );

    let mut group = c.benchmark_group("hdfs_write");
    group.sample_size(10);
    group.throughput(Throughput::Bytes(orc.len() as u64));
    let path = "/bench/criterion/raw_web_events.orc";
    group.bench_function("create_write_close", |b| {
        b.to_async(&runtime).iter(|| async {
            let options = WriteOptions {
                overwrite: true,
                create_parent: true,
                ..Default::default()
            };
            let mut writer = client.create(path, options).await.expect("HDFS create");
            writer.write_bytes(orc.clone()).await.expect("HDFS write");
            writer.close().await.expect("HDFS close");
        })
    });

    let metastore_uri = env_or("WA_METASTORE_URI", hive::config::DEFAULT_METASTORE_URI);
    let config = HiveConfig {
        metastore_uri: metastore_uri.clone(),
        hdfs_url: hdfs_url.clone(),
        warehouse: "/bench/criterion/warehouse".into(),
        database: "bench_criterion".into(),
        ..HiveConfig::default()
    };
    let tables = runtime.block_on(async {
        let tables = HiveTables::connect(config)
            .await
            .expect("hdfs_write: HiveTables::connect");
        tables.init().await.unwrap_or_else(|e| {
            panic!(
                "hdfs_write needs the metastore at {metastore_uri}: {e}. Start the local stack \
                 with `tests/stack/stack up` (or set WA_METASTORE_URI)."
            )
        });
        tables
    });
    let dt = PartitionDate::from_epoch_ms(fixtures::START_MS).expect("a valid date");
    let batches = [batch];
    group.bench_function("commit_file", |b| {
        b.to_async(&runtime).iter(|| async {
            tables
                .commit_file(Table::RawWebEvents, dt, "bench-0.orc", &batches)
                .await
                .expect("commit_file")
        })
    });
    group.finish();
    runtime
        .block_on(tables.flush(Duration::from_secs(30)))
        .expect("partitions registered");
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(10));
    targets = hdfs_write
}
criterion_main!(benches);
