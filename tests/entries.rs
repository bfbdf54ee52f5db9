//! The entries themselves: listing a component's entries (key, export,
//! bytes, age, TTL left, hits) a page at a time and evicting one by key, on
//! the memory, Redis, tiered and cluster stores, through the library, the
//! worker's routes and `activity-host entries`.

use crate::support;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use activity_host::{
    CacheKey, CacheStore, EntryQuery, Host, MemoryOutputPipe, MemoryStore, MissReason, Outcome,
    RedisConfig, RedisStore, StoredEntry, TieredStore,
};
use serde_json::Value;
use support::redis::{RedisCluster, RedisServer};
use support::worker::Worker;
use support::{activity_host, guest};

/// `fetch-user`'s full path.
const FETCH_USER: &str = "example:users/api@0.1.0#fetch-user";

async fn host_on(store: Arc<dyn CacheStore>) -> Host {
    let host = Host::builder()
        .store(store)
        .capture_guest_stderr(MemoryOutputPipe::new(1 << 20))
        .build()
        .unwrap();
    host.load_file("users", guest("users.wasm")).await.unwrap();
    host
}

/// Calls `invocation` on `users`; its key.
async fn call(host: &Host, invocation: &str) -> CacheKey {
    let report = host.call_wave("users", invocation).await.unwrap();
    report.key.expect("a cached export")
}

/// Every entry of `users` (of `export`, if given), fetched `page` at a time.
async fn list(host: &Host, export: Option<&str>, page: usize) -> Vec<StoredEntry> {
    let mut entries = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let query = EntryQuery {
            component: "users",
            export,
            cursor: cursor.as_deref(),
            limit: page,
        };
        let listed = host.entries(query).await.unwrap();
        assert!(listed.entries.len() <= page + 64, "a page is about `limit`");
        entries.extend(listed.entries);
        match listed.next {
            Some(next) => cursor = Some(next),
            None => return entries,
        }
    }
}

fn by_key(entries: Vec<StoredEntry>) -> BTreeMap<CacheKey, StoredEntry> {
    entries.into_iter().map(|e| (e.key, e)).collect()
}

/// One story on `store`: what is listed, with which figures, and what
/// eviction and invalidation remove.
async fn entries_on(store: Arc<dyn CacheStore>) {
    let host = host_on(store).await;
    let one = call(&host, "fetch-user(1)").await;
    let two = call(&host, "fetch-user(2)").await;
    call(&host, "fetch-user(1)").await;
    call(&host, "fetch-user(1)").await;
    let calculated = call(&host, "calculate(21)").await;
    host.call_wave("users", "send-email(\"a@b.c\")")
        .await
        .unwrap();
    host.flush_stats().await.unwrap();

    let listed = by_key(list(&host, None, 1).await);
    let keys: Vec<_> = listed.keys().copied().collect();
    let mut expected = vec![one, two, calculated];
    expected.sort();
    assert_eq!(
        keys, expected,
        "every result, no code record, one page each"
    );
    let first = &listed[&one];
    assert_eq!((first.export.as_str(), first.hits), (FETCH_USER, 2));
    assert_eq!(listed[&two].hits, 0);
    assert!(first.bytes > 20, "{first:?}");
    assert!(first.age < Duration::from_secs(30), "{first:?}");
    let left = first.ttl_left.expect("fetch-user lives 1 h");
    assert!(left > Duration::from_secs(3500) && left <= Duration::from_secs(3600));
    assert_eq!(listed[&calculated].ttl_left, None, "calculate has no TTL");

    let fetched = list(&host, Some("fetch-user"), 100).await;
    assert_eq!(fetched.len(), 2, "one export's entries");

    assert!(host.evict(&two.to_string()).await.unwrap());
    assert!(!host.evict(&two.to_string()).await.unwrap(), "gone already");
    assert!(host.evict("not-a-key").await.is_err());
    let report = host.call_wave("users", "fetch-user(2)").await.unwrap();
    assert_eq!(
        (report.outcome, report.reason),
        (Outcome::Miss, Some(MissReason::Invalidated))
    );

    host.invalidate_export("users", "fetch-user").await.unwrap();
    let keys: Vec<_> = list(&host, None, 100).await.iter().map(|e| e.key).collect();
    assert_eq!(keys, [calculated], "an invalidated export lists nothing");
    host.invalidate_component("users").await.unwrap();
    assert!(list(&host, None, 100).await.is_empty());

    let bad = EntryQuery {
        component: "users",
        export: None,
        cursor: Some("0.nonsense"),
        limit: 10,
    };
    assert!(host.entries(bad).await.is_err(), "a cursor it did not make");
}

