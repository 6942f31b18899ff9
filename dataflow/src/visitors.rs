//! Unique visitors: distinct `user_id`s and events per page (and for the whole site) and
//! window, exact (users are told apart by a keyed 128-bit digest, see below).
//!
//! Two operators, each keeping only what a window needs until it closes:
//!
//! 1. **`VisitorDistinct`** — visits are exchanged by a hash of `user_id`, so every visit of
//!    one user reaches the same worker and the workers' user sets are disjoint. Each worker
//!    keeps, per open window, the set of users seen on each page and on the site, and the
//!    events per page. When the input frontier passes `window_end − 1` (no visit of the window
//!    can still come: a visit travels at a time at or below its event time), it emits its
//!    partial figures for the window — distinct users and events per page and for the site —
//!    and drops the window's sets.
//! 2. **`VisitorSum`** — the partials are exchanged by `(scope, window)` and added up. Because
//!    the workers' user sets are disjoint, the sum of their distinct counts is the distinct
//!    count of the window. The sums go out as [`VisitorFigure`]s at `window_end − 1` once the
//!    frontier has passed it.
//!
//! Counting distinct users is an insertion into a hash set per visit and window (page and
//! site): no sorting and no retractions. The sets hold a user's [`Digest`] (16 bytes, inline,
//! under keys drawn at random per worker), not a copy of the `user_id`: no allocation per
//! entry and no string comparison per lookup; two users count as one only if their digests
//! collide ([`crate::digest`] says why that does not happen). (The first version arranged `(scope, window, user)` updates in differential
//! dataflow's `distinct_total`; its merge sorts of string keys were a fifth of the pipeline's
//! CPU.)
//!
//! - **State** is the open windows × distinct (page, user) pairs plus one site entry per user,
//!   released as windows close. The gauge `wa_dataflow_visitor_state_keys{worker}` is the
//!   number of entries a worker holds.
//! - **Restarts** need nothing of their own: the windows open at a checkpoint's frontier are
//!   re-read from the resume offsets, as for `page_analytics`, and windows ending at or before
//!   it are not produced again. The counts do not depend on the order visits arrive in, so any
//!   worker count gives the same figures.

use std::collections::hash_map::DefaultHasher;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::hash::{Hash, Hasher};

use timely::container::CapacityContainerBuilder;
use timely::dataflow::channels::pact::Exchange;
use timely::dataflow::operators::generic::Operator;
use timely::dataflow::operators::Capability;
use timely::dataflow::Stream;

use crate::digest::{BuildDigestHasher, Digest, DigestKeys};
use crate::source::to_time;
use crate::visit::Visit;
use crate::window::WindowSpec;

/// `(scope, window_start, window_end)`: scope `None` is the whole site; times UTC epoch ms.
pub type ScopeWindow = (Option<String>, i64, i64);

/// A final figure of one `(scope, window)`: `(scope window, is_visitors, value)` —
/// `unique_visitors` when the flag is set, `events` otherwise.
pub type VisitorFigure = (ScopeWindow, bool, i64);

/// One worker's share of a `(scope, window)`: `(scope window, distinct users, events)`.
pub type VisitorPartial = (ScopeWindow, i64, i64);

/// Which windows are produced.
#[derive(Debug, Clone, Copy)]
pub struct VisitorSettings {
    /// Window assignment (the same as `page_analytics`).
    pub window: WindowSpec,
    /// Windows ending at or before this (UTC epoch ms) were committed before a restart.
    pub skip_windows_until: i64,
    /// Windows ending after this (UTC epoch ms) are left for a later run.
    pub stop_at_ms: Option<i64>,
}

impl VisitorSettings {
    /// Whether the window ending at `end_ms` is produced by this run.
    fn produces(&self, end_ms: i64) -> bool {
        end_ms > self.skip_windows_until && self.stop_at_ms.is_none_or(|t| end_ms <= t)
    }
}

