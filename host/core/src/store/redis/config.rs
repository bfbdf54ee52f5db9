//! The settings of the Redis store, as written under `[store]` with
//! `type = "redis"` in a configuration file (every key optional).

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::RedisTopology;
use crate::store::{DEFAULT_CAPACITY_BYTES, StoreError, StoreErrorKind};

/// Connection settings of a [`RedisStore`](super::RedisStore), and of the
/// in-memory tier in front of it when the store is opened through
/// [`StoreConfig`](crate::StoreConfig).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, rename_all = "kebab-case", deny_unknown_fields)]
pub struct RedisConfig {
    /// One node: `redis://[user:password@]host:port[/db]`, or `rediss://…`
    /// for TLS.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// A Redis Cluster, found through any of these nodes (`redis://host:port`);
    /// instead of `url`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub nodes: Vec<String>,
    /// Prefix of every key this store writes (default `activity-host`).
    pub prefix: String,
    /// Time allowed to connect (default 250 ms).
    #[serde(with = "humantime_serde")]
    pub connect_timeout: Duration,
    /// Time allowed for each response (default 250 ms).
    #[serde(with = "humantime_serde")]
    pub response_timeout: Duration,
    /// How long Redis is skipped after a failure (default 1 s).
    #[serde(with = "humantime_serde")]
    pub breaker_window: Duration,
    /// How long a lease on computing a key lasts without renewal; its owner
    /// renews it every third of this while the body runs (default 5 s).
    #[serde(with = "humantime_serde")]
    pub lease: Duration,
    /// How long a caller waits in all for another worker's computation
    /// before running the body itself (default 60 s).
    #[serde(with = "humantime_serde")]
    pub lease_wait: Duration,
    /// When set, this worker's memory keeps entries in front of Redis for at
    /// most this long (the tiered store).
    #[serde(with = "humantime_serde", skip_serializing_if = "Option::is_none")]
    pub l1_ttl: Option<Duration>,
    /// Bound on the bytes of the in-memory tier (default 256 MiB).
    pub l1_capacity_bytes: u64,
    /// The ACL user to authenticate as (instead of one in the URL).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// Its password (instead of one in the URL; shown as `***`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    /// The environment variable holding the password.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password_env: Option<String>,
    /// The file holding the password (a trailing newline is ignored).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password_file: Option<PathBuf>,
    /// The CA certificate (PEM) that Redis's certificate must chain to,
    /// instead of the system's roots (`rediss://` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_ca_cert: Option<PathBuf>,
    /// This worker's certificate (PEM), for Redis servers that require one
    /// (`tls-auth-clients yes`); with `tls-client-key`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_client_cert: Option<PathBuf>,
    /// The private key (PEM) of `tls-client-cert`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_client_key: Option<PathBuf>,
    /// Accept any certificate from Redis: for testing only (anyone between
    /// the worker and Redis could then read and change cached results); a
    /// warning says so at start. Also `rediss://…/#insecure`.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub insecure: bool,
}

impl Default for RedisConfig {
    fn default() -> Self {
        Self {
            url: None,
            nodes: Vec::new(),
            prefix: "activity-host".to_owned(),
            connect_timeout: Duration::from_millis(250),
            response_timeout: Duration::from_millis(250),
            breaker_window: Duration::from_secs(1),
            lease: Duration::from_secs(5),
            lease_wait: Duration::from_secs(60),
            l1_ttl: None,
            l1_capacity_bytes: DEFAULT_CAPACITY_BYTES,
            username: None,
            password: None,
            password_env: None,
            password_file: None,
            tls_ca_cert: None,
            tls_client_cert: None,
            tls_client_key: None,
            insecure: false,
        }
    }
}

impl RedisConfig {
    /// Settings for one node at `url` with the documented defaults.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: Some(url.into()),
            ..Self::default()
        }
    }

    /// Settings for the cluster reachable through `nodes` (`redis://host:port`).
    pub fn cluster(nodes: Vec<String>) -> Self {
        Self {
            nodes,
            ..Self::default()
        }
    }

    /// These settings with any password (in their URLs, or set) replaced
    /// by `***` (for printing and logs).
    pub fn redacted(&self) -> Self {
        Self {
            url: self.url.as_deref().map(hide_password),
            nodes: self.nodes.iter().map(|node| hide_password(node)).collect(),
            password: self.password.as_ref().map(|_| "***".to_owned()),
            ..self.clone()
        }
    }

    /// Where the store is, for logs: its URL or its nodes, passwords hidden.
    pub fn location(&self) -> String {
        let redacted = self.redacted();
        redacted.url.unwrap_or_else(|| redacted.nodes.join(","))
    }

    /// Where Redis is: exactly one of `url` and `nodes` must be set.
    pub fn topology(&self) -> Result<RedisTopology, StoreError> {
        match (&self.url, self.nodes.is_empty()) {
            (Some(url), true) => Ok(RedisTopology::Single(url.clone())),
            (None, false) => Ok(RedisTopology::Cluster(self.nodes.clone())),
            _ => Err(StoreError::new(
                "redis",
                StoreErrorKind::Config,
                "set exactly one of `url` (one node) and `nodes` (a cluster)",
            )),
        }
    }
}

/// The URL with any password replaced by `***`.
pub(super) fn hide_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    match rest.split_once('@') {
        Some((credentials, host)) => match credentials.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}
