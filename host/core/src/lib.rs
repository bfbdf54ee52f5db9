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
mod call_line;
mod call_span;
mod capabilities;
mod codec;
mod component;
mod contract;
mod engine;
mod error;
mod event_line;
mod flight;
mod guest_output;
mod host;
mod invocation;
mod json;
mod key;
mod limits;
mod load;
mod memo;
mod memory_budget;
mod outbound;
mod payload;
mod policy;
mod pool;
mod purity;
mod runner;
mod sandbox;
mod state;
mod stats;
mod store;

pub use actor_cache::DEFAULT_ACTOR_CACHE_BYTES;
pub use call_span::SPAN_TARGET;
pub use capabilities::{Capabilities, DirGrant};
pub use codec::{DecodeError, EncodeError};
pub use component::{
    ActivityComponent, ActivityExport, ExportHandle, ExportLookupError, LoadError,
};
pub use engine::default_compile_cache_dir;
pub use error::HostError;
pub use host::{BuildError, CacheKeyText, Host, HostBuilder};
pub use invocation::wave_name;
pub use json::{JsonError, from_json, to_json};
pub use key::CacheKey;
pub use limits::{Limits, argument_bytes};
pub use memo::{CallError, CallOptions, CallReport, ErrorKind, Explanation, Outcome};
pub use memory_budget::MemoryBudgetUsage;
pub use outbound::{GrantError, OutboundGrant, Scheme, SecretGrant};
pub use payload::{ByteKind, ByteSignature};
pub use policy::{CachePolicy, CacheRule, RuleOverride, RulesConfig, Ttl};
pub use pool::{InstanceMode, WarmConfig};
pub use purity::{Nondeterminism, Purity};
pub use sandbox::Sandbox;
pub use stats::{ExportStats, LatencyHistogram, StatsRow};
pub use store::{
    CacheStore, Claim, DEFAULT_CAPACITY_BYTES, EntryPage, EntryQuery, Found, Lease, MemoryStore,
    MissReason, Slot, SlotKind, StoreConfig, StoreError, StoreErrorKind, StoreFuture, StoreUsage,
    StoredEntry,
};
#[cfg(feature = "redis")]
pub use store::{DEFAULT_L1_TTL, RedisConfig, RedisStore, RedisTopology, TieredStore};
pub use wasmtime::component::{Val, wasm_wave};
pub use wasmtime_wasi::p2::pipe::MemoryOutputPipe;

/// Building blocks exposed only for this repository's own tests and
/// benchmarks (the entry format and key derivation). Not a stable API.
#[doc(hidden)]
pub mod internals {
    pub use crate::codec::{
        ENTRY_HEADER_LEN, check_entry, decode_entry, encode_entry, encode_key_args,
    };
    pub use crate::invocation::args_from_wave;
    pub use crate::json::args_from_json;
    pub use crate::key::{KeyScope, cache_key};
}
