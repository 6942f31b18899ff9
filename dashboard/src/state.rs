//! What the dashboard knows, shared by the feed consumer, the scraper and the HTTP handlers:
//! the [`Model`] of the feed, the feed's counters and each process's last scrape. Every
//! change bumps a version on a `watch` channel, which the `/events` streams wait on.

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};

use tokio::sync::watch;

use crate::metrics::Figures;
use crate::model::Model;
use crate::record::{parse_record, MalformedRecord};
use crate::snapshot::{FeedStats, Health, PartitionHealth, ProcessHealth, Snapshot, Time};

/// One scraped process.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Process {
    /// Its metrics URL.
    pub url: String,
    /// The figures of its last page read; kept while it is unreachable.
    pub figures: Option<Figures>,
    /// Whether the last scrape succeeded.
    pub up: bool,
    /// Last success when up, first failure of the current failures when down (UTC epoch ms).
    pub since: Option<i64>,
    /// Why the last scrape failed.
    pub error: Option<String>,
}

/// The dashboard's state. Cheap to lock: every lock is held for one update or one snapshot.
#[derive(Debug)]
pub struct State {
    model: Mutex<Model>,
    feed: Mutex<FeedStats>,
    processes: Mutex<Vec<Process>>,
    version: watch::Sender<u64>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding a lock leaves plain data behind, still consistent enough to show.
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl State {
    /// An empty state scraping `urls` (none scraped yet).
    pub fn new(urls: &[String]) -> State {
        let processes = urls
            .iter()
            .map(|url| Process {
                url: url.clone(),
                ..Process::default()
            })
            .collect();
        State {
            model: Mutex::new(Model::new()),
            feed: Mutex::new(FeedStats::default()),
            processes: Mutex::new(processes),
            version: watch::Sender::new(0),
        }
    }

    /// A receiver that sees every change (the version is bumped).
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.version.subscribe()
    }

    fn changed(&self) {
        self.version.send_modify(|v| *v = v.wrapping_add(1));
    }

    /// Reads one feed record read at `now_ms` (wall clock) into the model.
    ///
    /// # Errors
    /// The record is malformed: it is counted in `feed.malformed` and skipped.
    pub fn apply_record(
        &self,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        now_ms: i64,
    ) -> Result<(), MalformedRecord> {
        let row = parse_record(key, value);
        {
            let mut feed = lock(&self.feed);
            feed.records += 1;
            feed.last_record_at = Some(Time(now_ms));
            if row.is_err() {
                feed.malformed += 1;
            }
        }
        let result = row.map(|row| {
            lock(&self.model).upsert(row);
        });
        self.changed();
        result
    }

    /// Records the scrape of process `index` at `now_ms`: its figures, or why it failed.
    pub fn apply_scrape(&self, index: usize, now_ms: i64, result: Result<Figures, String>) {
        {
            let mut processes = lock(&self.processes);
            let Some(p) = processes.get_mut(index) else {
                return;
            };
            match result {
                Ok(figures) => {
                    p.figures = Some(figures);
                    p.up = true;
                    p.since = Some(now_ms);
                    p.error = None;
                }
                Err(error) => {
                    if p.up || p.since.is_none() {
                        p.since = Some(now_ms);
                    }
                    p.up = false;
                    p.error = Some(error);
                }
            }
        }
        self.changed();
    }

    /// The snapshot at `now_ms` (wall clock).
    pub fn snapshot(&self, now_ms: i64) -> Snapshot {
        let (edge, window, windows, top_pages, sessions) = {
            let model = lock(&self.model);
            (
                model.edge().map(Time),
                model.window_shape(),
                model.windows(),
                model.top_pages(),
                model.sessions(),
            )
        };
        let feed = lock(&self.feed).clone();
        let processes = lock(&self.processes).clone();
        let (late, rejected, health) = health(&processes, now_ms);
        Snapshot {
            generated_at: Time(now_ms),
            edge,
            window,
            windows,
            top_pages,
            sessions,
            late_total: late.values().sum(),
            late,
            rejected_total: rejected.values().sum(),
            rejected,
            health,
            feed,
        }
    }
}

