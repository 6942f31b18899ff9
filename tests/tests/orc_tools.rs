//! Every ORC file of a pipeline run reads back through Apache ORC's Java reader of the release
//! Hive 4.0.1 ships (orc-tools 1.8.5; `wa_tests::OrcTools`), not only through Hive SQL.
//!
//! A seeded stream with late events and invalid records goes through a 2-process dataflow
//! cluster, so all six tables get files on two dates. Then every file under the database's
//! location on HDFS is listed — each must be an ORC file or an empty `_SUCCESS` in a `dt=`
//! partition of one of the six tables; anything else fails the test — and each ORC file is
//! copied to a local folder and given to `orc-tools meta` and `orc-tools data` (all files in
//! one JVM per command). For every file: both succeed without complaint, the schema `meta`
//! shows is the table's columns with their Hive types, `meta`'s row count equals the rows
//! `data` prints, and the statistics the Java reader decodes (our patched writer's, which
//! Hive's split planning and predicate pushdown read) agree with that data: per column the
//! count of values, hasNull, minimum, maximum and sum, and the stripes add up to the file;
//! in files of fewer than 10 000 rows, each string column is dictionary-encoded exactly when
//! its distinct values are at most 0.8 of its values (at least one column of the run is).
//! Per table and `dt`, the files' rows add up to the rows Hive SQL returns, and the rows
//! `data` prints are those rows, value for value.

#![allow(clippy::unwrap_used)] // a test fails by panicking

#[path = "dataflow/support.rs"]
#[allow(dead_code)] // shared with dataflow.rs and end_to_end.rs, which use other parts
mod support;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use chrono::NaiveDateTime;
use serde_json::Value;
use support::*;
use wa_tests::dataflow::{cleanup, init_database, Dataflow, DataflowOptions};
use wa_tests::oracle::{Expected, OracleConfig};
use wa_tests::{binary, stack, unique_name, Column, DataRow, FileMeta, Stack};

const MINUTE_MS: i64 = 60_000;
const LATENESS_MS: i64 = 3_000;
const TABLES: [&str; 6] = [
    "raw_web_events",
    "late_web_events",
    "rejected_web_events",
    "page_analytics",
    "visitor_analytics",
    "sessions",
];

/// One ORC file of the run: where it is on HDFS, its table and partition, its local copy.
#[derive(Debug)]
struct OrcFile {
    hdfs_path: String,
    table: &'static str,
    dt: String,
    local: PathBuf,
}

/// A table's columns as Hive SQL reports them, without the partition column `dt`.
fn data_columns(set: &wa_tests::ResultSet) -> Vec<Column> {
    set.columns
        .iter()
        .filter(|c| c.name != "dt")
        .cloned()
        .collect()
}

/// The ORC schema a file of a table with `columns` must have: `struct<name:type,…>` (Hive's
/// type names are ORC's for the types our tables use).
fn orc_schema(columns: &[Column]) -> String {
    let fields: Vec<String> = columns
        .iter()
        .map(|c| format!("{}:{}", c.name, c.type_name))
        .collect();
    format!("struct<{}>", fields.join(","))
}

/// A value in the form both readers agree on: timestamps with nanoseconds (orc-tools prints
/// `java.sql.Timestamp` text, `…:01.5`; Hive SQL `…:01.500`), binary as upper-case hex
/// (orc-tools prints an array of byte values; the Hive query selects `hex(…)`).
fn normalize(value: &Value, hive_type: &str) -> Value {
    match (hive_type, value) {
        ("timestamp", Value::String(s)) => {
            let t = NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f")
                .unwrap_or_else(|e| panic!("timestamp {s:?}: {e}"));
            Value::String(t.format("%Y-%m-%d %H:%M:%S%.9f").to_string())
        }
        ("binary", Value::Array(bytes)) => Value::String(
            bytes
                .iter()
                .map(|b| format!("{:02X}", b.as_u64().unwrap()))
                .collect(),
        ),
        ("boolean", Value::String(s)) => Value::Bool(s == "true"),
        _ => value.clone(),
    }
}

/// An `orc-tools data` row as values in column order, normalized, with the file's `dt`.
fn orc_row(row: &DataRow, columns: &[Column], dt: &str, file: &str) -> Vec<Value> {
    let mut values: Vec<Value> = columns
        .iter()
        .map(|c| {
            let v = row
                .get(&c.name)
                .unwrap_or_else(|| panic!("{file}: orc-tools data row without {}", c.name));
            normalize(v, &c.type_name)
        })
        .collect();
    values.push(Value::String(dt.to_string()));
    values
}

