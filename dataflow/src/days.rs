//! Complete days: `_SUCCESS` in a table's `dt=D` partition once a checkpoint proves day `D`
//! of that table complete.
//!
//! A written checkpoint with frontier `F` vouches for (see `docs/dataflow-design.md`, "Complete
//! days"): every event row (`raw_web_events`, `late_web_events`, `rejected_web_events`) read
//! before every partition's watermark passed `F` is committed, and every `page_analytics`
//! window ending at or before `F` is committed. So day `D` of a table is complete once a
//! checkpoint's `F` reaches [`complete_at`]: the end of `D` for the event tables, the end of
//! the last window starting on `D` for `page_analytics`.
//!
//! After every written checkpoint, and once at start-up from the restored one, the coordinator
//! (worker 0) runs a [`DayMarker`] pass: it lists the `dt=` partitions of each table and writes
//! `_SUCCESS` into every complete one that holds data and has no marker yet. It remembers which
//! partitions it knows to be marked, so a steady run lists the tables but never checks or
//! writes a marker twice. Markers come only after a checkpoint, so a crash between the two
//! loses nothing: the next pass (the start-up pass of the restarted run at the latest) writes
//! them. A day without rows has no partition and gets no marker.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use hive::{HiveTables, PartitionDate, Table};
use tokio::runtime::Handle;
use tokio::task::JoinHandle;

use crate::window::WindowSpec;

/// A day, ms.
pub const DAY_MS: i64 = 86_400_000;

/// Start of day `dt`, UTC epoch ms.
pub fn day_start_ms(dt: PartitionDate) -> i64 {
    dt.date()
        .and_time(chrono::NaiveTime::MIN)
        .and_utc()
        .timestamp_millis()
}

/// What decides when a day of a result table is complete.
#[derive(Debug, Clone, Copy)]
pub struct DayRules {
    /// Window assignment (`page_analytics`, `visitor_analytics`).
    pub window: WindowSpec,
    /// `--max-session-duration`, ms (`sessions`).
    pub max_session_ms: i64,
}

/// The smallest checkpoint frontier (UTC epoch ms) at which day `dt` of `table` is complete:
/// the end of the day for the event tables; for `page_analytics` and `visitor_analytics`
/// (whose `dt` is the date of `window_start`) the end of the last window starting on that
/// day — `end − slide + size` when the slide divides a day; for `sessions` (whose `dt` is the
/// date of `session_start`) the end of the day plus the longest session, by which every
/// session starting that day has closed.
pub fn complete_at(table: Table, dt: PartitionDate, rules: DayRules) -> i64 {
    let day_end = day_start_ms(dt) + DAY_MS;
    match table {
        Table::PageAnalytics | Table::VisitorAnalytics => {
            let slide = rules.window.slide_ms();
            let last_start = (day_end - 1).div_euclid(slide) * slide;
            last_start + rules.window.size_ms()
        }
        Table::Sessions => day_end.saturating_add(rules.max_session_ms),
        Table::RawWebEvents | Table::LateWebEvents | Table::RejectedWebEvents => day_end,
    }
}

/// What a `dt=` directory holds, as far as completeness goes.
struct PartitionContents {
    /// A `_SUCCESS` file.
    marked: bool,
    /// A data file (a name not starting with `_` or `.`).
    data: bool,
}

async fn contents(
    tables: &HiveTables,
    table: Table,
    dt: PartitionDate,
) -> Result<PartitionContents, hive::HiveError> {
    let files = tables.partition_files(table, dt).await?;
    Ok(PartitionContents {
        marked: files.iter().any(|n| n == "_SUCCESS"),
        data: files.iter().any(|n| !hive::hdfs::is_hidden(n)),
    })
}

type Known = Arc<Mutex<BTreeSet<(Table, PartitionDate)>>>;

/// Writes `_SUCCESS` into the partitions a checkpoint proves complete; one pass at a time,
/// in the background (on the process's tokio runtime).
pub struct DayMarker {
    tables: HiveTables,
    rules: DayRules,
    runtime: Handle,
    known: Known,
    running: Option<JoinHandle<()>>,
    queued: Option<i64>,
}

impl DayMarker {
    /// A marker for `tables` (through their HDFS client), with `rules`, running its passes on
    /// `runtime`. Makes no call to HDFS.
    pub fn new(tables: HiveTables, rules: DayRules, runtime: Handle) -> Self {
        DayMarker {
            tables,
            rules,
            runtime,
            known: Arc::default(),
            running: None,
            queued: None,
        }
    }

    /// Marks every day complete at `frontier_ms`, the frontier of a written checkpoint: now,
    /// or after the pass under way (the latest frontier wins).
    pub fn checkpoint_written(&mut self, frontier_ms: i64) {
        self.queued = self.queued.max(Some(frontier_ms));
        self.poll();
    }

