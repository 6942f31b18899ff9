//! Deduplication by `event_id` within a horizon of event time, per Kafka partition.
//!
//! A browser that re-sends a beacon, or an upstream that delivers at least once, puts the same
//! `event_id` on the topic twice. The second and later copies must not reach any table. The
//! producer keys records by `session_id`, so copies of one event land in one partition, and the
//! judgement can be made per partition, in log order, like lateness
//! ([`crate::watermark`]): the same whichever worker reads the partition.
//!
//! **The rule.** Let `M` be the partition's largest on-time event time read before a record
//! (the watermark's maximum) and `H` the horizon (`--dedup-horizon`). A valid event is a
//! *duplicate* when an earlier valid event of the same partition had the same `event_id` and
//! an event time `≥ M − H`. Ids whose events all lie more than `H` behind `M` are forgotten:
//! `M` never falls, so they could never count again. State is bounded by the events of the
//! last `H` of event time (plus what the lateness bound lets through ahead of `M`). Copies that
//! reach different partitions (records not keyed by `session_id`) are not recognised.
//!
//! **Replays.** After a restart a partition is re-read from an earlier offset, and the
//! judgement there must be the one the first reading made. The rule only looks at earlier
//! events with a time `≥ M − H`, and `M` only grows, so to judge every record from offset `R`
//! on it suffices to have seen every event at or after the first offset holding an event with
//! time `≥ M(R) − H` ([`Deduplicator::rebuild_from`]). The checkpoint stores that offset; the
//! restarted source reads from it, and the records before `R` only
//! [`remember`](Deduplicator::remember) their ids. Remembering more than the first reading
//! knew never changes a judgement: an extra event either is at or past the bound (then the
//! first reading knew it too) or is behind it (then it cannot make a record a duplicate).
//!
//! **What is kept of an id.** Not the id, which comes from the open internet and may be of
//! any length, but its [`Digest`] under keys drawn at random for each partition's state: 16
//! bytes per id, where a boxed 36-character UUID cost about 64. Two different ids count as one
//! only when their digests collide ([`crate::digest`] says why that does not happen).

use std::collections::{BTreeMap, HashMap};

use crate::digest::{BuildDigestHasher, Digest, DigestKeys};

/// Width of the buckets of event time that remember their smallest offset, ms.
const BUCKET_MS: i64 = 1_000;

/// The deduplication state of one Kafka partition.
#[derive(Debug, Clone)]
pub struct Deduplicator {
    /// `--dedup-horizon` in ms; 0 disables deduplication.
    horizon_ms: i64,
    /// Keys of the digests of this state's ids (random).
    keys: DigestKeys,
    /// Per `event_id` (its digest): the largest event time (UTC epoch ms) of its events seen
    /// so far.
    seen: HashMap<Digest, i64, BuildDigestHasher>,
    /// Per bucket of event time (`time.div_euclid(BUCKET_MS)`): the smallest offset holding an
    /// event of that bucket.
    first_offsets: BTreeMap<i64, i64>,
}

impl Deduplicator {
    /// A partition that has seen nothing; `horizon_ms` from `--dedup-horizon` (0: disabled).
    pub fn new(horizon_ms: i64) -> Self {
        Deduplicator {
            horizon_ms: horizon_ms.max(0),
            keys: DigestKeys::random(),
            seen: HashMap::default(),
            first_offsets: BTreeMap::new(),
        }
    }

    /// Whether deduplication is on (`--dedup-horizon` > 0).
    pub fn enabled(&self) -> bool {
        self.horizon_ms > 0
    }

    /// Number of `event_id`s remembered (a gauge of the state's size).
    pub fn len(&self) -> usize {
        self.seen.len()
    }