/// One column's statistics as orc-tools prints them:
/// `Column i: count: N hasNull: B[ min: X max: Y][ sum: S]` (strings longer than 1024 bytes
/// have `lower:`/`upper:` instead of `min:`/`max:`, timestamps no sum).
#[derive(Debug, PartialEq)]
struct Stats {
    count: u64,
    has_null: bool,
    min: Option<String>,
    max: Option<String>,
    sum: Option<String>,
}

fn parse_stats(line: &str) -> Stats {
    let bad = format!("statistics line {line:?}");
    let rest = line.split_once(": count: ").expect(&bad).1;
    let (count, rest) = rest.split_once(" hasNull: ").expect(&bad);
    let (has_null, rest) = rest.split_once(' ').unwrap_or((rest, ""));
    // The sum comes last, so a string maximum holding " sum: " does not confuse it.
    let rest = format!(" {rest}");
    let (body, sum) = match rest.rfind(" sum: ") {
        Some(i) => (&rest[..i], Some(rest[i + " sum: ".len()..].to_string())),
        None => (rest.as_str(), None),
    };
    let (min, max) = match body
        .strip_prefix(" min: ")
        .and_then(|b| b.split_once(" max: "))
    {
        Some((min, max)) => (Some(min.to_string()), Some(max.to_string())),
        None => (None, None),
    };
    Stats {
        count: count.parse().expect(&bad),
        has_null: has_null == "true",
        min,
        max,
        sum,
    }
}

/// Checks one column's statistics line against the column's values in the rows `data` printed
/// (`values`: the non-null ones, normalized; `nulls`: how many were null): the count of values,
/// hasNull, and, where orc-tools shows them, minimum, maximum and sum.
fn check_stats(file: &str, column: &Column, line: &str, values: &[Value], nulls: u64) {
    let st = parse_stats(line);
    let what = format!("{file}: statistics of {} ({line})", column.name);
    assert_eq!(
        (st.count, st.has_null),
        (values.len() as u64, nulls > 0),
        "{what}: count/hasNull vs the {} values and {nulls} nulls data printed",
        values.len()
    );
    if values.is_empty() {
        return;
    }
    match column.type_name.as_str() {
        "string" => {
            let strs: Vec<&str> = values.iter().map(|v| v.as_str().unwrap()).collect();
            let (min, max) = (strs.iter().min().unwrap(), strs.iter().max().unwrap());
            // Longer ones are stored as truncated bounds (ORC-203).
            if min.len() <= 1024 && max.len() <= 1024 {
                assert_eq!(
                    (st.min.as_deref(), st.max.as_deref()),
                    (Some(*min), Some(*max)),
                    "{what}: min/max"
                );
            }
            let bytes: usize = strs.iter().map(|s| s.len()).sum();
            assert_eq!(st.sum, Some(bytes.to_string()), "{what}: sum (bytes)");
        }
        "int" | "bigint" => {
            let ints: Vec<i64> = values.iter().map(|v| v.as_i64().unwrap()).collect();
            let (min, max) = (ints.iter().min().unwrap(), ints.iter().max().unwrap());
            assert_eq!(
                (st.min, st.max),
                (Some(min.to_string()), Some(max.to_string())),
                "{what}: min/max"
            );
            let sum: i64 = ints.iter().sum();
            assert_eq!(st.sum, Some(sum.to_string()), "{what}: sum");
        }
        "timestamp" => {
            // Normalized timestamps (nanosecond digits) sort as text in time order.
            let texts: Vec<&str> = values.iter().map(|v| v.as_str().unwrap()).collect();
            let (min, max) = (texts.iter().min().unwrap(), texts.iter().max().unwrap());
            let norm = |t: Option<String>| {
                t.map(|t| normalize(&Value::String(t), "timestamp"))
                    .and_then(|v| v.as_str().map(str::to_string))
            };
            assert_eq!(
                (norm(st.min), norm(st.max)),
                (Some(min.to_string()), Some(max.to_string())),
                "{what}: min/max"
            );
        }
        "binary" => {
            // Normalized to hex: two digits a byte.
            let bytes: usize = values.iter().map(|v| v.as_str().unwrap().len() / 2).sum();
            assert_eq!(st.sum, Some(bytes.to_string()), "{what}: sum (bytes)");
        }
        "boolean" => {
            // orc-tools prints the number of true values: `… true: N`.
            let trues = values.iter().filter(|v| v.as_bool() == Some(true)).count();
            assert!(
                line.ends_with(&format!(" true: {trues}")),
                "{what}: {trues} true values"
            );
        }
        other => panic!("{what}: no check for type {other}"),
    }
}

