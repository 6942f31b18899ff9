//! End to end (issue 7): the whole product against the real stack, read back through Hive SQL.
//!
//! - **Acceptance.** A seeded producer run with out-of-order and late events (plus hand-made
//!   invalid records) goes through the archiver and a 2-process × 2-worker dataflow cluster.
//!   The seed's two sample queries and `COUNT(*)` of every table — the four dataflow tables and
//!   the archive's `raw_web_events_json` — equal ground truth recomputed in this test from the
//!   producer's `--log` and the records the test produced itself. And for every
//!   `(page_url, event_type)`, the `event_count` summed over `page_analytics` plus the late
//!   events equals the rows in `raw_web_events`.
//! - **Real browsers, resends and wrong clocks.** Headless Chromium loads a page with the
//!   collector's snippet three times — plainly, losing its first beacon response (so the page
//!   re-sends that beacon with the same `event_id`), and with its clock 3 days ahead — and two
//!   beacons dated 2038 and one day ahead are posted by hand. Everything goes through
//!   `wa-producer serve`, Kafka, the archiver and the dataflow: each event is in
//!   `raw_web_events` once (the re-sent one too), the 3-days-ahead events carry corrected
//!   times and their `clock_skew_ms`, `page_analytics` counts each once, the far-future
//!   beacons are in `rejected_web_events` as `event_time_in_future`, and the archive holds
//!   every record of the topic: nothing answered 204 is lost.

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
use wa_tests::oracle::{Expected, OracleConfig, Tables};
use wa_tests::{binary, stack};

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

