//! Several worker processes (`activity-host serve`) sharing one real
//! `redis-server`: results cached by one are hits in the others, concurrent
//! identical misses spread over the fleet run the body once, and a worker
//! that dies holding the lease is taken over.

use crate::support;

use std::path::Path;
use std::time::{Duration, Instant};

use support::guest;
use support::redis::RedisServer;
use support::worker::Worker;

/// A directory with the `users` and `typed` components.
fn components() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for file in ["users.wasm", "typed.wasm"] {
        std::fs::copy(guest(file), dir.path().join(file)).unwrap();
    }
    dir
}

/// A config file for the Redis at `url` with a lease of `lease`.
fn config(dir: &Path, url: &str, lease: &str) -> String {
    let path = dir.join("fleet.toml");
    let text = format!("[store]\ntype = \"redis\"\nurl = \"{url}\"\nlease = \"{lease}\"\n");
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

fn fleet(size: usize, components: &Path, config: &str) -> Vec<Worker> {
    (0..size)
        .map(|_| Worker::start(components, &["--config", config]))
        .collect()
}

fn runs(workers: &[Worker], export: &str) -> usize {
    let needle = format!("typed: ran {export}");
    workers.iter().map(|w| w.log_lines_with(&needle)).sum()
}

#[test]
fn a_result_cached_by_one_worker_is_a_hit_in_the_others() {
    let server = RedisServer::start();
    let dir = components();
    let workers = fleet(3, dir.path(), &config(dir.path(), &server.url(), "5s"));
    let first = workers[0].call("users", "fetch-user(5)");
    assert_eq!(first.status, 200, "{}", first.body);
    assert_eq!(first.cache.as_deref(), Some("miss"));
    for worker in &workers[1..] {
        let reply = worker.call("users", "fetch-user(5)");
        assert_eq!(reply.cache.as_deref(), Some("hit"));
        assert_eq!(reply.body["result"], first.body["result"]);
        assert_eq!(worker.log_lines_with("users: ran fetch-user"), 0);
    }
}

/// The lease (300 ms) is shorter than the body (1 s): only renewal keeps the
/// other workers waiting instead of running it too.
#[test]
fn fifty_concurrent_identical_misses_over_three_workers_run_the_body_once() {
    let server = RedisServer::start();
    let dir = components();
    let workers = fleet(3, dir.path(), &config(dir.path(), &server.url(), "300ms"));
    let body = Duration::from_millis(1000);
    let started = Instant::now();
    let replies: Vec<_> = std::thread::scope(|scope| {
        let calls: Vec<_> = (0..50)
            .map(|i| {
                let worker = &workers[i % 3];
                scope.spawn(move || worker.call("typed", "slow(7, 1000)"))
            })
            .collect();
        calls.into_iter().map(|c| c.join().unwrap()).collect()
    });
    let wall = started.elapsed();
    for reply in &replies {
        assert_eq!(reply.status, 200, "{}", reply.body);
        assert_eq!(reply.body["result"], 7);
    }
    assert_eq!(runs(&workers, "slow"), 1, "the body ran once in the fleet");
    let misses = replies
        .iter()
        .filter(|r| r.cache.as_deref() == Some("miss"))
        .count();
    assert_eq!(misses, 1, "one miss, every other call a hit");
    let waited: usize = workers
        .iter()
        .map(|w| w.log_lines_with("waited for another worker"))
        .sum();
    assert!(
        waited > 0,
        "calls on the other workers waited for the lease holder"
    );
    // Reported, not asserted: wall time depends on the machine.
    eprintln!(
        "50 concurrent identical misses over 3 workers: wall {wall:?} = {:.2} x one execution",
        wall.as_secs_f64() / body.as_secs_f64()
    );
}

#[test]
fn a_worker_killed_while_holding_the_lease_is_taken_over() {
    let server = RedisServer::start();
    let dir = components();
    let mut workers = fleet(2, dir.path(), &config(dir.path(), &server.url(), "300ms"));
    let (first, second) = workers.split_at_mut(1);
    let (holder, survivor) = (&mut first[0], &second[0]);
    std::thread::scope(|scope| {
        let url = holder.url.clone();
        scope.spawn(move || {
            // Dies with its worker: the reply never comes.
            let _ = ureq::post(&format!("{url}/v1/components/typed/call"))
                .send_json(serde_json::json!({ "wave": "slow(9, 4000)" }));
        });
        let deadline = Instant::now() + Duration::from_secs(10);
        while holder.log_lines_with("typed: ran slow") == 0 {
            assert!(
                Instant::now() < deadline,
                "the holder never started the body"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        let waiter = scope.spawn(|| survivor.call("typed", "slow(9, 4000)"));
        std::thread::sleep(Duration::from_millis(300));
        assert_eq!(
            survivor.log_lines_with("typed: ran slow"),
            0,
            "the survivor waits while the holder's lease is renewed"
        );
        holder.kill();
        let reply = waiter.join().unwrap();
        assert_eq!(reply.status, 200, "{}", reply.body);
        assert_eq!(reply.body["result"], 9);
        assert_eq!(reply.cache.as_deref(), Some("miss"));
    });
    assert_eq!(
        survivor.log_lines_with("typed: ran slow"),
        1,
        "the survivor took the lease over and ran the body"
    );
    let again = survivor.call("typed", "slow(9, 4000)");
    assert_eq!(again.cache.as_deref(), Some("hit"));
}
