//! Write activity components for [activity-host] in Rust.
//!
//! An activity is a Rust `cdylib` built for `wasm32-wasip2`. Its WIT world
//! (in the crate's `wit/` folder) includes `activity:cache/activity@0.1.0`
//! and exports its typed functions; this crate vendors that contract, so the
//! crate needs no other WIT and no other dependency:
//!
//! ```ignore
//! activity_sdk::bindings!("example:users/users");
//! use bindings::exports::example::users::api::{Guest, User};
//!
//! struct Users;
//!
//! #[activity_sdk::activity]
//! impl Guest for Users {
//!     #[cache(inputs, ttl = "1h")]
//!     fn fetch_user(id: u64) -> User { /* ... */ }
//!
//!     #[cache(task_source)]
//!     fn calculate(x: i64) -> i64 { x * 2 }
//!
//!     #[cache(no_cache)]
//!     fn send_email(to: String) { /* ... */ }
//! }
//!
//! bindings::export!(Users with_types_in bindings);
//! ```
//!
//! `#[activity]` turns each `#[cache(POLICY, ttl = "...", cache_errors,
//! ignore = ["param"])]` into the component's `rules` export; functions
//! without one are never cached. The host does all caching; the guest only
//! declares its rules. Helpers inside a guest can be memoized per worker
//! with [`macro@actor_cache`] (see [`mod@actor_cache`]). Activities reach
//! granted HTTP hosts with [`http::Request`], and granted TCP hosts with
//! `std::net::TcpStream`.
//!
//! [activity-host]: https://example.invalid/activity-host

pub use activity_sdk_macros::{activity, actor_cache, bindings};
#[doc(hidden)]
pub use serde;
pub use wit_bindgen;

pub mod actor_cache;
pub mod http;

mod bindings {
    wit_bindgen::generate!({
        world: "sdk",
        path: "wit",
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

/// The `activity:cache/types` interface, shared by every activity's
/// generated bindings ([`bindings!`] maps it here).
pub mod types {
    pub use crate::bindings::activity::cache::types::*;
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
