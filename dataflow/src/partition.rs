//! One Kafka partition as a source reads it: every record judged in log order, the same way on
//! a first reading and on a replay after a restart.
//!
//! For each record, in this order:
//!
//! 1. **Valid or rejected** — [`events::parse`], then the bound on the future
//!    ([`events::check_future_skew`]): an event more than `--max-future-skew` ahead of its
//!    ingestion time (the Kafka record timestamp) is rejected as `event_time_in_future` and never
//!    touches the watermark.
//! 2. **Duplicate or first copy** — [`crate::dedup`]: a second copy of an `event_id` within the
//!    horizon goes nowhere (counted only).
//! 3. **On time or late** — [`crate::watermark`]: on-time events count in their windows, late
//!    ones become `late_web_events` rows.
//! 4. **Rows** — every valid first copy is a `raw_web_events` row, every rejected record a
//!    `rejected_web_events` row.
//!
//! **Replays.** A partition restored from a checkpoint is read again from `replay_from`:
//! records before `resume_offset` only rebuild the deduplication state; from `resume_offset` on
//! they are judged again — with the idle advances the first reading made, repeated at the
//! offsets where it made them ([`IdleAdvance`]) — and feed the windows; only from `read_offset`
//! on do they produce rows, which were committed below it. So every decision on a replay is
//! the one the first reading made: the wall clock, which drove the idle policy, is read only
//! at the end of the log.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;
use std::time::Instant;

use crate::checkpoint::{IdleAdvance, OpenWindow, PartitionCheckpoint, PartitionCut};
use crate::dedup::Deduplicator;
use crate::rows::{RejectedRow, RowBuffer};
use crate::visit::Visit;
use crate::watermark::{Lateness, PartitionWatermark};
use crate::window::WindowSpec;

/// `(page_url, event_type, window_start, window_end)`; times UTC epoch ms.
pub type WindowKey = (String, String, i64, i64);

/// The window counts of one activation: events per [`WindowKey`]. Looked up by borrowed
/// strings, so an event copies its page and type only when its key is new to the activation.
pub type WindowCounts = hashbrown::HashMap<WindowKey, i64, foldhash::fast::FixedState>;

/// A [`WindowKey`] borrowed from an event; hashes as the owned key does (a `String` hashes as
/// its `str`).
#[derive(Hash)]
struct WindowKeyRef<'a>(&'a str, &'a str, i64, i64);

impl hashbrown::Equivalent<WindowKey> for WindowKeyRef<'_> {
    fn equivalent(&self, key: &WindowKey) -> bool {
        self.0 == key.0 && self.1 == key.1 && self.2 == key.2 && self.3 == key.3
    }
}

impl WindowKeyRef<'_> {
    /// Adds one event to this key's count in `counts`.
    fn count_in(self, counts: &mut WindowCounts) {
        match counts.get_mut(&self) {
            Some(n) => *n += 1,
            None => {
                counts.insert((self.0.to_owned(), self.1.to_owned(), self.2, self.3), 1);
            }
        }
    }
}

/// The rules every partition of a run is judged by.
#[derive(Debug, Clone)]
pub struct Rules {
    /// Window assignment.
    pub window: WindowSpec,
    /// `--max-out-of-orderness`, ms.
    pub max_out_of_orderness_ms: i64,
    /// `--max-future-skew`, ms: how far an event may be ahead of its ingestion time.
    pub max_future_skew_ms: i64,
    /// `--dedup-horizon`, ms (0: no deduplication).
    pub dedup_horizon_ms: i64,
    /// Windows ending at or before this were committed before the restart (checkpoint `F`),
    /// UTC epoch ms.
    pub skip_windows_until: i64,
    /// `--stop-at-watermark`: windows ending after it are left for the next run.
    pub stop_at_ms: Option<i64>,
}

/// What one activation's records added up to, for metrics and the status line (first
/// readings only: a replay counts nothing twice).
#[derive(Debug, Default)]
pub struct Tally {
    /// Records read for the first time.
    pub fresh: u64,
    /// Valid first copies among them.
    pub valid: u64,
    /// Late events among them.
    pub late: u64,
    /// Duplicate copies among them.
    pub duplicates: u64,
    /// Rejected records among them, by reason.
    pub rejected: HashMap<&'static str, u64>,
}

/// One Kafka record, as [`PartitionState::read`] takes it.
#[derive(Debug, Clone, Copy)]
pub struct Record<'a> {
    /// Its offset.
    pub offset: i64,
    /// Its value (empty for a null value).
    pub value: &'a [u8],
    /// Its Kafka record timestamp — the ingestion time — UTC epoch ms, when it has one.
    pub ingest_time_ms: Option<i64>,
    /// The wall clock of the activation that read it, UTC epoch ms (for rejected rows).
    pub seen_at_ms: i64,
}

