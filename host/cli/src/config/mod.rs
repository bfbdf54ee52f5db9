//! The configuration file (TOML).
//!
//! ```toml
//! [cache]
//! default-policy = "no-cache"        # for exports without a declared rule
//! actor-cache-bytes = 67108864       # bound on all components' helper results
//!
//! [limits]
//! max-total-memory-bytes = 1073741824   # all guests' memory at once; calls wait for room
//!
//! [components.users]
//! path = "target/wasm32-wasip2/guest/users.wasm"   # served by `serve` without --dir
//! instances = "warm"                 # actor mode (default "fresh": an instance per call)
//! max-instances = 4                  # warm or busy at once; more calls wait
//! idle-ttl = "5m"                    # drop a warm instance unused this long
//! max-uses = 10000                   # drop an instance after this many calls
//! max-memory-bytes = 268435456       # each linear memory; growing beyond it traps
//! max-table-elements = 100000        # each table; growing beyond it traps
//! max-argument-bytes = 16777216      # larger calls are refused before running
//! max-result-bytes = 4194304         # larger results are returned, not cached
//! timeout = "5m"                     # a call still running then is stopped
//! dirs = [{ host = "data", guest = "/data" }]   # read-only; writable = true to allow writes
//! env = ["MODEL_NAME"]               # host variables the guests see
//! stderr = true                      # guest stderr to the host's stderr (false: discarded)
//! stdout = false                     # guest stdout kept, on the host's stderr
//! allowed-outbound-hosts = ["http://127.0.0.1:8089", "tcp://127.0.0.1:5432"]   # default: none
//! max-outbound-requests = 100        # HTTP requests + TCP connections per call
//! outbound-connect-timeout = "10s"   # establishing one HTTP connection
//! allow-nondeterministic = false     # true: no purity warning for this component
//!
//! [components.users.secrets]         # the guest sees a placeholder, hosts get the value
//! API_TOKEN = { env = "USERS_API_TOKEN", hosts = ["http://127.0.0.1:8089"] }
//!
//! [components.users.exports.fetch-user]
//! policy = "inputs"                  # inputs | task-source | no-cache
//! ttl = "10m"                        # 250ms, 90s, 10m, 1h, "2h 30m" or never
//! cache-errors = false               # cache returned result::err values too
//! ignore-params = ["trace-id"]       # parameters left out of the key
//! allow-nondeterministic = true      # no purity warning for this export
//! ```
//!
//! ```toml
//! [store]                            # where results are cached (default: memory)
//! type = "redis"                     # memory | redis
//! url = "redis://127.0.0.1:6379/0"   # redis:// or rediss:// (TLS), user:password@ allowed
//! # nodes = ["redis://10.0.0.1:7000", "redis://10.0.0.2:7000"]  # a Redis Cluster, instead of url
//! prefix = "activity-host"           # prefix of every key
//! connect-timeout = "250ms"
//! response-timeout = "250ms"
//! breaker-window = "1s"              # how long Redis is skipped after a failure
//! lease = "5s"                       # lease on computing a key, renewed while the body runs
//! lease-wait = "60s"                 # longest wait for another worker's result
//! l1-ttl = "10s"                     # set: this worker's memory in front of Redis (tiered)
//! l1-capacity-bytes = 268435456
//! tls-ca-cert = "ca.pem"             # rediss://: a private CA (default: the system's roots)
//! tls-client-cert = "worker.pem"     # mutual TLS, with tls-client-key
//! tls-client-key = "worker.key"
//! username = "activity"              # an ACL user
//! password-file = "/run/secrets/redis"  # or password-env = "VAR", or password = "…" (printed as ***)
//! insecure = false                   # true: Redis's certificate is not checked (testing only)
//!
//! [stores.shared]                    # named stores, same keys as [store]
//! type = "redis"
//! url = "redis://10.0.0.5:6379"
//!
//! [components.users.exports.fetch-user]
//! store = "shared"                   # this export's results live in that store
//! ```
//!
//! Precedence, lowest first: the component's declared rules, this file, CLI
//! flags. Unknown keys are errors that name the key and the file.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};

use crate::server::ServerConfig;
use activity_host::{
    CachePolicy, Capabilities, DEFAULT_ACTOR_CACHE_BYTES, HostBuilder, InstanceMode, Limits,
    RuleOverride, RulesConfig, StoreConfig, WarmConfig,
};

/// The configuration could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not valid TOML or has unknown or mistyped keys.
    #[error("config file {path}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong, and where.
        message: String,
    },
}

