//! The hot path of a cached call, measured against its limits:
//!
//! - `hit`: `Host::call` served from the in-memory store (the report holds
//!   the entry, checked); `hit+values`: the same, its results then decoded
//!   into values;
//! - `floor`: what any cache must do for the same call: encode the arguments
//!   canonically, sha256 them into a key, probe a hash map;
//! - `fresh`: the same export uncached (`no-cache`), run in a fresh instance.
//!
//! Targets: hit ≤ 3 × floor and hit ≤ 0.1 × fresh.
//!
//! And for byte payloads (`bytes/KIND/SIZE/…`: `reverse-bytes`, a
//! `list<u8>`, and `echo#echo-string`, a `string`, with 1, 10 and 100 MB):
//! - `hit` against `floor`, sha256 of the bytes plus one copy (#22: ≤ 3 ×);
//! - `miss` (a refresh: it runs, keys and stores) against `uncached`, the
//!   same call under `no-cache` (#22: ≤ 1.2 ×).

#[allow(dead_code)] // a benchmark uses a few of the test helpers
#[path = "../../../tests/support/mod.rs"]
mod support;

use std::collections::HashMap;
use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use activity_host::CacheKey;
use activity_host::internals::encode_key_args;
use activity_host::internals::{KeyScope, cache_key};
use activity_host::{
    CachePolicy, CallOptions, Host, MemoryOutputPipe, MemoryStore, RuleOverride, RulesConfig, Val,
};
use criterion::{Criterion, criterion_group, criterion_main};
use sha2::Digest as _;

fn host(runtime: &tokio::runtime::Runtime, policy: CachePolicy) -> Host {
    let mut rules = RulesConfig::default();
    for export in ["noop", "echo-record", "reverse-bytes", "echo#echo-string"] {
        let change = RuleOverride {
            policy: Some(policy),
            ..RuleOverride::default()
        };
        rules.set("typed", export, change);
    }
    // Payloads of 100 MB are taken, run and kept.
    let limits = activity_host::Limits {
        max_argument_bytes: 256 << 20,
        max_result_bytes: 256 << 20,
        max_memory_bytes: 1 << 30,
        ..Default::default()
    };
    let host = Host::builder()
        .store(Arc::new(MemoryStore::new(1 << 30)))
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

        // A hit hands out its entry; the values are decoded when asked for.
        group.bench_function("hit+values", |b| {
            b.to_async(&runtime).iter(|| async {
                let report = cached.call("typed", export, black_box(&args)).await;
                black_box(report.unwrap().into_results())
            })
        });

        let described = typed.export(export).unwrap();
        // Every parameter is part of the key (no rule ignores one here).
        let key_params = vec![true; described.param_types.len()];
        let mut table: HashMap<CacheKey, Bytes> = HashMap::new();
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
        table.insert(floor_key(&args), Bytes::from_static(b"entry"));
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

    payloads(c, &runtime, &cached, &uncached);
}

/// A call of a byte export with a payload: `reverse-bytes` with a byte
/// list, or `echo#echo-string` with a string.
enum Payload {
    List(Vec<u8>),
    String([Val; 1]),
}

impl Payload {
    fn new(kind: &str, bytes: usize) -> Self {
        let data: Vec<u8> = (0..bytes).map(|i| b'a' + (i % 26) as u8).collect();
        match kind {
            "list" => Self::List(data),
            _ => Self::String([Val::String(String::from_utf8(data).unwrap())]),
        }
    }

    fn bytes(&self) -> &[u8] {
        match self {
            Self::List(data) => data,
            Self::String([Val::String(text)]) => text.as_bytes(),
            Self::String(_) => unreachable!(),
        }
    }

    /// Calls it on `host`; returns the result's bytes.
    async fn call(&self, host: &Host, options: CallOptions) -> Bytes {
        let report = match self {
            Self::List(data) => {
                host.call_bytes("typed", "reverse-bytes", data, options)
                    .await
            }
            Self::String(args) => {
                host.call_with("typed", "echo#echo-string", args, options)
                    .await
            }
        };
        report.unwrap().result_bytes().unwrap()
    }
}

fn payloads(c: &mut Criterion, runtime: &tokio::runtime::Runtime, cached: &Host, uncached: &Host) {
    let mut group = c.benchmark_group("bytes");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    let plain = CallOptions::default();
    let refresh = plain.with_refresh(true);
    for kind in ["list", "string"] {
        for mb in [1, 10, 100] {
            let payload = Payload::new(kind, mb * 1_000_000);
            let name = |what: &str| format!("{kind}/{mb}MB/{what}");
            runtime.block_on(payload.call(cached, plain));
            group.bench_function(name("hit"), |b| {
                b.to_async(runtime)
                    .iter(|| async { black_box(payload.call(cached, plain).await) })
            });
            group.bench_function(name("floor"), |b| {
                b.iter(|| {
                    let bytes = black_box(payload.bytes());
                    black_box((sha2::Sha256::digest(bytes), bytes.to_vec()))
                })
            });
            group.bench_function(name("miss"), |b| {
                b.to_async(runtime)
                    .iter(|| async { black_box(payload.call(cached, refresh).await) })
            });
            group.bench_function(name("uncached"), |b| {
                b.to_async(runtime)
                    .iter(|| async { black_box(payload.call(uncached, plain).await) })
            });
        }
    }
    group.finish();
}

criterion_group!(benches, hot_path);
criterion_main!(benches);
