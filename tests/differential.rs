//! Differential test: every echo export of the `typed` fixture, called with
//! thousands of generated arguments, returns exactly the same values cached
//! (the miss and the hit) as uncached. "Exactly" includes float bits.

use crate::support;

use activity_host::internals::encode_entry;
use activity_host::{
    ActivityExport, CachePolicy, Host, MemoryOutputPipe, Outcome, RuleOverride, RulesConfig, Val,
};
use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::TestRunner;
use support::{guest, values::arb_val};

const CALLS_PER_EXPORT: usize = 200;

/// The bytes of `results` as stored, float bits and all.
fn exact(export: &ActivityExport, results: &[Val]) -> Vec<u8> {
    encode_entry(&export.signature_hash, 0, results, &export.result_types).unwrap()
}

/// A host with the fixture loaded as `typed`, every echo export's rule
/// changed by `change`, and guest output discarded.
async fn host_with(change: RuleOverride) -> (Host, Vec<String>) {
    let probe = Host::builder().build().unwrap();
    let typed = probe.load_file("typed", guest("typed.wasm")).await.unwrap();
    let echoes: Vec<String> = typed
        .exports
        .iter()
        .filter(|export| export.path.contains("/echo@"))
        .map(|export| export.path.clone())
        .collect();
    let mut rules = RulesConfig::default();
    for export in &echoes {
        rules.set("typed", export, change.clone());
    }
    let host = Host::builder()
        .rules(rules)
        .capture_guest_stderr(MemoryOutputPipe::new(64 << 20))
        .build()
        .unwrap();
    host.load_file("typed", guest("typed.wasm")).await.unwrap();
    (host, echoes)
}

#[tokio::test]
async fn cached_results_equal_uncached_results_for_generated_arguments() {
    let (cached, echoes) = host_with(RuleOverride {
        cache_errors: Some(true),
        ..RuleOverride::default()
    })
    .await;
    let (uncached, _) = host_with(RuleOverride {
        policy: Some(CachePolicy::NoCache),
        ..RuleOverride::default()
    })
    .await;
    assert_eq!(echoes.len(), 14, "every echo export is exercised");
    let typed = cached.component("typed").unwrap();
    let echoes: Vec<&ActivityExport> = echoes
        .iter()
        .map(|path| typed.export(path).unwrap())
        .collect();

    let mut runner = TestRunner::deterministic();
    let mut total = 0;
    for export in echoes {
        let strategy: Vec<_> = export.param_types.iter().map(arb_val).collect();
        for _ in 0..CALLS_PER_EXPORT {
            let args = strategy.new_tree(&mut runner).unwrap().current();
            let plain = uncached.call("typed", &export.path, &args).await.unwrap();
            assert_eq!(plain.outcome, Outcome::Bypass);
            let first = cached.call("typed", &export.path, &args).await.unwrap();
            let second = cached.call("typed", &export.path, &args).await.unwrap();
            assert_eq!(second.outcome, Outcome::Hit, "{} {args:?}", export.path);
            for (label, report) in [("first", &first), ("second", &second)] {
                assert_eq!(
                    report.results(),
                    plain.results(),
                    "{label} call of {} with {args:?}",
                    export.path
                );
                assert_eq!(
                    exact(export, report.results()),
                    exact(export, plain.results()),
                    "{label} call of {} with {args:?}: not bit-exact",
                    export.path
                );
            }
            total += 1;
        }
    }
    assert_eq!(total, 14 * CALLS_PER_EXPORT);
}
