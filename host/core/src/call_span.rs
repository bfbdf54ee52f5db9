//! The trace span of one exported call (target `activity_host::span`, name
//! `call`): what a tracing layer such as OpenTelemetry's exports, one span per
//! call, with the same facts as its log line ([`crate::call_line`]) plus the
//! component's digest and the time spent waiting for a concurrent identical
//! call. Nothing is recorded unless a subscriber enables the target: a call
//! pays for its span only when traces are exported.

use std::time::Duration;

use tracing::field::Empty;

use crate::component::{ActivityComponent, ActivityExport};
use crate::key::CacheKey;

/// The target of call spans; a log formatter leaves it out.
pub const SPAN_TARGET: &str = "activity_host::span";

/// A new span for a call of `export` of `component`, its outcome to be
/// recorded with [`ended`] or [`failed`].
pub(crate) fn start(component: &ActivityComponent, export: &ActivityExport) -> tracing::Span {
    tracing::info_span!(
        target: SPAN_TARGET,
        "call",
        otel.name = %export.path,
        component = &*component.name,
        export = %export.path,
        component_sha256 = %hex::encode(component.code_hash),
        policy = export.rule.policy.as_str(),
        outcome = Empty,
        reason = Empty,
        error = Empty,
        key = Empty,
        age_ms = Empty,
        lease_wait_ms = Empty,
        otel.status_code = Empty,
        otel.status_description = Empty,
    )
}

/// Records how a call that returned ended.
pub(crate) fn ended(
    span: &tracing::Span,
    outcome: &'static str,
    reason: Option<&'static str>,
    key: Option<&CacheKey>,
    age: Option<Duration>,
) {
    if span.is_disabled() {
        return;
    }
    span.record("outcome", outcome);
    if let Some(reason) = reason {
        span.record("reason", reason);
    }
    if let Some(key) = key {
        span.record("key", key.short_hex().as_str());
    }
    if let Some(age) = age {
        span.record("age_ms", age.as_millis() as u64);
    }
}

/// Records that a call failed with the error kind `error`.
pub(crate) fn failed(
    span: &tracing::Span,
    error: &'static str,
    key: Option<&CacheKey>,
    message: &str,
) {
    if span.is_disabled() {
        return;
    }
    span.record("outcome", "error");
    span.record("error", error);
    if let Some(key) = key {
        span.record("key", key.short_hex().as_str());
    }
    span.record("otel.status_code", "ERROR");
    span.record("otel.status_description", message);
}

/// Records how long the call waited for a concurrent identical call (in
/// this process, or holding the store's lease in another).
pub(crate) fn waited(span: &tracing::Span, wait: Duration) {
    span.record("lease_wait_ms", wait.as_millis() as u64);
}
