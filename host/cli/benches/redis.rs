//! The Redis paths, each next to its limit, measured in one run against a
//! `redis-server` this bench starts on a free port:
//!
//! - `redis/bare-get`: a redis-rs `GET` of the same bytes as a cached entry
//!   (the limit: one loopback round trip);
//! - `redis/hit`: `Host::call` served from Redis;
//! - `redis/tiered-hit`: the same through the tiered store (served from memory);
//! - `breaker/bypass` and `breaker/degraded`: a `no-cache` call, and a cached
//!   call while Redis is down and the breaker is open (both on a warm instance):
//!   the difference is what a dead Redis costs a call.
//!
//! Targets: hit ≤ 1.2 × bare GET; breaker-open overhead ≤ 50 µs per call.
//! After criterion's report, a table of ratios measured in this run.

#[allow(dead_code)] // a benchmark uses a few of the test helpers
#[path = "../../../tests/support/mod.rs"]
mod support;

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use activity_host::{
    CachePolicy, CacheStore, Host, InstanceMode, MemoryOutputPipe, RuleOverride, RulesConfig, Val,
    WarmConfig,
};
use activity_host::{MemoryStore, RedisConfig, RedisStore, TieredStore};
use criterion::Criterion;
use redis::AsyncCommands;
use support::redis::RedisServer;

fn host(
    runtime: &tokio::runtime::Runtime,
    store: Arc<dyn CacheStore>,
    policy: CachePolicy,
) -> Host {
    let mut rules = RulesConfig::default();
    let change = RuleOverride {
        policy: Some(policy),
        ..RuleOverride::default()
    };
    rules.set("typed", "echo-record", change);
    let host = Host::builder()
        .store(store)
        .rules(rules)
        .instance_mode("typed", InstanceMode::Warm(WarmConfig::default()))
        .capture_guest_stderr(MemoryOutputPipe::new(usize::MAX >> 1))
        .build()
        .unwrap();
    runtime
        .block_on(host.load_file("typed", support::guest("typed.wasm")))
        .unwrap();
    host
}

fn point() -> Vec<Val> {
    vec![Val::Record(vec![
        ("x".into(), Val::S32(12)),
        ("y".into(), Val::S32(-7)),
        ("label".into(), Val::String("a point with a label".into())),
    ])]
}

fn call(runtime: &tokio::runtime::Runtime, host: &Host, args: &[Val]) {
    black_box(
        runtime
            .block_on(host.call("typed", "echo-record", args))
            .unwrap(),
    );
}

/// Time per call of each of `paths`, measured interleaved (round by round,
/// so drift on a busy machine hits every path alike): the median of 15
/// rounds of 500 calls each.
fn per_call(paths: &mut [&mut dyn FnMut()]) -> Vec<Duration> {
    let mut rounds: Vec<Vec<Duration>> = vec![Vec::new(); paths.len()];
    for _ in 0..15 {
        for (path, times) in paths.iter_mut().zip(&mut rounds) {
            let started = Instant::now();
            for _ in 0..500 {
                path();
            }
            times.push(started.elapsed() / 500);
        }
    }
    rounds
        .into_iter()
        .map(|mut times| {
            times.sort();
            times[times.len() / 2]
        })
        .collect()
}

fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let _inside = runtime.enter(); // the stores spawn their connection tasks
    let mut server = RedisServer::start();
    let redis = RedisStore::new(&RedisConfig::new(server.url())).unwrap();
    let on_redis = host(&runtime, Arc::new(redis.clone()), CachePolicy::Inputs);
    let tiered_l2 = RedisStore::new(&RedisConfig::new(server.url())).unwrap();
    let tiered = TieredStore::new(MemoryStore::default(), tiered_l2, Duration::from_secs(3600));
    let on_tiered = host(&runtime, Arc::new(tiered), CachePolicy::Inputs);
    let args = point();

    // Warm both; the tiered store copies into memory once subscribed.
    let report = runtime
        .block_on(on_redis.call("typed", "echo-record", &args))
        .unwrap();
    runtime.block_on(tokio::time::sleep(Duration::from_millis(300)));
    for _ in 0..3 {
        call(&runtime, &on_tiered, &args);
    }
    let entry_key = format!("activity-host:e:{{{}}}", report.key.unwrap());
    let bare_key = "bench:bare";
    let client = redis::Client::open(server.url()).unwrap();
    let connection = runtime
        .block_on(redis::aio::ConnectionManager::new(client))
        .unwrap();
    runtime.block_on(async {
        let mut connection = connection.clone();
        let bytes: Vec<u8> = connection.get(&entry_key).await.unwrap();
        let _: () = connection.set(bare_key, bytes).await.unwrap();
    });
    let mut get_connection = connection.clone();
    let mut bare_get = || {
        let bytes: Vec<u8> = runtime.block_on(get_connection.get(bare_key)).unwrap();
        black_box(bytes);
    };
    // What the store's lookup sends: the entry and its two generations.
    let export = on_redis.component("typed").unwrap();
    let export_path = &export.export("echo-record").unwrap().path;
    let lookup_keys = [
        "activity-host:g:{typed}".to_owned(),
        format!("activity-host:g:{{typed}}#{export_path}"),
        entry_key.clone(),
    ];
    let mut mget_connection = connection.clone();
    let mut bare_mget = || {
        let values: Vec<Option<Vec<u8>>> = runtime
            .block_on(mget_connection.mget(&lookup_keys))
            .unwrap();
        black_box(values);
    };

    let key = report.key.unwrap();
    let slot = activity_host::Slot::result(&key, "typed", export_path);
    let mut store_get = || {
        black_box(runtime.block_on(redis.get(slot)).unwrap().entry().unwrap());
    };

    let mut group = criterion.benchmark_group("redis");
    group.bench_function("bare-get", |b| b.iter(&mut bare_get));
    group.bench_function("bare-mget", |b| b.iter(&mut bare_mget));
    group.bench_function("hit", |b| b.iter(|| call(&runtime, &on_redis, &args)));
    group.bench_function("tiered-hit", |b| {
        b.iter(|| call(&runtime, &on_tiered, &args))
    });
    group.finish();
    let redis_ratio = per_call(&mut [
        &mut bare_get,
        &mut bare_mget,
        &mut store_get,
        &mut || call(&runtime, &on_redis, &args),
        &mut || call(&runtime, &on_tiered, &args),
    ]);

    // Redis down: the breaker opens on the first failure.
    let bypass = host(
        &runtime,
        Arc::new(MemoryStore::default()),
        CachePolicy::NoCache,
    );
    server.kill();
    call(
        &runtime,
        &on_redis,
        &[Val::Record(vec![
            ("x".into(), Val::S32(1)),
            ("y".into(), Val::S32(1)),
            ("label".into(), Val::String("opens the breaker".into())),
        ])],
    );
    let mut group = criterion.benchmark_group("breaker");
    group.bench_function("bypass", |b| b.iter(|| call(&runtime, &bypass, &args)));
    group.bench_function("degraded", |b| b.iter(|| call(&runtime, &on_redis, &args)));
    group.finish();
    let breaker = per_call(&mut [&mut || call(&runtime, &bypass, &args), &mut || {
        call(&runtime, &on_redis, &args)
    }]);
    criterion.final_summary();

    let [get, mget, store_get, hit, tiered_hit] = redis_ratio[..] else {
        unreachable!()
    };
    let [bypassed, degraded] = breaker[..] else {
        unreachable!()
    };
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    let ratio = |d: Duration| us(d) / us(get);
    println!(
        "\nRedis paths, measured in this run (interleaved; median of 15 rounds of 500 calls):"
    );
    println!("  bare redis-rs GET          {:>7.1} us", us(get));
    println!(
        "  bare MGET of a lookup      {:>7.1} us   {:.2} x bare GET",
        us(mget),
        ratio(mget)
    );
    println!(
        "  RedisStore::get            {:>7.1} us   {:.2} x bare GET",
        us(store_get),
        ratio(store_get)
    );
    println!(
        "  Redis hit                  {:>7.1} us   {:.2} x bare GET (target <= 1.2)",
        us(hit),
        ratio(hit)
    );
    println!(
        "  tiered hit (memory)        {:>7.1} us   {:.3} x bare GET",
        us(tiered_hit),
        ratio(tiered_hit)
    );
    println!("  no-cache call              {:>7.1} us", us(bypassed));
    println!(
        "  cached call, Redis down    {:>7.1} us   overhead {:.1} us (target <= 50)",
        us(degraded),
        us(degraded) - us(bypassed)
    );
}
