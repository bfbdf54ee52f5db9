//! The Redis store against real `redis-server` processes: shared across
//! worker processes, invalidated from another process, and harmless when
//! Redis dies, hangs, restarts or holds garbage.

use crate::support;

use std::sync::Arc;
use std::time::Duration;

use activity_host::{CacheStore, Host, HostError, MemoryOutputPipe, Outcome, StoreErrorKind, Val};
use activity_host::{RedisConfig, RedisStore};
use support::redis::RedisServer;
use support::shared::{fetch, invalidation_is_shared};
use support::{activity_host, guest};

fn users() -> String {
    guest("users.wasm").display().to_string()
}

/// A library host on `server` with a short breaker window.
async fn host_on(server: &RedisServer) -> (Host, RedisStore) {
    let mut config = RedisConfig::new(server.url());
    config.breaker_window = Duration::from_millis(200);
    let store = RedisStore::new(&config).unwrap();
    let host = Host::builder()
        .store(Arc::new(store.clone()))
        .capture_guest_stderr(MemoryOutputPipe::new(1 << 20))
        .build()
        .unwrap();
    host.load_file("users", guest("users.wasm")).await.unwrap();
    (host, store)
}

#[test]
fn a_result_cached_by_one_worker_process_is_a_hit_in_another() {
    let server = RedisServer::start();
    let url = server.url();
    let first = activity_host(&["call", &users(), "--store", &url, "fetch-user(42)"]);
    let second = activity_host(&["call", &users(), "--store", &url, "fetch-user(42)"]);
    assert!(
        first.success && second.success,
        "{}{}",
        first.stderr,
        second.stderr
    );
    assert_eq!(first.outcomes(), ["miss"]);
    assert_eq!(second.outcomes(), ["hit"]);
    assert_eq!(
        second.stderr_lines_with("users: ran fetch-user"),
        0,
        "the body did not run again"
    );
    assert_eq!(first.stdout, second.stdout);
}

#[test]
fn invalidate_from_another_process() {
    let server = RedisServer::start();
    let url = server.url();
    let warm = || {
        activity_host(&[
            "call",
            &users(),
            "--store",
            &url,
            "fetch-user(1)",
            "calculate(2)",
        ])
    };
    assert_eq!(warm().outcomes(), ["miss", "miss"]);
    assert_eq!(warm().outcomes(), ["hit", "hit"]);

    let one = activity_host(&["invalidate", &users(), "--store", &url, "fetch-user(1)"]);
    assert!(one.success, "{}", one.stderr);
    assert!(
        one.stdout.contains("invalidated users fetch-user(1)"),
        "{}",
        one.stdout
    );
    assert_eq!(warm().outcomes(), ["miss", "hit"]);

    let export = activity_host(&[
        "invalidate",
        &users(),
        "--store",
        &url,
        "--export",
        "calculate",
    ]);
    assert!(export.success, "{}", export.stderr);
    assert_eq!(warm().outcomes(), ["hit", "miss"]);

    let all = activity_host(&["invalidate", &users(), "--store", &url, "--all"]);
    assert!(all.success, "{}", all.stderr);
    assert_eq!(warm().outcomes(), ["miss", "miss"]);

    let nothing = activity_host(&["invalidate", &users(), "--store", &url]);
    assert!(!nothing.success);
    assert!(
        nothing.stderr.contains("nothing to invalidate"),
        "{}",
        nothing.stderr
    );
}

#[test]
fn calls_succeed_when_redis_is_down_from_the_start() {
    let mut server = RedisServer::start();
    let url = server.url();
    server.kill();
    let calls = ["fetch-user(1)"; 6];
    let run = activity_host(&[&["call", &users(), "--store", &url][..], &calls[..]].concat());
    assert!(run.success, "{}", run.stderr);
    assert_eq!(run.outcomes(), ["degraded"; 6]);
    assert_eq!(run.stdout_lines().len(), 6);
    let warnings: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.contains("\"WARN\"") && !l.contains("activity_host::load"))
        .collect();
    // Besides the load's purity warning: one when the breaker opens, one for the counters that could not be
    // added to Redis at exit: never one per call.
    assert_eq!(warnings.len(), 2, "{}", run.stderr);
    assert!(warnings[0].contains("circuit open"), "{}", warnings[0]);
}

/// The kind of the store error `result` failed with.
fn store_error_kind(result: Result<(), HostError>) -> StoreErrorKind {
    match result {
        Err(HostError::Store(error)) => error.kind,
        other => panic!("expected a store error, got {other:?}"),
    }
}

