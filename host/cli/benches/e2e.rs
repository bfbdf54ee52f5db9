//! End to end, through real `activity-host serve` processes and a real
//! `redis-server`, each figure next to what it is compared with in the same
//! run. Run by `scripts/bench.sh`; prints one table and stops everything it
//! started.

#[allow(dead_code)] // a benchmark uses a few of the test helpers
#[path = "../../../tests/support/mod.rs"]
mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::json;
use support::guest;
use support::redis::RedisServer;
use support::users_service::UsersService;
use support::worker::Worker;

/// One line of the table.
struct Row {
    figure: String,
    value: String,
    compared: String,
}

fn row(figure: &str, value: String, compared: String) -> Row {
    let row = Row {
        figure: figure.to_owned(),
        value,
        compared,
    };
    eprintln!(
        "  measured: {} = {} ({})",
        row.figure, row.value, row.compared
    );
    row
}

/// A directory holding `users.wasm` and `typed.wasm`, and a config file
/// with `extra` TOML appended.
fn setup(extra: &str) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let components = dir.path().join("components");
    std::fs::create_dir(&components).unwrap();
    for file in ["users.wasm", "typed.wasm"] {
        std::fs::copy(guest(file), components.join(file)).unwrap();
    }
    let config = dir.path().join("host.toml");
    std::fs::write(&config, extra).unwrap();
    let config = config.display().to_string();
    (dir, config)
}

fn start(dir: &Path, config: &str, extra: &[&str]) -> Worker {
    let components = dir.join("components");
    Worker::start(&components, &[&["--config", config][..], extra].concat())
}

/// Requests per second and mean latency of `request` from `clients`
/// threads for `duration`.
fn load(clients: usize, duration: Duration, request: impl Fn() -> u16 + Sync) -> (f64, Duration) {
    let started = Instant::now();
    let counts: Vec<u64> = std::thread::scope(|scope| {
        let threads: Vec<_> = (0..clients)
            .map(|_| {
                scope.spawn(|| {
                    let mut done = 0u64;
                    while started.elapsed() < duration {
                        assert_eq!(request(), 200);
                        done += 1;
                    }
                    done
                })
            })
            .collect();
        threads.into_iter().map(|t| t.join().unwrap()).collect()
    });
    let total: u64 = counts.iter().sum();
    let elapsed = started.elapsed();
    let rate = total as f64 / elapsed.as_secs_f64();
    (rate, elapsed * clients as u32 / total as u32)
}

/// Wall time of `n` concurrent `slow(id, ms)` calls spread over `workers`,
/// and how many times the body ran.
fn concurrent_misses(workers: &[Worker], n: usize, id: u32, ms: u32) -> (Duration, usize) {
    let wave = format!("slow({id}, {ms})");
    let before: usize = workers
        .iter()
        .map(|w| w.log_lines_with("typed: ran slow"))
        .sum();
    let started = Instant::now();
    std::thread::scope(|scope| {
        let calls: Vec<_> = (0..n)
            .map(|i| {
                let (worker, wave) = (&workers[i % workers.len()], &wave);
                scope.spawn(move || worker.call("typed", wave))
            })
            .collect();
        for call in calls {
            let reply = call.join().unwrap();
            assert_eq!(reply.status, 200, "{}", reply.body);
            assert_eq!(reply.body["result"], id);
        }
    });
    let wall = started.elapsed();
    let after: usize = workers
        .iter()
        .map(|w| w.log_lines_with("typed: ran slow"))
        .sum();
    (wall, after - before)
}