/// The hasher of the per-window page maps: fast, not keyed against flooding (the maps only
/// pick buckets; the exchange uses [`hash_of`], which is the same in every process).
type FastHash = foldhash::fast::RandomState;

/// A hash that every process computes alike (SipHash with fixed keys), for the exchanges.
fn hash_of<T: Hash + ?Sized>(value: &T) -> u64 {
    let mut h = DefaultHasher::new();
    value.hash(&mut h);
    h.finish()
}

/// Users and events of one page in one window, on one worker.
#[derive(Debug, Default)]
struct PageTally {
    users: HashSet<Digest, BuildDigestHasher>,
    events: i64,
}

/// One open window on one worker.
#[derive(Debug)]
pub struct OpenWindow {
    start_ms: i64,
    pages: HashMap<Box<str>, PageTally, FastHash>,
    site_users: HashSet<Digest, BuildDigestHasher>,
    site_events: i64,
}

impl OpenWindow {
    /// An empty window starting at `start_ms`.
    pub fn new(start_ms: i64) -> Self {
        OpenWindow {
            start_ms,
            pages: HashMap::default(),
            site_users: HashSet::default(),
            site_events: 0,
        }
    }

    /// Counts one visit on `page_url` of the user whose `user_id` has digest `user` (under
    /// keys shared by every window of this worker).
    pub fn add(&mut self, page_url: &str, user: Digest) {
        let page = match self.pages.get_mut(page_url) {
            Some(p) => p,
            None => self.pages.entry(page_url.into()).or_default(),
        };
        page.events += 1;
        page.users.insert(user);
        self.site_events += 1;
        self.site_users.insert(user);
    }

    /// Entries held: (page, user) pairs plus site users.
    pub fn entries(&self) -> usize {
        self.site_users.len() + self.pages.values().map(|p| p.users.len()).sum::<usize>()
    }

    /// This worker's partial figures of the window ending at `end_ms`: one per page seen and
    /// one for the site, sorted by scope.
    pub fn partials(self, end_ms: i64) -> Vec<VisitorPartial> {
        let start = self.start_ms;
        let mut out: Vec<VisitorPartial> = self
            .pages
            .into_iter()
            .map(|(page, t)| {
                (
                    (Some(page.into_string()), start, end_ms),
                    t.users.len() as i64,
                    t.events,
                )
            })
            .collect();
        if self.site_events > 0 {
            out.push((
                (None, start, end_ms),
                self.site_users.len() as i64,
                self.site_events,
            ));
        }
        out.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        out
    }
}

/// Distinct users and events per `(scope, window)` of `visits`, as `(figure, window_end − 1)`
/// once final (module docs).
pub fn visitor_counts<'scope>(
    visits: Stream<'scope, u64, Vec<Visit>>,
    s: VisitorSettings,
) -> Stream<'scope, u64, Vec<(VisitorFigure, u64)>> {
    visitor_sum(visitor_distinct(visits, s))
}

/// Stage 1: per worker, the distinct users of its share of the users (module docs).
fn visitor_distinct<'scope>(
    visits: Stream<'scope, u64, Vec<Visit>>,
    s: VisitorSettings,
) -> Stream<'scope, u64, Vec<VisitorPartial>> {
    let worker = visits.scope().index().to_string();
    let pact = Exchange::new(|v: &Visit| hash_of(v.user_id()));
    visits.unary_frontier::<CapacityContainerBuilder<Vec<VisitorPartial>>, _, _, _>(
        pact,
        "VisitorDistinct",
        move |_, _| {
            let keys = DigestKeys::random();
            // Open windows by window_end, each with the capability its partials go out at.
            let mut open: BTreeMap<i64, (Capability<u64>, OpenWindow)> = BTreeMap::new();
            move |(input, frontier), output| {
                input.for_each_stamp(|cap, data| {
                    for container in data {
                        for v in container.drain(..) {
                            let user = keys.digest(v.user_id());
                            for w in s.window.windows_of(v.event_time_ms) {
                                if !s.produces(w.end_ms) {
                                    continue;
                                }
                                let (_, window) = open.entry(w.end_ms).or_insert_with(|| {
                                    (
                                        cap.delayed(&to_time(w.end_ms - 1), 0),
                                        OpenWindow::new(w.start_ms),
                                    )
                                });
                                window.add(v.page_url(), user);
                            }
                        }
                    }
                });
                while let Some((&end, _)) = open.first_key_value() {
                    if frontier.less_equal(&to_time(end - 1)) {
                        break;
                    }
                    if let Some((end, (cap, window))) = open.pop_first() {
                        output
                            .session(&cap)
                            .give_iterator(window.partials(end).into_iter());
                    }
                }
                metrics::gauge!("wa_dataflow_visitor_state_keys", "worker" => worker.clone())
                    .set(open.values().map(|(_, w)| w.entries()).sum::<usize>() as f64);
            }
        },
    )
}