fn redis_store(server: &RedisServer) -> RedisStore {
    RedisStore::new(&RedisConfig::new(server.url())).unwrap()
}

#[tokio::test]
async fn entries_on_the_memory_store() {
    entries_on(Arc::new(MemoryStore::default())).await;
}

#[tokio::test]
async fn entries_on_redis() {
    let server = RedisServer::start();
    entries_on(Arc::new(redis_store(&server))).await;
}

#[tokio::test]
async fn entries_on_the_tiered_store() {
    // Hits served by the memory tier count as well.
    let server = RedisServer::start();
    let tiered = TieredStore::new(
        MemoryStore::default(),
        redis_store(&server),
        Duration::from_secs(10),
    );
    entries_on(Arc::new(tiered)).await;
}

#[tokio::test]
async fn entries_on_a_redis_cluster() {
    let cluster = RedisCluster::start(3);
    let config = RedisConfig::cluster(cluster.urls());
    entries_on(Arc::new(RedisStore::new(&config).unwrap())).await;
}

#[tokio::test]
async fn listing_reads_an_index_not_the_keyspace() {
    // 200 000 other keys: a listing must neither walk them nor block on
    // them (no KEYS, no SCAN), and still find exactly the component's.
    let server = RedisServer::start();
    let filled = server.raw(&[
        b"EVAL",
        b"for i = 1, 200000 do redis.call('SET', 'other:' .. i, 'x') end return 1",
        b"0",
    ]);
    assert_eq!(filled, b":1\r\n");
    let host = host_on(Arc::new(redis_store(&server))).await;
    for id in 0..300 {
        call(&host, &format!("fetch-user({id})")).await;
    }
    assert_eq!(list(&host, None, 50).await.len(), 300);
    let commands = server.info("INFO commandstats");
    assert!(commands.contains("cmdstat_zscan"), "{commands}");
    for walk in ["cmdstat_scan:", "cmdstat_keys:"] {
        assert!(!commands.contains(walk), "{walk} in {commands}");
    }
}

#[tokio::test]
async fn vanished_entries_leave_the_index() {
    let server = RedisServer::start();
    let host = host_on(Arc::new(redis_store(&server))).await;
    let kept = call(&host, "fetch-user(1)").await;
    let vanished = call(&host, "fetch-user(2)").await;
    // As if Redis evicted it under maxmemory.
    let entry_key = format!("activity-host:e:{{{vanished}}}");
    server.raw(&[b"DEL", entry_key.as_bytes()]);
    let keys: Vec<_> = list(&host, None, 10).await.iter().map(|e| e.key).collect();
    assert_eq!(keys, [kept]);
    let index = format!("activity-host:i:{{users}}#{FETCH_USER}");
    let members = server.info(&format!("ZCARD {index}"));
    assert_eq!(members.trim(), ":1", "the vanished entry left the index");
}

#[tokio::test]
async fn hits_counted_while_redis_hangs_are_written_when_it_answers() {
    let server = RedisServer::start();
    let mut config = RedisConfig::new(server.url());
    config.response_timeout = Duration::from_millis(300);
    config.breaker_window = Duration::from_millis(200);
    let host = host_on(Arc::new(RedisStore::new(&config).unwrap())).await;
    let key = call(&host, "fetch-user(1)").await;
    call(&host, "fetch-user(1)").await;
    call(&host, "fetch-user(1)").await;

    server.pause();
    assert!(
        host.flush_stats().await.is_err(),
        "the flush reached no one"
    );
    server.resume();
    tokio::time::sleep(Duration::from_millis(300)).await; // the breaker's window
    host.flush_stats().await.unwrap();
    let listed = list(&host, None, 10).await;
    assert_eq!(listed.len(), 1);
    assert_eq!((listed[0].key, listed[0].hits), (key, 2), "no hit was lost");
}