/// Checks one file: `meta` against the table's columns and against the rows `data` printed.
fn check_file(file: &OrcFile, meta: &FileMeta, rows: &[DataRow], columns: &[Column]) {
    let name = &file.hdfs_path;
    assert_eq!(meta.schema, orc_schema(columns), "{name}: schema in meta");
    assert_eq!(
        meta.rows,
        rows.len() as u64,
        "{name}: meta's row count vs the rows data printed"
    );
    for row in rows {
        let keys: Vec<&String> = row.keys().collect();
        let mut want: Vec<&String> = columns.iter().map(|c| &c.name).collect();
        want.sort();
        assert_eq!(keys, want, "{name}: columns of a data row");
    }
    // Column 0 is the struct (the row), 1.. the table's columns in order.
    assert_eq!(
        meta.file_statistics.len(),
        columns.len() + 1,
        "{name}: File Statistics lines: {:#?}",
        meta.file_statistics
    );
    let root = parse_stats(&meta.file_statistics[0]);
    assert_eq!(
        (root.count, root.has_null),
        (meta.rows, false),
        "{name}: {}",
        meta.file_statistics[0]
    );
    for (i, c) in columns.iter().enumerate() {
        let values: Vec<Value> = rows
            .iter()
            .filter(|r| !r[&c.name].is_null())
            .map(|r| normalize(&r[&c.name], &c.type_name))
            .collect();
        let nulls = rows.len() as u64 - values.len() as u64;
        check_stats(name, c, &meta.file_statistics[i + 1], &values, nulls);
    }

    // Stripes: their rows and their statistics' counts add up to the file's.
    assert_eq!(
        meta.stripe_statistics.len(),
        meta.stripes.len(),
        "{name}: stripe statistics per stripe"
    );
    let stripe_rows: u64 = meta
        .stripes
        .iter()
        .map(|s| {
            let rows = s
                .split_once(" rows: ")
                .unwrap_or_else(|| panic!("{name}: {s}"))
                .1;
            rows.split_whitespace()
                .next()
                .unwrap()
                .parse::<u64>()
                .unwrap()
        })
        .sum();
    assert_eq!(stripe_rows, meta.rows, "{name}: rows of the stripes");
    for (i, file_line) in meta.file_statistics.iter().enumerate() {
        let counts: u64 = meta
            .stripe_statistics
            .iter()
            .map(|stripe| {
                assert_eq!(stripe.len(), columns.len() + 1, "{name}: {stripe:#?}");
                parse_stats(&stripe[i]).count
            })
            .sum();
        assert_eq!(
            counts,
            parse_stats(file_line).count,
            "{name}: column {i}'s counts over the stripes vs {file_line}"
        );
    }
    if let [stripe] = meta.stripe_statistics.as_slice() {
        assert_eq!(
            stripe, &meta.file_statistics,
            "{name}: the one stripe's statistics vs the file's"
        );
    }
}

/// Share of a stripe's non-null values its distinct string values may be for the stripe to be
/// dictionary-encoded: the writer's `orc.dictionary.key.threshold` (`hive::orc`).
const DICTIONARY_KEY_THRESHOLD: f64 = 0.8;

/// A file of one stripe with fewer rows than the writer's early check (10 000 values): each
/// string column is `DICTIONARY_V2[distinct values]` when its distinct values are at most
/// [`DICTIONARY_KEY_THRESHOLD`] of its non-null values, else `DIRECT_V2`, as the Java reader
/// reports it; every other column is written directly. Returns how many columns were
/// dictionary-encoded (none for larger files, which are not checked here).
fn check_encodings(name: &str, meta: &FileMeta, rows: &[DataRow], columns: &[Column]) -> usize {
    if meta.stripes.len() != 1 || rows.len() >= 10_000 {
        return 0;
    }
    let mut dictionaries = 0;
    let mut want = vec!["Encoding column 0: DIRECT".to_string()];
    for (i, c) in columns.iter().enumerate() {
        let id = i + 1;
        let kind = match c.type_name.as_str() {
            "string" => {
                let values: Vec<&Value> = rows
                    .iter()
                    .map(|r| &r[&c.name])
                    .filter(|v| !v.is_null())
                    .collect();
                let distinct: std::collections::BTreeSet<String> =
                    values.iter().map(|v| v.to_string()).collect();
                let n = values.len() as f64;
                if !values.is_empty() && distinct.len() as f64 <= DICTIONARY_KEY_THRESHOLD * n {
                    dictionaries += 1;
                    format!("DICTIONARY_V2[{}]", distinct.len())
                } else {
                    "DIRECT_V2".to_string()
                }
            }
            "boolean" => "DIRECT".to_string(),
            _ => "DIRECT_V2".to_string(),
        };
        want.push(format!("Encoding column {id}: {kind}"));
    }
    assert_eq!(meta.encodings, want, "{name}: column encodings");
    dictionaries
}

