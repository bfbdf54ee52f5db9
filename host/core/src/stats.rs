//! Per-export counters of how calls were served.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crate::memo::ErrorKind;

/// Upper bounds of the call-latency histogram buckets, in microseconds.
pub const LATENCY_BUCKETS_US: [u64; 14] = [
    10, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 50_000, 100_000, 500_000, 1_000_000,
    10_000_000,
];

/// A histogram of call latencies (cumulative buckets as Prometheus wants).
#[derive(Debug, Default)]
pub struct LatencyHistogram {
    /// Per bucket of [`LATENCY_BUCKETS_US`], then the latencies beyond the
    /// last bound (the total count is their sum).
    buckets: [AtomicU64; LATENCY_BUCKETS_US.len() + 1],
    sum_us: AtomicU64,
}

impl LatencyHistogram {
    /// Records one latency.
    pub fn record(&self, micros: u64) {
        let bucket = LATENCY_BUCKETS_US
            .iter()
            .position(|bound| micros <= *bound)
            .unwrap_or(LATENCY_BUCKETS_US.len());
        self.buckets[bucket].fetch_add(1, Ordering::Relaxed);
        self.sum_us.fetch_add(micros, Ordering::Relaxed);
    }

    /// (upper bound in µs, cumulative count) per bucket, then the total
    /// count and the sum of latencies in µs.
    pub fn snapshot(&self) -> (Vec<(u64, u64)>, u64, u64) {
        let mut cumulative = 0;
        let buckets = LATENCY_BUCKETS_US
            .iter()
            .zip(&self.buckets)
            .map(|(bound, count)| {
                cumulative += count.load(Ordering::Relaxed);
                (*bound, cumulative)
            })
            .collect();
        let beyond = self.buckets[LATENCY_BUCKETS_US.len()].load(Ordering::Relaxed);
        let count = cumulative + beyond;
        (buckets, count, self.sum_us.load(Ordering::Relaxed))
    }
}

/// Live counters of one export, shared by every call of it.
#[derive(Debug, Default)]
pub struct ExportCounters {
    /// Latency of every call, whatever its outcome.
    pub latency: LatencyHistogram,
    hits: AtomicU64,
    misses: AtomicU64,
    bypasses: AtomicU64,
    degraded: AtomicU64,
    errors: AtomicU64,
    errors_by_kind: [AtomicU64; ErrorKind::ALL.len()],
    waits: AtomicU64,
    stored_bytes: AtomicU64,
}

/// What a call adds to its export's counters.
#[derive(Clone, Copy, Debug)]
pub enum Event {
    /// Served from the store.
    Hit,
    /// Ran and stored.
    Miss,
    /// Ran, not cached by its rule.
    Bypass,
    /// Ran uncached because the store failed.
    Degraded,
    /// Waited for a concurrent identical call instead of running.
    Wait,
    /// Bytes written to the store.
    Stored(u64),
}

impl ExportCounters {
    /// Records the latency of one call.
    pub fn record_latency(&self, micros: u64) {
        self.latency.record(micros);
    }

    /// Counts `event`.
    pub fn record(&self, event: Event) {
        let (counter, amount) = match event {
            Event::Hit => (&self.hits, 1),
            Event::Miss => (&self.misses, 1),
            Event::Bypass => (&self.bypasses, 1),
            Event::Degraded => (&self.degraded, 1),
            Event::Wait => (&self.waits, 1),
            Event::Stored(bytes) => (&self.stored_bytes, bytes),
        };
        counter.fetch_add(amount, Ordering::Relaxed);
    }

    /// Counts a failed call of `kind`.
    pub fn record_error(&self, kind: ErrorKind) {
        self.errors.fetch_add(1, Ordering::Relaxed);
        self.errors_by_kind[kind.index()].fetch_add(1, Ordering::Relaxed);
    }

    /// Failed calls by kind, every kind listed.
    pub fn errors_by_kind(&self) -> [(ErrorKind, u64); ErrorKind::ALL.len()] {
        ErrorKind::ALL.map(|kind| {
            (
                kind,
                self.errors_by_kind[kind.index()].load(Ordering::Relaxed),
            )
        })
    }

    fn snapshot(&self) -> ExportStats {
        let read = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        ExportStats {
            hits: read(&self.hits),
            misses: read(&self.misses),
            bypasses: read(&self.bypasses),
            degraded: read(&self.degraded),
            errors: read(&self.errors),
            waits: read(&self.waits),
            stored_bytes: read(&self.stored_bytes),
        }
    }
}

/// A snapshot of one export's counters since the host started.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ExportStats {
    /// Calls served from the store (including single-flight waiters).
    pub hits: u64,
    /// Calls that ran and stored their result.
    pub misses: u64,
    /// Calls that ran uncached by their rule (`no-cache`).
    pub bypasses: u64,
    /// Calls that ran uncached because the store failed.
    pub degraded: u64,
    /// Calls that failed; nothing was cached for them.
    pub errors: u64,
    /// Calls that waited for a concurrent identical call (counted in hits
    /// or errors too, by what the call they waited for returned).
    pub waits: u64,
    /// Bytes of results written to the store.
    pub stored_bytes: u64,
}

