//! The hot path of a cached call, measured against its limits:
//!
//! - `hit`: `Host::call` served from the in-memory store;
//! - `floor`: what any cache must do for the same call: encode the arguments
//!   canonically, sha256 them into a key, probe a hash map;
//! - `fresh`: the same export uncached (`no-cache`), run in a fresh instance.
//!
//! Targets: hit ≤ 3 × floor and hit ≤ 0.1 × fresh.
//!
//! And for byte payloads (`bytes/…`): a hit of `reverse-bytes` with 1 and
//! 10 MB against its floor, sha256 of the bytes plus one copy (#22: ≤ 3 ×).

#[allow(dead_code)] // a benchmark uses a few of the test helpers
#[path = "../../../tests/support/mod.rs"]
mod support;

use std::collections::HashMap;
use std::hint::black_box;
use std::sync::Arc;

use activity_host::CacheKey;
use activity_host::internals::encode_key_args;
use activity_host::internals::{KeyScope, cache_key};
use activity_host::{CachePolicy, Host, MemoryOutputPipe, RuleOverride, RulesConfig, Val};
use criterion::{Criterion, criterion_group, criterion_main};
use sha2::Digest as _;

fn host(runtime: &tokio::runtime::Runtime, policy: CachePolicy) -> Host {
    let mut rules = RulesConfig::default();
    for export in ["noop", "echo-record", "reverse-bytes"] {
        let change = RuleOverride {
            policy: Some(policy),
            ..RuleOverride::default()
        };
        rules.set("typed", export, change);
    }
    // Results up to 64 MiB are kept, so the 10 MB byte list hits.
    let limits = activity_host::Limits {
        max_result_bytes: 64 << 20,
        ..Default::default()
    };
    let host = Host::builder()
        .rules(rules)
        .limits("typed", limits)
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

fn hot_path(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let cached = host(&runtime, CachePolicy::Inputs);
    let uncached = host(&runtime, CachePolicy::NoCache);
    let typed = cached.component("typed").unwrap();

    for (export, args) in [("noop", Vec::new()), ("echo-record", point())] {
        let mut group = c.benchmark_group(export);
        runtime
            .block_on(cached.call("typed", export, &args))
            .unwrap();
        group.bench_function("hit", |b| {
            b.to_async(&runtime).iter(|| async {
                black_box(
                    cached
                        .call("typed", export, black_box(&args))
                        .await
                        .unwrap(),
                )
            })
        });

        let described = typed.export(export).unwrap();
        // Every parameter is part of the key (no rule ignores one here).
        let key_params = vec![true; described.param_types.len()];
        let mut table: HashMap<CacheKey, Arc<[u8]>> = HashMap::new();
        let floor_key = |args: &[Val]| {
            let mut encoded = Vec::with_capacity(64);
            encode_key_args(args, &described.param_types, &key_params, &mut encoded).unwrap();
            let scope = KeyScope {
                component: "typed",
                export: &described.path,
                signature_hash: &described.signature_hash,
                code_hash: None,
            };
            cache_key(&scope, &encoded)
        };
        table.insert(floor_key(&args), Arc::from(&b"entry"[..]));
        group.bench_function("floor", |b| {
            b.iter(|| black_box(table.get(&floor_key(black_box(&args))).cloned()))
        });

        group.bench_function("fresh", |b| {
            b.to_async(&runtime).iter(|| async {
                black_box(
                    uncached
                        .call("typed", export, black_box(&args))
                        .await
                        .unwrap(),
                )
            })
        });
        group.finish();
    }

    let mut group = c.benchmark_group("bytes");
    group.sample_size(10);
    for mb in [1, 10] {
        let data: Vec<u8> = (0..mb * 1_000_000u32).map(|i| (i % 251) as u8).collect();
        let args = vec![Val::List(data.iter().map(|&b| Val::U8(b)).collect())];
        runtime
            .block_on(cached.call("typed", "reverse-bytes", &args))
            .expect("the 10 MB call");
        group.bench_function(format!("{mb}MB/hit"), |b| {
            b.to_async(&runtime).iter(|| async {
                black_box(
                    cached
                        .call("typed", "reverse-bytes", black_box(&args))
                        .await
                        .unwrap(),
                )
            })
        });
        group.bench_function(format!("{mb}MB/floor"), |b| {
            b.iter(|| {
                let digest = sha2::Sha256::digest(black_box(&data));
                black_box((digest, data.clone()))
            })
        });
    }
    group.finish();
}

criterion_group!(benches, hot_path);
criterion_main!(benches);
