//! OpenTelemetry traces: with `--otlp-endpoint`, one span per call reaches a
//! collector (over HTTP or gRPC) with the call's outcome, miss reason, key,
//! component digest and wait; failed calls are error spans. (Under
//! `activity-host temporal` each is the child of its activity's span, with
//! the workflow and activity ids: `temporal.rs` checks it.)

use crate::support;

use support::otlp::{OtlpCollector, ReceivedSpan};
use support::worker::Worker;
use support::{activity_host, guest};

/// `fetch-user`'s full path: the name of its spans.
const FETCH_USER: &str = "example:users/api@0.1.0#fetch-user";

#[test]
fn a_worker_exports_one_span_per_call_over_http() {
    let collector = OtlpCollector::http();
    let dir = tempfile::tempdir().unwrap();
    for name in ["users.wasm", "typed.wasm"] {
        std::fs::copy(guest(name), dir.path().join(name)).unwrap();
    }
    let worker = Worker::start(dir.path(), &["--otlp-endpoint", &collector.endpoint]);
    assert_eq!(worker.call("users", "fetch-user(1)").status, 200);
    assert_eq!(worker.call("users", "fetch-user(1)").status, 200);
    assert_eq!(worker.call("typed", "divide(0)").status, 500);
    // Two identical calls at once: one runs, the other waits for it.
    std::thread::scope(|scope| {
        let slow = || assert_eq!(worker.call("typed", "slow(1, 1000)").status, 200);
        scope.spawn(slow);
        std::thread::sleep(std::time::Duration::from_millis(100));
        slow();
    });
    let calls = worker.calls();
    let users_sha = worker
        .events()
        .into_iter()
        .find(|e| e["event"] == "loaded" && e["component"] == "users")
        .unwrap()["sha256"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        calls.iter().all(|line| line.get("span").is_none()),
        "call spans are for traces, not log prefixes: {calls:?}"
    );
    // Stopping the worker exports what is still buffered.
    assert!(worker.terminate().success());

    let spans: Vec<ReceivedSpan> = collector.spans();
    let fetches: Vec<_> = spans.iter().filter(|s| s.name == FETCH_USER).collect();
    assert_eq!(fetches.len(), 2, "{spans:?}");
    let (miss, hit) = (fetches[0], fetches[1]);
    assert_eq!(
        (miss.attribute("outcome"), miss.attribute("reason")),
        ("miss", "new")
    );
    assert_eq!(hit.attribute("outcome"), "hit");
    for (span, line) in [(miss, &calls[0]), (hit, &calls[1])] {
        assert_eq!(span.attribute("key"), line["key"].as_str().unwrap());
        assert_eq!(span.attribute("component"), "users");
        assert_eq!(span.attribute("component_sha256"), users_sha);
        assert_eq!(span.attribute("policy"), "inputs");
        assert_eq!(span.service, "activity-host");
        assert_ne!(span.status_code, 2);
    }
    let trapped = spans
        .iter()
        .find(|s| s.name.ends_with("#divide"))
        .unwrap_or_else(|| panic!("no span of the failed call: {spans:?}"));
    assert_eq!(
        (trapped.attribute("outcome"), trapped.attribute("error")),
        ("error", "trap")
    );
    assert_eq!(trapped.status_code, 2, "an error span");
    assert!(trapped.status_message.contains("wasm trap"), "{trapped:?}");

    let slow: Vec<_> = spans.iter().filter(|s| s.name.ends_with("#slow")).collect();
    assert_eq!(slow.len(), 2, "{spans:?}");
    let waited: Vec<u64> = slow
        .iter()
        .filter_map(|s| s.attributes.get("lease_wait_ms"))
        .map(|ms| ms.parse().unwrap())
        .collect();
    assert_eq!(waited.len(), 1, "only the second call waited: {slow:?}");
    assert!(waited[0] > 0, "{waited:?}");
}

#[test]
fn the_cli_exports_its_calls_over_grpc_before_it_exits() {
    let collector = OtlpCollector::grpc();
    let users = guest("users.wasm").display().to_string();
    let run = activity_host(&[
        "call",
        &users,
        "calculate(2)",
        "calculate(2)",
        "--otlp-endpoint",
        &collector.endpoint,
        "--otlp-protocol",
        "grpc",
    ]);
    assert!(run.success, "{}", run.stderr);
    let spans = collector.spans();
    let outcomes: Vec<_> = spans.iter().map(|s| s.attribute("outcome")).collect();
    assert_eq!(outcomes, ["miss", "hit"], "{spans:?}");
    assert!(spans.iter().all(|s| s.name.ends_with("#calculate")));
    assert!(spans.iter().all(|s| s.parent_span_id.is_empty()), "roots");
}

#[test]
fn an_unreachable_collector_costs_no_call() {
    // Nothing listens on the port: calls still succeed, the process ends,
    // and its log says the spans were lost.
    let port = support::redis::free_port();
    let users = guest("users.wasm").display().to_string();
    let endpoint = format!("http://127.0.0.1:{port}");
    let run = activity_host(&["call", &users, "calculate(2)", "--otlp-endpoint", &endpoint]);
    assert!(run.success, "{}", run.stderr);
    assert_eq!(run.stdout.trim(), "4");
    assert!(
        run.stderr.contains("BatchSpanProcessor.ExportError"),
        "the lost spans are reported: {}",
        run.stderr
    );
}
