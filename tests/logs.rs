//! What a worker's log and metrics tell: one line for every call, failed
//! ones included, with the kind of failure; counters by kind; and an event
//! line for every load, reload, unload, invalidation and store outage.

use crate::support;

use std::time::{Duration, Instant};

use support::guest;
use support::redis::RedisServer;
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
        ("tight", "spin()", 504, "timeout"),
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
    let count = |family: &str, kind: &str| errors_counted(metrics, family, kind);
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

/// The sum of the `family` series of /metrics text `metrics` labelled
/// `error="KIND"`.
fn errors_counted(metrics: &str, family: &str, kind: &str) -> u64 {
    metrics
        .lines()
        .filter(|l| l.starts_with(family) && l.contains(&format!("error=\"{kind}\"")))
        .map(|l| l.rsplit(' ').next().unwrap().parse::<u64>().unwrap())
        .sum()
}

/// Waits (up to 10 s) until the worker has logged `count` events `event`.
fn wait_for_events(worker: &Worker, event: &str, count: usize) -> Vec<serde_json::Value> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let found: Vec<_> = worker
            .events()
            .into_iter()
            .filter(|line| line["event"] == event)
            .collect();
        if found.len() >= count || Instant::now() > deadline {
            return found;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn loads_reloads_unloads_and_invalidations_are_logged() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("users.wasm");
    std::fs::copy(guest("users.wasm"), &file).unwrap();
    let worker = Worker::start(dir.path(), &[]);
    let loaded = wait_for_events(&worker, "loaded", 1);
    assert_eq!(loaded.len(), 1, "{loaded:?}");
    let first_sha = loaded[0]["sha256"].as_str().unwrap().to_owned();
    assert_eq!(first_sha.len(), 64);
    assert_eq!(loaded[0]["component"], "users");
    assert!(loaded[0]["file"].as_str().unwrap().ends_with("users.wasm"));

    // A deploy replaces the file: the reload names both digests.
    let staging = dir.path().join(".users.wasm.new");
    std::fs::copy(guest("users-changed-body.wasm"), &staging).unwrap();
    std::fs::rename(&staging, &file).unwrap();
    let reloaded = wait_for_events(&worker, "reloaded", 1);
    assert_eq!(reloaded.len(), 1, "{:?}", worker.events());
    assert_eq!(reloaded[0]["previous_sha256"], first_sha.as_str());
    assert_ne!(reloaded[0]["sha256"], first_sha.as_str());

    let invalidated = worker.post(
        "/v1/components/users/invalidate",
        &serde_json::json!({"export": "fetch-user"}),
    );
    assert_eq!(invalidated.status, 200, "{}", invalidated.body);
    let events = wait_for_events(&worker, "invalidated", 1);
    assert_eq!(
        (
            &events[0]["scope"],
            &events[0]["by"],
            &events[0]["component"]
        ),
        (&"export".into(), &"http".into(), &"users".into()),
        "{events:?}"
    );
    assert!(
        events[0]["export"]
            .as_str()
            .unwrap()
            .ends_with("#fetch-user")
    );

    // The file is deleted: the worker stops serving it, and says so.
    std::fs::remove_file(&file).unwrap();
    let unloaded = wait_for_events(&worker, "unloaded", 1);
    assert_eq!(unloaded.len(), 1, "{:?}", worker.events());
    assert_eq!(unloaded[0]["level"], "WARN");
    assert!(unloaded[0]["why"].as_str().unwrap().contains("was deleted"));
    assert_eq!(worker.call("users", "calculate(1)").status, 404);
    let last = worker.calls().pop().unwrap();
    assert_eq!(
        (&last["outcome"], &last["error"]),
        (&"error".into(), &"not-found".into())
    );
}

#[test]
fn the_cli_logs_its_invalidations() {
    let users = guest("users.wasm").display().to_string();
    let run = support::activity_host(&["invalidate", &users, "--export", "fetch-user"]);
    assert!(run.success, "{}", run.stderr);
    let events = run.events();
    let invalidated: Vec<_> = events
        .iter()
        .filter(|e| e["event"] == "invalidated")
        .collect();
    assert_eq!(invalidated.len(), 1, "{}", run.stderr);
    assert_eq!(invalidated[0]["by"], "cli");
    assert_eq!(invalidated[0]["scope"], "export");
}

