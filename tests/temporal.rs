//! `activity-host temporal` against a real Temporal dev server, with
//! workflows written in Python (the `temporalio` SDK) and, for seed 004's
//! story, TypeScript (`@temporalio/workflow`): seed 004's story,
//! a fleet sharing Redis, Redis down, failures and retries, cancellation.
//! Every test checks printed workflow results and the guest bodies' own
//! "ran" lines, not only exit codes.

use crate::support;

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::otlp::OtlpCollector;
use support::redis::RedisServer;
use support::temporal::{TemporalServer, TemporalWorker, run_workflows, run_workflows_ts};
use support::{activity_host, guest};

/// A run of `CallWorkflow`: `activity(args…)` with `attempts` tries.
fn call(activity: &str, args: Value, attempts: u32) -> Value {
    json!({"workflow": "CallWorkflow", "arg": {"activity": activity, "args": args, "attempts": attempts}})
}

/// The failure types of an error chain, outermost first.
fn failure_types(run: &Value) -> Vec<String> {
    run["error"]
        .as_array()
        .unwrap_or_else(|| panic!("expected a failure: {run}"))
        .iter()
        .map(|f| {
            f["type"]
                .as_str()
                .unwrap_or(f["class"].as_str().unwrap())
                .to_owned()
        })
        .collect()
}

/// The innermost failure of an error chain.
fn root_failure(run: &Value) -> &Value {
    run["error"].as_array().and_then(|c| c.last()).unwrap()
}

