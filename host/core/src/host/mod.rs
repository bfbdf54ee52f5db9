//! [`Host`]: the library's front door. Loads components by name, calls their
//! exports through the memoizer, invalidates and reports.

mod builder;
mod entries;
mod names;
mod observe;
mod reject;

pub use builder::{BuildError, HostBuilder};

use std::borrow::Cow;
use std::path::Path;
use std::sync::{Arc, RwLock};

use rustc_hash::FxHashMap;
use serde_json::Value as Json;
use wasmtime::component::Val;

use crate::component::{ActivityComponent, ExportHandle, LoadError};
use crate::error::HostError;
use crate::event_line;
use crate::invocation::wave_name;
use crate::load::{ComponentSettings, Loader};
use crate::memo::{CallOptions, CallReport, Explanation, Memoizer};
use crate::payload::{Args, ByteArg, ByteKind};
use crate::policy::RulesConfig;
use crate::stats::StatsRegistry;

/// Runs activity components and memoizes their exported calls.
///
/// ```no_run
/// # async fn demo() -> anyhow::Result<()> {
/// let host = activity_host::Host::builder().build()?;
/// host.load_file("users", "target/wasm32-wasip2/guest/users.wasm").await?;
/// let first = host.call_wave("users", "fetch-user(123)").await?;
/// let second = host.call_wave("users", "fetch-user(123)").await?;
/// assert_eq!(second.outcome, activity_host::Outcome::Hit);
/// assert_eq!(first.results(), second.results());
/// # Ok(()) }
/// ```
pub struct Host {
    memo: Memoizer,
    rules: RulesConfig,
    settings: FxHashMap<String, ComponentSettings>,
    stats: Arc<StatsRegistry>,
    components: RwLock<FxHashMap<String, Arc<ActivityComponent>>>,
    /// The component digests whose purity warning was given.
    purity_warned: std::sync::Mutex<rustc_hash::FxHashSet<[u8; 32]>>,
    /// What drives this host, named in its events.
    front_end: &'static str,
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
        self.load(name, &bytes, Some(&path.display().to_string()))
            .await
    }

    /// Loads a component from `bytes` as `name`, replacing any component
    /// loaded under that name before.
    pub async fn load_bytes(
        &self,
        name: &str,
        bytes: &[u8],
    ) -> Result<Arc<ActivityComponent>, LoadError> {
        self.load(name, bytes, None).await
    }

    /// Loads `bytes` (read from `file`, if any) as `name`; logs the load,
    /// or the reload with the digest it replaced.
    async fn load(
        &self,
        name: &str,
        bytes: &[u8],
        file: Option<&str>,
    ) -> Result<Arc<ActivityComponent>, LoadError> {
        let loader = Loader {
            runner: self.memo.runner(),
            rules: &self.rules,
            stats: &self.stats,
            purity_warned: &self.purity_warned,
        };
        let settings = self.settings.get(name).cloned().unwrap_or_default();
        let component = loader.load(name, bytes, settings).await?;
        self.memo.check_stores(&component)?;
        let component = Arc::new(component);
        let previous = self
            .components
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .insert(name.to_owned(), component.clone());
        let previous = previous.map(|previous| previous.code_hash_hex());
        event_line::loaded(name, file, &component.code_hash_hex(), previous.as_deref());
        Ok(component)
    }

    /// Stops serving the component loaded as `name`, saying `why` in the
    /// log; whether one was loaded. (Its cached entries stay.)
    pub fn unload(&self, name: &str, why: &str) -> bool {
        let removed = self
            .components
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .remove(name);
        if let Some(component) = &removed {
            event_line::unloaded(name, &component.code_hash_hex(), why);
        }
        removed.is_some()
    }

    /// The component loaded as `name`.
    pub fn component(&self, name: &str) -> Option<Arc<ActivityComponent>> {
        self.components
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .get(name)
            .cloned()
    }

    /// The names of the loaded components, sorted.
    pub fn component_names(&self) -> Vec<String> {
        let components = self
            .components
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut names: Vec<String> = components.keys().cloned().collect();
        names.sort();
        names
    }

    /// The export of `component` that `export` addresses (its path, short
    /// path or bare name), looked up once for any number of calls.
    pub fn export(&self, component: &str, export: &str) -> Result<ExportHandle, HostError> {
        Ok(ExportHandle::new(self.loaded(component)?, export)?)
    }

    /// Calls `export` of `component` with `args`, memoized by the export's rule.
    pub fn call<'a>(
        &'a self,
        component: &'a str,
        export: &'a str,
        args: &'a [Val],
    ) -> impl Future<Output = Result<CallReport, HostError>> + Send + 'a {
        // Its future is call_with's, not one more state machine around it.
        self.call_with(component, export, args, CallOptions::default())
    }

    /// [`Host::call`] with per-call options (such as `refresh`).
    pub async fn call_with(
        &self,
        component: &str,
        export: &str,
        args: &[Val],
        options: CallOptions,
    ) -> Result<CallReport, HostError> {
        let handle = self.route(component, export)?;
        let args = Args::new(args, handle.export().byte_signature);
        Ok(self.memo.call(&handle, &args, options).await?)
    }

    /// Calls the export `handle` names with `args`, memoized by its rule
    /// (what every other `call*` method does once it has found the export,
    /// but [`Host::call_bytes`] to a byte export, which hands the memoizer
    /// its bytes as they are).
    pub async fn call_export(
        &self,
        handle: &ExportHandle,
        args: &[Val],
        options: CallOptions,
    ) -> Result<CallReport, HostError> {
        let args = Args::new(args, handle.export().byte_signature);
        Ok(self.memo.call(handle, &args, options).await?)
    }

    /// Calls `export` of `component` with JSON arguments (an array, one per
    /// parameter), as the HTTP and Temporal workers receive them.
    pub async fn call_json(
        &self,
        component: &str,
        export: &str,
        args: &Json,
        options: CallOptions,
    ) -> Result<CallReport, HostError> {
        let handle = self.route(component, export)?;
        let args = self.checked(&handle, handle.json_args(args))?;
        self.call_export(&handle, &args, options).await
    }

    /// Calls `export` of `component`, which takes one `list<u8>`, with
    /// `bytes` (as the HTTP worker receives `application/octet-stream`).
    /// The bytes of a byte export ([`crate::ByteSignature`]) go to the guest
    /// and into the key as they are.
    pub async fn call_bytes(
        &self,
        component: &str,
        export: &str,
        bytes: &[u8],
        options: CallOptions,
    ) -> Result<CallReport, HostError> {
        let handle = self.route(component, export)?;
        let byte_export = handle.export().byte_signature;
        if byte_export.is_some_and(|signature| signature.param == ByteKind::List) {
            let args = Args::Bytes(ByteArg::List(Cow::Borrowed(bytes)));
            return Ok(self.memo.call(&handle, &args, options).await?);
        }
        let args = self.checked(&handle, handle.bytes_args(bytes))?;
        self.call_export(&handle, &args, options).await
    }

    /// Calls a function of `component` written as WAVE text, such as
    /// `fetch-user(123)` or `api#send-email("a@example.com")` (the syntax of
    /// `wasmtime run --invoke`).
    pub async fn call_wave(
        &self,
        component: &str,
        invocation: &str,
    ) -> Result<CallReport, HostError> {
        self.call_wave_with(component, invocation, CallOptions::default())
            .await
    }

    /// [`Host::call_wave`] with per-call options (such as `refresh`).
    pub async fn call_wave_with(
        &self,
        component: &str,
        invocation: &str,
        options: CallOptions,
    ) -> Result<CallReport, HostError> {
        let handle = self.route(component, wave_name(invocation))?;
        let args = self.checked(&handle, handle.wave_args(invocation))?;
        self.call_export(&handle, &args, options).await
    }

    /// What a call of `component` written as WAVE text would do, without
    /// running it: the parts of its key, its rule, and what the store holds
    /// for it.
    pub async fn explain_wave(
        &self,
        component: &str,
        invocation: &str,
    ) -> Result<Explanation, HostError> {
        let handle = self.export(component, wave_name(invocation))?;
        let args = handle.wave_args(invocation)?;
        Ok(self.memo.explain(&handle, &args).await?)
    }

    /// [`Host::explain_wave`] with JSON arguments.
    pub async fn explain_json(
        &self,
        component: &str,
        export: &str,
        args: &Json,
    ) -> Result<Explanation, HostError> {
        let handle = self.export(component, export)?;
        let args = handle.json_args(args)?;
        Ok(self.memo.explain(&handle, &args).await?)
    }

    /// Removes the cached result of `export` of `component` called with
    /// `args` (however the arguments are written, and whatever the values of
    /// parameters the rule ignores). Returns the entry's key.
    pub async fn invalidate_entry(
        &self,
        component: &str,
        export: &str,
        args: &[Val],
    ) -> Result<CacheKeyText, HostError> {
        let handle = self.export(component, export)?;
        self.invalidated_entry(&handle, args).await
    }

    /// [`Host::invalidate_entry`] with JSON arguments.
    pub async fn invalidate_entry_json(
        &self,
        component: &str,
        export: &str,
        args: &Json,
    ) -> Result<CacheKeyText, HostError> {
        let handle = self.export(component, export)?;
        let args = handle.json_args(args)?;
        self.invalidated_entry(&handle, &args).await
    }

    /// [`Host::invalidate_entry`] with the call written as WAVE text.
    pub async fn invalidate_entry_wave(
        &self,
        component: &str,
        invocation: &str,
    ) -> Result<CacheKeyText, HostError> {
        let handle = self.export(component, wave_name(invocation))?;
        let args = handle.wave_args(invocation)?;
        self.invalidated_entry(&handle, &args).await
    }

    /// Makes every cached result of `export` of `component` unreachable, in O(1).
    pub async fn invalidate_export(&self, component: &str, export: &str) -> Result<(), HostError> {
        let handle = self.export(component, export)?;
        self.memo.invalidate_export(&handle).await?;
        let path = &handle.export().path;
        event_line::invalidated(self.front_end, Some(component), Some(path), None);
        Ok(())
    }

    /// Makes every cached result of `component` unreachable, in O(1) per
    /// store.
    pub async fn invalidate_component(&self, component: &str) -> Result<(), HostError> {
        self.memo.invalidate_component(component).await?;
        event_line::invalidated(self.front_end, Some(component), None, None);
        Ok(())
    }

    /// Removes the entry of a call of `handle`'s export with `args`, and
    /// logs it.
    async fn invalidated_entry(
        &self,
        handle: &ExportHandle,
        args: &[Val],
    ) -> Result<CacheKeyText, HostError> {
        let key = self.memo.invalidate_entry(handle, args).await?;
        let (component, export) = (&handle.component().name, &handle.export().path);
        event_line::invalidated(self.front_end, Some(component), Some(export), Some(&key));
        Ok(key)
    }

    fn loaded(&self, name: &str) -> Result<Arc<ActivityComponent>, HostError> {
        self.component(name)
            .ok_or_else(|| HostError::UnknownComponent(name.to_owned()))
    }
}

/// The short hex form of a cache key, as shown in logs.
pub type CacheKeyText = String;
