//! The configuration file (TOML).
//!
//! ```toml
//! [cache]
//! default-policy = "no-cache"        # for exports without a declared rule
//! actor-cache-bytes = 67108864       # bound on all components' helper results
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
//!
//! [components.users.exports.fetch-user]
//! policy = "inputs"                  # inputs | task-source | no-cache
//! ttl = "10m"                        # 250ms, 90s, 10m, 1h, "2h 30m" or never
//! cache-errors = false               # cache returned result::err values too
//! ignore-params = ["trace-id"]       # parameters left out of the key
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

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;

use activity_host::Limits;
use activity_host::{CachePolicy, RuleOverride, RulesConfig};
use activity_host::{CacheStore, StoreConfig, StoreError};
use activity_host::{Capabilities, DirGrant};
use activity_host::{InstanceMode, WarmConfig};

/// The configuration file could not be used.
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

/// The configuration file's contents.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    /// `[cache]`: defaults of the memoizer.
    #[serde(default)]
    pub cache: CacheSection,
    /// `[components.NAME]`: per-component settings.
    #[serde(default)]
    pub components: HashMap<String, ComponentSection>,
    /// `[store]`: where results are cached.
    #[serde(default)]
    pub store: StoreConfig,
    /// `[stores.NAME]`: more stores, for exports whose rule names one.
    #[serde(default)]
    pub stores: HashMap<String, StoreConfig>,
    /// `[server]`: the HTTP worker.
    #[serde(default)]
    pub server: ServerSection,
}

/// The `[server]` table (every key optional; flags and `ACTIVITY_HOST_*`
/// variables override it).
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct ServerSection {
    /// Address to listen on (default `127.0.0.1:8080`).
    pub listen: Option<std::net::SocketAddr>,
    /// Directory whose `.wasm` files are served.
    pub dir: Option<PathBuf>,
    /// Bearer token required by every route but `/healthz`.
    pub token: Option<String>,
    /// Largest request body in bytes (default 1 MiB).
    pub max_body_bytes: Option<usize>,
    /// Longest a call may take (default 30 s).
    #[serde(default, deserialize_with = "duration")]
    pub call_timeout: Option<Duration>,
}

fn duration<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Duration>, D::Error> {
    let text = String::deserialize(deserializer)?;
    humantime::parse_duration(&text)
        .map(Some)
        .map_err(|e| serde::de::Error::custom(format!("invalid duration `{text}`: {e}")))
}

/// A store opened from `[stores.NAME]`, and its name.
pub type NamedStore = (String, Arc<dyn CacheStore>);

/// `instances = "fresh" | "warm"`.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum InstancesSetting {
    /// A fresh instance per call.
    Fresh,
    /// Actor mode: warm instances.
    Warm,
}

/// The `[cache]` table.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct CacheSection {
    /// Policy of exports without a declared rule (default `no-cache`).
    pub default_policy: Option<CachePolicy>,
    /// Bound on the bytes of helper results in the actor cache (default
    /// 64 MiB).
    pub actor_cache_bytes: Option<u64>,
}

/// A `[components.NAME]` table.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ComponentSection {
    /// The component file, for `serve` without `--dir` or FILEs.
    pub path: Option<PathBuf>,
    /// `fresh` (default: an instance per call) or `warm` (actor mode).
    pub instances: Option<InstancesSetting>,
    /// Actor mode: most instances at once (default 4).
    #[serde(rename = "max-instances")]
    pub max_instances: Option<usize>,
    /// Actor mode: drop an instance idle this long (default 5m).
    #[serde(rename = "idle-ttl", default, deserialize_with = "duration")]
    pub idle_ttl: Option<Duration>,
    /// Actor mode: drop an instance after this many calls (default 10000).
    #[serde(rename = "max-uses")]
    pub max_uses: Option<u64>,
    /// Bound on each linear memory of an instance (default 256 MiB).
    #[serde(rename = "max-memory-bytes")]
    pub max_memory_bytes: Option<usize>,
    /// Bound on the elements of each table of an instance (default 100 000).
    #[serde(rename = "max-table-elements")]
    pub max_table_elements: Option<usize>,
    /// Bound on one call's arguments (default 16 MiB).
    #[serde(rename = "max-argument-bytes")]
    pub max_argument_bytes: Option<usize>,
    /// Bound on a result kept in the cache (default 4 MiB).
    #[serde(rename = "max-result-bytes")]
    pub max_result_bytes: Option<usize>,
    /// Bound on how long one call may run (default 5 min).
    #[serde(default, deserialize_with = "duration")]
    pub timeout: Option<Duration>,
    /// Host directories the guests may open (default: none).
    #[serde(default)]
    pub dirs: Vec<DirGrant>,
    /// Host environment variables the guests see, by name (default: none).
    #[serde(default)]
    pub env: Vec<String>,
    /// Whether guest stderr reaches the host's stderr (default: true).
    pub stderr: Option<bool>,
    /// Whether guest stdout is kept, on the host's stderr (default: false).
    pub stdout: Option<bool>,
    /// `[components.NAME.exports.EXPORT]`: rule overrides by export name.
    #[serde(default)]
    pub exports: HashMap<String, RuleOverride>,
}

