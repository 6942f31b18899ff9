//! The oracle's Hive side checked on its own, before it judges the dataflow: the rows it
//! expects, written into the four tables with our Hive layer (ORC files + partitions), read
//! back through Hive SQL by `Tables::read`, are the same rows — so timestamps, binary values,
//! NULLs, integer widths and `dt` values are compared in the shape Hive SQL really prints, and
//! a difference in a dataflow test is the dataflow's.

#![allow(clippy::unwrap_used)] // a test fails by panicking

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow::array::{
    ArrayRef, BinaryBuilder, Int32Builder, Int64Builder, StringBuilder, TimestampMillisecondBuilder,
};
use arrow::datatypes::{DataType, TimeUnit};
use arrow::record_batch::RecordBatch;
use chrono::{NaiveDate, NaiveDateTime};
use hive::{HiveConfig, HiveTables, PartitionDate, Table};
use wa_tests::dataflow::cleanup;
use wa_tests::oracle::{assert_tables_eq, Expected, Layout, OracleConfig, Tables};
use wa_tests::{stack, unique_name};

/// One value to write.
#[derive(Debug, Clone)]
enum Cell {
    Str(Option<String>),
    Int(i64),
    /// A nullable integer; `None` for SQL NULL.
    OptInt(Option<i64>),
    /// `yyyy-MM-dd HH:mm:ss.SSS`, UTC.
    Time(Option<String>),
    Bytes(Vec<u8>),
}
use Cell::*;

fn ms(ts: &str) -> i64 {
    NaiveDateTime::parse_from_str(ts, "%Y-%m-%d %H:%M:%S%.3f")
        .unwrap()
        .and_utc()
        .timestamp_millis()
}

fn unhex(hex: &str) -> Vec<u8> {
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect()
}

fn s(v: &str) -> Cell {
    Str(Some(v.to_owned()))
}

/// The rows of one file: its table and rows; keyed by (table name, dt).
type File = (Table, Vec<Vec<Cell>>);

/// A batch with `table`'s columns holding `rows`.
fn batch(table: Table, rows: &[Vec<Cell>]) -> RecordBatch {
    let schema = table.arrow_schema();
    let columns: Vec<ArrayRef> = schema
        .fields()
        .iter()
        .enumerate()
        .map(|(i, field)| -> ArrayRef {
            let cells = rows.iter().map(|r| r[i].clone());
            let bad = |c: Cell| panic!("{c:?} in column {}", field.name());
            match field.data_type() {
                DataType::Utf8 => {
                    let mut b = StringBuilder::new();
                    cells.for_each(|c| match c {
                        Str(v) => b.append_option(v),
                        c => bad(c),
                    });
                    Arc::new(b.finish())
                }
                DataType::Int64 => {
                    let mut b = Int64Builder::new();
                    cells.for_each(|c| match c {
                        Int(v) => b.append_value(v),
                        OptInt(v) => b.append_option(v),
                        c => bad(c),
                    });
                    Arc::new(b.finish())
                }
                DataType::Int32 => {
                    let mut b = Int32Builder::new();
                    cells.for_each(|c| match c {
                        Int(v) => b.append_value(v.try_into().unwrap()),
                        c => bad(c),
                    });
                    Arc::new(b.finish())
                }
                DataType::Timestamp(TimeUnit::Millisecond, None) => {
                    let mut b = TimestampMillisecondBuilder::new();
                    cells.for_each(|c| match c {
                        Time(v) => b.append_option(v.as_deref().map(ms)),
                        c => bad(c),
                    });
                    Arc::new(b.finish())
                }
                DataType::Binary => {
                    let mut b = BinaryBuilder::new();
                    cells.for_each(|c| match c {
                        Bytes(v) => b.append_value(v),
                        c => bad(c),
                    });
                    Arc::new(b.finish())
                }
                other => panic!("no test writer for {other}"),
            }
        })
        .collect();
    RecordBatch::try_new(schema, columns).unwrap()
}

