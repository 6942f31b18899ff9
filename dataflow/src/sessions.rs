//! Sessions: the on-time events of one `session_id`, cut by inactivity and by length, and
//! one `sessions` row for each once it is closed.
//!
//! **Rules.** A session's events are taken in the order `(event_time, partition, offset)`.
//! An event joins the session of its `session_id` when it is at most `gap` after the
//! session's last event and less than `max_duration` after its first; otherwise the session
//! is over and the event starts a new one. So a session closes at
//! `close_at = min(last + gap + 1, start + max_duration)` (UTC epoch ms): once the watermark
//! reaches that time no event can join it, and `(session_id, session_start)` is unique.
//!
//! **Applying events in order.** The operator keeps an arriving event *pending* until its
//! input frontier has passed the event's time, then applies all such events sorted by that
//! order. Because the frontier bounds every event still to come, events are always applied
//! in order, and a session's state only grows at its end. A session is kept as its list of
//! compact events ([`SessionEvent`]) so that its state at any earlier time a restart may need
//! can be rebuilt (restarts, below); events before the last written checkpoint's frontier,
//! which no restart needs apart, are folded into a summary ([`Folded`]). Its row is computed
//! when it closes.
//!
//! **Output.** A closed session leaves as a [`SessionRow`] at timely time `close_at − 1`.
//! The sink groups rows by minute of close time ([`close_bucket`]).
//!
//! **Restarts.** See [`crate::session_store`]: the operator writes its sessions to HDFS
//! every `snapshot_interval` (a full snapshot, then parts: what changed and a rotating share
//! of the rest, [`SnapshotPart`]), and holds its output capability at the time of its latest
//! snapshot, so no checkpoint can claim a frontier beyond a state that was saved. Closed
//! sessions stay in the snapshots until a checkpoint passes the end of their close bucket,
//! because recovery deletes (and the restarted run writes again) every bucket file ending
//! after the checkpoint. [`SessionState::restore`] rebuilds the state at the checkpoint's
//! frontier `F` from any snapshot taken at or after `F`.

use std::cmp::Reverse;
use std::collections::hash_map::DefaultHasher;
use std::collections::{BTreeMap, BinaryHeap, VecDeque};
use std::hash::BuildHasher;
use std::hash::{Hash, Hasher};

use hashbrown::HashTable;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use timely::container::CapacityContainerBuilder;
use timely::dataflow::channels::pact::Exchange;
use timely::dataflow::operators::generic::Operator;
use timely::dataflow::operators::probe::Handle as ProbeHandle;
use timely::dataflow::{Scope, Stream};

use crate::session_store::{self, SessionStore, SnapshotFile, ROTATION};
use crate::source::to_time;
use crate::visit::Visit;

/// Width of a close bucket, ms: sessions closing in the same UTC minute share a file.
pub const CLOSE_BUCKET_MS: i64 = 60_000;

/// GA4's engagement threshold: a session lasting this long (ms) is engaged.
pub const ENGAGED_DURATION_MS: i64 = 10_000;

/// `[start, end)` (UTC epoch ms) of the close bucket of a row at timely time `time`
/// (`close_at − 1`).
pub fn close_bucket(time: u64) -> (i64, i64) {
    let t = time as i64;
    let start = t.div_euclid(CLOSE_BUCKET_MS) * CLOSE_BUCKET_MS;
    (start, start + CLOSE_BUCKET_MS)
}

/// The worker-independent hash that places a `session_id` on a worker (`hash % workers`,
/// as timely's exchange does).
pub fn session_hash(session_id: &str) -> u64 {
    let mut h = DefaultHasher::new();
    session_id.hash(&mut h);
    h.finish()
}

/// When sessions end: `--session-gap` and `--max-session-duration`, ms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionRules {
    /// Longest time between two events of one session, ms.
    pub gap_ms: i64,
    /// A session is cut when an event comes this long (ms) after its first.
    pub max_duration_ms: i64,
}

