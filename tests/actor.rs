//! The actor cache (`activity:cache/actor-cache`) on the real `typed`
//! fixture: helper results shared by every instance on a replica, waiting
//! for a concurrent computation instead of repeating it, recovery when the
//! computing instance traps, isolation between components, and helpers in
//! the log and stats.

use crate::support;

use std::sync::Arc;

use activity_host::{Host, MemoryOutputPipe, Val};
use support::guest;

/// A host with the typed fixture loaded under each of `names`, its guest
/// output captured (fresh instance per call: what is shared is the host's
/// actor cache, not guest memory).
async fn host_with(names: &[&str]) -> (Arc<Host>, MemoryOutputPipe) {
    let output = MemoryOutputPipe::new(1 << 20);
    let host = Host::builder()
        .capture_guest_stderr(output.clone())
        .build()
        .unwrap();
    for name in names {
        host.load_file(name, guest("typed.wasm")).await.unwrap();
    }
    (Arc::new(host), output)
}

fn runs(output: &MemoryOutputPipe, helper: &str) -> usize {
    let needle = format!("typed: ran {helper}\n");
    String::from_utf8_lossy(&output.contents())
        .matches(&needle)
        .count()
}

fn helper_stats(host: &Host, component: &str, helper: &str) -> activity_host::ExportStats {
    host.stats()
        .into_iter()
        .find(|(c, export, _)| c == component && export == &format!("actor-cache/{helper}"))
        .map(|(_, _, stats)| stats)
        .unwrap_or_else(|| panic!("no stats for helper {helper} of {component}"))
}

async fn call(host: &Host, component: &str, wave: &str) -> Vec<Val> {
    host.call_wave(component, wave)
        .await
        .unwrap()
        .into_results()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_helper_computes_once_per_replica_across_fresh_instances() {
    let (host, output) = host_with(&["typed"]).await;
    for _ in 0..3 {
        assert_eq!(call(&host, "typed", "square(12, 0)").await, [Val::U32(144)]);
    }
    assert_eq!(call(&host, "typed", "square(3, 0)").await, [Val::U32(9)]);
    assert_eq!(runs(&output, "square"), 2, "once per key");
    let stats = helper_stats(&host, "typed", "square");
    assert_eq!((stats.misses, stats.hits), (2, 2));
    assert!(stats.stored_bytes > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_first_use_of_a_helper_key_computes_once() {
    let (host, output) = host_with(&["typed"]).await;
    let calls: Vec<_> = (0..8)
        .map(|_| {
            let host = host.clone();
            tokio::spawn(async move { call(&host, "typed", "square(7, 400)").await })
        })
        .collect();
    for task in calls {
        assert_eq!(task.await.unwrap(), [Val::U32(49)]);
    }
    assert_eq!(runs(&output, "square"), 1, "the other instances waited");
    let stats = helper_stats(&host, "typed", "square");
    assert_eq!((stats.misses, stats.hits), (1, 7));
    assert!(stats.waits >= 1, "at least one instance waited: {stats:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waiters_recover_when_the_computing_instance_traps() {
    let (host, output) = host_with(&["typed"]).await;
    let trapping = {
        let host = host.clone();
        tokio::spawn(async move { host.call_wave("typed", "square-then-trap(5, 300)").await })
    };
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let waiter = {
        let host = host.clone();
        tokio::spawn(async move { call(&host, "typed", "square(5, 0)").await })
    };
    let error = trapping.await.unwrap().unwrap_err();
    assert!(format!("{error:#}").contains("trap"), "{error:#}");
    assert_eq!(
        waiter.await.unwrap(),
        [Val::U32(25)],
        "the waiter computed it"
    );
    assert_eq!(runs(&output, "square (about to trap)"), 1);
    assert_eq!(runs(&output, "square"), 1, "computed by the waiter");
    let stats = helper_stats(&host, "typed", "square");
    assert_eq!((stats.errors, stats.misses, stats.waits), (1, 1, 1));
    assert_eq!(call(&host, "typed", "square(5, 0)").await, [Val::U32(25)]);
    assert_eq!(runs(&output, "square"), 1, "and stored it");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn components_never_see_each_others_helper_results() {
    let (host, output) = host_with(&["alpha", "beta"]).await;
    for component in ["alpha", "beta", "alpha", "beta"] {
        assert_eq!(
            call(&host, component, r#"shared("k")"#).await,
            [Val::String("computed k".into())]
        );
    }
    assert_eq!(runs(&output, "shared"), 2, "once per component");
    assert_eq!(helper_stats(&host, "alpha", "shared").hits, 1);
    assert_eq!(helper_stats(&host, "beta", "shared").hits, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_helper_asking_for_its_own_result_traps_clearly() {
    let (host, _output) = host_with(&["typed"]).await;
    let error = host.call_wave("typed", "recurse()").await.unwrap_err();
    assert!(
        format!("{error:#}").contains("asked for its own result while computing it"),
        "{error:#}"
    );
    // The abandoned computation released its key: the next call computes
    // again (and traps again) instead of waiting forever.
    let again = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        host.call_wave("typed", "recurse()"),
    )
    .await
    .expect("no deadlock");
    assert!(again.is_err());
}