/// The rows of `tables` as (table, dt, cells), in the tables' column order. Rejected rows get a
/// reason detail and a `seen_at`, which the oracle does not predict.
fn cells(tables: &Tables) -> Vec<(Table, String, Vec<Cell>)> {
    let mut out = Vec::new();
    for r in &tables.raw {
        let row = vec![
            s(&r.event_id),
            s(&r.user_id),
            s(&r.session_id),
            s(&r.event_type),
            s(&r.page_url),
            Str(r.browser.clone()),
            Str(r.os.clone()),
            Str(r.country.clone()),
            Time(Some(r.event_time.clone())),
            OptInt(r.clock_skew_ms),
        ];
        out.push((Table::RawWebEvents, r.dt.clone(), row));
    }
    for r in &tables.late {
        let row = vec![
            s(&r.event_id),
            s(&r.user_id),
            s(&r.session_id),
            s(&r.event_type),
            s(&r.page_url),
            Str(r.browser.clone()),
            Str(r.os.clone()),
            Str(r.country.clone()),
            Time(Some(r.event_time.clone())),
            Time(Some(r.watermark.clone())),
            s(&r.kafka_topic),
            Int(r.kafka_partition.into()),
            Int(r.kafka_offset),
        ];
        out.push((Table::LateWebEvents, r.dt.clone(), row));
    }
    for r in &tables.page {
        let row = vec![
            s(&r.page_url),
            s(&r.event_type),
            Int(r.event_count),
            Time(Some(r.window_start.clone())),
            Time(Some(r.window_end.clone())),
        ];
        out.push((Table::PageAnalytics, r.dt.clone(), row));
    }
    for r in &tables.rejected {
        let row = vec![
            Bytes(unhex(&r.raw_value_hex)),
            s(&r.reason),
            s("a detail the oracle does not predict"),
            s(&r.kafka_topic),
            Int(r.kafka_partition.into()),
            Int(r.kafka_offset),
            Time(r.kafka_timestamp.clone()),
            Time(Some("2026-11-30 12:00:00.000".to_owned())),
        ];
        out.push((Table::RejectedWebEvents, r.dt.clone(), row));
    }
    out
}

/// A small topic with a bit of everything: events on both sides of midnight, a late one,
/// NULL optional fields, non-ASCII text, invalid records (one not UTF-8).
fn layout() -> Layout {
    let midnight = 1_795_996_800_000; // 2026-11-30T00:00:00Z
    let event = |id: &str, page: &str, t: i64, browser: Option<&str>| {
        serde_json::json!({
            "event_id": id, "user_id": "u", "session_id": format!("s-{id}"),
            "event_type": "click", "page_url": page, "browser": browser, "event_time": t,
        })
        .to_string()
    };
    let mut layout = Layout::new("oracle_topic", 2);
    for (i, (p, t)) in [
        (0, -1_500),
        (0, 30_000),
        (1, -59_999),
        (0, 61_000),
        (0, 2_000),
    ]
    .into_iter()
    .enumerate()
    {
        let value = event(&format!("e{i}"), "/straße/ü", midnight + t, Some("Firefox"));
        layout.push(p, None, value.as_bytes(), midnight + t);
    }
    let nulls = event("n", "https://example.com/?q=\"x\"", midnight - 1, None);
    layout.push(1, None, nulls.as_bytes(), midnight - 1);
    layout.push(
        1,
        Some(b"k"),
        &[0xff, 0x00, b'\n', 0xc3, 0x28],
        midnight - 2,
    );
    layout.push(0, None, b"{\"event_id\":1}", midnight + 5);
    layout
}

#[test]
fn expected_rows_written_to_hive_read_back_unchanged() {
    let s = stack();
    let _claim = s.shared();
    let expected = Expected::compute(&layout(), &OracleConfig::hopping(60_000, 30_000, 1_000));
    let t = &expected.tables;
    assert!(!t.late.is_empty() && t.rejected.len() == 2 && t.page.len() > 3);

    let database = unique_name("oracle_hive");
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let tables = HiveTables::connect(HiveConfig {
            metastore_uri: format!("thrift://{}", s.metastore_addr),
            hdfs_url: s.hdfs_url.clone(),
            warehouse: s.warehouse.clone(),
            database: database.clone(),
            ..HiveConfig::default()
        })
        .await
        .unwrap();
        tables.init().await.unwrap();
        let mut files: BTreeMap<(String, String), File> = BTreeMap::new();
        for (table, dt, row) in cells(t) {
            files
                .entry((table.name().to_owned(), dt))
                .or_insert_with(|| (table, Vec::new()))
                .1
                .push(row);
        }
        for ((_, dt), (table, rows)) in &files {
            let date = PartitionDate::new(NaiveDate::parse_from_str(dt, "%Y-%m-%d").unwrap());
            tables
                .commit_file(*table, date, "oracle.orc", &[batch(*table, rows)])
                .await
                .unwrap();
        }
        tables
            .flush(std::time::Duration::from_secs(30))
            .await
            .unwrap();
    });

    let read = Tables::read(s, &database).unwrap();
    assert!(read
        .rejected
        .iter()
        .all(|r| r.reason_detail.as_deref() == Some("a detail the oracle does not predict")));
    assert_tables_eq(t, &read.without_reason_detail(), "oracle rows vs Hive SQL");
    rt.block_on(cleanup(s, &database)).unwrap();
}