/// Mean latency of `n` sequential calls of `wave` on `worker`.
fn latency(
    worker: &Worker,
    component: &str,
    waves: impl Fn(usize) -> String,
    n: usize,
) -> Duration {
    let started = Instant::now();
    for i in 0..n {
        let reply = worker.call(component, &waves(i));
        assert_eq!(reply.status, 200, "{}", reply.body);
    }
    started.elapsed() / n as u32
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

/// HTTP hit vs `GET /healthz`, from two client threads: eight interleaved
/// rounds of half a second each (drift on a busy machine hits both alike),
/// the median of each round's ratio. The client sends a prebuilt body and
/// reads every answer as bytes, so it does the same work for both.
fn http_hit_vs_noop(rows: &mut Vec<Row>) {
    let (dir, config) = setup("");
    let worker = start(dir.path(), &config, &[]);
    assert_eq!(
        worker.call("users", "fetch-user(1)").cache.as_deref(),
        Some("miss")
    );
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .new_agent();
    let health = format!("{}/healthz", worker.url);
    let call = format!("{}/v1/components/users/call", worker.url);
    let body = br#"{"wave": "fetch-user(1)"}"#;
    let noop = || status(agent.get(&health).call());
    let hit = || {
        let request = agent.post(&call).header("content-type", "application/json");
        status(request.send(&body[..]))
    };
    let half = Duration::from_millis(500);
    let rounds: Vec<((f64, Duration), (f64, Duration))> = (0..8)
        .map(|_| (load(2, half, noop), load(2, half, hit)))
        .collect();
    let rate_ratio = median(rounds.iter().map(|((noop, _), (hit, _))| hit / noop));
    let latency_ratio = median(
        rounds
            .iter()
            .map(|((_, noop), (_, hit))| hit.as_secs_f64() / noop.as_secs_f64()),
    );
    let noop_rate = median(rounds.iter().map(|((noop, _), _)| *noop));
    let hit_rate = median(rounds.iter().map(|(_, (hit, _))| *hit));
    let noop_latency = median(rounds.iter().map(|((_, noop), _)| us(*noop)));
    let hit_latency = median(rounds.iter().map(|(_, (_, hit))| us(*hit)));
    rows.push(row(
        "HTTP hit throughput (2 clients)",
        format!("{hit_rate:.0} req/s"),
        format!("{rate_ratio:.2} x GET /healthz ({noop_rate:.0} req/s)"),
    ));
    rows.push(row(
        "HTTP hit latency",
        format!("{hit_latency:.0} us"),
        format!("{latency_ratio:.2} x GET /healthz ({noop_latency:.0} us)"),
    ));
}

/// The status of an answer, its body read to the end (so the connection
/// is reused); 0 if there was none.
fn status(response: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> u16 {
    let Ok(mut response) = response else {
        return 0;
    };
    response.body_mut().read_to_vec().unwrap();
    response.status().as_u16()
}

/// The median of `values`.
fn median(values: impl Iterator<Item = f64>) -> f64 {
    let mut values: Vec<f64> = values.collect();
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// An allowed outbound GET through a worker and a guest vs the same GET
/// from native Rust; `fetch-user` against a users service that takes 20 ms,
/// miss vs hit.
fn outbound(rows: &mut Vec<Row>) {
    let service = UsersService::start(None);
    let dir = tempfile::tempdir().unwrap();
    let components = dir.path().join("components");
    std::fs::create_dir(&components).unwrap();
    std::fs::copy(guest("net.wasm"), components.join("net.wasm")).unwrap();
    let config = dir.path().join("host.toml");
    let grant = format!(
        "[components.net]\nallowed-outbound-hosts = [\"{}\"]\n",
        service.url
    );
    std::fs::write(&config, grant).unwrap();
    let worker = start(dir.path(), &config.display().to_string(), &[]);
    let url = format!("{}/users/1", service.url);
    let n = 300;
    let through_host = latency(&worker, "net", |_| format!("http-get(\"{url}\", [])"), n);
    let without_network = latency(&worker, "net", |_| "env-var(\"HOME\")".to_owned(), n);
    let agent = ureq::Agent::new_with_defaults();
    let started = Instant::now();
    for _ in 0..n {
        let response = agent.get(&url).call().unwrap();
        assert_eq!(response.status(), 200);
    }
    let native = started.elapsed() / n as u32;
    let outbound = through_host.saturating_sub(without_network);
    rows.push(row(
        "outbound GET from a guest (worker call minus a call without network)",
        format!("{:.0} us", us(outbound)),
        format!(
            "{:.2} x the same GET from native Rust, ureq ({:.0} us); the whole call {:.0} us",
            us(outbound) / us(native),
            us(native),
            us(through_host)
        ),
    ));
    drop(worker);

    let slow = UsersService::start_with(None, "20ms");
    let users = guest("users.wasm").display().to_string();
    let config = dir.path().join("users.toml");
    std::fs::write(
        &config,
        format!(
            "[components.users]\npath = \"{users}\"\nenv = [\"USERS_SERVICE_URL\"]\n\
             allowed-outbound-hosts = [\"{}\"]\n",
            slow.url
        ),
    )
    .unwrap();
    let worker = Worker::start_with_env(
        &["--config", &config.display().to_string()],
        &[("USERS_SERVICE_URL", &slow.url)],
    );
    let n = 50;
    let misses = latency(&worker, "users", |i| format!("fetch-user({})", 1000 + i), n);
    let hits = latency(&worker, "users", |i| format!("fetch-user({})", 1000 + i), n);
    assert_eq!(
        slow.requests().len(),
        n,
        "the hits asked the service nothing"
    );
    rows.push(row(
        "fetch-user hit, users service taking 20 ms",
        format!("{:.0} us", us(hits)),
        format!(
            "{:.4} x a miss ({:.1} ms)",
            us(hits) / us(misses),
            ms(misses)
        ),
    ));
}

fn single_flight(rows: &mut Vec<Row>, server: &RedisServer) {
    let body = Duration::from_millis(100);
    let (dir, config) = setup("");
    let one = start(dir.path(), &config, &[]);
    let (wall, runs) = concurrent_misses(std::slice::from_ref(&one), 50, 1, 100);
    rows.push(row(
        "50 concurrent identical misses, 100 ms activity, 1 worker",
        format!("{:.0} ms, {runs} execution(s)", ms(wall)),
        format!(
            "{:.2} x one execution",
            wall.as_secs_f64() / body.as_secs_f64()
        ),
    ));
    drop(one);

    let fleet_config = format!(
        "[store]\ntype = \"redis\"\nurl = \"{}\"\nlease = \"300ms\"\n",
        server.url()
    );
    let (dir, config) = setup(&fleet_config);
    let fleet: Vec<Worker> = (0..3).map(|_| start(dir.path(), &config, &[])).collect();
    let (wall, runs) = concurrent_misses(&fleet, 50, 2, 100);
    rows.push(row(
        "the same over 3 workers sharing Redis",
        format!("{:.0} ms, {runs} execution(s)", ms(wall)),
        format!(
            "{:.2} x one execution",
            wall.as_secs_f64() / body.as_secs_f64()
        ),
    ));
}

fn redis_down(rows: &mut Vec<Row>) {
    let mut dead = RedisServer::start();
    let url = dead.url();
    dead.kill();
    let (dir, config) = setup(&format!("[store]\ntype = \"redis\"\nurl = \"{url}\"\n"));
    let degraded = start(dir.path(), &config, &[]);
    let (plain_dir, plain_config) =
        setup("[components.users.exports.fetch-user]\npolicy = \"no-cache\"\n");
    let uncached = start(plain_dir.path(), &plain_config, &[]);
    let waves = |i: usize| format!("fetch-user({i})");
    degraded.call("users", "fetch-user(0)"); // opens the breaker
    let mut pairs = Vec::new();
    for _ in 0..5 {
        pairs.push((
            latency(&degraded, "users", waves, 200),
            latency(&uncached, "users", waves, 200),
        ));
    }
    let down: Duration = pairs.iter().map(|p| p.0).sum::<Duration>() / 5;
    let plain: Duration = pairs.iter().map(|p| p.1).sum::<Duration>() / 5;
    rows.push(row(
        "call with Redis down (breaker open)",
        format!("{:.0} us", us(down)),
        format!(
            "overhead {:+.0} us vs the same call uncached ({:.0} us)",
            us(down) - us(plain),
            us(plain)
        ),
    ));
}

/// Ten concurrent calls each filling 240 MiB of guest memory, on a worker
/// with a 1 GiB guest memory budget and on one without: peak resident
/// memory and wall time.
fn memory_budget(rows: &mut Vec<Row>) {
    let run = |budget: &[&str]| {
        let (dir, config) = setup("");
        let flags = [&["--policy", "typed/hog=no-cache"][..], budget].concat();
        let worker = start(dir.path(), &config, &flags);
        let started = Instant::now();
        let answers = worker.call_concurrently("typed", &json!({"wave": "hog(240)"}), 10);
        let wall = started.elapsed();
        assert!(answers.iter().all(|answer| answer.status == 200));
        (worker.peak_resident_mib(), wall)
    };
    let (bounded, bounded_wall) = run(&["--max-total-memory-bytes", "1073741824"]);
    let (unbounded, unbounded_wall) = run(&[]);
    rows.push(row(
        "peak RSS, 10 concurrent 240 MiB guests, 1 GiB budget",
        format!("{bounded} MiB"),
        format!(
            "{unbounded} MiB without a budget; wall {:.0} ms vs {:.0} ms",
            ms(bounded_wall),
            ms(unbounded_wall)
        ),
    ));
}

/// Limits that let `typed` take, run and keep 100 MB payloads.
const LARGE_PAYLOADS: &str = "[components.typed]
max-argument-bytes = 268435456
max-result-bytes = 268435456
max-memory-bytes = 1073741824
";

/// Byte payloads through a worker (`application/octet-stream` in and out):
/// the worker's peak memory around a 100 MB miss and hit, and a 10 MB hit
/// against the same 10 MB answered by a bare axum route, in the same run.
fn payloads(rows: &mut Vec<Row>) {
    let (dir, config) = setup(LARGE_PAYLOADS);
    let worker = start(dir.path(), &config, &["--max-body-bytes", "268435456"]);
    let path = "/v1/components/typed/call?export=reverse-bytes";
    let call = |body: &[u8]| {
        let (status, cache, bytes) = worker.post_for_bytes(path, BYTES, body);
        assert_eq!(status, 200);
        (cache.unwrap_or_default(), bytes.len())
    };
    let payload: Vec<u8> = (0..100_000_000u32).map(|i| i as u8).collect();
    let before = worker.peak_resident_mib();
    assert_eq!(call(&payload), ("miss".to_owned(), payload.len()));
    assert_eq!(call(&payload), ("hit".to_owned(), payload.len()));
    let grown = worker.peak_resident_mib() - before;
    rows.push(row(
        "worker peak memory growth, a 100 MB list<u8> miss then hit",
        format!("{grown} MiB"),
        format!(
            "{:.1} x the payload (request body, guest memory, result, entry)",
            grown as f64 * 1_048_576.0 / 1e8
        ),
    ));

    let ten = &payload[..10_000_000];
    call(ten);
    let static_url = static_server(ten.to_vec());
    let agent = ureq::Agent::new_with_defaults();
    let fetch_static = || {
        let mut response = agent
            .post(&static_url)
            .header("content-type", BYTES)
            .send(ten)
            .unwrap();
        let bytes = response.body_mut().with_config().limit(u64::MAX);
        assert_eq!(bytes.read_to_vec().unwrap().len(), ten.len());
    };
    let hit = mean_of(20, || assert_eq!(call(ten).0, "hit"));
    let bare = mean_of(20, fetch_static);
    rows.push(row(
        "HTTP hit of a 10 MB list<u8>, octet-stream in and out",
        format!("{:.1} ms", ms(hit)),
        format!(
            "{:.2} x a bare axum route answering the same request with the same 10 MB ({:.1} ms)",
            ms(hit) / ms(bare),
            ms(bare)
        ),
    ));
}

const BYTES: &str = "application/octet-stream";

/// Mean time of `f` over `n` runs, after one to warm up.
fn mean_of(n: u32, mut f: impl FnMut()) -> Duration {
    f();
    let started = Instant::now();
    for _ in 0..n {
        f();
    }
    started.elapsed() / n
}

/// A bare axum server answering any POST to `/` with `body`: its URL.
fn static_server(body: Vec<u8>) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    listener.set_nonblocking(true).unwrap();
    let body = bytes::Bytes::from(body);
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            let answer = move |request: axum::body::Bytes| async move {
                drop(request);
                body.clone()
            };
            let app = axum::Router::new()
                .route("/", axum::routing::post(answer))
                .layer(axum::extract::DefaultBodyLimit::disable());
            axum::serve(listener, app).await.unwrap();
        });
    });
    url
}

