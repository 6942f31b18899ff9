//! Unique visitors: distinct `user_id`s and events per page (and for the whole site) and
//! window, exact, updated by differential dataflow.
//!
//! - **Combine before the exchange.** [`visitor_updates`] folds the visits of one input batch
//!   (one source activation) into `(scope, window_start, window_end, user_id) → events`, where
//!   `scope` is `Some(page_url)` or `None` (the site), and emits each entry once as `+n` at
//!   `window_end − 1` and `−n` at `window_end` — the trick the window counts use: the
//!   retraction lets every arrangement release the window once it is closed. So a (page,
//!   user) pair crosses the exchange once per batch, not once per event.
//! - **Counting.** [`visitor_counts`]: `events` = the count per `(scope, window)`;
//!   `unique_visitors` = the count of `distinct` `(scope, window, user)` per
//!   `(scope, window)`. Both are final at `window_end − 1` once the frontier passes it.
//! - **State** is the open windows × distinct (page, user) pairs plus one site key per user;
//!   it falls back to nothing as windows close. The gauge `wa_dataflow_visitor_state_keys`
//!   follows it from above: the keys each worker sent into windows still open (a key sent
//!   in two batches counts twice).
//! - **Restarts** need nothing of their own: the windows open at a checkpoint's frontier are
//!   re-read from the resume offsets, as for `page_analytics`, and windows ending at or before
//!   it are not produced again.

use std::collections::{BTreeMap, HashMap};

use differential_dataflow::collection::AsCollection;
use differential_dataflow::operators::{CountTotal, ThresholdTotal};
use timely::container::CapacityContainerBuilder;
use timely::dataflow::channels::pact::Pipeline;
use timely::dataflow::operators::generic::Operator;
use timely::dataflow::operators::vec::Map;
use timely::dataflow::operators::Concat;
use timely::dataflow::Stream;

use crate::source::to_time;
use crate::visit::Visit;
use crate::window::WindowSpec;

/// `(scope, window_start, window_end, user_id)`: scope `None` is the whole site.
pub type VisitorKey = (Option<String>, i64, i64, String);

/// `(scope, window_start, window_end)`.
pub type ScopeWindow = (Option<String>, i64, i64);

/// A final figure of one `(scope, window)`: `(scope window, is_visitors, value)` —
/// `unique_visitors` when the flag is set, `events` otherwise.
pub type VisitorFigure = (ScopeWindow, bool, i64);

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

/// Folds each input batch into per-(scope, window, user) updates (module docs).
pub fn visitor_updates<'scope>(
    visits: Stream<'scope, u64, Vec<Visit>>,
    s: VisitorSettings,
) -> Stream<'scope, u64, Vec<(VisitorKey, u64, i64)>> {
    let worker = visits.scope().index().to_string();
    visits.unary_frontier::<CapacityContainerBuilder<Vec<(VisitorKey, u64, i64)>>, _, _, _>(
        Pipeline,
        "VisitorCombine",
        move |_, _| {
            let mut combined: HashMap<VisitorKey, i64> = HashMap::new();
            // Keys sent per window end, until the frontier passes the window.
            let mut sent: BTreeMap<i64, u64> = BTreeMap::new();
            move |(input, frontier), output| {
                input.for_each_stamp(|cap, data| {
                    for container in data {
                        for v in container.drain(..) {
                            for w in s.window.windows_of(v.event_time_ms) {
                                if w.end_ms <= s.skip_windows_until
                                    || s.stop_at_ms.is_some_and(|t| w.end_ms > t)
                                {
                                    continue;
                                }
                                *combined
                                    .entry((
                                        Some(v.page_url.clone()),
                                        w.start_ms,
                                        w.end_ms,
                                        v.user_id.clone(),
                                    ))
                                    .or_insert(0) += 1;
                                *combined
                                    .entry((None, w.start_ms, w.end_ms, v.user_id.clone()))
                                    .or_insert(0) += 1;
                            }
                        }
                    }
                    let mut session = output.session(&cap);
                    for (key, n) in combined.drain() {
                        let end = key.2;
                        *sent.entry(end).or_insert(0) += 1;
                        session.give((key.clone(), to_time(end - 1), n));
                        session.give((key, to_time(end), -n));
                    }
                });
                while let Some((&end, _)) = sent.first_key_value() {
                    if frontier.less_equal(&to_time(end)) {
                        break;
                    }
                    sent.pop_first();
                }
                metrics::gauge!("wa_dataflow_visitor_state_keys", "worker" => worker.clone())
                    .set(sent.values().sum::<u64>() as f64);
            }
        },
    )
}

/// Distinct users and events per `(scope, window)` from [`visitor_updates`]'s output, as
/// `(figure, window_end − 1)` once final (the retractions at `window_end` are dropped).
pub fn visitor_counts<'scope>(
    updates: Stream<'scope, u64, Vec<(VisitorKey, u64, i64)>>,
) -> Stream<'scope, u64, Vec<(VisitorFigure, u64)>> {
    let updates = updates.as_collection();
    let events = updates
        .clone()
        .map(|(scope, start, end, _user)| (scope, start, end))
        .count_total()
        .inner
        .flat_map(|((key, n), time, diff)| (diff > 0).then_some(((key, false, n), time)));
    let visitors = updates
        .distinct_total()
        .map(|(scope, start, end, _user)| (scope, start, end))
        .count_total()
        .inner
        .flat_map(|((key, n), time, diff)| (diff > 0).then_some(((key, true, n as i64), time)));
    events.concat(visitors)
}