/// Late and rejected counts and the health panel, from the processes' last figures.
///
/// Counters are summed over every process with figures, the unreachable ones' last figures
/// included (what they had counted stays counted). A partition reported by several processes
/// (it moved) takes the figures of a reachable one. Paused workers are counted on reachable
/// processes only. Times are the largest over the processes.
fn health(
    processes: &[Process],
    now_ms: i64,
) -> (BTreeMap<String, u64>, BTreeMap<String, u64>, Health) {
    let (mut late, mut rejected) = (BTreeMap::new(), BTreeMap::new());
    let mut partitions: BTreeMap<i32, (Option<i64>, Option<i64>)> = BTreeMap::new();
    let (mut frontier, mut written, mut published) = (None, None, None);
    let mut paused_workers = 0;
    // Unreachable processes first, so a reachable one's partition figures win.
    let mut ordered: Vec<&Process> = processes.iter().collect();
    ordered.sort_by_key(|p| p.up);
    for p in ordered {
        let Some(f) = &p.figures else { continue };
        for (reason, n) in &f.late {
            *late.entry(reason.clone()).or_default() += n;
        }
        for (reason, n) in &f.rejected {
            *rejected.entry(reason.clone()).or_default() += n;
        }
        let reported: std::collections::BTreeSet<i32> = f
            .watermarks_ms
            .keys()
            .chain(f.lags.keys())
            .copied()
            .collect();
        for partition in reported {
            partitions.insert(
                partition,
                (
                    f.watermarks_ms.get(&partition).copied(),
                    f.lags.get(&partition).copied(),
                ),
            );
        }
        frontier = frontier.max(f.checkpoint_frontier_ms);
        written = written.max(f.checkpoint_written_ms);
        published = published.max(f.feed_published_ms);
        if p.up {
            paused_workers += f.reading_paused.values().filter(|&&paused| paused).count() as u64;
        }
    }
    let health = Health {
        partitions: partitions
            .into_iter()
            .map(|(partition, (watermark, lag))| PartitionHealth {
                partition: partition.to_string(),
                watermark: watermark.map(Time),
                watermark_behind_ms: watermark.map(|w| now_ms - w),
                lag,
            })
            .collect(),
        checkpoint_frontier: frontier.map(Time),
        checkpoint_written_at: written.map(Time),
        feed_published: published.map(Time),
        paused_workers,
        processes: processes
            .iter()
            .map(|p| ProcessHealth {
                url: p.url.clone(),
                up: p.up,
                since: p.since.map(Time),
                error: p.error.clone(),
            })
            .collect(),
    };
    (late, rejected, health)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn figures(partition: i32, watermark: i64, late: u64, paused: bool) -> Figures {
        Figures {
            watermarks_ms: BTreeMap::from([(partition, watermark)]),
            lags: BTreeMap::from([(partition, 5)]),
            checkpoint_frontier_ms: Some(watermark - 10),
            late: BTreeMap::from([("behind_watermark".into(), late)]),
            reading_paused: BTreeMap::from([("0".into(), paused)]),
            ..Figures::default()
        }
    }

    #[test]
    fn processes_are_summed_and_an_unreachable_one_keeps_its_last_figures() {
        let urls = ["http://a/metrics".to_owned(), "http://b/metrics".to_owned()];
        let state = State::new(&urls);
        let mut changes = state.subscribe();
        state.apply_scrape(0, 1_000, Ok(figures(0, 500, 2, true)));
        state.apply_scrape(1, 1_000, Ok(figures(1, 700, 3, true)));
        assert!(changes.has_changed().unwrap());
        changes.mark_unchanged();
        state.apply_scrape(1, 3_000, Err("connection refused".into()));
        state.apply_scrape(1, 5_000, Err("connection refused".into()));
        assert!(changes.has_changed().unwrap());
        let snapshot = state.snapshot(10_000);
        assert_eq!(snapshot.late_total, 5);
        let h = &snapshot.health;
        let parts: Vec<_> = h
            .partitions
            .iter()
            .map(|p| {
                (
                    p.partition.as_str(),
                    p.watermark,
                    p.watermark_behind_ms,
                    p.lag,
                )
            })
            .collect();
        assert_eq!(
            parts,
            [
                ("0", Some(Time(500)), Some(9_500), Some(5)),
                ("1", Some(Time(700)), Some(9_300), Some(5))
            ]
        );
        assert_eq!(h.checkpoint_frontier, Some(Time(690)));
        assert_eq!(
            h.paused_workers, 1,
            "the unreachable process's workers are not counted"
        );
        assert_eq!(
            h.processes[1],
            ProcessHealth {
                url: urls[1].clone(),
                up: false,
                since: Some(Time(3_000)),
                error: Some("connection refused".into()),
            }
        );
        assert_eq!(
            (h.processes[0].up, h.processes[0].since),
            (true, Some(Time(1_000)))
        );
    }

    #[test]
    fn malformed_records_are_counted_and_skipped() {
        let state = State::new(&[]);
        let key =
            br#"["visitor_analytics",null,"2026-01-01T00:00:00.000Z","2026-01-01T00:01:00.000Z"]"#;
        let value = br#"{"table":"visitor_analytics","page_url":null,"window_start":"2026-01-01T00:00:00.000Z","window_end":"2026-01-01T00:01:00.000Z","unique_visitors":3,"events":9,"dt":"2026-01-01"}"#;
        assert!(state.apply_record(Some(key), Some(value), 42).is_ok());
        assert!(state.apply_record(Some(key), Some(value), 43).is_ok());
        assert!(state.apply_record(Some(b"[]"), Some(b"{"), 44).is_err());
        let s = state.snapshot(50);
        assert_eq!(
            s.feed,
            FeedStats {
                records: 3,
                malformed: 1,
                last_record_at: Some(Time(44))
            }
        );
        assert_eq!(s.windows.len(), 1);
        assert_eq!(s.edge, Some(Time(1_767_225_660_000)));
        let json = serde_json::to_value(&s).unwrap();
        let keys: Vec<&str> = json
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        let mut want = [
            "generated_at",
            "edge",
            "window",
            "windows",
            "top_pages",
            "sessions",
            "late",
            "late_total",
            "rejected",
            "rejected_total",
            "health",
            "feed",
        ];
        want.sort_unstable();
        assert_eq!(keys, want, "serde_json sorts keys");
        assert_eq!(json["window"]["label"], "per 1 min");
        assert_eq!(json["sessions"]["bounce_rate"], serde_json::Value::Null);
        assert_eq!(json["edge"], "2026-01-01T00:01:00.000Z");
    }
}
