//! Host bindings of the WIT contract in `wit/` (`activity:cache@0.1.0`).

use std::time::Duration;

use crate::policy::{CachePolicy, CacheRule};

wasmtime::component::bindgen!({
    world: "activity:cache/activity",
    path: "../../wit",
    exports: { default: async },
    // A fetch may wait for another instance computing the same helper result.
    imports: { "activity:cache/actor-cache": async | trappable },
    with: { "activity:cache/actor-cache.computation": crate::actor_cache::Computation },
});

pub use activity::cache::actor_cache;
use activity::cache::types::{Policy, Rule};

/// The name under which an activity exports its `rules` interface.
pub const RULES_INTERFACE: &str = "activity:cache/rules@0.1.0";

/// A rule as a component declared it: the function it names, and the rule.
pub fn declared_rule(rule: Rule) -> (String, CacheRule) {
    let policy = match rule.policy {
        Policy::Inputs => CachePolicy::Inputs,
        Policy::TaskSource => CachePolicy::TaskSource,
        Policy::NoCache => CachePolicy::NoCache,
    };
    let rule_for_host = CacheRule {
        policy,
        ttl: rule.ttl_ms.map(Duration::from_millis),
        cache_errors: rule.cache_errors,
        ignore_params: rule.ignore_params,
        store: None,
        allow_nondeterministic: false,
    };
    (rule.function, rule_for_host)
}
