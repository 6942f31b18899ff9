//! Complete days: `_SUCCESS` in a table's `dt=D` partition once a checkpoint proves day `D`
//! complete (`docs/dataflow-design.md`, "Complete days"), checked on HDFS after real runs:
//! the event tables at the day's end, `page_analytics` only once the day's last (hopping)
//! window has ended; markers lost between checkpoint and marker come back on restart; a fresh
//! run over a complete day marks it; the next day, not complete, is never marked.

use std::collections::BTreeSet;

use hive::{PartitionDate, Table};

use super::support::*;
use super::{database, LATENESS_MS, MINUTE_MS, RUN_TIMEOUT};
use wa_tests::dataflow::{cleanup, Dataflow, DataflowOptions};
use wa_tests::{stack, Stack};

/// The hopping windows of this test: 1 minute every 20 s, so `page_analytics` of a day is
/// complete 40 s after the day's end.
const SLIDE_MS: i64 = 20_000;

const EVENT_TABLES: [Table; 3] = [
    Table::RawWebEvents,
    Table::LateWebEvents,
    Table::RejectedWebEvents,
];

fn hdfs(s: &Stack) -> hdfs_native::Client {
    hdfs_native::ClientBuilder::new()
        .with_url(&s.hdfs_url)
        .build()
        .unwrap()
}

fn not_found(e: &hdfs_native::HdfsError) -> bool {
    match e {
        hdfs_native::HdfsError::FileNotFound(_) => true,
        hdfs_native::HdfsError::RPCError(class, _) => class.ends_with("FileNotFoundException"),
        _ => false,
    }
}

/// The HDFS path of `db`'s directory.
fn db_dir(s: &Stack, db: &str) -> String {
    hive::layout::url_path(&hive::ddl::database_location(&s.warehouse, db)).to_string()
}

/// The HDFS path of partition `dt` of `table` in `db`.
fn partition_dir(s: &Stack, db: &str, table: Table, dt: PartitionDate) -> String {
    let location = table
        .def()
        .location(&hive::ddl::database_location(&s.warehouse, db));
    hive::layout::TableLayout::new(&location).partition_dir(dt)
}

/// What partition `dt` of `table` holds: `None` without a directory, else (data files,
/// whether it has `_SUCCESS`).
fn partition(s: &Stack, db: &str, table: Table, dt: PartitionDate) -> Option<(usize, bool)> {
    let dir = partition_dir(s, db, table, dt);
    let files = match block_on(hdfs(s).list_status(&dir, false)) {
        Ok(files) => files,
        Err(e) if not_found(&e) => return None,
        Err(e) => panic!("listing {dir}: {e}"),
    };
    let names: Vec<&str> = files
        .iter()
        .filter(|f| !f.isdir)
        .map(|f| f.path.rsplit('/').next().unwrap())
        .collect();
    let data = names.iter().filter(|n| n.ends_with(".orc")).count();
    Some((data, names.contains(&"_SUCCESS")))
}

/// Every data file of `db` (paths of everything but `_SUCCESS` and temporaries).
fn data_files(s: &Stack, db: &str) -> BTreeSet<String> {
    let root = db_dir(s, db);
    block_on(hdfs(s).list_status(&root, true))
        .unwrap()
        .into_iter()
        .filter(|f| !f.isdir && !f.path.ends_with("/_SUCCESS") && !f.path.contains("/_tmp/"))
        .map(|f| f.path)
        .collect()
}

/// Asserts which tables have `_SUCCESS` in `dt`: `marked` must have the partition, with data
/// and the marker; every other table must have no marker there.
fn assert_marked(s: &Stack, db: &str, dt: PartitionDate, marked: &[Table], what: &str) {
    for table in Table::ALL {
        let p = partition(s, db, table, dt);
        if marked.contains(&table) {
            let (data, success) =
                p.unwrap_or_else(|| panic!("{what}: {}/{dt} does not exist", table.name()));
            assert!(data > 0, "{what}: {}/{dt} holds no data file", table.name());
            assert!(success, "{what}: {}/{dt} has no _SUCCESS", table.name());
        } else {
            assert!(
                !p.is_some_and(|(_, success)| success),
                "{what}: {}/{dt} has _SUCCESS but is not complete",
                table.name()
            );
        }
    }
}

/// How many `_SUCCESS` markers the run wrote (the Hive layer logs each one).
fn markers_written(df: &Dataflow) -> usize {
    std::fs::read_dir(df.dir())
        .unwrap()
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "log"))
        .map(|e| {
            std::fs::read_to_string(e.path())
                .unwrap_or_default()
                .matches("partition marked complete (_SUCCESS)")
                .count()
        })
        .sum()
}

