//! Per-partition watermarks, and why the dataflow frontier is the watermark.
//!
//! Every Kafka partition keeps the largest event time read from it. Its watermark is that
//! maximum minus `max_out_of_orderness`: the promise that no *on-time* event older than the
//! watermark will come from this partition. An event whose time is already behind its own
//! partition's watermark when it is read is *late*. Because the judgement only looks at the
//! records of one partition, in their log order, it is the same whichever worker reads the
//! partition and however many workers there are.
//!
//! A partition that has been caught up with the end of its log for `idle_timeout` cannot raise
//! its watermark from data, so it follows the wall clock instead: `now − max_out_of_orderness`
//! (the limited-delay policy of Beam's KafkaIO). Idle partitions then never hold windows back,
//! and the last windows close when traffic stops. A partition whose leader the consumer cannot
//! reach is not caught up, however quiet it looks ([`crate::idle`]): a broker restart must not
//! turn the records written meanwhile late.
//!
//! The source operator holds one timely capability at the minimum watermark of the partitions
//! it reads ([`source_watermark`]) and downgrades it as that minimum rises. Timely's progress
//! tracking combines the capabilities of all workers, so the frontier every downstream operator
//! sees is the minimum watermark over all partitions: there is no second protocol for
//! watermarks. All times are UTC epoch milliseconds.

/// What a checkpoint keeps of a partition's watermark so a replay judges lateness exactly as
/// the first reading did. Times are UTC epoch ms.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct WatermarkState {
    /// Largest event time read so far; `None` before the first event.
    pub max_event_time_ms: Option<i64>,
    /// Highest watermark the idle (wall-clock) policy reached; `None` if it never acted.
    pub idle_watermark_ms: Option<i64>,
}

/// Watermark state of one Kafka partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionWatermark {
    max_out_of_orderness_ms: i64,
    /// Largest event time read from the partition, UTC epoch ms; `None` before the first event.
    max_event_time_ms: Option<i64>,
    /// Highest watermark reached by the idle (wall-clock) policy, UTC epoch ms.
    idle_watermark_ms: Option<i64>,
}

/// Whether an event was on time when read, judged by [`PartitionWatermark::observe`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lateness {
    /// At or after the partition's watermark: the event goes into its windows.
    OnTime,
    /// Behind the partition's watermark: routed to `late_web_events` with the watermark it
    /// missed (UTC epoch ms).
    Late {
        /// The partition's watermark when the event was read.
        watermark_ms: i64,
    },
}

impl PartitionWatermark {
    /// A partition that has read nothing yet. `max_out_of_orderness_ms` is the lateness bound
    /// (from the `--max-out-of-orderness` flag), in milliseconds, ≥ 0.
    pub fn new(max_out_of_orderness_ms: i64) -> Self {
        PartitionWatermark {
            max_out_of_orderness_ms: max_out_of_orderness_ms.max(0),
            max_event_time_ms: None,
            idle_watermark_ms: None,
        }
    }

    /// A partition restored from a checkpoint, whose largest event time read so far was
    /// `max_event_time_ms` (UTC epoch ms).
    pub fn restored(max_out_of_orderness_ms: i64, max_event_time_ms: Option<i64>) -> Self {
        PartitionWatermark {
            max_event_time_ms,
            ..PartitionWatermark::new(max_out_of_orderness_ms)
        }
    }

    /// A partition restored from a checkpointed [`WatermarkState`].
    pub fn from_state(max_out_of_orderness_ms: i64, state: WatermarkState) -> Self {
        PartitionWatermark {
            max_event_time_ms: state.max_event_time_ms,
            idle_watermark_ms: state.idle_watermark_ms,
            ..PartitionWatermark::new(max_out_of_orderness_ms)
        }
    }

    /// The state to checkpoint (see [`PartitionWatermark::from_state`]).
    pub fn state(&self) -> WatermarkState {
        WatermarkState {
            max_event_time_ms: self.max_event_time_ms,
            idle_watermark_ms: self.idle_watermark_ms,
        }
    }

    /// The watermark, UTC epoch ms; `None` while the partition has neither read an event nor
    /// been idle (its watermark is then the minimum time, and it holds everything back).
    pub fn watermark_ms(&self) -> Option<i64> {
        let from_data = self
            .max_event_time_ms
            .map(|t| t.saturating_sub(self.max_out_of_orderness_ms));
        from_data.max(self.idle_watermark_ms)
    }

