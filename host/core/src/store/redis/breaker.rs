//! A circuit breaker: stop paying timeouts to a store that is down.
//!
//! Closed, every request goes through. A failure opens the breaker for a
//! fixed window; while open, requests fail at once without touching the
//! store. When the window has passed, exactly one request goes through as a
//! probe: success closes the breaker, failure opens it for another window.
//! So a dead or hung store costs at most one failure (one timeout) per
//! window, and a store that comes back is used again within one window.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::event_line;

/// The breaker of one store.
pub struct Breaker {
    name: &'static str,
    /// Where the store is (passwords hidden), for the events it logs.
    location: String,
    window: Duration,
    epoch: Instant,
    /// Milliseconds since `epoch` until which the breaker is open; 0: closed.
    open_until_ms: AtomicU64,
    /// Whether a probe is in flight (half-open).
    probing: AtomicBool,
}

impl Breaker {
    /// A closed breaker for store `name` at `location` that stays open for
    /// `window`.
    pub fn new(name: &'static str, location: String, window: Duration) -> Self {
        Self {
            name,
            location,
            window,
            epoch: Instant::now(),
            open_until_ms: AtomicU64::new(0),
            probing: AtomicBool::new(false),
        }
    }

    fn now_ms(&self) -> u64 {
        // Starts at 1 so that 0 can mean "closed".
        self.epoch.elapsed().as_millis() as u64 + 1
    }

    /// Whether a request may go to the store now.
    pub fn allow(&self) -> bool {
        let until = self.open_until_ms.load(Ordering::Acquire);
        if until == 0 {
            return true;
        }
        if self.now_ms() < until {
            return false;
        }
        // Half-open: one probe at a time.
        self.probing
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    /// The store answered.
    pub fn succeeded(&self) {
        if self.open_until_ms.swap(0, Ordering::AcqRel) != 0 {
            event_line::store_up(self.name, &self.location);
        }
        self.probing.store(false, Ordering::Release);
    }

    /// The store failed with `error`.
    pub fn failed(&self, error: &dyn std::fmt::Display) {
        let until = self.now_ms() + self.window.as_millis() as u64;
        if self.open_until_ms.swap(until, Ordering::AcqRel) == 0 {
            event_line::store_down(self.name, &self.location, error);
        }
        self.probing.store(false, Ordering::Release);
    }

    /// Whether the breaker is closed (for health checks).
    pub fn is_closed(&self) -> bool {
        self.open_until_ms.load(Ordering::Acquire) == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_on_failure_then_lets_one_probe_through_after_the_window() {
        let breaker = Breaker::new("test", "test".to_owned(), Duration::from_millis(50));
        assert!(breaker.allow());
        breaker.failed(&"down");
        assert!(!breaker.allow(), "open: fail fast");
        assert!(!breaker.is_closed());
        std::thread::sleep(Duration::from_millis(70));
        assert!(breaker.allow(), "the first caller after the window probes");
        assert!(!breaker.allow(), "only one probe at a time");
        breaker.succeeded();
        assert!(breaker.allow() && breaker.allow(), "closed again");
        assert!(breaker.is_closed());
    }

    #[test]
    fn a_failed_probe_opens_another_window() {
        let breaker = Breaker::new("test", "test".to_owned(), Duration::from_millis(30));
        breaker.failed(&"down");
        std::thread::sleep(Duration::from_millis(40));
        assert!(breaker.allow());
        breaker.failed(&"still down");
        assert!(!breaker.allow());
    }
}
