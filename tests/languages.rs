//! The users activities written in Python (componentize-py) and JavaScript
//! (componentize-js), with no SDK of ours, cached with the same guarantees as
//! the Rust ones: the same results, miss then hit, bypass for `no-cache`, a
//! `task-source` miss after a code change (while `inputs` still hits), and a
//! hit shared by two hosts through a real `redis-server`.
//!
//! The components are large (an interpreter each), so hosts here keep
//! compiled components in `target/test-compile-cache`: the first run of this
//! test compiles them, later runs load them from there.

use crate::support;

use std::sync::Arc;

use activity_host::{CacheStore, Host, MemoryOutputPipe, Outcome, Val};
use activity_host::{RedisConfig, RedisStore};
use support::redis::RedisServer;
use support::{guest, repo_root};

/// The non-Rust builds of the users activities.
const LANGUAGES: [&str; 2] = ["python-users", "js-users"];

/// A host caching in `store` (memory if `None`), guest output captured.
fn host(store: Option<Arc<dyn CacheStore>>) -> (Host, MemoryOutputPipe) {
    let output = MemoryOutputPipe::new(1 << 20);
    let mut builder = Host::builder()
        .compile_cache(Some(repo_root().join("target/test-compile-cache")))
        .capture_guest_stderr(output.clone());
    if let Some(store) = store {
        builder = builder.store(store);
    }
    (builder.build().unwrap(), output)
}

fn runs(output: &MemoryOutputPipe, export: &str) -> usize {
    let needle = format!("users: ran {export}\n");
    String::from_utf8_lossy(&output.contents())
        .matches(&needle)
        .count()
}

async fn call(host: &Host, export: &str, args: &[Val]) -> (Outcome, Vec<Val>) {
    let report = host.call("users", export, args).await.unwrap();
    (report.outcome, report.into_results())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_and_javascript_activities_are_cached_like_rust_ones() {
    let (rust, _) = host(None);
    rust.load_file("users", guest("users.wasm")).await.unwrap();
    let (_, rust_user) = call(&rust, "fetch-user", &[Val::U64(7)]).await;
    let (_, rust_processed) = call(&rust, "process-data", &rust_user).await;

    for language in LANGUAGES {
        let (host, output) = host(None);
        host.load_file("users", guest(&format!("{language}.wasm")))
            .await
            .unwrap();

        let first = call(&host, "fetch-user", &[Val::U64(7)]).await;
        assert_eq!(first, (Outcome::Miss, rust_user.clone()), "{language}");
        let second = call(&host, "fetch-user", &[Val::U64(7)]).await;
        assert_eq!(second, (Outcome::Hit, rust_user.clone()), "{language}");
        assert_eq!(
            runs(&output, "fetch-user"),
            1,
            "{language}: a hit never runs"
        );

        let processed = call(&host, "process-data", &rust_user).await;
        assert_eq!(
            processed,
            (Outcome::Miss, rust_processed.clone()),
            "{language}"
        );
        let processed = call(&host, "process-data", &rust_user).await;
        assert_eq!(processed.0, Outcome::Hit, "{language}");

        for _ in 0..2 {
            let sent = call(&host, "send-email", &[Val::String("a@b.c".into())]).await;
            assert_eq!(sent, (Outcome::Bypass, vec![]), "{language}");
        }
        assert_eq!(
            runs(&output, "send-email to 5 bytes"),
            2,
            "{language}: no-cache"
        );

        let calculated = call(&host, "calculate", &[Val::S64(21)]).await;
        assert_eq!(
            calculated,
            (Outcome::Miss, vec![Val::S64(42)]),
            "{language}"
        );
        if language == "js-users" {
            // ComponentizeJS 0.23 traps on any negative s64 crossing the
            // boundary (bytecodealliance/ComponentizeJS#343): the host reports
            // the trap and caches nothing.
            let before = runs(&output, "calculate");
            for _ in 0..2 {
                let error = host.call("users", "calculate", &[Val::S64(-5)]).await;
                let error = format!("{:#}", error.unwrap_err());
                assert!(error.contains("unreachable"), "{error}");
            }
            assert_eq!(runs(&output, "calculate"), before + 2, "nothing cached");
        } else {
            let wrapped = call(&host, "calculate", &[Val::S64(i64::MAX)]).await;
            assert_eq!(
                wrapped.1,
                [Val::S64(-2)],
                "{language}: s64 arithmetic wraps"
            );
        }

        // The same activity after a code change, under the same name.
        host.load_file("users", guest(&format!("{language}-changed-body.wasm")))
            .await
            .unwrap();
        let changed = call(&host, "calculate", &[Val::S64(21)]).await;
        assert_eq!(
            changed,
            (Outcome::Miss, vec![Val::S64(63)]),
            "{language}: task-source follows the code"
        );
        let user = call(&host, "fetch-user", &[Val::U64(7)]).await;
        assert_eq!(user.0, Outcome::Hit, "{language}: inputs does not");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_and_javascript_results_are_shared_through_redis() {
    let server = RedisServer::start();
    for language in LANGUAGES {
        let store = || -> Arc<dyn CacheStore> {
            let mut config = RedisConfig::new(server.url());
            config.prefix = format!("languages-{language}");
            Arc::new(RedisStore::new(&config).unwrap())
        };
        let (first, first_output) = host(Some(store()));
        let (second, second_output) = host(Some(store()));
        for host in [&first, &second] {
            host.load_file("users", guest(&format!("{language}.wasm")))
                .await
                .unwrap();
        }
        let miss = call(&first, "fetch-user", &[Val::U64(9)]).await;
        let hit = call(&second, "fetch-user", &[Val::U64(9)]).await;
        assert_eq!(miss.0, Outcome::Miss, "{language}");
        assert_eq!(
            hit,
            (Outcome::Hit, miss.1),
            "{language}: the other host's result"
        );
        assert_eq!(runs(&first_output, "fetch-user"), 1, "{language}");
        assert_eq!(runs(&second_output, "fetch-user"), 0, "{language}");
    }
}
