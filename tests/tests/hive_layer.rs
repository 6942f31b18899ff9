//! The Hive layer against the real stack: files our writer commits read back identically
//! through Hive SQL (Hive's own ORC reader, ETL splits), Spark's native ORC reader and pyarrow
//! (Apache ORC C++); timestamps do not depend on the reader JVM's time zone; partitions are
//! visible at once after `init` + commit, and appear by themselves after a metastore outage.

#![allow(clippy::unwrap_used)] // a test fails by panicking

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow::array::{
    ArrayRef, BinaryBuilder, BooleanBuilder, Int32Builder, Int64Builder, StringBuilder,
    TimestampMillisecondBuilder,
};
use arrow::datatypes::{DataType, TimeUnit};
use arrow::record_batch::RecordBatch;
use chrono::NaiveDateTime;
use hive::metastore::Created;
use hive::{Compression, HiveConfig, HiveTables, PartitionDate, Table};
use serde_json::{json, Value};
use wa_tests::{stack, unique_name, ResultSet, SqlEngine, Stack};

/// One cell of a test row.
#[derive(Debug, Clone, Copy)]
enum V {
    S(&'static str),
    I(i64),
    /// A UTC timestamp written `yyyy-MM-dd HH:mm:ss.SSS`.
    T(&'static str),
    B(&'static [u8]),
    /// A `BOOLEAN`.
    Bo(bool),
    Null,
}
use V::*;

fn epoch_ms(ts: &str) -> i64 {
    NaiveDateTime::parse_from_str(ts, "%Y-%m-%d %H:%M:%S%.3f")
        .unwrap()
        .and_utc()
        .timestamp_millis()
}

/// A record batch with `table`'s schema holding `rows`.
fn batch(table: Table, rows: &[Vec<V>]) -> RecordBatch {
    let schema = table.arrow_schema();
    let columns: Vec<ArrayRef> = schema
        .fields()
        .iter()
        .enumerate()
        .map(|(i, f)| -> ArrayRef {
            let cells = rows.iter().map(|r| r[i]);
            match f.data_type() {
                DataType::Utf8 => {
                    let mut b = StringBuilder::new();
                    cells.for_each(|c| match c {
                        S(s) => b.append_value(s),
                        Null => b.append_null(),
                        o => panic!("{o:?} in {}", f.name()),
                    });
                    Arc::new(b.finish())
                }
                DataType::Int64 => {
                    let mut b = Int64Builder::new();
                    cells.for_each(|c| match c {
                        I(v) => b.append_value(v),
                        Null => b.append_null(),
                        o => panic!("{o:?} in {}", f.name()),
                    });
                    Arc::new(b.finish())
                }
                DataType::Int32 => {
                    let mut b = Int32Builder::new();
                    cells.for_each(|c| match c {
                        I(v) => b.append_value(v.try_into().unwrap()),
                        Null => b.append_null(),
                        o => panic!("{o:?} in {}", f.name()),
                    });
                    Arc::new(b.finish())
                }
                DataType::Timestamp(TimeUnit::Millisecond, None) => {
                    let mut b = TimestampMillisecondBuilder::new();
                    cells.for_each(|c| match c {
                        T(t) => b.append_value(epoch_ms(t)),
                        Null => b.append_null(),
                        o => panic!("{o:?} in {}", f.name()),
                    });
                    Arc::new(b.finish())
                }
                DataType::Boolean => {
                    let mut b = BooleanBuilder::new();
                    cells.for_each(|c| match c {
                        Bo(v) => b.append_value(v),
                        Null => b.append_null(),
                        o => panic!("{o:?} in {}", f.name()),
                    });
                    Arc::new(b.finish())
                }
                DataType::Binary => {
                    let mut b = BinaryBuilder::new();
                    cells.for_each(|c| match c {
                        B(v) => b.append_value(v),
                        Null => b.append_null(),
                        o => panic!("{o:?} in {}", f.name()),
                    });
                    Arc::new(b.finish())
                }
                other => panic!("no test builder for {other}"),
            }
        })
        .collect();
    RecordBatch::try_new(schema, columns).unwrap()
}

/// What a reader should return for `rows`: JSON like `HiveSql` prints it (binary as upper-case
/// hex), each row followed by `extra` (e.g. the `dt` value), sorted by their JSON text.
fn expected(rows: &[Vec<V>], extra: &[&str]) -> Vec<Value> {
    let mut out: Vec<Value> = rows
        .iter()
        .map(|r| {
            let mut cells: Vec<Value> = r
                .iter()
                .map(|c| match *c {
                    S(s) | T(s) => json!(s),
                    I(v) => json!(v),
                    Bo(v) => json!(v),
                    B(b) => json!(b.iter().map(|x| format!("{x:02X}")).collect::<String>()),
                    Null => Value::Null,
                })
                .collect();
            cells.extend(extra.iter().map(|e| json!(e)));
            Value::Array(cells)
        })
        .collect();
    out.sort_by_key(|v| v.to_string());
    out
}

fn sorted_rows(set: &ResultSet) -> Vec<Value> {
    let mut rows: Vec<Value> = set.rows.iter().cloned().map(Value::Array).collect();
    rows.sort_by_key(|v| v.to_string());
    rows
}

/// `SELECT` list of `table`'s data columns, binary ones as `hex(col)`.
fn select_list(table: Table) -> String {
    table
        .def()
        .columns
        .iter()
        .map(|c| match c.hive_type {
            hive::ddl::HiveType::Binary => format!("hex({0}) AS {0}", c.name),
            _ => c.name.clone(),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Test rows for every table: every column type, nulls, UTF-8 beyond ASCII, bytes that are not
/// UTF-8, 64-bit integers beyond 2^53, timestamps at millisecond edges and before ORC's 2015
/// epoch.
fn rows_for(table: Table) -> Vec<Vec<V>> {
    match table {
        Table::RawWebEvents => vec![
            vec![
                S("e-1"),
                S("u-1"),
                S("s-1"),
                S("page_view"),
                S("/"),
                S("Firefox"),
                S("Linux"),
                S("DE"),
                T("2026-11-30 00:00:00.000"),
                I(-259_200_000),
            ],
            vec![
                S("e-2"),
                S("u-2"),
                S("s-2"),
                S("click"),
                S("/p/Zürich–東京-🚀?q=a b"),
                Null,
                Null,
                Null,
                T("2026-11-30 23:59:59.999"),
                Null,
            ],
            vec![
                S("e-3"),
                S("u-3"),
                S("s-3"),
                S("video_play"),
                S(""),
                S("Safari"),
                S("iOS"),
                S("US"),
                T("2026-11-30 12:34:56.001"),
                I(9_007_199_254_740_993),
            ],
        ],
        Table::PageAnalytics => vec![
            vec![
                S("/"),
                S("page_view"),
                I(3),
                T("2026-11-30 00:00:00.000"),
                T("2026-11-30 00:01:00.000"),
            ],
            vec![
                S("/docs"),
                S("click"),
                I(9_007_199_254_740_993),
                T("2026-11-30 23:59:00.000"),
                T("2026-12-01 00:00:00.000"),
            ],
            vec![S("/x"), Null, Null, T("2026-11-30 07:15:30.500"), Null],
        ],
        Table::RejectedWebEvents => vec![
            vec![
                B(b"{\"event_id\":\xff\xfe}"),
                S("invalid_utf8"),
                Null,
                S("web_analytics"),
                I(3),
                I(9_007_199_254_740_993),
                T("2026-11-30 23:59:59.999"),
                T("2026-11-30 00:00:00.001"),
            ],
            vec![
                B(b""),
                S("not_json"),
                S("expected value at line 1 column 1 – ü"),
                S("web_analytics"),
                I(0),
                I(0),
                Null,
                T("2014-12-31 23:59:59.999"),
            ],
            vec![Null, Null, Null, Null, Null, I(2), Null, Null],
        ],
        Table::LateWebEvents => vec![
            vec![
                S("e-9"),
                S("u-9"),
                S("s-9"),
                S("scroll"),
                S("/late"),
                Null,
                S("Android"),
                S("BR"),
                T("2026-11-30 08:00:00.123"),
                T("2026-11-30 09:00:00.000"),
                S("web_analytics"),
                I(2_147_483_647),
                I(42),
            ],
            vec![
                S("e-8"),
                S("u-8"),
                S("s-8"),
                S("form_submit"),
                S("/f"),
                S("Edge"),
                S("Windows"),
                Null,
                T("2026-11-30 00:00:00.000"),
                T("2026-11-30 00:00:00.001"),
                Null,
                I(-2_147_483_648),
                Null,
            ],
        ],
        Table::VisitorAnalytics => vec![
            vec![
                Null,
                T("2026-11-30 00:00:00.000"),
                T("2026-11-30 00:01:00.000"),
                I(2),
                I(9_007_199_254_740_993),
            ],
            vec![
                S("/p/Zürich–東京-🚀?q=a b"),
                T("2026-11-30 23:59:00.000"),
                T("2026-12-01 00:00:00.000"),
                I(1),
                I(3),
            ],
            vec![S("/x"), T("2026-11-30 07:15:30.500"), Null, Null, Null],
        ],
        Table::Sessions => vec![
            vec![
                S("s-1"),
                S("u-1"),
                T("2026-11-30 00:00:00.000"),
                T("2026-11-30 00:00:09.999"),
                I(9_999),
                I(3),
                I(1),
                S("/"),
                S("/checkout"),
                Bo(false),
                S("Firefox"),
                S("Linux"),
                S("DE"),
            ],
            vec![
                S("s-2"),
                S("u-2"),
                T("2026-11-30 23:59:59.999"),
                T("2026-11-30 23:59:59.999"),
                I(0),
                I(1),
                I(1),
                S("/p/Zürich–東京-🚀?q=a b"),
                S("/p/Zürich–東京-🚀?q=a b"),
                Bo(true),
                Null,
                Null,
                Null,
            ],
            vec![
                S("s-3"),
                Null,
                T("2014-12-31 23:59:59.999"),
                Null,
                Null,
                Null,
                Null,
                Null,
                Null,
                Null,
                Null,
                Null,
                Null,
            ],
        ],
    }
}

fn config(s: &Stack, db: &str) -> HiveConfig {
    HiveConfig {
        metastore_uri: format!("thrift://{}", s.metastore_addr),
        hdfs_url: s.hdfs_url.clone(),
        warehouse: format!("{}/tmp/wa-tests/{db}/warehouse", s.hdfs_url),
        database: db.to_string(),
        metastore_timeout: Duration::from_secs(5),
        retry_initial: Duration::from_millis(200),
        retry_max: Duration::from_secs(2),
        ..HiveConfig::default()
    }
}

/// Runs blocking Hive SQL from inside the async test without stalling the runtime.
fn sql(s: &Stack, statements: &[&str]) -> Vec<ResultSet> {
    tokio::task::block_in_place(|| s.hive_sql(statements)).unwrap()
}

fn query(s: &Stack, q: &str) -> ResultSet {
    tokio::task::block_in_place(|| s.query(q)).unwrap()
}

async fn drop_everything(s: &Stack, db: &str) {
    sql(s, &[&format!("DROP DATABASE IF EXISTS {db} CASCADE")]);
    let hdfs = hdfs_native::ClientBuilder::new()
        .with_url(&s.hdfs_url)
        .build()
        .unwrap();
    let _ = hdfs.delete(&format!("/tmp/wa-tests/{db}"), true).await;
}

const DT: &str = "2026-11-30";

/// Commits one file per table in partition `DT`; returns the files' URLs in `Table::ALL` order.
async fn commit_all(tables: &HiveTables) -> Vec<String> {
    let dt: PartitionDate = DT.parse().unwrap();
    let mut urls = Vec::new();
    for table in Table::ALL {
        let rows = rows_for(table);
        // Two batches, so a file is more than one batch.
        let (a, b) = rows.split_at(1);
        let committed = tables
            .commit_file(
                table,
                dt,
                "part-0-000000000000.orc",
                &[batch(table, a), batch(table, b)],
            )
            .await
            .unwrap();
        assert_eq!(committed.rows, rows.len());
        urls.push(committed.url);
    }
    urls
}

fn assert_table_reads_back(label: &str, table: Table, got: &ResultSet, extra: &[&str]) {
    assert_eq!(
        sorted_rows(got),
        expected(&rows_for(table), extra),
        "{label}: {table} differs"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn every_column_type_round_trips_through_hive_sql_and_spark() {
    let s = stack();
    let _claim = s.shared();
    let db = unique_name("wa_hive_rt");
    let tables = HiveTables::connect(config(s, &db)).await.unwrap();
    tables.init().await.unwrap();
    let urls = commit_all(&tables).await;

    // (a) Spark's native ORC reader, on the committed files themselves.
    for (table, url) in Table::ALL.into_iter().zip(&urls) {
        let got = query(
            s,
            &format!("SELECT {} FROM orc.`{url}`", select_list(table)),
        );
        assert_table_reads_back("Spark native reader", table, &got, &[]);
    }
    // (b) Hive SQL through Hive's own ORC reader (convertMetastoreOrc=false, ETL splits).
    for table in Table::ALL {
        let got = query(
            s,
            &format!("SELECT {}, dt FROM {db}.{table}", select_list(table)),
        );
        assert_table_reads_back("Hive reader", table, &got, &[DT]);
    }
    drop_everything(s, &db).await;
}

/// The Python of the stack's venv, with pyarrow installed in it.
fn python_with_pyarrow() -> PathBuf {
    let cache = std::env::var_os("WA_CACHE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap()).join(".cache/wa-stack")
        });
    let python = cache.join("venv/bin/python");
    let ok = std::process::Command::new(&python)
        .args(["-c", "import pyarrow.orc"])
        .status()
        .is_ok_and(|st| st.success());
    assert!(
        ok,
        "pyarrow is not installed in the stack's venv: run `{} -m pip install pyarrow`",
        python.display()
    );
    python
}

const PYARROW_DUMP: &str = r#"
import json, sys
import pyarrow.orc as orc
def cell(v):
    if v is None: return None
    if isinstance(v, bytes): return v.hex().upper()
    if hasattr(v, "strftime"): return v.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
    return v
t = orc.ORCFile(sys.argv[1]).read()
for row in t.to_pylist():
    print(json.dumps([cell(v) for v in row.values()]))
"#;

#[tokio::test(flavor = "multi_thread")]
async fn pyarrow_reads_our_files_identically() {
    let s = stack();
    let _claim = s.shared();
    let python = python_with_pyarrow();
    let db = unique_name("wa_hive_pa");
    let tables = HiveTables::connect(config(s, &db)).await.unwrap();
    tables.init().await.unwrap();
    let urls = commit_all(&tables).await;
    let hdfs = hdfs_native::ClientBuilder::new()
        .with_url(&s.hdfs_url)
        .build()
        .unwrap();
    let local = std::env::temp_dir().join(&db);
    std::fs::create_dir_all(&local).unwrap();
    for (table, url) in Table::ALL.into_iter().zip(&urls) {
        let reader = hdfs.read(hive::layout::url_path(url)).await.unwrap();
        let bytes = reader.read_range(0, reader.file_length()).await.unwrap();
        let path = local.join(format!("{table}.orc"));
        std::fs::write(&path, &bytes).unwrap();
        let out = std::process::Command::new(&python)
            .args(["-c", PYARROW_DUMP])
            .arg(&path)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "pyarrow failed on {table}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut rows: Vec<Value> = String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        rows.sort_by_key(|v| v.to_string());
        assert_eq!(
            rows,
            expected(&rows_for(table), &[]),
            "pyarrow: {table} differs"
        );
    }
    std::fs::remove_dir_all(&local).unwrap();
    drop_everything(s, &db).await;
}

/// The codec named in an ORC file's postscript, as Apache ORC C++ (pyarrow) reports it.
fn orc_compression(python: &PathBuf, file: &std::path::Path) -> String {
    let out = std::process::Command::new(python)
        .args([
            "-c",
            "import sys, pyarrow.orc as o; print(o.ORCFile(sys.argv[1]).compression)",
        ])
        .arg(file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn both_codecs_are_read_by_hive() {
    let s = stack();
    let _claim = s.shared();
    let python = python_with_pyarrow();
    let db = unique_name("wa_hive_codec");
    let hdfs = hdfs_native::ClientBuilder::new()
        .with_url(&s.hdfs_url)
        .build()
        .unwrap();
    let table = Table::PageAnalytics;
    let dt: PartitionDate = DT.parse().unwrap();
    for (codec, name) in [(Compression::Zlib, "ZLIB"), (Compression::Snappy, "SNAPPY")] {
        let tables = HiveTables::connect(HiveConfig {
            compression: codec,
            ..config(s, &db)
        })
        .await
        .unwrap();
        tables.init().await.unwrap();
        let file = format!("{name}.orc");
        let committed = tables
            .commit_file(table, dt, &file, &[batch(table, &rows_for(table))])
            .await
            .unwrap();
        let reader = hdfs
            .read(hive::layout::url_path(&committed.url))
            .await
            .unwrap();
        let local = std::env::temp_dir().join(format!("{db}-{file}"));
        std::fs::write(
            &local,
            reader.read_range(0, reader.file_length()).await.unwrap(),
        )
        .unwrap();
        assert_eq!(orc_compression(&python, &local), name);
        std::fs::remove_file(&local).unwrap();
    }
    // Both files, one per codec, read through Hive's reader in one query.
    let got = query(
        s,
        &format!("SELECT {}, dt FROM {db}.{table}", select_list(table)),
    );
    let mut twice = rows_for(table);
    twice.extend(rows_for(table));
    assert_eq!(sorted_rows(&got), expected(&twice, &[DT]));
    drop_everything(s, &db).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn timestamps_do_not_depend_on_the_reader_time_zone() {
    let s = stack();
    let _claim = s.shared();
    let db = unique_name("wa_hive_tz");
    let tables = HiveTables::connect(config(s, &db)).await.unwrap();
    tables.init().await.unwrap();
    let urls = commit_all(&tables).await;

    let new_york = tokio::task::block_in_place(|| SqlEngine::start("America/New_York")).unwrap();
    let zone = tokio::task::block_in_place(|| new_york.query("SELECT current_timezone()")).unwrap();
    assert_eq!(
        zone.rows[0][0], "America/New_York",
        "the private server is not in New York time"
    );
    let utc_zone = query(s, "SELECT current_timezone()");
    assert_eq!(
        utc_zone.rows[0][0], "UTC",
        "the shared server is expected in UTC"
    );

    for (table, url) in Table::ALL.into_iter().zip(&urls) {
        let q = format!("SELECT {}, dt FROM {db}.{table}", select_list(table));
        let in_utc = query(s, &q);
        let in_ny = tokio::task::block_in_place(|| new_york.query(&q)).unwrap();
        assert_eq!(
            sorted_rows(&in_ny),
            sorted_rows(&in_utc),
            "Hive reader: {table} shifts with the JVM zone"
        );
        assert_table_reads_back("Hive reader in New York", table, &in_ny, &[DT]);
        let native = format!("SELECT {} FROM orc.`{url}`", select_list(table));
        let native_ny = tokio::task::block_in_place(|| new_york.query(&native)).unwrap();
        assert_table_reads_back("Spark native reader in New York", table, &native_ny, &[]);
    }
    drop(new_york);
    drop_everything(s, &db).await;
}

/// Every process of a cluster runs `init` at start-up, at the same moment on a fresh database:
/// all of them must succeed, whoever wins each race. Eight at once, because with four the race
/// that deletes the winner's database directory showed up only on a loaded machine (in CI); with
/// eight and no fix it failed in 1 of 2 runs of 12 rounds.
#[tokio::test(flavor = "multi_thread")]
async fn concurrent_inits_of_a_fresh_database_all_succeed() {
    let s = stack();
    let _claim = s.shared();
    for round in 0..8 {
        let db = unique_name(&format!("wa_hive_race{round}"));
        let mut inits = Vec::new();
        for _ in 0..8 {
            let tables = HiveTables::connect(config(s, &db)).await.unwrap();
            inits.push(tokio::spawn(async move { tables.init().await }));
        }
        let mut created = 0;
        for init in inits {
            let done = init.await.unwrap().unwrap_or_else(|e| {
                panic!("round {round}: an init racing seven others failed: {e:#}")
            });
            created += done.iter().filter(|(_, c)| *c == Created::New).count();
        }
        let most = 1 + Table::ALL.len();
        assert!(
            created <= most,
            "round {round}: {created} creations of 1 database + {} tables",
            Table::ALL.len()
        );
        let tables = HiveTables::connect(config(s, &db)).await.unwrap();
        assert_eq!(
            tables.tables().await.unwrap().len(),
            Table::ALL.len(),
            "round {round}"
        );
        drop_everything(s, &db).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn init_then_commit_is_visible_at_once_and_a_rerun_overwrites() {
    let s = stack();
    let _claim = s.shared();
    let db = unique_name("wa_hive_init");
    let tables = HiveTables::connect(config(s, &db)).await.unwrap();
    let first = tables.init().await.unwrap();
    assert!(first.iter().all(|(_, c)| *c == Created::New), "{first:?}");
    let again = tables.init().await.unwrap();
    assert!(
        again.iter().all(|(_, c)| *c == Created::Existing),
        "init is not idempotent: {again:?}"
    );
    let names = tables.tables().await.unwrap();
    assert_eq!(
        names,
        [
            "late_web_events",
            "page_analytics",
            "raw_web_events",
            "rejected_web_events",
            "sessions",
            "visitor_analytics"
        ]
    );

    let dt: PartitionDate = "2026-12-24".parse().unwrap();
    let rows = rows_for(Table::PageAnalytics);
    tables
        .commit_file(
            Table::PageAnalytics,
            dt,
            "w-000001.orc",
            &[batch(Table::PageAnalytics, &rows)],
        )
        .await
        .unwrap();
    assert!(tables.pending_partitions().is_empty());
    assert_eq!(
        tables.partitions("page_analytics").await.unwrap(),
        ["dt=2026-12-24"]
    );
    let count = query(
        s,
        &format!("SELECT COUNT(*) FROM {db}.page_analytics WHERE dt = '2026-12-24'"),
    );
    assert_eq!(
        count.rows_as::<(i64,)>().unwrap(),
        [(3,)],
        "rows not visible right after the commit"
    );

    // The same file name again (a re-run): the file is replaced, not added to.
    tables
        .commit_file(
            Table::PageAnalytics,
            dt,
            "w-000001.orc",
            &[batch(Table::PageAnalytics, &rows[..1])],
        )
        .await
        .unwrap();
    let count = query(
        s,
        &format!("SELECT COUNT(*), SUM(event_count) FROM {db}.page_analytics"),
    );
    assert_eq!(
        count.rows_as::<(i64, i64)>().unwrap(),
        [(1, 3)],
        "a re-run added rows instead of replacing the file"
    );

    // Nothing but committed files in the partition directory; temporary files are elsewhere.
    let hdfs = hdfs_native::ClientBuilder::new()
        .with_url(&s.hdfs_url)
        .build()
        .unwrap();
    let table_dir =
        hive::layout::url_path(&tables.table_location(Table::PageAnalytics)).to_string();
    let listed: Vec<String> = hdfs
        .list_status(&format!("{table_dir}/dt=2026-12-24"), false)
        .await
        .unwrap()
        .into_iter()
        .map(|f| f.path.rsplit('/').next().unwrap().to_string())
        .collect();
    assert_eq!(listed, ["w-000001.orc"]);

    // Day complete: _SUCCESS in the partition, which is still readable; a day without data gets
    // its marker and its (empty) partition too.
    tables
        .mark_day_complete(Table::PageAnalytics, dt)
        .await
        .unwrap();
    assert_eq!(
        hdfs.get_file_info(&format!("{table_dir}/dt=2026-12-24/_SUCCESS"))
            .await
            .unwrap()
            .length,
        0
    );
    let empty_day: PartitionDate = "2026-12-25".parse().unwrap();
    tables
        .mark_day_complete(Table::PageAnalytics, empty_day)
        .await
        .unwrap();
    assert_eq!(
        tables.partitions("page_analytics").await.unwrap(),
        ["dt=2026-12-24", "dt=2026-12-25"]
    );
    let count = query(
        s,
        &format!("SELECT dt, COUNT(*) FROM {db}.page_analytics GROUP BY dt"),
    );
    assert_eq!(
        count.rows_as::<(String, i64)>().unwrap(),
        [("2026-12-24".to_string(), 1)]
    );

    // A file of the wrong shape is refused and leaves nothing behind.
    let wrong = batch(Table::RawWebEvents, &rows_for(Table::RawWebEvents));
    let err = tables
        .commit_file(Table::PageAnalytics, dt, "w-000002.orc", &[wrong])
        .await
        .unwrap_err();
    assert!(
        matches!(err, hive::HiveError::SchemaMismatch { .. }),
        "{err}"
    );
    drop_everything(s, &db).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn repair_adds_committed_partitions_the_metastore_lacks() {
    let s = stack();
    let _claim = s.shared();
    let db = unique_name("wa_hive_repair");
    let tables = HiveTables::connect(config(s, &db)).await.unwrap();
    tables.init().await.unwrap();
    let dt: PartitionDate = DT.parse().unwrap();
    let rows = rows_for(Table::RawWebEvents);
    let committed = tables
        .commit_file(
            Table::RawWebEvents,
            dt,
            "a.orc",
            &[batch(Table::RawWebEvents, &rows)],
        )
        .await
        .unwrap();
    assert!(
        tables.repair().await.unwrap().is_empty(),
        "nothing should be missing"
    );

    // A committed file in a partition the metastore never heard of (as after a crash between
    // the rename and the partition commit), a directory with only a temporary-looking file,
    // and a directory that is not a partition.
    let hdfs = hdfs_native::ClientBuilder::new()
        .with_url(&s.hdfs_url)
        .build()
        .unwrap();
    let root = hive::layout::url_path(&tables.table_location(Table::RawWebEvents)).to_string();
    let src = hdfs
        .read(hive::layout::url_path(&committed.url))
        .await
        .unwrap();
    let data = src.read_range(0, src.file_length()).await.unwrap();
    for path in [
        format!("{root}/dt=2026-12-01/a.orc"),
        format!("{root}/dt=2026-12-02/.hidden"),
        format!("{root}/other/a.orc"),
    ] {
        let mut w = hdfs
            .create(&path, hdfs_native::WriteOptions::default())
            .await
            .unwrap();
        w.write_bytes(data.clone()).await.unwrap();
        w.close().await.unwrap();
    }
    let added = tables.repair().await.unwrap();
    assert_eq!(added.len(), 1, "{added:?}");
    assert_eq!(
        (added[0].table, added[0].dt.to_string()),
        (Table::RawWebEvents, "2026-12-01".to_string())
    );
    assert!(
        tables.repair().await.unwrap().is_empty(),
        "repair is not idempotent"
    );
    let per_dt = query(
        s,
        &format!("SELECT dt, COUNT(*) FROM {db}.raw_web_events GROUP BY dt ORDER BY dt"),
    );
    assert_eq!(
        per_dt.rows_as::<(String, i64)>().unwrap(),
        [(DT.to_string(), 3), ("2026-12-01".to_string(), 3)]
    );
    drop_everything(s, &db).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn partition_committed_during_a_metastore_outage_appears_by_itself() {
    let s = stack();
    let _claim = s.exclusive();
    let db = unique_name("wa_hive_outage");
    let tables = HiveTables::connect(config(s, &db)).await.unwrap();
    tables.init().await.unwrap();
    let dt: PartitionDate = "2026-12-31".parse().unwrap();
    let rows = rows_for(Table::PageAnalytics);

    let outage = tokio::task::block_in_place(|| s.metastore_outage()).unwrap();
    assert!(
        std::net::TcpStream::connect_timeout(&s.metastore_addr, Duration::from_secs(2)).is_err(),
        "`stack metastore stop` left a metastore answering on {} (is its pid file lost?)",
        s.metastore_addr
    );
    let started = Instant::now();
    tables
        .commit_file(
            Table::PageAnalytics,
            dt,
            "w-1.orc",
            &[batch(Table::PageAnalytics, &rows)],
        )
        .await
        .unwrap();
    // The data path does not wait for the metastore: one bounded attempt at most (5 s here).
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "commit blocked for {:?}",
        started.elapsed()
    );
    assert_eq!(
        tables.pending_partitions(),
        ["page_analytics/dt=2026-12-31"]
    );
    // A second file while the metastore is known to be down does not try it at all.
    let started = Instant::now();
    tables
        .commit_file(
            Table::PageAnalytics,
            dt,
            "w-2.orc",
            &[batch(Table::PageAnalytics, &rows)],
        )
        .await
        .unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "second commit blocked for {:?}",
        started.elapsed()
    );
    // A flush with the metastore down gives up and names what is pending.
    let err = tables.flush(Duration::from_secs(1)).await.unwrap_err();
    assert!(
        err.to_string().contains("page_analytics/dt=2026-12-31"),
        "{err}"
    );

    tokio::task::block_in_place(|| outage.end()).unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        // Asked with a fresh client, so only the background committer can have added it.
        let fresh = HiveTables::connect(config(s, &db)).await.unwrap();
        let listed = fresh
            .partitions("page_analytics")
            .await
            .is_ok_and(|p| p == ["dt=2026-12-31"]);
        if listed && tables.pending_partitions().is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "within 60 s of the restart: listed {listed}, pending {:?}",
            tables.pending_partitions()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let count = query(s, &format!("SELECT COUNT(*) FROM {db}.page_analytics"));
    assert_eq!(count.rows_as::<(i64,)>().unwrap(), [(6,)]);
    drop_everything(s, &db).await;
}