#[test]
fn the_store_going_down_and_coming_back_is_logged_with_its_location() {
    let mut server = RedisServer::start();
    let url = server.url();
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(guest("users.wasm"), dir.path().join("users.wasm")).unwrap();
    let worker = Worker::start(dir.path(), &["--store", &url]);
    server.kill();
    assert_eq!(
        worker.call("users", "fetch-user(1)").cache.as_deref(),
        Some("degraded")
    );
    let down = wait_for_events(&worker, "store-down", 1);
    assert_eq!(down.len(), 1, "{:?}", worker.events());
    assert_eq!(
        (&down[0]["store"], &down[0]["location"]),
        (&"redis".into(), &url.as_str().into())
    );

    server.restart();
    // The breaker lets a probe through after its window (1 s).
    let deadline = Instant::now() + Duration::from_secs(10);
    while worker.call("users", "fetch-user(1)").cache.as_deref() == Some("degraded") {
        assert!(Instant::now() < deadline, "the store never came back");
        std::thread::sleep(Duration::from_millis(200));
    }
    let up = wait_for_events(&worker, "store-up", 1);
    assert_eq!(up.len(), 1, "{:?}", worker.events());
    assert_eq!(up[0]["location"], url.as_str());
}

/// The value of the unlabelled series `name` in a `/metrics` text.
fn metric(metrics: &serde_json::Value, name: &str) -> u64 {
    let text = metrics.as_str().unwrap();
    let line = text
        .lines()
        .find(|line| line.starts_with(&format!("{name} ")))
        .unwrap_or_else(|| panic!("no {name}: {text}"));
    line.rsplit(' ').next().unwrap().parse().unwrap()
}

/// `field` of the server's `INFO`.
fn info_field(server: &RedisServer, field: &str) -> u64 {
    let info = server.info("INFO");
    let line = info
        .lines()
        .find_map(|line| line.trim_end().strip_prefix(&format!("{field}:")))
        .unwrap_or_else(|| panic!("no {field} in INFO"));
    line.parse().unwrap()
}

#[test]
fn metrics_show_what_redis_holds_and_evicts() {
    let server = RedisServer::start();
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(guest("users.wasm"), dir.path().join("users.wasm")).unwrap();
    let worker = Worker::start(dir.path(), &["--store", &server.url()]);
    for id in 0..300 {
        assert_eq!(
            worker.call("users", &format!("fetch-user({id})")).status,
            200
        );
    }
    // Keys Redis holds when /metrics is read (a counters flush may add or
    // evict some meanwhile).
    let keys_around = |server: &RedisServer| {
        let before = server.dbsize();
        let metrics = worker.get("/metrics").body;
        let after = server.dbsize();
        let entries = metric(&metrics, "activity_host_store_entries");
        let range = before.min(after)..=before.max(after);
        assert!(range.contains(&entries), "{entries} keys, {range:?} around");
        metrics
    };
    let metrics = keys_around(&server);
    assert!(metric(&metrics, "activity_host_store_bytes") > 0);
    assert_eq!(metric(&metrics, "activity_host_store_evictions_total"), 0);

    // A bound a little below what Redis uses: it evicts some keys.
    let used = info_field(&server, "used_memory");
    server
        .command("CONFIG SET maxmemory-policy allkeys-lru")
        .unwrap();
    server
        .command(&format!("CONFIG SET maxmemory {}", used - 16 * 1024))
        .unwrap();
    assert_eq!(worker.call("users", "fetch-user(1000)").status, 200);
    let evicted = info_field(&server, "evicted_keys");
    assert!(evicted > 0, "Redis evicted nothing");
    let metrics = keys_around(&server);
    let counted = metric(&metrics, "activity_host_store_evictions_total");
    let evicted_after = info_field(&server, "evicted_keys");
    assert!((evicted..=evicted_after).contains(&counted), "{counted}");
}

