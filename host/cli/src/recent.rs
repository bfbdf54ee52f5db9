//! What this process did lately, for the worker's page (`/ui`): the last
//! calls and events, each export's calls over the last ten minutes (in
//! ten-second buckets, with recent latencies), and when each component was
//! loaded. It is fed by the log lines themselves (a tracing layer on the
//! call and event targets), so the page and the log never disagree.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::broadcast;
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

/// The target of the one log line per call.
const CALL_TARGET: &str = "activity_host::call";

/// The target of the log lines of events (loads, invalidations, …).
const EVENT_TARGET: &str = "activity_host::event";

/// Calls and events kept for the list.
const KEPT: usize = 200;

/// The width of a bucket of an export's activity, in seconds.
pub const BUCKET_SECONDS: u64 = 10;

/// Buckets kept per export: ten minutes.
pub const BUCKETS: usize = 60;

/// Latencies kept per export for its percentiles.
const LATENCIES_KEPT: usize = 1024;

/// One call, as its log line told it.
#[derive(Clone, Debug)]
pub struct SeenCall {
    /// When it ended.
    pub at: SystemTime,
    /// Its component (none for a call naming nothing loaded).
    pub component: Option<String>,
    /// The export's path (or `actor-cache/<helper>`).
    pub export: String,
    /// `hit`, `miss`, `bypass`, `degraded` or `error`.
    pub outcome: String,
    /// On a miss: why.
    pub reason: Option<String>,
    /// On an error: its kind.
    pub error: Option<String>,
    /// How long it took.
    pub elapsed_us: u64,
    /// Its short key, unless it bypassed the cache.
    pub key: Option<String>,
}

/// One event (a load, an invalidation, the store going down, …).
#[derive(Clone, Debug)]
pub struct SeenEvent {
    /// When it happened.
    pub at: SystemTime,
    /// `loaded`, `reloaded`, `unloaded`, `invalidated`, `store-down`, …
    pub event: String,
    /// The component concerned, if any.
    pub component: Option<String>,
    /// The log line's message and its other fields, as text.
    pub summary: String,
}

/// The calls of one export in one bucket of time.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Bucket {
    /// The bucket's start, in seconds since the Unix epoch.
    pub start: u64,
    /// Calls served from the cache.
    pub hits: u64,
    /// Calls that looked up, missed and ran.
    pub misses: u64,
    /// Calls that ran uncached: the rule said so, or the store was down.
    pub uncached: u64,
    /// Calls that failed.
    pub errors: u64,
    /// The sum of the calls' latencies.
    pub elapsed_us: u64,
}

impl Bucket {
    /// Every call in the bucket.
    pub fn calls(&self) -> u64 {
        self.hits + self.misses + self.uncached + self.errors
    }

    /// Hits over lookups (hits and misses), if there was one.
    pub fn hit_ratio(&self) -> Option<f64> {
        let lookups = self.hits + self.misses;
        (lookups > 0).then(|| self.hits as f64 / lookups as f64)
    }

    /// The mean latency, if there was a call.
    pub fn mean_us(&self) -> Option<u64> {
        let calls = self.calls();
        (calls > 0).then(|| self.elapsed_us / calls)
    }
}

/// An export's activity over the last ten minutes.
#[derive(Clone, Debug)]
pub struct Window {
    /// One bucket per ten seconds, oldest first, the last one the current.
    pub buckets: Vec<Bucket>,
    /// The median latency of its recent calls.
    pub p50_us: Option<u64>,
    /// The 99th percentile latency of its recent calls.
    pub p99_us: Option<u64>,
}

impl Window {
    /// The buckets summed.
    pub fn total(&self) -> Bucket {
        sum(&self.buckets)
    }
}

/// `buckets` summed (the start left at 0).
fn sum<'a>(buckets: impl IntoIterator<Item = &'a Bucket>) -> Bucket {
    buckets
        .into_iter()
        .fold(Bucket::default(), |sum, b| Bucket {
            start: 0,
            hits: sum.hits + b.hits,
            misses: sum.misses + b.misses,
            uncached: sum.uncached + b.uncached,
            errors: sum.errors + b.errors,
            elapsed_us: sum.elapsed_us + b.elapsed_us,
        })
}

/// When a component was last loaded.
#[derive(Clone, Copy, Debug)]
pub struct Loaded {
    /// When.
    pub at: SystemTime,
    /// Whether it replaced an earlier version.
    pub reloaded: bool,
}

#[derive(Default)]
struct ExportActivity {
    buckets: VecDeque<Bucket>,
    /// (when, latency) of its last calls.
    latencies: VecDeque<(SystemTime, u64)>,
}