impl ConfigFile {
    /// Reads and parses the file at `path`.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(&text).map_err(|message| ConfigError::Invalid {
            path: path.to_owned(),
            message,
        })
    }

    /// Parses TOML text.
    pub fn parse(text: &str) -> Result<Self, String> {
        toml::from_str(text).map_err(|error| error.to_string())
    }

    /// The components listed with a `path`, by name.
    pub fn component_files(&self) -> Vec<(String, PathBuf)> {
        let mut files: Vec<(String, PathBuf)> = self
            .components
            .iter()
            .filter_map(|(name, section)| Some((name.clone(), section.path.clone()?)))
            .collect();
        files.sort();
        files
    }

    /// The limits of every component that sets one.
    pub fn limits(&self) -> Vec<(String, Limits)> {
        self.components
            .iter()
            .filter(|(_, section)| {
                section.max_memory_bytes.is_some()
                    || section.max_table_elements.is_some()
                    || section.max_argument_bytes.is_some()
                    || section.max_result_bytes.is_some()
                    || section.timeout.is_some()
            })
            .map(|(name, section)| {
                let defaults = Limits::default();
                let limits = Limits {
                    max_memory_bytes: section
                        .max_memory_bytes
                        .unwrap_or(defaults.max_memory_bytes),
                    max_table_elements: section
                        .max_table_elements
                        .unwrap_or(defaults.max_table_elements),
                    max_argument_bytes: section
                        .max_argument_bytes
                        .unwrap_or(defaults.max_argument_bytes),
                    max_result_bytes: section
                        .max_result_bytes
                        .unwrap_or(defaults.max_result_bytes),
                    timeout: section.timeout.unwrap_or(defaults.timeout),
                };
                (name.clone(), limits)
            })
            .collect()
    }

    /// The capabilities of every component that grants any.
    pub fn capabilities(&self) -> Vec<(String, Capabilities)> {
        self.components
            .iter()
            .filter(|(_, section)| {
                !section.dirs.is_empty()
                    || !section.env.is_empty()
                    || section.stderr.is_some()
                    || section.stdout.is_some()
            })
            .map(|(name, section)| {
                let defaults = Capabilities::default();
                let capabilities = Capabilities {
                    dirs: section.dirs.clone(),
                    env: section.env.clone(),
                    stderr: section.stderr.unwrap_or(defaults.stderr),
                    stdout: section.stdout.unwrap_or(defaults.stdout),
                };
                (name.clone(), capabilities)
            })
            .collect()
    }

    /// The instance mode of every component that sets one.
    pub fn instance_modes(&self) -> Vec<(String, InstanceMode)> {
        self.components
            .iter()
            .filter_map(|(name, section)| {
                let mode = match section.instances? {
                    InstancesSetting::Fresh => InstanceMode::Fresh,
                    InstancesSetting::Warm => {
                        let defaults = WarmConfig::default();
                        InstanceMode::Warm(WarmConfig {
                            max_instances: section.max_instances.unwrap_or(defaults.max_instances),
                            idle_ttl: section.idle_ttl.unwrap_or(defaults.idle_ttl),
                            max_uses: section.max_uses.unwrap_or(defaults.max_uses),
                        })
                    }
                };
                Some((name.clone(), mode))
            })
            .collect()
    }

    /// Opens the `[stores.NAME]` stores, by name.
    pub fn open_named_stores(&self) -> Result<Vec<NamedStore>, StoreError> {
        let mut stores = self
            .stores
            .iter()
            .map(|(name, section)| Ok((name.clone(), section.open()?)))
            .collect::<Result<Vec<_>, StoreError>>()?;
        stores.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(stores)
    }

    /// The rules configuration this file describes.
    pub fn rules(&self) -> RulesConfig {
        let mut rules = RulesConfig {
            undeclared: self.cache.default_policy,
            ..RulesConfig::default()
        };
        for (component, section) in &self.components {
            for (export, change) in &section.exports {
                rules.set(component, export, change.clone());
            }
        }
        rules
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use activity_host::Ttl;

    #[test]
    fn parses_rules_per_component_and_export() {
        let file = ConfigFile::parse(
            r#"
            [cache]
            default-policy = "inputs"

            [components.users.exports.fetch-user]
            policy = "task-source"
            ttl = "250ms"
            cache-errors = true
            ignore-params = ["trace-id"]

            [components.users.exports."api#calculate"]
            ttl = "never"
            "#,
        )
        .unwrap();
        let rules = file.rules();
        assert_eq!(rules.undeclared, Some(CachePolicy::Inputs));
        let users: HashMap<_, _> = rules.overrides("users").collect();
        let fetch = users["fetch-user"];
        assert_eq!(fetch.policy, Some(CachePolicy::TaskSource));
        assert_eq!(fetch.ttl, Some(Ttl::After(Duration::from_millis(250))));
        assert_eq!(fetch.cache_errors, Some(true));
        assert_eq!(
            fetch.ignore_params.as_deref(),
            Some(&["trace-id".to_owned()][..])
        );
        assert_eq!(users["api#calculate"].ttl, Some(Ttl::Never));
    }

    #[test]
    fn unknown_keys_are_named() {
        let error = ConfigFile::parse("[components.users.exports.f]\nttl-ms = 5\n").unwrap_err();
        assert!(error.contains("ttl-ms"), "{error}");
        let error = ConfigFile::parse("[cache]\ndefault = \"inputs\"\n").unwrap_err();
        assert!(error.contains("default"), "{error}");
        let error =
            ConfigFile::parse("[components.users.exports.f]\nttl = \"soon\"\n").unwrap_err();
        assert!(error.contains("invalid TTL `soon`"), "{error}");
    }

    #[test]
    fn parses_the_store_section() {
        let file = ConfigFile::parse(
            r#"
            [store]
            type = "redis"
            url = "redis://127.0.0.1:6390/2"
            prefix = "ah"
            response-timeout = "100ms"
            "#,
        )
        .unwrap();
        let StoreConfig::Redis(redis) = &file.store else {
            panic!("{:?}", file.store)
        };
        assert_eq!(redis.url.as_deref(), Some("redis://127.0.0.1:6390/2"));
        assert_eq!(redis.prefix, "ah");
        assert_eq!(redis.response_timeout, Duration::from_millis(100));
        assert_eq!(redis.connect_timeout, Duration::from_millis(250));
        assert_eq!(ConfigFile::parse("").unwrap().store, StoreConfig::default());
        let error = ConfigFile::parse(
            "[store]
type = \"redis\"
url = \"redis://x\"
port = 1
",
        )
        .unwrap_err();
        assert!(error.contains("port"), "{error}");
    }

    #[test]
    fn a_redis_store_needs_one_of_url_and_nodes() {
        for text in [
            "[store]\ntype = \"redis\"\n",
            "[store]\ntype = \"redis\"\nurl = \"redis://a\"\nnodes = [\"redis://b\"]\n",
        ] {
            let file = ConfigFile::parse(text).unwrap();
            let error = file.store.open().err().expect("rejected").to_string();
            assert!(error.contains("exactly one of `url`"), "{error}");
        }
    }

    #[test]
    fn parses_limits_and_grants() {
        let file = ConfigFile::parse(
            r#"
            [components.models]
            max-memory-bytes = 1048576
            dirs = [{ host = "data", guest = "/data" }, { host = "out", guest = "/out", writable = true }]
            env = ["MODEL_NAME"]
            "#,
        )
        .unwrap();
        let limits: HashMap<_, _> = file.limits().into_iter().collect();
        assert_eq!(limits["models"].max_memory_bytes, 1 << 20);
        assert_eq!(
            limits["models"].max_result_bytes,
            Limits::default().max_result_bytes
        );
        let capabilities: HashMap<_, _> = file.capabilities().into_iter().collect();
        let models = &capabilities["models"];
        assert_eq!(models.env, ["MODEL_NAME"]);
        assert_eq!(models.dirs.len(), 2);
        assert!(!models.dirs[0].writable && models.dirs[1].writable);
        assert_eq!(models.dirs[1].guest, "/out");
        let error = ConfigFile::parse(
            "[components.m]\ndirs = [{ host = \"a\", guest = \"/a\", mode = \"rw\" }]\n",
        )
        .unwrap_err();
        assert!(error.contains("mode"), "{error}");
    }

    #[test]
    fn named_stores_and_rules_that_use_them() {
        let file = ConfigFile::parse(
            r#"
            [stores.shared]
            type = "redis"
            url = "redis://127.0.0.1:1"

            [components.users.exports.fetch-user]
            store = "shared"
            "#,
        )
        .unwrap();
        assert!(matches!(file.stores["shared"], StoreConfig::Redis(_)));
        let rules = file.rules();
        let users: HashMap<_, _> = rules.overrides("users").collect();
        assert_eq!(users["fetch-user"].store.as_deref(), Some("shared"));
    }

    #[test]
    fn load_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("host.toml");
        std::fs::write(&path, "[cache]\nbogus = 1\n").unwrap();
        let error = ConfigFile::load(&path).unwrap_err().to_string();
        assert!(
            error.contains("host.toml") && error.contains("bogus"),
            "{error}"
        );
    }
}