/// What kind of event a [`SessionEvent`] is, as far as engagement goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum EventKind {
    /// `page_view`.
    PageView,
    /// `form_submit`.
    FormSubmit,
    /// Anything else.
    Other,
}

impl EventKind {
    /// The kind of an `event_type`.
    pub fn of(event_type: &str) -> EventKind {
        match event_type {
            "page_view" => EventKind::PageView,
            "form_submit" => EventKind::FormSubmit,
            _ => EventKind::Other,
        }
    }
}

/// One event of a session, as the state keeps it.
///
/// A snapshot writes it as the JSON array `[t, p, o, page, kind]` (field names repeated for
/// every event cost a third of the encoding); it reads that and the object form both.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct SessionEvent {
    /// Event time, UTC epoch ms.
    pub t: i64,
    /// Kafka partition (tie-break).
    pub p: i32,
    /// Kafka offset (tie-break).
    pub o: i64,
    /// `page_url`.
    pub page: String,
    /// Engagement kind.
    pub kind: EventKind,
}

/// The first events of a session folded into what its row needs of them: events before the
/// frontier of a written checkpoint, which no restart goes back past ([`Session::fold_before`]).
///
/// A snapshot writes it as `[start_ms, last_ms, events, page_views, form_submit, entry_page,
/// exit_page]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Folded {
    /// Time of the first event, UTC epoch ms.
    pub start_ms: i64,
    /// Time of the last folded event, UTC epoch ms.
    pub last_ms: i64,
    /// Events folded.
    pub events: i64,
    /// `page_view` events among them.
    pub page_views: i64,
    /// Whether one of them is a `form_submit`.
    pub form_submit: bool,
    /// Page of the first event.
    pub entry_page: String,
    /// Page of the last folded event.
    pub exit_page: String,
}

impl Serialize for Folded {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        (
            self.start_ms,
            self.last_ms,
            self.events,
            self.page_views,
            self.form_submit,
            &self.entry_page,
            &self.exit_page,
        )
            .serialize(serializer)
    }
}

/// A session: its id, the attributes of its first event, its first events folded (once a
/// checkpoint passed them) and the later ones in order. It has at least one event.
///
/// A snapshot writes it as the JSON array `[session_id, user_id, browser, os, country,
/// events, folded]`; it reads that, the same without `folded`, and the object form.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Session {
    /// `session_id`.
    pub session_id: String,
    /// `user_id` of the first event.
    pub user_id: String,
    /// Browser of the first event.
    pub browser: Option<String>,
    /// Operating system of the first event.
    pub os: Option<String>,
    /// Country of the first event.
    pub country: Option<String>,
    /// The events after the folded ones, in `(t, p, o)` order.
    pub events: Vec<SessionEvent>,
    /// Its first events, folded; `None` when none are.
    #[serde(default)]
    pub folded: Option<Folded>,
}

impl SessionEvent {
    /// The event of `v`.
    pub fn of(v: &Visit) -> SessionEvent {
        SessionEvent {
            t: v.event_time_ms,
            p: v.partition,
            o: v.offset,
            page: v.page_url().to_owned(),
            kind: EventKind::of(v.event_type()),
        }
    }
}

impl Serialize for SessionEvent {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        (self.t, self.p, self.o, &self.page, self.kind).serialize(serializer)
    }
}

impl Serialize for Session {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        (
            &self.session_id,
            &self.user_id,
            &self.browser,
            &self.os,
            &self.country,
            &self.events,
            &self.folded,
        )
            .serialize(serializer)
    }
}

