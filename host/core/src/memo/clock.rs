//! The memoizer's cheap wall clock.

use std::time::SystemTime;

use quanta::Instant;

/// Wall-clock milliseconds for entry write times and ages, read from the
/// cheap monotonic clock: the wall clock when the memoizer started plus the
/// time elapsed since. (An entry's age is informational; stepping the
/// system clock while a worker runs shifts it by that step.)
pub(super) struct WallClock {
    start_ms: u64,
    start: Instant,
}

impl WallClock {
    pub(super) fn new() -> Self {
        let since_epoch = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH);
        Self {
            start_ms: since_epoch.map_or(0, |d| d.as_millis() as u64),
            start: Instant::now(),
        }
    }

    /// Milliseconds since the Unix epoch.
    pub(super) fn now_ms(&self) -> u64 {
        self.ms_at(Instant::now())
    }

    /// Milliseconds since the Unix epoch at `instant` (read earlier).
    pub(super) fn ms_at(&self, instant: Instant) -> u64 {
        self.start_ms + instant.saturating_duration_since(self.start).as_millis() as u64
    }
}
