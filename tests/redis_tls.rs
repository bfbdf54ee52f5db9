//! Redis in production: TLS with a private CA, mutual TLS, ACL users with
//! passwords, against real `redis-server` processes listening with
//! `--tls-port` on certificates the tests make. Each failure (unknown CA,
//! expired or mismatched certificate, no client certificate, wrong
//! password) is one clear warning at start, the worker serves degraded, and
//! no password or key appears in its log or in `config check`.

use crate::support;

use std::path::Path;

use support::guest;
use support::pki::{Issued, Pki};
use support::redis::{RedisServer, free_port};
use support::worker::Worker;

/// A directory with the users component.
fn components() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(guest("users.wasm"), dir.path().join("users.wasm")).unwrap();
    dir
}

/// A server with TLS on a second port, its certificate `cert` (signed by
/// `pki`'s CA, which also checks clients' certificates when asked).
fn tls_server(pki: &Pki, cert: &Issued, extra: &[&str]) -> (RedisServer, u16) {
    let tls_port = free_port();
    let mut args = vec![
        "--tls-port".to_owned(),
        tls_port.to_string(),
        "--tls-cert-file".to_owned(),
        path(&cert.cert),
        "--tls-key-file".to_owned(),
        path(&cert.key),
        "--tls-ca-cert-file".to_owned(),
        path(&pki.ca()),
        "--tls-auth-clients".to_owned(),
        "no".to_owned(),
    ];
    args.extend(extra.iter().map(|arg| (*arg).to_owned()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    (RedisServer::start_with(&args), tls_port)
}

fn path(path: &Path) -> String {
    path.to_str().unwrap().to_owned()
}

/// A worker whose `[store]` is `store` (TOML lines).
fn worker_with_store(components: &Path, store: &str) -> (Worker, tempfile::TempDir) {
    let config_dir = tempfile::tempdir().unwrap();
    let config = config_dir.path().join("worker.toml");
    std::fs::write(&config, format!("[store]\ntype = \"redis\"\n{store}\n")).unwrap();
    let worker = Worker::start_with(&[
        "--dir",
        components.to_str().unwrap(),
        "--config",
        config.to_str().unwrap(),
    ]);
    (worker, config_dir)
}

/// The error of the store's start-up warning (`store-down`), if any.
fn store_down(worker: &Worker) -> Option<String> {
    worker
        .events()
        .iter()
        .find(|event| event["event"] == "store-down")
        .map(|event| event["error"].as_str().unwrap_or_default().to_owned())
}

/// The worker runs calls uncached, says it is not ready, and has said why.
fn assert_degraded(worker: &Worker, cause: &str) {
    let error = store_down(worker).expect("a store-down warning at start");
    assert!(
        error.contains(cause),
        "the warning names the cause: {error}"
    );
    let call = worker.call("users", "fetch-user(1)");
    assert_eq!(
        (call.status, call.cache.as_deref()),
        (200, Some("degraded"))
    );
    assert_eq!(worker.get("/readyz").status, 503);
}

#[test]
fn a_private_ca_is_trusted_when_named_and_only_then() {
    let pki = Pki::new("test-ca");
    let cert = pki.issue("redis", &["127.0.0.1", "localhost"]);
    let (_server, port) = tls_server(&pki, &cert, &[]);
    let url = format!("url = \"rediss://127.0.0.1:{port}\"");
    let dir = components();

    let trusting = format!("{url}\ntls-ca-cert = \"{}\"", path(&pki.ca()));
    let (first, _c1) = worker_with_store(dir.path(), &trusting);
    let (second, _c2) = worker_with_store(dir.path(), &trusting);
    assert_eq!(store_down(&first), None, "{}", first.log());
    assert_eq!(first.get("/readyz").status, 200);
    let miss = first.call("users", "fetch-user(1)");
    let hit = second.call("users", "fetch-user(1)");
    assert_eq!(
        (miss.cache.as_deref(), hit.cache.as_deref()),
        (Some("miss"), Some("hit")),
        "shared over TLS"
    );

    // The system's roots do not know the private CA.
    let (unknown, _c3) = worker_with_store(dir.path(), &url);
    assert_degraded(&unknown, "UnknownIssuer");
}

#[test]
fn expired_and_mismatched_certificates_are_refused_clearly() {
    let pki = Pki::new("test-ca");
    let dir = components();
    for (cert, cause) in [
        (
            pki.issue_expired("expired", &["127.0.0.1", "localhost"]),
            "certificate expired",
        ),
        (
            pki.issue("elsewhere", &["redis.example.com"]),
            "certificate not valid for name \"127.0.0.1\"",
        ),
    ] {
        let (_server, port) = tls_server(&pki, &cert, &[]);
        let store = format!(
            "url = \"rediss://127.0.0.1:{port}\"\ntls-ca-cert = \"{}\"",
            path(&pki.ca())
        );
        let (worker, _config) = worker_with_store(dir.path(), &store);
        assert_degraded(&worker, cause);
    }
}

#[test]
fn mutual_tls_needs_the_client_certificate() {
    let pki = Pki::new("test-ca");
    let cert = pki.issue("redis", &["127.0.0.1"]);
    let client = pki.issue("worker", &["worker"]);
    let (_server, port) = tls_server(&pki, &cert, &["--tls-auth-clients", "yes"]);
    let base = format!(
        "url = \"rediss://127.0.0.1:{port}\"\ntls-ca-cert = \"{}\"",
        path(&pki.ca())
    );
    let dir = components();

    let (without, _c1) = worker_with_store(dir.path(), &base);
    assert_degraded(&without, "CertificateRequired");

    let with = format!(
        "{base}\ntls-client-cert = \"{}\"\ntls-client-key = \"{}\"",
        path(&client.cert),
        path(&client.key)
    );
    let (first, _c2) = worker_with_store(dir.path(), &with);
    let (second, _c3) = worker_with_store(dir.path(), &with);
    assert_eq!(store_down(&first), None, "{}", first.log());
    assert_eq!(
        first.call("users", "fetch-user(2)").cache.as_deref(),
        Some("miss")
    );
    assert_eq!(
        second.call("users", "fetch-user(2)").cache.as_deref(),
        Some("hit")
    );
    // The key's contents never reach the log.
    let key = std::fs::read_to_string(&client.key).unwrap();
    let key_body = key.lines().nth(1).unwrap();
    assert!(!first.log().contains(key_body));
}

#[test]
fn an_acl_user_with_a_password_from_a_file_and_never_printed() {
    let pki = Pki::new("test-ca");
    let cert = pki.issue("redis", &["127.0.0.1"]);
    let password = "acl-pass-5d1e9c";
    // An ACL user that may touch this store's keys and channel only.
    let secret = format!(">{password}");
    let user = [
        "--user",
        "activity",
        "on",
        &secret,
        "~activity-host:*",
        "&*",
        "+@all",
    ];
    let (_server, port) = tls_server(&pki, &cert, &user);
    let base = format!(
        "url = \"rediss://127.0.0.1:{port}\"\ntls-ca-cert = \"{}\"\nusername = \"activity\"",
        path(&pki.ca())
    );
    let dir = components();

    let (refused, _c1) = worker_with_store(
        dir.path(),
        &format!("{base}\npassword = \"wrong-pass-77a1\""),
    );
    assert_degraded(&refused, "Password authentication failed");

    let secrets = tempfile::tempdir().unwrap();
    let file = secrets.path().join("redis-password");
    std::fs::write(&file, format!("{password}\n")).unwrap();
    let store = format!("{base}\npassword-file = \"{}\"", path(&file));
    let (first, config) = worker_with_store(dir.path(), &store);
    let (second, _c2) = worker_with_store(dir.path(), &store);
    assert_eq!(store_down(&first), None, "{}", first.log());
    assert_eq!(
        first.call("users", "fetch-user(3)").cache.as_deref(),
        Some("miss")
    );
    assert_eq!(
        second.call("users", "fetch-user(3)").cache.as_deref(),
        Some("hit")
    );
    assert!(!first.log().contains(password) && !refused.log().contains("wrong-pass-77a1"));

    // `config check` shows the settings, never a password.
    let inline = config.path().join("inline.toml");
    std::fs::write(
        &inline,
        format!("[store]\ntype = \"redis\"\n{base}\npassword = \"{password}\"\n"),
    )
    .unwrap();
    let check = support::activity_host(&["config", "check", "--config", inline.to_str().unwrap()]);
    assert!(check.success, "{}", check.stderr);
    assert!(
        check.stdout.contains("username = \"activity\""),
        "{}",
        check.stdout
    );
    assert!(
        check.stdout.contains("password = \"***\""),
        "{}",
        check.stdout
    );
    assert!(!check.stdout.contains(password) && !check.stderr.contains(password));
}

#[test]
fn insecure_skips_the_check_loudly_and_bad_settings_are_errors() {
    let pki = Pki::new("test-ca");
    let cert = pki.issue("redis", &["127.0.0.1"]);
    let (_server, port) = tls_server(&pki, &cert, &[]);
    let dir = components();
    let (worker, _config) = worker_with_store(
        dir.path(),
        &format!("url = \"rediss://127.0.0.1:{port}\"\ninsecure = true"),
    );
    assert_eq!(store_down(&worker), None, "{}", worker.log());
    assert!(
        worker
            .log()
            .contains("Redis's TLS certificate is not checked (insecure)"),
        "{}",
        worker.log()
    );
    assert_eq!(
        worker.call("users", "fetch-user(4)").cache.as_deref(),
        Some("miss")
    );

    // Settings that cannot work are refused at start, naming the setting.
    let config_dir = tempfile::tempdir().unwrap();
    for (store, expected) in [
        (
            "url = \"redis://127.0.0.1:1\"\ntls-ca-cert = \"ca.pem\"",
            "tls-ca-cert is set, but the store's URLs are not all `rediss://`",
        ),
        (
            "url = \"rediss://127.0.0.1:1\"\ntls-ca-cert = \"/nonexistent/ca.pem\"",
            "cannot read tls-ca-cert /nonexistent/ca.pem",
        ),
        (
            "url = \"rediss://127.0.0.1:1\"\ntls-client-cert = \"worker.pem\"",
            "set both tls-client-cert and tls-client-key",
        ),
        (
            "url = \"redis://127.0.0.1:1\"\npassword-env = \"ACTIVITY_TEST_UNSET_PASSWORD\"",
            "password-env names ACTIVITY_TEST_UNSET_PASSWORD, which is not set",
        ),
    ] {
        let config = config_dir.path().join("bad.toml");
        std::fs::write(&config, format!("[store]\ntype = \"redis\"\n{store}\n")).unwrap();
        let run = support::activity_host(&[
            "serve",
            "--dir",
            dir.path().to_str().unwrap(),
            "--config",
            config.to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
        ]);
        assert!(!run.success, "{store}: started");
        assert!(run.stderr.contains(expected), "{store}: {}", run.stderr);
    }
}

#[test]
fn a_tls_cluster_and_a_tiered_store_use_the_same_settings() {
    let pki = Pki::new("test-ca");
    let cert = pki.issue("redis", &["127.0.0.1"]);
    let tls_ports: Vec<u16> = (0..3).map(|_| free_port()).collect();
    let _cluster = support::redis::RedisCluster::start_with(3, |i| {
        [
            "--tls-port",
            &tls_ports[i].to_string(),
            "--tls-cluster",
            "yes",
            "--tls-cert-file",
            &path(&cert.cert),
            "--tls-key-file",
            &path(&cert.key),
            "--tls-ca-cert-file",
            &path(&pki.ca()),
            "--tls-auth-clients",
            "no",
        ]
        .map(str::to_owned)
        .to_vec()
    });
    let nodes: Vec<String> = tls_ports
        .iter()
        .map(|port| format!("\"rediss://127.0.0.1:{port}\""))
        .collect();
    let store = format!(
        "nodes = [{}]\ntls-ca-cert = \"{}\"",
        nodes.join(", "),
        path(&pki.ca())
    );
    let dir = components();
    let (first, _c1) = worker_with_store(dir.path(), &store);
    // The tiered store: this worker's memory in front of the same cluster.
    let (second, _c2) = worker_with_store(dir.path(), &format!("{store}\nl1-ttl = \"10s\""));
    assert_eq!(store_down(&first), None, "{}", first.log());
    for id in 1..=5 {
        let call = format!("fetch-user({id})");
        let miss = first.call("users", &call);
        let hit = second.call("users", &call);
        assert_eq!(
            (miss.cache.as_deref(), hit.cache.as_deref()),
            (Some("miss"), Some("hit")),
            "{call}: keys on every node, over TLS"
        );
    }

    // Without the CA, every node is refused.
    let (unknown, _c3) = worker_with_store(dir.path(), &format!("nodes = [{}]", nodes.join(", ")));
    assert_degraded(&unknown, "UnknownIssuer");
}