#[test]
fn a_peers_invalidation_is_logged_by_the_workers_that_hear_it() {
    let server = RedisServer::start();
    let store = format!("tiered+{}", server.url());
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(guest("users.wasm"), dir.path().join("users.wasm")).unwrap();
    let sender = Worker::start(dir.path(), &["--store", &store]);
    let hearer = Worker::start(dir.path(), &["--store", &store]);
    for worker in [&sender, &hearer] {
        assert_eq!(worker.call("users", "fetch-user(1)").status, 200);
    }
    // Both workers subscribe in the background: wait until Redis counts
    // both, or a publish before the hearer's SUBSCRIBE would be lost.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !server
        .info("PUBSUB NUMSUB activity-host:events")
        .ends_with(":2\r\n")
    {
        assert!(Instant::now() < deadline, "the workers did not subscribe");
        std::thread::sleep(Duration::from_millis(50));
    }
    let invalidated = sender.post(
        "/v1/components/users/invalidate",
        &serde_json::json!({"export": "fetch-user"}),
    );
    assert_eq!(invalidated.status, 200, "{}", invalidated.body);
    let heard = wait_for_events(&hearer, "invalidated", 1);
    assert_eq!(heard.len(), 1, "{:?}", hearer.events());
    assert_eq!(
        (&heard[0]["by"], &heard[0]["scope"], &heard[0]["component"]),
        (&"peer".into(), &"export".into(), &"users".into())
    );
    // The hearer's memory tier dropped its copy: the next call is a miss.
    let after = hearer.call("users", "fetch-user(1)");
    assert_eq!(after.cache.as_deref(), Some("miss"));
    let sent = wait_for_events(&sender, "invalidated", 1);
    assert_eq!(sent.len(), 1, "its own broadcast is not a peer's: {sent:?}");
    assert_eq!(sent[0]["by"], "http");
}

#[test]
fn with_json_logs_guest_output_is_json_too() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(guest("typed.wasm"), dir.path().join("typed.wasm")).unwrap();
    let worker = Worker::start(dir.path(), &[]);
    assert_eq!(worker.call("typed", "divide(4)").status, 200);
    // divide(0) panics: the guest writes its panic message to stderr.
    assert_eq!(worker.call("typed", "divide(0)").status, 500);
    let log = worker.log();
    let lines: Vec<serde_json::Value> = log
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|_| panic!("not JSON: {line}")))
        .collect();
    let guest_lines: Vec<_> = lines
        .iter()
        .filter(|line| line["target"] == "activity_host::guest")
        .collect();
    assert!(
        guest_lines
            .iter()
            .all(|line| line["component"] == "typed" && line["stream"] == "stderr")
    );
    let messages: Vec<&str> = guest_lines
        .iter()
        .map(|line| line["message"].as_str().unwrap())
        .collect();
    assert_eq!(
        messages
            .iter()
            .filter(|m| **m == "typed: ran divide")
            .count(),
        2,
        "{messages:?}"
    );
    assert!(
        messages
            .iter()
            .any(|m| m.contains("attempt to divide by zero")),
        "the panic message is a record: {messages:?}"
    );
}

#[test]
fn metrics_show_what_the_memory_store_holds_and_evicts() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("worker.toml");
    let users = guest("users.wasm").display().to_string();
    let text = format!(
        "[store]\ntype = \"memory\"\ncapacity-bytes = 4096\n\n[components.users]\npath = {users:?}\n"
    );
    std::fs::write(&config, text).unwrap();
    let worker = Worker::start_with(&["--config", config.to_str().unwrap()]);
    let calls = 120;
    for id in 0..calls {
        assert_eq!(
            worker.call("users", &format!("fetch-user({id})")).status,
            200
        );
    }
    let metrics = worker.get("/metrics").body;
    let value = |name: &str| metric(&metrics, name);
    let (entries, bytes, evictions) = (
        value("activity_host_store_entries"),
        value("activity_host_store_bytes"),
        value("activity_host_store_evictions_total"),
    );
    assert!(
        bytes > 0 && bytes <= 4096,
        "bounded by capacity-bytes: {bytes}"
    );
    assert!(entries > 0 && entries < calls, "{entries}");
    assert_eq!(
        entries + evictions,
        calls,
        "every entry is held or was evicted"
    );
}