/// One Kafka partition being read.
pub struct PartitionState {
    /// Kafka partition.
    pub id: i32,
    /// Its watermark.
    pub watermark: PartitionWatermark,
    /// Next offset to read.
    pub next_offset: i64,
    /// Rows below this offset are committed (the checkpoint's `read_offset`).
    pub replay_until: i64,
    /// Records below this offset only rebuild the deduplication state (`resume_offset`).
    windows_from: i64,
    /// Since when the partition has been at the end of its log, if it is.
    pub caught_up_since: Option<Instant>,
    /// Windows with on-time events read and not yet known to be checkpointed, by `window_end`.
    pub open: BTreeMap<i64, OpenWindow>,
    /// Event rows since the last cut.
    pub rows: RowBuffer,
    dedup: Deduplicator,
    /// Idle advances made (or restored) from the oldest open window's first offset on.
    idle: Vec<IdleAdvance>,
    /// Idle advances of the first reading that this replay has still to repeat.
    replay_idle: VecDeque<IdleAdvance>,
}

impl PartitionState {
    /// A partition starting at `start` with nothing read before (no checkpoint).
    pub fn fresh(id: i32, topic: Arc<str>, start: i64, rules: &Rules) -> Self {
        PartitionState {
            id,
            watermark: PartitionWatermark::new(rules.max_out_of_orderness_ms),
            next_offset: start,
            replay_until: start,
            windows_from: start,
            caught_up_since: None,
            open: BTreeMap::new(),
            rows: RowBuffer::new(topic, id),
            dedup: Deduplicator::new(rules.dedup_horizon_ms),
            idle: Vec::new(),
            replay_idle: VecDeque::new(),
        }
    }

    /// A partition restored from its checkpoint entry: reading starts at
    /// [`PartitionCheckpoint::start_offset`].
    pub fn restored(id: i32, topic: Arc<str>, c: &PartitionCheckpoint, rules: &Rules) -> Self {
        PartitionState {
            watermark: PartitionWatermark::from_state(
                rules.max_out_of_orderness_ms,
                c.resume_state,
            ),
            next_offset: c.start_offset(),
            replay_until: c.read_offset,
            windows_from: c.resume_offset,
            idle: c.idle.clone(),
            replay_idle: c.idle.iter().copied().collect(),
            ..PartitionState::fresh(id, topic, c.start_offset(), rules)
        }
    }

    /// Whether records below the committed offset are still being read again.
    pub fn replaying(&self) -> bool {
        self.next_offset < self.replay_until
    }

    /// Reads the record at `offset` (its value, and its Kafka timestamp — the ingestion time —
    /// in UTC epoch ms), judging it by the rules in the module docs. Window counts go into
    /// `counts`, on-time events into `visits` (for the visitor and session operators), rows
    /// into [`PartitionState::rows`], figures into `tally`. `seen_at_ms` is the wall clock of
    /// this activation (for rejected rows).
    pub fn read(
        &mut self,
        record: Record<'_>,
        rules: &Rules,
        counts: &mut WindowCounts,
        visits: &mut Vec<Visit>,
        tally: &mut Tally,
    ) {
        let Record {
            offset,
            value,
            ingest_time_ms,
            seen_at_ms,
        } = record;
        self.next_offset = offset + 1;
        self.caught_up_since = None;
        let first_reading = offset >= self.replay_until;
        if first_reading {
            tally.fresh += 1;
        }
        let parsed = events::parse(value).and_then(|event| {
            events::check_future_skew(&event, ingest_time_ms, rules.max_future_skew_ms)
                .map(|()| event)
        });
        let event = match parsed {
            Ok(event) => event,
            Err(rejection) => {
                if first_reading {
                    *tally.rejected.entry(rejection.reason.as_str()).or_insert(0) += 1;
                    self.rows.push_rejected(RejectedRow {
                        raw_value: value.to_vec(),
                        rejection,
                        offset,
                        kafka_timestamp_ms: ingest_time_ms,
                        seen_at_ms,
                    });
                }
                return;
            }
        };
        if offset < self.windows_from {
            // Before the resume offset: only the deduplication state is rebuilt.
            self.dedup
                .remember(&event.event_id, event.event_time_ms, offset);
            return;
        }
        while self
            .replay_idle
            .front()
            .is_some_and(|a| a.at_offset <= offset)
        {
            if let Some(a) = self.replay_idle.pop_front() {
                self.watermark.advance_idle_to(a.watermark_ms);
            }
        }
        let before = self.watermark.state();
        if self.dedup.observe(
            &event.event_id,
            event.event_time_ms,
            offset,
            before.max_event_time_ms,
        ) {
            if first_reading {
                tally.duplicates += 1;
            }
            return;
        }
        match self.watermark.observe(event.event_time_ms) {
            Lateness::OnTime => {
                visits.push(Visit::of(&event, self.id, offset));
                for w in rules.window.windows_of(event.event_time_ms) {
                    if w.end_ms <= rules.skip_windows_until {
                        continue; // committed before the restart
                    }
                    if let std::collections::btree_map::Entry::Vacant(slot) =
                        self.open.entry(w.end_ms)
                    {
                        slot.insert(OpenWindow {
                            window_end_ms: w.end_ms,
                            first_offset: offset,
                            state: before,
                            dedup_from: self.dedup.rebuild_from(before.max_event_time_ms),
                        });
                    }
                    if rules.stop_at_ms.is_some_and(|t| w.end_ms > t) {
                        continue; // left for the run after the stop
                    }
                    WindowKeyRef(&event.page_url, &event.event_type, w.start_ms, w.end_ms)
                        .count_in(counts);
                }
            }
            Lateness::Late { watermark_ms } => {
                if first_reading {
                    tally.late += 1;
                    self.rows
                        .push_late(offset, &event, watermark_ms, value.len());
                }
            }
        }
        if first_reading {
            tally.valid += 1;
            self.rows.push_raw(offset, &event, value.len());
        }
    }

