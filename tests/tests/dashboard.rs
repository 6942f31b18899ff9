//! The dashboard page (`dashboard/assets/`, served by `wa-dashboard`) in headless Chromium,
//! against the real pipeline, read back through Hive SQL.
//!
//! - **The page shows the tables' numbers.** One seeded live run (`wa-producer simulate`,
//!   paced at the wall clock, 10-second windows, a 10-second session gap, a stop watermark)
//!   goes through a 1-process dataflow cluster that publishes the results feed, and
//!   `wa-dashboard` reads that feed and the process's `/metrics`. The page is open in two
//!   browsers, a laptop (1280×800) and a phone (390×844), from before the first event to after
//!   the stop (`tests/browser/dashboard.mjs`). Every window row either page ever showed equals
//!   the `visitor_analytics` site row (`page_url IS NULL`) through Hive SQL, and after the stop
//!   the rows are exactly those of the table; top pages equal the SQL of the page's hour, and
//!   sessions and bounces equal `sessions` of its range (those the run made final: closed in
//!   a one-minute close bucket ending by the stop). The phone page does not scroll
//!   sideways; every request goes to the dashboard's origin (any other is aborted, so no
//!   internet is needed); no console error or warning, page error or failed request.
//!   Screenshots of both sizes are saved under `$CARGO_TARGET_TMPDIR/dashboard/` and their
//!   paths printed.
//! - **Live, without a reload.** In the same run, each window published while the page was
//!   open appears as a row at most 5 s after its feed record's `wa-committed-at` (the wall
//!   clock of the checkpoint that made it final; the test reads the feed topic itself), and
//!   the page's load id, set once at load, never changes.
//! - **Vendored uPlot.** `third_party/uplot/` holds the npm release byte for byte: the files
//!   equal `tests/browser/node_modules/uplot/` (installed by `npm ci` against the lockfile's
//!   integrity).
//!
//! The two browser tests share the one run (it takes about two minutes); whichever test comes
//! first starts it, the other waits for its observations.

#![allow(clippy::unwrap_used)] // a test fails by panicking

#[path = "dataflow/support.rs"]
#[allow(dead_code)]
mod support;

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde::Deserialize;
use support::{now_ms, Background, Sim, Stream};
use wa_tests::dataflow::{init_database, Dataflow, DataflowOptions};
use wa_tests::oracle::sql_timestamp;
use wa_tests::{binary, free_port, stack, Stack};

/// Window size of the run (short, so windows close every few seconds).
const WINDOW_MS: i64 = 10_000;
/// `--max-out-of-orderness` of the run.
const LATENESS_MS: i64 = 3_000;
/// Seconds of paced stream time the simulation produces.
const STREAM_SECS: u64 = 60;
/// `--session-gap` of the run.
const SESSION_GAP_MS: i64 = 10_000;
/// Events per second.
const RATE: u64 = 40;
/// The longest a final window may take from its checkpoint to a row on the page.
const LIVE_WITHIN_MS: i64 = 5_000;

fn browser_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("browser")
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

#[test]
fn vendored_uplot_is_the_npm_release() {
    let package = browser_dir().join("node_modules/uplot");
    assert!(
        package.join("package.json").is_file(),
        "{} is missing: run `npm ci --prefix tests/browser` (it installs the uplot release \
         pinned with its integrity in tests/browser/package-lock.json)",
        package.display()
    );
    let vendored = workspace().join("third_party/uplot");
    for (ours, theirs) in [
        ("uPlot.iife.min.js", "dist/uPlot.iife.min.js"),
        ("uPlot.min.css", "dist/uPlot.min.css"),
        ("LICENSE", "LICENSE"),
    ] {
        let a = std::fs::read(vendored.join(ours)).unwrap();
        let b = std::fs::read(package.join(theirs)).unwrap();
        assert!(
            a == b,
            "third_party/uplot/{ours} ({} bytes) differs from the npm release's {theirs} \
             ({} bytes): copy it again (third_party/uplot/VENDOR.md)",
            a.len(),
            b.len()
        );
    }
    // The release installed is the one package.json pins and VENDOR.md records.
    let installed: serde_json::Value =
        serde_json::from_slice(&std::fs::read(package.join("package.json")).unwrap()).unwrap();
    let pinned: serde_json::Value =
        serde_json::from_slice(&std::fs::read(browser_dir().join("package.json")).unwrap())
            .unwrap();
    let version = installed["version"].as_str().unwrap();
    assert_eq!(
        pinned["dependencies"]["uplot"].as_str(),
        Some(version),
        "tests/browser/package.json must pin the exact uplot version installed \
         (run `npm ci --prefix tests/browser`)"
    );
    let vendor_md = std::fs::read_to_string(vendored.join("VENDOR.md")).unwrap();
    assert!(
        vendor_md.contains(&format!("uplot-{version}.tgz")),
        "third_party/uplot/VENDOR.md does not name the tarball of uplot {version}"
    );
}

