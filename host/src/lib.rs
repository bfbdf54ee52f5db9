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
mod capabilities;
pub mod catalog;
pub mod codec;
mod component;
pub mod config;
mod contract;
pub mod engine;
mod flight;
mod host;
pub mod json;
pub mod key;
mod limits;
mod memo;
mod policy;
pub mod pool;
mod purity;
mod runner;
mod sandbox;
pub mod server;
pub mod stats;
pub mod store;
pub mod temporal;

pub use actor_cache::DEFAULT_ACTOR_CACHE_BYTES;
pub use capabilities::{Capabilities, DirGrant};
pub use component::{ActivityComponent, ActivityExport, ExportLookupError, LoadError};
pub use host::{CacheKeyText, Host, HostBuilder, HostError};
pub use key::CacheKey;
pub use limits::{
    DEFAULT_MAX_ARGUMENT_BYTES, DEFAULT_MAX_MEMORY_BYTES, DEFAULT_MAX_RESULT_BYTES,
    DEFAULT_MAX_TABLE_ELEMENTS, DEFAULT_TIMEOUT, Limits, argument_bytes,
};
pub use memo::{CallError, CallOptions, CallReport, Outcome};
pub use policy::{CachePolicy, CacheRule, RuleOverride, RulesConfig, Ttl, parse_assignment};
pub use pool::{InstanceMode, WarmConfig};
pub use purity::{Nondeterminism, Purity};
pub use sandbox::Sandbox;
pub use stats::{ExportStats, StatsRow};
pub use store::CacheStore;
pub use wasmtime::component::{Val, wasm_wave};
pub use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
