//! `GET /metrics`: the worker's counters, latencies, warm instances and store
//! health in Prometheus's text format.

use std::fmt::Write as _;
use std::sync::Arc;

use activity_host::LatencyHistogram;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};

use super::App;

pub(super) async fn metrics(State(worker): State<Arc<App>>) -> Response {
    let host = &worker.host;
    let stats = host.stats();
    let labels = |component: &str, export: &str| {
        format!(
            "component=\"{}\",export=\"{}\"",
            escape(component),
            escape(export)
        )
    };
    let mut text = String::new();
    family(
        &mut text,
        "activity_host_calls_total",
        "counter",
        "Calls by how they were served.",
    );
    for (component, export, s) in &stats {
        let outcomes = [
            ("hit", s.hits),
            ("miss", s.misses),
            ("bypass", s.bypasses),
            ("degraded", s.degraded),
            ("error", s.errors),
        ];
        for (outcome, value) in outcomes {
            let labels = labels(component, export);
            let _ = writeln!(
                text,
                "activity_host_calls_total{{{labels},outcome=\"{outcome}\"}} {value}"
            );
        }
    }
    let errors = "activity_host_call_errors_total";
    family(
        &mut text,
        errors,
        "counter",
        "Failed calls by kind of failure.",
    );
    for (component, export, counters) in host.counters() {
        // A series per kind that occurred: ten per export would swamp the page.
        for (kind, value) in counters
            .errors_by_kind()
            .into_iter()
            .filter(|(_, n)| *n > 0)
        {
            let labels = labels(&component, &export);
            let _ = writeln!(text, "{errors}{{{labels},error=\"{kind}\"}} {value}");
        }
    }
    let unrouted = "activity_host_unrouted_calls_total";
    family(
        &mut text,
        unrouted,
        "counter",
        "Calls that failed before naming a loaded export, by kind of failure.",
    );
    for (kind, value) in host.unrouted_calls().into_iter().filter(|(_, n)| *n > 0) {
        let _ = writeln!(text, "{unrouted}{{error=\"{kind}\"}} {value}");
    }
    let per_export = [
        (
            "activity_host_single_flight_waits_total",
            "Calls that waited for a concurrent identical call.",
        ),
        (
            "activity_host_stored_bytes_total",
            "Bytes of results written to the store.",
        ),
    ];
    for (index, (name, help)) in per_export.into_iter().enumerate() {
        family(&mut text, name, "counter", help);
        for (component, export, s) in &stats {
            let value = if index == 0 { s.waits } else { s.stored_bytes };
            let _ = writeln!(text, "{name}{{{}}} {value}", labels(component, export));
        }
    }
    let calls = "activity_host_call_duration_seconds";
    family(
        &mut text,
        calls,
        "histogram",
        "Call latency, whatever the outcome.",
    );
    for (component, export, counters) in host.counters() {
        histogram(
            &mut text,
            calls,
            &labels(&component, &export),
            &counters.latency,
        );
    }
    let store = "activity_host_store_duration_seconds";
    family(
        &mut text,
        store,
        "histogram",
        "Latency of store lookups (get) and writes (set).",
    );
    histogram(&mut text, store, "op=\"get\"", &host.store_latency().get);
    histogram(&mut text, store, "op=\"set\"", &host.store_latency().set);
    family(
        &mut text,
        "activity_host_store_up",
        "gauge",
        "Whether the store is reachable.",
    );
    let _ = writeln!(
        text,
        "activity_host_store_up {}",
        u8::from(host.store_is_healthy())
    );
    // A store that does not answer (down, or hung past its response
    // timeout) shows no figures this time; activity_host_store_up says why.
    if let Ok(Some(usage)) = host.store_usage().await {
        let gauges = [
            (
                "activity_host_store_entries",
                "gauge",
                "Entries the store holds now (Redis: keys in its database).",
                usage.entries,
            ),
            (
                "activity_host_store_bytes",
                "gauge",
                "Bytes the store holds now (memory store: values; Redis: used_memory).",
                usage.bytes,
            ),
            (
                "activity_host_store_evictions_total",
                "counter",
                "Entries the store evicted (memory store: beyond capacity-bytes; Redis: under maxmemory, evicted_keys).",
                usage.evictions,
            ),
        ];
        for (name, kind, help, value) in gauges {
            family(&mut text, name, kind, help);
            let _ = writeln!(text, "{name} {value}");
        }
    }
    let warm = "activity_host_instances_warm";
    family(
        &mut text,
        warm,
        "gauge",
        "Warm instances per component in actor mode.",
    );
    for (component, count) in host.warm_instances() {
        let _ = writeln!(
            text,
            "{warm}{{component=\"{}\"}} {count}",
            escape(&component)
        );
    }
    if let Some(memory) = host.guest_memory() {
        let gauges = [
            (
                "activity_host_guest_memory_budget_bytes",
                "The worker-wide guest memory budget (max-total-memory-bytes).",
                memory.total_bytes,
            ),
            (
                "activity_host_guest_memory_reserved_bytes",
                "Guest memory reserved by live instances (and the call first in line).",
                memory.reserved_bytes,
            ),
            (
                "activity_host_guest_memory_waiting_calls",
                "Calls waiting for room in the guest memory budget.",
                memory.waiting_calls as u64,
            ),
        ];
        for (name, help, value) in gauges {
            family(&mut text, name, "gauge", help);
            let _ = writeln!(text, "{name} {value}");
        }
        let waits = "activity_host_guest_memory_waits_total";
        family(
            &mut text,
            waits,
            "counter",
            "Calls that waited for room in the guest memory budget.",
        );
        let _ = writeln!(text, "{waits} {}", memory.waits_total);
    }
    family(
        &mut text,
        "activity_host_components",
        "gauge",
        "Components loaded.",
    );
    let _ = writeln!(
        text,
        "activity_host_components {}",
        host.component_names().len()
    );
    if let Some(frontend) = &worker.frontend {
        frontend.metrics(&mut text);
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response()
}

fn histogram(text: &mut String, name: &str, labels: &str, latency: &LatencyHistogram) {
    let (buckets, count, sum_us) = latency.snapshot();
    for (bound_us, cumulative) in buckets {
        let le = bound_us as f64 / 1e6;
        let _ = writeln!(text, "{name}_bucket{{{labels},le=\"{le}\"}} {cumulative}");
    }
    let _ = writeln!(text, "{name}_bucket{{{labels},le=\"+Inf\"}} {count}");
    let _ = writeln!(text, "{name}_sum{{{labels}}} {}", sum_us as f64 / 1e6);
    let _ = writeln!(text, "{name}_count{{{labels}}} {count}");
}

fn family(text: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(text, "# HELP {name} {help}");
    let _ = writeln!(text, "# TYPE {name} {kind}");
}

/// Escapes a Prometheus label value.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}