impl ExportStats {
    /// Every counter with its name, as stored and printed.
    pub fn fields(&self) -> [(&'static str, u64); 7] {
        [
            ("hits", self.hits),
            ("misses", self.misses),
            ("bypasses", self.bypasses),
            ("degraded", self.degraded),
            ("errors", self.errors),
            ("waits", self.waits),
            ("stored_bytes", self.stored_bytes),
        ]
    }

    /// Sets the counter called `name` (unknown names are ignored).
    pub fn set(&mut self, name: &str, value: u64) {
        let counter = match name {
            "hits" => &mut self.hits,
            "misses" => &mut self.misses,
            "bypasses" => &mut self.bypasses,
            "degraded" => &mut self.degraded,
            "errors" => &mut self.errors,
            "waits" => &mut self.waits,
            "stored_bytes" => &mut self.stored_bytes,
            _ => return,
        };
        *counter = value;
    }

    /// Whether every counter is zero.
    pub fn is_zero(&self) -> bool {
        self.fields().iter().all(|(_, value)| *value == 0)
    }

    /// The counters of `self` minus those of `earlier`.
    fn since(&self, earlier: &ExportStats) -> ExportStats {
        let mut delta = ExportStats::default();
        for ((name, now), (_, before)) in self.fields().into_iter().zip(earlier.fields()) {
            delta.set(name, now.saturating_sub(before));
        }
        delta
    }
}

/// Counters of one export of one component: (component, export path, counters).
pub type StatsRow = (String, String, ExportStats);

/// The counters of every export of every component, by (component, export
/// path). Counters survive reloading a component.
#[derive(Default)]
pub struct StatsRegistry {
    exports: Mutex<BTreeMap<(String, String), Arc<ExportCounters>>>,
    /// What was last handed out by [`StatsRegistry::take_deltas`].
    flushed: Mutex<BTreeMap<(String, String), ExportStats>>,
    /// Calls that failed before naming a loaded export, by kind (counted
    /// apart: their names are whatever callers sent).
    unrouted: [AtomicU64; ErrorKind::ALL.len()],
}

impl StatsRegistry {
    /// Counts a call that failed before naming a loaded export.
    pub fn record_unrouted(&self, kind: ErrorKind) {
        self.unrouted[kind.index()].fetch_add(1, Ordering::Relaxed);
    }

    /// Calls that failed before naming a loaded export, by kind.
    pub fn unrouted(&self) -> [(ErrorKind, u64); ErrorKind::ALL.len()] {
        ErrorKind::ALL.map(|kind| (kind, self.unrouted[kind.index()].load(Ordering::Relaxed)))
    }

    /// The counters of `export` of `component`, created on first use.
    pub fn counters(&self, component: &str, export: &str) -> Arc<ExportCounters> {
        let mut exports = self
            .exports
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        exports
            .entry((component.to_owned(), export.to_owned()))
            .or_default()
            .clone()
    }

    /// What every export counted since the last call (for stores that keep
    /// shared counters); exports with nothing new are left out.
    pub fn take_deltas(&self) -> Vec<StatsRow> {
        let mut flushed = self
            .flushed
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut deltas = Vec::new();
        for (component, export, now) in self.snapshot() {
            let before = flushed
                .entry((component.clone(), export.clone()))
                .or_default();
            let delta = now.since(before);
            *before = now;
            if !delta.is_zero() {
                deltas.push((component, export, delta));
            }
        }
        deltas
    }

    /// Hands back `deltas` that could not be added to a shared store: the
    /// next [`StatsRegistry::take_deltas`] includes them again.
    pub fn give_back(&self, deltas: &[StatsRow]) {
        let mut flushed = self
            .flushed
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        for (component, export, delta) in deltas {
            let before = flushed
                .entry((component.clone(), export.clone()))
                .or_default();
            *before = before.since(delta);
        }
    }

    /// The live counters of every export, sorted by component and export.
    pub fn counters_by_export(&self) -> Vec<(String, String, Arc<ExportCounters>)> {
        let exports = self
            .exports
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        exports
            .iter()
            .map(|((component, export), counters)| {
                (component.clone(), export.clone(), counters.clone())
            })
            .collect()
    }

    /// A snapshot of every export's counters, sorted by component and export.
    pub fn snapshot(&self) -> Vec<StatsRow> {
        self.counters_by_export()
            .into_iter()
            .map(|(component, export, counters)| (component, export, counters.snapshot()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latencies_fill_cumulative_buckets_and_those_beyond_count_in_the_total() {
        let histogram = LatencyHistogram::default();
        for micros in [0, 10, 11, 20_000_000] {
            histogram.record(micros);
        }
        let (buckets, count, sum_us) = histogram.snapshot();
        assert_eq!(buckets.len(), LATENCY_BUCKETS_US.len());
        assert_eq!(buckets[0], (10, 2));
        assert_eq!(buckets[1], (50, 3));
        assert_eq!(buckets.last(), Some(&(10_000_000, 3)));
        assert_eq!(count, 4);
        assert_eq!(sum_us, 20_000_021);
    }
}
