//! activity-host runs *activities* compiled to WebAssembly components and
//! memoizes their exported calls.
//!
//! A component declares, through the `activity:cache/rules` export of the
//! contract in `wit/`, how each exported function is cached (`inputs`,
//! `task-source` or `no-cache`, with a TTL). The host intercepts every call:
//! it computes a key from the function's identity, signature, arguments (and
//! code, for `task-source`), serves a stored result when there is one, and
//! otherwise runs the function in a fresh sandboxed instance and stores what
//! it returned. See [`Host`] for an example.

#![forbid(unsafe_code)]

mod actor_cache;
mod codec;
mod component;
mod contract;
mod engine;
mod host;
mod key;
mod memo;
mod policy;
mod runner;
pub mod store;

pub use component::{ActivityComponent, ActivityExport, ExportLookupError, LoadError};
pub use host::{Host, HostBuilder, HostError};
pub use key::CacheKey;
pub use memo::{CallError, CallReport, Outcome};
pub use policy::{CachePolicy, CacheRule, RuleOverrides, parse_assignment, parse_ttl};
pub use store::CacheStore;
pub use wasmtime::component::{Val, wasm_wave};
