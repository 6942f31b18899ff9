//! End to end (issue 7): the whole product against the real stack, read back through Hive SQL.
//!
//! - **Acceptance.** A seeded producer run with out-of-order and late events (plus hand-made
//!   invalid records) goes through the archiver and a 2-process × 2-worker dataflow cluster.
//!   The seed's two sample queries and `COUNT(*)` of every table — the four dataflow tables and
//!   the archive's `raw_web_events_json` — equal ground truth recomputed in this test from the
//!   producer's `--log` and the records the test produced itself. And for every
//!   `(page_url, event_type)`, the `event_count` summed over `page_analytics` plus the late
//!   events equals the rows in `raw_web_events`.
//! - **A real browser.** Headless Chromium loads a page with the collector's snippet; its
//!   beacons go through `wa-producer serve`, Kafka and the dataflow, and show up in
//!   `raw_web_events` and `page_analytics`.

#![allow(clippy::unwrap_used)] // a test fails by panicking

#[path = "archiver/support.rs"]
#[allow(dead_code)]
mod archiver_support;
#[path = "dataflow/support.rs"]
#[allow(dead_code)]
mod support;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::*;
use wa_tests::dataflow::{init_database, Dataflow, DataflowOptions};
use wa_tests::oracle::{Expected, OracleConfig};
use wa_tests::{binary, create_topic, stack, unique_name};

const MINUTE_MS: i64 = 60_000;
const LATENESS_MS: i64 = 3_000;