#[test]
fn dashboard_shows_the_tables_numbers() {
    let run = observed();
    let mut failures = Vec::new();

    // Every window row a page ever showed equals the table's site row; the rows never change.
    let table: BTreeMap<String, (i64, i64, String)> = run
        .sql_windows
        .iter()
        .map(|w| {
            (
                w.window_start.clone(),
                (w.events, w.unique_visitors, w.window_end.clone()),
            )
        })
        .collect();
    assert!(
        table.len() >= 5,
        "the run wrote only {} visitor_analytics site rows: {:?}",
        table.len(),
        run.sql_windows
    );
    let mut rows_seen = 0;
    for state in run.states.iter().chain([&run.last]) {
        for (size, page) in &state.pages {
            for row in &page.windows {
                rows_seen += 1;
                let start = sql_time(&row.window_start);
                match table.get(&start) {
                    Some((events, visitors, end))
                        if *events == row.events
                            && *visitors == row.visitors
                            && *end == sql_time(&row.window_end) => {}
                    want => failures.push(format!(
                        "{size}: row {row:?} but visitor_analytics has {want:?}"
                    )),
                }
            }
        }
    }
    assert!(rows_seen > 0, "no page ever showed a window row");
    // After the stop, each page shows exactly the table's windows, newest first.
    let want: Vec<String> = table.keys().rev().cloned().collect();
    for (size, page) in &run.last.pages {
        let got: Vec<String> = page
            .windows
            .iter()
            .map(|r| sql_time(&r.window_start))
            .collect();
        if got != want {
            failures.push(format!(
                "{size}: after the stop the page shows windows {got:?}, the table has {want:?}"
            ));
        }
    }

    // Top pages of the page's hour equal the SQL of that hour.
    for (size, page) in &run.last.pages {
        let got: Vec<(String, i64)> = page
            .top_pages
            .pages
            .iter()
            .map(|p| (p.page_url.clone(), p.page_views))
            .collect();
        if got != run.sql_top_pages {
            failures.push(format!(
                "{size}: top pages {got:?}, Hive SQL of the hour {:?}",
                run.sql_top_pages
            ));
        }
    }
    assert!(
        !run.sql_top_pages.is_empty(),
        "no page view in the hour: nothing to compare"
    );

    // Sessions and bounces equal the `sessions` rows of the page's range.
    let (count, bounces) = run.sql_sessions;
    assert!(count > 0, "no session closed during the run");
    for (size, page) in &run.last.pages {
        match &page.sessions {
            Some(s) if s.count == count && s.bounces == bounces => {
                let rate = s.bounce_rate.unwrap();
                let want = bounces as f64 / count as f64;
                if (rate - want).abs() > 1e-9 {
                    failures.push(format!("{size}: bounce rate {rate}, want {want}"));
                }
            }
            other => failures.push(format!(
                "{size}: sessions {other:?}, the table has {count} sessions, {bounces} bounces"
            )),
        }
    }

    // No sideways scrolling on the phone.
    for state in run.states.iter().chain([&run.last]) {
        let phone = &state.pages["phone"];
        if phone.scroll_width > phone.client_width {
            failures.push(format!(
                "phone: the page is {} px wide in a {} px viewport",
                phone.scroll_width, phone.client_width
            ));
            break;
        }
    }

    // Nothing that must not happen in normal operation.
    failures.extend(run.problems.iter().cloned());
    for path in &run.screenshots {
        eprintln!("[dashboard] screenshot: {}", path.display());
    }
    assert!(
        failures.is_empty(),
        "{} failure(s):\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn new_window_appears_within_5s_without_reload() {
    let run = observed();
    let mut failures = Vec::new();
    for (size, page) in &run.last.pages {
        let first = &run.first.pages[size].load_id;
        if first.is_none() || page.load_id != *first {
            failures.push(format!(
                "{size}: load id {first:?} at the start, {:?} at the end: the page reloaded",
                page.load_id
            ));
        }
    }

    // Windows made final while the pages were open and showing the live stream.
    let open_from = run.ready_ms;
    let live: Vec<(&String, &i64)> = run
        .committed_at
        .iter()
        .filter(|(_, &at)| at > open_from)
        .collect();
    assert!(
        live.len() >= 3,
        "only {} window(s) were made final while the page was open (committed at {:?}, page \
         open from {open_from})",
        live.len(),
        run.committed_at
    );
    for (size, page) in &run.last.pages {
        let shown: BTreeMap<String, i64> = page
            .windows
            .iter()
            .map(|r| (sql_time(&r.window_start), r.inserted_at))
            .collect();
        for (start, &committed) in &live {
            match shown.get(*start) {
                None => failures.push(format!("{size}: window {start} never appeared")),
                Some(&inserted) => {
                    let delay = inserted - committed;
                    eprintln!(
                        "[dashboard] {size}: window {start} shown {delay} ms after its checkpoint"
                    );
                    if !(0..=LIVE_WITHIN_MS).contains(&delay) {
                        failures.push(format!(
                            "{size}: window {start} appeared {delay} ms after its feed record's \
                             wa-committed-at (want 0..={LIVE_WITHIN_MS})"
                        ));
                    }
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} failure(s):\n{}",
        failures.len(),
        failures.join("\n")
    );
}

// ---- the shared run -------------------------------------------------------------------------

/// What one live run showed, and what the tables and the feed hold afterwards.
#[derive(Debug)]
struct Observed {
    /// Wall clock (epoch ms) when both pages showed their first snapshot.
    ready_ms: i64,
    /// The pages right after they opened.
    first: State,
    /// The pages every second while the dataflow ran.
    states: Vec<State>,
    /// The pages after the stop, once they show the last window.
    last: State,
    /// Everything the browser reported that must not happen.
    problems: Vec<String>,
    /// Full-page screenshots, laptop and phone.
    screenshots: Vec<PathBuf>,
    /// `visitor_analytics` site rows, through Hive SQL.
    sql_windows: Vec<SqlWindow>,
    /// Top 10 `(page_url, page views)` of the hour the pages show, through Hive SQL.
    sql_top_pages: Vec<(String, i64)>,
    /// `(sessions, bounces)` with `session_start` in the range the pages show.
    sql_sessions: (i64, i64),
    /// Per site window (`window_start` as Hive SQL prints it): the earliest `wa-committed-at`
    /// of its feed record, epoch ms.
    committed_at: BTreeMap<String, i64>,
}

#[derive(Debug, Clone, Deserialize)]
struct State {
    pages: BTreeMap<String, PageState>,
}

#[derive(Debug, Clone, Deserialize)]
struct PageState {
    load_id: Option<String>,
    scroll_width: i64,
    client_width: i64,
    windows: Vec<RowState>,
    top_pages: TopPages,
    sessions: Option<Sessions>,
}

#[derive(Debug, Clone, Deserialize)]
#[allow(dead_code)] // read through Debug in failure messages
struct RowState {
    window_start: String,
    window_end: String,
    events: i64,
    visitors: i64,
    inserted_at: i64,
}

#[derive(Debug, Clone, Deserialize)]
struct TopPages {
    hour_start: Option<String>,
    hour_end: Option<String>,
    pages: Vec<PageViews>,
}

#[derive(Debug, Clone, Deserialize)]
struct PageViews {
    page_url: String,
    page_views: i64,
}

#[derive(Debug, Clone, Deserialize)]
struct Sessions {
    count: i64,
    bounces: i64,
    bounce_rate: Option<f64>,
    since: String,
    until: String,
}

#[derive(Debug, Clone, Deserialize)]
struct SqlWindow {
    window_start: String,
    window_end: String,
    events: i64,
    unique_visitors: i64,
}

/// The shared run, started by the first test that asks.
fn observed() -> &'static Observed {
    static RUN: OnceLock<Observed> = OnceLock::new();
    RUN.get_or_init(live_run)
}

/// RFC 3339 as the page holds it (`2026-12-07T06:40:10.000Z`) → Hive SQL's
/// `2026-12-07 06:40:10.000`.
fn sql_time(rfc3339: &str) -> String {
    let t = chrono::DateTime::parse_from_rfc3339(rfc3339)
        .unwrap_or_else(|e| panic!("{rfc3339:?} is not RFC 3339: {e}"));
    sql_timestamp(t.timestamp_millis())
}

fn live_run() -> Observed {
    let s = stack();
    let _claim = s.shared();
    let sim = Sim {
        seed: 90_210,
        events: STREAM_SECS * RATE,
        rate: RATE,
        start_ms: 0, // set when the producer starts: the stream is paced from then
        out_of_order_ms: 1_000,
        late_fraction: 0.01,
        late_by_ms: 20_000,
        no_pacing: false,
    };
    let mut stream = Stream::create(s, "dashboard", sim);
    let results_topic = format!("{}_results", stream.topic);
    let database = stream.topic.clone();
    init_database(s, &database).unwrap();

    // The stop watermark is past the last window of a stream starting within 20 s.
    stream.sim.start_ms = now_ms() + 20_000;
    let mut options = DataflowOptions::new(&stream.topic, &database);
    options.window_size = Duration::from_millis(WINDOW_MS as u64);
    options.max_out_of_orderness = Duration::from_millis(LATENESS_MS as u64);
    options.session_gap = Some(Duration::from_millis(SESSION_GAP_MS as u64));
    let stop_ms = stream.stop_at_ms(WINDOW_MS, LATENESS_MS);
    options.stop_at_watermark_ms = Some(stop_ms);
    options
        .extra_args
        .extend(["--results-topic".to_owned(), results_topic.clone()]);
    let df = Dataflow::start(s, &options).unwrap();
    let metrics_url = format!("http://127.0.0.1:{}/metrics", df.metrics_port());
    let dashboard = Dashboard::start(s, &results_topic, &metrics_url, &stream.log);

    // Cargo's folder for integration tests' files (`<target>/tmp`), known when this compiles.
    let shots = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("dashboard");
    let mut browser = Browser::open(&dashboard.url, &shots);
    let ready_ms = now_ms();
    let first = browser.state();

    // The stream starts now, paced at the wall clock, so every window closes while we watch.
    let wait = stream.sim.start_ms - now_ms();
    if wait > 0 {
        std::thread::sleep(Duration::from_millis(wait as u64));
    }
    let mut producer = stream.sim.spawn(s, &stream.topic, &stream.log);
    let dataflow = std::thread::spawn(move || {
        let mut df = df;
        df.wait(Duration::from_secs(600)).map(|()| df)
    });
    let mut states = Vec::new();
    while !dataflow.is_finished() {
        std::thread::sleep(Duration::from_secs(1));
        states.push(browser.state());
    }
    let df = dataflow
        .join()
        .unwrap()
        .unwrap_or_else(|e| panic!("wa-dataflow: {e:#}"));
    producer.wait_success("wa-producer simulate");
    drop(df);

    let sql_windows: Vec<SqlWindow> = s
        .query(&format!(
            "SELECT window_start, window_end, events, unique_visitors FROM {database}.visitor_analytics WHERE page_url IS NULL \
             ORDER BY window_start"
        ))
        .unwrap()
        .rows_as::<(String, String, i64, i64)>()
        .unwrap()
        .into_iter()
        .map(|(a, b, events, unique_visitors)| SqlWindow {
            window_start: normalize_sql_time(&a),
            window_end: normalize_sql_time(&b),
            events,
            unique_visitors,
        })
        .collect();

    // The feed drained before the dataflow stopped; the page shows the last window soon after.
    let newest = sql_windows.last().map(|w| w.window_start.clone());
    let deadline = Instant::now() + Duration::from_secs(30);
    let last = loop {
        let state = browser.state();
        let shows_newest = state.pages.values().all(|p| {
            p.windows.first().map(|r| sql_time(&r.window_start)) == newest && p.sessions.is_some()
        });
        if shows_newest || Instant::now() > deadline {
            break state;
        }
        std::thread::sleep(Duration::from_millis(500));
    };
    let screenshots = browser.screenshots("after-stop");
    let problems = browser.close();
    drop(dashboard);

    let top = &last.pages["laptop"].top_pages;
    let sql_top_pages: Vec<(String, i64)> = match (&top.hour_start, &top.hour_end) {
        (Some(from), Some(to)) => s
            .query(&format!(
                "SELECT page_url, SUM(event_count) AS views FROM {database}.page_analytics \
                 WHERE event_type = 'page_view' AND window_start >= TIMESTAMP '{}' \
                 AND window_end <= TIMESTAMP '{}' \
                 GROUP BY page_url ORDER BY views DESC, page_url LIMIT 10",
                sql_time(from),
                sql_time(to)
            ))
            .unwrap()
            .rows_as()
            .unwrap(),
        _ => Vec::new(),
    };
    // The sessions the run made final: those whose one-minute close bucket (the minute of
    // `close_at − 1`, `close_at = session_end + gap + 1` here, far below the maximum duration)
    // ends by the stop. The bucket holding the stop is in the table but is written again by
    // the next run, so the feed leaves it to that run.
    let sql_sessions = match &last.pages["laptop"].sessions {
        Some(range) => {
            let rows: Vec<(String, i64)> = s
                .query(&format!(
                    "SELECT CAST(session_end AS STRING), CASE WHEN is_bounce THEN 1 ELSE 0 END \
                     FROM {database}.sessions \
                     WHERE session_start > TIMESTAMP '{}' AND session_start <= TIMESTAMP '{}'",
                    sql_time(&range.since),
                    sql_time(&range.until)
                ))
                .unwrap()
                .rows_as()
                .unwrap();
            let last_ms = |text: &str| {
                chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f")
                    .unwrap_or_else(|e| panic!("session_end {text:?}: {e}"))
                    .and_utc()
                    .timestamp_millis()
            };
            let closed: Vec<i64> = rows
                .iter()
                .filter(|(end, _)| {
                    let close_at = last_ms(end) + SESSION_GAP_MS + 1;
                    (close_at - 1).div_euclid(60_000) * 60_000 + 60_000 <= stop_ms
                })
                .map(|(_, bounce)| *bounce)
                .collect();
            (closed.len() as i64, closed.iter().sum())
        }
        None => (0, 0),
    };
    let committed_at = site_windows_committed_at(s, &results_topic);
    stream.remove_log();
    Observed {
        ready_ms,
        first,
        states,
        last,
        problems,
        screenshots,
        sql_windows,
        sql_top_pages,
        sql_sessions,
        committed_at,
    }
}

/// A timestamp as `stack sql` prints it (`2026-12-07 06:40:10.000`, finer digits kept) → the
/// millisecond form of [`sql_timestamp`].
fn normalize_sql_time(text: &str) -> String {
    let t = chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f")
        .unwrap_or_else(|e| panic!("{text:?} is not a Hive timestamp: {e}"));
    sql_timestamp(t.and_utc().timestamp_millis())
}

/// Reads the whole results feed and returns, per `visitor_analytics` site window (its
/// `window_start` as Hive SQL prints it), the earliest `wa-committed-at` header, epoch ms.
fn site_windows_committed_at(s: &Stack, topic: &str) -> BTreeMap<String, i64> {
    let records = wa_tests::read_topic_records(s, topic).unwrap();
    assert!(!records.is_empty(), "the results feed {topic} is empty");
    let mut committed = BTreeMap::new();
    for record in &records {
        let key: serde_json::Value =
            serde_json::from_slice(record.key.as_deref().unwrap_or_default()).unwrap();
        if key[0] != "visitor_analytics" || !key[1].is_null() {
            continue;
        }
        let header = record
            .header("wa-committed-at")
            .unwrap_or_else(|| panic!("feed record {key} has no wa-committed-at header"));
        let at = chrono::DateTime::parse_from_rfc3339(header)
            .unwrap()
            .timestamp_millis();
        let start = sql_time(key[2].as_str().unwrap());
        let entry = committed.entry(start).or_insert(at);
        *entry = (*entry).min(at);
    }
    committed
}

// ---- wa-dashboard ---------------------------------------------------------------------------

/// A running `wa-dashboard` on a free loopback port; killed when dropped.
struct Dashboard {
    /// `http://127.0.0.1:PORT/`.
    url: String,
    _process: Background,
}

impl Dashboard {
    /// Starts `wa-dashboard` for `results_topic` and `metrics_url` (log beside `near`, as
    /// `dashboard.log`) and waits until `/health` answers 200 (at most 30 s).
    fn start(s: &Stack, results_topic: &str, metrics_url: &str, near: &Path) -> Dashboard {
        let port = free_port();
        let log_path = near.with_file_name("dashboard.log");
        let log = File::create(&log_path).unwrap();
        let mut command = Command::new(binary("wa-dashboard").unwrap());
        command
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .args(["--kafka-brokers", &s.kafka_brokers])
            .args(["--results-topic", results_topic])
            .args(["--metrics-urls", metrics_url])
            .args(["--scrape-interval", "1s"])
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("WA_") {
                command.env_remove(key);
            }
        }
        let mut process = Background::spawn(&mut command);
        let deadline = Instant::now() + Duration::from_secs(30);
        while !http_ok(port, "/health") {
            process.assert_running("wa-dashboard");
            assert!(
                Instant::now() < deadline,
                "wa-dashboard not healthy within 30 s; log: {}",
                log_path.display()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        eprintln!(
            "[dashboard] wa-dashboard on http://127.0.0.1:{port}/, log {}",
            log_path.display()
        );
        Dashboard {
            url: format!("http://127.0.0.1:{port}/"),
            _process: process,
        }
    }
}

/// Whether `GET path` on the loopback `port` answers 200.
fn http_ok(port: u16, path: &str) -> bool {
    let Ok(mut conn) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = conn.set_read_timeout(Some(Duration::from_secs(5)));
    if conn
        .write_all(format!("GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").as_bytes())
        .is_err()
    {
        return false;
    }
    let mut head = [0u8; 12];
    conn.read_exact(&mut head).is_ok() && head.ends_with(b" 200")
}

// ---- the browser ----------------------------------------------------------------------------

/// `tests/browser/dashboard.mjs`: headless Chromium with the page open at two sizes, driven by
/// one command per stdin line, one JSON answer per stdout line.
struct Browser {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Browser {
    /// Opens `url` (laptop and phone) and waits until both show a snapshot (at most 60 s).
    fn open(url: &str, screenshots: &Path) -> Browser {
        let dir = browser_dir();
        assert!(
            dir.join("node_modules/playwright-core").is_dir(),
            "playwright-core is not installed: run `npm ci --prefix tests/browser` \
             (and `apt-get install chromium` for /usr/bin/chromium)"
        );
        let mut child = Command::new("node")
            .arg(dir.join("dashboard.mjs"))
            .arg(url)
            .arg(screenshots)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("running node (install nodejs)");
        let stdin = child.stdin.take().unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        let mut browser = Browser {
            child,
            stdin,
            stdout,
        };
        let ready = browser.read_line();
        assert_eq!(ready["ready"], true, "dashboard.mjs: {ready}");
        browser
    }

    fn read_line(&mut self) -> serde_json::Value {
        let mut line = String::new();
        let n = self.stdout.read_line(&mut line).unwrap();
        assert!(
            n > 0,
            "dashboard.mjs ended ({:?}); its errors are above",
            self.child.try_wait()
        );
        let value: serde_json::Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("dashboard.mjs printed {line:?}: {e}"));
        assert!(value.get("error").is_none(), "dashboard.mjs: {value}");
        value
    }

    fn command(&mut self, command: &str) -> serde_json::Value {
        writeln!(self.stdin, "{command}").unwrap();
        self.stdin.flush().unwrap();
        self.read_line()
    }

    /// What both pages show now.
    fn state(&mut self) -> State {
        serde_json::from_value(self.command("state")).unwrap()
    }

    /// Full-page screenshots of both pages, `NAME-laptop.png` and `NAME-phone.png`.
    fn screenshots(&mut self, name: &str) -> Vec<PathBuf> {
        let answer = self.command(&format!("screenshot {name}"));
        answer["screenshots"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| PathBuf::from(p.as_str().unwrap()))
            .collect()
    }

    /// Closes the browser and returns what it saw that must not happen.
    fn close(mut self) -> Vec<String> {
        let answer = self.command("close");
        let _ = self.child.wait();
        answer["problems"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p.as_str().unwrap().to_owned())
            .collect()
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
