//! The memoization engine on the real `typed` fixture component, through the
//! library: single-flight, errors and traps, ignored parameters, refresh,
//! invalidation, damaged entries, function identity, stats.

use crate::support;

use std::sync::Arc;

use activity_host::{
    CachePolicy, CacheStore, CallOptions, Host, HostError, InstanceMode, LoadError,
    MemoryOutputPipe, Outcome, RuleOverride, RulesConfig, Val, WarmConfig,
};
use activity_host::{MemoryStore, Slot};
use support::guest;

/// A host with the typed fixture loaded as `typed`, its guest output
/// captured, and `rules` applied.
async fn typed_host(rules: RulesConfig, store: Arc<dyn CacheStore>) -> (Host, MemoryOutputPipe) {
    let output = MemoryOutputPipe::new(1 << 20);
    let host = Host::builder()
        .rules(rules)
        .store(store)
        .capture_guest_stderr(output.clone())
        .build()
        .unwrap();
    host.load_file("typed", guest("typed.wasm")).await.unwrap();
    (host, output)
}

async fn typed() -> (Host, MemoryOutputPipe) {
    typed_host(RulesConfig::default(), Arc::new(MemoryStore::default())).await
}

/// How many times the guest body `function` ran.
fn runs(output: &MemoryOutputPipe, function: &str) -> usize {
    let needle = format!("typed: ran {function}\n");
    String::from_utf8_lossy(&output.contents())
        .matches(&needle)
        .count()
}