#[test]
fn acceptance_seed_queries_and_every_count_equal_ground_truth() {
    let s = stack();
    let _claim = s.shared();
    let sim = Sim {
        seed: 7_070,
        events: 24_000,
        rate: 100,
        start_ms: start_before_midnight(150_000),
        out_of_order_ms: 1_500,
        late_fraction: 0.02,
        late_by_ms: 12_000,
        no_pacing: true,
    };
    let stream = Stream::prefilled(s, "e2e", sim);
    let expected = Expected::compute(
        &stream.layout,
        &OracleConfig::tumbling(MINUTE_MS, LATENESS_MS),
    );
    let truth = &expected.tables;
    assert!(
        truth.late.len() > 100 && truth.rejected.len() >= 10 && truth.page.len() > 100,
        "{}",
        truth.summary()
    );

    // The archiver and the dataflow share one database: the archive table and our four.
    let setup = block_on(archiver_support::Setup::new(s, "e2e_archive", 1));
    let database = setup.database.clone();
    let archive = archiver_support::Setup {
        topic: stream.topic.clone(),
        ..setup
    };
    init_database(s, &database).unwrap();
    let archiver = archive.start(s);
    let mut options = DataflowOptions::new(&stream.topic, &database).cluster(2, 2);
    options.stop_at_watermark_ms = Some(stream.stop_at_ms(MINUTE_MS, LATENESS_MS));
    let started = Instant::now();
    let mut df = Dataflow::start(s, &options).unwrap();
    df.wait(Duration::from_secs(600))
        .unwrap_or_else(|e| panic!("wa-dataflow 2×2: {e:#}"));
    eprintln!("[e2e] dataflow finished in {:.1?}", started.elapsed());
    // The archiver rolls a file every 2 s; wait until the archive holds every record.
    let records = stream.layout.records().len() as i64;
    let archive_table = format!("{database}.raw_web_events_json");
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let n: Vec<(i64,)> = s
            .query(&format!("SELECT COUNT(*) FROM {archive_table}"))
            .unwrap()
            .rows_as()
            .unwrap();
        if n[0].0 >= records || Instant::now() > deadline {
            break;
        }
        std::thread::sleep(Duration::from_secs(2));
    }
    archiver.stop();

    // Ground truth from the producer's log and the hand-made records.
    let mut views: BTreeMap<String, i64> = BTreeMap::new();
    for r in truth.raw.iter().filter(|r| r.event_type == "page_view") {
        *views.entry(r.page_url.clone()).or_default() += 1;
    }
    let mut per_minute: BTreeMap<String, i64> = BTreeMap::new();
    for p in &truth.page {
        *per_minute.entry(p.window_start.clone()).or_default() += p.event_count;
    }

    // The seed's first sample query, as written in its design document (in our database).
    let most_viewed: Vec<(String, i64)> = s
        .query(&format!(
            "SELECT page_url, COUNT(*) AS views FROM {database}.raw_web_events \
             WHERE event_type = 'page_view' GROUP BY page_url ORDER BY views DESC"
        ))
        .unwrap()
        .rows_as()
        .unwrap();
    assert!(
        most_viewed.windows(2).all(|w| w[0].1 >= w[1].1),
        "not ordered by views: {most_viewed:?}"
    );
    let got: BTreeMap<String, i64> = most_viewed.into_iter().collect();
    assert_eq!(
        got, views,
        "most viewed pages differ from the producer's log"
    );

    // The seed's second sample query.
    let events_per_minute: Vec<(String, i64)> = s
        .query(&format!(
            "SELECT window_start, SUM(event_count) FROM {database}.page_analytics \
             GROUP BY window_start ORDER BY window_start"
        ))
        .unwrap()
        .rows_as()
        .unwrap();
    let want: Vec<(String, i64)> = per_minute.into_iter().collect();
    assert_eq!(
        events_per_minute, want,
        "events per minute differ from the producer's log"
    );

    // COUNT(*) of every table.
    let counts: Vec<(i64, i64, i64, i64, i64)> = s
        .query(&format!(
            "SELECT (SELECT COUNT(*) FROM {database}.raw_web_events), \
                    (SELECT COUNT(*) FROM {database}.page_analytics), \
                    (SELECT COUNT(*) FROM {database}.late_web_events), \
                    (SELECT COUNT(*) FROM {database}.rejected_web_events), \
                    (SELECT COUNT(*) FROM {archive_table})"
        ))
        .unwrap()
        .rows_as()
        .unwrap();
    assert_eq!(
        counts[0],
        (
            truth.raw.len() as i64,
            truth.page.len() as i64,
            truth.late.len() as i64,
            truth.rejected.len() as i64,
            records,
        ),
        "COUNT(*) of raw, page_analytics, late, rejected, archive"
    );

    // Per (page_url, event_type): counted + late = raw, entirely inside Hive.
    let mismatches: Vec<(String, String, i64, i64, i64)> = s
        .query(&format!(
            "SELECT r.page_url, r.event_type, r.n, COALESCE(p.n, 0), COALESCE(l.n, 0) \
             FROM (SELECT page_url, event_type, COUNT(*) AS n FROM {database}.raw_web_events \
                   GROUP BY page_url, event_type) r \
             LEFT JOIN (SELECT page_url, event_type, SUM(event_count) AS n \
                        FROM {database}.page_analytics GROUP BY page_url, event_type) p \
               ON r.page_url = p.page_url AND r.event_type = p.event_type \
             LEFT JOIN (SELECT page_url, event_type, COUNT(*) AS n \
                        FROM {database}.late_web_events GROUP BY page_url, event_type) l \
               ON r.page_url = l.page_url AND r.event_type = l.event_type \
             WHERE r.n <> COALESCE(p.n, 0) + COALESCE(l.n, 0)"
        ))
        .unwrap()
        .rows_as()
        .unwrap();
    assert!(
        mismatches.is_empty(),
        "page_analytics + late ≠ raw for: {mismatches:?}"
    );
    stream.remove_log();
}

