//! The reason of every miss, on the memory, Redis and tiered stores: `new`,
//! `expired`, `invalidated`, `refresh`, `code-changed`, and `evicted` where
//! the store can tell; the `reason=` field of the log line, and every
//! outcome and reason as a worker's replies and log lines tell them.

use crate::support;

use std::sync::Arc;
use std::time::Duration;

use activity_host::{
    CacheStore, CallOptions, Host, MemoryOutputPipe, MemoryStore, MissReason, Outcome, RedisConfig,
    RedisStore, RuleOverride, RulesConfig, TieredStore, Ttl,
};
use support::redis::RedisServer;
use support::worker::Worker;
use support::{activity_host, guest};

/// `fetch-user`'s entries live 400 ms here.
const TTL: Duration = Duration::from_millis(400);

/// A host on `store` serving `users` (fetch-user: inputs, TTL 400 ms;
/// calculate: task-source).
async fn host_on(store: Arc<dyn CacheStore>) -> Host {
    let mut rules = RulesConfig::default();
    let ttl = RuleOverride {
        ttl: Some(Ttl::After(TTL)),
        ..RuleOverride::default()
    };
    rules.set("users", "fetch-user", ttl);
    let host = Host::builder()
        .store(store)
        .rules(rules)
        .capture_guest_stderr(MemoryOutputPipe::new(1 << 20))
        .build()
        .unwrap();
    host.load_file("users", guest("users.wasm")).await.unwrap();
    host
}

/// How `invocation` was served, and why it missed.
async fn served(host: &Host, invocation: &str) -> (Outcome, Option<MissReason>) {
    let report = host.call_wave("users", invocation).await.unwrap();
    (report.outcome, report.reason)
}

fn miss(reason: MissReason) -> (Outcome, Option<MissReason>) {
    (Outcome::Miss, Some(reason))
}

const HIT: (Outcome, Option<MissReason>) = (Outcome::Hit, None);

/// Every reason a store and the memoizer can give, in one story.
async fn every_reason_on(store: Arc<dyn CacheStore>) {
    let host = host_on(store).await;
    assert_eq!(served(&host, "fetch-user(1)").await, miss(MissReason::New));
    assert_eq!(served(&host, "fetch-user(1)").await, HIT);

    tokio::time::sleep(TTL + Duration::from_millis(150)).await;
    assert_eq!(
        served(&host, "fetch-user(1)").await,
        miss(MissReason::Expired)
    );

    host.invalidate_entry_wave("users", "fetch-user(1)")
        .await
        .unwrap();
    assert_eq!(
        served(&host, "fetch-user(1)").await,
        miss(MissReason::Invalidated),
        "one entry invalidated"
    );
    assert_eq!(served(&host, "fetch-user(2)").await, miss(MissReason::New));
    host.invalidate_export("users", "fetch-user").await.unwrap();
    assert_eq!(
        served(&host, "fetch-user(2)").await,
        miss(MissReason::Invalidated),
        "the export invalidated"
    );

    let refresh = CallOptions::default().with_refresh(true);
    let report = host
        .call_wave_with("users", "fetch-user(2)", refresh)
        .await
        .unwrap();
    assert_eq!((report.outcome, report.reason), miss(MissReason::Refresh));

    // calculate is task-source: a new build of the code misses, and says why.
    assert_eq!(served(&host, "calculate(7)").await, miss(MissReason::New));
    assert_eq!(served(&host, "calculate(7)").await, HIT);
    host.load_file("users", guest("users-changed-body.wasm"))
        .await
        .unwrap();
    assert_eq!(
        served(&host, "calculate(7)").await,
        miss(MissReason::CodeChanged)
    );
    assert_eq!(served(&host, "calculate(7)").await, HIT);
    assert_eq!(
        served(&host, "calculate(8)").await,
        miss(MissReason::New),
        "other arguments never ran before"
    );
    host.load_file("users", guest("users.wasm")).await.unwrap();
    assert_eq!(
        served(&host, "calculate(7)").await,
        HIT,
        "the first build's entry is still there"
    );
}