/// Rows in one list that the other lacks (multisets), a few of each, for a failure message.
fn multiset_diff(want: &[Vec<Value>], got: &[Vec<Value>]) -> String {
    let mut count: BTreeMap<String, i64> = BTreeMap::new();
    for r in want {
        *count.entry(serde_json::to_string(r).unwrap()).or_default() += 1;
    }
    for r in got {
        *count.entry(serde_json::to_string(r).unwrap()).or_default() -= 1;
    }
    let missing: Vec<&String> = count
        .iter()
        .filter(|(_, &n)| n > 0)
        .map(|(r, _)| r)
        .collect();
    let extra: Vec<&String> = count
        .iter()
        .filter(|(_, &n)| n < 0)
        .map(|(r, _)| r)
        .collect();
    format!(
        "{} rows of Hive SQL not in the files, e.g. {:#?}\n{} rows of the files not in Hive SQL, e.g. {:#?}",
        missing.len(),
        &missing[..missing.len().min(5)],
        extra.len(),
        &extra[..extra.len().min(5)]
    )
}

/// The database's location as the metastore has it, as a path on the stack's HDFS.
fn database_path(s: &Stack, describe: &wa_tests::ResultSet) -> String {
    let location = describe
        .rows
        .iter()
        .find(|r| r[0] == "Location")
        .and_then(|r| r[1].as_str())
        .unwrap_or_else(|| panic!("no Location in DESCRIBE DATABASE: {:?}", describe.rows));
    location
        .strip_prefix(&s.hdfs_url)
        .unwrap_or_else(|| panic!("database location {location} is not on {}", s.hdfs_url))
        .to_string()
}

/// Every file under `root` (recursively), as (path, length).
fn list_files(s: &Stack, root: &str) -> Vec<(String, usize)> {
    let client = hdfs_native::ClientBuilder::new()
        .with_url(&s.hdfs_url)
        .build()
        .unwrap();
    let listing = block_on(client.list_status(root, true)).unwrap();
    listing
        .into_iter()
        .filter(|f| !f.isdir)
        .map(|f| (f.path, f.length))
        .collect()
}

/// Copies each file's bytes from HDFS to its local path.
fn download(s: &Stack, files: &[OrcFile], lengths: &BTreeMap<String, usize>) {
    let client = hdfs_native::ClientBuilder::new()
        .with_url(&s.hdfs_url)
        .build()
        .unwrap();
    block_on(async {
        for f in files {
            let reader = client.read(&f.hdfs_path).await.unwrap();
            let bytes = reader.read_range(0, reader.file_length()).await.unwrap();
            assert_eq!(bytes.len(), lengths[&f.hdfs_path], "{}", f.hdfs_path);
            std::fs::create_dir_all(f.local.parent().unwrap()).unwrap();
            std::fs::write(&f.local, &bytes).unwrap();
        }
    });
}