/// One `sessions` row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionRow {
    /// `session_id`.
    pub session_id: String,
    /// `user_id` (of the first event).
    pub user_id: String,
    /// `session_start`: first event time, UTC epoch ms.
    pub start_ms: i64,
    /// `session_end`: last event time, UTC epoch ms.
    pub end_ms: i64,
    /// Events.
    pub events: i64,
    /// `page_view` events.
    pub page_views: i64,
    /// Page of the first event.
    pub entry_page: String,
    /// Page of the last event.
    pub exit_page: String,
    /// Not engaged: under 10 s, under 2 page views, no `form_submit`.
    pub is_bounce: bool,
    /// Browser (of the first event).
    pub browser: Option<String>,
    /// Operating system (of the first event).
    pub os: Option<String>,
    /// Country (of the first event).
    pub country: Option<String>,
}

impl Session {
    fn new(v: &Visit) -> Session {
        let t = v.text();
        Session {
            session_id: t.session_id.to_owned(),
            user_id: t.user_id.to_owned(),
            browser: t.browser.map(str::to_owned),
            os: t.os.map(str::to_owned),
            country: t.country.map(str::to_owned),
            events: vec![SessionEvent::of(v)],
            folded: None,
        }
    }

    /// First event time, UTC epoch ms.
    pub fn start_ms(&self) -> i64 {
        match (&self.folded, self.events.first()) {
            (Some(f), _) => f.start_ms,
            (None, Some(e)) => e.t,
            (None, None) => i64::MIN,
        }
    }

    /// Last event time, UTC epoch ms.
    pub fn last_ms(&self) -> i64 {
        match (self.events.last(), &self.folded) {
            (Some(e), _) => e.t,
            (None, Some(f)) => f.last_ms,
            (None, None) => i64::MIN,
        }
    }

    /// Folds its events before `frontier_ms` into [`Session::folded`]. `frontier_ms` must be
    /// the frontier of a written checkpoint: a restore is never at an earlier one, so
    /// [`Session::before`] never needs those events apart again.
    pub fn fold_before(&mut self, frontier_ms: i64) {
        let n = self.events.partition_point(|e| e.t < frontier_ms);
        if n == 0 {
            return;
        }
        let mut drained = self.events.drain(..n);
        let mut f = match self.folded.take() {
            Some(f) => f,
            None => {
                let Some(first) = drained.next() else { return };
                Folded {
                    start_ms: first.t,
                    last_ms: first.t,
                    events: 1,
                    page_views: i64::from(first.kind == EventKind::PageView),
                    form_submit: first.kind == EventKind::FormSubmit,
                    exit_page: first.page.clone(),
                    entry_page: first.page,
                }
            }
        };
        for e in drained {
            f.last_ms = e.t;
            f.events += 1;
            f.page_views += i64::from(e.kind == EventKind::PageView);
            f.form_submit |= e.kind == EventKind::FormSubmit;
            f.exit_page = e.page;
        }
        self.folded = Some(f);
        // Most open sessions are idle, waiting out their gap: give their list's room back.
        if self.events.is_empty() {
            self.events = Vec::new();
        } else if self.events.capacity() > 2 * self.events.len() {
            self.events.shrink_to_fit();
        }
    }

    /// When it closes: `min(last + gap + 1, start + max_duration)`, UTC epoch ms.
    pub fn close_at(&self, rules: SessionRules) -> i64 {
        (self
            .last_ms()
            .saturating_add(rules.gap_ms)
            .saturating_add(1))
        .min(self.start_ms().saturating_add(rules.max_duration_ms))
    }

    /// Whether an event at `t` (not before its last) belongs to it.
    pub fn accepts(&self, t: i64, rules: SessionRules) -> bool {
        t < self.close_at(rules)
    }

    /// The same session with only its events before `before_ms`; `None` when none are.
    /// Folded events are all before it (they were folded at an earlier checkpoint's frontier).
    pub fn before(&self, before_ms: i64) -> Option<Session> {
        debug_assert!(self.folded.as_ref().is_none_or(|f| f.last_ms < before_ms));
        let n = self.events.partition_point(|e| e.t < before_ms);
        (n > 0 || self.folded.is_some()).then(|| Session {
            events: self.events[..n].to_vec(),
            ..self.clone()
        })
    }