#[derive(Default)]
struct State {
    calls: VecDeque<Arc<SeenCall>>,
    events: VecDeque<SeenEvent>,
    exports: HashMap<(String, String), ExportActivity>,
    loaded: HashMap<String, Loaded>,
}

/// What the process did lately (see the module's doc).
pub struct Recent {
    state: Mutex<State>,
    live: broadcast::Sender<Arc<SeenCall>>,
}

impl Recent {
    /// An empty record; install [`Recent::layer`] to fill it.
    pub fn new() -> Arc<Self> {
        Arc::new(Self {
            state: Mutex::default(),
            live: broadcast::channel(KEPT).0,
        })
    }

    /// The tracing layer that records call and event lines, whatever
    /// `RUST_LOG` lets through to stderr.
    pub fn layer<S>(self: &Arc<Self>) -> impl Layer<S> + Send + Sync
    where
        S: Subscriber + for<'span> LookupSpan<'span>,
    {
        let targets = Targets::new()
            .with_target(CALL_TARGET, LevelFilter::INFO)
            .with_target(EVENT_TARGET, LevelFilter::INFO);
        Recorder(self.clone()).with_filter(targets)
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A panic while recording leaves nothing half-written worth refusing.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The last calls, newest first.
    pub fn calls(&self) -> Vec<Arc<SeenCall>> {
        self.state().calls.iter().rev().cloned().collect()
    }

    /// The last events, newest first.
    pub fn events(&self) -> Vec<SeenEvent> {
        self.state().events.iter().rev().cloned().collect()
    }

    /// Every call from now on, as it ends.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<SeenCall>> {
        self.live.subscribe()
    }

    /// When `component` was last loaded, if this process saw it.
    pub fn loaded(&self, component: &str) -> Option<Loaded> {
        self.state().loaded.get(component).copied()
    }

    /// The activity of `export` of `component` over the last ten minutes.
    pub fn window(&self, component: &str, export: &str) -> Window {
        let first = first_bucket_start();
        let mut buckets: Vec<Bucket> = (0..BUCKETS as u64)
            .map(|i| Bucket {
                start: first + i * BUCKET_SECONDS,
                ..Bucket::default()
            })
            .collect();
        let state = self.state();
        let Some(activity) = state
            .exports
            .get(&(component.to_owned(), export.to_owned()))
        else {
            return Window {
                buckets,
                p50_us: None,
                p99_us: None,
            };
        };
        for bucket in &activity.buckets {
            if bucket.start >= first {
                buckets[((bucket.start - first) / BUCKET_SECONDS) as usize] = *bucket;
            }
        }
        let since = SystemTime::now() - Duration::from_secs(BUCKETS as u64 * BUCKET_SECONDS);
        let mut latencies: Vec<u64> = activity
            .latencies
            .iter()
            .filter(|(at, _)| *at >= since)
            .map(|(_, us)| *us)
            .collect();
        latencies.sort_unstable();
        Window {
            buckets,
            p50_us: percentile(&latencies, 50),
            p99_us: percentile(&latencies, 99),
        }
    }

    /// Every export's calls of the last ten minutes, summed.
    pub fn last_minutes(&self) -> Bucket {
        let first = first_bucket_start();
        let state = self.state();
        let recent = state
            .exports
            .values()
            .flat_map(|activity| &activity.buckets)
            .filter(|bucket| bucket.start >= first);
        sum(recent)
    }

    fn record_call(&self, call: SeenCall) {
        let call = Arc::new(call);
        {
            let mut state = self.state();
            if let Some(component) = &call.component {
                let activity = state
                    .exports
                    .entry((component.clone(), call.export.clone()))
                    .or_default();
                activity.count(&call);
            }
            if state.calls.len() == KEPT {
                state.calls.pop_front();
            }
            state.calls.push_back(call.clone());
        }
        // No page listening is no error.
        let _ = self.live.send(call);
    }

    fn record_event(&self, event: SeenEvent) {
        let mut state = self.state();
        if let (Some(component), "loaded" | "reloaded") = (&event.component, event.event.as_str()) {
            let loaded = Loaded {
                at: event.at,
                reloaded: event.event == "reloaded",
            };
            state.loaded.insert(component.clone(), loaded);
        }
        if state.events.len() == KEPT {
            state.events.pop_front();
        }
        state.events.push_back(event);
    }
}

impl ExportActivity {
    fn count(&mut self, call: &SeenCall) {
        let start = bucket_start(unix_seconds(call.at));
        if self.buckets.back().is_none_or(|last| last.start != start) {
            if self.buckets.len() == BUCKETS {
                self.buckets.pop_front();
            }
            self.buckets.push_back(Bucket {
                start,
                ..Bucket::default()
            });
        }
        let bucket = self.buckets.back_mut().expect("pushed above");
        match call.outcome.as_str() {
            "hit" => bucket.hits += 1,
            "miss" => bucket.misses += 1,
            "error" => bucket.errors += 1,
            _ => bucket.uncached += 1,
        }
        bucket.elapsed_us += call.elapsed_us;
        if self.latencies.len() == LATENCIES_KEPT {
            self.latencies.pop_front();
        }
        self.latencies.push_back((call.at, call.elapsed_us));
    }
}