#[tokio::test]
async fn redis_killed_mid_run_then_restarted() {
    let mut server = RedisServer::start();
    let (host, store) = host_on(&server).await;
    assert_eq!(fetch(&host, 1).await, Outcome::Miss);
    assert_eq!(fetch(&host, 1).await, Outcome::Hit);

    server.kill();
    for _ in 0..5 {
        assert_eq!(fetch(&host, 1).await, Outcome::Degraded, "no call fails");
    }
    assert!(!store.is_healthy());
    assert_eq!(
        store_error_kind(host.invalidate_component("users").await),
        StoreErrorKind::Unavailable
    );

    server.restart();
    // Calls stay degraded until a probe reconnects (within a couple of
    // breaker windows); the restarted server is empty, so the first call
    // that reaches it misses and the next one hits.
    let mut first = Outcome::Degraded;
    for _ in 0..50 {
        first = fetch(&host, 1).await;
        if first != Outcome::Degraded {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(first, Outcome::Miss, "cache resumes");
    assert_eq!(fetch(&host, 1).await, Outcome::Hit);
    assert!(store.is_healthy());
}

#[tokio::test]
async fn counters_counted_while_redis_is_down_are_added_when_it_is_back() {
    let mut server = RedisServer::start();
    let (host, _) = host_on(&server).await;
    server.kill();
    for _ in 0..4 {
        assert_eq!(fetch(&host, 1).await, Outcome::Degraded);
    }
    assert!(host.flush_stats().await.is_err(), "Redis is down");
    server.restart();
    let mut flushed = host.flush_stats().await;
    for _ in 0..50 {
        if flushed.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        flushed = host.flush_stats().await;
    }
    flushed.unwrap();
    let shared = host.shared_stats().await.unwrap().unwrap();
    let fetch_user = shared
        .iter()
        .find(|(_, export, _)| export.ends_with("#fetch-user"));
    assert_eq!(fetch_user.unwrap().2.degraded, 4, "{shared:?}");
    host.flush_stats().await.unwrap();
    let again = host.shared_stats().await.unwrap().unwrap();
    assert_eq!(again, shared, "each count is added once");
}

#[tokio::test]
async fn a_hung_redis_costs_one_timeout_per_window_then_recovers() {
    let server = RedisServer::start();
    let (host, store) = host_on(&server).await;
    assert_eq!(fetch(&host, 7).await, Outcome::Miss);

    server.pause();
    assert_eq!(
        store_error_kind(host.invalidate_component("users").await),
        StoreErrorKind::Timeout,
        "what an invalidation that reaches a hung Redis says"
    );
    // A guard against hanging, not a speed assertion: each call must end.
    for _ in 0..20 {
        let outcome = tokio::time::timeout(Duration::from_secs(5), fetch(&host, 7)).await;
        assert_eq!(
            outcome.expect("a call against a hung Redis returned"),
            Outcome::Degraded
        );
    }
    assert!(!store.is_healthy(), "the breaker opened");

    server.resume();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut recovered = false;
    for _ in 0..10 {
        if fetch(&host, 7).await == Outcome::Hit {
            recovered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(recovered, "hits again after SIGCONT");
    assert!(store.is_healthy());
}

#[tokio::test]
async fn a_corrupted_value_in_redis_is_a_miss_and_is_overwritten() {
    let server = RedisServer::start();
    let (host, _) = host_on(&server).await;
    let miss = host
        .call("users", "fetch-user", &[Val::U64(9)])
        .await
        .unwrap();
    let key = format!("activity-host:e:{{{}}}", miss.key.unwrap());
    assert_eq!(server.keys("activity-host:e:*"), std::slice::from_ref(&key));
    for garbage in [&b"garbage"[..], &[0u8; 16][..], &[0u8; 40][..]] {
        server.raw(&[b"SET", key.as_bytes(), garbage]);
        let report = host
            .call("users", "fetch-user", &[Val::U64(9)])
            .await
            .unwrap();
        assert_eq!(report.outcome, Outcome::Miss);
        assert_eq!(report.results(), miss.results());
        assert_eq!(
            fetch(&host, 9).await,
            Outcome::Hit,
            "overwritten with a good entry"
        );
    }
}

#[tokio::test]
async fn entries_carry_the_rule_ttl_in_milliseconds() {
    let server = RedisServer::start();
    let (host, _) = host_on(&server).await;
    let report = host
        .call("users", "fetch-user", &[Val::U64(3)])
        .await
        .unwrap();
    let key = format!("activity-host:e:{{{}}}", report.key.unwrap());
    let pttl = String::from_utf8(server.raw(&[b"PTTL", key.as_bytes()])).unwrap();
    let ms: u64 = pttl.trim().trim_start_matches(':').parse().unwrap();
    assert!(
        ms > 7_100_000 && ms <= 7_200_000,
        "fetch-user declares 1h, and Redis keeps the entry 1h more to tell `expired`: PTTL {ms}"
    );
    let calc = host
        .call("users", "calculate", &[Val::S64(3)])
        .await
        .unwrap();
    let key = format!("activity-host:e:{{{}}}", calc.key.unwrap());
    let pttl = String::from_utf8(server.raw(&[b"PTTL", key.as_bytes()])).unwrap();
    assert_eq!(pttl.trim(), ":-1", "no TTL: kept until evicted");
}

#[tokio::test]
async fn export_and_component_invalidation_are_shared_by_every_host() {
    let server = RedisServer::start();
    let (first, _) = host_on(&server).await;
    let (second, _) = host_on(&server).await;
    assert_eq!(fetch(&first, 5).await, Outcome::Miss);
    assert_eq!(fetch(&second, 5).await, Outcome::Hit, "shared");
    invalidation_is_shared(&first, &second, 5).await;
}

#[test]
fn stats_add_up_the_counters_of_every_worker_process() {
    let server = RedisServer::start();
    let url = server.url();
    for _ in 0..2 {
        let run = activity_host(&[
            "call",
            &users(),
            "--store",
            &url,
            "fetch-user(1)",
            r#"send-email("a")"#,
        ]);
        assert!(run.success, "{}", run.stderr);
    }
    let stats = activity_host(&["stats", "--store", &url]);
    assert!(stats.success, "{}", stats.stderr);
    let row = |export: &str| -> Vec<u64> {
        let line = stats
            .stdout
            .lines()
            .find(|l| l.contains(export))
            .unwrap_or_else(|| panic!("{}", stats.stdout));
        line.split_whitespace()
            .skip(2)
            .map(|n| n.parse().unwrap())
            .collect()
    };
    // hits misses bypass degraded errors waits stored-bytes
    let fetch = row("#fetch-user");
    assert_eq!(&fetch[..6], [1, 1, 0, 0, 0, 0]);
    assert!(fetch[6] > 0, "stored bytes counted");
    assert_eq!(&row("#send-email")[..6], [0, 0, 2, 0, 0, 0]);
    let json = activity_host(&["stats", "--store", &url, "--json"]);
    assert!(json.success, "{}", json.stderr);
    let rows: Vec<serde_json::Value> = serde_json::from_str(&json.stdout).unwrap();
    let fetch = rows
        .iter()
        .find(|row| row["export"].as_str().unwrap().ends_with("#fetch-user"))
        .unwrap_or_else(|| panic!("{}", json.stdout));
    assert_eq!(fetch["component"], "users");
    assert_eq!(
        (fetch["hits"].as_u64(), fetch["misses"].as_u64()),
        (Some(1), Some(1))
    );

    let memory = activity_host(&["stats"]);
    assert!(!memory.success);
    assert!(
        memory.stderr.contains("keeps no counters"),
        "{}",
        memory.stderr
    );
}

/// Two library hosts with the in-memory tier in front of `server`.
async fn tiered_host(server: &RedisServer, rules: activity_host::RulesConfig) -> Host {
    use activity_host::{MemoryStore, TieredStore};
    let mut config = RedisConfig::new(server.url());
    config.breaker_window = Duration::from_millis(200);
    let redis = RedisStore::new(&config).unwrap();
    let tiered = TieredStore::new(MemoryStore::default(), redis, Duration::from_secs(10));
    let host = Host::builder()
        .store(Arc::new(tiered))
        .rules(rules)
        .capture_guest_stderr(MemoryOutputPipe::new(1 << 20))
        .build()
        .unwrap();
    host.load_file("users", guest("users.wasm")).await.unwrap();
    host
}

/// Time for a message published on Redis to reach the other host (loopback).
const PROPAGATION: Duration = Duration::from_millis(300);

#[tokio::test]
async fn tiered_hosts_serve_from_memory_and_hear_every_invalidation() {
    let mut server = RedisServer::start();
    let first = tiered_host(&server, Default::default()).await;
    let second = tiered_host(&server, Default::default()).await;
    assert_eq!(fetch(&first, 5).await, Outcome::Miss);
    tokio::time::sleep(PROPAGATION).await; // both subscribed
    assert_eq!(
        fetch(&second, 5).await,
        Outcome::Hit,
        "from Redis, now in its memory"
    );

    first
        .invalidate_export("users", "fetch-user")
        .await
        .unwrap();
    tokio::time::sleep(PROPAGATION).await;
    assert_eq!(
        fetch(&second, 5).await,
        Outcome::Miss,
        "export invalidation reached its memory"
    );
    assert_eq!(fetch(&first, 5).await, Outcome::Hit);

    second
        .invalidate_entry_wave("users", "fetch-user(5)")
        .await
        .unwrap();
    tokio::time::sleep(PROPAGATION).await;
    assert_eq!(
        fetch(&first, 5).await,
        Outcome::Miss,
        "entry removal reached its memory"
    );

    second.invalidate_component("users").await.unwrap();
    tokio::time::sleep(PROPAGATION).await;
    assert_eq!(
        fetch(&first, 5).await,
        Outcome::Miss,
        "component invalidation too"
    );
    assert_eq!(fetch(&second, 5).await, Outcome::Hit);

    server.kill();
    assert_eq!(
        fetch(&second, 5).await,
        Outcome::Hit,
        "served from memory while Redis is down"
    );
    assert_eq!(fetch(&second, 6).await, Outcome::Degraded);
}

#[tokio::test]
async fn the_memory_tier_never_outlives_the_rule_ttl() {
    let server = RedisServer::start();
    let mut rules = activity_host::RulesConfig::default();
    let short = activity_host::RuleOverride {
        ttl: Some("1s".parse().unwrap()),
        ..Default::default()
    };
    rules.set("users", "fetch-user", short);
    let host = tiered_host(&server, rules).await;
    assert_eq!(fetch(&host, 1).await, Outcome::Miss);
    tokio::time::sleep(PROPAGATION).await; // subscribed: the memory tier fills
    assert_eq!(
        fetch(&host, 1).await,
        Outcome::Hit,
        "from Redis, copied into memory"
    );
    assert_eq!(fetch(&host, 1).await, Outcome::Hit);
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(
        fetch(&host, 1).await,
        Outcome::Miss,
        "expired in both tiers (the memory tier's own TTL is 10 s)"
    );
}

#[test]
fn a_rule_can_keep_one_export_in_a_named_store() {
    let server = RedisServer::start();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("host.toml");
    std::fs::write(
        &config,
        format!(
            "[stores.shared]\ntype = \"redis\"\nurl = \"{}\"\n\n\
             [components.users.exports.fetch-user]\nstore = \"shared\"\n",
            server.url()
        ),
    )
    .unwrap();
    let config = config.display().to_string();
    let run = || {
        let run = activity_host(&[
            "call",
            &users(),
            "--config",
            &config,
            "fetch-user(1)",
            "calculate(2)",
        ]);
        assert!(run.success, "{}", run.stderr);
        run
    };
    let first = run();
    assert_eq!(first.outcomes(), ["miss", "miss"]);
    let stores: Vec<_> = first.calls().iter().map(|c| c["store"].clone()).collect();
    assert_eq!(stores, ["redis", "memory"]);
    assert_eq!(
        run().outcomes(),
        ["hit", "miss"],
        "fetch-user is shared through Redis; calculate stays in each process's memory"
    );

    std::fs::write(
        dir.path().join("bad.toml"),
        "[components.users.exports.fetch-user]\nstore = \"nowhere\"\n",
    )
    .unwrap();
    let bad = dir.path().join("bad.toml").display().to_string();
    let refused = activity_host(&["call", &users(), "--config", &bad, "fetch-user(1)"]);
    assert!(!refused.success);
    assert!(
        refused
            .stderr
            .contains("names store `nowhere`, which is not configured"),
        "{}",
        refused.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiter_runs_the_body_itself_after_lease_wait() {
    let server = RedisServer::start();
    let host = |lease_wait: Duration, stderr: MemoryOutputPipe| {
        let mut config = RedisConfig::new(server.url());
        config.lease_wait = lease_wait;
        let store = RedisStore::new(&config).unwrap();
        Host::builder()
            .store(Arc::new(store))
            .capture_guest_stderr(stderr)
            .build()
            .unwrap()
    };
    let (holder_err, impatient_err) = (
        MemoryOutputPipe::new(1 << 16),
        MemoryOutputPipe::new(1 << 16),
    );
    let holder = host(Duration::from_secs(60), holder_err.clone());
    let impatient = host(Duration::from_millis(200), impatient_err.clone());
    for host in [&holder, &impatient] {
        host.load_file("typed", guest("typed.wasm")).await.unwrap();
    }
    let ran = |pipe: &MemoryOutputPipe| {
        String::from_utf8_lossy(&pipe.contents())
            .lines()
            .filter(|line| line.contains("ran slow"))
            .count()
    };
    let slow = holder.call_wave("typed", "slow(3, 1500)");
    let waiter = async {
        while ran(&holder_err) == 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        impatient.call_wave("typed", "slow(3, 1500)").await
    };
    let (first, second) = tokio::join!(slow, waiter);
    let (first, second) = (first.unwrap(), second.unwrap());
    assert_eq!(first.results(), [Val::U32(3)]);
    assert_eq!(second.results(), first.results());
    assert_eq!(second.outcome, Outcome::Miss);
    assert_eq!(
        ran(&impatient_err),
        1,
        "after waiting lease-wait (200 ms) for the holder, it ran the body itself"
    );
}