fn stats(host: &Host, export: &str) -> activity_host::ExportStats {
    host.stats()
        .into_iter()
        .find(|(_, path, _)| path.ends_with(&format!("#{export}")))
        .map(|(_, _, stats)| stats)
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_identical_misses_run_the_body_once() {
    let (host, output) = typed().await;
    let host = Arc::new(host);
    let calls: Vec<_> = (0..20)
        .map(|_| {
            let host = host.clone();
            tokio::spawn(async move { host.call_wave("typed", "slow(7, 300)").await })
        })
        .collect();
    let mut outcomes = Vec::new();
    for call in calls {
        let report = call.await.unwrap().unwrap();
        assert_eq!(
            report.results(),
            [Val::U32(7)],
            "every waiter gets the result"
        );
        outcomes.push(report.outcome);
    }
    assert_eq!(runs(&output, "slow"), 1, "the body ran once");
    assert_eq!(outcomes.iter().filter(|o| **o == Outcome::Miss).count(), 1);
    let counters = stats(&host, "slow");
    assert_eq!(
        (counters.misses, counters.hits, counters.waits),
        (1, 19, 19)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn different_keys_do_not_wait_for_each_other() {
    let (host, output) = typed().await;
    let host = Arc::new(host);
    let calls: Vec<_> = (0..4)
        .map(|id| {
            let host = host.clone();
            tokio::spawn(async move { host.call_wave("typed", &format!("slow({id}, 100)")).await })
        })
        .collect();
    for call in calls {
        assert_eq!(call.await.unwrap().unwrap().outcome, Outcome::Miss);
    }
    assert_eq!(runs(&output, "slow"), 4);
    assert_eq!(stats(&host, "slow").waits, 0);
}

#[tokio::test]
async fn err_results_are_not_cached_unless_the_rule_says_so() {
    let (host, output) = typed().await;
    for _ in 0..2 {
        let report = host.call_wave("typed", r#"lookup(1, "t")"#).await.unwrap();
        assert_eq!(report.outcome, Outcome::Miss);
        assert!(matches!(report.results(), [Val::Result(Err(_))]));
    }
    assert_eq!(runs(&output, "lookup"), 2, "an err result ran every time");

    let mut rules = RulesConfig::default();
    let cache_errors = RuleOverride {
        cache_errors: Some(true),
        ..RuleOverride::default()
    };
    rules.set("typed", "lookup", cache_errors);
    let (host, output) = typed_host(rules, Arc::new(MemoryStore::default())).await;
    let first = host.call_wave("typed", r#"lookup(1, "t")"#).await.unwrap();
    let second = host.call_wave("typed", r#"lookup(1, "t")"#).await.unwrap();
    assert_eq!(
        (first.outcome, second.outcome),
        (Outcome::Miss, Outcome::Hit)
    );
    assert_eq!(first.results(), second.results());
    assert_eq!(runs(&output, "lookup"), 1);
}

#[tokio::test]
async fn ignored_parameters_do_not_change_the_key() {
    let (host, output) = typed().await;
    let first = host
        .call_wave("typed", r#"lookup(2, "trace-a")"#)
        .await
        .unwrap();
    let second = host
        .call_wave("typed", r#"lookup(2, "trace-b")"#)
        .await
        .unwrap();
    assert_eq!(
        (first.outcome, second.outcome),
        (Outcome::Miss, Outcome::Hit)
    );
    assert_eq!(first.key, second.key);
    assert_eq!(runs(&output, "lookup"), 1);
    let other_id = host
        .call_wave("typed", r#"lookup(4, "trace-a")"#)
        .await
        .unwrap();
    assert_eq!(other_id.outcome, Outcome::Miss);
    // Still type-checked although ignored.
    let error = host
        .call("typed", "lookup", &[Val::U32(2), Val::U32(5)])
        .await
        .unwrap_err();
    assert!(error.to_string().contains("invalid arguments"), "{error}");
}

#[tokio::test]
async fn traps_are_errors_never_cached_and_the_host_keeps_serving() {
    let (host, output) = typed().await;
    for _ in 0..2 {
        let error = host.call_wave("typed", "divide(0)").await.unwrap_err();
        assert!(matches!(error, HostError::Call(_)), "{error}");
        assert!(error.to_string().contains("divide"), "{error}");
    }
    assert_eq!(
        runs(&output, "divide"),
        2,
        "a trap is never served from the cache"
    );
    assert_eq!(stats(&host, "divide").errors, 2);
    let report = host.call_wave("typed", "divide(4)").await.unwrap();
    assert_eq!(
        (report.outcome, report.results()),
        (Outcome::Miss, &[Val::U32(25)][..])
    );
}

#[tokio::test]
async fn refresh_recomputes_and_overwrites() {
    let (host, output) = typed().await;
    let refresh = CallOptions::default().with_refresh(true);
    host.call_wave("typed", r#"echo#echo-string("a")"#)
        .await
        .unwrap();
    let refreshed = host
        .call_wave_with("typed", r#"echo#echo-string("a")"#, refresh)
        .await
        .unwrap();
    assert_eq!(refreshed.outcome, Outcome::Miss);
    assert_eq!(runs(&output, "echo-string"), 2);
    let after = host
        .call_wave("typed", r#"echo#echo-string("a")"#)
        .await
        .unwrap();
    assert_eq!(after.outcome, Outcome::Hit);
    assert_eq!(runs(&output, "echo-string"), 2);
}

#[tokio::test]
async fn invalidating_an_entry_matches_however_the_arguments_are_written() {
    let (host, _) = typed().await;
    let call = r#"echo-record({x: 1, y: 2, label: "p"})"#;
    host.call_wave("typed", call).await.unwrap();
    assert_eq!(
        host.call_wave("typed", call).await.unwrap().outcome,
        Outcome::Hit
    );
    let key = host
        .invalidate_entry_wave("typed", r#"echo-record({label: "p", y: 2, x: 1})"#)
        .await
        .unwrap();
    let after = host.call_wave("typed", call).await.unwrap();
    assert_eq!(after.outcome, Outcome::Miss);
    assert_eq!(after.key.unwrap().short(), key);

    host.call_wave("typed", "echo-flags({read, exec})")
        .await
        .unwrap();
    host.invalidate_entry_wave("typed", "echo-flags({exec, read})")
        .await
        .unwrap();
    let flags = host
        .call_wave("typed", "echo-flags({read, exec})")
        .await
        .unwrap();
    assert_eq!(flags.outcome, Outcome::Miss);

    // Ignored parameters do not matter either.
    host.call_wave("typed", r#"lookup(2, "a")"#).await.unwrap();
    host.invalidate_entry_wave("typed", r#"lookup(2, "zzz")"#)
        .await
        .unwrap();
    assert_eq!(
        host.call_wave("typed", r#"lookup(2, "a")"#)
            .await
            .unwrap()
            .outcome,
        Outcome::Miss
    );

    let not_cached = host.invalidate_entry_wave("typed", "read-counter").await;
    assert!(not_cached.is_err());
}

#[tokio::test]
async fn invalidating_an_export_or_a_component_spares_the_rest() {
    let (host, _) = typed().await;
    let warm = || async {
        host.call_wave("typed", "echo-bool(true)").await.unwrap();
        host.call_wave("typed", "echo-char('x')").await.unwrap();
    };
    let outcome = |call: &'static str| {
        let host = &host;
        async move { host.call_wave("typed", call).await.unwrap().outcome }
    };
    warm().await;
    host.invalidate_export("typed", "echo-bool").await.unwrap();
    assert_eq!(outcome("echo-bool(true)").await, Outcome::Miss);
    assert_eq!(outcome("echo-char('x')").await, Outcome::Hit);

    host.invalidate_component("typed").await.unwrap();
    assert_eq!(outcome("echo-bool(true)").await, Outcome::Miss);
    assert_eq!(outcome("echo-char('x')").await, Outcome::Miss);
    assert_eq!(
        outcome("echo-char('x')").await,
        Outcome::Hit,
        "new entries are cached again"
    );
}

#[tokio::test]
async fn damaged_entries_are_misses_and_are_overwritten() {
    let store = MemoryStore::default();
    let (host, output) = typed_host(RulesConfig::default(), Arc::new(store.clone())).await;
    let call = r#"echo#echo-string("value")"#;
    let first = host.call_wave("typed", call).await.unwrap();
    let key = first.key.unwrap();
    let export = "example:typed/echo@0.1.0#echo-string";
    let slot = Slot::result(&key, "typed", export);
    let good = store.get(slot).await.unwrap().entry().unwrap();
    let mut other_signature = good.to_vec();
    other_signature[4] ^= 0xff;
    let damaged: Vec<Vec<u8>> = vec![
        b"garbage".to_vec(),
        good[..good.len() - 1].to_vec(),
        [&good[..], b"x"].concat(),
        other_signature,
        Vec::new(),
    ];
    for (round, bytes) in damaged.into_iter().enumerate() {
        store.set(slot, bytes.into(), None).await.unwrap();
        let report = host.call_wave("typed", call).await.unwrap();
        assert_eq!(report.outcome, Outcome::Miss, "round {round}");
        assert_eq!(report.results(), first.results(), "round {round}");
        let again = host.call_wave("typed", call).await.unwrap();
        assert_eq!(
            again.outcome,
            Outcome::Hit,
            "round {round}: overwritten with a good entry"
        );
    }
    assert_eq!(runs(&output, "echo-string"), 6);
}

#[tokio::test]
async fn same_function_names_never_share_entries() {
    let (host, _) = typed().await;
    let echo = host
        .call_wave("typed", r#"echo#echo-string("abc")"#)
        .await
        .unwrap();
    let behave = host
        .call_wave("typed", r#"behave#echo-string("abc")"#)
        .await
        .unwrap();
    assert_eq!(echo.results(), [Val::String("abc".into())]);
    assert_eq!(behave.outcome, Outcome::Miss);
    assert_eq!(behave.results(), [Val::String("ABC".into())]);
    let ambiguous = host
        .call_wave("typed", r#"echo-string("abc")"#)
        .await
        .unwrap_err();
    assert!(ambiguous.to_string().contains("ambiguous"), "{ambiguous}");

    // The same component under two names: separate entries too.
    host.load_file("twin", guest("typed.wasm")).await.unwrap();
    let twin = host
        .call_wave("twin", r#"echo#echo-string("abc")"#)
        .await
        .unwrap();
    assert_eq!(twin.outcome, Outcome::Miss);
    assert_ne!(twin.key, echo.key);
}

#[tokio::test]
async fn resource_functions_cannot_be_cached() {
    let mut rules = RulesConfig::default();
    let inputs = RuleOverride {
        policy: Some(CachePolicy::Inputs),
        ..RuleOverride::default()
    };
    rules.set("typed", "read-counter", inputs);
    let host = Host::builder().rules(rules).build().unwrap();
    let error = host
        .load_file("typed", guest("typed.wasm"))
        .await
        .unwrap_err();
    assert!(matches!(error, LoadError::Uncacheable { .. }), "{error}");
    assert!(error.to_string().contains("read-counter"), "{error}");
    assert!(error.to_string().contains("resource"), "{error}");

    // A default policy for undeclared exports skips them instead.
    let everything = RulesConfig {
        undeclared: Some(CachePolicy::Inputs),
        ..RulesConfig::default()
    };
    let host = Host::builder().rules(everything).build().unwrap();
    let typed = host.load_file("typed", guest("typed.wasm")).await.unwrap();
    let counter = typed.export("read-counter").unwrap();
    assert_eq!(counter.rule.policy, CachePolicy::NoCache);
}

#[tokio::test]
async fn rules_that_name_unknown_parameters_are_refused() {
    let mut rules = RulesConfig::default();
    let ignore = RuleOverride {
        ignore_params: Some(vec!["trace".into()]),
        ..RuleOverride::default()
    };
    rules.set("typed", "lookup", ignore);
    let host = Host::builder().rules(rules).build().unwrap();
    let error = host
        .load_file("typed", guest("typed.wasm"))
        .await
        .unwrap_err();
    assert!(error.to_string().contains("ignores `trace`"), "{error}");
    assert!(error.to_string().contains("id, trace-id"), "{error}");
}

#[tokio::test]
async fn stats_count_every_outcome_and_stored_bytes() {
    let mut rules = RulesConfig::default();
    let no_cache = RuleOverride {
        policy: Some(CachePolicy::NoCache),
        ..RuleOverride::default()
    };
    rules.set("typed", "echo-char", no_cache);
    let (host, _) = typed_host(rules, Arc::new(MemoryStore::default())).await;
    host.call_wave("typed", "echo-bool(true)").await.unwrap();
    host.call_wave("typed", "echo-bool(true)").await.unwrap();
    host.call_wave("typed", "echo-char('a')").await.unwrap();
    host.call_wave("typed", "divide(0)").await.unwrap_err();
    let bool_stats = stats(&host, "echo-bool");
    assert_eq!((bool_stats.hits, bool_stats.misses), (1, 1));
    assert!(
        bool_stats.stored_bytes > 36,
        "header plus payload: {}",
        bool_stats.stored_bytes
    );
    assert_eq!(stats(&host, "echo-char").bypasses, 1);
    assert_eq!(stats(&host, "divide").errors, 1);
}

/// The typed fixture in `mode`, and a closure-friendly counter reader.
async fn typed_in(mode: InstanceMode) -> Host {
    let host = Host::builder()
        .instance_mode("typed", mode)
        .capture_guest_stderr(MemoryOutputPipe::new(1 << 20))
        .build()
        .unwrap();
    host.load_file("typed", guest("typed.wasm")).await.unwrap();
    host
}

async fn counts(host: &Host, calls: usize) -> Vec<u32> {
    let mut seen = Vec::new();
    for _ in 0..calls {
        let report = host.call_wave("typed", "count()").await.unwrap();
        let [Val::U32(n)] = report.results()[..] else {
            panic!("{:?}", report.results())
        };
        seen.push(n);
    }
    seen
}

#[tokio::test]
async fn fresh_instances_keep_no_state_between_calls() {
    let host = typed_in(InstanceMode::Fresh).await;
    assert_eq!(counts(&host, 3).await, [1, 1, 1]);
    assert!(host.warm_instances().is_empty());
}

#[tokio::test]
async fn actor_mode_keeps_guest_memory_warm_and_drops_trapped_instances() {
    let host = typed_in(InstanceMode::Warm(WarmConfig::default())).await;
    assert_eq!(
        counts(&host, 3).await,
        [1, 2, 3],
        "guest memory survives between calls"
    );
    assert_eq!(host.warm_instances(), [("typed".to_owned(), 1)]);
    host.call_wave("typed", "divide(0)").await.unwrap_err();
    assert_eq!(
        counts(&host, 2).await,
        [1, 2],
        "the trapped instance was dropped"
    );
}

#[tokio::test]
async fn actor_mode_recycles_instances_after_max_uses_and_idle_ttl() {
    let used_up = WarmConfig {
        max_uses: 2,
        ..WarmConfig::default()
    };
    let host = typed_in(InstanceMode::Warm(used_up)).await;
    assert_eq!(counts(&host, 5).await, [1, 2, 1, 2, 1]);

    let short_lived = WarmConfig {
        idle_ttl: std::time::Duration::from_millis(50),
        ..WarmConfig::default()
    };
    let host = typed_in(InstanceMode::Warm(short_lived)).await;
    assert_eq!(counts(&host, 2).await, [1, 2]);
    tokio::time::sleep(std::time::Duration::from_millis(120)).await;
    assert_eq!(counts(&host, 1).await, [1], "an idle instance expired");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn actor_mode_bounds_the_instances_of_a_component() {
    let one = WarmConfig {
        max_instances: 1,
        ..WarmConfig::default()
    };
    let host = Arc::new(typed_in(InstanceMode::Warm(one)).await);
    let calls: Vec<_> = (0..4)
        .map(|id| {
            let host = host.clone();
            tokio::spawn(async move { host.call_wave("typed", &format!("slow({id}, 50)")).await })
        })
        .collect();
    for call in calls {
        call.await.unwrap().unwrap();
    }
    // Unbounded, four concurrent calls would have left four warm instances.
    assert_eq!(host.warm_instances(), [("typed".to_owned(), 1)]);
}

/// A host whose guests share a memory budget of two `typed` instances
/// (each may use 64 MiB), with `typed` in `mode` and `fresh` (the same
/// file) in fresh instances.
async fn budgeted(mode: InstanceMode) -> Arc<Host> {
    let limits = activity_host::Limits {
        max_memory_bytes: 64 << 20,
        ..Default::default()
    };
    let host = Host::builder()
        .limits("typed", limits)
        .limits("fresh", limits)
        .instance_mode("typed", mode)
        .max_total_memory_bytes(Some(128 << 20))
        .capture_guest_stderr(MemoryOutputPipe::new(1 << 20))
        .build()
        .unwrap();
    host.load_file("typed", guest("typed.wasm")).await.unwrap();
    host.load_file("fresh", guest("typed.wasm")).await.unwrap();
    Arc::new(host)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_beyond_the_worker_memory_budget_wait_for_room_and_all_complete() {
    let host = budgeted(InstanceMode::Fresh).await;
    let calls: Vec<_> = (0..4)
        .map(|id| {
            let host = host.clone();
            tokio::spawn(async move { host.call_wave("typed", &format!("slow({id}, 1500)")).await })
        })
        .collect();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while host.guest_memory().unwrap().waiting_calls < 2 {
        assert!(
            std::time::Instant::now() < deadline,
            "two calls never waited: {:?}",
            host.guest_memory()
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let usage = host.guest_memory().unwrap();
    assert_eq!(
        (usage.reserved_bytes, usage.total_bytes),
        (128 << 20, 128 << 20),
        "two instances hold the whole budget while two calls wait"
    );
    for (id, call) in calls.into_iter().enumerate() {
        let report = call.await.unwrap().unwrap();
        assert_eq!(report.results(), [Val::U32(id as u32)]);
    }
    let usage = host.guest_memory().unwrap();
    assert_eq!((usage.reserved_bytes, usage.waiting_calls), (0, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_waiting_for_memory_drops_idle_warm_instances() {
    let host = budgeted(InstanceMode::Warm(WarmConfig::default())).await;
    let warm: Vec<_> = (0..2)
        .map(|id| {
            let host = host.clone();
            tokio::spawn(async move { host.call_wave("typed", &format!("slow({id}, 1000)")).await })
        })
        .collect();
    for call in warm {
        call.await.unwrap().unwrap();
    }
    assert_eq!(host.warm_instances(), [("typed".to_owned(), 2)]);
    assert_eq!(host.guest_memory().unwrap().reserved_bytes, 128 << 20);
    // Idle instances hold the whole budget: a call of another component
    // waits only until they are dropped (not for their 5-minute idle TTL).
    let call = host.call_wave("fresh", "divide(4)");
    let report = tokio::time::timeout(std::time::Duration::from_secs(20), call)
        .await
        .expect("the idle warm instances were not dropped")
        .unwrap();
    assert_eq!(report.results(), [Val::U32(25)]);
    assert_eq!(host.warm_instances(), [("typed".to_owned(), 0)]);
}

/// A host whose `typed` component has `limits`, with `hog` and
/// `echo#echo-string` cached by inputs, in actor mode (so a dropped instance
/// is visible).
async fn limited(limits: activity_host::Limits) -> (Host, MemoryOutputPipe) {
    let mut rules = RulesConfig::default();
    for export in ["hog", "spin", "echo#echo-string"] {
        let change = RuleOverride {
            policy: Some(CachePolicy::Inputs),
            ..RuleOverride::default()
        };
        rules.set("typed", export, change);
    }
    let output = MemoryOutputPipe::new(1 << 20);
    let host = Host::builder()
        .rules(rules)
        .limits("typed", limits)
        .instance_mode("typed", InstanceMode::Warm(WarmConfig::default()))
        .capture_guest_stderr(output.clone())
        .build()
        .unwrap();
    host.load_file("typed", guest("typed.wasm")).await.unwrap();
    (host, output)
}

#[tokio::test]
async fn a_guest_that_outgrows_its_memory_limit_fails_clearly_and_nothing_is_cached() {
    let limits = activity_host::Limits {
        max_memory_bytes: 32 << 20,
        ..Default::default()
    };
    let (host, output) = limited(limits).await;
    let count = host.call_wave("typed", "count()").await.unwrap();
    assert_eq!(count.results(), [Val::U32(1)], "a new warm instance");
    assert_eq!(
        host.call_wave("typed", "hog(8)")
            .await
            .unwrap()
            .into_results(),
        [Val::U32(8)],
        "within the limit"
    );
    for _ in 0..2 {
        let error = host.call_wave("typed", "hog(64)").await.unwrap_err();
        let text = error.to_string();
        assert!(
            text.contains("hog") && text.contains("max-memory-bytes"),
            "{text}"
        );
    }
    assert_eq!(runs(&output, "hog"), 3, "the failure was never cached");
    assert_eq!(stats(&host, "hog").errors, 2);
    let count = host.call_wave("typed", "count()").await.unwrap();
    assert_eq!(
        count.results(),
        [Val::U32(1)],
        "the warm instance that hit the limit was dropped; a new one serves"
    );

    let unlimited = limited(activity_host::Limits::default()).await.0;
    assert_eq!(
        unlimited
            .call_wave("typed", "hog(64)")
            .await
            .unwrap()
            .into_results(),
        [Val::U32(64)],
        "the default limit (256 MiB) allows it"
    );
}

#[tokio::test]
async fn a_component_beyond_its_table_limit_fails_to_load_with_the_limit_named() {
    let tiny_tables = activity_host::Limits {
        max_table_elements: 1,
        ..Default::default()
    };
    let host = Host::builder()
        .limits("typed", tiny_tables)
        .build()
        .unwrap();
    let error = host
        .load_file("typed", guest("typed.wasm"))
        .await
        .unwrap_err();
    let text = format!("{error:#}");
    assert!(text.contains("max-table-elements (1)"), "{text}");
    // The default leaves room for every table a Rust guest has.
    let (host, _) = typed().await;
    assert_eq!(
        host.call_wave("typed", "noop()")
            .await
            .unwrap()
            .into_results(),
        []
    );
}

#[tokio::test]
async fn arguments_beyond_max_argument_bytes_are_refused_before_running() {
    let limits = activity_host::Limits {
        max_argument_bytes: 1000,
        ..Default::default()
    };
    let (host, output) = limited(limits).await;
    let small = "a".repeat(900);
    let large = "a".repeat(1001);
    let echo = |text: &str| format!("echo#echo-string({text:?})");
    assert_eq!(
        host.call_wave("typed", &echo(&small))
            .await
            .unwrap()
            .into_results(),
        [Val::String(small.clone())]
    );
    let error = host.call_wave("typed", &echo(&large)).await.unwrap_err();
    assert!(
        error
            .to_string()
            .contains("1001 bytes, beyond max-argument-bytes (1000)"),
        "{error}"
    );
    assert_eq!(runs(&output, "echo-string"), 1, "the large call never ran");
    assert_eq!(activity_host::argument_bytes(&[Val::String(large)]), 1001);
}

#[tokio::test]
async fn results_larger_than_max_result_bytes_are_returned_but_not_cached() {
    let limits = activity_host::Limits {
        max_result_bytes: 1024,
        ..Default::default()
    };
    let (host, output) = limited(limits).await;
    let small = format!("echo#echo-string(\"{}\")", "s".repeat(100));
    let large = format!("echo#echo-string(\"{}\")", "l".repeat(4096));
    assert_eq!(
        host.call_wave("typed", &small).await.unwrap().outcome,
        Outcome::Miss
    );
    assert_eq!(
        host.call_wave("typed", &small).await.unwrap().outcome,
        Outcome::Hit
    );
    for _ in 0..2 {
        let report = host.call_wave("typed", &large).await.unwrap();
        assert_eq!(report.outcome, Outcome::Miss);
        assert_eq!(report.results(), [Val::String("l".repeat(4096))]);
    }
    assert_eq!(
        runs(&output, "echo-string"),
        3,
        "the large result ran every time"
    );
}

#[tokio::test]
async fn a_byte_list_result_as_large_as_the_limits_allow_returns_and_is_cached() {
    // wasmtime's default budget for lifting a result (128 MiB of values, a
    // whole value per byte) trapped on any list<u8> beyond 4 MiB, whatever
    // max-result-bytes said.
    let limits = activity_host::Limits {
        max_result_bytes: 8 << 20,
        ..Default::default()
    };
    let (host, output) = limited(limits).await;
    let args = [Val::List(vec![Val::List(vec![Val::U8(7); 5 << 20])])];
    for outcome in [Outcome::Miss, Outcome::Hit] {
        let report = host.call("typed", "echo-lists", &args).await.unwrap();
        assert_eq!(report.outcome, outcome);
        assert!(report.results() == args, "the same 5 MiB back");
    }
    assert_eq!(runs(&output, "echo-lists"), 1);
}

#[tokio::test]
async fn a_byte_list_value_beyond_twice_max_result_bytes_fails_clearly() {
    // What the host allocates to take a result of values (a `Val` per
    // byte) is bounded by max-result-bytes: a 6 MiB byte list inside a
    // list<list<u8>> under a 1 MiB limit is refused with wasmtime's
    // message, and the host goes on.
    let limits = activity_host::Limits {
        max_result_bytes: 1 << 20,
        ..Default::default()
    };
    let (host, _output) = limited(limits).await;
    let large = [Val::List(vec![Val::List(vec![Val::U8(1); 6 << 20])])];
    let error = host.call("typed", "echo-lists", &large).await.unwrap_err();
    assert!(
        error.to_string().contains("fuel allocated for hostcalls"),
        "{error}"
    );
    let small = [Val::List(vec![Val::List(vec![Val::U8(1), Val::U8(2)])])];
    let report = host.call("typed", "echo-lists", &small).await.unwrap();
    assert_eq!(report.results(), small);
}

#[tokio::test]
async fn a_byte_export_result_is_bounded_as_values_are() {
    // A byte export's result is taken as bytes, within the same bounds as
    // values: under a 1 MiB limit, 1.5 MiB comes back whole every time,
    // uncached; 5 MiB (beyond the 3.2 MiB any byte list may take) fails
    // clearly, and the host goes on.
    let limits = activity_host::Limits {
        max_result_bytes: 1 << 20,
        ..Default::default()
    };
    let (host, output) = limited(limits).await;
    let call = |bytes: Vec<u8>| {
        let host = &host;
        async move {
            host.call_bytes("typed", "reverse-bytes", &bytes, CallOptions::default())
                .await
        }
    };
    let large: Vec<u8> = (0..3u32 << 19).map(|i| i as u8).collect();
    let reversed: Vec<u8> = large.iter().rev().copied().collect();
    for _ in 0..2 {
        let report = call(large.clone()).await.unwrap();
        assert_eq!(report.outcome, Outcome::Miss);
        assert!(
            report.result_bytes().unwrap() == reversed,
            "1.5 MiB reversed"
        );
    }
    assert_eq!(runs(&output, "reverse-bytes"), 2, "ran every time");
    let error = call(vec![1; 5 << 20]).await.unwrap_err();
    assert!(
        error
            .to_string()
            .contains("a byte list may take (twice max-result-bytes"),
        "{error}"
    );
    let report = call(vec![1, 2]).await.unwrap();
    assert_eq!(&report.result_bytes().unwrap()[..], [2, 1]);
}

#[tokio::test]
async fn byte_payloads_share_keys_and_entries_with_their_values() {
    // A byte export's calls move their payloads as bytes; every other way
    // of naming the same call (values, WAVE, JSON) reaches the same entry.
    let (host, output) = limited(activity_host::Limits::default()).await;
    let options = CallOptions::default();
    let bytes = host
        .call_bytes("typed", "reverse-bytes", &[1, 2, 3], options)
        .await
        .unwrap();
    assert_eq!(bytes.outcome, Outcome::Miss);
    assert_eq!(&bytes.result_bytes().unwrap()[..], [3, 2, 1]);
    let wave = "reverse-bytes([1, 2, 3])";
    let explained = host.explain_wave("typed", wave).await.unwrap();
    assert_eq!(explained.key, bytes.key.map(|key| key.to_string()));
    let values = host.call_wave("typed", wave).await.unwrap();
    assert_eq!((values.outcome, values.key), (Outcome::Hit, bytes.key));
    let three_two_one = Val::List(vec![Val::U8(3), Val::U8(2), Val::U8(1)]);
    assert_eq!(values.results(), [three_two_one]);
    let json = host
        .call_json(
            "typed",
            "reverse-bytes",
            &serde_json::json!([[1, 2, 3]]),
            options,
        )
        .await
        .unwrap();
    assert_eq!(json.outcome, Outcome::Hit);

    host.invalidate_entry_wave("typed", wave).await.unwrap();
    let again = host
        .call_bytes("typed", "reverse-bytes", &[1, 2, 3], options)
        .await
        .unwrap();
    assert_eq!(
        again.outcome,
        Outcome::Miss,
        "invalidated through its value"
    );
    assert_eq!(runs(&output, "reverse-bytes"), 2);

    // Strings too, including the empty one and multi-byte characters.
    for text in ["", "héllo ✓"] {
        let arg = [Val::String(text.into())];
        let first = host.call("typed", "echo#echo-string", &arg).await.unwrap();
        let wave = format!(
            "echo#echo-string({})",
            activity_host::wasm_wave::to_string(&arg[0]).unwrap()
        );
        let second = host.call_wave("typed", &wave).await.unwrap();
        assert_eq!(
            (first.outcome, second.outcome),
            (Outcome::Miss, Outcome::Hit)
        );
        assert_eq!(second.results(), arg);
        assert_eq!(&second.result_bytes().unwrap()[..], text.as_bytes());
    }
}

/// A host whose `typed` guests get `capabilities`.
async fn granted(capabilities: activity_host::Capabilities) -> Host {
    let host = Host::builder()
        .capabilities("typed", capabilities)
        .capture_guest_stderr(MemoryOutputPipe::new(1 << 16))
        .build()
        .unwrap();
    host.load_file("typed", guest("typed.wasm")).await.unwrap();
    host
}

async fn wave(host: &Host, invocation: &str) -> Val {
    let report = host.call_wave("typed", invocation).await.unwrap();
    report
        .into_results()
        .into_iter()
        .next()
        .expect("one result")
}

fn is_ok(value: &Val) -> bool {
    matches!(value, Val::Result(Ok(_)))
}

#[tokio::test]
async fn guests_reach_only_the_directories_and_variables_granted_to_them() {
    let granted_dir = tempfile::tempdir().unwrap();
    std::fs::write(granted_dir.path().join("input.txt"), "granted").unwrap();
    let secret_dir = tempfile::tempdir().unwrap();
    let secret = secret_dir.path().join("secret.txt");
    std::fs::write(&secret, "secret").unwrap();
    // Cargo sets both for the test process.
    assert!(std::env::var("CARGO_PKG_NAME").is_ok() && std::env::var("CARGO_MANIFEST_DIR").is_ok());
    let read = |path: &str| format!("read-file({path:?})");

    let nothing = granted(activity_host::Capabilities::default()).await;
    for path in [secret.to_str().unwrap(), "/etc/passwd", "/data/input.txt"] {
        assert!(
            !is_ok(&wave(&nothing, &read(path)).await),
            "{path} is out of reach"
        );
    }
    assert_eq!(
        wave(&nothing, r#"env-var("CARGO_PKG_NAME")"#).await,
        Val::Option(None)
    );

    let capabilities = activity_host::Capabilities {
        dirs: vec![activity_host::DirGrant {
            host: granted_dir.path().to_owned(),
            guest: "/data".to_owned(),
            writable: false,
        }],
        env: vec!["CARGO_PKG_NAME".to_owned()],
        ..Default::default()
    };
    let some = granted(capabilities.clone()).await;
    assert_eq!(
        wave(&some, &read("/data/input.txt")).await,
        Val::Result(Ok(Some(Box::new(Val::String("granted".into())))))
    );
    assert!(
        !is_ok(&wave(&some, &read(secret.to_str().unwrap())).await),
        "only the granted directory"
    );
    assert!(
        !is_ok(&wave(&some, &read("/data/../../etc/passwd")).await),
        "no escape upwards"
    );
    assert!(
        !is_ok(&wave(&some, r#"write-file("/data/new.txt", "x")"#).await),
        "read-only unless writable"
    );
    assert!(!granted_dir.path().join("new.txt").exists());
    assert_eq!(
        wave(&some, r#"env-var("CARGO_PKG_NAME")"#).await,
        Val::Option(Some(Box::new(Val::String(env!("CARGO_PKG_NAME").into()))))
    );
    assert_eq!(
        wave(&some, r#"env-var("CARGO_MANIFEST_DIR")"#).await,
        Val::Option(None),
        "only the named variables"
    );

    let mut writable = capabilities;
    writable.dirs[0].writable = true;
    let writer = granted(writable).await;
    assert!(is_ok(
        &wave(&writer, r#"write-file("/data/new.txt", "x")"#).await
    ));
    assert_eq!(
        std::fs::read_to_string(granted_dir.path().join("new.txt")).unwrap(),
        "x"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guest_that_loops_forever_is_stopped_at_its_time_limit() {
    let limits = activity_host::Limits {
        timeout: std::time::Duration::from_millis(300),
        ..Default::default()
    };
    let (host, output) = limited(limits).await;
    assert_eq!(
        host.call_wave("typed", "count()")
            .await
            .unwrap()
            .into_results(),
        [Val::U32(1)]
    );
    for _ in 0..2 {
        let error = host.call_wave("typed", "spin()").await.unwrap_err();
        let text = error.to_string();
        assert!(
            text.contains("spin") && text.contains("time limit (300ms)"),
            "{text}"
        );
    }
    assert_eq!(runs(&output, "spin"), 2, "a stopped call is never cached");
    assert_eq!(
        host.call_wave("typed", "count()")
            .await
            .unwrap()
            .into_results(),
        [Val::U32(1)],
        "the looping instance was dropped; the host serves on"
    );
}

#[tokio::test]
async fn guest_stdout_and_stderr_go_where_they_are_granted() {
    let said = |grant: activity_host::Capabilities| async move {
        let output = MemoryOutputPipe::new(1 << 16);
        let host = Host::builder()
            .capabilities("typed", grant)
            .capture_guest_stderr(output.clone())
            .build()
            .unwrap();
        host.load_file("typed", guest("typed.wasm")).await.unwrap();
        host.call_wave("typed", r#"say("hi")"#).await.unwrap();
        String::from_utf8_lossy(&output.contents()).into_owned()
    };
    let default = said(activity_host::Capabilities::default()).await;
    assert_eq!(default, "err: hi\n", "stderr kept, stdout discarded");
    let both = activity_host::Capabilities {
        stdout: true,
        ..Default::default()
    };
    let both = said(both).await;
    assert!(
        both.contains("out: hi\n") && both.contains("err: hi\n"),
        "{both}"
    );
    let silent = activity_host::Capabilities {
        stderr: false,
        ..Default::default()
    };
    assert_eq!(said(silent).await, "", "nothing granted, nothing written");
}