fn unix_seconds(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs()
}

/// The start of the oldest bucket of the last ten minutes.
fn first_bucket_start() -> u64 {
    let now = unix_seconds(SystemTime::now());
    bucket_start(now) - (BUCKETS as u64 - 1) * BUCKET_SECONDS
}

fn bucket_start(seconds: u64) -> u64 {
    seconds - seconds % BUCKET_SECONDS
}

/// The `p`th percentile of sorted `values` (nearest rank).
fn percentile(sorted: &[u64], p: usize) -> Option<u64> {
    let rank = (sorted.len() * p).div_ceil(100).max(1);
    sorted.get(rank - 1).copied()
}

/// The layer: each call or event line becomes a record.
struct Recorder(Arc<Recent>);

impl<S: Subscriber> Layer<S> for Recorder {
    fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
        let mut fields = Fields::default();
        event.record(&mut fields);
        let at = SystemTime::now();
        match event.metadata().target() {
            CALL_TARGET => self.0.record_call(SeenCall {
                at,
                component: fields.take("component"),
                export: fields.take("export").unwrap_or_default(),
                outcome: fields.take("outcome").unwrap_or_default(),
                reason: fields.take("reason"),
                error: fields.take("error"),
                elapsed_us: fields.number("elapsed_us"),
                key: fields.take("key"),
            }),
            EVENT_TARGET => {
                let event_name = fields.take("event").unwrap_or_default();
                let component = fields.take("component");
                self.0.record_event(SeenEvent {
                    at,
                    event: event_name,
                    component,
                    summary: fields.summary(),
                });
            }
            _ => {}
        }
    }
}

/// A log line's fields as text, in their order.
#[derive(Default)]
struct Fields(Vec<(&'static str, String)>);

impl Fields {
    fn take(&mut self, name: &str) -> Option<String> {
        let index = self.0.iter().position(|(field, _)| *field == name)?;
        Some(self.0.remove(index).1)
    }

    fn number(&mut self, name: &str) -> u64 {
        self.take(name).and_then(|n| n.parse().ok()).unwrap_or(0)
    }

    /// The message, then the other fields as `name=value`.
    fn summary(mut self) -> String {
        let mut summary = self.take("message").unwrap_or_default();
        for (name, value) in self.0 {
            summary.push_str(&format!(" {name}={value}"));
        }
        summary
    }
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.push((field.name(), value.to_owned()));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.push((field.name(), format!("{value:?}")));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing_subscriber::layer::SubscriberExt;

    #[test]
    fn records_call_and_event_lines() {
        let recent = Recent::new();
        let subscriber = tracing_subscriber::registry().with(recent.layer());
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!(target: "activity_host::event", event = "loaded", component = "users", sha256 = "ab", "component loaded");
            for (outcome, elapsed_us) in [("miss", 900u64), ("hit", 100), ("hit", 50)] {
                tracing::info!(target: "activity_host::call", outcome, reason = if outcome == "miss" { Some("new") } else { None }, component = "users", export = "api#fetch-user", elapsed_us, "call");
            }
            tracing::warn!(target: "activity_host::call", outcome = "error", error = "trap", component = "users", export = "api#fetch-user", elapsed_us = 10u64, "call");
            tracing::info!(target: "other", "not recorded");
        });
        let calls = recent.calls();
        assert_eq!(calls.len(), 4);
        assert_eq!(calls[0].error.as_deref(), Some("trap"), "newest first");
        assert_eq!(calls[3].reason.as_deref(), Some("new"));
        let window = recent.window("users", "api#fetch-user");
        let total = window.total();
        assert_eq!((total.hits, total.misses, total.errors), (2, 1, 1));
        assert_eq!(total.hit_ratio(), Some(2.0 / 3.0));
        assert_eq!((window.p50_us, window.p99_us), (Some(50), Some(900)));
        assert_eq!(window.buckets.len(), BUCKETS);
        assert!(!recent.loaded("users").unwrap().reloaded);
        assert_eq!(recent.events()[0].summary, "component loaded sha256=ab");
    }

    #[test]
    fn percentiles_by_nearest_rank() {
        let values: Vec<u64> = (1..=100).collect();
        assert_eq!(percentile(&values, 50), Some(50));
        assert_eq!(percentile(&values, 99), Some(99));
        assert_eq!(percentile(&[7], 99), Some(7));
        assert_eq!(percentile(&[], 50), None);
    }
}