fn cold_start(rows: &mut Vec<Row>) {
    const N: usize = 8;
    let (dir, config) = setup("");
    let components = dir.path().join("components");
    for i in 0..N {
        std::fs::copy(
            guest("typed.wasm"),
            components.join(format!("typed{i}.wasm")),
        )
        .unwrap();
    }
    let cache = dir.path().join("compiled");
    let cache = cache.display().to_string();
    let time = |extra: &[&str]| {
        let started = Instant::now();
        let worker = start(dir.path(), &config, extra);
        let elapsed = started.elapsed();
        drop(worker);
        elapsed
    };
    let compiling = time(&["--compile-cache", "off"]);
    time(&["--compile-cache", &cache]); // fills the cache
    let precompiled = time(&["--compile-cache", &cache]);
    rows.push(row(
        &format!(
            "cold start of a worker with {} components, precompiled",
            N + 2
        ),
        format!("{:.0} ms", ms(precompiled)),
        format!(
            "{:.3} x compiling them ({:.0} ms)",
            ms(precompiled) / ms(compiling),
            ms(compiling)
        ),
    ));
}

/// First and second load of the Python and JavaScript users activities: a
/// worker serving only that component, started with an empty compile cache
/// (it compiles) and again (it loads the compiled code), to `/healthz`.
fn language_loads(rows: &mut Vec<Row>) {
    for language in ["python-users", "js-users"] {
        let dir = tempfile::tempdir().unwrap();
        let components = dir.path().join("components");
        std::fs::create_dir(&components).unwrap();
        let file = format!("{language}.wasm");
        std::fs::copy(guest(&file), components.join(&file)).unwrap();
        let config = dir.path().join("host.toml");
        std::fs::write(&config, "").unwrap();
        let config = config.display().to_string();
        let cache = dir.path().join("compiled").display().to_string();
        let time = || {
            let started = Instant::now();
            let worker = start(dir.path(), &config, &["--compile-cache", &cache]);
            let elapsed = started.elapsed();
            drop(worker);
            elapsed
        };
        let first = time();
        let second = time();
        let size = std::fs::metadata(guest(&file)).unwrap().len() as f64 / 1e6;
        rows.push(row(
            &format!("worker start with {language} ({size:.0} MB), second load"),
            format!("{:.0} ms", ms(second)),
            format!(
                "{:.3} x the first load, which compiles ({:.0} ms)",
                ms(second) / ms(first),
                ms(first)
            ),
        ));
    }
}

