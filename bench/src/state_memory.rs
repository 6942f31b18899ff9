//! `wa-bench state-memory`: how much memory the visitor and session state takes, and whether
//! it is given back when windows and sessions close. In-process, no services: the
//! dataflow's own operators ([`dataflow::visitors`]) in a one-worker timely dataflow fed by
//! an input handle, and its [`dataflow::sessions::SessionState`].
//!
//! Resident set sizes come from `/proc/self/status` (`VmRSS`), in the allocator the dataflow
//! binary uses (mimalloc, set in `main.rs`).

use std::time::Instant;

use dataflow::sessions::{SessionRules, SessionState};
use dataflow::visit::Visit;
use dataflow::visitors::{visitor_counts, visitor_updates, VisitorSettings};
use dataflow::window::WindowSpec;
use timely::dataflow::operators::probe::Handle as ProbeHandle;
use timely::dataflow::operators::{Input, Probe};

/// Sizes of one run.
#[derive(Debug, Clone, Copy)]
pub struct StateMemoryConfig {
    /// Distinct users in the one window.
    pub users: u64,
    /// Pages they visit (user `i` views page `i mod pages`).
    pub pages: u64,
    /// Open sessions.
    pub sessions: u64,
    /// Events per session.
    pub events_per_session: u64,
}

/// Resident set sizes (bytes) at each stage, and how long each stage took (s).
#[derive(Debug, Clone, Default)]
pub struct StateMemoryReport {
    /// Before any state.
    pub baseline: u64,
    /// With one window of `users` distinct users open (updates arranged, window not closed).
    pub visitors_open: u64,
    /// After the window closed and its figures came out.
    pub visitors_closed: u64,
    /// With `sessions` sessions open.
    pub sessions_open: u64,
    /// After they closed and a checkpoint passed their close bucket.
    pub sessions_closed: u64,
    /// Rows the closed window produced (pages + the site row, each with two figures).
    pub visitor_figures: usize,
    /// Sessions closed.
    pub sessions_closed_count: usize,
    /// Seconds spent loading visitors, closing them, loading sessions, closing them.
    pub seconds: [f64; 4],
}

/// Resident set size of this process, bytes (`VmRSS`); 0 where the kernel does not say.
pub fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

fn visit(user: u64, session: u64, page: u64, t: i64, offset: i64) -> Visit {
    Visit {
        event_time_ms: t,
        partition: 0,
        offset,
        user_id: format!("user-{user:08}"),
        session_id: format!("session-{session:08}-0000-4000-8000-000000000000"),
        page_url: format!("/products/{page}"),
        event_type: if offset % 3 == 0 {
            "page_view"
        } else {
            "click"
        }
        .to_string(),
        browser: Some("Chrome".into()),
        os: Some("Windows".into()),
        country: Some("DE".into()),
    }
}

/// Runs the measurement.
pub fn run(config: StateMemoryConfig) -> StateMemoryReport {
    let mut report = StateMemoryReport {
        baseline: rss_bytes(),
        ..StateMemoryReport::default()
    };
    let minute = 60_000;
    let figures = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let seen = figures.clone();
    let mut report = timely::execute_directly(move |worker| {
        let probe = ProbeHandle::new();
        let mut input = worker.dataflow::<u64, _, _>(|scope| {
            let (input, visits) = scope.new_input::<Vec<Visit>>();
            let settings = VisitorSettings {
                window: WindowSpec::tumbling(minute).expect("a minute is a window"),
                skip_windows_until: i64::MIN,
                stop_at_ms: None,
            };
            let seen = seen.clone();
            use timely::dataflow::operators::Inspect;
            visitor_counts(visitor_updates(visits, settings))
                .inspect(move |_| {
                    seen.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                })
                .probe_with(&probe);
            input
        });
        // One window, every user in it; batches of 10 000 like source activations.
        let started = Instant::now();
        for user in 0..config.users {
            input.send(visit(
                user,
                user,
                user % config.pages,
                1_000 + (user % 50_000) as i64,
                user as i64,
            ));
            if user % 10_000 == 9_999 {
                worker.step();
            }
        }
        input.advance_to(minute as u64 - 1);
        while probe.less_than(&(minute as u64 - 1)) {
            worker.step();
        }
        for _ in 0..100 {
            worker.step();
        }
        report.visitors_open = rss_bytes();
        report.seconds[0] = started.elapsed().as_secs_f64();
        let started = Instant::now();
        input.advance_to(10 * minute as u64);
        while probe.less_than(&(10 * minute as u64)) {
            worker.step();
        }
        for _ in 0..1_000 {
            worker.step();
        }
        report.seconds[1] = started.elapsed().as_secs_f64();
        report.visitors_closed = rss_bytes();
        report
    });
    report.visitor_figures = figures.load(std::sync::atomic::Ordering::Relaxed);
    {
        let rules = SessionRules {
            gap_ms: 30 * minute,
            max_duration_ms: 24 * 60 * minute,
        };
        let started = Instant::now();
        let mut state = SessionState::new(rules);
        let mut offset = 0;
        for round in 0..config.events_per_session {
            for s in 0..config.sessions {
                let t = 1_000 + round as i64 * 5_000 + (s % 1_000) as i64;
                state.push(visit(s, s, (s + round) % config.pages, t, offset));
                offset += 1;
            }
            state.advance(1_000 + round as i64 * 5_000);
        }
        state.advance(1_000 + config.events_per_session as i64 * 5_000);
        report.sessions_open = rss_bytes();
        report.seconds[2] = started.elapsed().as_secs_f64();
        let started = Instant::now();
        let closed = state.advance(i64::MAX - 1);
        report.sessions_closed_count = closed.len();
        drop(closed);
        state.forget_checkpointed(i64::MAX);
        report.seconds[3] = started.elapsed().as_secs_f64();
        report.sessions_closed = rss_bytes();
    }
    report
}
