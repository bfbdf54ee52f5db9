//! `activity-host temporal` as production runs it: through a TLS-terminating
//! gRPC proxy (Debian's nginx: TLS with a private CA, mutual TLS, an API
//! key), probed and scraped on its ops listener, and stopped within its
//! shutdown grace. Seed 004's story runs through each connection.

use crate::support;

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::nginx::{Demands, GrpcProxy};
use support::pki::Pki;
use support::redis::free_port;
use support::temporal::{TemporalServer, TemporalWorker, run_workflows};
use support::{activity_host, guest};

fn path(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// Runs the story twice on `task_queue`: both executions succeed, the
/// second one from the cache.
fn story_runs_and_hits(server: &TemporalServer, worker: &TemporalWorker, task_queue: &str) {
    let story = json!({"workflow": "UserWorkflow", "arg": 123});
    let runs = run_workflows(server, task_queue, &json!({"runs": [story, story]}));
    let expected = json!({"result": {"processed": true, "user": "User 123"}});
    assert_eq!(runs, [expected.clone(), expected]);
    let outcomes: Vec<Value> = worker
        .process
        .calls()
        .iter()
        .map(|call| call["outcome"].clone())
        .collect();
    assert_eq!(outcomes, ["miss", "miss", "hit", "hit"]);
}

/// `activity-host temporal ARGS…` that must fail at start: its stderr.
fn refused(address: &str, args: &[&str]) -> String {
    let users = guest("users.wasm");
    let mut all = vec!["temporal", "--address", address, "--task-queue", "refused"];
    all.extend_from_slice(args);
    all.push(path(&users));
    let run = activity_host(&all);
    assert!(!run.success, "started with {args:?}:\n{}", run.stderr);
    assert!(
        run.stderr.contains(&format!("https://{address}")),
        "the error names the address: {}",
        run.stderr
    );
    run.stderr
}

#[test]
fn the_story_runs_through_tls_mutual_tls_and_an_api_key() {
    let server = TemporalServer::start();
    let pki = Pki::new("temporal-test-ca");
    let cert = pki.issue("frontend", &["127.0.0.1", "localhost"]);
    let ca = pki.ca();
    let users = guest("users.wasm");

    // TLS with a private CA: refused without it, the story with it.
    let tls = GrpcProxy::start(&server.address, &pki, &cert, &Demands::default());
    let unknown_ca = refused(&tls.address, &["--tls"]);
    assert!(unknown_ca.contains("UnknownIssuer"), "{unknown_ca}");
    let wrong_name = refused(
        &tls.address,
        &["--tls-ca-cert", path(&ca), "--tls-server-name", "elsewhere"],
    );
    assert!(wrong_name.contains("not valid for name"), "{wrong_name}");
    let expired_cert = pki.issue_expired("expired", &["127.0.0.1"]);
    let expired = GrpcProxy::start(&server.address, &pki, &expired_cert, &Demands::default());
    let expired = refused(&expired.address, &["--tls-ca-cert", path(&ca)]);
    assert!(expired.contains("certificate expired"), "{expired}");
    let worker = TemporalWorker::start_at(
        &tls.address,
        "tls",
        &[path(&users), "--tls-ca-cert", path(&ca)],
        &[],
    );
    story_runs_and_hits(&server, &worker, "tls");
    drop(worker);

    // Mutual TLS: refused without the client certificate, the story with
    // it (given as Temporal's own variables).
    let mtls = Demands {
        client_certificate: true,
        ..Demands::default()
    };
    let mtls = GrpcProxy::start(&server.address, &pki, &cert, &mtls);
    let no_certificate = refused(&mtls.address, &["--tls-ca-cert", path(&ca)]);
    assert!(no_certificate.contains("400"), "{no_certificate}");
    let client = pki.issue("worker", &["worker"]);
    let worker = TemporalWorker::start_at(
        &mtls.address,
        "mtls",
        &[path(&users)],
        &[
            ("TEMPORAL_TLS_SERVER_CA_CERT_PATH", path(&ca)),
            ("TEMPORAL_TLS_CLIENT_CERT_PATH", path(&client.cert)),
            ("TEMPORAL_TLS_CLIENT_KEY_PATH", path(&client.key)),
        ],
    );
    story_runs_and_hits(&server, &worker, "mtls");
    let key = std::fs::read_to_string(&client.key).unwrap();
    assert!(!worker.process.log().contains(key.lines().nth(1).unwrap()));
    drop(worker);

    // An API key the proxy checks: a wrong one is refused (and never
    // printed), the right one (from TEMPORAL_API_KEY) runs the story.
    let key = "api-key-7c21e0";
    let keyed = Demands {
        api_key: Some(key),
        ..Demands::default()
    };
    let keyed = GrpcProxy::start(&server.address, &pki, &cert, &keyed);
    let wrong = refused(
        &keyed.address,
        &["--api-key", "wrong-key-51d3", "--tls-ca-cert", path(&ca)],
    );
    assert!(wrong.contains("401"), "{wrong}");
    assert!(!wrong.contains("wrong-key-51d3"), "{wrong}");
    let worker = TemporalWorker::start_at(
        &keyed.address,
        "keyed",
        &[path(&users), "--tls-ca-cert", path(&ca)],
        &[("TEMPORAL_API_KEY", key)],
    );
    story_runs_and_hits(&server, &worker, "keyed");
    assert!(!worker.process.log().contains(key));
}

/// `GET url`: status and body.
fn get(url: &str) -> (u16, String) {
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .new_agent();
    let mut response = agent.get(url).call().unwrap();
    let status = response.status().as_u16();
    (status, response.body_mut().read_to_string().unwrap())
}

/// Waits until `GET url` answers `status`; returns the body.
fn wait_for_status(url: &str, status: u16, limit: Duration) -> String {
    let deadline = Instant::now() + limit;
    loop {
        let (got, body) = get(url);
        if got == status {
            return body;
        }
        assert!(
            Instant::now() < deadline,
            "{url} still answers {got} after {limit:?}: {body}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn the_ops_listener_follows_temporal_and_the_store() {
    let mut server = TemporalServer::start();
    let users = guest("users.wasm");
    let listen = format!("127.0.0.1:{}", free_port());
    let worker = TemporalWorker::start(&server, "ops", &[path(&users), "--listen", &listen]);
    let base = format!("http://{listen}");
    assert_eq!(get(&format!("{base}/healthz")).0, 200);
    assert_eq!(get(&format!("{base}/readyz")), (200, "ready".to_owned()));
    story_runs_and_hits(&server, &worker, "ops");

    // The same metrics as `serve`, and the worker's task slots.
    let (status, metrics) = get(&format!("{base}/metrics"));
    assert_eq!(status, 200);
    for line in [
        "activity_host_temporal_task_slots{state=\"used\"} 0",
        "activity_host_temporal_task_slots{state=\"free\"} 100",
        "activity_host_temporal_poll_errors_total 0",
    ] {
        assert!(metrics.contains(line), "{line} in:\n{metrics}");
    }
    let misses = metrics
        .lines()
        .filter(|l| l.starts_with("activity_host_calls_total") && l.contains("outcome=\"miss\""));
    assert_eq!(misses.filter(|l| l.ends_with(" 1")).count(), 2, "{metrics}");

    // Not ready while Temporal is away; ready again when it is back.
    server.stop();
    let away = wait_for_status(&format!("{base}/readyz"), 503, Duration::from_secs(10));
    assert!(away.contains("Temporal does not answer"), "{away}");
    assert_eq!(get(&format!("{base}/healthz")).0, 200, "alive all along");
    server.restart();
    wait_for_status(&format!("{base}/readyz"), 200, Duration::from_secs(30));
}

#[test]
fn a_shutdown_stops_a_spinning_activity_after_its_grace() {
    let server = TemporalServer::start();
    let typed = guest("typed.wasm");
    let grace = Duration::from_secs(2);
    let mut worker =
        TemporalWorker::start(&server, "grace", &[path(&typed), "--shutdown-grace", "2s"]);
    let spin = json!({
        "workflow": "CallWorkflow",
        "arg": {"activity": "spin", "args": [], "timeout_s": 120, "heartbeat_s": 5, "attempts": 1},
    });
    std::thread::scope(|scope| {
        let runs = scope.spawn(|| run_workflows(&server, "grace", &json!({"runs": [spin]})));
        let deadline = Instant::now() + Duration::from_secs(30);
        while worker.process.log_lines_with("typed: ran spin") == 0 {
            assert!(Instant::now() < deadline, "{}", worker.process.log());
            std::thread::sleep(Duration::from_millis(50));
        }
        let asked = Instant::now();
        let exit = worker.process.terminate();
        let took = asked.elapsed();
        assert!(exit.success(), "{}", worker.process.log());
        assert!(
            took >= grace && took < grace + Duration::from_secs(1),
            "stopped after {took:?} with a grace of {grace:?}"
        );
        assert_eq!(worker.process.log_lines_with("shutdown grace passed"), 1);
        let runs = runs.join().unwrap();
        let failure = runs[0]["error"].as_array().unwrap().last().unwrap().clone();
        assert_eq!(failure["type"], "WorkerShutdown", "{runs:?}");
        assert_eq!(failure["non_retryable"], false);
    });
}

#[test]
fn a_profile_of_temporals_client_configuration_says_where_the_server_is() {
    let server = TemporalServer::start();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("temporal.toml");
    std::fs::write(
        &config,
        format!(
            "[profile.default]\naddress = \"127.0.0.1:1\"\n\n\
             [profile.dev]\naddress = \"{}\"\nnamespace = \"default\"\n",
            server.address
        ),
    )
    .unwrap();
    let users = guest("users.wasm");
    let worker = TemporalWorker::start_with(
        "profiled",
        &["--profile", "dev", path(&users)],
        &[("TEMPORAL_CONFIG_FILE", path(&config))],
    );
    story_runs_and_hits(&server, &worker, "profiled");
}
