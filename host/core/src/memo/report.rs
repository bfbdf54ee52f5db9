//! How a call ended: its [`Outcome`], the [`CallReport`] a caller gets, and
//! the counters and log line each call leaves behind, failed ones included.

use std::fmt;
use std::sync::OnceLock;
use std::time::Duration;

use bytes::Bytes;
use quanta::Instant;
use wasmtime::component::Val;

use super::ErrorKind;
use crate::call_line::CallLine;
use crate::call_span;
use crate::codec::BYTES_RESULT_OFFSET;
use crate::component::{ActivityComponent, ActivityExport, ExportHandle};
use crate::key::CacheKey;
use crate::payload::Results;
use crate::stats::Event;
use crate::store::{CacheStore, MissReason, Slot};

/// How a call was served.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The function did not run: the result came from the store, or from a
    /// concurrent identical call that this call waited for.
    Hit,
    /// Not in the cache (or a refresh): the function ran and its result was
    /// stored (unless the rule keeps it out, such as a `result::err`).
    Miss,
    /// The rule says `no-cache`: the function ran, nothing was looked up or stored.
    Bypass,
    /// The store failed: the function ran uncached.
    Degraded,
}

impl Outcome {
    /// The outcome as written in logs and headers.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Hit => "hit",
            Self::Miss => "miss",
            Self::Bypass => "bypass",
            Self::Degraded => "degraded",
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Per-call options: `CallOptions::default().with_refresh(true)`.
#[derive(Clone, Copy, Debug, Default)]
#[non_exhaustive]
pub struct CallOptions {
    /// Run the function even if a result is cached, and overwrite the entry
    /// (Prefect's `refresh_cache`, Flyte's `overwrite_cache`).
    pub refresh: bool,
    /// Fail the call with [`CallError::Deadline`](super::CallError::Deadline)
    /// if it has not finished within this time, waiting for a concurrent
    /// identical call included (the component's own `timeout` still bounds
    /// the guest's run).
    pub timeout: Option<Duration>,
}

impl CallOptions {
    /// These options with `refresh` set.
    pub fn with_refresh(self, refresh: bool) -> Self {
        Self { refresh, ..self }
    }

    /// These options with a deadline for the whole call.
    pub fn with_timeout(self, timeout: Duration) -> Self {
        Self {
            timeout: Some(timeout),
            ..self
        }
    }
}

/// The result of a call, and how it was served.
#[derive(Clone, Debug)]
pub struct CallReport {
    results: Results,
    /// `results` as values, once asked for.
    values: OnceLock<Vec<Val>>,
    /// Hit, miss, bypass or degraded.
    pub outcome: Outcome,
    /// The cache key, unless the call bypassed the cache.
    pub key: Option<CacheKey>,
    /// On a hit from the store: how long ago the result was stored.
    pub age: Option<Duration>,
    /// On a miss: why.
    pub reason: Option<MissReason>,
}

impl CallReport {
    /// The function's results (zero or one value). A result read from the
    /// cache (checked when it was read) is decoded into values on the first
    /// use, as is the result of a byte export
    /// ([`ByteSignature`](crate::ByteSignature): one `Val` per byte for a
    /// `list<u8>`, which [`Self::result_bytes`] reads without that cost).
    pub fn results(&self) -> &[Val] {
        match &self.results {
            Results::Values(values) => values,
            bytes => self.values.get_or_init(|| bytes.to_values()),
        }
    }

    /// The function's results, owned.
    pub fn into_results(self) -> Vec<Val> {
        match self.values.into_inner() {
            Some(values) => values,
            None => self.results.into_values(),
        }
    }