    /// Its row.
    pub fn row(&self) -> SessionRow {
        let f = self.folded.as_ref();
        let page_views = f.map_or(0, |f| f.page_views)
            + self
                .events
                .iter()
                .filter(|e| e.kind == EventKind::PageView)
                .count() as i64;
        let form_submit = f.is_some_and(|f| f.form_submit)
            || self.events.iter().any(|e| e.kind == EventKind::FormSubmit);
        let (start_ms, end_ms) = (self.start_ms(), self.last_ms());
        let engaged = end_ms - start_ms >= ENGAGED_DURATION_MS || page_views >= 2 || form_submit;
        let entry_page = f
            .map(|f| &f.entry_page)
            .or(self.events.first().map(|e| &e.page));
        let exit_page = self
            .events
            .last()
            .map(|e| &e.page)
            .or(f.map(|f| &f.exit_page));
        SessionRow {
            session_id: self.session_id.clone(),
            user_id: self.user_id.clone(),
            start_ms,
            end_ms,
            events: f.map_or(0, |f| f.events) + self.events.len() as i64,
            page_views,
            entry_page: entry_page.cloned().unwrap_or_default(),
            exit_page: exit_page.cloned().unwrap_or_default(),
            is_bounce: !engaged,
            browser: self.browser.clone(),
            os: self.os.clone(),
            country: self.country.clone(),
        }
    }
}

/// The hasher of the per-session maps: fast, not keyed against flooding — session ids
/// come from the validated stream and only pick a bucket here, never a result.
type FastHash = foldhash::fast::RandomState;

/// The sessions of one worker: pending events, open sessions, and closed sessions kept for
/// the snapshot until a checkpoint covers their close bucket.
#[derive(Debug)]
pub struct SessionState {
    rules: SessionRules,
    /// Events waiting for the frontier, by event time (a map of small vectors: many events
    /// share a millisecond, and a whole millisecond becomes ready at once).
    pending: BTreeMap<i64, Vec<Visit>>,
    /// Events in `pending`.
    pending_events: usize,
    /// Hashes `session_id`s for `open`.
    hasher: FastHash,
    /// Open sessions, found by the hash of their `session_id` (no copy of it as a key).
    open: HashTable<Kept>,
    /// When open sessions are due to be looked at: one `(time, sequence number, hash of
    /// session_id)` per open session, earliest on top, with `time ≤ close_at`. An event that
    /// joins a session only delays its `close_at`, so the entry is not touched then: when it
    /// comes up, a session that closes later is put back at its `close_at`, and an entry whose
    /// session was closed already (its number no longer in `open`) is dropped.
    closing: BinaryHeap<Reverse<(i64, u64, u64)>>,
    next_seq: u64,
    /// `(end of close bucket, session)` of closed sessions a checkpoint may still undo.
    closed: Vec<(i64, Kept)>,
}

/// A session as the state keeps it: with its sequence number (unique per session in this
/// state; it also picks the snapshot turn of an unchanged session, see [`SnapshotPart`]) and
/// whether it changed since the last snapshot taken.
#[derive(Debug)]
struct Kept {
    seq: u64,
    changed: bool,
    session: Session,
}

impl Kept {
    /// Whether a snapshot of `part` writes it.
    fn in_part(&self, part: SnapshotPart) -> bool {
        match part {
            SnapshotPart::Full => true,
            SnapshotPart::Changes { rotation, turn } => {
                let rotation = rotation.max(1);
                self.changed || self.seq % rotation == turn % rotation
            }
        }
    }
}

