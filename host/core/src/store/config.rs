//! Which store to open: the `[store]` table of a configuration file, or a
//! `--store` value.

use std::str::FromStr;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::{CacheStore, DEFAULT_CAPACITY_BYTES, MemoryStore, StoreError};
#[cfg(feature = "redis")]
use super::{DEFAULT_L1_TTL, RedisConfig, RedisStore, TieredStore};

/// A store to open: the in-memory store of this process, or Redis.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(tag = "type", rename_all = "kebab-case", deny_unknown_fields)]
pub enum StoreConfig {
    /// The in-memory actor store of this process (the default).
    Memory {
        /// Bound on the bytes of cached results (default 256 MiB).
        #[serde(
            rename = "capacity-bytes",
            alias = "max-bytes",
            default = "default_capacity"
        )]
        capacity_bytes: u64,
    },
    /// Redis (or Redis Cluster), shared by every worker.
    #[cfg(feature = "redis")]
    Redis(Box<RedisConfig>),
}

fn default_capacity() -> u64 {
    DEFAULT_CAPACITY_BYTES
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self::Memory {
            capacity_bytes: DEFAULT_CAPACITY_BYTES,
        }
    }
}

impl StoreConfig {
    /// Whether this is the memory store of one process.
    pub fn is_memory(&self) -> bool {
        matches!(self, Self::Memory { .. })
    }

    /// The store for logs: `memory`, or Redis's URL or nodes (passwords
    /// hidden), `tiered+` in front when a memory tier is.
    pub fn location(&self) -> String {
        match self {
            Self::Memory { .. } => "memory".to_owned(),
            #[cfg(feature = "redis")]
            Self::Redis(config) => {
                let tier = if config.l1_ttl.is_some() {
                    "tiered+"
                } else {
                    ""
                };
                format!("{tier}{}", config.location())
            }
        }
    }

    /// Opens the store (Redis connects lazily, on the first request). Call
    /// it within a tokio runtime.
    pub fn open(&self) -> Result<Arc<dyn CacheStore>, StoreError> {
        match self {
            Self::Memory { capacity_bytes } => Ok(Arc::new(MemoryStore::new(*capacity_bytes))),
            #[cfg(feature = "redis")]
            Self::Redis(config) => {
                let redis = RedisStore::new(config)?;
                Ok(match config.l1_ttl {
                    None => Arc::new(redis),
                    Some(l1_ttl) => {
                        let memory = MemoryStore::new(config.l1_capacity_bytes);
                        Arc::new(TieredStore::new(memory, redis, l1_ttl))
                    }
                })
            }
        }
    }
}

impl FromStr for StoreConfig {
    type Err = String;

    /// Parses a `--store` value: `memory`; a `redis://` or `rediss://` URL;
    /// `redis-cluster://HOST:PORT,HOST:PORT…` (or `rediss-cluster://`) for a
    /// cluster; any Redis form prefixed with `tiered+` for an in-memory tier
    /// in front of it.
    fn from_str(flag: &str) -> Result<Self, String> {
        if flag == "memory" {
            return Ok(Self::default());
        }
        redis_from_flag(flag)
    }
}

#[cfg(feature = "redis")]
fn redis_from_flag(flag: &str) -> Result<StoreConfig, String> {
    let (tiered, rest) = match flag.strip_prefix("tiered+") {
        Some(rest) => (true, rest),
        None => (false, flag),
    };
    let mut config = RedisConfig {
        l1_ttl: tiered.then_some(DEFAULT_L1_TTL),
        ..RedisConfig::default()
    };
    if rest.starts_with("redis://") || rest.starts_with("rediss://") {
        config.url = Some(rest.to_owned());
    } else if let Some((scheme, nodes)) = rest.split_once("-cluster://")
        && (scheme == "redis" || scheme == "rediss")
    {
        config.nodes = nodes
            .split(',')
            .map(|node| format!("{scheme}://{node}"))
            .collect();
    } else {
        return Err(format!(
            "unknown store `{flag}` (expected memory, redis://…, rediss://…, \
             redis-cluster://HOST:PORT,…, or tiered+ before a Redis store)"
        ));
    }
    Ok(StoreConfig::Redis(Box::new(config)))
}

#[cfg(not(feature = "redis"))]
fn redis_from_flag(flag: &str) -> Result<StoreConfig, String> {
    Err(format!(
        "unknown store `{flag}` (this build has only the memory store: \
         Redis needs the `redis` feature)"
    ))
}

#[cfg(all(test, feature = "redis"))]
mod tests {
    use super::*;

    #[test]
    fn store_flags_name_nodes_clusters_and_tiers() {
        assert_eq!("memory".parse(), Ok(StoreConfig::default()));
        assert!("memcached://x".parse::<StoreConfig>().is_err());
        let Ok(StoreConfig::Redis(single)) = "rediss://h:1".parse() else {
            panic!("a Redis store")
        };
        assert_eq!(single.url.as_deref(), Some("rediss://h:1"));
        let Ok(StoreConfig::Redis(cluster)) = "redis-cluster://a:7000,b:7001".parse() else {
            panic!("a Redis store")
        };
        assert_eq!(cluster.nodes, ["redis://a:7000", "redis://b:7001"]);
        assert_eq!(cluster.url, None);
        assert_eq!(cluster.l1_ttl, None);
        let Ok(StoreConfig::Redis(tiered)) = "tiered+redis://h:1".parse() else {
            panic!("a Redis store")
        };
        assert_eq!(tiered.url.as_deref(), Some("redis://h:1"));
        assert_eq!(tiered.l1_ttl, Some(DEFAULT_L1_TTL));
        assert!("tiered+memory".parse::<StoreConfig>().is_err());
        assert!("foo-cluster://a:1".parse::<StoreConfig>().is_err());
    }
}
