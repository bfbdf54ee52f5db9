//! What a new user meets in the first hour: errors that name the thing once
//! (and suggest the right name), arguments too large for a command line,
//! a worker that starts before its components are there and says where it
//! caches, addresses written as people write them.

use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::process::LoggedProcess;
use crate::support::redis::free_port;
use crate::support::worker::Worker;
use crate::support::{activity_host, guest};

fn users() -> String {
    guest("users.wasm").display().to_string()
}

#[test]
fn errors_name_the_file_once_and_suggest_the_kebab_case_name() {
    let missing = activity_host(&["call", "nope.wasm", "x()"]);
    assert!(!missing.success);
    assert_eq!(
        missing.stderr.matches("nope.wasm").count(),
        1,
        "{}",
        missing.stderr
    );
    assert_eq!(
        missing.stderr.matches("No such file or directory").count(),
        1,
        "{}",
        missing.stderr
    );

    let snake = activity_host(&["call", &users(), "fetch_user(1)", "sendEmail(\"a\")"]);
    assert!(!snake.success);
    assert!(
        snake
            .stderr
            .contains("`fetch_user` is not an exported function (did you mean `fetch-user`?)"),
        "{}",
        snake.stderr
    );
    assert!(
        snake.stderr.contains("(did you mean `send-email`?)"),
        "{}",
        snake.stderr
    );
    assert!(
        !snake.stderr.contains("hits  misses"),
        "no summary table after a failed call: {}",
        snake.stderr
    );
    let arity = activity_host(&["call", &users(), "fetch-user(1, 2)"]);
    assert!(!arity.success);
    let quiet = activity_host(&["call", "--quiet", &users(), "calculate(2)"]);
    assert!(quiet.success, "{}", quiet.stderr);
    assert_eq!(quiet.stdout.trim(), "4");
    assert!(!quiet.stderr.contains("hits  misses"), "{}", quiet.stderr);
}

#[test]
fn large_arguments_come_from_a_file_or_standard_input() {
    let typed = guest("typed.wasm").display().to_string();
    let dir = tempfile::tempdir().unwrap();
    // Twice the largest argument a shell passes in one word.
    let text = "ab".repeat(128 * 1024);
    let wave = dir.path().join("args.wave");
    std::fs::write(&wave, format!("\"{text}\"")).unwrap();
    let json = dir.path().join("args.json");
    std::fs::write(&json, serde_json::json!([text]).to_string()).unwrap();
    for file in [&wave, &json] {
        let run = activity_host(&[
            "call",
            "-q",
            &typed,
            "echo#echo-string",
            "--args-file",
            file.to_str().unwrap(),
        ]);
        assert!(run.success, "{}", run.stderr);
        assert_eq!(run.stdout.trim(), format!("\"{text}\""));
    }
    let mut child = Command::new(env!("CARGO_BIN_EXE_activity-host"))
        .args(["call", "-q", &typed, "echo#echo-string", "--args-file", "-"])
        .args(["--args-format", "json"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write as _;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(br#"["from stdin"]"#)
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success());
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).trim(),
        "\"from stdin\""
    );

    // A worker's threads have smaller stacks than the main thread: a 1 MB
    // WAVE string parses there too (debug builds included).
    let components = tempfile::tempdir().unwrap();
    std::fs::copy(guest("typed.wasm"), components.path().join("typed.wasm")).unwrap();
    let worker = Worker::start(components.path(), &["--max-body-bytes", "4000000"]);
    let big = "x".repeat(1 << 20);
    let reply = worker.call("typed", &format!("echo#echo-string(\"{big}\")"));
    assert_eq!(reply.status, 200, "{}", worker.log());
    assert_eq!(reply.body["result"].as_str().map(str::len), Some(big.len()));
    // A large argument that does not parse (nested deeper than any type)
    // is quoted by its start, in the answer and in the log: no line the
    // size of the argument.
    let deep = format!("{}{}", "[".repeat(200_000), "]".repeat(200_000));
    let reply = worker.call("typed", &format!("echo#echo-lists({deep})"));
    assert_eq!(reply.status, 400, "{}", reply.body);
    let error = reply.body["error"].as_str().unwrap();
    assert!(error.contains("bytes in all)`"), "{error}");
    assert!(error.contains("nesting too deep"), "{error}");
    let longest = worker.log().lines().map(str::len).max().unwrap_or(0);
    assert!(longest < 2000, "a log line of {longest} bytes");
    let deep_file = dir.path().join("deep.wave");
    std::fs::write(&deep_file, &deep).unwrap();
    let run = activity_host(&[
        "call",
        &typed,
        "echo#echo-lists",
        "--args-file",
        deep_file.to_str().unwrap(),
    ]);
    assert!(!run.success);
    assert!(
        run.stderr
            .contains("error: echo#echo-lists(…): cannot parse"),
        "{}",
        &run.stderr[..run.stderr.len().min(2000)]
    );
    assert!(run.stderr.lines().all(|line| line.len() < 2000));

    let two = activity_host(&["call", &typed, "a", "b", "--args-file", "x.json"]);
    assert!(
        two.stderr.contains("give the export's name alone"),
        "{}",
        two.stderr
    );
}

