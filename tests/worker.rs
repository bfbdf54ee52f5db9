//! The HTTP worker as operators run it: a real `activity-host serve` process
//! serving real components from a directory.

use crate::support;

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::json;
use support::guest;
use support::redis::RedisServer;
use support::worker::Worker;

/// A directory holding copies of the users and typed components.
fn components() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for file in ["users.wasm", "typed.wasm"] {
        std::fs::copy(guest(file), dir.path().join(file)).unwrap();
    }
    dir
}

/// Replaces `name` in `dir` atomically (as a deploy would).
fn replace(dir: &Path, name: &str, bytes: &[u8]) {
    let staging = dir.join(format!(".{name}.new"));
    std::fs::write(&staging, bytes).unwrap();
    std::fs::rename(staging, dir.join(name)).unwrap();
}

#[test]
fn calls_hit_the_cache_through_json_and_wave() {
    let dir = components();
    let worker = Worker::start(dir.path(), &[]);
    let json_call = worker.post(
        "/v1/components/users/call",
        &json!({"export": "fetch-user", "args": [7]}),
    );
    assert_eq!(
        (json_call.status, json_call.cache.as_deref()),
        (200, Some("miss")),
        "{}",
        json_call.body
    );
    assert_eq!(
        json_call.body["result"],
        json!({"id": 7, "name": "User 7", "email": "user7@example.com"})
    );
    let wave_call = worker.call("users", "fetch-user(7)");
    assert_eq!(
        wave_call.cache.as_deref(),
        Some("hit"),
        "same key from either form"
    );
    assert_eq!(wave_call.body["result"], json_call.body["result"]);
    assert_eq!(wave_call.body["key"], json_call.body["key"]);
    let refreshed = worker.post(
        "/v1/components/users/call?refresh=true",
        &json!({"wave": "fetch-user(7)"}),
    );
    assert_eq!(refreshed.cache.as_deref(), Some("miss"));
    let bypass = worker.call("users", r#"send-email("a@b")"#);
    assert_eq!(
        (bypass.cache.as_deref(), &bypass.body["result"]),
        (Some("bypass"), &json!(null))
    );

    let nested = json!([[{"rect": {"x": 1, "y": -2, "label": "a"}}, ["read", "share"], {"err": "e"}], ["empty", null, {"ok": null}]]);
    let typed = worker.post(
        "/v1/components/typed/call",
        &json!({"export": "echo-nested", "args": [nested]}),
    );
    assert_eq!(typed.status, 200, "{}", typed.body);
    assert_eq!(
        typed.body["result"], nested,
        "JSON round-trips through the guest"
    );
}

/// The README's error table: (status, code) per row.
fn readme_error_table() -> Vec<(u16, String)> {
    let readme = std::fs::read_to_string(support::repo_root().join("README.md")).unwrap();
    let table = readme
        .split("| status | code | when |")
        .nth(1)
        .expect("README has the error table");
    table
        .lines()
        .skip(2)
        .take_while(|line| line.starts_with('|'))
        .map(|row| {
            let cells: Vec<&str> = row.split('|').map(str::trim).collect();
            (
                cells[1].parse().unwrap(),
                cells[2].trim_matches('`').to_owned(),
            )
        })
        .collect()
}

#[test]
fn bad_requests_get_the_readmes_status_and_code_and_a_clear_error() {
    let dir = components();
    let worker = Worker::start(
        dir.path(),
        &["--max-body-bytes", "4096", "--call-timeout", "300ms"],
    );
    // A second worker for the rows that need a token or a store that is down.
    let dead_store = format!("redis://127.0.0.1:{}", support::redis::free_port());
    let guarded = Worker::start(dir.path(), &["--token", "t", "--store", &dead_store]);
    let cases = [
        (
            "unknown component",
            worker.call("nope", "f()"),
            404,
            "no component named `nope`",
        ),
        (
            "unknown export",
            worker.call("users", "fetch-users(1)"),
            404,
            "not an exported function",
        ),
        (
            "malformed WAVE",
            worker.call("users", "fetch-user(1"),
            400,
            "expected func(user-id: u64)",
        ),
        (
            "ambiguous export",
            worker.call("typed", r#"echo-string("a")"#),
            400,
            "ambiguous",
        ),
        (
            "wrong type",
            worker.post(
                "/v1/components/users/call",
                &json!({"export": "fetch-user", "args": ["x"]}),
            ),
            400,
            "expected a u64",
        ),
        (
            "wrong arity",
            worker.post(
                "/v1/components/users/call",
                &json!({"export": "fetch-user", "args": [1, 2]}),
            ),
            400,
            "1 argument",
        ),
        (
            "neither form",
            worker.post("/v1/components/users/call", &json!({"args": [1]})),
            400,
            "give either",
        ),
        (
            "unknown body field",
            worker.post(
                "/v1/components/users/call",
                &json!({"wave": "fetch-user(1)", "x": 1}),
            ),
            422,
            "unknown field",
        ),
        (
            "not JSON",
            worker.post_raw(
                "/v1/components/users/call",
                "application/json",
                b"{".to_vec(),
            ),
            400,
            "",
        ),
        (
            "a null field (found by schemathesis)",
            worker.post("/v1/components/users/call", &json!({"wave": null})),
            422,
            "invalid type: null",
        ),
        (
            "an array for a body (found by schemathesis)",
            worker.post("/v1/components/users/call", &json!(["fetch-user", [1]])),
            422,
            "invalid type: sequence",
        ),
        (
            "an array to invalidate (found by schemathesis)",
            worker.post("/v1/components/users/invalidate", &json!([])),
            422,
            "invalid type: sequence",
        ),
        (
            "a bad query (found by schemathesis)",
            worker.post(
                "/v1/components/users/call?refresh=2",
                &json!({"wave": "fetch-user(1)"}),
            ),
            400,
            "refresh",
        ),
        (
            "no content type",
            worker.post_raw("/v1/components/users/call", "text/plain", b"{}".to_vec()),
            415,
            "Content-Type",
        ),
        (
            "bytes asked of a result that is not bytes",
            worker.post_accepting(
                "/v1/components/typed/call",
                &json!({"wave": "divide(4)"}),
                "application/octet-stream",
            ),
            406,
            "does not return one list<u8>",
        ),
        ("trap", worker.call("typed", "divide(0)"), 500, "wasm trap"),
        (
            "no such route",
            worker.get("/v1/nope"),
            404,
            "no such route: GET /v1/nope",
        ),
        (
            "a method the route does not take",
            worker.get("/v1/components/users/call"),
            405,
            "method not allowed: GET /v1/components/users/call",
        ),
        (
            "no args for an export that takes some",
            worker.post(
                "/v1/components/users/call",
                &json!({"export": "fetch-user"}),
            ),
            400,
            "`fetch-user` takes 1 argument",
        ),
        (
            "an unknown record field (it would be dropped and the call hit another's entry)",
            worker.call(
                "typed",
                r#"echo-record({x: 1, y: 2, label: "a", colour: "red"})"#,
            ),
            400,
            "unknown field `colour` at 12: the record's fields are x, y, label",
        ),
        (
            "an extra field in a record nested in a result",
            worker.call(
                "typed",
                r#"echo-result(ok({x: 1, y: 2, label: "a", z: 3}))"#,
            ),
            400,
            "unknown field `z`",
        ),
        (
            "a number out of range, quoted as written (not as a rounded double)",
            worker.post_raw(
                "/v1/components/typed/call",
                "application/json",
                br#"{"export": "echo-ints", "args": [1, 1, 1, 1, 1, 1, 1, 18446744073709551616]}"#
                    .to_vec(),
            ),
            400,
            "at $[7]: expected a u64, got 18446744073709551616",
        ),
        (
            "a finite number too large for an f32 (not infinity)",
            worker.post_raw(
                "/v1/components/typed/call",
                "application/json",
                br#"{"export": "echo-floats", "args": [3.5e38, 0.5]}"#.to_vec(),
            ),
            400,
            "at $[0]: expected an f32, got 3.5e+38",
        ),
        (
            "the same in WAVE",
            worker.call("typed", "echo-floats(3.5e38, 0.5)"),
            400,
            "`3.5e38` at 12 is too large for an f32",
        ),
        (
            "a flag twice in JSON (WAVE refuses it too)",
            worker.post(
                "/v1/components/typed/call",
                &json!({"export": "echo-flags", "args": [["read", "read"]]}),
            ),
            400,
            "at $[0][1]: expected each flag once",
        ),
        (
            "too large",
            worker.post_raw(
                "/v1/components/users/call",
                "application/json",
                vec![b' '; 8192],
            ),
            413,
            "",
        ),
        (
            "over the call timeout",
            worker.call("typed", "slow(1, 5000)"),
            504,
            "300ms",
        ),
        (
            "no token",
            guarded.post_raw(
                "/v1/components/users/call",
                "application/json",
                br#"{"wave":"fetch-user(1)"}"#.to_vec(),
            ),
            401,
            "missing or wrong bearer token",
        ),
        (
            "not ready while the store is down",
            guarded.get("/readyz"),
            503,
            "store unavailable",
        ),
    ];
    // The codes are a promise to clients: one per status, as the README's
    // table says; every row of it is produced here.
    let table = readme_error_table();
    for (status, _) in &table {
        assert!(
            cases.iter().any(|case| case.2 == *status),
            "the README lists {status}: add a case that produces it"
        );
    }
    for (case, reply, status, message) in cases {
        assert_eq!(reply.status, status, "{case}: {}", reply.body);
        let code = table.iter().find(|(listed, _)| *listed == status);
        let (_, code) = code.unwrap_or_else(|| panic!("{case}: the README lists no {status}"));
        assert_eq!(reply.body["code"], code.as_str(), "{case}: {}", reply.body);
        assert!(
            reply.body["error"].is_string(),
            "{case}: every error is JSON with an `error` text: {}",
            reply.body
        );
        let text = reply.body.to_string();
        assert!(text.contains(message), "{case}: {text}");
        assert!(
            !text.contains("wasm backtrace"),
            "{case}: no backtrace to clients: {text}"
        );
    }
    let no_args = worker.post("/v1/components/typed/call", &json!({"export": "noop"}));
    assert_eq!(
        no_args.status, 200,
        "a zero-argument export needs no args: {}",
        no_args.body
    );
    assert_eq!(
        worker.call("typed", "divide(4)").body["result"],
        json!(25),
        "still serving after a trap"
    );
}

#[test]
fn lists_components_and_serves_stats_and_metrics() {
    let dir = components();
    let worker = Worker::start(dir.path(), &[]);
    let list = worker.get("/v1/components").body;
    let users = list
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "users")
        .unwrap();
    assert_eq!(users["sha256"].as_str().unwrap().len(), 64);
    let fetch = users["exports"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["path"].as_str().unwrap().ends_with("#fetch-user"))
        .unwrap();
    assert_eq!(
        fetch["signature"],
        "func(user-id: u64) -> record { id: u64, name: string, email: string }"
    );
    assert_eq!(fetch["rule"]["policy"], "inputs");
    assert_eq!(fetch["rule"]["ttl_ms"], 3_600_000);

    worker.call("users", "fetch-user(1)");
    worker.call("users", "fetch-user(1)");
    let stats = worker.get("/v1/stats").body;
    let row = stats
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["export"].as_str().unwrap().ends_with("#fetch-user"))
        .unwrap();
    assert_eq!(
        (row["hits"].as_u64(), row["misses"].as_u64()),
        (Some(1), Some(1))
    );

    let metrics = worker.get("/metrics").body;
    let text = metrics.as_str().unwrap();
    let export = r#"component="users",export="example:users/api@0.1.0#fetch-user""#;
    assert!(
        text.contains(&format!(
            r#"activity_host_calls_total{{{export},outcome="hit"}} 1"#
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            r#"activity_host_call_duration_seconds_count{{{export}}} 2"#
        )),
        "{text}"
    );
    assert!(text.contains("activity_host_store_up 1"), "{text}");
    assert!(
        text.contains(r#"activity_host_store_duration_seconds_count{op="get"} 2"#),
        "{text}"
    );
    assert!(
        text.contains(r#"activity_host_store_duration_seconds_count{op="set"} 1"#),
        "{text}"
    );
    assert_eq!(worker.get("/readyz").status, 200);
}

#[test]
fn invalidation_over_http() {
    let dir = components();
    let worker = Worker::start(dir.path(), &[]);
    let warm = |calls: [&str; 2]| calls.map(|call| worker.call("users", call).cache.unwrap());
    warm(["fetch-user(1)", "calculate(2)"]);
    assert_eq!(warm(["fetch-user(1)", "calculate(2)"]), ["hit", "hit"]);
    let entry = worker.post(
        "/v1/components/users/invalidate",
        &json!({"export": "fetch-user", "args": [1]}),
    );
    assert_eq!(entry.body["invalidated"], "entry", "{}", entry.body);
    assert_eq!(warm(["fetch-user(1)", "calculate(2)"]), ["miss", "hit"]);
    worker.post(
        "/v1/components/users/invalidate",
        &json!({"export": "calculate"}),
    );
    assert_eq!(warm(["fetch-user(1)", "calculate(2)"]), ["hit", "miss"]);
    // A body that is not JSON is refused, never read as "everything".
    let form = worker.post_raw(
        "/v1/components/users/invalidate",
        "application/x-www-form-urlencoded",
        br#"{"export": "calculate"}"#.to_vec(),
    );
    assert_eq!(form.status, 415, "{}", form.body);
    assert_eq!(warm(["fetch-user(1)", "calculate(2)"]), ["hit", "hit"]);
    // A body that says nothing is refused, never read as "everything".
    for (content_type, body) in [("text/plain", ""), ("application/json", "{}")] {
        let vague = worker.post_raw(
            "/v1/components/users/invalidate",
            content_type,
            body.as_bytes().to_vec(),
        );
        assert_eq!(vague.status, 400, "{}", vague.body);
        assert!(
            vague.body["error"]
                .as_str()
                .unwrap()
                .contains("{\"all\": true}"),
            "{}",
            vague.body
        );
    }
    let not_true = worker.post("/v1/components/users/invalidate", &json!({"all": false}));
    assert_eq!(not_true.status, 400, "{}", not_true.body);
    assert_eq!(warm(["fetch-user(1)", "calculate(2)"]), ["hit", "hit"]);
    // The whole component, said explicitly.
    let all = worker.post("/v1/components/users/invalidate", &json!({"all": true}));
    assert_eq!(all.body["invalidated"], "component", "{}", all.body);
    assert_eq!(warm(["fetch-user(1)", "calculate(2)"]), ["miss", "miss"]);
    let ghost = worker.post("/v1/components/ghost/invalidate", &json!({"all": true}));
    assert_eq!(ghost.status, 404, "{}", ghost.body);
    let wave = worker.post(
        "/v1/components/users/invalidate",
        &json!({"wave": "fetch-user(1)"}),
    );
    assert_eq!(wave.body["invalidated"], "entry");
    assert_eq!(
        worker
            .post(
                "/v1/components/users/invalidate",
                &json!({"wave": "send-email(\"x\")"})
            )
            .status,
        400
    );
}

#[test]
fn a_token_guards_everything_but_health() {
    let dir = components();
    let worker = Worker::start(dir.path(), &["--token", "s3cret"]);
    assert_eq!(
        worker.call("users", "fetch-user(1)").status,
        200,
        "with the token"
    );
    let without = worker.post_raw(
        "/v1/components/users/call",
        "application/json",
        br#"{"wave":"fetch-user(1)"}"#.to_vec(),
    );
    assert_eq!(without.status, 401);
    assert_eq!(without.body["code"], "unauthorized");
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .new_agent();
    let health = agent
        .get(&format!("{}/healthz", worker.url))
        .call()
        .unwrap();
    assert_eq!(health.status().as_u16(), 200);
    let metrics = agent
        .get(&format!("{}/metrics", worker.url))
        .call()
        .unwrap();
    assert_eq!(metrics.status().as_u16(), 401);
}

#[test]
fn changed_files_are_reloaded_and_broken_ones_keep_the_old_version() {
    let dir = components();
    let worker = Worker::start(dir.path(), &[]);
    assert_eq!(
        worker.call("users", "calculate(7)").body["result"],
        json!(14)
    );
    assert_eq!(
        worker.call("users", "fetch-user(3)").cache.as_deref(),
        Some("miss")
    );

    replace(
        dir.path(),
        "users.wasm",
        &std::fs::read(guest("users-changed-body.wasm")).unwrap(),
    );
    let mut reloaded = false;
    for _ in 0..100 {
        if worker.call("users", "calculate(7)").body["result"] == json!(21) {
            reloaded = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        reloaded,
        "the new body serves: task-source entries of the old build are not used"
    );
    assert_eq!(
        worker.call("users", "fetch-user(3)").cache.as_deref(),
        Some("hit"),
        "inputs entries survive"
    );

    replace(dir.path(), "users.wasm", b"not a component");
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(
        worker.call("users", "calculate(7)").body["result"],
        json!(21),
        "the last good version keeps serving"
    );
}

#[test]
fn sigterm_lets_in_flight_calls_finish() {
    let dir = components();
    let worker = Worker::start(dir.path(), &[]);
    let url = worker.url.clone();
    let in_flight = std::thread::spawn(move || {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .new_agent();
        let mut response = agent
            .post(&format!("{url}/v1/components/typed/call"))
            .send_json(json!({"wave": "slow(5, 1500)"}))
            .unwrap();
        (
            response.status().as_u16(),
            response.body_mut().read_to_string().unwrap(),
        )
    });
    std::thread::sleep(Duration::from_millis(500));
    let status = worker.terminate();
    assert!(status.success(), "clean exit: {status}");
    let (code, body) = in_flight.join().unwrap();
    assert_eq!(code, 200, "{body}");
    assert!(body.contains("\"result\":5"), "{body}");
}

#[test]
fn ten_large_guests_under_a_memory_budget_all_finish_within_it() {
    let dir = components();
    // Each typed instance may use 256 MiB (the default): four fit in 1 GiB.
    let worker = Worker::start(
        dir.path(),
        &[
            "--max-total-memory-bytes",
            "1073741824",
            "--policy",
            "typed/hog=no-cache",
            "--policy",
            "typed/slow=no-cache",
            "--call-timeout",
            "5m",
        ],
    );
    let answers = worker.call_concurrently("typed", &json!({"wave": "hog(240)"}), 10);
    for answer in answers {
        assert_eq!((answer.status, &answer.body["result"]), (200, &json!(240)));
    }
    assert_eq!(worker.calls().len(), 10, "every call ran");
    // Unbounded, the same calls took this debug worker to 1352 MiB (and up
    // to 2.4 GiB if all ten overlap).
    let peak = worker.peak_resident_mib();
    assert!(peak < 1200, "the worker's peak resident memory: {peak} MiB");
    let metrics = worker.get("/metrics").body;
    let metrics = metrics.as_str().unwrap();
    assert!(
        metrics.contains("activity_host_guest_memory_budget_bytes 1073741824")
            && metrics.contains("activity_host_guest_memory_reserved_bytes 0")
            && metrics.contains("activity_host_guest_memory_waiting_calls 0"),
        "{metrics}"
    );
    // Ten calls of 256 MiB each cannot all fit in 1 GiB at once, if they
    // overlap: the hogs above may not (each is short, and a loaded machine
    // staggers them), ten calls holding their instances for a second do.
    let answers = worker.call_concurrently("typed", &json!({"wave": "slow(7, 1000)"}), 10);
    for answer in answers {
        assert_eq!((answer.status, &answer.body["result"]), (200, &json!(7)));
    }
    let metrics = worker.get("/metrics").body;
    let metrics = metrics.as_str().unwrap();
    let waits = metrics
        .lines()
        .find_map(|line| line.strip_prefix("activity_host_guest_memory_waits_total "))
        .and_then(|value| value.parse::<u64>().ok())
        .unwrap_or(0);
    assert!(waits >= 1, "calls waited for room: {metrics}");
}

#[test]
fn a_call_over_its_deadline_gets_504_and_the_worker_goes_on() {
    let dir = components();
    let worker = Worker::start(dir.path(), &["--call-timeout", "300ms"]);
    let slow = worker.call("typed", "slow(1, 5000)");
    assert_eq!(slow.status, 504, "{}", slow.body);
    assert!(slow.body["error"].as_str().unwrap().contains("300ms"));
    assert_eq!(slow.body["code"], "timeout");
    assert_eq!(worker.call("typed", "slow(2, 10)").status, 200);
}

#[test]
fn readiness_follows_the_store_and_calls_still_run() {
    let mut server = RedisServer::start();
    let dir = components();
    let worker = Worker::start(dir.path(), &["--store", &server.url()]);
    assert_eq!(worker.get("/readyz").status, 200, "ready before any call");
    server.kill();
    // /readyz asks the store itself: no call is needed to notice.
    let ready = worker.get("/readyz");
    assert_eq!(ready.status, 503, "{}", ready.body);
    assert_eq!(ready.body["error"], "store unavailable; calls run uncached");
    assert_eq!(ready.body["code"], "unavailable");
    assert_eq!(worker.get("/healthz").status, 200);
    let call = worker.call("users", "fetch-user(1)");
    assert_eq!(
        (call.status, call.cache.as_deref()),
        (200, Some("degraded"))
    );
    // Back to ready once the store returns, though no call comes (the
    // readiness check is the breaker's probe).
    server.restart();
    let deadline = Instant::now() + Duration::from_secs(10);
    while worker.get("/readyz").status != 200 {
        assert!(
            Instant::now() < deadline,
            "not ready after the store came back"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn the_cli_calls_a_running_worker() {
    let dir = components();
    let worker = Worker::start(dir.path(), &[]);
    let first = support::activity_host(&["call", "--worker", &worker.url, "users", "calculate(4)"]);
    let second =
        support::activity_host(&["call", "--worker", &worker.url, "users", "calculate(4)"]);
    assert!(first.success && second.success, "{}", first.stderr);
    assert_eq!((first.stdout.trim(), second.stdout.trim()), ("8", "8"));
    assert!(
        first.stderr.contains("calculate(4): miss"),
        "{}",
        first.stderr
    );
    assert!(
        second.stderr.contains("calculate(4): hit"),
        "{}",
        second.stderr
    );
}

#[test]
fn components_and_rules_can_come_from_the_config_file() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("worker.toml");
    let users = guest("users.wasm");
    let text = format!(
        "[components.people]\npath = {:?}\ninstances = \"warm\"\nmax-argument-bytes = 64\n\n\
         [components.people.exports.send-email]\npolicy = \"inputs\"\n",
        users.display().to_string()
    );
    std::fs::write(&config, text).unwrap();
    let worker = Worker::start_with(&["--config", config.to_str().unwrap()]);
    assert_eq!(
        worker.call("people", r#"send-email("a")"#).cache.as_deref(),
        Some("miss")
    );
    assert_eq!(
        worker.call("people", r#"send-email("a")"#).cache.as_deref(),
        Some("hit"),
        "the file's rule applies"
    );
    let too_large = worker.call("people", &format!("send-email({:?})", "a".repeat(65)));
    assert_eq!(too_large.status, 413, "{}", too_large.body);
    assert!(
        too_large
            .body
            .to_string()
            .contains("65 bytes, beyond max-argument-bytes (64)"),
        "{}",
        too_large.body
    );

    let check = support::activity_host(&["config", "check", "--config", config.to_str().unwrap()]);
    assert!(check.success, "{}", check.stderr);
    assert!(
        check
            .stdout
            .contains("[components.people.exports.send-email]\npolicy = \"inputs\""),
        "{}",
        check.stdout
    );
    assert!(
        check.stdout.contains("listen = \"127.0.0.1:8080\""),
        "defaults are filled in: {}",
        check.stdout
    );
    assert!(
        check.stdout.contains(
            "instances = \"warm\"\nmax-instances = 4\nidle-ttl = \"5m\"\nmax-uses = 10000\n\
             max-memory-bytes = 268435456\nmax-table-elements = 100000\n\
             max-argument-bytes = 64\nmax-result-bytes = 4194304\ntimeout = \"5m\"\n\
             max-outbound-requests = 100\noutbound-connect-timeout = \"10s\"\n\
             dirs = []\nenv = []\nstderr = true\nstdout = false"
        ),
        "every component's instances, limits and grants: {}",
        check.stdout
    );

    std::fs::write(&config, "[server]\nlisten-on = \"0.0.0.0:1\"\n").unwrap();
    let bad = support::activity_host(&["config", "check", "--config", config.to_str().unwrap()]);
    assert!(!bad.success);
    assert!(
        bad.stderr.contains("worker.toml") && bad.stderr.contains("listen-on"),
        "{}",
        bad.stderr
    );
}

/// The README's walkthrough, step by step: a worker on a directory with
/// Redis, called with JSON, hit/miss log lines, metrics, invalidation.
#[test]
fn the_readme_walkthrough_with_redis() {
    let redis = RedisServer::start();
    let dir = components();
    let worker = Worker::start(dir.path(), &["--store", &redis.url()]);
    let call = || {
        worker.post(
            "/v1/components/users/call",
            &json!({"export": "fetch-user", "args": [123]}),
        )
    };
    let miss = call();
    assert_eq!(miss.cache.as_deref(), Some("miss"));
    assert_eq!(miss.age_ms, None, "a miss has no entry age");
    let hit = call();
    assert_eq!(hit.cache.as_deref(), Some("hit"));
    assert!(hit.age_ms.is_some(), "a hit says how old its entry is");
    assert_eq!(hit.body["result"]["name"], "User 123");

    let lines = worker.calls();
    let outcomes: Vec<&str> = lines
        .iter()
        .map(|l| l["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(outcomes, ["miss", "hit"]);
    let line = &lines[1];
    assert_eq!(line["component"], "users");
    assert_eq!(line["export"], "example:users/api@0.1.0#fetch-user");
    assert_eq!(line["policy"], "inputs");
    assert_eq!(line["store"], "redis");
    assert_eq!(line["key"], hit.body["key"]);
    assert!(
        line["elapsed_us"].is_u64() && line["age_ms"].is_u64(),
        "{line}"
    );
    assert!(
        !line.to_string().contains("User 123"),
        "values never reach the log: {line}"
    );

    let metrics = worker.get("/metrics").body;
    let metrics = metrics.as_str().unwrap();
    assert!(metrics.contains(r#"outcome="hit"} 1"#), "{metrics}");
    assert!(metrics.contains("activity_host_store_up 1"), "{metrics}");

    let invalidated = worker.post(
        "/v1/components/users/invalidate",
        &json!({"export": "fetch-user"}),
    );
    assert_eq!(invalidated.status, 200);
    assert_eq!(call().cache.as_deref(), Some("miss"));
}

#[test]
fn the_openapi_description_matches_the_live_routes() {
    let dir = components();
    let worker = Worker::start(dir.path(), &[]);
    let served = worker.get("/openapi.json").body;
    let document: serde_json::Value =
        serde_json::from_str(include_str!("../host/cli/openapi.json")).unwrap();
    assert_eq!(
        served, document,
        "the worker serves the file in the repository"
    );
    let mut documented = Vec::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            let live_path = path.replace("{component}", "users");
            let reply = match method.as_str() {
                "get" => worker.get(&live_path),
                "post" => worker.post(&live_path, &json!({"wave": "fetch-user(1)"})),
                // No entry under this key: the route's own JSON 404.
                "delete" => {
                    let reply = worker.delete(&live_path.replace("{key}", &"0".repeat(64)));
                    assert!(reply.body["error"].is_string(), "{path}: {:?}", reply.body);
                    documented.push(format!("{method} {path}"));
                    continue;
                }
                other => panic!("undocumented method {other}"),
            };
            assert!(
                ![404, 405].contains(&reply.status),
                "{method} {path}: {}",
                reply.status
            );
            documented.push(format!("{method} {path}"));
        }
    }
    documented.sort();
    // Every route the router has (see server.rs) is documented.
    let routes = [
        "delete /v1/entries/{key}",
        "get /healthz",
        "get /metrics",
        "get /openapi.json",
        "get /readyz",
        "get /v1/components",
        "get /v1/components/{component}/entries",
        "get /v1/stats",
        "post /v1/components/{component}/call",
        "post /v1/components/{component}/invalidate",
    ];
    assert_eq!(documented, routes);
    assert_eq!(worker.get("/v1/nothing-here").status, 404);
}

#[test]
fn every_wit_type_round_trips_through_the_http_json_mapping() {
    let dir = components();
    let worker = Worker::start(dir.path(), &[]);
    let ints = json!([
        -128,
        255,
        -32768,
        65535,
        -2147483648i64,
        4294967295u64,
        i64::MIN,
        u64::MAX
    ]);
    let single = [
        ("echo-bool", json!(true)),
        ("echo-char", json!("é")),
        ("echo#echo-string", json!("hello \"world\"")),
        ("echo-lists", json!([[1, 2], []])),
        ("echo-record", json!({"x": 1, "y": -2, "label": "p"})),
        ("echo-variant", json!({"circle": 2.5})),
        ("echo-variant", json!("empty")),
        ("echo-enum", json!("green")),
        ("echo-flags", json!(["read", "share"])),
        ("echo-option", json!(null)),
        ("echo-option", json!({"some": null})),
        ("echo-option", json!({"some": "x"})),
        ("echo-result", json!({"err": "blue"})),
        ("echo-result", json!({"ok": {"x": 0, "y": 0, "label": ""}})),
        ("echo-bare-result", json!({"ok": null})),
        ("echo-bare-result", json!({"err": null})),
    ];
    for (export, value) in single {
        let reply = worker.post(
            "/v1/components/typed/call",
            &json!({"export": export, "args": [value]}),
        );
        assert_eq!(reply.status, 200, "{export}: {}", reply.body);
        assert_eq!(reply.body["result"], value, "{export}");
    }
    for (export, args) in [
        ("echo-ints", ints),
        ("echo-floats", json!([1.5, "NaN"])),
        ("echo-floats", json!(["-Infinity", -0.0])),
    ] {
        let reply = worker.post(
            "/v1/components/typed/call",
            &json!({"export": export, "args": args}),
        );
        assert_eq!(
            reply.body["result"], args,
            "{export}: a tuple result is the arguments"
        );
    }
}

/// Bodies as large as the default limit (1 MiB) in every shape that makes
/// a parser recurse or loop: each gets an answer (debug build: its small
/// thread stacks), nothing takes the worker down, and its log stays small.
#[test]
fn bodies_of_every_shape_at_the_body_limit_get_an_answer() {
    let dir = components();
    let worker = Worker::start(dir.path(), &[]);
    let wave = |call: String| json!({ "wave": call }).to_string();
    let nested = |open: &str, inner: &str, close: &str, depth: usize| {
        format!("{}{inner}{}", open.repeat(depth), close.repeat(depth))
    };
    let shapes = [
        (
            "nested options",
            wave(format!(
                "echo#echo-option({})",
                nested("some(", "1", ")", 160_000)
            )),
            400,
        ),
        (
            "nested tuples",
            wave(format!(
                "echo#echo-lists({})",
                nested("(", "", ")", 500_000)
            )),
            400,
        ),
        (
            "nested records",
            wave(format!(
                "echo#echo-record({})",
                nested("{x: ", "1", "}", 180_000)
            )),
            400,
        ),
        (
            "a long list",
            wave(format!(
                "echo#echo-lists([{}])",
                vec!["[]"; 330_000].join(",")
            )),
            200,
        ),
        (
            "escapes",
            wave(format!(
                "echo#echo-string(\"{}\")",
                "\\u{1F600}".repeat(100_000)
            )),
            200,
        ),
        (
            "nested JSON arrays",
            format!(
                r#"{{"export":"echo#echo-lists","args":[{}]}}"#,
                nested("[", "", "]", 500_000)
            ),
            400,
        ),
        (
            "nested JSON objects",
            format!(
                r#"{{"export":"echo#echo-lists","args":[{}]}}"#,
                nested(r#"{"a":"#, "1", "}", 170_000)
            ),
            400,
        ),
    ];
    for (shape, body, status) in shapes {
        assert!(
            body.len() > 900_000 && body.len() <= 1 << 20,
            "{shape}: {}",
            body.len()
        );
        let reply = worker.post_raw(
            "/v1/components/typed/call",
            "application/json",
            body.into_bytes(),
        );
        assert_eq!(reply.status, status, "{shape}: {}", reply.body);
        assert_eq!(
            worker.get("/healthz").status,
            200,
            "{shape}: the worker died"
        );
    }
    let longest = worker.log().lines().map(str::len).max().unwrap_or(0);
    assert!(longest < 4000, "a log line of {longest} bytes");
}

#[test]
fn byte_payloads_travel_as_application_octet_stream() {
    let dir = components();
    let worker = Worker::start(dir.path(), &["--max-body-bytes", "4000000"]);
    let bytes_in = "application/octet-stream";
    let data: Vec<u8> = (0..1_000_000u32).map(|i| (i % 251) as u8).collect();
    let reversed: Vec<u8> = data.iter().rev().copied().collect();
    let path = "/v1/components/typed/call?export=reverse-bytes";
    let ran = || worker.log_lines_with("typed: ran reverse-bytes");

    let (status, cache, body) = worker.post_for_bytes(path, bytes_in, &data);
    assert_eq!((status, cache.as_deref()), (200, Some("miss")));
    assert!(body == reversed, "the body is the result's bytes");
    let (status, cache, body) = worker.post_for_bytes(path, bytes_in, &data);
    assert_eq!((status, cache.as_deref()), (200, Some("hit")));
    assert!(body == reversed);
    assert_eq!(ran(), 1, "the hit did not run the body");

    // Either side may be JSON: the same call, the same entry.
    let json_in = worker.post_for_bytes(
        "/v1/components/typed/call",
        "application/json",
        json!({"export": "reverse-bytes", "args": [[1, 2, 3]]})
            .to_string()
            .as_bytes(),
    );
    assert_eq!(json_in, (200, Some("miss".to_owned()), vec![3, 2, 1]));
    let bytes_in_json_out = worker.post_raw(path, bytes_in, vec![1, 2, 3]);
    assert_eq!(
        (
            bytes_in_json_out.cache.as_deref(),
            &bytes_in_json_out.body["result"]
        ),
        (Some("hit"), &json!([3, 2, 1]))
    );
    assert_eq!(ran(), 2);

    // What cannot be bytes says so.
    let no_export = worker.post_raw("/v1/components/typed/call", bytes_in, vec![1]);
    assert_eq!(no_export.status, 400, "{}", no_export.body);
    assert!(
        no_export.body["error"]
            .as_str()
            .unwrap()
            .contains("?export=")
    );
    let not_bytes = worker.post_raw("/v1/components/typed/call?export=divide", bytes_in, vec![4]);
    assert_eq!(not_bytes.status, 400, "{}", not_bytes.body);
    assert!(
        not_bytes.body["error"]
            .as_str()
            .unwrap()
            .contains("one list<u8>"),
        "{}",
        not_bytes.body
    );
    let line = worker.calls().pop().unwrap();
    assert_eq!(
        (&line["error"], &line["component"]),
        (&json!("arguments"), &json!("typed"))
    );
    let (status, _, body) = worker.post_for_bytes(
        "/v1/components/typed/call",
        "application/json",
        json!({"wave": "divide(4)"}).to_string().as_bytes(),
    );
    assert_eq!(status, 406, "{}", String::from_utf8_lossy(&body));
    assert_eq!(
        worker.log_lines_with("typed: ran divide"),
        0,
        "refused before anything ran"
    );
    let json_with_export = worker.post(
        "/v1/components/typed/call?export=divide",
        &json!({"wave": "divide(4)"}),
    );
    assert_eq!(json_with_export.status, 400, "{}", json_with_export.body);
    let refused_bytes = worker.post_accepting(
        "/v1/components/typed/call",
        &json!({"export": "reverse-bytes", "args": [[1, 2]]}),
        "application/octet-stream;q=0, application/json",
    );
    assert_eq!(
        refused_bytes.body["result"],
        json!([2, 1]),
        "q=0 refuses bytes"
    );
    let (status, _, body) = worker.post_for_bytes(&format!("{path}&explain=true"), bytes_in, &[1]);
    assert_eq!(status, 400, "{}", String::from_utf8_lossy(&body));
}