fn main() {
    // `cargo bench` passes `--bench`; other arguments name the sections to
    // run (`cargo bench --bench e2e -- outbound`), none: all of them.
    let chosen: Vec<String> = std::env::args()
        .skip(1)
        .filter(|arg| !arg.starts_with('-'))
        .collect();
    let runs = |section: &str| chosen.is_empty() || chosen.iter().any(|c| c == section);
    eprintln!("end-to-end benchmark: real workers, real redis-server");
    let server = RedisServer::start();
    let mut rows = Vec::new();
    if runs("http") {
        http_hit_vs_noop(&mut rows);
    }
    if runs("outbound") {
        outbound(&mut rows);
    }
    if runs("single-flight") {
        single_flight(&mut rows, &server);
    }
    if runs("redis-down") {
        redis_down(&mut rows);
    }
    if runs("memory-budget") {
        memory_budget(&mut rows);
    }
    if runs("payloads") {
        payloads(&mut rows);
    }
    if runs("cold-start") {
        cold_start(&mut rows);
    }
    if runs("languages") {
        language_loads(&mut rows);
    }

    let width = rows.iter().map(|r| r.figure.len()).max().unwrap_or(0);
    let value_width = rows.iter().map(|r| r.value.len()).max().unwrap_or(0);
    println!(
        "\n| {:width$} | {:value_width$} | compared, same run |",
        "figure", "value"
    );
    println!(
        "|{}|{}|---|",
        "-".repeat(width + 2),
        "-".repeat(value_width + 2)
    );
    for r in &rows {
        println!(
            "| {:width$} | {:value_width$} | {} |",
            r.figure, r.value, r.compared
        );
    }
}