    /// Starts the queued pass once the previous one has finished. Call it now and then.
    pub fn poll(&mut self) {
        if self.running.as_ref().is_some_and(|t| !t.is_finished()) {
            return;
        }
        self.running = None;
        let Some(frontier_ms) = self.queued.take() else {
            return;
        };
        let (tables, rules, known) = (self.tables.clone(), self.rules, self.known.clone());
        self.running = Some(self.runtime.spawn(async move {
            mark_complete_days(&tables, rules, frontier_ms, &known).await;
        }));
    }

    /// Whether no pass runs or waits.
    pub fn is_idle(&mut self) -> bool {
        self.poll();
        self.running.is_none() && self.queued.is_none()
    }
}

/// One pass: `_SUCCESS` into every partition complete at `frontier_ms` that holds data and has
/// none yet. Failures are logged; the next pass tries again.
async fn mark_complete_days(tables: &HiveTables, rules: DayRules, frontier_ms: i64, known: &Known) {
    let is_known = |table, dt| known.lock().is_ok_and(|k| k.contains(&(table, dt)));
    let remember = |table, dt| {
        if let Ok(mut k) = known.lock() {
            k.insert((table, dt));
        }
    };
    for table in Table::ALL {
        let dates = match tables.partition_dates(table).await {
            Ok(d) => d,
            Err(e) => {
                tracing::warn!(table = table.name(), error = %e, "cannot list partitions for _SUCCESS; trying again after the next checkpoint");
                continue;
            }
        };
        for dt in dates {
            if complete_at(table, dt, rules) > frontier_ms || is_known(table, dt) {
                continue;
            }
            match contents(tables, table, dt).await {
                Err(e) => {
                    tracing::warn!(table = table.name(), dt = %dt, error = %e, "cannot list a partition for _SUCCESS; trying again after the next checkpoint");
                }
                Ok(c) if c.marked => remember(table, dt),
                // An empty directory (its files were committed after a checkpoint and deleted
                // by recovery): no rows, no marker, until they are written again.
                Ok(c) if !c.data => {}
                Ok(_) => match tables.mark_day_complete(table, dt).await {
                    Ok(()) => {
                        metrics::counter!("wa_dataflow_days_marked_total", "table" => table.name())
                            .increment(1);
                        remember(table, dt);
                    }
                    Err(e) => {
                        tracing::warn!(table = table.name(), dt = %dt, error = %e, "writing _SUCCESS failed; trying again after the next checkpoint");
                    }
                },
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dt(s: &str) -> PartitionDate {
        PartitionDate::new(chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap())
    }

    fn r(window: WindowSpec) -> DayRules {
        DayRules {
            window,
            max_session_ms: 86_400_000,
        }
    }

    #[test]
    fn event_tables_are_complete_at_the_end_of_the_day() {
        let d = dt("2026-11-30");
        let end = day_start_ms(dt("2026-12-01"));
        assert_eq!(end - day_start_ms(d), DAY_MS);
        let window = WindowSpec::hopping(60_000, 20_000).unwrap();
        for table in [
            Table::RawWebEvents,
            Table::LateWebEvents,
            Table::RejectedWebEvents,
        ] {
            assert_eq!(complete_at(table, d, r(window)), end);
        }
    }

    #[test]
    fn page_analytics_waits_for_the_last_window_starting_on_the_day() {
        let d = dt("2026-11-30");
        let end = day_start_ms(dt("2026-12-01"));
        let tumbling = WindowSpec::tumbling(60_000).unwrap();
        assert_eq!(complete_at(Table::PageAnalytics, d, r(tumbling)), end);
        // Hopping 1 min / 20 s: the last window of the day starts at 23:59:40 and ends at
        // 00:00:40 the next day.
        let hopping = WindowSpec::hopping(60_000, 20_000).unwrap();
        assert_eq!(
            complete_at(Table::PageAnalytics, d, r(hopping)),
            end + 40_000
        );
        // A slide that does not divide a day (7 min): the last window starts at the last
        // multiple of the slide before the day's end.
        let odd = WindowSpec::hopping(840_000, 420_000).unwrap();
        let last_start = (end - 1).div_euclid(420_000) * 420_000;
        assert!(last_start < end && last_start + 420_000 >= end);
        assert_eq!(
            complete_at(Table::PageAnalytics, d, r(odd)),
            last_start + 840_000
        );
    }

    #[test]
    fn visitors_follow_windows_and_sessions_wait_for_the_longest_session() {
        let d = dt("2026-11-30");
        let end = day_start_ms(dt("2026-12-01"));
        let hopping = WindowSpec::hopping(60_000, 20_000).unwrap();
        assert_eq!(
            complete_at(Table::VisitorAnalytics, d, r(hopping)),
            complete_at(Table::PageAnalytics, d, r(hopping))
        );
        assert_eq!(
            complete_at(Table::Sessions, d, r(hopping)),
            end + 86_400_000
        );
    }
}
