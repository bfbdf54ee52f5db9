//! A loaded activity: its code hash, its exported functions with their WIT
//! signatures, and the cache rule that applies to each.

use std::sync::Arc;

use wasmtime::component::InstancePre;

use crate::actor_cache::ActorCacheScope;
use crate::policy::CachePolicy;
use crate::pool::InstancePool;
use crate::purity::Purity;
use crate::sandbox::Sandbox;
use crate::state::HostState;

mod export;
mod handle;
mod signature;

pub use export::ActivityExport;
pub(crate) use export::{ExportNames, discover_exports, is_bytes};
pub use handle::ExportHandle;

/// Why a component could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// The file could not be read.
    #[error("cannot read {path}")]
    Read {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The bytes are a core WebAssembly module, not a component.
    #[error(
        "this is a core WebAssembly module, not a component; build it for wasm32-wasip2 (or wrap it with `wasm-tools component new`)"
    )]
    CoreModule,
    /// The bytes are not WebAssembly at all.
    #[error("not a WebAssembly component (no `\\0asm` header)")]
    NotWasm,
    /// wasmtime rejected the component, or its imports, or its `rules` export.
    #[error("{0}")]
    Invalid(String),
    /// A rule (declared or configured) does not name exactly one export.
    #[error("cache rule: {0}")]
    Rule(#[from] ExportLookupError),
    /// A rule keeps results in a store the host does not have.
    #[error(
        "cache rule for `{export}` names store `{store}`, which is not configured ([stores.{store}])"
    )]
    UnknownStore {
        /// The export.
        export: String,
        /// The store named by the rule.
        store: String,
    },
    /// A rule leaves out a parameter the function does not have.
    #[error(
        "cache rule for `{export}` ignores `{param}`, which is not one of its parameters ({params})"
    )]
    UnknownParam {
        /// The export.
        export: String,
        /// The parameter named by the rule.
        param: String,
        /// The export's parameters.
        params: String,
    },
    /// A rule asks to cache a function whose values have no encoding.
    #[error(
        "`{export}` cannot be cached ({policy}): its signature `{signature}` has a resource, future or stream"
    )]
    Uncacheable {
        /// The export.
        export: String,
        /// The requested policy.
        policy: CachePolicy,
        /// Its signature.
        signature: String,
    },
}

/// A name that does not address exactly one exported function.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExportLookupError {
    /// No export answers to the name.
    #[error("`{name}` is not an exported function{hint}; exports: {available}")]
    Unknown {
        /// The name given.
        name: String,
        /// ` (did you mean `word-count`?)` when the name is an export's
        /// written in another case; else empty.
        hint: String,
        /// The export paths there are.
        available: String,
    },
    /// Several exports answer to the name.
    #[error("`{name}` is ambiguous; use one of: {candidates}")]
    Ambiguous {
        /// The name given.
        name: String,
        /// The export paths it could mean.
        candidates: String,
    },
}

/// A loaded activity component.
pub struct ActivityComponent {
    /// Its name on this host (part of every cache key).
    pub name: Arc<str>,
    /// sha256 of the component's bytes.
    pub code_hash: [u8; 32],
    /// Exported functions, in the component's order; the contract's `rules`
    /// interface is not listed.
    pub exports: Vec<ActivityExport>,
    /// The component with its imports resolved, ready to instantiate.
    pub(crate) pre: InstancePre<HostState>,
    /// Its limits and grants.
    pub sandbox: Sandbox,
    /// What it imports, and what of that makes results depend on more than
    /// arguments.
    pub purity: Purity,
    /// Warm instances, in actor mode; `None`: a fresh instance per call.
    pub(crate) pool: Option<Arc<InstancePool>>,
    /// Its namespace in the replica's actor cache.
    pub(crate) actor_cache: ActorCacheScope,
    pub(crate) names: ExportNames,
}

impl std::fmt::Debug for ActivityComponent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ActivityComponent")
            .field("name", &self.name)
            .field("code_hash", &self.code_hash_hex())
            .field(
                "exports",
                &self.exports.iter().map(|e| &e.path).collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl ActivityComponent {
    /// The export `name` addresses: its path (`iface#func`), its short path
    /// (`api#func`), or its bare name when that is unambiguous.
    pub fn export(&self, name: &str) -> Result<&ActivityExport, ExportLookupError> {
        self.export_index(name).map(|index| &self.exports[index])
    }

    /// The index in [`Self::exports`] of the export `name` addresses.
    pub(crate) fn export_index(&self, name: &str) -> Result<usize, ExportLookupError> {
        self.names.find(&self.exports, name)
    }

    /// The code hash in hex.
    pub fn code_hash_hex(&self) -> String {
        hex::encode(self.code_hash)
    }
}
