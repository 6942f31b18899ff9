//! Event-time window assignment: tumbling and hopping windows.
//!
//! A window covers `[window_start, window_end)` in UTC epoch milliseconds: `window_start`
//! inclusive, `window_end` exclusive, `window_end − window_start = size`. Window starts are
//! aligned to multiples of the slide since the epoch (a 1-minute tumbling window starts on the
//! minute). A tumbling window is a hopping window whose slide equals its size.

use std::fmt;

/// One event-time window, UTC epoch ms; `start_ms` inclusive, `end_ms` exclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Window {
    /// `window_start`, inclusive.
    pub start_ms: i64,
    /// `window_end`, exclusive.
    pub end_ms: i64,
}

/// How events are assigned to windows: `size_ms` long, a new one every `slide_ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowSpec {
    size_ms: i64,
    slide_ms: i64,
}

/// A window size/slide combination that cannot work.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WindowSpecError(String);

impl fmt::Display for WindowSpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for WindowSpecError {}

impl WindowSpec {
    /// Tumbling windows of `size_ms` milliseconds.
    ///
    /// # Errors
    /// When `size_ms` is not positive.
    pub fn tumbling(size_ms: i64) -> Result<Self, WindowSpecError> {
        Self::hopping(size_ms, size_ms)
    }

    /// Hopping windows of `size_ms` milliseconds, one starting every `slide_ms`; each event is
    /// in `size_ms / slide_ms` windows.
    ///
    /// # Errors
    /// When either is not positive, the slide exceeds the size (events would fall between
    /// windows), or the size is not a multiple of the slide (events would belong to a varying
    /// number of windows).
    pub fn hopping(size_ms: i64, slide_ms: i64) -> Result<Self, WindowSpecError> {
        if size_ms <= 0 || slide_ms <= 0 {
            return Err(WindowSpecError(format!(
                "window size ({size_ms} ms) and slide ({slide_ms} ms) must be positive"
            )));
        }
        if slide_ms > size_ms || size_ms % slide_ms != 0 {
            return Err(WindowSpecError(format!(
                "window size ({size_ms} ms) must be a multiple of the slide ({slide_ms} ms)"
            )));
        }
        Ok(WindowSpec { size_ms, slide_ms })
    }

    /// Window length, ms.
    pub fn size_ms(&self) -> i64 {
        self.size_ms
    }

    /// Distance between consecutive window starts, ms.
    pub fn slide_ms(&self) -> i64 {
        self.slide_ms
    }

    /// The windows containing `event_time_ms`, oldest first (one for tumbling windows,
    /// `size / slide` for hopping ones).
    pub fn windows_of(&self, event_time_ms: i64) -> impl Iterator<Item = Window> {
        let last_start = event_time_ms.div_euclid(self.slide_ms) * self.slide_ms;
        let count = self.size_ms / self.slide_ms;
        let (size, slide) = (self.size_ms, self.slide_ms);
        (0..count).rev().map(move |back| {
            let start_ms = last_start - back * slide;
            Window {
                start_ms,
                end_ms: start_ms + size,
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn starts(spec: WindowSpec, t: i64) -> Vec<i64> {
        spec.windows_of(t).map(|w| w.start_ms).collect()
    }

    #[test]
    fn tumbling_windows_start_on_the_boundary_and_end_exclusive() {
        let minute = WindowSpec::tumbling(60_000).unwrap();
        assert_eq!(starts(minute, 0), vec![0]);
        assert_eq!(starts(minute, 59_999), vec![0]);
        assert_eq!(starts(minute, 60_000), vec![60_000]);
        let w = minute.windows_of(125_000).next().unwrap();
        assert_eq!(
            w,
            Window {
                start_ms: 120_000,
                end_ms: 180_000
            }
        );
    }

    #[test]
    fn hopping_windows_cover_each_event_size_over_slide_times() {
        let spec = WindowSpec::hopping(60_000, 20_000).unwrap();
        assert_eq!(starts(spec, 65_000), vec![20_000, 40_000, 60_000]);
        for t in [0, 1, 19_999, 20_000, 1_700_000_123_456] {
            let ws: Vec<Window> = spec.windows_of(t).collect();
            assert_eq!(ws.len(), 3);
            assert!(ws.iter().all(|w| w.start_ms <= t && t < w.end_ms));
        }
    }

    #[test]
    fn times_before_the_epoch_round_down() {
        let minute = WindowSpec::tumbling(60_000).unwrap();
        assert_eq!(starts(minute, -1), vec![-60_000]);
    }

    #[test]
    fn impossible_specs_are_refused() {
        assert!(WindowSpec::tumbling(0).is_err());
        assert!(WindowSpec::hopping(60_000, 0).is_err());
        assert!(WindowSpec::hopping(60_000, 70_000).is_err());
        assert!(WindowSpec::hopping(60_000, 25_000).is_err());
    }
}