/// Runs a cluster until it stops at its watermark; returns it (exited) for its logs.
fn run(s: &Stack, options: &DataflowOptions, what: &str) -> Dataflow {
    let mut df = Dataflow::start(s, options).unwrap();
    if let Err(e) = df.wait(RUN_TIMEOUT) {
        panic!("{what} ({}): {e:#}", options.shape());
    }
    df
}

#[test]
fn success_markers_follow_complete_days_across_restarts_and_fresh_runs() {
    let s = stack();
    let _claim = s.shared();
    // 6 000 events over 60 s of stream time from 23:59:40 UTC: day D ends 20 s in.
    let sim = Sim {
        seed: 18,
        events: 6_000,
        rate: 100,
        start_ms: start_before_midnight(20_000),
        out_of_order_ms: 1_000,
        late_fraction: 0.03,
        late_by_ms: 8_000,
        no_pacing: true,
    };
    let midnight = sim.start_ms + 20_000;
    let stream = Stream::prefilled(s, "df_days", sim);
    let day = PartitionDate::from_epoch_ms(midnight - 1).unwrap();
    let next_day = PartitionDate::from_epoch_ms(midnight).unwrap();
    let options = |db: &str, stop_at_ms: i64| {
        let mut o = DataflowOptions::new(&stream.topic, db);
        o.window_size = std::time::Duration::from_millis(MINUTE_MS as u64);
        o.window_slide = Some(std::time::Duration::from_millis(SLIDE_MS as u64));
        o.stop_at_watermark_ms = Some(stop_at_ms);
        // Sessions of day D all close 30 s after midnight at the latest, so the day is
        // complete for `sessions` within the stream.
        o.session_gap = Some(std::time::Duration::from_secs(8));
        o.max_session_duration = Some(std::time::Duration::from_secs(30));
        o
    };

    // 1. Stop 10 s after midnight: D is complete for the event tables, not for
    //    page_analytics and visitor_analytics (their last window of D, 23:59:40–00:00:40, is
    //    still open) nor for sessions (one started at 23:59:59 may last until 00:00:29).
    let db = database(s, "df_days");
    let first = run(s, &options(&db, midnight + 10_000), "run to 00:00:10");
    assert!(
        partition(s, &db, Table::PageAnalytics, day).is_some_and(|(data, _)| data > 0),
        "no window of day {day} was written"
    );
    assert_marked(s, &db, day, &EVENT_TABLES, "stopped at 00:00:10");
    assert_marked(s, &db, next_day, &[], "stopped at 00:00:10");
    assert_eq!(markers_written(&first), EVENT_TABLES.len());

    // 2. Restarted from the checkpoint, past every window and session of D: the result
    //    tables of D are complete too, and only their markers are written (the others are
    //    known).
    let stop_at = stream.stop_at_ms(MINUTE_MS, LATENESS_MS);
    assert!(stop_at >= midnight + 40_000);
    let second = run(
        s,
        &options(&db, stop_at),
        "restart to the end of the stream",
    );
    assert_marked(s, &db, day, &Table::ALL, "stopped past the last window");
    assert_marked(s, &db, next_day, &[], "stopped past the last window");
    assert_eq!(
        markers_written(&second),
        Table::ALL.len() - EVENT_TABLES.len(),
        "markers written again"
    );

    // 3. A crash between checkpoint and marker: the markers of D are gone; a restart from the
    //    checkpoint with nothing to read writes them again, and nothing else.
    let files_before = data_files(s, &db);
    for table in Table::ALL {
        let marker = format!("{}/_SUCCESS", partition_dir(s, &db, table, day));
        assert!(
            block_on(hdfs(s).delete(&marker, false)).unwrap(),
            "{marker}"
        );
    }
    assert_marked(s, &db, day, &[], "markers deleted");
    let third = run(s, &options(&db, stop_at), "restart with nothing to do");
    assert_marked(
        s,
        &db,
        day,
        &Table::ALL,
        "restart after the markers were lost",
    );
    assert_marked(s, &db, next_day, &[], "restart after the markers were lost");
    assert_eq!(markers_written(&third), Table::ALL.len());
    assert_eq!(
        data_files(s, &db),
        files_before,
        "the restart wrote or deleted data"
    );

    // 4. A fresh run (new database and checkpoint) over the complete day marks it.
    let fresh_db = database(s, "df_days_fresh");
    run(s, &options(&fresh_db, stop_at).cluster(2, 1), "fresh run");
    assert_marked(s, &fresh_db, day, &Table::ALL, "fresh run");
    assert_marked(s, &fresh_db, next_day, &[], "fresh run");

    block_on(cleanup(s, &db)).unwrap();
    block_on(cleanup(s, &fresh_db)).unwrap();
    stream.remove_log();
}
