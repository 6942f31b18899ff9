//! The traffic model of `simulate`: a pure, seeded generator of [`WebEvent`]s. No clock, no
//! I/O: the same [`SimConfig`] gives the same events, byte for byte, on every machine.
//!
//! # The model
//! - **Stream time.** Event `i` (from 0) occupies the slot at stream time
//!   `start_ms + floor(i * 1000 / rate)`: the stream advances at `rate` events per second.
//!   `simulate` sends slot `i` when the wall clock has advanced by the same amount since it
//!   started, so with the default `start_ms` (now) event times follow the wall clock and
//!   downstream event-time windows close.
//! - **Sessions.** `ceil(rate × MEAN_THINK_MS / 1000)` sessions are open at any time. Each slot
//!   goes to the open session that is due first (a session is due one think time after its
//!   last event; ties broken by session number), so a session's events are separated by
//!   think-time gaps. A session begins with a `page_view`; each later event is a
//!   `page_view` of a new page (Zipf-distributed over [`PAGES`] pages, exponent
//!   [`ZIPF_EXPONENT`]) or a `click`, `scroll`, `form_submit` or `video_play` on the
//!   current page. After each event the session ends with probability [`SESSION_END_P`] and
//!   a new session, of a user drawn uniformly from `users`, takes its place.
//! - **Devices and places.** Each session draws its (browser, os) pair and its country once
//!   from fixed shares ([`PLATFORMS`], [`COUNTRIES`]).
//! - **Ids.** `event_id` and `session_id` are UUIDs (version 4 layout) made from the seeded
//!   stream; `user_id` is `user-<n>`.
//!
//! # Event time
//! For slot `i` with stream time `s` (above):
//! - **Late events.** When `late_fraction > 0` and `s - start_ms >= 2 × late_by_ms`, the
//!   event is late with probability `late_fraction`: `event_time = s - late_by_ms`, exactly.
//!   Late events therefore begin only after the stream has run for `2 × late_by_ms`, and are
//!   exactly `late_by_ms` older than the stream's current time. Ground truth from the log: an
//!   event is late iff its time is more than `late_by_ms / 2` below the largest event time of
//!   the events logged before it ([`SimConfig::check`] keeps `out_of_order_ms` plus one slot
//!   below `late_by_ms / 2`, so the rule is exact).
//! - **On-time events** get `event_time = s - jitter`, jitter uniform in
//!   `0..=out_of_order_ms` (0 when `out_of_order_ms` is 0): never in the stream's future.
//!
//! # Ingestion time
//! `simulate` gives slot `i`'s record the Kafka timestamp `s` ([`SimEvent::stream_time_ms`]):
//! the time the event enters the pipeline by the simulation's clock (the send time with
//! real-time pacing and the default start; a reproducible past with `--start-time`). By the
//! rules above every event time is at or before it.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use anyhow::{ensure, Result};
use events::WebEvent;
use rand::distr::weighted::WeightedIndex;
use rand::distr::Distribution;
use rand::{Rng, RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Exp, Zipf};

/// Number of distinct pages in the simulated site.
pub const PAGES: u64 = 1000;
/// Zipf exponent of page popularity (≈1 is what web logs show).
pub const ZIPF_EXPONENT: f64 = 1.1;
/// Mean think time between two events of a session, milliseconds.
pub const MEAN_THINK_MS: f64 = 5_000.0;
/// Probability that a session ends after each of its events (mean session: 1/p = 8 events).
pub const SESSION_END_P: f64 = 0.125;

/// (browser, os, share in percent) of the simulated sessions, roughly as public web
/// statistics show them.
pub const PLATFORMS: &[(&str, &str, u32)] = &[
    ("Chrome", "Windows", 28),
    ("Chrome", "Android", 24),
    ("Safari", "iOS", 17),
    ("Chrome", "macOS", 6),
    ("Safari", "macOS", 6),
    ("Edge", "Windows", 6),
    ("Firefox", "Windows", 3),
    ("Samsung Internet", "Android", 3),
    ("Chrome", "iOS", 2),
    ("Opera", "Windows", 2),
    ("Firefox", "Linux", 1),
    ("Chrome", "Linux", 1),
    ("Chrome", "ChromeOS", 1),
];