/// The worker's routes and `activity-host entries`, on a worker's memory
/// store and on Redis.
#[test]
fn entries_of_a_worker_and_of_a_shared_store() {
    let server = RedisServer::start();
    let users = guest("users.wasm");
    let worker = Worker::start_with(&[users.to_str().unwrap()]);
    for id in [1, 2, 1] {
        assert_eq!(
            worker.call("users", &format!("fetch-user({id})")).status,
            200
        );
    }

    let page = worker.get("/v1/components/users/entries?limit=1");
    assert_eq!(page.status, 200, "{:?}", page.body);
    assert_eq!(page.body["entries"].as_array().unwrap().len(), 1);
    let cursor = page.body["next"]
        .as_str()
        .expect("a second page")
        .to_owned();
    let second = worker.get(&format!(
        "/v1/components/users/entries?limit=1&cursor={cursor}"
    ));
    assert_eq!(second.body["entries"].as_array().unwrap().len(), 1);
    assert_eq!(second.body["next"], Value::Null);
    let all = worker.get("/v1/components/users/entries?export=fetch-user");
    let entries = all.body["entries"].as_array().unwrap().clone();
    let hits: u64 = entries.iter().map(|e| e["hits"].as_u64().unwrap()).sum();
    assert_eq!(hits, 1);
    assert_eq!(worker.get("/v1/components/nobody/entries").status, 404);
    assert_eq!(
        worker
            .get("/v1/components/users/entries?cursor=0.zz")
            .status,
        400
    );
    for limit in [0, 1001] {
        let refused = worker.get(&format!("/v1/components/users/entries?limit={limit}"));
        assert_eq!(refused.status, 400, "limit={limit}: {:?}", refused.body);
    }
    assert_eq!(
        worker
            .get("/v1/components/users/entries?export=nope")
            .status,
        404
    );

    let key = entries[0]["key"].as_str().unwrap();
    let listed = activity_host(&["entries", "users", "--worker", &worker.url]);
    assert!(listed.success, "{}", listed.stderr);
    assert_eq!(listed.stdout_lines().len(), 3, "a header and two entries");
    assert!(listed.stdout.contains(key));
    let evicted = activity_host(&["entries", "--worker", &worker.url, "--evict", key]);
    assert!(evicted.success, "{}", evicted.stderr);
    assert_eq!(worker.delete(&format!("/v1/entries/{key}")).status, 404);
    let event = worker
        .events()
        .into_iter()
        .find(|e| e["event"] == "invalidated")
        .expect("the eviction is logged");
    assert_eq!(
        (&event["scope"], &event["by"]),
        (&"entry".into(), &"http".into())
    );

    // On Redis, from the command line alone.
    let store = server.url();
    let called = activity_host(&[
        "call",
        users.to_str().unwrap(),
        "--store",
        &store,
        "fetch-user(7)",
        "calculate(3)",
    ]);
    assert!(called.success, "{}", called.stderr);
    let one_export = activity_host(&["entries", "users", "calculate", "--store", &store, "--json"]);
    assert!(one_export.success, "{}", one_export.stderr);
    let entries: Vec<Value> = serde_json::from_str(&one_export.stdout).unwrap();
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert!(
        entries[0]["export"]
            .as_str()
            .unwrap()
            .ends_with("#calculate")
    );
    let listed = activity_host(&["entries", "--store", &store, "--json"]);
    assert!(listed.success, "{}", listed.stderr);
    let entries: Vec<Value> = serde_json::from_str(&listed.stdout).unwrap();
    let exports: Vec<&str> = entries
        .iter()
        .map(|e| e["export"].as_str().unwrap())
        .collect();
    assert_eq!(exports.len(), 2, "{entries:?}");
    assert!(exports.contains(&FETCH_USER), "{exports:?}");
    assert!(
        exports.iter().any(|e| e.ends_with("#calculate")),
        "{exports:?}"
    );
    let key = entries[0]["key"].as_str().unwrap();
    let evicted = activity_host(&["entries", "--store", &store, "--evict", key]);
    assert!(evicted.success, "{}", evicted.stderr);
    let again = activity_host(&["entries", "--store", &store, "--evict", key]);
    assert!(!again.success, "no entry the second time");
    let listed = activity_host(&["entries", "users", "--store", &store, "--json"]);
    let entries: Vec<Value> = serde_json::from_str(&listed.stdout).unwrap();
    assert_eq!(entries.len(), 1);

    let memory = activity_host(&["entries", "users"]);
    assert!(!memory.success);
    assert!(memory.stderr.contains("--worker"), "{}", memory.stderr);
}