/// One visit of headless Chromium to `page_url` (a page with the collector's snippet) with
/// `beacon.mjs` options; returns the wall clock (UTC epoch ms) before and after it.
fn visit(browser_dir: &Path, page_url: &str, options: &[&str]) -> (i64, i64) {
    let began = now_ms();
    let output = Command::new("node")
        .arg(browser_dir.join("beacon.mjs"))
        .arg(page_url)
        .args(options)
        .output()
        .expect("running node (install nodejs)");
    assert!(
        output.status.success(),
        "beacon.mjs {options:?} failed: {}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    (began, now_ms())
}

/// `yyyy-MM-dd HH:mm:ss[.fff]` (UTC, as Hive prints a TIMESTAMP) in UTC epoch ms.
fn hive_time_ms(ts: &str) -> i64 {
    chrono::NaiveDateTime::parse_from_str(ts, "%Y-%m-%d %H:%M:%S%.f")
        .unwrap_or_else(|e| panic!("{ts}: {e}"))
        .and_utc()
        .timestamp_millis()
}

#[test]
fn real_browsers_resends_and_wrong_clocks_land_once_in_the_right_tables() {
    let browser_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("browser");
    assert!(
        browser_dir.join("node_modules/playwright-core").is_dir(),
        "playwright-core is not installed: run `npm ci --prefix tests/browser` \
         (and `apt-get install chromium` for /usr/bin/chromium)"
    );
    let s = stack();
    let _claim = s.shared();
    // The archiver and the dataflow share one topic and one database.
    let archive = block_on(archiver_support::Setup::new(s, "e2e_browser", 2));
    let (topic, database) = (archive.topic.clone(), archive.database.clone());
    init_database(s, &database).unwrap();
    let archiver = archive.start(s);

    let runtime = tokio::runtime::Runtime::new().unwrap();
    // The collector.
    let port = archiver_support::free_port();
    let collector_base = format!("http://127.0.0.1:{port}");
    let mut collector = Background::spawn(
        Command::new(binary("wa-producer").unwrap())
            .args([
                "serve",
                "--kafka-brokers",
                &s.kafka_brokers,
                "--topic",
                &topic,
            ])
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .args(["--metrics-addr", "127.0.0.1:0"])
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

    // Beacons from clocks far ahead (2038, and one day): accepted with 204, as a collector
    // cannot judge a clock; the dataflow rejects them.
    let client = reqwest::Client::new();
    let tomorrow = chrono::DateTime::from_timestamp_millis(now_ms() + 86_400_000)
        .unwrap()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let future = [
        ("e2e-future-2038", "2038-01-19T03:14:08Z".to_owned()),
        ("e2e-future-1d", tomorrow),
    ];
    for (id, time) in &future {
        let body = format!(
            r#"{{"event_id":"{id}","user_id":"u-future","session_id":"s-future","event_type":"page_view","page_url":"/future","event_time":"{time}"}}"#
        );
        let status = runtime
            .block_on(
                client
                    .post(format!("{collector_base}/collect"))
                    .body(body)
                    .send(),
            )
            .unwrap()
            .status();
        assert_eq!(status.as_u16(), 204, "beacon dated {time}");
    }

    // Three visits to a page on another origin with the collector's snippet (the test site
    // serves it at any path, and the path names the visit): a plain one, one whose first
    // beacon response is lost (collect.js re-sends it with its event_id), and one from a
    // device whose clock runs 3 days ahead.
    const AHEAD_MS: i64 = 3 * 86_400_000;
    let page = format!(
        "<!doctype html><html><head><title>shop</title>\
         <script src=\"{collector_base}/collect.js\" async></script></head>\
         <body><button id=\"buy\">Buy</button><div style=\"height:6000px\"></div></body></html>"
    );
    let site = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let site_base = format!("http://{}", site.local_addr().unwrap());
    let server = runtime.spawn(wa_tests::web::serve_page(site, page));
    visit(&browser_dir, &format!("{site_base}/shop"), &[]);
    visit(
        &browser_dir,
        &format!("{site_base}/flaky"),
        &["--lose-first-response"],
    );
    let (ahead_began, ahead_ended) = visit(
        &browser_dir,
        &format!("{site_base}/ahead"),
        &[&format!("--clock-offset-ms={AHEAD_MS}")],
    );
    server.abort();
    let pages = ["/shop", "/flaky", "/ahead"];

    // What the topic holds: every beacon, the re-sent one twice.
    let on_topic: Vec<events::WebEvent> = wa_tests::read_topic(s, &topic)
        .unwrap()
        .iter()
        .map(|r| events::parse(&r.value).unwrap())
        .collect();
    let mut ids: Vec<&str> = on_topic.iter().map(|e| e.event_id.as_str()).collect();
    ids.sort_unstable();
    let records = ids.len();
    ids.dedup();
    assert!(
        ids.len() < records,
        "no event_id reached the topic twice: the lost response was not re-sent ({on_topic:?})"
    );
    assert!(
        future
            .iter()
            .all(|(id, _)| on_topic.iter().any(|e| e.event_id == *id)),
        "a far-future beacon answered 204 is not on the topic"
    );

    // The visits' windows close within window + lateness + idle timeout; allow commits, and
    // the archiver's roll interval.
    let archive_table = format!("{database}.raw_web_events_json");
    let deadline = Instant::now() + Duration::from_secs(120);
    let (tables, archived) = loop {
        df.ensure_running().unwrap();
        let tables = Tables::read(s, &database).unwrap();
        let archived: Vec<(i64, i64)> = s
            .query(&format!(
                "SELECT COUNT(*), COUNT(CASE WHEN line LIKE '%e2e-future-%' THEN 1 END) \
                 FROM {archive_table}"
            ))
            .unwrap()
            .rows_as()
            .unwrap();
        let kinds = |page: &str| {
            let mut k: Vec<&str> = tables
                .page
                .iter()
                .filter(|r| r.page_url == page)
                .map(|r| r.event_type.as_str())
                .collect();
            k.sort_unstable();
            k.dedup();
            k.len()
        };
        let done = pages.iter().all(|p| kinds(p) >= 3)
            && tables.rejected.len() >= future.len()
            && archived[0].0 >= records as i64;
        if done || Instant::now() > deadline {
            break (tables, archived[0]);
        }
        std::thread::sleep(Duration::from_secs(3));
    };
    df.kill().unwrap();
    archiver.stop();
    drop(collector);

    // Nothing answered 204 is lost: every record in the archive, the far-future ones too.
    assert_eq!(
        archived,
        (records as i64, future.len() as i64),
        "{archive_table}: (records, far-future records)"
    );
    // The far-future beacons are rejected, with the reason; nothing else is.
    let mut rejected: Vec<(String, String)> = tables
        .rejected
        .iter()
        .map(|r| {
            let raw = (0..r.raw_value_hex.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&r.raw_value_hex[i..i + 2], 16).unwrap())
                .collect::<Vec<u8>>();
            (events::parse(&raw).unwrap().event_id, r.reason.clone())
        })
        .collect();
    rejected.sort();
    assert_eq!(
        rejected,
        vec![
            (
                "e2e-future-1d".to_owned(),
                "event_time_in_future".to_owned()
            ),
            (
                "e2e-future-2038".to_owned(),
                "event_time_in_future".to_owned()
            ),
        ],
        "rejected_web_events"
    );

    // One row per event: the re-sent beacon once.
    let raw = &tables.raw;
    let mut raw_ids: Vec<&str> = raw.iter().map(|r| r.event_id.as_str()).collect();
    raw_ids.sort_unstable();
    raw_ids.dedup();
    assert_eq!(
        raw_ids.len(),
        raw.len(),
        "raw_web_events holds an event_id twice: {raw:?}"
    );
    assert_eq!(
        raw.len(),
        ids.len() - future.len(),
        "raw_web_events: every distinct event but the far-future ones"
    );
    for page in pages {
        let mut types: Vec<&str> = raw
            .iter()
            .filter(|r| r.page_url == page)
            .map(|r| r.event_type.as_str())
            .collect();
        types.sort_unstable();
        types.dedup();
        assert_eq!(
            types,
            ["click", "page_view", "scroll"],
            "raw_web_events of {page}: {raw:?}"
        );
    }
    assert!(
        raw.iter()
            .all(|r| r.browser.as_deref() == Some("Chrome") && pages.contains(&r.page_url.as_str())),
        "raw_web_events: {raw:?}"
    );
    // The clock 3 days ahead: corrected to the real time, with the correction shown.
    for r in raw.iter().filter(|r| r.page_url == "/ahead") {
        let skew = r
            .clock_skew_ms
            .unwrap_or_else(|| panic!("no clock_skew_ms: {r:?}"));
        assert!(
            (skew + AHEAD_MS).abs() < 60_000,
            "clock_skew_ms {skew} is not about −3 days: {r:?}"
        );
        let t = hive_time_ms(&r.event_time);
        assert!(
            (ahead_began - 60_000..=ahead_ended + 60_000).contains(&t),
            "event_time {} not corrected to the visit's real time: {r:?}",
            r.event_time
        );
    }
    assert!(
        raw.iter()
            .filter(|r| r.page_url != "/ahead")
            .all(|r| r.clock_skew_ms.is_none_or(|skew| skew.abs() < 60_000)),
        "a right clock needs next to no correction: {raw:?}"
    );
    // Every event on time: page_analytics counts each once.
    assert!(tables.late.is_empty(), "late_web_events: {:?}", tables.late);
    let mut counted: BTreeMap<(&str, &str), i64> = BTreeMap::new();
    for p in &tables.page {
        *counted.entry((&p.page_url, &p.event_type)).or_default() += p.event_count;
    }
    let mut in_raw: BTreeMap<(&str, &str), i64> = BTreeMap::new();
    for r in raw {
        *in_raw.entry((&r.page_url, &r.event_type)).or_default() += 1;
    }
    assert_eq!(
        counted, in_raw,
        "page_analytics vs raw_web_events per (page, type)"
    );
    block_on(archive.cleanup(s));
}