#[test]
fn second_workflow_execution_is_served_from_the_cache() {
    let server = TemporalServer::start();
    let users = guest("users.wasm");
    let collector = OtlpCollector::http();
    let flags = [
        users.to_str().unwrap(),
        "--otlp-endpoint",
        &collector.endpoint,
    ];
    let mut worker = TemporalWorker::start(&server, "users", &flags);
    let story = json!({"workflow": "UserWorkflow", "arg": 123});
    let runs = run_workflows(&server, "users", &json!({"runs": [story, story]}));

    let expected = json!({"result": {"processed": true, "user": "User 123"}});
    assert_eq!(runs, [expected.clone(), expected]);
    let log = &worker.process;
    assert_eq!(log.log_lines_with("users: ran fetch-user"), 1);
    assert_eq!(log.log_lines_with("users: ran process-data"), 1);
    let calls = log.calls();
    let outcomes: Vec<_> = calls
        .iter()
        .map(|c| c["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(outcomes, ["miss", "miss", "hit", "hit"]);
    // Each call line says which workflow and activity it served.
    for line in &calls {
        assert!(
            line["span"]["workflow_id"]
                .as_str()
                .unwrap()
                .starts_with("test-"),
            "{line}"
        );
        assert_eq!(line["span"]["attempt"], 1, "{line}");
    }
    // SIGTERM: the worker stops polling and exits cleanly.
    assert!(worker.process.terminate().success());
    assert_eq!(worker.process.log_lines_with("temporal worker stopped"), 1);

    // Each call's span is the child of its activity's span, which names the
    // workflow and the activity.
    let spans = collector.spans();
    let activities: Vec<_> = spans.iter().filter(|s| s.name == "temporal").collect();
    assert_eq!(activities.len(), 4, "{spans:?}");
    for activity in activities {
        assert!(
            activity.attribute("workflow_id").starts_with("test-"),
            "{activity:?}"
        );
        assert!(
            !activity.attribute("activity_id").is_empty(),
            "{activity:?}"
        );
        let calls: Vec<_> = spans
            .iter()
            .filter(|s| s.parent_span_id == activity.span_id)
            .collect();
        assert_eq!(calls.len(), 1, "one call per activity: {spans:?}");
        assert_eq!(calls[0].trace_id, activity.trace_id);
        assert!(["miss", "hit"].contains(&calls[0].attribute("outcome")));
    }
}

#[test]
fn a_typescript_workflow_runs_the_story_and_hits() {
    let server = TemporalServer::start();
    let users = guest("users.wasm");
    let worker = TemporalWorker::start(&server, "users-ts", &[users.to_str().unwrap()]);
    let story = json!({"workflow": "UserWorkflow", "arg": 123});
    let runs = run_workflows_ts(&server, "users-ts", &json!({"runs": [story, story]}));

    let expected = json!({"result": {"processed": true, "user": "User 123"}});
    assert_eq!(runs, [expected.clone(), expected.clone()]);
    let log = &worker.process;
    let outcomes = || -> Vec<String> {
        log.calls()
            .iter()
            .map(|c| c["outcome"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(outcomes(), ["miss", "miss", "hit", "hit"]);

    // Payloads from both SDKs decode the same: the Python workflow's
    // activities find the entries the TypeScript one's left.
    let runs = run_workflows(&server, "users-ts", &json!({"runs": [story]}));
    assert_eq!(runs, [expected]);
    assert_eq!(outcomes(), ["miss", "miss", "hit", "hit", "hit", "hit"]);
    assert_eq!(log.log_lines_with("users: ran fetch-user"), 1);
    assert_eq!(log.log_lines_with("users: ran process-data"), 1);
}

#[test]
fn workers_sharing_redis_run_concurrent_equal_inputs_once() {
    let server = TemporalServer::start();
    let redis = RedisServer::start();
    let typed = guest("typed.wasm");
    // Four tasks at most per worker: eight concurrent tasks that all wait
    // for one body land on both workers.
    let args = [
        typed.to_str().unwrap(),
        "--store",
        &redis.url(),
        "--max-concurrent-activities",
        "4",
    ];
    let workers = [
        TemporalWorker::start(&server, "fleet", &args),
        TemporalWorker::start(&server, "fleet", &args),
    ];
    let slow = call("slow", json!([7, 1500]), 1);
    let plan = json!({"runs": vec![slow; 8], "concurrent": true});
    let runs = run_workflows(&server, "fleet", &plan);

    assert!(runs.iter().all(|r| r == &json!({"result": 7})), "{runs:?}");
    let ran: usize = workers
        .iter()
        .map(|w| w.process.log_lines_with("typed: ran slow"))
        .sum();
    assert_eq!(ran, 1, "the body ran once across the fleet");
    let calls: Vec<usize> = workers.iter().map(|w| w.process.calls().len()).collect();
    assert_eq!(calls, [4, 4], "each worker took its four tasks");

    // While they keep running, the workers add their counters to the shared
    // ones (every 10 s): one miss and seven hits across the fleet.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let stats = activity_host(&["stats", "--store", &redis.url()]);
        let slow = stats
            .stdout
            .lines()
            .find(|l| l.contains("#slow"))
            .map(|line| {
                let counts: Vec<u64> = line
                    .split_whitespace()
                    .skip(2)
                    .map(|n| n.parse().unwrap())
                    .collect();
                (counts[0], counts[1]) // hits, misses
            });
        if slow == Some((7, 1)) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "shared counters: {}",
            stats.stdout
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

#[test]
fn activities_still_succeed_when_redis_is_down() {
    let server = TemporalServer::start();
    let mut redis = RedisServer::start();
    let users = guest("users.wasm");
    let worker = TemporalWorker::start(
        &server,
        "no-redis",
        &[users.to_str().unwrap(), "--store", &redis.url()],
    );
    redis.kill();
    let story = json!({"workflow": "UserWorkflow", "arg": 5});
    let runs = run_workflows(&server, "no-redis", &json!({"runs": [story]}));

    assert_eq!(
        runs,
        [json!({"result": {"processed": true, "user": "User 5"}})]
    );
    let calls = worker.process.calls();
    assert_eq!(calls.len(), 2);
    assert!(
        calls.iter().all(|c| c["outcome"] == "degraded"),
        "{calls:?}"
    );
}

#[test]
fn failures_are_typed_and_only_traps_and_errors_are_retried() {
    let server = TemporalServer::start();
    let (users, typed) = (guest("users.wasm"), guest("typed.wasm"));
    let worker = TemporalWorker::start(
        &server,
        "failures",
        &[users.to_str().unwrap(), typed.to_str().unwrap()],
    );
    let plan = json!({"runs": [
        call("divide", json!([0]), 3),          // traps every time
        call("lookup", json!([1, "trace"]), 2), // returns result::err
        call("fetch-user", json!(["abc"]), 3),  // not a u64
        call("no-such-activity", json!([]), 2),
        call("divide", json!([4]), 1),          // the worker still serves
    ]});
    let runs = run_workflows(&server, "failures", &plan);
    let log = &worker.process;

    assert_eq!(failure_types(&runs[0]).last().unwrap(), "GuestTrap");
    assert_eq!(
        log.log_lines_with("typed: ran divide"),
        3 + 1,
        "3 attempts, then divide(4)"
    );

    let error = root_failure(&runs[1]);
    assert_eq!(error["type"], "GuestError");
    assert_eq!(error["details"], json!(["no item 1"]));
    assert_eq!(
        log.log_lines_with("typed: ran lookup"),
        2,
        "errors are not cached"
    );

    let invalid = root_failure(&runs[2]);
    assert_eq!(invalid["type"], "InvalidArguments");
    assert_eq!(invalid["non_retryable"], true);
    assert!(
        invalid["message"]
            .as_str()
            .unwrap()
            .contains("func(user-id: u64)"),
        "{invalid}"
    );
    assert_eq!(log.log_lines_with("users: ran fetch-user"), 0);

    let unknown = root_failure(&runs[3]);
    assert_eq!(unknown["type"], "ActivityNotFound");
    assert!(
        unknown["message"].as_str().unwrap().contains("fetch-user"),
        "lists what is served"
    );

    assert_eq!(runs[4], json!({"result": 25}));
    // No failed call left an entry: the trap and the error missed each time.
    let hits = log.calls().iter().filter(|c| c["outcome"] == "hit").count();
    assert_eq!(hits, 0);
    // Every failed attempt wrote its call line, with the kind of failure.
    let errors: Vec<_> = log
        .calls()
        .iter()
        .filter(|c| c["outcome"] == "error")
        .map(|c| c["error"].as_str().unwrap().to_owned())
        .collect();
    let count = |kind: &str| errors.iter().filter(|e| *e == kind).count();
    assert_eq!(
        (count("trap"), count("arguments"), count("not-found")),
        (3, 1, 2),
        "{errors:?}"
    );
    assert_eq!(errors.len(), 6, "{errors:?}");
}

#[test]
fn an_export_of_two_components_is_named_with_its_component() {
    let server = TemporalServer::start();
    let dir = tempfile::tempdir().unwrap();
    for name in ["users.wasm", "accounts.wasm"] {
        std::fs::copy(guest("users.wasm"), dir.path().join(name)).unwrap();
    }
    let worker = TemporalWorker::start(&server, "two", &["--dir", dir.path().to_str().unwrap()]);
    let plan = json!({"runs": [
        call("calculate", json!([21]), 3), // not retried: no worker can tell
        call("accounts/calculate", json!([21]), 1),
        call("users/api#calculate", json!([4]), 1),
    ]});
    let runs = run_workflows(&server, "two", &plan);

    let ambiguous = root_failure(&runs[0]);
    assert_eq!(ambiguous["type"], "AmbiguousActivity");
    assert_eq!(ambiguous["non_retryable"], true);
    let calls = worker.process.calls();
    let ambiguous_calls: Vec<_> = calls.iter().filter(|c| c["error"] == "ambiguous").collect();
    assert_eq!(ambiguous_calls.len(), 1, "one attempt: {calls:?}");
    assert!(
        ambiguous_calls[0]["detail"]
            .as_str()
            .unwrap()
            .contains("is exported by several components"),
        "{ambiguous_calls:?}"
    );
    let message = ambiguous["message"].as_str().unwrap();
    assert!(
        message.contains("accounts/calculate, users/calculate"),
        "{message}"
    );
    assert_eq!(runs[1], json!({"result": 42}));
    assert_eq!(runs[2], json!({"result": 8}));
}

#[test]
fn cancelling_a_workflow_stops_its_running_activity() {
    let server = TemporalServer::start();
    let typed = guest("typed.wasm");
    let worker = TemporalWorker::start(&server, "cancel", &[typed.to_str().unwrap()]);
    let spin = json!({
        "workflow": "CallWorkflow",
        "arg": {"activity": "spin", "args": [], "timeout_s": 120, "heartbeat_s": 2},
        "cancel_when_started": true,
    });
    let runs = run_workflows(&server, "cancel", &json!({"runs": [spin]}));

    let classes: Vec<_> = runs[0]["error"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["class"].clone())
        .collect();
    assert_eq!(classes.last().unwrap(), "CancelledError", "{runs:?}");
    let log = &worker.process;
    assert_eq!(log.log_lines_with("activity cancelled"), 1);
    let cancelled: Vec<_> = log
        .calls()
        .into_iter()
        .filter(|c| c["outcome"] == "error")
        .collect();
    assert_eq!(cancelled.len(), 1, "{cancelled:?}");
    assert_eq!(cancelled[0]["error"], "cancelled");
    assert_eq!(log.log_lines_with("typed: ran spin"), 1);
    // The guest is stopped, not left spinning: the worker is idle.
    let pid = log.pid().unwrap();
    let busy = cpu_time(pid);
    std::thread::sleep(Duration::from_secs(1));
    let used = cpu_time(pid) - busy;
    assert!(
        used < Duration::from_millis(500),
        "the worker used {used:?} of CPU in 1 s"
    );
    // And it serves the next activity, heartbeating: 3 s of work under a
    // 1 s heartbeat timeout would time out without heartbeats.
    let slow = json!({
        "workflow": "CallWorkflow",
        "arg": {"activity": "slow", "args": [9, 3000], "heartbeat_s": 1},
    });
    let runs = run_workflows(&server, "cancel", &json!({"runs": [slow]}));
    assert_eq!(runs, [json!({"result": 9})]);
}

/// The CPU time (user + system) process `pid` has used.
fn cpu_time(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // Fields after the command name (which is in parentheses): utime is the
    // 12th, stime the 13th, in clock ticks (100 per second on Linux).
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .unwrap()
        .1
        .split_whitespace()
        .collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    Duration::from_millis(ticks * 10)
}
