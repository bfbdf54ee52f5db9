//! [`Host`]: the library's front door. Loads components by name and calls
//! their exports through the memoizer.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, RwLock};

use wasmtime::component::Val;
use wasmtime::component::wasm_wave::untyped::UntypedFuncCall;

use crate::actor_cache::DEFAULT_ACTOR_CACHE_BYTES;
use crate::component::{ActivityComponent, ExportLookupError, LoadError};
use crate::memo::{self, CallError, CallReport};
use crate::policy::RuleOverrides;
use crate::runner::Runner;
use crate::store::{CacheStore, MemoryStore};

/// Why [`Host::call`] or [`Host::call_wave`] could not run a call.
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    /// No component is loaded under that name.
    #[error("no component named `{0}` is loaded")]
    UnknownComponent(String),
    /// The export name does not address one exported function.
    #[error(transparent)]
    Export(#[from] ExportLookupError),
    /// The WAVE text is not a call of that function.
    #[error("cannot parse `{text}`: {message}")]
    Wave {
        /// The invocation as given.
        text: String,
        /// What is wrong with it.
        message: String,
    },
    /// The call itself failed.
    #[error(transparent)]
    Call(#[from] CallError),
}

/// Configures a [`Host`]. Defaults: the in-memory actor store (256 MiB),
/// a 64 MiB actor cache, and each component's declared rules unchanged.
pub struct HostBuilder {
    store: Arc<dyn CacheStore>,
    overrides: RuleOverrides,
}

impl Default for HostBuilder {
    fn default() -> Self {
        Self {
            store: Arc::new(MemoryStore::default()),
            overrides: RuleOverrides::default(),
        }
    }
}

impl HostBuilder {
    /// Stores cached results in `store` instead of the in-memory default.
    pub fn store(mut self, store: Arc<dyn CacheStore>) -> Self {
        self.store = store;
        self
    }

    /// Overrides declared rules (applied to every component loaded later).
    pub fn overrides(mut self, overrides: RuleOverrides) -> Self {
        self.overrides = overrides;
        self
    }

    /// Creates the engine and the host.
    pub fn build(self) -> anyhow::Result<Host> {
        let engine = crate::engine::new_engine()?;
        let runner = Runner::new(&engine, MemoryStore::new(DEFAULT_ACTOR_CACHE_BYTES))?;
        Ok(Host {
            runner,
            store: self.store,
            overrides: self.overrides,
            components: RwLock::default(),
        })
    }
}

/// Runs activity components and memoizes their exported calls.
///
/// ```no_run
/// # async fn demo() -> anyhow::Result<()> {
/// let host = activity_host::Host::builder().build()?;
/// host.load_file("users", "target/wasm32-wasip2/guest/users.wasm").await?;
/// let first = host.call_wave("users", "fetch-user(123)").await?;
/// let second = host.call_wave("users", "fetch-user(123)").await?;
/// assert_eq!(second.outcome, activity_host::Outcome::Hit);
/// assert_eq!(first.results, second.results);
/// # Ok(()) }
/// ```
pub struct Host {
    runner: Runner,
    store: Arc<dyn CacheStore>,
    overrides: RuleOverrides,
    components: RwLock<HashMap<String, Arc<ActivityComponent>>>,
}

impl Host {
    /// A builder with the defaults documented on [`HostBuilder`].
    pub fn builder() -> HostBuilder {
        HostBuilder::default()
    }

    /// Loads the component in file `path` as `name`, replacing any component
    /// loaded under that name before.
    pub async fn load_file(
        &self,
        name: &str,
        path: impl AsRef<Path>,
    ) -> Result<Arc<ActivityComponent>, LoadError> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|source| LoadError::Read {
            path: path.display().to_string(),
            source,
        })?;
        self.load_bytes(name, &bytes).await
    }

    /// Loads a component from `bytes` as `name`, replacing any component
    /// loaded under that name before.
    pub async fn load_bytes(
        &self,
        name: &str,
        bytes: &[u8],
    ) -> Result<Arc<ActivityComponent>, LoadError> {
        let component =
            Arc::new(ActivityComponent::load(&self.runner, name, bytes, &self.overrides).await?);
        self.components
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .insert(name.to_owned(), component.clone());
        Ok(component)
    }

    /// The component loaded as `name`.
    pub fn component(&self, name: &str) -> Option<Arc<ActivityComponent>> {
        self.components
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .get(name)
            .cloned()
    }

    /// Calls `export` of component `component` with `args`, memoized by the
    /// export's rule.
    pub async fn call(
        &self,
        component: &str,
        export: &str,
        args: &[Val],
    ) -> Result<CallReport, HostError> {
        let loaded = self.loaded(component)?;
        let export = loaded.export(export)?;
        Ok(memo::call(&self.runner, &self.store, &loaded, export, args).await?)
    }

    /// Calls a function of `component` written as WAVE text, such as
    /// `fetch-user(123)` or `api#send-email("a@example.com")` (the syntax of
    /// `wasmtime run --invoke`).
    pub async fn call_wave(
        &self,
        component: &str,
        invocation: &str,
    ) -> Result<CallReport, HostError> {
        let loaded = self.loaded(component)?;
        let (name, params) = invocation.split_at(invocation.find('(').unwrap_or(invocation.len()));
        let export = loaded.export(name.trim())?;
        // WAVE names are plain labels; parse the call under a stand-in label of
        // the same length so error positions still point into `invocation`.
        let stand_in = format!("{}{params}", "f".repeat(name.len()));
        let args: Vec<Val> = UntypedFuncCall::parse(&stand_in)
            .and_then(|call| call.to_wasm_params(&export.param_types))
            .map_err(|error| HostError::Wave {
                text: invocation.to_owned(),
                message: format!("{error}; expected {}", export.signature),
            })?;
        Ok(memo::call(&self.runner, &self.store, &loaded, export, &args).await?)
    }

    fn loaded(&self, name: &str) -> Result<Arc<ActivityComponent>, HostError> {
        self.component(name)
            .ok_or_else(|| HostError::UnknownComponent(name.to_owned()))
    }
}
