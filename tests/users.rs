//! End to end on the real `examples/users` component: the `activity-host`
//! binary and the library, with the in-memory store.

use crate::support;

use std::time::Duration;

use activity_host::{CachePolicy, Host, Outcome, RuleOverride, RulesConfig, Ttl, Val};
use serde_json::{Value, json};
use support::{activity_host, guest};

fn users() -> String {
    guest("users.wasm").display().to_string()
}

#[test]
fn second_identical_call_is_a_hit_and_the_body_ran_once() {
    let run = activity_host(&["call", &users(), "fetch-user(123)", "fetch-user(123)"]);
    assert!(run.success, "{}", run.stderr);
    assert_eq!(run.outcomes(), ["miss", "hit"]);
    assert_eq!(run.stderr_lines_with("users: ran fetch-user"), 1);
    let expected = r#"{id: 123, name: "User 123", email: "user123@example.com"}"#;
    assert_eq!(run.stdout_lines(), [expected, expected]);
    let calls = run.calls();
    assert_eq!(calls[0]["key"], calls[1]["key"]);
    assert_eq!(calls[0]["component"], "users");
    assert_eq!(calls[0]["export"], "example:users/api@0.1.0#fetch-user");
    assert_eq!(calls[0]["policy"], "inputs");
    assert!(calls[1]["elapsed_us"].is_u64());
}

#[test]
fn other_arguments_miss() {
    let run = activity_host(&[
        "call",
        &users(),
        "fetch-user(1)",
        "fetch-user(2)",
        "fetch-user(1)",
    ]);
    assert!(run.success, "{}", run.stderr);
    assert_eq!(run.outcomes(), ["miss", "miss", "hit"]);
    assert_eq!(run.stderr_lines_with("users: ran fetch-user"), 2);
    let calls = run.calls();
    assert_ne!(calls[0]["key"], calls[1]["key"]);
}

#[test]
fn no_cache_exports_bypass_every_time() {
    let run = activity_host(&[
        "call",
        &users(),
        r#"send-email("a@example.com")"#,
        r#"send-email("a@example.com")"#,
    ]);
    assert!(run.success, "{}", run.stderr);
    assert_eq!(run.outcomes(), ["bypass", "bypass"]);
    assert_eq!(run.stderr_lines_with("users: ran send-email"), 2);
    assert_eq!(run.stdout_lines(), ["()", "()"]);
    assert!(run.calls()[0].get("key").is_none(), "a bypass has no key");
}

#[test]
fn exports_answer_to_full_short_and_bare_names() {
    let run = activity_host(&[
        "call",
        &users(),
        "calculate(21)",
        "api#calculate(21)",
        "example:users/api@0.1.0#calculate(21)",
    ]);
    assert!(run.success, "{}", run.stderr);
    assert_eq!(run.stdout_lines(), ["42", "42", "42"]);
    assert_eq!(run.outcomes(), ["miss", "hit", "hit"]);
}

#[test]
fn cli_flags_override_declared_rules() {
    let run = activity_host(&[
        "call",
        &users(),
        "--policy",
        "send-email=inputs",
        "--policy",
        "api#fetch-user=no-cache",
        r#"send-email("a")"#,
        r#"send-email("a")"#,
        "fetch-user(1)",
        "fetch-user(1)",
    ]);
    assert!(run.success, "{}", run.stderr);
    assert_eq!(run.outcomes(), ["miss", "hit", "bypass", "bypass"]);
    assert_eq!(run.stderr_lines_with("users: ran send-email"), 1);
    assert_eq!(run.stderr_lines_with("users: ran fetch-user"), 2);
}

#[test]
fn refresh_runs_the_body_again_and_a_summary_counts_outcomes() {
    let run = activity_host(&[
        "call",
        &users(),
        "--refresh",
        "fetch-user(5)",
        "fetch-user(5)",
    ]);
    assert!(run.success, "{}", run.stderr);
    assert_eq!(run.outcomes(), ["miss", "miss"]);
    assert_eq!(run.stderr_lines_with("users: ran fetch-user"), 2);
    assert_eq!(run.calls()[1]["reason"], "refresh");
    let summary = run
        .stderr
        .lines()
        .find(|line| line.starts_with("users ") && line.contains("#fetch-user"))
        .unwrap_or_else(|| panic!("no summary row in:\n{}", run.stderr));
    let counts: Vec<&str> = summary.split_whitespace().skip(2).take(2).collect();
    assert_eq!(counts, ["0", "2"], "hits, misses: {summary}");
}

