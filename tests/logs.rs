//! What a worker's log and metrics tell about its calls: one line for every
//! call, failed ones included, with the kind of failure; counters by kind.

use crate::support;

use support::guest;
use support::worker::Worker;

/// A worker serving `typed` with its default limits and `tight`, a copy of
/// it with a short time limit, a small memory and tiny arguments; every call
/// must finish within 1 s.
fn worker_with_tight_limits() -> (tempfile::TempDir, Worker) {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("worker.toml");
    let typed = guest("typed.wasm").display().to_string();
    let text = format!(
        "[components.typed]\npath = {typed:?}\n\n\
         [components.tight]\npath = {typed:?}\ntimeout = \"300ms\"\n\
         max-memory-bytes = 33554432\nmax-argument-bytes = 64\n"
    );
    std::fs::write(&config, text).unwrap();
    let worker =
        Worker::start_with(&["--config", config.to_str().unwrap(), "--call-timeout", "1s"]);
    (dir, worker)
}

#[test]
fn every_failed_call_writes_one_line_with_its_kind_and_is_counted() {
    let (_dir, worker) = worker_with_tight_limits();
    let calls = [
        ("typed", "divide(0)", 500, "trap"),
        ("tight", "spin()", 500, "timeout"),
        ("tight", "hog(64)", 500, "memory"),
        ("typed", r#"divide("x")"#, 400, "arguments"),
        (
            "tight",
            &format!("behave#echo-string({:?})", "a".repeat(65)),
            413,
            "too-large",
        ),
        ("typed", "slow(1, 3000)", 504, "timeout"),
        ("typed", "no-such-export(1)", 404, "not-found"),
        ("ghost", "divide(1)", 404, "not-found"),
    ];
    for (component, wave, status, _) in &calls {
        let reply = worker.call(component, wave);
        assert_eq!(reply.status, *status, "{wave}: {}", reply.body);
    }
    let ok = worker.call("typed", "divide(4)");
    assert_eq!(
        (ok.status, &ok.body["result"]),
        (200, &serde_json::json!(25))
    );

    let lines = worker.calls();
    assert_eq!(
        lines.len(),
        calls.len() + 1,
        "one line per call: {lines:#?}"
    );
    for (line, (component, wave, _, kind)) in lines.iter().zip(&calls) {
        assert_eq!(line["outcome"], "error", "{wave}: {line}");
        assert_eq!(line["error"], *kind, "{wave}: {line}");
        assert_eq!(line["level"], "WARN", "{line}");
        assert_eq!(line["component"], *component, "{line}");
        assert!(
            line["detail"].as_str().is_some_and(|d| !d.is_empty()),
            "{line}"
        );
    }
    assert!(
        lines[1]["detail"]
            .as_str()
            .unwrap()
            .contains("time limit (300ms)"),
        "{}",
        lines[1]
    );
    assert!(
        lines[0]["key"].is_string(),
        "a cached export's key: {}",
        lines[0]
    );
    assert_eq!(lines[8]["outcome"], "miss");

    let metrics = worker.get("/metrics").body;
    let metrics = metrics.as_str().unwrap();
    let count = |family: &str, kind: &str| -> u64 {
        metrics
            .lines()
            .filter(|l| l.starts_with(family) && l.contains(&format!("error=\"{kind}\"")))
            .map(|l| l.rsplit(' ').next().unwrap().parse::<u64>().unwrap())
            .sum()
    };
    let errors = "activity_host_call_errors_total";
    for (kind, expected) in [
        ("trap", 1),
        ("timeout", 2),
        ("memory", 1),
        ("arguments", 1),
        ("too-large", 1),
        ("cancelled", 0),
    ] {
        assert_eq!(count(errors, kind), expected, "{kind}: {metrics}");
    }
    let unrouted = "activity_host_unrouted_calls_total";
    assert_eq!(count(unrouted, "not-found"), 2, "{metrics}");
    let error_calls: u64 = metrics
        .lines()
        .filter(|l| l.starts_with("activity_host_calls_total") && l.contains("outcome=\"error\""))
        .map(|l| l.rsplit(' ').next().unwrap().parse::<u64>().unwrap())
        .sum();
    assert_eq!(error_calls, 6, "every routed failure counted: {metrics}");
}
