//! The Redis store against a real three-node Redis Cluster: entries spread
//! over the nodes, hits, invalidation and single-flight across hosts.

use crate::support;

use std::sync::Arc;

use activity_host::{Host, MemoryOutputPipe, Outcome, Val};
use activity_host::{RedisConfig, RedisStore};
use support::guest;
use support::redis::RedisCluster;
use support::shared::{fetch, invalidation_is_shared};

async fn host_on(cluster: &RedisCluster, stderr: &MemoryOutputPipe) -> Host {
    let store = RedisStore::new(&RedisConfig::cluster(cluster.urls())).unwrap();
    let host = Host::builder()
        .store(Arc::new(store))
        .capture_guest_stderr(stderr.clone())
        .build()
        .unwrap();
    host.load_file("users", guest("users.wasm")).await.unwrap();
    host.load_file("typed", guest("typed.wasm")).await.unwrap();
    host
}

fn runs(stderr: &MemoryOutputPipe, export: &str) -> usize {
    let needle = format!("ran {export}");
    String::from_utf8_lossy(&stderr.contents())
        .lines()
        .filter(|line| line.contains(&needle))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_shares_entries_invalidations_and_leases_between_hosts() {
    let cluster = RedisCluster::start(3);
    let (first_err, second_err) = (
        MemoryOutputPipe::new(1 << 20),
        MemoryOutputPipe::new(1 << 20),
    );
    let first = host_on(&cluster, &first_err).await;
    let second = host_on(&cluster, &second_err).await;

    for id in 0..30 {
        assert_eq!(fetch(&first, id).await, Outcome::Miss);
        assert_eq!(
            fetch(&second, id).await,
            Outcome::Hit,
            "shared through the cluster"
        );
    }
    for node in &cluster.nodes {
        assert!(node.dbsize() > 0, "entries are spread over every node");
    }

    invalidation_is_shared(&first, &second, 3).await;

    let (a, b) = tokio::join!(
        first.call_wave("typed", "slow(5, 500)"),
        second.call_wave("typed", "slow(5, 500)"),
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.results(), [Val::U32(5)]);
    assert_eq!(b.results(), a.results());
    let mut outcomes = [a.outcome, b.outcome];
    outcomes.sort_by_key(|o| o.as_str());
    assert_eq!(outcomes, [Outcome::Hit, Outcome::Miss]);
    assert_eq!(
        runs(&first_err, "slow") + runs(&second_err, "slow"),
        1,
        "one host ran the body, the other waited for its lease"
    );
}
