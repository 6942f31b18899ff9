//! `wa-bench state-memory`: how much memory the visitor, session and deduplication state
//! takes, and whether it is given back when windows and sessions close. In-process, no services: the
//! dataflow's own operators ([`dataflow::visitors`]) in a one-worker timely dataflow fed by
//! an input handle, and its [`dataflow::sessions::SessionState`].
//!
//! Resident set sizes come from `/proc/self/status` (`VmRSS`), in the allocator the dataflow
//! binary uses (mimalloc, set in `main.rs`).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use dataflow::dedup::Deduplicator;
use dataflow::sessions::{SessionRules, SessionState};
use dataflow::visit::{Visit, VisitText};
use dataflow::visitors::{visitor_counts, VisitorSettings};
use dataflow::window::WindowSpec;
use timely::dataflow::operators::probe::Handle as ProbeHandle;
use timely::dataflow::operators::{Input, Inspect, Probe};

/// Sizes of one run.
#[derive(Debug, Clone, Copy)]
pub struct StateMemoryConfig {
    /// Distinct users in each window.
    pub users: u64,
    /// Pages they visit (user `i` views page `i mod pages`).
    pub pages: u64,
    /// Open sessions in each round.
    pub sessions: u64,
    /// Events per session.
    pub events_per_session: u64,
    /// Windows (and rounds of sessions) one after the other: when the state is released, the
    /// later ones reuse its memory and the peak does not grow.
    pub rounds: u64,
    /// Distinct `event_id`s the deduplication state remembers.
    pub event_ids: u64,
}

/// One measurement: what was held, the resident set size then (bytes), seconds the step took.
#[derive(Debug, Clone)]
pub struct Stage {
    /// What the state was, e.g. `window 2 open`.
    pub label: String,
    /// `VmRSS`, bytes.
    pub rss: u64,
    /// Seconds the step took.
    pub seconds: f64,
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
    Visit::new(
        t,
        0,
        offset,
        VisitText {
            user_id: &format!("user-{user:08}"),
            session_id: &format!("session-{session:08}-0000-4000-8000-000000000000"),
            page_url: &format!("/products/{page}"),
            event_type: if offset % 3 == 0 {
                "page_view"
            } else {
                "click"
            },
            browser: Some("Chrome"),
            os: Some("Windows"),
            country: Some("DE"),
        },
    )
}

const MINUTE: i64 = 60_000;

/// Windows of `config.users` distinct users each, one after the other, through the
/// dataflow's visitor operators; the RSS with each window open and after it closed.
fn visitors(config: StateMemoryConfig, stages: &mut Vec<Stage>) {
    let figures = Arc::new(AtomicUsize::new(0));
    let seen = figures.clone();
    let measured = timely::execute_directly(move |worker| {
        let mut stages = Vec::new();
        let probe = ProbeHandle::new();
        let mut input = worker.dataflow::<u64, _, _>(|scope| {
            let (input, visits) = scope.new_input::<Vec<Visit>>();
            let settings = VisitorSettings {
                window: WindowSpec::tumbling(MINUTE).expect("a minute is a window"),
                skip_windows_until: i64::MIN,
                stop_at_ms: None,
            };
            visitor_counts(visits, settings)
                .inspect(move |_| {
                    seen.fetch_add(1, Ordering::Relaxed);
                })
                .probe_with(&probe);
            input
        });
        let mut offset = 0;
        for round in 0..config.rounds {
            let start = round as i64 * MINUTE;
            // Every user once in the window, in batches of 10 000 like source activations.
            let started = Instant::now();
            for user in 0..config.users {
                let t = start + 1_000 + (user % 50_000) as i64;
                input.send(visit(user, user, user % config.pages, t, offset));
                offset += 1;
                if user % 10_000 == 9_999 {
                    worker.step();
                }
            }
            let open = (start + MINUTE - 1) as u64;
            input.advance_to(open);
            while probe.less_than(&open) {
                worker.step();
            }
            stages.push(Stage {
                label: format!("window {} open ({} users)", round + 1, config.users),
                rss: rss_bytes(),
                seconds: started.elapsed().as_secs_f64(),
            });
            let started = Instant::now();
            let closed = (start + MINUTE + 1) as u64;
            input.advance_to(closed);
            while probe.less_than(&closed) {
                worker.step();
            }
            stages.push(Stage {
                label: format!("window {} closed", round + 1),
                rss: rss_bytes(),
                seconds: started.elapsed().as_secs_f64(),
            });
        }
        stages
    });
    stages.extend(measured);
    stages.push(Stage {
        label: format!(
            "visitor figures out: {} (pages + site, two each per window)",
            figures.load(Ordering::Relaxed)
        ),
        rss: rss_bytes(),
        seconds: 0.0,
    });
}