/// Which sessions a snapshot holds ([`SessionState::take_snapshot`]).
///
/// A worker's snapshots form sequences: a full one, then parts. Part `j` of a sequence
/// (`j ≥ 1`) is taken with `turn = j`, so any `rotation` consecutive parts have every turn,
/// and every session kept at the last of them is in one of them (or in the full snapshot
/// that starts the sequence) as it is then: a changed session is in the first snapshot
/// after its change, an unchanged one in the snapshot of its turn. A restore overlays those
/// files ([`crate::session_store`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SnapshotPart {
    /// Every session kept.
    Full,
    /// The sessions changed since the last snapshot taken, and those whose sequence number is
    /// `turn` modulo `rotation`.
    Changes {
        /// Parts after which every session was written again (≥ 1).
        rotation: u64,
        /// This part's number in its sequence.
        turn: u64,
    },
}

/// A closed session's row and its close time, UTC epoch ms.
pub type Closed = (SessionRow, i64);

impl SessionState {
    /// No sessions.
    pub fn new(rules: SessionRules) -> Self {
        SessionState {
            rules,
            pending: BTreeMap::new(),
            pending_events: 0,
            hasher: FastHash::default(),
            open: HashTable::new(),
            closing: BinaryHeap::new(),
            next_seq: 0,
            closed: Vec::new(),
        }
    }

    /// The state at frontier `frontier_ms` rebuilt from `sessions`, a snapshot taken at or
    /// after it (of this worker's sessions: the caller filters by [`session_hash`]). Returns
    /// the state and the sessions that closed before `frontier_ms` in a close bucket ending
    /// after it: their bucket's file was deleted by recovery, so they are emitted again.
    pub fn restore(
        rules: SessionRules,
        frontier_ms: i64,
        sessions: impl IntoIterator<Item = Session>,
    ) -> (Self, Vec<Closed>) {
        let mut state = SessionState::new(rules);
        let mut again = Vec::new();
        for s in sessions {
            let Some(s) = s.before(frontier_ms) else {
                continue;
            };
            let close_at = s.close_at(rules);
            if close_at > frontier_ms {
                let hash = state.hasher.hash_one(&s.session_id);
                state.insert_open(s, hash);
            } else {
                let bucket_end = close_bucket(to_time(close_at - 1)).1;
                if bucket_end > frontier_ms {
                    again.push((s.row(), close_at));
                    let k = state.keep(s);
                    state.closed.push((bucket_end, k));
                }
            }
        }
        again.sort_by(|a, b| (a.1, &a.0.session_id).cmp(&(b.1, &b.0.session_id)));
        (state, again)
    }

    /// Holds an event until the frontier passes its time.
    pub fn push(&mut self, visit: Visit) {
        self.pending
            .entry(visit.event_time_ms)
            .or_default()
            .push(visit);
        self.pending_events += 1;
    }

    /// Applies, in order, every pending event before `upto_ms`, then closes every session
    /// with `close_at ≤ upto_ms`. Returns the closed sessions, by close time.
    pub fn advance(&mut self, upto_ms: i64) -> Vec<Closed> {
        let mut out = Vec::new();
        while self
            .pending
            .first_key_value()
            .is_some_and(|(t, _)| *t < upto_ms)
        {
            let Some((_, mut visits)) = self.pending.pop_first() else {
                break;
            };
            self.pending_events -= visits.len();
            // One millisecond: ordered by partition, then offset (unique per event).
            visits.sort_unstable_by_key(Visit::order_key);
            for v in visits {
                self.apply(v, &mut out);
            }
        }
        while self
            .closing
            .peek()
            .is_some_and(|Reverse((due, _, _))| *due <= upto_ms)
        {
            let Some(Reverse((_, seq, hash))) = self.closing.pop() else {
                break;
            };
            let close_at = match self.open.find(hash, |k| k.seq == seq) {
                Some(k) => k.session.close_at(self.rules),
                None => continue, // closed when an event came after its gap
            };
            if close_at > upto_ms {
                self.closing.push(Reverse((close_at, seq, hash)));
            } else if let Ok(entry) = self.open.find_entry(hash, |k| k.seq == seq) {
                let (k, _) = entry.remove();
                self.close(k, close_at, &mut out);
            }
        }
        out.sort_by(|a, b| (a.1, &a.0.session_id).cmp(&(b.1, &b.0.session_id)));
        out
    }