/// Waits (up to 10 s) until the worker has logged a call line with
/// `error="KIND"`.
fn wait_for_error_line(worker: &Worker, kind: &str) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(line) = worker
            .calls()
            .into_iter()
            .find(|line| line["error"] == kind)
        {
            return line;
        }
        assert!(Instant::now() < deadline, "no error=\"{kind}\" line");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn ambiguous_abandoned_uninstantiable_and_cancelled_calls_are_logged_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    let config = dir.path().join("worker.toml");
    let typed = guest("typed.wasm").display().to_string();
    let text = format!(
        "[components.typed]\npath = {typed:?}\n\n\
         [components.granted]\npath = {typed:?}\ndirs = [{{ host = {data:?}, guest = \"/data\" }}]\n"
    );
    std::fs::write(&config, text).unwrap();
    let worker = Worker::start_with(&["--config", config.to_str().unwrap()]);

    // `echo-string` is exported by two interfaces of typed.
    assert_eq!(worker.call("typed", r#"echo-string("a")"#).status, 400);
    // The helper computation of a trapping instance is dropped unfinished.
    assert_eq!(worker.call("typed", "square-then-trap(5, 0)").status, 500);
    // A granted directory that vanished after the worker started.
    std::fs::remove_dir(&data).unwrap();
    assert_eq!(worker.call("granted", "divide(4)").status, 500);
    // A client that stops waiting: the worker stops the guest.
    let impatient = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(1)))
        .build()
        .new_agent();
    let gave_up = impatient
        .post(&format!("{}/v1/components/typed/call", worker.url))
        .send_json(serde_json::json!({"wave": "slow(9, 5000)"}));
    assert!(gave_up.is_err(), "the client gave up");

    let cancelled = wait_for_error_line(&worker, "cancelled");
    assert_eq!(cancelled["component"], "typed", "{cancelled}");
    assert!(cancelled["export"].as_str().unwrap().ends_with("#slow"));
    let ambiguous = wait_for_error_line(&worker, "ambiguous");
    assert_eq!(ambiguous["component"], "typed", "{ambiguous}");
    assert!(
        ambiguous["detail"]
            .as_str()
            .unwrap()
            .contains("echo-string"),
        "{ambiguous}"
    );
    let abandoned = wait_for_error_line(&worker, "abandoned");
    assert_eq!(abandoned["export"], "actor-cache/square", "{abandoned}");
    let trap = wait_for_error_line(&worker, "trap");
    assert!(
        trap["export"]
            .as_str()
            .unwrap()
            .ends_with("#square-then-trap")
    );
    let instantiate = wait_for_error_line(&worker, "instantiate");
    assert_eq!(instantiate["component"], "granted", "{instantiate}");
    for line in [&cancelled, &ambiguous, &abandoned, &trap, &instantiate] {
        assert_eq!(
            (&line["outcome"], &line["level"]),
            (&serde_json::json!("error"), &serde_json::json!("WARN")),
            "{line}"
        );
    }

    assert_eq!(
        worker.call("granted", "divide(4)").status,
        500,
        "still not instantiable, never cached"
    );
    assert_eq!(
        worker.call("typed", "divide(4)").status,
        200,
        "and the worker goes on"
    );
    let metrics = worker.get("/metrics").body;
    let metrics = metrics.as_str().unwrap();
    let count = |family: &str, kind: &str| errors_counted(metrics, family, kind);
    let errors = "activity_host_call_errors_total";
    for (kind, expected) in [
        ("cancelled", 1),
        ("abandoned", 1),
        ("trap", 1),
        ("instantiate", 2),
    ] {
        assert_eq!(count(errors, kind), expected, "{kind}: {metrics}");
    }
    assert_eq!(
        count("activity_host_unrouted_calls_total", "ambiguous"),
        1,
        "{metrics}"
    );
}

#[test]
fn the_cli_writes_the_same_line_for_each_kind_of_failure() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("tight.toml");
    std::fs::write(
        &config,
        "[components.typed]\ntimeout = \"300ms\"\nmax-memory-bytes = 33554432\n\
         max-argument-bytes = 64\n",
    )
    .unwrap();
    let typed = guest("typed.wasm").display().to_string();
    let long = format!("behave#echo-string({:?})", "a".repeat(65));
    let run = support::activity_host(&[
        "call",
        "--config",
        config.to_str().unwrap(),
        &typed,
        "divide(0)",
        "hog(64)",
        "spin()",
        &long,
        "divide(4)",
    ]);
    assert!(!run.success, "failed invocations fail the command");
    let lines = run.calls();
    let kinds: Vec<_> = lines.iter().map(|line| line["error"].clone()).collect();
    assert_eq!(
        kinds,
        ["trap", "memory", "timeout", "too-large", ""].map(|kind| match kind {
            "" => serde_json::Value::Null,
            kind => serde_json::json!(kind),
        }),
        "{}",
        run.stderr
    );
    assert_eq!(lines[4]["outcome"], "miss", "the last call still ran");
    assert!(run.stdout.contains("25"), "{}", run.stdout);
}