#[test]
fn inspect_lists_exports_signatures_and_rules() {
    let run = activity_host(&["inspect", &users(), "--ttl", "calculate=90s"]);
    assert!(run.success, "{}", run.stderr);
    let out = &run.stdout;
    assert!(out.contains("component users"), "{out}");
    for expected in [
        "example:users/api@0.1.0#fetch-user",
        "func(user-id: u64) -> record { id: u64, name: string, email: string }",
        "cache: inputs, ttl 1h",
        "example:users/api@0.1.0#calculate",
        "func(x: s64) -> s64",
        "cache: task-source, ttl 1m 30s",
        "example:users/api@0.1.0#send-email",
        "func(to: string)",
        "cache: no-cache",
    ] {
        assert!(out.contains(expected), "missing `{expected}` in:\n{out}");
    }
    assert!(
        !out.contains("declare"),
        "the contract's rules export is not an activity"
    );
    let sha = out
        .lines()
        .find(|l| l.trim_start().starts_with("sha256"))
        .unwrap();
    assert_eq!(sha.split_whitespace().nth(1).unwrap().len(), 64);
}

#[test]
fn bad_invocations_get_clear_errors_and_the_rest_still_run() {
    let run = activity_host(&[
        "call",
        &users(),
        "nope(1)",
        r#"fetch-user("x")"#,
        "fetch-user(9)",
    ]);
    assert!(!run.success, "a failed invocation makes the exit code 1");
    assert!(
        run.stderr.contains("`nope` is not an exported function"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("expected func(user-id: u64)"),
        "{}",
        run.stderr
    );
    assert_eq!(
        run.outcomes(),
        ["error", "error", "miss"],
        "every invocation has its line; only the valid call ran"
    );
    let kinds: Vec<_> = run.calls().iter().map(|c| c["error"].clone()).collect();
    assert_eq!(
        kinds,
        [json!("not-found"), json!("arguments"), Value::Null],
        "{}",
        run.stderr
    );
    assert_eq!(run.stderr_lines_with("users: ran fetch-user"), 1);
    assert_eq!(run.stdout_lines().len(), 1);
}

#[test]
fn unknown_rule_override_is_refused() {
    let run = activity_host(&[
        "call",
        &users(),
        "--policy",
        "fetch-users=inputs",
        "fetch-user(1)",
    ]);
    assert!(!run.success);
    assert!(
        run.stderr
            .contains("`fetch-users` is not an exported function"),
        "{}",
        run.stderr
    );
}

/// A component importing `example:missing/thing`, which no host provides.
fn component_with_an_unknown_import() -> Vec<u8> {
    let wit = "package example:missing;\n\
               interface thing { poke: func(); }\n\
               world w { import thing; export run: func(); }\n";
    support::wit::dummy_component(wit, "w")
}

#[test]
fn bad_component_files_are_rejected_with_an_error_that_names_the_problem() {
    let dir = tempfile::tempdir().unwrap();
    let users = std::fs::read(guest("users.wasm")).unwrap();
    let cases: [(&str, Option<Vec<u8>>, &str); 6] = [
        (
            "text",
            Some(b"hello".to_vec()),
            "not a WebAssembly component",
        ),
        ("empty", Some(Vec::new()), "not a WebAssembly component"),
        (
            "core module",
            Some(b"\0asm\x01\0\0\0".to_vec()),
            "core WebAssembly module, not a component",
        ),
        (
            "truncated component",
            Some(users[..users.len() / 2].to_vec()),
            "invalid component",
        ),
        (
            "unsatisfiable import",
            Some(component_with_an_unknown_import()),
            "example:missing/thing",
        ),
        ("missing file", None, "cannot read"),
    ];
    for (case, bytes, message) in cases {
        let file = dir.path().join(format!("{}.wasm", case.replace(' ', "-")));
        if let Some(bytes) = bytes {
            std::fs::write(&file, bytes).unwrap();
        }
        for command in ["inspect", "call"] {
            let mut args = vec![command, file.to_str().unwrap()];
            if command == "call" {
                args.push("run()");
            }
            let run = activity_host(&args);
            assert!(!run.success, "{case}: {command} should fail");
            assert!(run.stderr.contains(message), "{case}: {}", run.stderr);
            assert!(!run.stderr.contains("panicked"), "{case}: {}", run.stderr);
        }
    }
}

/// Loading a rebuilt component under the same name, in one process: its
/// `task-source` entries miss (and the new body runs), its `inputs` entries
/// still hit.
#[tokio::test]
async fn rebuilt_component_misses_task_source_and_hits_inputs() {
    let host = Host::builder().build().unwrap();
    host.load_file("users", guest("users.wasm")).await.unwrap();
    let first = host
        .call("users", "calculate", &[Val::S64(7)])
        .await
        .unwrap();
    assert_eq!(
        (first.outcome, first.results()),
        (Outcome::Miss, &[Val::S64(14)][..])
    );
    let user = host
        .call("users", "fetch-user", &[Val::U64(5)])
        .await
        .unwrap();
    assert_eq!(user.outcome, Outcome::Miss);

    let rebuilt = host
        .load_file("users", guest("users-changed-body.wasm"))
        .await
        .unwrap();
    assert_ne!(
        rebuilt.code_hash_hex(),
        host_code_hash_of("users.wasm").await
    );
    let again = host
        .call("users", "calculate", &[Val::S64(7)])
        .await
        .unwrap();
    assert_eq!(again.outcome, Outcome::Miss, "task-source follows the code");
    assert_eq!(again.results(), [Val::S64(21)], "the new body ran");
    let user_again = host
        .call("users", "fetch-user", &[Val::U64(5)])
        .await
        .unwrap();
    assert_eq!(user_again.outcome, Outcome::Hit, "inputs ignores the code");
    assert_eq!(user_again.results(), user.results());
    assert_eq!(user_again.key, user.key);
}

async fn host_code_hash_of(file: &str) -> String {
    let host = Host::builder().build().unwrap();
    host.load_file("x", guest(file))
        .await
        .unwrap()
        .code_hash_hex()
}

#[tokio::test]
async fn hits_return_exactly_what_the_function_returned() {
    let host = Host::builder().build().unwrap();
    host.load_file("users", guest("users.wasm")).await.unwrap();
    let miss = host
        .call("users", "fetch-user", &[Val::U64(u64::MAX)])
        .await
        .unwrap();
    let hit = host
        .call("users", "fetch-user", &[Val::U64(u64::MAX)])
        .await
        .unwrap();
    assert_eq!(hit.outcome, Outcome::Hit);
    assert_eq!(hit.results(), miss.results());
    let Val::Record(fields) = &hit.results()[0] else {
        panic!("not a record: {:?}", hit.results())
    };
    assert_eq!(fields[0], ("id".to_owned(), Val::U64(u64::MAX)));
}

#[tokio::test]
async fn mistyped_arguments_are_refused_not_keyed() {
    let host = Host::builder().build().unwrap();
    host.load_file("users", guest("users.wasm")).await.unwrap();
    host.call("users", "fetch-user", &[Val::U64(1)])
        .await
        .unwrap();
    // Same bytes as u64 1, but the wrong type: an error, never a hit.
    let error = host
        .call("users", "fetch-user", &[Val::S64(1)])
        .await
        .unwrap_err();
    assert!(error.to_string().contains("invalid arguments"), "{error}");
}

#[tokio::test]
async fn results_expire_after_their_ttl() {
    let mut rules = RulesConfig::default();
    let ttl = RuleOverride {
        ttl: Some(Ttl::After(Duration::from_millis(100))),
        ..RuleOverride::default()
    };
    rules.set("users", "fetch-user", ttl);
    let host = Host::builder().rules(rules).build().unwrap();
    host.load_file("users", guest("users.wasm")).await.unwrap();
    let call = || host.call("users", "fetch-user", &[Val::U64(1)]);
    assert_eq!(call().await.unwrap().outcome, Outcome::Miss);
    assert_eq!(call().await.unwrap().outcome, Outcome::Hit);
    tokio::time::sleep(Duration::from_millis(250)).await;
    assert_eq!(call().await.unwrap().outcome, Outcome::Miss);
}

#[tokio::test]
async fn policy_override_applies_through_the_library() {
    let mut rules = RulesConfig::default();
    let no_cache = RuleOverride {
        policy: Some(CachePolicy::NoCache),
        ..RuleOverride::default()
    };
    rules.set("users", "calculate", no_cache);
    let host = Host::builder().rules(rules).build().unwrap();
    host.load_file("users", guest("users.wasm")).await.unwrap();
    for _ in 0..2 {
        let report = host
            .call("users", "calculate", &[Val::S64(1)])
            .await
            .unwrap();
        assert_eq!(report.outcome, Outcome::Bypass);
    }
}

#[test]
fn compiled_components_are_kept_on_disk_and_reused() {
    let cache = tempfile::tempdir().unwrap();
    let dir = cache.path().display().to_string();
    let run = || {
        let run = activity_host(&["call", &users(), "--compile-cache", &dir, "calculate(4)"]);
        assert!(run.success, "{}", run.stderr);
        run
    };
    let first = run();
    let compiled: Vec<_> = walk(cache.path());
    assert!(
        compiled
            .iter()
            .any(|p| p.to_string_lossy().contains("wasmtime-")),
        "the compiled component is stored: {compiled:?}"
    );
    let second = run();
    assert_eq!(first.stdout, "8\n");
    assert_eq!(
        second.stdout, first.stdout,
        "loaded from the cache, same results"
    );
    let off = activity_host(&["call", &users(), "--compile-cache", "off", "calculate(4)"]);
    assert_eq!(off.stdout, "8\n");

    // A relative directory is taken from the working directory (wasmtime
    // itself insists on an absolute one).
    let here = tempfile::tempdir_in(".").unwrap();
    let relative = here.path().file_name().unwrap().to_str().unwrap();
    let run = activity_host(&[
        "call",
        &users(),
        "--compile-cache",
        relative,
        "calculate(4)",
    ]);
    assert!(run.success, "{}", run.stderr);
    assert!(!walk(here.path()).is_empty(), "compiled into ./{relative}");
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .flat_map(|entry| {
            let path = entry.path();
            if path.is_dir() {
                walk(&path)
            } else {
                vec![path]
            }
        })
        .collect()
}

#[test]
fn inspect_shows_what_a_component_can_reach() {
    // A component that imports nothing (every example reaches a clock or
    // the network).
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("pure.wasm");
    let wit = "package example:pure;\nworld w { export double: func(x: u32) -> u32; }\n";
    std::fs::write(&file, support::wit::dummy_component(wit, "w")).unwrap();
    let pure = activity_host(&["inspect", file.to_str().unwrap()]);
    assert!(pure.success, "{}", pure.stderr);
    assert!(
        pure.stdout.contains(
            "purity  reaches no clock, randomness, network, writable file or environment"
        ),
        "{}",
        pure.stdout
    );
    assert!(pure.stdout.contains("imports (none)"), "{}", pure.stdout);
    assert_eq!(pure.stderr_lines_with("nondeterministic"), 0);

    let typed = guest("typed.wasm").display().to_string();
    let sleeper = activity_host(&["inspect", &typed]);
    assert!(sleeper.success, "{}", sleeper.stderr);
    assert!(
        sleeper.stdout.contains("purity  can reach clocks"),
        "its `slow` sleeps: {}",
        sleeper.stdout
    );
    assert_eq!(
        sleeper.stderr_lines_with("cached exports can reach nondeterministic capabilities"),
        1,
        "one warning at load, naming the cached exports"
    );
}