/// `(scope window) → (distinct users, events)` summed over the workers' partials.
type WindowSums = HashMap<ScopeWindow, (i64, i64)>;

/// Stage 2: the workers' partials of each `(scope, window)` added up (module docs).
fn visitor_sum<'scope>(
    partials: Stream<'scope, u64, Vec<VisitorPartial>>,
) -> Stream<'scope, u64, Vec<(VisitorFigure, u64)>> {
    let pact = Exchange::new(|p: &VisitorPartial| hash_of(&p.0));
    partials.unary_frontier::<CapacityContainerBuilder<Vec<(VisitorFigure, u64)>>, _, _, _>(
        pact,
        "VisitorSum",
        move |_, _| {
            // By window_end: the capability at window_end − 1 and the sums so far.
            let mut sums: BTreeMap<i64, (Capability<u64>, WindowSums)> = BTreeMap::new();
            move |(input, frontier), output| {
                input.for_each_stamp(|cap, data| {
                    for container in data {
                        for (key, users, events) in container.drain(..) {
                            let (_, window) = sums.entry(key.2).or_insert_with(|| {
                                (cap.delayed(&to_time(key.2 - 1), 0), HashMap::new())
                            });
                            let sum = window.entry(key).or_insert((0, 0));
                            sum.0 += users;
                            sum.1 += events;
                        }
                    }
                });
                while let Some((&end, _)) = sums.first_key_value() {
                    if frontier.less_equal(&to_time(end - 1)) {
                        break;
                    }
                    if let Some((end, (cap, window))) = sums.pop_first() {
                        let time = to_time(end - 1);
                        let mut rows: Vec<_> = window.into_iter().collect();
                        rows.sort_unstable_by(|a, b| a.0.cmp(&b.0));
                        let mut session = output.session(&cap);
                        for (key, (users, events)) in rows {
                            session.give(((key.clone(), false, events), time));
                            session.give(((key, true, users), time));
                        }
                    }
                }
            }
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_counts_distinct_users_per_page_and_site() {
        let keys = DigestKeys::random();
        let mut w = OpenWindow::new(0);
        for (page, user) in [("/a", "u1"), ("/a", "u1"), ("/a", "u2"), ("/b", "u1")] {
            w.add(page, keys.digest(user));
        }
        assert_eq!(w.entries(), 3 + 2);
        assert_eq!(
            w.partials(60_000),
            vec![
                ((None, 0, 60_000), 2, 4),
                ((Some("/a".into()), 0, 60_000), 2, 3),
                ((Some("/b".into()), 0, 60_000), 1, 1),
            ]
        );
    }

    #[test]
    fn an_empty_window_has_no_partials() {
        assert!(OpenWindow::new(0).partials(60_000).is_empty());
    }

    #[test]
    fn settings_skip_committed_and_later_windows() {
        let s = VisitorSettings {
            window: WindowSpec::tumbling(60_000).unwrap(),
            skip_windows_until: 60_000,
            stop_at_ms: Some(180_000),
        };
        assert!(!s.produces(60_000));
        assert!(s.produces(120_000));
        assert!(s.produces(180_000));
        assert!(!s.produces(240_000));
    }
}