#[test]
fn orc_java_reader_reads_every_file_of_a_pipeline_run() {
    let test_started = Instant::now();
    let s = stack();
    let _claim = s.shared();
    let tools = s.orc_tools().unwrap_or_else(|e| panic!("{e:#}"));
    let version = tools.version().unwrap();
    assert_eq!(
        version,
        "ORC 1.8.5",
        "{} is not the ORC release of Hive 4.0.1",
        tools.jar().display()
    );
    // Build the programs first (a no-op when they are fresh): the times below are the test's.
    for program in ["wa-producer", "wa-hive", "wa-dataflow"] {
        binary(program).unwrap();
    }
    eprintln!(
        "[orc_tools test] stack claimed, orc-tools and programs ready after {:.1?}",
        test_started.elapsed()
    );
    let started = Instant::now();

    // 6 000 events over 60 s of stream time across a UTC midnight, with jitter, ~3 % late
    // events and the hand-made invalid records of the dataflow tests.
    let sim = Sim {
        seed: 1_851,
        events: 6_000,
        rate: 100,
        start_ms: start_before_midnight(40_000),
        out_of_order_ms: 1_500,
        late_fraction: 0.03,
        late_by_ms: 10_000,
        no_pacing: true,
    };
    let stream = Stream::prefilled(s, "orc_tools", sim);
    eprintln!(
        "[orc_tools test] {} filled in {:.1?}",
        stream.topic,
        started.elapsed()
    );
    let expected = Expected::compute(
        &stream.layout,
        &OracleConfig::tumbling(MINUTE_MS, LATENESS_MS),
    );
    let t = &expected.tables;
    assert!(
        !t.raw.is_empty() && !t.late.is_empty() && !t.rejected.is_empty() && !t.page.is_empty(),
        "the stream leaves a table empty: {}",
        t.summary()
    );

    let db = unique_name("orc_tools");
    init_database(s, &db).unwrap();
    let mut options = DataflowOptions::new(&stream.topic, &db).cluster(2, 1);
    options.stop_at_watermark_ms = Some(stream.stop_at_ms(MINUTE_MS, LATENESS_MS));
    // Short sessions, so that sessions close (and get files) before the stop watermark.
    options.session_gap = Some(Duration::from_secs(5));
    options.max_session_duration = Some(Duration::from_secs(30));
    let run_started = Instant::now();
    let mut df = Dataflow::start(s, &options).unwrap();
    if let Err(e) = df.wait(Duration::from_secs(300)) {
        panic!(
            "wa-dataflow over {}: {e:#}\n{}",
            stream.topic,
            df.log_tail(40)
        );
    }
    eprintln!(
        "[orc_tools test] wa-dataflow {} ran {:.1?}",
        options.shape(),
        run_started.elapsed()
    );

    // The tables' columns and the database's location, as Hive knows them.
    let mut statements = vec![format!("DESCRIBE DATABASE EXTENDED {db}")];
    statements.extend(TABLES.map(|t| format!("SELECT * FROM {db}.{t} LIMIT 0")));
    let sets = s
        .hive_sql(&statements.iter().map(String::as_str).collect::<Vec<_>>())
        .unwrap();
    assert_eq!(sets.len(), 1 + TABLES.len());
    let root = database_path(s, &sets[0]);
    let columns: BTreeMap<&str, Vec<Column>> = TABLES
        .iter()
        .zip(&sets[1..])
        .map(|(&t, set)| (t, data_columns(set)))
        .collect();

    // Every file the run left under the database's location.
    let listing = list_files(s, &root);
    let lengths: BTreeMap<String, usize> = listing.iter().cloned().collect();
    let local_root = std::env::temp_dir().join(&db);
    let mut files = Vec::new();
    let mut markers = 0;
    let mut stray = Vec::new();
    for (path, length) in &listing {
        let rel = path
            .strip_prefix(&root)
            .and_then(|r| r.strip_prefix('/'))
            .unwrap_or_else(|| panic!("{path} listed under {root}"));
        let parts: Vec<&str> = rel.split('/').collect();
        let table = TABLES.iter().find(|&&t| Some(&t) == parts.first());
        match (table, parts.as_slice()) {
            (Some(&table), [_, dt_dir, name]) if dt_dir.starts_with("dt=") => {
                if *name == "_SUCCESS" {
                    assert_eq!(*length, 0, "{path} is not empty");
                    markers += 1;
                } else if name.starts_with('_') || name.starts_with('.') {
                    stray.push(path.clone());
                } else {
                    files.push(OrcFile {
                        hdfs_path: path.clone(),
                        table,
                        dt: dt_dir["dt=".len()..].to_string(),
                        local: local_root.join(rel),
                    });
                }
            }
            _ => stray.push(path.clone()),
        }
    }
    assert!(
        stray.is_empty(),
        "files under {root} that are neither ORC files nor _SUCCESS markers of a dt= partition: {stray:#?}"
    );
    for table in TABLES {
        let dates: std::collections::BTreeSet<&str> = files
            .iter()
            .filter(|f| f.table == table)
            .map(|f| f.dt.as_str())
            .collect();
        assert!(
            !dates.is_empty(),
            "the run wrote no {table} file under {root}"
        );
    }
    download(s, &files, &lengths);

    // orc-tools on every file: meta and data, each in one JVM for all files.
    let tools_started = Instant::now();
    let locals: Vec<PathBuf> = files.iter().map(|f| f.local.clone()).collect();
    let metas = tools.meta(&locals).unwrap_or_else(|e| panic!("{e:#}"));
    let data = tools.data(&locals).unwrap_or_else(|e| panic!("{e:#}"));
    eprintln!(
        "[orc_tools test] orc-tools meta and data on {} files took {:.1?}",
        files.len(),
        tools_started.elapsed()
    );
    let mut from_files: BTreeMap<&str, Vec<Vec<Value>>> = BTreeMap::new();
    let mut per_dt: BTreeMap<(&str, &str), (usize, u64)> = BTreeMap::new();
    let mut dictionary_columns = 0;
    for ((file, meta), rows) in files.iter().zip(&metas).zip(&data) {
        let cols = &columns[file.table];
        check_file(file, meta, rows, cols);
        dictionary_columns += check_encodings(&file.hdfs_path, meta, rows, cols);
        let entry = per_dt.entry((file.table, &file.dt)).or_default();
        entry.0 += 1;
        entry.1 += meta.rows;
        from_files.entry(file.table).or_default().extend(
            rows.iter()
                .map(|r| orc_row(r, cols, &file.dt, &file.hdfs_path)),
        );
    }
    assert!(
        dictionary_columns > 0,
        "no file of the run has a dictionary-encoded string column: the Java reader's check \
         of dictionaries proves nothing"
    );

    // The same rows through Hive SQL.
    let queries: Vec<String> = TABLES
        .iter()
        .map(|t| {
            let select: Vec<String> = columns[t]
                .iter()
                .map(|c| match c.type_name.as_str() {
                    "binary" => format!("hex({})", c.name),
                    _ => c.name.clone(),
                })
                .collect();
            format!("SELECT {}, dt FROM {db}.{t}", select.join(", "))
        })
        .collect();
    let sets = s
        .hive_sql(&queries.iter().map(String::as_str).collect::<Vec<_>>())
        .unwrap();
    assert_eq!(sets.len(), TABLES.len());
    let mut summary = Vec::new();
    for (table, set) in TABLES.iter().zip(&sets) {
        let cols = &columns[table];
        let mut hive_rows: Vec<Vec<Value>> = set
            .rows
            .iter()
            .map(|r| {
                let mut v: Vec<Value> = r
                    .iter()
                    .zip(cols)
                    .map(|(v, c)| normalize(v, &c.type_name))
                    .collect();
                v.push(r[cols.len()].clone());
                v
            })
            .collect();
        let mut hive_per_dt: BTreeMap<String, u64> = BTreeMap::new();
        for r in &hive_rows {
            *hive_per_dt
                .entry(r[cols.len()].as_str().unwrap().to_string())
                .or_default() += 1;
        }
        let file_per_dt: BTreeMap<String, u64> = per_dt
            .iter()
            .filter(|((t, _), _)| t == table)
            .map(|((_, dt), (_, rows))| (dt.to_string(), *rows))
            .collect();
        assert_eq!(
            file_per_dt, hive_per_dt,
            "{table}: rows per dt in the files (meta) vs through Hive SQL"
        );
        let mut file_rows = from_files.remove(table).unwrap_or_default();
        let key = |r: &Vec<Value>| serde_json::to_string(r).unwrap();
        file_rows.sort_by_key(key);
        hive_rows.sort_by_key(key);
        assert!(
            file_rows == hive_rows,
            "{table}: the rows orc-tools data printed differ from Hive SQL's:\n{}",
            multiset_diff(&hive_rows, &file_rows)
        );
        let dts: Vec<String> = per_dt
            .iter()
            .filter(|((t, _), _)| t == table)
            .map(|((_, dt), (n, rows))| format!("dt={dt}: {n} files, {rows} rows"))
            .collect();
        summary.push(format!("  {table}: {}", dts.join("; ")));
    }
    eprintln!(
        "[orc_tools test] {} ({}) read {} ORC files ({} _SUCCESS markers) in {:.1?}; writer: {}\n{}",
        version,
        tools.jar().display(),
        files.len(),
        markers,
        started.elapsed(),
        metas.first().map_or("", |m| m.version.as_str()),
        summary.join("\n")
    );

    std::fs::remove_dir_all(&local_root).unwrap();
    block_on(cleanup(s, &db)).unwrap();
    stream.remove_log();
}