#[test]
fn a_real_browser_shows_up_in_raw_web_events_and_page_analytics() {
    let browser_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("browser");
    assert!(
        browser_dir.join("node_modules/playwright-core").is_dir(),
        "playwright-core is not installed: run `npm ci --prefix tests/browser` \
         (and `apt-get install chromium` for /usr/bin/chromium)"
    );
    let s = stack();
    let _claim = s.shared();
    let topic = unique_name("e2e_browser");
    block_on(create_topic(s, &topic, 2)).unwrap();
    let database = unique_name("e2e_browser");
    init_database(s, &database).unwrap();

    let runtime = tokio::runtime::Runtime::new().unwrap();
    // The collector.
    let port = archiver_support::free_port();
    let collector_base = format!("http://127.0.0.1:{port}");
    let mut collector = Background::spawn(
        Command::new(binary("wa-producer").unwrap())
            .args(["serve", "--brokers", &s.kafka_brokers, "--topic", &topic])
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .stdout(Stdio::null()),
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while runtime
        .block_on(reqwest::get(format!("{collector_base}/health")))
        .is_err()
    {
        collector.assert_running("wa-producer serve");
        assert!(
            Instant::now() < deadline,
            "collector not healthy after 30 s"
        );
        std::thread::sleep(Duration::from_millis(100));
    }

    // The dataflow, live: 10-second windows, so they close soon after the beacons.
    let mut options = DataflowOptions::new(&topic, &database);
    options.window_size = Duration::from_secs(10);
    options.max_out_of_orderness = Duration::from_secs(1);
    options.idle_timeout = Duration::from_secs(2);
    let mut df = Dataflow::start(s, &options).unwrap();

    // A page on another origin, with the collector's snippet, visited by Chromium.
    let page = format!(
        "<!doctype html><html><head><title>shop</title>\
         <script src=\"{collector_base}/collect.js\" async></script></head>\
         <body><button id=\"buy\">Buy</button><div style=\"height:6000px\"></div></body></html>"
    );
    let site = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let page_url = format!("http://{}/shop", site.local_addr().unwrap());
    let server = runtime.spawn(wa_tests::web::serve_page(site, page));
    let output = Command::new("node")
        .arg(browser_dir.join("beacon.mjs"))
        .arg(&page_url)
        .output()
        .expect("running node (install nodejs)");
    server.abort();
    assert!(
        output.status.success(),
        "beacon.mjs failed: {}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );

    // The beacons' windows close within window + lateness + idle timeout; allow commits.
    let deadline = Instant::now() + Duration::from_secs(90);
    let (raw, counted) = loop {
        df.ensure_running().unwrap();
        let raw: Vec<(String, String, String)> = s
            .query(&format!(
                "SELECT event_type, page_url, browser FROM {database}.raw_web_events"
            ))
            .unwrap()
            .rows_as()
            .unwrap();
        let counted: Vec<(String, i64)> = s
            .query(&format!(
                "SELECT event_type, SUM(event_count) FROM {database}.page_analytics \
                 WHERE page_url = '/shop' GROUP BY event_type"
            ))
            .unwrap()
            .rows_as()
            .unwrap();
        let kinds = |v: &[(String, i64)]| v.iter().map(|(k, _)| k.clone()).collect::<Vec<_>>();
        if kinds(&counted).len() >= 3 || Instant::now() > deadline {
            break (raw, counted);
        }
        std::thread::sleep(Duration::from_secs(3));
    };
    df.kill().unwrap();
    drop(collector);

    let mut types: Vec<&str> = raw.iter().map(|(k, _, _)| k.as_str()).collect();
    types.sort_unstable();
    types.dedup();
    assert_eq!(
        types,
        ["click", "page_view", "scroll"],
        "raw_web_events: {raw:?}"
    );
    assert!(
        raw.iter()
            .all(|(_, page, browser)| page == "/shop" && browser == "Chrome"),
        "raw_web_events: {raw:?}"
    );
    let counted: BTreeMap<String, i64> = counted.into_iter().collect();
    for kind in ["click", "page_view", "scroll"] {
        let in_raw = raw.iter().filter(|(k, _, _)| k == kind).count() as i64;
        assert_eq!(
            counted.get(kind).copied(),
            Some(in_raw),
            "page_analytics count of {kind} (raw: {raw:?})"
        );
    }
}