/// The resolved configuration: the file's tables with every default filled
/// in (written once, on the types that use them) and the flags applied.
/// `config check` prints exactly this.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// `[store]`: where results are cached.
    pub store: StoreConfig,
    /// `[stores.NAME]`: more stores, for exports whose rule names one.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub stores: BTreeMap<String, StoreConfig>,
    /// `[server]`: the HTTP worker.
    pub server: ServerConfig,
    /// `[cache]`: defaults of the memoizer.
    pub cache: CacheConfig,
    /// `[limits]`: bounds on all components together.
    pub limits: WorkerLimits,
    /// `[components.NAME]`: per-component settings.
    pub components: BTreeMap<String, ComponentConfig>,
}

/// The `[cache]` table.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct CacheConfig {
    /// Policy of exports without a declared rule (default `no-cache`).
    pub default_policy: CachePolicy,
    /// Bound on the bytes of helper results in the actor cache (default
    /// 64 MiB).
    pub actor_cache_bytes: u64,
}

impl Default for CacheConfig {
    fn default() -> Self {
        Self {
            default_policy: CachePolicy::default(),
            actor_cache_bytes: DEFAULT_ACTOR_CACHE_BYTES,
        }
    }
}

/// The `[limits]` table: bounds on the worker as a whole (each
/// component's own limits are in its `[components.NAME]` table).
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct WorkerLimits {
    /// Bound on the linear memory of all guest instances at once (default:
    /// none): each instance reserves its component's `max-memory-bytes`
    /// from it, and a call that does not fit waits.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_total_memory_bytes: Option<u64>,
}

/// `instances = "fresh" | "warm"`.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Instances {
    /// A fresh instance per call (the default).
    #[default]
    Fresh,
    /// Actor mode: warm instances, bounded by the `WarmConfig` keys.
    Warm,
}

/// A `[components.NAME]` table: the core's own settings types, flattened.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(default, rename_all = "kebab-case")]
pub struct ComponentConfig {
    /// The component file, for workers started without `--dir` or FILEs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<PathBuf>,
    /// `fresh` (an instance per call) or `warm` (actor mode).
    pub instances: Instances,
    /// Actor mode's bounds (`max-instances`, `idle-ttl`, `max-uses`).
    #[serde(flatten)]
    pub warm: WarmConfig,
    /// Resource limits (`max-memory-bytes`, …, `timeout`).
    #[serde(flatten)]
    pub limits: Limits,
    /// Grants (`dirs`, `env`, `stderr`, `stdout`, `allowed-outbound-hosts`,
    /// `secrets`).
    #[serde(flatten)]
    pub capabilities: Capabilities,
    /// `[components.NAME.exports.EXPORT]`: rule overrides by export name.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub exports: BTreeMap<String, RuleOverride>,
    /// Keys none of the above knows: an error in [`Config::parse`] (serde
    /// cannot deny unknown keys across flattened tables itself).
    #[serde(flatten, skip_serializing)]
    unknown: BTreeMap<String, IgnoredAny>,
}

impl ComponentConfig {
    /// How calls of the component get instances.
    pub fn instance_mode(&self) -> InstanceMode {
        match self.instances {
            Instances::Fresh => InstanceMode::Fresh,
            Instances::Warm => InstanceMode::Warm(self.warm),
        }
    }
}

/// Settings given as flags (or their `ACTIVITY_HOST_*` variables): each
/// replaces the file's value.
#[derive(Debug, Default)]
pub struct Flags {
    /// `--store`.
    pub store: Option<StoreConfig>,
    /// `--listen`.
    pub listen: Option<SocketAddr>,
    /// `--token`.
    pub token: Option<String>,
    /// `--max-body-bytes`.
    pub max_body_bytes: Option<usize>,
    /// `--call-timeout`.
    pub call_timeout: Option<Duration>,
    /// `--max-total-memory-bytes`.
    pub max_total_memory_bytes: Option<u64>,
}

impl Config {
    /// The configuration in effect: the file at `file` (none: every
    /// default), then `flags` on top.
    pub fn resolve(file: Option<&Path>, flags: Flags) -> Result<Self, ConfigError> {
        let mut config = match file {
            Some(path) => Self::load(path)?,
            None => Self::default(),
        };
        let Flags {
            store,
            listen,
            token,
            max_body_bytes,
            call_timeout,
            max_total_memory_bytes,
        } = flags;
        config.store = store.unwrap_or(config.store);
        let server = &mut config.server;
        server.listen = listen.unwrap_or(server.listen);
        server.token = token.or(server.token.take());
        server.max_body_bytes = max_body_bytes.unwrap_or(server.max_body_bytes);
        server.call_timeout = call_timeout.unwrap_or(server.call_timeout);
        let limits = &mut config.limits;
        limits.max_total_memory_bytes = max_total_memory_bytes.or(limits.max_total_memory_bytes);
        Ok(config)
    }