    /// The idle policy acted: the partition, caught up with its log, follows the wall clock
    /// (`now_ms`, UTC epoch ms). Recorded with the offset it happened at, for replays. Never
    /// during a replay: there the first reading's advances are repeated instead.
    pub fn advance_idle(&mut self, now_ms: i64) {
        if self.replaying() {
            return;
        }
        self.finish_replay();
        let before = self.watermark.state().idle_watermark_ms;
        self.watermark.advance_idle(now_ms);
        let Some(now) = self.watermark.state().idle_watermark_ms else {
            return;
        };
        if before == Some(now) {
            return;
        }
        match self.idle.last_mut() {
            Some(last) if last.at_offset == self.next_offset => last.watermark_ms = now,
            _ => self.idle.push(IdleAdvance {
                at_offset: self.next_offset,
                watermark_ms: now,
            }),
        }
    }

    /// Once the replay has passed the committed offset, the first reading's remaining idle
    /// advances (made at that offset) apply.
    fn finish_replay(&mut self) {
        while let Some(a) = self.replay_idle.pop_front() {
            self.watermark.advance_idle_to(a.watermark_ms);
        }
    }

    /// The partition at a cut: its rows below `next_offset` are being committed. Also forgets
    /// idle advances and deduplication state that no checkpoint built from this cut or a later
    /// one can need.
    pub fn cut(&mut self) -> PartitionCut {
        let state = self.watermark.state();
        let oldest = self
            .open
            .values()
            .map(|w| w.first_offset)
            .min()
            .unwrap_or(self.next_offset);
        self.idle.retain(|a| a.at_offset >= oldest);
        let smallest_max = self
            .open
            .values()
            .map(|w| w.state.max_event_time_ms)
            .chain([state.max_event_time_ms])
            .min()
            .flatten();
        let dedup_from = self.dedup.rebuild_from(state.max_event_time_ms);
        self.dedup.forget_before(smallest_max);
        PartitionCut {
            partition: self.id,
            read_offset: self.next_offset,
            state,
            open: self.open.values().copied().collect(),
            idle: self.idle.clone(),
            dedup_from,
        }
    }

    /// `event_id`s the deduplication state holds.
    pub fn dedup_len(&self) -> usize {
        self.dedup.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_borrowed_key_finds_its_owned_twin_and_copies_only_new_keys() {
        let mut counts = WindowCounts::default();
        for _ in 0..3 {
            WindowKeyRef("/a", "click", 0, 60_000).count_in(&mut counts);
        }
        WindowKeyRef("/a", "view", 0, 60_000).count_in(&mut counts);
        WindowKeyRef("/a", "click", 60_000, 120_000).count_in(&mut counts);
        let mut all: Vec<_> = counts.into_iter().collect();
        all.sort();
        assert_eq!(
            all,
            vec![
                (("/a".into(), "click".into(), 0, 60_000), 3),
                (("/a".into(), "click".into(), 60_000, 120_000), 1),
                (("/a".into(), "view".into(), 0, 60_000), 1),
            ]
        );
    }
}