/// Rounds of `config.sessions` sessions through [`SessionState`]: RSS with them open, and
/// after they closed and a checkpoint passed their close bucket.
fn sessions(config: StateMemoryConfig, stages: &mut Vec<Stage>) {
    let rules = SessionRules {
        gap_ms: 30 * MINUTE,
        max_duration_ms: 24 * 60 * MINUTE,
    };
    let mut state = SessionState::new(rules);
    let mut offset = 0;
    let round_ms = 10 * 24 * 60 * MINUTE;
    for round in 0..config.rounds {
        let base = round as i64 * round_ms;
        let started = Instant::now();
        for step in 0..config.events_per_session {
            for s in 0..config.sessions {
                let t = base + 1_000 + step as i64 * 5_000 + (s % 1_000) as i64;
                let id = round * config.sessions + s;
                state.push(visit(id, id, (s + step) % config.pages, t, offset));
                offset += 1;
            }
            state.advance(base + 1_000 + step as i64 * 5_000);
        }
        let applied = base + 1_000 + config.events_per_session as i64 * 5_000;
        state.advance(applied);
        stages.push(Stage {
            label: format!("sessions round {}: {} open", round + 1, state.open_count()),
            rss: rss_bytes(),
            seconds: started.elapsed().as_secs_f64(),
        });
        // A checkpoint passed every event: what a session keeps while it waits out its gap.
        let started = Instant::now();
        state.fold_before(applied);
        stages.push(Stage {
            label: format!(
                "sessions round {}: {} open, folded at a checkpoint",
                round + 1,
                state.open_count()
            ),
            rss: rss_bytes(),
            seconds: started.elapsed().as_secs_f64(),
        });
        let started = Instant::now();
        let end = base + round_ms / 2;
        let closed = state.advance(end);
        let n = closed.len();
        drop(closed);
        state.forget_checkpointed(end + MINUTE);
        stages.push(Stage {
            label: format!(
                "sessions round {}: {n} closed, checkpointed; {} open",
                round + 1,
                state.open_count()
            ),
            rss: rss_bytes(),
            seconds: started.elapsed().as_secs_f64(),
        });
    }
}

/// `config.event_ids` distinct UUID-like `event_id`s (36 characters) remembered by one partition's
/// [`Deduplicator`] within its horizon, then forgotten; the RSS with them held and after.
fn dedup(config: StateMemoryConfig, stages: &mut Vec<Stage>) {
    let mut d = Deduplicator::new(10 * MINUTE);
    let started = Instant::now();
    for i in 0..config.event_ids {
        let id = format!("{:08x}-{:04x}-4000-8000-{:012x}", i, i % 65_536, i * 7);
        d.remember(&id, 1_000 + (i % 60_000) as i64, i as i64);
    }
    stages.push(Stage {
        label: format!("deduplication: {} event_ids remembered", d.len()),
        rss: rss_bytes(),
        seconds: started.elapsed().as_secs_f64(),
    });
    let started = Instant::now();
    d.forget_before(Some(100 * MINUTE));
    stages.push(Stage {
        label: format!("deduplication: forgotten, {} left", d.len()),
        rss: rss_bytes(),
        seconds: started.elapsed().as_secs_f64(),
    });
}

/// Runs the measurement: the baseline, then the visitor rounds, then the session rounds, then
/// the deduplication state.
pub fn run(config: StateMemoryConfig) -> Vec<Stage> {
    let mut stages = vec![Stage {
        label: "baseline".into(),
        rss: rss_bytes(),
        seconds: 0.0,
    }];
    visitors(config, &mut stages);
    sessions(config, &mut stages);
    dedup(config, &mut stages);
    stages
}