    /// Reads and parses the file at `path`.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        let invalid = |message| ConfigError::Invalid {
            path: path.to_owned(),
            message,
        };
        let config = Self::parse(&text).map_err(invalid)?;
        config.check_granted_directories().map_err(invalid)?;
        Ok(config)
    }

    /// An error naming the first granted host directory that does not exist
    /// (relative paths: from the working directory, as the worker opens
    /// them).
    fn check_granted_directories(&self) -> Result<(), String> {
        for (name, component) in &self.components {
            for dir in &component.capabilities.dirs {
                if !dir.host.is_dir() {
                    return Err(format!(
                        "[components.{name}]: granted directory {} does not exist \
                         (or is not a directory)",
                        dir.host.display()
                    ));
                }
            }
        }
        Ok(())
    }

    /// Parses TOML text.
    pub fn parse(text: &str) -> Result<Self, String> {
        let config: Self = toml::from_str(text).map_err(|error| error.to_string())?;
        for (name, component) in &config.components {
            if let Some(key) = component.unknown.keys().next() {
                return Err(format!("unknown key `{key}` in [components.{name}]"));
            }
            component
                .limits
                .check()
                .map_err(|error| format!("[components.{name}]: {error}"))?;
        }
        if config.limits.max_total_memory_bytes == Some(0) {
            return Err("[limits]: max-total-memory-bytes must be more than 0: \
                        no instance could be created"
                .to_owned());
        }
        Ok(config)
    }

    /// The components listed with a `path`, by name.
    pub fn component_files(&self) -> Vec<(String, PathBuf)> {
        self.components
            .iter()
            .filter_map(|(name, component)| Some((name.clone(), component.path.clone()?)))
            .collect()
    }

    /// Adds `change` to the rule overrides of `export` of `component` (a
    /// flag on top of the file).
    pub fn override_rule(&mut self, component: &str, export: &str, change: RuleOverride) {
        self.components
            .entry(component.to_owned())
            .or_default()
            .exports
            .entry(export.to_owned())
            .or_default()
            .merge(change);
    }

    /// The rules configuration: the default policy and every override.
    pub fn rules(&self) -> RulesConfig {
        let mut rules = RulesConfig {
            undeclared: Some(self.cache.default_policy),
            ..RulesConfig::default()
        };
        for (component, settings) in &self.components {
            for (export, change) in &settings.exports {
                rules.set(component, export, change.clone());
            }
        }
        rules
    }

    /// A host builder with these stores, rules, actor-cache bound and
    /// per-component settings (stores connect lazily).
    pub fn host_builder(&self) -> anyhow::Result<HostBuilder> {
        let mut builder = activity_host::Host::builder()
            .store(self.store.open()?)
            .rules(self.rules())
            .actor_cache_bytes(self.cache.actor_cache_bytes)
            .max_total_memory_bytes(self.limits.max_total_memory_bytes);
        for (name, store) in &self.stores {
            builder = builder.named_store(name, store.open()?);
        }
        if crate::telemetry::logs_are_json() {
            builder = builder.log_guest_output();
        }
        for (name, component) in &self.components {
            builder = builder
                .instance_mode(name, component.instance_mode())
                .limits(name, component.limits)
                .capabilities(name, component.capabilities.clone());
        }
        Ok(builder)
    }

    /// The configuration as TOML, with secrets hidden: the server's token
    /// and the passwords in store URLs.
    pub fn to_redacted_toml(&self) -> String {
        let mut shown = self.clone();
        shown.store = redacted(&self.store);
        for store in shown.stores.values_mut() {
            *store = redacted(store);
        }
        if shown.server.token.is_some() {
            shown.server.token = Some("(set, hidden)".to_owned());
        }
        toml::to_string(&shown).expect("the configuration is TOML")
    }
}

/// `store` with any password in its URLs replaced by `***`.
fn redacted(store: &StoreConfig) -> StoreConfig {
    match store {
        StoreConfig::Redis(redis) => StoreConfig::Redis(Box::new(redis.redacted())),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests;
