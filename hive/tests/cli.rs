//! `wa-hive` against the real stack: `init` (idempotent), `tables`, `partitions TABLE`,
//! `repair` (adds committed partition directories the metastore lacks) and `ddl`.

#![allow(clippy::unwrap_used)] // a test fails by panicking

use std::process::{Command, Output};
use std::sync::Arc;

use arrow::array::{ArrayRef, Int64Array, StringArray, TimestampMillisecondArray};
use arrow::record_batch::RecordBatch;
use hive::{HiveConfig, HiveTables, PartitionDate, Table};
use wa_tests::{stack, unique_name, Stack};

fn wa_hive(s: &Stack, db: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_wa-hive"))
        .args(args)
        .env("WA_METASTORE_URI", format!("thrift://{}", s.metastore_addr))
        .env("WA_HDFS_URL", &s.hdfs_url)
        .env("WA_WAREHOUSE", format!("/tmp/wa-tests/{db}/warehouse"))
        .env("WA_DATABASE", db)
        .output()
        .expect("running wa-hive")
}

fn ok(out: Output) -> Vec<String> {
    assert!(
        out.status.success(),
        "wa-hive failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

fn page_analytics_batch() -> RecordBatch {
    let ms = 1_796_040_000_000; // 2026-11-30T12:00:00Z
    let columns: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from(vec!["/a", "/b"])),
        Arc::new(StringArray::from(vec!["page_view", "click"])),
        Arc::new(Int64Array::from(vec![5, 7])),
        Arc::new(TimestampMillisecondArray::from(vec![ms, ms])),
        Arc::new(TimestampMillisecondArray::from(vec![
            ms + 60_000,
            ms + 60_000,
        ])),
    ];
    RecordBatch::try_new(Table::PageAnalytics.arrow_schema(), columns).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn init_tables_partitions_repair_and_ddl() {
    let s = stack();
    let _claim = s.shared();
    let db = unique_name("wa_hive_cli");

    let created = ok(wa_hive(s, &db, &["init"]));
    let mut want: Vec<String> = vec![format!("created\t{db}")];
    want.extend(Table::ALL.iter().map(|t| format!("created\t{db}.{t}")));
    assert_eq!(created, want);
    let again = ok(wa_hive(s, &db, &["init"]));
    assert_eq!(
        again,
        want.iter()
            .map(|l| l.replace("created", "exists"))
            .collect::<Vec<_>>()
    );
    assert_eq!(
        ok(wa_hive(s, &db, &["tables"])),
        [
            "late_web_events",
            "page_analytics",
            "raw_web_events",
            "rejected_web_events",
            "sessions",
            "visitor_analytics"
        ]
    );
    assert!(ok(wa_hive(s, &db, &["partitions", "page_analytics"])).is_empty());

    // Commit a file through the library, then copy it into a partition the metastore lacks.
    let config = HiveConfig {
        metastore_uri: format!("thrift://{}", s.metastore_addr),
        hdfs_url: s.hdfs_url.clone(),
        warehouse: format!("/tmp/wa-tests/{db}/warehouse"),
        database: db.clone(),
        ..HiveConfig::default()
    };
    let tables = HiveTables::connect(config).await.unwrap();
    let dt: PartitionDate = "2026-11-30".parse().unwrap();
    let file = tables
        .commit_file(Table::PageAnalytics, dt, "p.orc", &[page_analytics_batch()])
        .await
        .unwrap();
    assert_eq!(
        ok(wa_hive(s, &db, &["partitions", "page_analytics"])),
        ["dt=2026-11-30"]
    );
    let hdfs = hdfs_native::ClientBuilder::new()
        .with_url(&s.hdfs_url)
        .build()
        .unwrap();
    let src = hdfs.read(hive::layout::url_path(&file.url)).await.unwrap();
    let data = src.read_range(0, src.file_length()).await.unwrap();
    let lost = format!("/tmp/wa-tests/{db}/warehouse/{db}.db/page_analytics/dt=2026-12-01/p.orc");
    let mut w = hdfs
        .create(&lost, hdfs_native::WriteOptions::default())
        .await
        .unwrap();
    w.write_bytes(data).await.unwrap();
    w.close().await.unwrap();

    // Temporary files of crashed writers: one two days old (removed), one fresh (kept: a
    // writer may still be busy with it).
    let tmp = format!("/tmp/wa-tests/{db}/warehouse/{db}.db/page_analytics/_tmp/dt=2026-12-01");
    let two_days_ago_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
        - 2 * 86_400_000;
    for name in ["old.orc.a.inprogress", "new.orc.b.inprogress"] {
        let path = format!("{tmp}/{name}");
        let mut w = hdfs
            .create(&path, hdfs_native::WriteOptions::default())
            .await
            .unwrap();
        w.close().await.unwrap();
        if name.starts_with("old") {
            hdfs.set_times(&path, two_days_ago_ms, two_days_ago_ms)
                .await
                .unwrap();
        }
    }

    assert_eq!(
        ok(wa_hive(s, &db, &["repair"])),
        [
            format!("added\t{db}.page_analytics\tdt=2026-12-01"),
            "1 partition(s) added".to_string(),
            format!("removed\t{tmp}/old.orc.a.inprogress"),
            "1 stale temporary file(s) removed".to_string(),
        ]
    );
    assert_eq!(
        ok(wa_hive(s, &db, &["repair"])),
        ["0 partition(s) added", "0 stale temporary file(s) removed"]
    );
    assert!(hdfs
        .get_file_info(&format!("{tmp}/new.orc.b.inprogress"))
        .await
        .is_ok());
    assert_eq!(
        ok(wa_hive(s, &db, &["partitions", "page_analytics"])),
        ["dt=2026-11-30", "dt=2026-12-01"]
    );
    let missing = wa_hive(s, &db, &["partitions", "no_such_table"]);
    assert!(
        !missing.status.success(),
        "listing a missing table succeeded"
    );

    let ddl = ok(wa_hive(s, &db, &["ddl"])).join("\n");
    assert!(
        ddl.contains(&format!(
            "CREATE EXTERNAL TABLE IF NOT EXISTS {db}.page_analytics ("
        )),
        "{ddl}"
    );
    let location = format!(
        "LOCATION '{}/tmp/wa-tests/{db}/warehouse/{db}.db/page_analytics'",
        s.hdfs_url
    );
    assert!(ddl.contains(&location), "{ddl}");
    assert!(!ddl.contains("${"), "{ddl}");

    s.hive_sql(&[&format!("DROP DATABASE IF EXISTS {db} CASCADE")])
        .unwrap();
    hdfs.delete(&format!("/tmp/wa-tests/{db}"), true)
        .await
        .unwrap();
}