    fn apply(&mut self, v: Visit, out: &mut Vec<Closed>) {
        let rules = self.rules;
        let hash = self.hasher.hash_one(v.session_id());
        let same_id = |k: &Kept| k.session.session_id == v.session_id();
        if let Ok(entry) = self.open.find_entry(hash, same_id) {
            let k = entry.get();
            if k.session.accepts(v.event_time_ms, rules) {
                let k = entry.into_mut();
                // Its entry in `closing` stays: `close_at` only moved later.
                k.session.events.push(SessionEvent::of(&v));
                k.changed = true;
                return;
            }
            let before = k.session.close_at(rules);
            let (k, _) = entry.remove();
            self.close(k, before, out);
        }
        self.insert_open(Session::new(&v), hash);
    }

    /// Adds an open session, `hash` being that of its `session_id` (`self.hasher`), and
    /// indexes it by its close time.
    fn insert_open(&mut self, s: Session, hash: u64) {
        let k = self.keep(s);
        let hasher = &self.hasher;
        self.closing
            .push(Reverse((k.session.close_at(self.rules), k.seq, hash)));
        self.open
            .insert_unique(hash, k, |k| hasher.hash_one(&k.session.session_id));
    }

    /// `s` with the next sequence number, changed.
    fn keep(&mut self, session: Session) -> Kept {
        let seq = self.next_seq;
        self.next_seq += 1;
        Kept {
            seq,
            changed: true,
            session,
        }
    }

    fn close(&mut self, k: Kept, close_at: i64, out: &mut Vec<Closed>) {
        out.push((k.session.row(), close_at));
        self.closed.push((close_bucket(to_time(close_at - 1)).1, k));
    }

    /// Drops the closed sessions whose close bucket ends at or before `checkpoint_ms`, the
    /// frontier of a written checkpoint.
    pub fn forget_checkpointed(&mut self, checkpoint_ms: i64) {
        self.closed
            .retain(|(bucket_end, _)| *bucket_end > checkpoint_ms);
    }

    /// Folds every open session's events before `checkpoint_ms`, the frontier of a written
    /// checkpoint ([`Session::fold_before`]): a session then keeps a summary and the events
    /// since, so its size no longer grows with its age.
    pub fn fold_before(&mut self, checkpoint_ms: i64) {
        for k in self.open.iter_mut() {
            k.session.fold_before(checkpoint_ms);
        }
    }

    /// Every session kept: the open ones and the closed ones a checkpoint may still undo.
    pub fn snapshot(&self) -> impl Iterator<Item = &Session> {
        self.open
            .iter()
            .map(|k| &k.session)
            .chain(self.closed.iter().map(|(_, k)| &k.session))
    }

    /// The sessions of a snapshot of `part` (see [`SnapshotPart`]); from here on none of them
    /// counts as changed. Taking it is what marks them unchanged, so a snapshot that is then
    /// not written must be followed by a full one.
    pub fn take_snapshot(&mut self, part: SnapshotPart) -> impl Iterator<Item = &Session> {
        self.open
            .iter_mut()
            .chain(self.closed.iter_mut().map(|(_, k)| k))
            .filter_map(move |k| {
                let chosen = k.in_part(part);
                k.changed = false;
                let k: &Kept = k;
                chosen.then_some(&k.session)
            })
    }

    /// Open sessions.
    pub fn open_count(&self) -> usize {
        self.open.len()
    }

    /// Events waiting for the frontier.
    pub fn pending_count(&self) -> usize {
        self.pending_events
    }
}

