//! The one structured log line per call (target `activity_host::call`),
//! written for exported calls and actor-cache fetches alike, so both read
//! (and filter) the same way.

use std::time::Duration;

use crate::key::CacheKey;

/// The fields of one call's log line.
pub(crate) struct CallLine<'a> {
    /// `hit`, `miss`, `bypass`, `degraded` or `error`.
    pub outcome: &'static str,
    /// With `error`: the [`ErrorKind`](crate::memo::ErrorKind), as text.
    pub error: Option<&'static str>,
    /// The component's name; none when the caller named none (a Temporal
    /// activity type naming nothing loaded).
    pub component: Option<&'a str>,
    /// The export's path (or `actor-cache/<helper>`).
    pub export: &'a str,
    /// The cache key (written short), unless the call bypassed the cache.
    pub key: Option<&'a CacheKey>,
    /// The rule's policy (or `actor-cache`); none for a call of nothing
    /// loaded.
    pub policy: Option<&'static str>,
    /// The store's name; none for a call of nothing loaded.
    pub store: Option<&'static str>,
    /// Time from the call's start to its end.
    pub elapsed_us: u64,
    /// On a hit from a store: how long ago the result was stored.
    pub age: Option<Duration>,
    /// On a miss: why ([`MissReason`](crate::store::MissReason), as text).
    pub reason: Option<&'static str>,
    /// Why the outcome is what it is, when that is not obvious; for an
    /// error, its message.
    pub detail: Option<&'a str>,
}

impl CallLine<'_> {
    /// Writes the line: at WARN for a failed call, else at INFO.
    pub(crate) fn write(&self) {
        macro_rules! line {
            ($level:expr) => {
                tracing::event!(
                    target: "activity_host::call",
                    $level,
                    outcome = self.outcome,
                    reason = self.reason,
                    error = self.error,
                    component = self.component,
                    export = %self.export,
                    key = self.key.map(|key| tracing::field::display(key.short_hex())),
                    policy = self.policy,
                    store = self.store,
                    elapsed_us = self.elapsed_us,
                    age_ms = self.age.map(|age| age.as_millis() as u64),
                    detail = self.detail,
                    "call"
                )
            };
        }
        if self.error.is_some() {
            line!(tracing::Level::WARN);
        } else {
            line!(tracing::Level::INFO);
        }
    }
}