/// (ISO 3166-1 alpha-2 country, share in percent) of the simulated sessions.
pub const COUNTRIES: &[(&str, u32)] = &[
    ("US", 28),
    ("IN", 10),
    ("DE", 6),
    ("GB", 6),
    ("BR", 6),
    ("FR", 4),
    ("JP", 4),
    ("CA", 4),
    ("RU", 3),
    ("ES", 3),
    ("IT", 3),
    ("MX", 3),
    ("ID", 3),
    ("NL", 2),
    ("AU", 2),
    ("PL", 2),
    ("KR", 2),
    ("TR", 2),
    ("SE", 1),
    ("NG", 1),
    ("ZA", 1),
    ("AR", 1),
    ("CH", 1),
    ("VN", 1),
    ("EG", 1),
];

/// Event types after the first `page_view` of a session, with weights.
const NEXT_EVENT_TYPES: &[(&str, u32)] = &[
    ("page_view", 30),
    ("click", 35),
    ("scroll", 25),
    ("form_submit", 5),
    ("video_play", 5),
];

/// Everything that determines the event sequence.
#[derive(Debug, Clone, PartialEq)]
pub struct SimConfig {
    /// Seed of the random stream.
    pub seed: u64,
    /// Events per second of stream time (> 0).
    pub rate_per_sec: f64,
    /// Stream time of event 0, UTC epoch milliseconds.
    pub start_ms: i64,
    /// Largest backward jitter of on-time events, milliseconds (0: events in order).
    pub out_of_order_ms: u64,
    /// Share of late events once they may begin, in `0.0..=1.0`.
    pub late_fraction: f64,
    /// How much older than the stream's current time a late event is, milliseconds.
    pub late_by_ms: u64,
    /// Number of distinct users sessions are drawn from (> 0).
    pub users: u64,
}

impl SimConfig {
    /// Checks the ranges documented on the fields.
    ///
    /// # Errors
    /// When a field is outside its range, or, while late events are asked for,
    /// `out_of_order_ms + ceil(1000 / rate)` is not below `late_by_ms / 2` (late and on-time
    /// events could not be told apart).
    pub fn check(&self) -> Result<()> {
        ensure!(
            self.rate_per_sec.is_finite() && self.rate_per_sec > 0.0,
            "rate must be a positive number of events per second, got {}",
            self.rate_per_sec
        );
        ensure!(
            (0.0..=1.0).contains(&self.late_fraction),
            "late fraction must be within 0..=1, got {}",
            self.late_fraction
        );
        ensure!(self.users > 0, "users must be positive");
        let slot_ms = (1000.0 / self.rate_per_sec).ceil() as u64;
        ensure!(
            self.late_fraction == 0.0
                || self.out_of_order_ms.saturating_add(slot_ms) < self.late_by_ms / 2,
            "out-of-order jitter ({} ms) plus the slot length ({slot_ms} ms) must stay below \
             half the lateness ({} ms / 2), or late events could not be told from on-time ones",
            self.out_of_order_ms,
            self.late_by_ms
        );
        ensure!(
            events::format_event_time(self.start_ms).is_some(),
            "start time {} ms is outside the accepted event times (1970..=2099)",
            self.start_ms
        );
        Ok(())
    }
}

/// One generated event with its place in the stream.
#[derive(Debug, Clone, PartialEq)]
pub struct SimEvent {
    /// Slot number, from 0.
    pub index: u64,
    /// Milliseconds of stream time since `start_ms` at which the slot is due (pacing).
    pub offset_ms: i64,
    /// The slot's stream time, UTC epoch ms: `start_ms + offset_ms`. The record's ingestion
    /// time (Kafka timestamp); never before `event.event_time_ms`.
    pub stream_time_ms: i64,
    /// Whether the event was made late on purpose.
    pub late: bool,
    /// The event itself.
    pub event: WebEvent,
}

#[derive(Debug)]
struct Session {
    id: String,
    user_id: String,
    browser: &'static str,
    os: &'static str,
    country: &'static str,
    page: u64,
    events: u64,
}

/// The seeded event stream: an endless iterator of [`SimEvent`].
pub struct Generator {
    config: SimConfig,
    rng: ChaCha8Rng,
    /// Open sessions, by (due stream time ms, slot in `sessions`).
    due: BinaryHeap<Reverse<(i64, usize)>>,
    sessions: Vec<Session>,
    index: u64,
    pages: Zipf<f64>,
    think: Exp<f64>,
    platforms: WeightedIndex<u32>,
    countries: WeightedIndex<u32>,
    next_types: WeightedIndex<u32>,
}

