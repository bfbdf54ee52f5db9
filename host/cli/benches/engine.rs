//! What surrounds a cached call, each next to what it is compared with:
//!
//! - `key/*`: deriving the canonical key of small and ~10 KB arguments;
//! - `call/*`: an uncached call in a fresh instance vs a warm one (actor mode);
//! - `miss/*`: a cached miss vs the same call uncached, on an activity that
//!   sleeps 1 ms (target: ≤ 1.05 ×);
//! - `instantiate/*`: a fresh-instance call with and without the pooling
//!   allocator;
//! - `load/*`: loading a component by compiling it vs from the on-disk
//!   compile cache (target: ≤ 0.1 ×).

#[allow(dead_code)] // a benchmark uses a few of the test helpers
#[path = "../../../tests/support/mod.rs"]
mod support;

use std::hint::black_box;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use activity_host::internals::encode_key_args;
use activity_host::internals::{KeyScope, cache_key};
use activity_host::{
    CachePolicy, Host, HostBuilder, InstanceMode, MemoryOutputPipe, RuleOverride, RulesConfig, Val,
    WarmConfig,
};
use criterion::{Criterion, criterion_group, criterion_main};

type Runtime = tokio::runtime::Runtime;

fn builder(policy: CachePolicy) -> HostBuilder {
    let mut rules = RulesConfig::default();
    for export in ["noop", "slow", "echo#echo-string", "echo-lists"] {
        let change = RuleOverride {
            policy: Some(policy),
            ..RuleOverride::default()
        };
        rules.set("typed", export, change);
    }
    Host::builder()
        .rules(rules)
        .capture_guest_stderr(MemoryOutputPipe::new(usize::MAX >> 1))
}

fn load(runtime: &Runtime, builder: HostBuilder) -> Host {
    let host = builder.build().unwrap();
    runtime
        .block_on(host.load_file("typed", support::guest("typed.wasm")))
        .unwrap();
    host
}

fn key_derivation(c: &mut Criterion) {
    let runtime = Runtime::new().unwrap();
    let host = load(&runtime, builder(CachePolicy::Inputs));
    let typed = host.component("typed").unwrap();
    let mut group = c.benchmark_group("key");
    let cases = [
        (
            "small-string",
            "echo#echo-string",
            vec![Val::String("user-42".into())],
        ),
        (
            "10k-string",
            "echo#echo-string",
            vec![Val::String("x".repeat(10_000))],
        ),
        (
            "10k-lists",
            "echo-lists",
            vec![Val::List(
                (0..100)
                    .map(|i| Val::List((0..100).map(|j| Val::U8((i * j) as u8)).collect()))
                    .collect(),
            )],
        ),
    ];
    for (name, export, args) in cases {
        let export = typed.export(export).unwrap();
        // Every parameter is part of the key (no rule ignores one here).
        let key_params = vec![true; export.param_types.len()];
        group.bench_function(name, |b| {
            b.iter(|| {
                let mut encoded = Vec::with_capacity(64);
                encode_key_args(
                    black_box(&args),
                    &export.param_types,
                    &key_params,
                    &mut encoded,
                )
                .unwrap();
                let scope = KeyScope {
                    component: "typed",
                    export: &export.path,
                    signature_hash: &export.signature_hash,
                    code_hash: None,
                };
                black_box(cache_key(&scope, &encoded))
            })
        });
    }
    group.finish();
}

fn call(runtime: &Runtime, host: &Host, export: &str, args: &[Val]) {
    black_box(runtime.block_on(host.call("typed", export, args)).unwrap());
}

fn instances(c: &mut Criterion) {
    let runtime = Runtime::new().unwrap();
    let fresh = load(&runtime, builder(CachePolicy::NoCache));
    let warm_mode = InstanceMode::Warm(WarmConfig::default());
    let warm = load(
        &runtime,
        builder(CachePolicy::NoCache).instance_mode("typed", warm_mode),
    );
    let on_demand = load(
        &runtime,
        builder(CachePolicy::NoCache).pooling_allocator(false),
    );
    let mut group = c.benchmark_group("call");
    group.bench_function("fresh-instance", |b| {
        b.iter(|| call(&runtime, &fresh, "noop", &[]))
    });
    group.bench_function("warm-instance", |b| {
        b.iter(|| call(&runtime, &warm, "noop", &[]))
    });
    group.finish();
    let mut group = c.benchmark_group("instantiate");
    group.bench_function("pooling", |b| {
        b.iter(|| call(&runtime, &fresh, "noop", &[]))
    });
    group.bench_function("on-demand", |b| {
        b.iter(|| call(&runtime, &on_demand, "noop", &[]))
    });
    group.finish();
}

fn miss_overhead(c: &mut Criterion) {
    let runtime = Runtime::new().unwrap();
    let warm_mode = InstanceMode::Warm(WarmConfig::default());
    let cached = load(
        &runtime,
        builder(CachePolicy::Inputs).instance_mode("typed", warm_mode),
    );
    let uncached = load(
        &runtime,
        builder(CachePolicy::NoCache).instance_mode("typed", warm_mode),
    );
    let ids = AtomicU32::new(0);
    let mut group = c.benchmark_group("miss");
    group.measurement_time(Duration::from_secs(8));
    group.bench_function("uncached-1ms", |b| {
        b.iter(|| call(&runtime, &uncached, "slow", &[Val::U32(0), Val::U32(1)]))
    });
    group.bench_function("cached-miss-1ms", |b| {
        b.iter(|| {
            let id = ids.fetch_add(1, Ordering::Relaxed);
            call(&runtime, &cached, "slow", &[Val::U32(id), Val::U32(1)])
        })
    });
    group.finish();
}

fn loading(c: &mut Criterion) {
    let runtime = Runtime::new().unwrap();
    let cache = tempfile::tempdir().unwrap();
    let directory: PathBuf = cache.path().to_owned();
    let compiled = builder(CachePolicy::Inputs).build().unwrap();
    let cached = builder(CachePolicy::Inputs)
        .compile_cache(Some(directory))
        .build()
        .unwrap();
    let wasm = std::fs::read(support::guest("typed.wasm")).unwrap();
    runtime.block_on(cached.load_bytes("typed", &wasm)).unwrap(); // fills the cache
    let mut group = c.benchmark_group("load");
    group.sample_size(10);
    group.bench_function("compile", |b| {
        b.iter(|| {
            black_box(
                runtime
                    .block_on(compiled.load_bytes("typed", &wasm))
                    .unwrap(),
            )
        })
    });
    group.bench_function("from-cache", |b| {
        b.iter(|| black_box(runtime.block_on(cached.load_bytes("typed", &wasm)).unwrap()))
    });
    group.finish();
}

criterion_group!(benches, key_derivation, instances, miss_overhead, loading);
criterion_main!(benches);
