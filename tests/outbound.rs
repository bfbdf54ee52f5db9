//! Outbound access: guests reach only the HTTP and TCP hosts their component
//! is granted, with secrets they never see, within each call's limits. Real
//! servers on loopback: `examples/users-service`, `redis-server`.

use serde_json::Value;

use crate::support::redis::{RedisServer, free_port};
use crate::support::users_service::UsersService;
use crate::support::worker::Worker;
use crate::support::{activity_host, activity_host_with_env, guest};

/// A config file in a temporary directory, kept alive with it.
struct ConfigFile {
    _dir: tempfile::TempDir,
    path: String,
}

fn config(text: &str) -> ConfigFile {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("activity-host.toml");
    std::fs::write(&path, text).unwrap();
    ConfigFile {
        path: path.display().to_string(),
        _dir: dir,
    }
}

fn net() -> String {
    guest("net.wasm").display().to_string()
}

/// The `outbound-refused` events of a run, as `(destination, why)`.
fn refusals(events: &[Value]) -> Vec<(String, String)> {
    events
        .iter()
        .filter(|event| event["event"] == "outbound-refused")
        .map(|event| {
            assert_eq!(event["level"], "WARN", "{event}");
            (
                event["destination"].as_str().unwrap().to_owned(),
                event["why"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[test]
fn grants_decide_which_hosts_ports_schemes_and_methods_a_guest_reaches() {
    let service = UsersService::start(None);
    let other_port = free_port();
    let file = config(&format!(
        "[components.net]\nallowed-outbound-hosts = [\
         {{ host = \"http://127.0.0.1:{port}\", methods = [\"GET\"] }}]\n",
        port = service.port
    ));
    let url = |host: &str, port: u16| format!("\"http://{host}:{port}/users/1\"");
    let calls = [
        format!("http-get({}, [])", url("127.0.0.1", service.port)),
        format!("http-get({}, [])", url("127.0.0.1", other_port)),
        format!("http-get({}, [])", url("localhost", service.port)),
        format!(
            "http-get(\"https://127.0.0.1:{}/users/1\", [])",
            service.port
        ),
        format!("http-post({}, \"x\")", url("127.0.0.1", service.port)),
    ];
    let mut args = vec!["call", "--config", &file.path];
    let net = net();
    args.push(&net);
    args.extend(calls.iter().map(String::as_str));
    let run = activity_host(&args);
    assert!(run.success, "{}", run.stderr);
    let results = run.stdout_lines();
    assert!(results[0].starts_with("ok({status: 200"), "{}", results[0]);
    let denied = "err(\"the host refused the request (not granted)\")";
    assert_eq!(&results[1..], [denied; 4], "{}", run.stderr);
    let refused = refusals(&run.events());
    let targets: Vec<&str> = refused.iter().map(|(target, _)| target.as_str()).collect();
    assert_eq!(
        targets,
        [
            format!("GET http://127.0.0.1:{other_port}"),
            format!("GET http://localhost:{}", service.port),
            format!("GET https://127.0.0.1:{}", service.port),
            format!("POST http://127.0.0.1:{}", service.port),
        ],
        "one WARN per refusal, naming the target"
    );
    assert_eq!(service.requests(), ["GET /users/1 authorization=missing"]);
    assert!(
        run.events()
            .iter()
            .filter(|e| e["event"] == "outbound-refused")
            .all(|e| e["component"] == "net")
    );

    // Without grants, nothing is reached.
    let ungranted = activity_host(&[
        "call",
        &net,
        &format!("http-get({}, [])", url("127.0.0.1", service.port)),
    ]);
    assert_eq!(ungranted.stdout_lines(), [denied], "{}", ungranted.stderr);
    assert_eq!(service.requests().len(), 1, "the service saw nothing more");
}

#[test]
fn a_redirect_to_an_ungranted_host_is_not_followed() {
    let service = UsersService::start(None);
    let file = config(&format!(
        "[components.net]\nallowed-outbound-hosts = [\"http://127.0.0.1:{}\"]\n",
        service.port
    ));
    let call = format!(
        "http-get(\"{}/redirect?to=http://127.0.0.2:{}/users/1\", [])",
        service.url, service.port
    );
    let run = activity_host(&["call", "--config", &file.path, &net(), &call]);
    assert!(run.success, "{}", run.stderr);
    let result = run.stdout_lines()[0];
    assert!(
        result.starts_with("ok({status: 303, location: some(\"http://127.0.0.2:"),
        "the guest gets the redirect itself: {result}"
    );
    assert_eq!(service.requests().len(), 1, "{:?}", service.requests());
}

#[test]
fn tcp_reaches_a_granted_redis_and_no_other_port_or_name() {
    let redis = RedisServer::start();
    let port = redis.url().rsplit(':').next().unwrap().to_owned();
    let other = free_port();
    let file = config(&format!(
        "[components.net]\nallowed-outbound-hosts = [\"tcp://127.0.0.1:{port}\", \"tcp://localhost:{port}\"]\n"
    ));
    let exchange = |address: String| format!("tcp-exchange(\"{address}\", \"PING\\r\\n\")");
    let run = activity_host(&[
        "call",
        "--config",
        &file.path,
        &net(),
        &exchange(format!("127.0.0.1:{port}")),
        &exchange(format!("localhost:{port}")),
        &exchange(format!("127.0.0.1:{other}")),
        &exchange(format!("localhost:{other}")),
        &exchange(format!("127.0.0.2:{port}")),
        &exchange(format!("example.com:{port}")),
    ]);
    assert!(run.success, "{}", run.stderr);
    let results = run.stdout_lines();
    assert_eq!(
        results[..2],
        ["ok(\"+PONG\")", "ok(\"+PONG\")"],
        "{}",
        run.stderr
    );
    for refused in &results[2..] {
        assert!(
            refused.starts_with("err(\"connect: Permission denied"),
            "{refused}\n{}",
            run.stderr
        );
    }
    let targets: Vec<String> = refusals(&run.events())
        .into_iter()
        .map(|(target, _)| target)
        .collect();
    assert_eq!(
        targets,
        [
            format!("tcp://127.0.0.1:{other}"),
            format!("tcp://127.0.0.1:{other}"),
            format!("tcp://127.0.0.2:{port}"),
            "name lookup of example.com".to_owned(),
        ],
        "a granted name resolves, but only its granted port opens"
    );
}

/// A secret value no test writes anywhere else.
const SECRET: &str = "s3cret-7f4c2a91d6";

#[test]
fn secrets_reach_their_hosts_only_and_appear_nowhere_else() {
    let service = UsersService::start(Some(SECRET));
    let redis = RedisServer::start();
    // Redis keeps values uncompressed in DUMP, so a search finds them.
    redis.command("CONFIG SET rdbcompression no");
    let users = guest("users.wasm").display().to_string();
    let file = config(&format!(
        "[store]\ntype = \"redis\"\nurl = \"{redis}\"\n\n\
         [components.users]\npath = \"{users}\"\nenv = [\"USERS_SERVICE_URL\"]\n\
         allowed-outbound-hosts = [\"{url}\"]\n\
         [components.users.secrets]\nAPI_TOKEN = {{ env = \"USERS_API_TOKEN\", hosts = [\"{url}\"] }}\n\n\
         [components.net]\npath = \"{net}\"\nallowed-outbound-hosts = [\"{url}\"]\n\
         [components.net.secrets]\nAPI_TOKEN = {{ env = \"USERS_API_TOKEN\", hosts = [\"{url}\"] }}\n",
        redis = redis.url(),
        url = service.url,
        net = net(),
    ));
    let env = [
        ("USERS_API_TOKEN", SECRET),
        ("USERS_SERVICE_URL", service.url.as_str()),
    ];
    let workers = [
        Worker::start_with_env(&["--config", &file.path], &env),
        Worker::start_with_env(&["--config", &file.path], &env),
    ];
    // Cached across workers: the service is asked once, with the secret.
    let first = workers[0].call("users", "fetch-user(7)");
    assert_eq!(first.status, 200, "{}\n{}", first.body, workers[0].log());
    assert_eq!(first.body["result"]["name"], "User 7");
    let second = workers[1].call("users", "fetch-user(7)");
    assert_eq!(second.cache.as_deref(), Some("hit"), "{}", second.body);
    assert_eq!(service.requests(), ["GET /users/7 authorization=valid"]);

    // The guest holds a placeholder, not the secret.
    let seen = workers[0].call("net", "env-var(\"API_TOKEN\")");
    let placeholder = seen.body["result"].as_str().unwrap_or_default().to_owned();
    assert!(
        placeholder.starts_with("activity-host-secret-API_TOKEN-"),
        "{}",
        seen.body
    );

    // The secret is nowhere: logs, metrics, Redis, `config check`.
    let metrics = workers[0].get("/metrics").body.to_string();
    let check = activity_host_with_env(&["config", "check", "--config", &file.path], &env);
    assert!(check.success, "{}", check.stderr);
    let mut stored = Vec::new();
    for key in redis.keys("*") {
        stored.extend_from_slice(key.as_bytes());
        stored.extend(redis.raw(&[b"DUMP", key.as_bytes()]));
    }
    assert!(!stored.is_empty());
    for (place, text) in [
        ("worker 0's log", workers[0].log()),
        ("worker 1's log", workers[1].log()),
        ("/metrics", metrics),
        ("config check", check.stdout + &check.stderr),
        ("redis", String::from_utf8_lossy(&stored).into_owned()),
    ] {
        assert!(!text.contains(SECRET), "the secret is in {place}:\n{text}");
    }
}

#[test]
fn a_placeholder_bound_for_another_host_is_refused() {
    let service = UsersService::start(Some(SECRET));
    let file = config(&format!(
        "[components.users]\nenv = [\"USERS_SERVICE_URL\"]\n\
         allowed-outbound-hosts = [\"{url}\"]\n\
         [components.users.secrets]\nAPI_TOKEN = {{ env = \"USERS_API_TOKEN\", hosts = [\"https://api.example.com\"] }}\n",
        url = service.url
    ));
    let users = guest("users.wasm").display().to_string();
    let run = activity_host_with_env(
        &["call", "--config", &file.path, &users, "fetch-user(7)"],
        &[
            ("USERS_API_TOKEN", SECRET),
            ("USERS_SERVICE_URL", &service.url),
        ],
    );
    assert!(!run.success, "fetch-user traps without its user");
    let refused = refusals(&run.events());
    assert_eq!(refused.len(), 1, "{}", run.stderr);
    assert!(
        refused[0].1.contains("carries secret API_TOKEN"),
        "{refused:?}"
    );
    assert!(service.requests().is_empty(), "{:?}", service.requests());
    assert!(!run.stderr.contains(SECRET), "{}", run.stderr);
    assert_eq!(run.calls()[0]["outcome"], "error", "nothing cached");
}

#[test]
fn a_hung_server_costs_one_call_its_timeout_and_the_next_call_works() {
    let service = UsersService::start(None);
    let file = config(&format!(
        "[components.net]\npath = \"{net}\"\ntimeout = \"1s\"\n\
         allowed-outbound-hosts = [\"{url}\"]\n",
        net = net(),
        url = service.url
    ));
    let worker = Worker::start_with(&["--config", &file.path]);
    let listed = worker.get("/v1/components").body;
    let reaches = &listed[0]["nondeterministic"];
    assert!(
        reaches.as_array().unwrap().contains(&"network".into()),
        "a component importing wasi:http reaches the network: {listed}"
    );
    let inspect = activity_host(&["inspect", &net()]);
    assert!(
        inspect.stdout.contains("purity  can reach clocks, network"),
        "{}",
        inspect.stdout
    );
    let hung = worker.call("net", &format!("http-get(\"{}/hang\", [])", service.url));
    assert_eq!(hung.status, 504, "{}", hung.body);
    let next = worker.call("net", &format!("http-get(\"{}/users/2\", [])", service.url));
    assert_eq!(next.status, 200, "{}", next.body);
    assert_eq!(next.body["result"]["ok"]["status"], 200, "{}", next.body);
    let errors: Vec<Value> = worker
        .calls()
        .into_iter()
        .filter(|call| call["outcome"] == "error")
        .collect();
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0]["error"], "timeout");
}

#[test]
fn a_guest_looping_on_requests_stops_at_the_cap_of_each_call() {
    let service = UsersService::start(None);
    let file = config(&format!(
        "[components.net]\nmax-outbound-requests = 3\ninstances = \"warm\"\n\
         allowed-outbound-hosts = [\"{}\"]\n",
        service.url
    ));
    let call = format!("http-get-repeatedly(\"{}/users/3\", 10)", service.url);
    let run = activity_host(&["call", "--config", &file.path, &net(), &call, &call]);
    assert!(run.success, "{}", run.stderr);
    let capped = "(3, some(\"the call made as many requests as it may (max-outbound-requests)\"))";
    assert_eq!(
        run.stdout_lines(),
        [capped, capped],
        "the warm instance's second call has its own budget"
    );
    assert_eq!(service.requests().len(), 6);
    assert_eq!(refusals(&run.events()).len(), 2);
}

#[test]
fn the_users_activity_reaches_the_service_in_rust_python_and_javascript() {
    let service = UsersService::start(Some(SECRET));
    let compile_cache = crate::support::repo_root().join("target/test-compile-cache");
    for (at, language) in ["users", "python-users", "js-users"]
        .into_iter()
        .enumerate()
    {
        let file = config(&format!(
            "[components.{language}]\nenv = [\"USERS_SERVICE_URL\"]\n\
             allowed-outbound-hosts = [\"{url}\"]\n\
             [components.{language}.secrets]\n\
             API_TOKEN = {{ env = \"USERS_API_TOKEN\", hosts = [\"{url}\"] }}\n",
            url = service.url
        ));
        let component = guest(&format!("{language}.wasm")).display().to_string();
        let run = activity_host_with_env(
            &[
                "call",
                "--config",
                &file.path,
                "--compile-cache",
                compile_cache.to_str().unwrap(),
                &component,
                &format!("fetch-user({at})"),
                &format!("fetch-user({at})"),
                "send-email(\"ada@example.com\")",
            ],
            &[
                ("USERS_API_TOKEN", SECRET),
                ("USERS_SERVICE_URL", &service.url),
            ],
        );
        assert!(run.success, "{language}: {}", run.stderr);
        let user = format!("{{id: {at}, name: \"User {at}\", email: \"user{at}@example.com\"}}");
        assert_eq!(
            run.stdout_lines(),
            [user.as_str(), user.as_str(), "()"],
            "{language}"
        );
        assert_eq!(run.outcomes(), ["miss", "hit", "bypass"], "{language}");
        assert!(!run.stderr.contains(SECRET), "{language}: {}", run.stderr);
    }
    let expected: Vec<String> = (0..3)
        .flat_map(|at| {
            [
                format!("GET /users/{at} authorization=valid"),
                "POST /emails (15 bytes) authorization=valid".to_owned(),
            ]
        })
        .collect();
    assert_eq!(
        service.requests(),
        expected,
        "one request per miss, with the secret"
    );
}

#[test]
fn a_call_reads_at_most_its_memory_bound_of_response_bodies() {
    let service = UsersService::start(None);
    let file = config(&format!(
        "[components.net]\nmax-memory-bytes = 8388608\n\
         allowed-outbound-hosts = [\"{}\"]\n",
        service.url
    ));
    let length = |bytes: usize| format!("http-get-length(\"{}/bytes/{bytes}\")", service.url);
    let run = activity_host(&[
        "call",
        "--config",
        &file.path,
        &net(),
        &length(4_000_000),
        &length(12_000_000),
    ]);
    assert!(run.success, "{}", run.stderr);
    let results = run.stdout_lines();
    assert_eq!(
        results[0], "ok(4000000)",
        "streamed, never held: {}",
        run.stderr
    );
    assert_eq!(
        results[1], "err(\"HTTP response body size exceeds limit: 8388608 bytes\")",
        "past max-memory-bytes of bodies, the stream fails"
    );
}