impl Generator {
    /// A generator for `config`.
    ///
    /// # Errors
    /// When [`SimConfig::check`] fails.
    pub fn new(config: SimConfig) -> Result<Generator> {
        config.check()?;
        let open = (config.rate_per_sec * MEAN_THINK_MS / 1000.0)
            .ceil()
            .clamp(1.0, 1_000_000.0) as usize;
        let mut generator = Generator {
            rng: ChaCha8Rng::seed_from_u64(config.seed),
            due: BinaryHeap::with_capacity(open),
            sessions: Vec::with_capacity(open),
            index: 0,
            pages: Zipf::new(PAGES as f64, ZIPF_EXPONENT)?,
            think: Exp::new(1.0 / MEAN_THINK_MS)?,
            platforms: WeightedIndex::new(PLATFORMS.iter().map(|p| p.2))?,
            countries: WeightedIndex::new(COUNTRIES.iter().map(|c| c.1))?,
            next_types: WeightedIndex::new(NEXT_EVENT_TYPES.iter().map(|t| t.1))?,
            config,
        };
        for slot in 0..open {
            let session = generator.new_session();
            generator.sessions.push(session);
            // Spread the first events over one mean think time, so the stream starts smoothly.
            let due = generator.rng.random_range(0.0..MEAN_THINK_MS) as i64;
            generator.due.push(Reverse((due, slot)));
        }
        Ok(generator)
    }

    fn new_session(&mut self) -> Session {
        let user = self.rng.random_range(0..self.config.users);
        let (browser, os, _) = PLATFORMS[self.platforms.sample(&mut self.rng)];
        let (country, _) = COUNTRIES[self.countries.sample(&mut self.rng)];
        Session {
            id: self.uuid(),
            user_id: format!("user-{user}"),
            browser,
            os,
            country,
            page: 0,
            events: 0,
        }
    }

    fn uuid(&mut self) -> String {
        let mut bytes = [0u8; 16];
        self.rng.fill_bytes(&mut bytes);
        uuid::Builder::from_random_bytes(bytes)
            .into_uuid()
            .hyphenated()
            .to_string()
    }

    /// Stream time offset of slot `index`, ms since `start_ms`.
    fn offset_ms(&self, index: u64) -> i64 {
        (index as f64 * 1000.0 / self.config.rate_per_sec).floor() as i64
    }

    /// The next event of the stream.
    pub fn next_event(&mut self) -> SimEvent {
        let index = self.index;
        self.index += 1;
        let offset_ms = self.offset_ms(index);
        let Some(Reverse((_, slot))) = self.due.pop() else {
            unreachable!("the session heap is never empty: every popped session is replaced")
        };

        let event_type = if self.sessions[slot].events == 0 {
            "page_view"
        } else {
            NEXT_EVENT_TYPES[self.next_types.sample(&mut self.rng)].0
        };
        if event_type == "page_view" {
            self.sessions[slot].page = self.pages.sample(&mut self.rng) as u64;
        }
        let stream_time_ms = self.config.start_ms + offset_ms;
        let late = self.config.late_fraction > 0.0
            && offset_ms >= 2 * self.config.late_by_ms as i64
            && self.rng.random_bool(self.config.late_fraction);
        let event_time_ms = if late {
            stream_time_ms - self.config.late_by_ms as i64
        } else if self.config.out_of_order_ms > 0 {
            let jitter = self.rng.random_range(0..=self.config.out_of_order_ms) as i64;
            stream_time_ms - jitter
        } else {
            stream_time_ms
        };
        let event_id = self.uuid();
        let session = &mut self.sessions[slot];
        session.events += 1;
        let event = WebEvent {
            event_id,
            user_id: session.user_id.clone(),
            session_id: session.id.clone(),
            event_type: event_type.to_owned(),
            page_url: page_url(session.page),
            browser: Some(session.browser.to_owned()),
            os: Some(session.os.to_owned()),
            country: Some(session.country.to_owned()),
            event_time_ms,
            clock_skew_ms: None,
        };

        if self.rng.random_bool(SESSION_END_P) {
            self.sessions[slot] = self.new_session();
        }
        let think = self.think.sample(&mut self.rng) as i64;
        self.due.push(Reverse((offset_ms + think, slot)));
        SimEvent {
            index,
            offset_ms,
            stream_time_ms,
            late,
            event,
        }
    }
}