    /// The result as raw bytes, if it is one `list<u8>` (what an HTTP
    /// client asking for `application/octet-stream` gets) or the `string`
    /// of a byte export (its UTF-8). Shares the cache entry's memory for a
    /// byte export. An empty list has no element type: ask only of an
    /// export whose [`returns_bytes`](crate::ActivityExport::returns_bytes).
    pub fn result_bytes(&self) -> Option<Bytes> {
        if let Results::Bytes(_, entry) = &self.results {
            return Some(entry.slice(BYTES_RESULT_OFFSET..));
        }
        let [Val::List(items)] = self.results() else {
            return None;
        };
        items
            .iter()
            .map(|item| match item {
                Val::U8(byte) => Some(*byte),
                _ => None,
            })
            .collect::<Option<Vec<u8>>>()
            .map(Bytes::from)
    }
}

/// One call in progress: what it calls and when it started.
pub(super) struct Call<'a> {
    /// The export called.
    pub handle: &'a ExportHandle,
    /// `handle`'s component, read once.
    pub component: &'a ActivityComponent,
    /// `handle`'s export, read once.
    pub export: &'a ActivityExport,
    /// The store its rule keeps results in.
    pub store: &'a dyn CacheStore,
    /// When the call started, for its latency.
    pub started: Instant,
    /// Its key, once computed; `None` before, or if its rule does not cache
    /// it.
    pub key: Option<CacheKey>,
    /// Why it missed: the first lookup's answer (or a refresh).
    pub miss: OnceLock<MissReason>,
    /// Its trace span (disabled unless traces are exported).
    pub span: tracing::Span,
}

/// How a call ended, for its report and its log line.
pub(super) struct Done {
    outcome: Outcome,
    key: Option<CacheKey>,
    age: Option<Duration>,
    reason: Option<MissReason>,
    detail: Option<&'static str>,
}

impl Done {
    pub(super) fn new(outcome: Outcome, key: Option<CacheKey>) -> Self {
        Self {
            outcome,
            key,
            age: None,
            reason: None,
            detail: None,
        }
    }

    pub(super) fn because(self, reason: MissReason) -> Self {
        Self {
            reason: Some(reason),
            ..self
        }
    }

    pub(super) fn aged(self, age: Duration) -> Self {
        Self {
            age: Some(age),
            ..self
        }
    }

    pub(super) fn detail(self, detail: &'static str) -> Self {
        Self {
            detail: Some(detail),
            ..self
        }
    }
}

impl Call<'_> {
    pub(super) fn slot<'k>(&'k self, key: &'k CacheKey) -> Slot<'k> {
        Slot::result(key, &self.component.name, &self.export.path)
    }

    /// Counts and logs the call; returns its report.
    pub(super) fn done(&self, results: Results, done: Done) -> CallReport {
        let Done {
            outcome,
            key,
            age,
            reason,
            detail,
        } = done;
        self.export.counters.record(match outcome {
            Outcome::Hit => Event::Hit,
            Outcome::Miss => Event::Miss,
            Outcome::Bypass => Event::Bypass,
            Outcome::Degraded => Event::Degraded,
        });
        let elapsed_us = self.started.elapsed().as_micros() as u64;
        self.export.counters.record_latency(elapsed_us);
        let reason_text = reason.map(MissReason::as_str);
        call_span::ended(&self.span, outcome.as_str(), reason_text, key.as_ref(), age);
        CallLine {
            outcome: outcome.as_str(),
            error: None,
            component: Some(&*self.component.name),
            export: &self.export.path,
            key: key.as_ref(),
            policy: Some(self.export.rule.policy.as_str()),
            store: Some(self.store.name()),
            elapsed_us,
            age,
            reason: reason_text,
            detail,
        }
        .write();
        CallReport {
            results,
            values: OnceLock::new(),
            outcome,
            key,
            age,
            reason,
        }
    }

    /// Counts and logs the call as failed with `kind`, `message` saying why.
    pub(super) fn failed(&self, kind: ErrorKind, message: &str) {
        self.export.counters.record_error(kind);
        let elapsed_us = self.started.elapsed().as_micros() as u64;
        self.export.counters.record_latency(elapsed_us);
        call_span::failed(&self.span, kind.as_str(), self.key.as_ref(), message);
        CallLine {
            outcome: "error",
            error: Some(kind.as_str()),
            component: Some(&*self.component.name),
            export: &self.export.path,
            key: self.key.as_ref(),
            policy: Some(self.export.rule.policy.as_str()),
            store: Some(self.store.name()),
            elapsed_us,
            age: None,
            reason: None,
            detail: Some(message),
        }
        .write();
    }
}