/// Settings of the sessions operator.
#[derive(Clone)]
pub struct SessionSettings {
    /// Gap and maximum duration.
    pub rules: SessionRules,
    /// Frontier of the restored checkpoint (UTC epoch ms; `i64::MIN` without one): events
    /// before it are in the restored sessions and are not applied again.
    pub restored_frontier_ms: i64,
    /// The sessions of the snapshot restored with the checkpoint (every worker's; each
    /// worker keeps its own).
    pub restored: Arc<Vec<Session>>,
    /// Events at or after it are not applied and sessions closing after it are not emitted
    /// (`--stop-at-watermark`, UTC epoch ms).
    pub stop_at_ms: Option<i64>,
    /// Where snapshots go.
    pub store: SessionStore,
    /// Least wall-clock time between two snapshots of a worker.
    pub snapshot_interval: Duration,
    /// The process's tokio runtime.
    pub runtime: tokio::runtime::Handle,
}

struct Writing {
    file: SnapshotFile,
    task: tokio::task::JoinHandle<Result<(), hive::HiveError>>,
}

/// The sessions operator: visits exchanged by `session_id` → closed sessions as
/// `(row, close_at − 1)`. `checkpointed` probes the checkpoint coordinator's output (the
/// frontier of the last written checkpoint).
pub fn sessions<'scope>(
    visits: Stream<'scope, u64, Vec<Visit>>,
    settings: SessionSettings,
    checkpointed: ProbeHandle<u64>,
) -> Stream<'scope, u64, Vec<(SessionRow, u64)>> {
    let scope: Scope<'scope, u64> = visits.scope();
    let (index, peers) = (scope.index(), scope.peers());
    let pact = Exchange::new(|v: &Visit| session_hash(v.session_id()));
    visits.unary_frontier::<CapacityContainerBuilder<Vec<(SessionRow, u64)>>, _, _, _>(
        pact,
        "Sessions",
        move |capability, info| {
            let activator = scope.activator_for(info.address.clone());
            let s = settings;
            let mine = s
                .restored
                .iter()
                .filter(|x| session_hash(&x.session_id) % peers as u64 == index as u64)
                .cloned();
            let (mut state, again) = SessionState::restore(s.rules, s.restored_frontier_ms, mine);
            let mut first = Some(again);
            let mut capability = Some(capability);
            // Time of the latest snapshot written: nothing before it needs saving again.
            let mut saved_ms = s.restored_frontier_ms;
            let mut last_snapshot = Instant::now();
            // Size of the last full snapshot's body and of the last part's: the next one's
            // buffer starts about that large.
            let (mut last_full_bytes, mut last_part_bytes) = (0usize, 0usize);
            // Times of the snapshots of the current sequence (the last `ROTATION - 1`) and
            // how many it has: none starts a sequence with a full snapshot.
            let mut sequence: VecDeque<i64> = VecDeque::new();
            let mut in_sequence = 0u64;
            let mut writing: Option<Writing> = None;
            let mut failures = 0u32;
            let stop = s.stop_at_ms.unwrap_or(i64::MAX);
            move |(input, frontier), output| {
                let Some(cap) = capability.as_ref() else {
                    input.for_each_stamp(|_, _| {});
                    return;
                };
                if let Some(again) = first.take() {
                    let mut session = output.session(cap);
                    for (row, close_at) in again {
                        session.give((row, to_time(close_at - 1)));
                    }
                }
                input.for_each_stamp(|_, data| {
                    for container in data {
                        for v in container.drain(..) {
                            if v.event_time_ms >= s.restored_frontier_ms && v.event_time_ms < stop {
                                state.push(v);
                            }
                        }
                    }
                });
                let done = frontier.is_empty();
                let upto = match frontier.frontier().first() {
                    Some(t) => (*t as i64).min(stop),
                    None => stop,
                };
                let closed = state.advance(upto);
                if !closed.is_empty() {
                    metrics::counter!("wa_dataflow_sessions_closed_total")
                        .increment(closed.len() as u64);
                    let mut session = output.session(cap);
                    for (row, close_at) in closed {
                        session.give((row, to_time(close_at - 1)));
                    }
                }
                if let Some(f) = checkpointed.with_frontier(|f| f.first().copied()) {
                    state.forget_checkpointed(f as i64);
                }
                metrics::gauge!("wa_dataflow_sessions_open", "worker" => index.to_string())
                    .set(state.open_count() as f64);

                // A finished snapshot moves the capability to its time.
                if writing.as_ref().is_some_and(|w| w.task.is_finished()) {
                    if let Some(mut w) = writing.take() {
                        match s.runtime.block_on(&mut w.task) {
                            Ok(Ok(())) => {
                                failures = 0;
                                saved_ms = w.file.at_ms;
                                sequence.push_back(saved_ms);
                                if sequence.len() as u64 >= ROTATION {
                                    sequence.pop_front();
                                }
                                in_sequence += 1;
                                if let Some(c) = capability.as_mut() {
                                    if to_time(saved_ms) > *c.time() {
                                        c.downgrade(&to_time(saved_ms));
                                    }
                                }
                                let keep_from = checkpointed
                                    .with_frontier(|f| f.first().copied())
                                    .map_or(i64::MIN, |f| f as i64);
                                let store = s.store.clone();
                                s.runtime.spawn(async move {
                                    if let Err(e) = store.prune(index, peers, keep_from).await {
                                        tracing::warn!(error = %e, "removing old session snapshots failed; will try again");
                                    }
                                });
                            }
                            Ok(Err(e)) => {
                                failures += 1;
                                sequence.clear();
                                in_sequence = 0;
                                tracing::warn!(at = w.file.at_ms, error = %e, attempt = failures, "writing a session snapshot failed; the next one is full");
                            }
                            Err(e) => {
                                failures += 1;
                                sequence.clear();
                                in_sequence = 0;
                                tracing::warn!(at = w.file.at_ms, error = %e, "session snapshot task failed; the next one is full");
                            }
                        }
                    }
                }
                if done && saved_ms >= upto && writing.is_none() {
                    capability = None;
                    return;
                }
                let due = done || last_snapshot.elapsed() >= s.snapshot_interval;
                if writing.is_none() && due && upto > saved_ms {
                    last_snapshot = Instant::now();
                    // Encoded here, from the state as it is: no copy of the sessions; first
                    // what no restart can need apart any more is folded.
                    if let Some(f) = checkpointed.with_frontier(|f| f.first().copied()) {
                        state.fold_before(f as i64);
                    }
                    let at_ms = upto;
                    let (part, file, expected) = match sequence.front() {
                        Some(from_ms) if in_sequence > 0 => (
                            SnapshotPart::Changes {
                                rotation: ROTATION,
                                turn: in_sequence,
                            },
                            SnapshotFile { at_ms, from_ms: *from_ms },
                            last_part_bytes,
                        ),
                        _ => (
                            SnapshotPart::Full,
                            SnapshotFile { at_ms, from_ms: at_ms },
                            last_full_bytes,
                        ),
                    };
                    let body = session_store::encode(state.take_snapshot(part), expected)
                        .inspect(|b| match part {
                            SnapshotPart::Full => last_full_bytes = b.len(),
                            SnapshotPart::Changes { .. } => last_part_bytes = b.len(),
                        });
                    let store = s.store.clone();
                    writing = Some(Writing {
                        file,
                        task: s.runtime.spawn(async move {
                            store.write(index, peers, file, body?).await
                        }),
                    });
                }
                if writing.is_some() || state.pending_count() > 0 || done {
                    activator.activate_after(Duration::from_millis(50));
                } else {
                    activator.activate_after(s.snapshot_interval);
                }
            }
        },
    )
}

#[cfg(test)]
mod tests;