impl Iterator for Generator {
    type Item = SimEvent;

    fn next(&mut self) -> Option<SimEvent> {
        Some(self.next_event())
    }
}

/// The path of page number `rank` (1 = most popular): a few fixed pages, then catalogue pages.
pub fn page_url(rank: u64) -> String {
    const FIXED: &[&str] = &[
        "/",
        "/products",
        "/search",
        "/cart",
        "/blog",
        "/about",
        "/checkout",
        "/login",
        "/contact",
        "/pricing",
    ];
    match rank.checked_sub(1).and_then(|i| FIXED.get(i as usize)) {
        Some(path) => (*path).to_owned(),
        None if rank.is_multiple_of(5) => format!("/blog/post-{rank}"),
        None if rank.is_multiple_of(7) => format!("/category/{rank}"),
        None => format!("/products/{rank}"),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, HashMap, HashSet};

    use super::*;

    fn config() -> SimConfig {
        SimConfig {
            seed: 7,
            rate_per_sec: 200.0,
            start_ms: 1_764_475_699_000,
            out_of_order_ms: 0,
            late_fraction: 0.0,
            late_by_ms: 120_000,
            users: 5_000,
        }
    }

    fn lines(config: SimConfig, n: usize) -> Vec<String> {
        Generator::new(config)
            .unwrap()
            .take(n)
            .map(|e| e.event.to_json().unwrap())
            .collect()
    }

    #[test]
    fn same_seed_same_bytes_other_seed_other_bytes() {
        let a = lines(config(), 2_000);
        assert_eq!(a, lines(config(), 2_000));
        let b = lines(
            SimConfig {
                seed: 8,
                ..config()
            },
            2_000,
        );
        assert_ne!(a, b);
    }

    #[test]
    fn events_are_valid_unique_and_paced_by_rate() {
        let events: Vec<SimEvent> = Generator::new(config()).unwrap().take(10_000).collect();
        let mut ids = HashSet::new();
        for (i, e) in events.iter().enumerate() {
            e.event.validate().unwrap();
            assert!(ids.insert(e.event.event_id.clone()), "duplicate event_id");
            assert_eq!(e.index, i as u64);
            // 200 events/s: slot i at 5 i ms.
            assert_eq!(e.offset_ms, 5 * i as i64);
            assert_eq!(e.event.event_time_ms, config().start_ms + e.offset_ms);
            assert!(!e.late);
        }
    }

    #[test]
    fn sessions_start_with_a_page_view_and_stay_on_one_user_and_device() {
        let mut sessions: HashMap<String, Vec<WebEvent>> = HashMap::new();
        for e in Generator::new(config()).unwrap().take(20_000) {
            sessions
                .entry(e.event.session_id.clone())
                .or_default()
                .push(e.event);
        }
        assert!(sessions.len() > 1_000, "only {} sessions", sessions.len());
        let mut clicks = 0;
        for events in sessions.values() {
            assert_eq!(events[0].event_type, "page_view");
            for e in events {
                assert_eq!(
                    (&e.user_id, &e.browser, &e.os, &e.country),
                    (
                        &events[0].user_id,
                        &events[0].browser,
                        &events[0].os,
                        &events[0].country
                    )
                );
            }
            clicks += events.iter().filter(|e| e.event_type == "click").count();
        }
        assert!(clicks > 3_000, "{clicks} clicks");
    }

    #[test]
    fn page_popularity_is_zipf_like() {
        let mut views: BTreeMap<String, u64> = BTreeMap::new();
        for e in Generator::new(config()).unwrap().take(50_000) {
            if e.event.event_type == "page_view" {
                *views.entry(e.event.page_url).or_default() += 1;
            }
        }
        let home = views["/"];
        let second = views["/products"];
        let rank_100 = views.get(&page_url(100)).copied().unwrap_or(0);
        // p(1)/p(2) = 2^1.1 ≈ 2.1; p(1)/p(100) = 100^1.1 ≈ 158.
        assert!(
            home > second * 3 / 2 && home < second * 3,
            "{home} vs {second}"
        );
        assert!(home > rank_100 * 50, "{home} vs {rank_100}");
        assert!(views.len() > 300, "only {} distinct pages", views.len());
    }

    #[test]
    fn shares_follow_the_tables() {
        let n = 20_000;
        let mut us = 0;
        let mut chrome_windows = 0;
        let mut sessions = HashSet::new();
        for e in Generator::new(config()).unwrap().take(n) {
            if sessions.insert(e.event.session_id.clone()) {
                us += usize::from(e.event.country.as_deref() == Some("US"));
                chrome_windows += usize::from(
                    e.event.browser.as_deref() == Some("Chrome")
                        && e.event.os.as_deref() == Some("Windows"),
                );
            }
        }
        let share = |k: usize| k as f64 / sessions.len() as f64;
        assert!((share(us) - 0.28).abs() < 0.04, "US share {}", share(us));
        assert!((share(chrome_windows) - 0.28).abs() < 0.04);
    }

    #[test]
    fn jitter_stays_within_bound_and_late_events_follow_the_rule() {
        let cfg = SimConfig {
            rate_per_sec: 100.0,
            out_of_order_ms: 2_000,
            late_fraction: 0.05,
            late_by_ms: 60_000,
            ..config()
        };
        let mut late = 0;
        let mut max_time = i64::MIN;
        let mut out_of_order = 0;
        for e in Generator::new(cfg.clone()).unwrap().take(30_000) {
            let s = cfg.start_ms + e.offset_ms;
            let t = e.event.event_time_ms;
            if e.late {
                late += 1;
                assert!(e.offset_ms >= 120_000, "late before 2 × late_by_ms");
                assert_eq!(t, s - 60_000);
                // The documented ground-truth rule identifies it.
                assert!(t < max_time - 30_000);
            } else {
                assert!(t <= s && t >= s - 2_000, "jitter out of bounds");
                assert!(max_time == i64::MIN || t >= max_time - 30_000);
                out_of_order += usize::from(t < max_time);
                max_time = max_time.max(t);
            }
        }
        // 30 000 events at 100/s = 300 s, late from 120 s on: ~ 0.05 × 18 000 = 900.
        assert!((700..1_100).contains(&late), "{late} late events");
        assert!(out_of_order > 1_000, "{out_of_order} out-of-order events");
    }

    #[test]
    fn event_times_never_pass_the_ingestion_time_with_jitter_or_late_events() {
        for (out_of_order_ms, late_fraction, late_by_ms) in [
            (0, 0.0, 120_000),
            (2_000, 0.0, 120_000),
            (2_000, 0.2, 60_000),
            (0, 0.5, 1_000),
        ] {
            let cfg = SimConfig {
                rate_per_sec: 100.0,
                out_of_order_ms,
                late_fraction,
                late_by_ms,
                ..config()
            };
            let mut late = 0;
            let mut jittered = 0;
            for e in Generator::new(cfg.clone()).unwrap().take(30_000) {
                assert_eq!(e.stream_time_ms, cfg.start_ms + e.offset_ms);
                let behind = e.stream_time_ms - e.event.event_time_ms;
                assert!(
                    behind >= 0,
                    "event time {behind} ms past its ingestion time"
                );
                if e.late {
                    late += 1;
                    assert_eq!(behind, late_by_ms as i64);
                } else {
                    assert!(behind <= out_of_order_ms as i64);
                    jittered += usize::from(behind > 0);
                }
            }
            // The cases exercise what they claim to.
            assert_eq!(late > 0, late_fraction > 0.0, "{cfg:?}");
            assert_eq!(jittered > 0, out_of_order_ms > 0, "{cfg:?}");
        }
    }

    #[test]
    fn bad_configs_are_refused() {
        for bad in [
            SimConfig {
                rate_per_sec: 0.0,
                ..config()
            },
            SimConfig {
                rate_per_sec: f64::NAN,
                ..config()
            },
            SimConfig {
                late_fraction: 1.5,
                ..config()
            },
            SimConfig {
                late_fraction: 0.1,
                out_of_order_ms: 60_000,
                ..config()
            },
            SimConfig {
                users: 0,
                ..config()
            },
            SimConfig {
                start_ms: i64::MAX,
                ..config()
            },
        ] {
            assert!(Generator::new(bad.clone()).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn page_urls() {
        assert_eq!(page_url(1), "/");
        assert_eq!(page_url(10), "/pricing");
        assert_eq!(page_url(11), "/products/11");
        assert_eq!(page_url(15), "/blog/post-15");
        assert_eq!(page_url(14), "/category/14");
    }
}