#[tokio::test]
async fn every_miss_has_its_reason_on_the_memory_store() {
    every_reason_on(Arc::new(MemoryStore::default())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_miss_has_its_reason_on_redis() {
    let server = RedisServer::start();
    let store = RedisStore::new(&RedisConfig::new(server.url())).unwrap();
    every_reason_on(Arc::new(store)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_miss_has_its_reason_on_the_tiered_store() {
    let server = RedisServer::start();
    let redis = RedisStore::new(&RedisConfig::new(server.url())).unwrap();
    let tiered = TieredStore::new(MemoryStore::default(), redis, Duration::from_secs(10));
    every_reason_on(Arc::new(tiered)).await;
}

#[tokio::test]
async fn a_miss_on_an_entry_evicted_from_memory_says_evicted() {
    // Room for a few dozen users only: fetching many evicts some.
    let host = host_on(Arc::new(MemoryStore::new(4096))).await;
    for id in 0..200 {
        assert_eq!(
            served(&host, &format!("fetch-user({id})")).await,
            miss(MissReason::New)
        );
    }
    let mut again = Vec::new();
    for id in 0..200 {
        again.push(served(&host, &format!("fetch-user({id})")).await);
    }
    assert!(again.contains(&miss(MissReason::Evicted)), "{again:?}");
    assert!(again.contains(&HIT), "{again:?}");
    assert!(
        !again.contains(&miss(MissReason::New)),
        "an evicted entry never reads as never stored: {again:?}"
    );
}

#[test]
fn the_log_line_of_a_miss_names_its_reason() {
    let users = guest("users.wasm").display().to_string();
    let run = activity_host(&[
        "call",
        "--refresh",
        &users,
        "fetch-user(1)",
        "fetch-user(1)",
    ]);
    assert!(run.success, "{}", run.stderr);
    let reasons: Vec<_> = run.calls().iter().map(|c| c["reason"].clone()).collect();
    assert_eq!(reasons, ["refresh", "refresh"], "{}", run.stderr);
    let run = activity_host(&["call", &users, "fetch-user(1)", "fetch-user(1)"]);
    let reasons: Vec<_> = run.calls().iter().map(|c| c["reason"].clone()).collect();
    assert_eq!(
        reasons,
        [serde_json::json!("new"), serde_json::Value::Null],
        "a hit has no reason: {}",
        run.stderr
    );
}

#[test]
fn explain_tells_what_a_call_would_do_without_running_it() {
    let server = RedisServer::start();
    let (url, users) = (server.url(), guest("users.wasm").display().to_string());
    let call = activity_host(&["call", &users, "--store", &url, "calculate(4)"]);
    assert!(call.success, "{}", call.stderr);

    let explain = activity_host(&[
        "call",
        "--explain",
        &users,
        "--store",
        &url,
        "calculate(4)",
        "calculate(5)",
    ]);
    assert!(explain.success, "{}", explain.stderr);
    assert_eq!(
        explain.stderr_lines_with("users: ran calculate"),
        0,
        "nothing ran"
    );
    assert!(
        explain.calls().is_empty(),
        "no call line: nothing was called"
    );
    let out = &explain.stdout;
    assert!(out.contains("calculate(4): hit: stored"), "{out}");
    assert!(out.contains("calculate(5): miss (new)"), "{out}");
    assert!(out.contains("rule       task-source"), "{out}");
    assert!(
        !out.contains("not keyed"),
        "task-source keys the code's sha256: {out}"
    );

    let changed = guest("users-changed-body.wasm").display().to_string();
    let rebuilt = activity_host(&[
        "call",
        "--explain",
        &changed,
        "--name",
        "users",
        "--store",
        &url,
        "calculate(4)",
    ]);
    assert!(
        rebuilt.stdout.contains("calculate(4): miss (code-changed)"),
        "{}",
        rebuilt.stdout
    );
}

#[test]
fn explain_over_http_answers_the_key_parts_and_the_lookup() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(guest("users.wasm"), dir.path().join("users.wasm")).unwrap();
    let worker = support::worker::Worker::start(dir.path(), &[]);
    assert_eq!(worker.call("users", "fetch-user(1)").status, 200);
    let explain = |wave: &str| {
        worker.post(
            "/v1/components/users/call?explain=true",
            &serde_json::json!({ "wave": wave }),
        )
    };
    let hit = explain("fetch-user(1)");
    assert_eq!(hit.status, 200, "{}", hit.body);
    let hit = &hit.body["explain"];
    assert_eq!(
        (&hit["outcome"], &hit["reason"]),
        (&"hit".into(), &serde_json::Value::Null)
    );
    assert!(hit["age_ms"].is_u64(), "{hit}");
    assert_eq!(hit["key"].as_str().unwrap().len(), 64);
    assert_eq!(hit["arguments_digest"].as_str().unwrap().len(), 64);
    assert!(hit["code_hash"].is_null(), "inputs: the code is not keyed");
    assert!(hit["rule"].as_str().unwrap().starts_with("inputs"), "{hit}");
    let miss = explain("fetch-user(2)");
    assert_eq!(miss.body["explain"]["reason"], "new");
    assert_eq!(
        worker.log_lines_with("users: ran fetch-user"),
        1,
        "explain runs nothing"
    );
    assert_eq!(worker.calls().len(), 1);
    assert_eq!(explain("fetch-user(\"x\")").status, 400);
}

/// One call of `typed`'s `wave` through `worker` (`?query`, if not empty):
/// its `x-cache` and `x-cache-reason`, which must match the call's log line.
fn served_by(worker: &Worker, wave: &str, query: &str) -> (String, Option<String>) {
    let before = worker.calls().len();
    let reply = worker.post(
        &format!("/v1/components/typed/call{query}"),
        &serde_json::json!({ "wave": wave }),
    );
    assert_eq!(reply.status, 200, "{}", reply.body);
    let calls = worker.calls();
    assert_eq!(calls.len(), before + 1, "one line per call");
    let line = &calls[before];
    let outcome = reply.cache.unwrap();
    assert_eq!(line["outcome"], outcome.as_str(), "{line}");
    assert_eq!(line["reason"].as_str(), reply.reason.as_deref(), "{line}");
    assert_eq!(reply.body["reason"].as_str(), reply.reason.as_deref());
    (outcome, reply.reason)
}

fn said(outcome: &str, reason: Option<&str>) -> (String, Option<String>) {
    (outcome.to_owned(), reason.map(str::to_owned))
}

#[test]
fn every_outcome_and_reason_reaches_a_workers_log_and_its_replies() {
    let redis = RedisServer::start();
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(guest("typed.wasm"), dir.path().join("typed.wasm")).unwrap();
    let worker = Worker::start(
        dir.path(),
        &[
            "--store",
            &redis.url(),
            "--ttl",
            "typed/divide=2s",
            "--policy",
            "typed/hog=no-cache",
        ],
    );
    assert_eq!(
        served_by(&worker, "divide(4)", ""),
        said("miss", Some("new"))
    );
    assert_eq!(served_by(&worker, "divide(4)", ""), said("hit", None));
    // Redis keeps an expired entry as long again (here 2 s) to tell.
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(
        served_by(&worker, "divide(4)", ""),
        said("miss", Some("expired"))
    );
    let invalidated = worker.post(
        "/v1/components/typed/invalidate",
        &serde_json::json!({ "wave": "divide(4)" }),
    );
    assert_eq!(invalidated.status, 200, "{}", invalidated.body);
    assert_eq!(
        served_by(&worker, "divide(4)", ""),
        said("miss", Some("invalidated"))
    );
    assert_eq!(
        served_by(&worker, "divide(4)", "?refresh=true"),
        said("miss", Some("refresh"))
    );
    // Damage the stored entry (the reply names its key's first 12 digits).
    let key = worker.call("typed", "divide(4)").body["key"].clone();
    let stored = redis.keys(&format!("*:e:{{{}*", key.as_str().unwrap()));
    assert_eq!(stored.len(), 1, "{key}: {stored:?}");
    redis.raw(&[b"SET", stored[0].as_bytes(), b"damaged"]);
    assert_eq!(
        served_by(&worker, "divide(4)", ""),
        said("miss", Some("unreadable"))
    );
    assert_eq!(
        served_by(&worker, "divide(4)", ""),
        said("hit", None),
        "overwritten"
    );
    // Damage the entry behind an intact header (Redis's 24 bytes).
    redis.raw(&[
        b"SETRANGE",
        stored[0].as_bytes(),
        b"24",
        b"\xff\xff\xff\xff",
    ]);
    assert_eq!(
        served_by(&worker, "divide(4)", ""),
        said("miss", Some("unreadable"))
    );
    assert_eq!(served_by(&worker, "divide(4)", ""), said("hit", None));
    assert_eq!(served_by(&worker, "hog(1)", ""), said("bypass", None));
    // A whole component invalidated is one event.
    let all = worker.post(
        "/v1/components/typed/invalidate",
        &serde_json::json!({ "all": true }),
    );
    assert_eq!(all.status, 200, "{}", all.body);
    let event = worker
        .events()
        .into_iter()
        .find(|event| event["event"] == "invalidated" && event["scope"] == "component")
        .expect("a component invalidation event");
    assert_eq!(
        (&event["component"], &event["by"]),
        (&serde_json::json!("typed"), &serde_json::json!("http"))
    );
    assert_eq!(
        served_by(&worker, "divide(4)", ""),
        said("miss", Some("invalidated"))
    );

    // A store that is down: the call runs uncached.
    let mut dead = RedisServer::start();
    let url = dead.url();
    dead.kill();
    let degraded = Worker::start(dir.path(), &["--store", &url]);
    assert_eq!(
        served_by(&degraded, "divide(4)", ""),
        said("degraded", None)
    );
    let line = &degraded.calls()[0];
    assert!(
        line["detail"].as_str().is_some_and(|d| !d.is_empty()),
        "{line}"
    );
}

#[test]
fn a_worker_on_a_small_memory_store_says_which_misses_were_evicted() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("worker.toml");
    let typed = guest("typed.wasm").display().to_string();
    let text = format!(
        "[store]\ntype = \"memory\"\nmax-bytes = 4096\n\n[components.typed]\npath = {typed:?}\n"
    );
    std::fs::write(&config, text).unwrap();
    let worker = Worker::start_with(&["--config", config.to_str().unwrap()]);
    for x in 1..=120 {
        served_by(&worker, &format!("divide({x})"), "");
    }
    let again: Vec<_> = (1..=120)
        .map(|x| served_by(&worker, &format!("divide({x})"), ""))
        .filter(|(outcome, _)| outcome == "miss")
        .collect();
    assert!(!again.is_empty(), "120 entries do not fit in 4 KiB");
    assert!(
        again
            .iter()
            .all(|(_, reason)| reason.as_deref() == Some("evicted")),
        "{again:?}"
    );
}