/// GETs `url`, or status 0 when nothing answers.
fn status(url: &str) -> u16 {
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .new_agent();
    agent.get(url).call().map_or(0, |r| r.status().as_u16())
}

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done() {
        assert!(Instant::now() < deadline, "{what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_worker_starts_on_an_empty_directory_and_serves_what_appears() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let worker = LoggedProcess::spawn(
        Command::new(env!("CARGO_BIN_EXE_activity-host"))
            .args(["serve", "--log-format", "json", "--dir"])
            .arg(dir.path())
            .args(["--listen", &format!("localhost:{port}")])
            .args(["--store", "redis://user:hunter2@127.0.0.1:1"]),
    );
    let url = format!("http://127.0.0.1:{port}");
    wait_until("the worker answers on localhost", || {
        status(&format!("{url}/healthz")) == 200
    });
    let log = worker.log();
    assert!(log.contains("no component in"), "{log}");
    let listening = log
        .lines()
        .find(|line| line.contains("worker listening"))
        .unwrap();
    assert!(
        listening.contains(r#""store":"redis://user:***@127.0.0.1:1""#),
        "the start-up line names the store, password hidden: {listening}"
    );
    std::fs::copy(guest("users.wasm"), dir.path().join("users.wasm")).unwrap();
    let client = ["call", "--worker", &format!("127.0.0.1:{port}"), "users"];
    wait_until("users.wasm is served", || {
        activity_host(&[&client[..], &["calculate(3)"]].concat()).success
    });

    // Another worker on the same address says which address is taken.
    let second = activity_host(&[
        "serve",
        "--dir",
        dir.path().to_str().unwrap(),
        "--listen",
        &format!("127.0.0.1:{port}"),
    ]);
    assert!(!second.success);
    assert!(
        second
            .stderr
            .contains(&format!("cannot listen on 127.0.0.1:{port}")),
        "{}",
        second.stderr
    );
    drop(worker);
    let gone = activity_host(&[&client[..], &["calculate(3)"]].concat());
    assert!(
        gone.stderr.contains(&format!(
            "cannot reach the worker at http://127.0.0.1:{port}"
        )),
        "{}",
        gone.stderr
    );
}

#[test]
fn a_worker_watches_a_directory_that_does_not_exist_yet() {
    let parent = tempfile::tempdir().unwrap();
    let dir = parent.path().join("components");
    let worker = Worker::start(&dir, &[]);
    assert_eq!(
        worker.log_lines_with("cannot list the component directory"),
        1
    );
    std::fs::create_dir(&dir).unwrap();
    std::fs::copy(guest("users.wasm"), dir.join("users.wasm")).unwrap();
    wait_until("the new directory's component is served", || {
        worker.call("users", "calculate(5)").status == 200
    });
    assert_eq!(
        worker.log_lines_with("cannot list the component directory"),
        1,
        "said once, not every second"
    );
}

#[test]
fn the_purity_warning_comes_once_per_digest_and_can_be_acknowledged() {
    let warning = "cached exports can reach nondeterministic capabilities";
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(guest("users.wasm"), dir.path().join("users.wasm")).unwrap();
    std::fs::copy(guest("typed.wasm"), dir.path().join("typed.wasm")).unwrap();
    let config = dir.path().join("host.toml");
    std::fs::write(
        &config,
        "[components.typed]\nallow-nondeterministic = true\n\n\
         [components.users.exports.fetch-user]\nallow-nondeterministic = true\n",
    )
    .unwrap();
    let components = dir.path().to_path_buf();
    let worker = Worker::start(&components, &["--config", config.to_str().unwrap()]);
    let warned: Vec<String> = worker
        .log()
        .lines()
        .filter(|line| line.contains(warning))
        .map(str::to_owned)
        .collect();
    assert_eq!(warned.len(), 1, "typed is acknowledged: {warned:?}");
    assert!(
        warned[0].contains(r#""component":"users""#),
        "{}",
        warned[0]
    );
    assert!(
        !warned[0].contains("#fetch-user") && warned[0].contains("#calculate"),
        "fetch-user is acknowledged: {}",
        warned[0]
    );
    // The same bytes again (a redeploy of an unchanged file): loaded again,
    // not warned again.
    let bytes = std::fs::read(guest("users.wasm")).unwrap();
    let staging = components.join(".users.wasm.new");
    std::fs::write(&staging, &bytes).unwrap();
    std::fs::rename(&staging, components.join("users.wasm")).unwrap();
    wait_until("the file is loaded again", || {
        worker.log_lines_with(r#""event":"reloaded""#) == 1
    });
    assert_eq!(worker.log_lines_with(warning), 1, "{}", worker.log());
    let inspect = activity_host(&["inspect", &users()]);
    assert!(
        inspect.stdout.contains("purity  can reach network"),
        "inspect still prints the verdict: {}",
        inspect.stdout
    );
}

/// `activity-host new NAME --lang LANG` in a directory outside the
/// repository, built with the language's own tools.
fn scaffold_and_build(lang: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let root = crate::support::repo_root();
    let outside = tempfile::tempdir().unwrap();
    let project = outside.path().join("greeter");
    let created = activity_host(&[
        "new",
        "greeter",
        "--lang",
        lang,
        "--dir",
        project.to_str().unwrap(),
    ]);
    assert!(created.success, "{lang}: {}", created.stderr);
    assert!(
        created.stdout.contains("activity-host call"),
        "{}",
        created.stdout
    );
    let mut build = match lang {
        "rust" => {
            let mut cargo = Command::new("cargo");
            cargo
                .args(["build", "--release", "--target", "wasm32-wasip2"])
                .env("CARGO_TARGET_DIR", root.join("target/scaffold"));
            cargo
        }
        _ => Command::new(project.join("build.sh")),
    };
    // The tools build-guests.sh installed: no second download.
    let tools = root.join("target/tools");
    if lang == "js" {
        std::os::unix::fs::symlink(
            tools.join("js-users/node_modules"),
            project.join("node_modules"),
        )
        .unwrap();
    }
    let output = build
        .current_dir(&project)
        .env(
            "COMPONENTIZE_PY",
            tools.join("componentize-py/bin/componentize-py"),
        )
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("RUSTC_WRAPPER")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{lang} build failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let component = match lang {
        "rust" => root.join("target/scaffold/wasm32-wasip2/release/greeter.wasm"),
        _ => project.join("greeter.wasm"),
    };
    (outside, component)
}

#[test]
fn new_projects_in_each_language_build_and_hit_on_the_second_call() {
    // The languages' tools come with the example guests.
    guest("python-users.wasm");
    guest("js-users.wasm");
    for lang in ["rust", "python", "js"] {
        let (_project, component) = scaffold_and_build(lang);
        let run = activity_host(&[
            "call",
            component.to_str().unwrap(),
            "hello(\"Ada\")",
            "hello(\"Ada\")",
            "record-event(\"signup\")",
        ]);
        assert!(run.success, "{lang}: {}", run.stderr);
        assert_eq!(
            run.stdout_lines(),
            ["\"Hello, Ada!\"", "\"Hello, Ada!\"", "()"],
            "{lang}"
        );
        assert_eq!(run.outcomes(), ["miss", "hit", "bypass"], "{lang}");
        assert_eq!(run.stderr_lines_with("greeter: ran hello"), 1, "{lang}");
    }
}

#[test]
fn settings_for_a_component_the_worker_does_not_serve_are_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("host.toml");
    std::fs::write(
        &config,
        "[components.userz.exports.fetch-user]\nttl = \"1h\"\n",
    )
    .unwrap();
    let run = activity_host(&[
        "serve",
        "--config",
        config.to_str().unwrap(),
        "--listen",
        &format!("127.0.0.1:{}", free_port()),
        &users(),
    ]);
    assert!(!run.success);
    assert!(
        run.stderr.contains(
            "the configuration has settings for [components.userz] but this worker serves no such component (it serves: users)"
        ),
        "{}",
        run.stderr
    );
}

#[test]
fn serve_overrides_rules_per_component_and_export() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(guest("users.wasm"), dir.path().join("users.wasm")).unwrap();
    let worker = Worker::start(
        dir.path(),
        &[
            "--ttl",
            "users/fetch-user=250ms",
            "--policy",
            "users/calculate=no-cache",
        ],
    );
    let listed = worker.get("/v1/components").body;
    let exports = listed[0]["exports"].as_array().unwrap();
    let rule = |name: &str| {
        exports
            .iter()
            .find(|e| e["path"].as_str().unwrap().ends_with(&format!("#{name}")))
            .map(|e| e["rule"].clone())
            .unwrap()
    };
    assert_eq!(rule("fetch-user")["ttl_ms"], 250, "{listed}");
    assert_eq!(rule("calculate")["policy"], "no-cache", "{listed}");
    let calls = [
        worker.call("users", "calculate(1)"),
        worker.call("users", "calculate(1)"),
    ];
    assert_eq!(calls.map(|c| c.cache.unwrap()), ["bypass", "bypass"]);
    let bad = activity_host(&["serve", "--ttl", "fetch-user=1m", "--dir", "."]);
    assert!(
        bad.stderr.contains("expected COMPONENT/EXPORT=VALUE"),
        "{}",
        bad.stderr
    );
}
