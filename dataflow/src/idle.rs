//! When a partition counts as *idle* for the idle policy of [`crate::watermark`].
//!
//! The idle policy lets a partition's watermark follow the wall clock once the partition has
//! been caught up with the end of its log for `idle_timeout`. The source learns "caught up"
//! from librdkafka's end-of-partition event. But while the consumer cannot reach a partition's
//! leader (a broker restart, a network cut), no record *can* arrive, and the partition only
//! looks caught up: letting the idle clock run then moves the watermark to the wall clock, and
//! every record written meanwhile is judged late once the broker is back. A broker restart
//! longer than `idle_timeout` would change `page_analytics` (measured on the local stack: a
//! 25 s broker restart with a 15 s idle timeout turned 4 012 of 12 004 events late).
//!
//! So the idle clock only runs while the consumer is in contact with its partitions' leaders,
//! and starts again from the last sign of trouble. [`LeaderContact`] collects those signs:
//! consumer errors (at once: librdkafka reports a broken broker connection as soon as it
//! happens) and, from each statistics report (`statistics.interval.ms`), whether every leader
//! of a partition we read is `UP`; a leader that is not keeps contact lost until a report shows
//! it back. A partition is idle once it has been caught up for `idle_timeout` *and* contact has
//! been steady for `idle_timeout` ([`LeaderContact::idle`]).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rdkafka::Statistics;

/// What one consumer knows about reaching the leaders of the partitions it reads. Shared
/// between the consumer's client context (statistics) and the source operator (errors, the
/// idle decision).
#[derive(Debug, Default)]
pub struct LeaderContact {
    /// The last statistics report showed a leader not `UP`.
    lost: AtomicBool,
    /// The last sign of trouble: a consumer error, or a report showing contact lost.
    last_trouble: Mutex<Option<Instant>>,
}

impl LeaderContact {
    /// A sign that contact may be lost (a consumer error): the idle clock starts again.
    pub fn trouble(&self) {
        self.trouble_at(Instant::now());
    }

    fn trouble_at(&self, at: Instant) {
        let mut last = self.last_trouble.lock().unwrap_or_else(|p| p.into_inner());
        *last = (*last).max(Some(at));
    }

    /// What a statistics report says: `reachable` is false while a leader of one of our
    /// partitions is not `UP` ([`leaders_reachable`]).
    pub fn report(&self, reachable: bool) {
        self.report_at(reachable, Instant::now());
    }

    fn report_at(&self, reachable: bool, at: Instant) {
        let was_lost = self.lost.swap(!reachable, Ordering::Relaxed);
        if !reachable || was_lost {
            // Lost now, or just back: either way the idle clock starts again from here.
            self.trouble_at(at);
        }
    }

    /// Whether a partition caught up with its log since `caught_up_since` is idle at `now`:
    /// contact is not lost, and both the partition has been caught up and contact has been
    /// steady for at least `idle_timeout`.
    pub fn idle(&self, caught_up_since: Instant, now: Instant, idle_timeout: Duration) -> bool {
        if self.lost.load(Ordering::Relaxed) {
            return false;
        }
        let trouble = *self.last_trouble.lock().unwrap_or_else(|p| p.into_inner());
        let since = trouble.map_or(caught_up_since, |t| t.max(caught_up_since));
        now.saturating_duration_since(since) >= idle_timeout
    }
}

/// Whether every partition of `topic` this consumer reads (librdkafka's `desired`) has a
/// leader that the statistics show `UP`.
pub fn leaders_reachable(statistics: &Statistics, topic: &str) -> bool {
    let Some(t) = statistics.topics.get(topic) else {
        return true; // not reading it (yet): nothing to judge
    };
    let state_of = |node: i32| {
        statistics
            .brokers
            .values()
            .find(|b| b.nodeid == node)
            .map(|b| b.state.as_str())
    };
    all_leaders_up(
        t.partitions
            .values()
            .map(|p| (p.partition, p.desired, p.leader)),
        state_of,
    )
}

/// The rule of [`leaders_reachable`] over `(partition, desired, leader node id)` and the
/// state of each broker node: every desired partition (librdkafka's internal partition −1
/// excluded) has a leader (≥ 0) whose broker is `UP`.
fn all_leaders_up<'a>(
    partitions: impl Iterator<Item = (i32, bool, i32)>,
    state_of: impl Fn(i32) -> Option<&'a str>,
) -> bool {
    partitions
        .filter(|&(id, desired, _)| id >= 0 && desired)
        .all(|(_, _, leader)| leader >= 0 && state_of(leader) == Some("UP"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const IDLE: Duration = Duration::from_secs(10);

    #[test]
    fn without_trouble_the_idle_clock_counts_from_the_end_of_the_log() {
        let c = LeaderContact::default();
        let t0 = Instant::now();
        assert!(!c.idle(t0, t0 + Duration::from_secs(9), IDLE));
        assert!(c.idle(t0, t0 + IDLE, IDLE));
    }

    #[test]
    fn an_error_starts_the_idle_clock_again() {
        let c = LeaderContact::default();
        let t0 = Instant::now();
        c.trouble_at(t0 + Duration::from_secs(8));
        assert!(!c.idle(t0, t0 + Duration::from_secs(12), IDLE));
        assert!(c.idle(t0, t0 + Duration::from_secs(18), IDLE));
        // An older sign of trouble changes nothing.
        c.trouble_at(t0);
        assert!(c.idle(t0, t0 + Duration::from_secs(18), IDLE));
    }

    #[test]
    fn a_leader_down_stops_the_clock_until_a_report_shows_it_back() {
        let c = LeaderContact::default();
        let t0 = Instant::now();
        c.report_at(false, t0 + Duration::from_secs(1));
        // However long the broker stays away, the partition is not idle.
        assert!(!c.idle(t0, t0 + Duration::from_secs(600), IDLE));
        c.report_at(true, t0 + Duration::from_secs(600));
        assert!(!c.idle(t0, t0 + Duration::from_secs(605), IDLE));
        assert!(c.idle(t0, t0 + Duration::from_secs(610), IDLE));
        // Steady reports do not restart the clock.
        c.report_at(true, t0 + Duration::from_secs(612));
        assert!(c.idle(t0, t0 + Duration::from_secs(612), IDLE));
    }

    #[test]
    fn leaders_are_reachable_when_every_desired_partition_has_an_up_leader() {
        let states = |node: i32| match node {
            1 => Some("UP"),
            2 => Some("DOWN"),
            _ => None,
        };
        let up = [(0, true, 1), (1, true, 1), (-1, true, -1), (2, false, 2)];
        assert!(all_leaders_up(up.into_iter(), states));
        assert!(!all_leaders_up(
            [(0, true, 1), (3, true, 2)].into_iter(),
            states
        ));
        assert!(!all_leaders_up([(0, true, -1)].into_iter(), states));
        assert!(!all_leaders_up([(0, true, 7)].into_iter(), states));
        assert!(all_leaders_up(std::iter::empty(), states));
    }
}