    /// The largest event time read, UTC epoch ms (stored in checkpoints).
    pub fn max_event_time_ms(&self) -> Option<i64> {
        self.max_event_time_ms
    }

    /// Judges an event read from this partition against the watermark *before* it, then lets
    /// the event raise the maximum event time. A late event never lowers or raises anything.
    pub fn observe(&mut self, event_time_ms: i64) -> Lateness {
        if let Some(watermark_ms) = self.watermark_ms() {
            if event_time_ms < watermark_ms {
                return Lateness::Late { watermark_ms };
            }
        }
        self.max_event_time_ms = self.max_event_time_ms.max(Some(event_time_ms));
        Lateness::OnTime
    }

    /// The idle policy: the partition has been caught up for `idle_timeout`, so its watermark
    /// follows the wall clock, `now_ms − max_out_of_orderness` (UTC epoch ms). Never lowers it.
    pub fn advance_idle(&mut self, now_ms: i64) {
        self.advance_idle_to(now_ms.saturating_sub(self.max_out_of_orderness_ms));
    }

    /// Repeats an idle advance a first reading made, to the idle watermark `watermark_ms` (UTC
    /// epoch ms) it recorded. Never lowers it.
    pub fn advance_idle_to(&mut self, watermark_ms: i64) {
        self.idle_watermark_ms = self.idle_watermark_ms.max(Some(watermark_ms));
    }
}

/// The watermark a source holds its capability at: the minimum over the partitions it reads,
/// where a partition without a watermark yet counts as the minimum time (`i64::MIN`). `None`
/// when the source reads no partition at all (it then holds no capability).
pub fn source_watermark<'a>(
    partitions: impl IntoIterator<Item = &'a PartitionWatermark>,
) -> Option<i64> {
    partitions
        .into_iter()
        .map(|p| p.watermark_ms().unwrap_or(i64::MIN))
        .min()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn watermark_trails_the_max_event_time_by_the_bound() {
        let mut p = PartitionWatermark::new(5_000);
        assert_eq!(p.watermark_ms(), None);
        assert_eq!(p.observe(100_000), Lateness::OnTime);
        assert_eq!(p.watermark_ms(), Some(95_000));
        // Out of order but within the bound: on time, and the max does not move back.
        assert_eq!(p.observe(96_000), Lateness::OnTime);
        assert_eq!(p.watermark_ms(), Some(95_000));
        assert_eq!(p.observe(110_000), Lateness::OnTime);
        assert_eq!(p.watermark_ms(), Some(105_000));
    }

    #[test]
    fn an_event_behind_the_watermark_is_late_and_changes_nothing() {
        let mut p = PartitionWatermark::new(5_000);
        p.observe(100_000);
        assert_eq!(
            p.observe(94_999),
            Lateness::Late {
                watermark_ms: 95_000
            }
        );
        // Exactly at the watermark is still on time.
        assert_eq!(p.observe(95_000), Lateness::OnTime);
        assert_eq!(p.watermark_ms(), Some(95_000));
    }

    #[test]
    fn idle_partitions_follow_the_wall_clock_and_never_go_back() {
        let mut p = PartitionWatermark::new(5_000);
        p.advance_idle(1_000_000);
        assert_eq!(p.watermark_ms(), Some(995_000));
        p.advance_idle(900_000);
        assert_eq!(p.watermark_ms(), Some(995_000));
        // Data behind the idle watermark is late; data ahead of it moves it on.
        assert!(matches!(p.observe(990_000), Lateness::Late { .. }));
        p.observe(2_000_000);
        assert_eq!(p.watermark_ms(), Some(1_995_000));
    }

    #[test]
    fn the_source_holds_the_minimum_and_nothing_without_partitions() {
        let mut a = PartitionWatermark::new(0);
        let mut b = PartitionWatermark::new(0);
        assert_eq!(source_watermark([&a, &b]), Some(i64::MIN));
        a.observe(50);
        assert_eq!(source_watermark([&a, &b]), Some(i64::MIN));
        b.observe(20);
        assert_eq!(source_watermark([&a, &b]), Some(20));
        assert_eq!(source_watermark([]), None);
    }

    #[test]
    fn restored_state_judges_like_the_original() {
        let mut original = PartitionWatermark::new(1_000);
        original.observe(10_000);
        let mut restored = PartitionWatermark::restored(1_000, original.max_event_time_ms());
        for t in [8_999, 9_000, 12_000, 10_500] {
            assert_eq!(original.observe(t), restored.observe(t));
        }
    }
}