    /// Whether nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.seen.is_empty()
    }

    /// Event times below this count no more, given the partition's largest on-time event time
    /// `max_event_time_ms` (`None`: no on-time event yet, every remembered event counts).
    fn bound(&self, max_event_time_ms: Option<i64>) -> i64 {
        max_event_time_ms.map_or(i64::MIN, |m| m.saturating_sub(self.horizon_ms))
    }

    /// Judges the valid event `event_id` at `event_time_ms` (UTC epoch ms), read at `offset`,
    /// by the rule in the module docs, where `max_event_time_ms` is the partition's largest
    /// on-time event time before it. Returns `true` for a duplicate. Either way the event is
    /// remembered. Always `false` when disabled.
    pub fn observe(
        &mut self,
        event_id: &str,
        event_time_ms: i64,
        offset: i64,
        max_event_time_ms: Option<i64>,
    ) -> bool {
        if !self.enabled() {
            return false;
        }
        let bound = self.bound(max_event_time_ms);
        let id = self.keys.digest(event_id);
        let duplicate = self.seen.get(&id).is_some_and(|t| *t >= bound);
        self.remember_digest(id, event_time_ms, offset);
        duplicate
    }

    /// Remembers an event without judging it: what a replay does with the records before the
    /// offset its windows resume at.
    pub fn remember(&mut self, event_id: &str, event_time_ms: i64, offset: i64) {
        if !self.enabled() {
            return;
        }
        let id = self.keys.digest(event_id);
        self.remember_digest(id, event_time_ms, offset);
    }

    fn remember_digest(&mut self, id: Digest, event_time_ms: i64, offset: i64) {
        let t = self.seen.entry(id).or_insert(event_time_ms);
        *t = (*t).max(event_time_ms);
        let first = self
            .first_offsets
            .entry(event_time_ms.div_euclid(BUCKET_MS))
            .or_insert(offset);
        *first = (*first).min(offset);
    }

    /// The offset a replay must start reading at so that, from an offset where the partition's
    /// largest on-time event time was `max_event_time_ms`, it judges as this reading did: the
    /// smallest offset of a remembered event whose time may be `≥ max − horizon` (bucketed, so
    /// possibly a little earlier). `None` when no remembered event counts, or when disabled.
    pub fn rebuild_from(&self, max_event_time_ms: Option<i64>) -> Option<i64> {
        if !self.enabled() {
            return None;
        }
        let bound = self.bound(max_event_time_ms);
        self.first_offsets
            .range(bound.div_euclid(BUCKET_MS)..)
            .map(|(_, offset)| *offset)
            .min()
    }

    /// Forgets what no judgement from a point with largest on-time event time
    /// `max_event_time_ms` onwards can need: every remembered event behind `max − horizon`.
    /// Callers pass the smallest such maximum they may still be asked about
    /// ([`Deduplicator::rebuild_from`] for an open window's first event included).
    pub fn forget_before(&mut self, max_event_time_ms: Option<i64>) {
        let bound = self.bound(max_event_time_ms);
        if bound == i64::MIN {
            return;
        }
        self.seen.retain(|_, t| *t >= bound);
        self.first_offsets = self.first_offsets.split_off(&bound.div_euclid(BUCKET_MS));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: i64 = 600_000;

    #[test]
    fn a_second_copy_within_the_horizon_is_a_duplicate() {
        let mut d = Deduplicator::new(H);
        assert!(!d.observe("a", 1_000_000, 0, None));
        assert!(d.observe("a", 1_000_000, 1, Some(1_000_000)));
        assert!(!d.observe("b", 1_000_000, 2, Some(1_000_000)));
        // The maximum moved past the first copy's time + horizon: a copy now counts again.
        assert!(d.observe("a", 1_000_000, 3, Some(1_000_000 + H)));
        assert!(!d.observe("a", 1_000_000, 4, Some(1_000_001 + H)));
    }

    #[test]
    fn disabled_judges_nothing_and_remembers_nothing() {
        let mut d = Deduplicator::new(0);
        assert!(!d.observe("a", 5, 0, None));
        assert!(!d.observe("a", 5, 1, Some(5)));
        assert!(d.is_empty());
        assert_eq!(d.rebuild_from(Some(5)), None);
    }

    #[test]
    fn a_replay_from_rebuild_from_judges_as_the_first_reading() {
        // A stream of (id, time) in one partition; M = running max (all on time here).
        let stream: Vec<(String, i64)> = (0..400)
            .map(|i| {
                // Ids that come back within the horizon, and ids that come back after it.
                let id = if i % 2 == 0 {
                    format!("e{}", (i * 7) % 90)
                } else {
                    format!("f{}", (i * 11) % 300)
                };
                (id, 1_000_000 + i * 5_000 - (i % 3) * 1_000)
            })
            .collect();
        let judge_all = |d: &mut Deduplicator, from: usize, max: &mut Option<i64>| {
            let mut out = Vec::new();
            for (offset, (id, t)) in stream.iter().enumerate().skip(from) {
                out.push(d.observe(id, *t, offset as i64, *max));
                *max = (*max).max(Some(*t));
            }
            out
        };
        let mut first = Deduplicator::new(H);
        let mut max = None;
        let mut maxima = Vec::new();
        let mut starts = Vec::new();
        let mut decisions = Vec::new();
        for (offset, (id, t)) in stream.iter().enumerate() {
            maxima.push(max);
            starts.push(first.rebuild_from(max));
            decisions.push(first.observe(id, *t, offset as i64, max));
            max = max.max(Some(*t));
        }
        assert!(decisions.iter().any(|d| *d) && decisions.iter().any(|d| !*d));
        for resume in [0usize, 57, 200, 399] {
            let mut replay = Deduplicator::new(H);
            let from = starts[resume].map_or(resume, |o| o as usize);
            assert!(from <= resume);
            for (offset, (id, t)) in stream.iter().enumerate().take(resume).skip(from) {
                replay.remember(id, *t, offset as i64);
            }
            let mut m = maxima[resume];
            assert_eq!(judge_all(&mut replay, resume, &mut m), decisions[resume..]);
        }
    }

    #[test]
    fn forgetting_keeps_what_can_still_count() {
        let mut d = Deduplicator::new(H);
        d.observe("old", 1_000, 0, None);
        d.observe("new", 2_000_000, 1, Some(1_000));
        d.forget_before(Some(2_000_000));
        assert_eq!(d.len(), 1);
        assert!(d.observe("new", 2_000_000, 2, Some(2_000_000)));
        assert!(!d.observe("old", 1_000, 3, Some(2_000_000)));
        assert_eq!(d.rebuild_from(Some(2_000_000)), Some(1));
    }
}
