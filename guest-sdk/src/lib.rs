//! Write activity components for [activity-host] in Rust.
//!
//! An activity is a Rust `cdylib` built for `wasm32-wasip2`. Its WIT world
//! includes `activity:cache/activity@0.1.0`, exports its typed functions, and
//! declares how the host should cache each of them:
//!
//! ```ignore
//! activity_sdk::wit_bindgen::generate!({
//!     world: "users",
//!     path: ["../../wit", "wit"],
//!     runtime_path: "activity_sdk::wit_bindgen::rt",
//!     with: { "activity:cache/types@0.1.0": activity_sdk::types },
//!     generate_all,
//! });
//!
//! impl exports::activity::cache::rules::Guest for Users {
//!     fn declare() -> Vec<activity_sdk::Rule> {
//!         vec![activity_sdk::Rule::inputs("fetch-user").ttl(activity_sdk::hours(1))]
//!     }
//! }
//! ```
//!
//! The host does all caching; the guest only declares its rules. Functions
//! without a rule are never cached.
//!
//! [activity-host]: https://example.invalid/activity-host

pub use wit_bindgen;

mod bindings {
    wit_bindgen::generate!({
        world: "sdk",
        path: "../wit",
        inline: "
            package activity:sdk;
            world sdk {
                import activity:cache/types@0.1.0;
                import activity:cache/actor-cache@0.1.0;
            }
        ",
        runtime_path: "wit_bindgen::rt",
        generate_all,
    });
}

/// The `activity:cache/types` interface: pass this module in `with` so an
/// activity's generated bindings share the SDK's [`Rule`] and [`Policy`].
pub mod types {
    pub use crate::bindings::activity::cache::types::*;
}

/// The replica-local actor cache (`activity:cache/actor-cache`): memoize
/// helper results, such as a loaded model, across calls on one worker.
pub mod actor_cache {
    pub use crate::bindings::activity::cache::actor_cache::*;
}

pub use types::{Policy, Rule};

impl Rule {
    /// A rule caching `function` by its arguments (`inputs` policy), with no TTL.
    pub fn inputs(function: &str) -> Self {
        Self::new(function, Policy::Inputs)
    }

    /// A rule caching `function` by its arguments and the component's code
    /// (`task-source` policy), with no TTL.
    pub fn task_source(function: &str) -> Self {
        Self::new(function, Policy::TaskSource)
    }

    /// A rule that never caches `function` (`no-cache` policy).
    pub fn no_cache(function: &str) -> Self {
        Self::new(function, Policy::NoCache)
    }

    /// A rule for `function` with `policy` and no TTL.
    pub fn new(function: &str, policy: Policy) -> Self {
        Self {
            function: function.to_owned(),
            policy,
            ttl_ms: None,
            cache_errors: false,
            ignore_params: Vec::new(),
        }
    }

    /// This rule with cached results expiring after `ttl_ms` milliseconds.
    pub fn ttl(mut self, ttl_ms: u64) -> Self {
        self.ttl_ms = Some(ttl_ms);
        self
    }

    /// This rule, also caching returned `result::err` values.
    pub fn cache_errors(mut self) -> Self {
        self.cache_errors = true;
        self
    }

    /// This rule, leaving parameter `param` out of the cache key.
    pub fn ignore(mut self, param: &str) -> Self {
        self.ignore_params.push(param.to_owned());
        self
    }
}

/// `n` seconds in milliseconds, for [`Rule::ttl`].
pub const fn seconds(n: u64) -> u64 {
    n * 1_000
}

/// `n` minutes in milliseconds, for [`Rule::ttl`].
pub const fn minutes(n: u64) -> u64 {
    seconds(n * 60)
}

/// `n` hours in milliseconds, for [`Rule::ttl`].
pub const fn hours(n: u64) -> u64 {
    minutes(n * 60)
}
