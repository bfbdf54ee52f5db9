//! One connection handle to Redis, a single node or a cluster.
//!
//! Both kinds are cheap to clone, multiplex every request over long-lived
//! connections, reconnect by themselves, and are created without connecting
//! (a worker starts while Redis is down).

use std::time::Duration;

use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::cluster::ClusterClientBuilder;
use redis::cluster_async::ClusterConnection;
use redis::{Cmd, Pipeline, RedisFuture, RedisResult, Value};

use super::credentials::Credentials;

/// Where Redis is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RedisTopology {
    /// One server (or a primary behind a proxy): `redis://…` or `rediss://…`.
    Single(String),
    /// A Redis Cluster, found through any of these nodes (`redis://host:port`).
    Cluster(Vec<String>),
}

impl RedisTopology {
    /// The URLs of the nodes listed, for connections that follow one node
    /// (pub/sub: a cluster forwards every published message to every node).
    pub fn node_urls(&self) -> Vec<String> {
        match self {
            Self::Single(url) => vec![url.clone()],
            Self::Cluster(nodes) => nodes.clone(),
        }
    }
}

/// A connection to a single node or to a cluster.
#[derive(Clone)]
pub enum RedisConnection {
    /// A single node.
    Single(ConnectionManager),
    /// A cluster: requests are routed by key slot.
    Cluster(ClusterConnection),
}

impl RedisConnection {
    /// A connection to `topology` with `credentials` and these timeouts;
    /// connects lazily.
    pub fn open(
        topology: &RedisTopology,
        credentials: &Credentials,
        connect_timeout: Duration,
        response_timeout: Duration,
    ) -> RedisResult<Self> {
        Ok(match topology {
            RedisTopology::Single(url) => {
                let client = credentials.client(url)?;
                let config = ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(connect_timeout))
                    .set_response_timeout(Some(response_timeout))
                    .set_number_of_retries(0);
                Self::Single(ConnectionManager::new_lazy_with_config(client, config)?)
            }
            RedisTopology::Cluster(nodes) => {
                let nodes = ClusterClientBuilder::new(nodes.iter().map(String::as_str));
                let client = credentials
                    .cluster(nodes)
                    .connection_timeout(connect_timeout)
                    .response_timeout(response_timeout)
                    .retries(1)
                    .min_retry_wait(10)
                    .max_retry_wait(50)
                    .build()?;
                let config = redis::cluster::ClusterConfig::new()
                    .set_connection_timeout(connect_timeout)
                    .set_response_timeout(response_timeout);
                Self::Cluster(client.get_pending_async_connection_with_config(config))
            }
        })
    }

    /// Whether keys of one request may live on different nodes (scripts
    /// must then be given keys of one slot only).
    pub fn is_cluster(&self) -> bool {
        matches!(self, Self::Cluster(_))
    }
}

impl ConnectionLike for RedisConnection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Self::Single(connection) => connection.req_packed_command(cmd),
            Self::Cluster(connection) => connection.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Self::Single(connection) => connection.req_packed_commands(pipeline, offset, count),
            Self::Cluster(connection) => connection.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Self::Single(connection) => connection.get_db(),
            Self::Cluster(connection) => connection.get_db(),
        }
    }
}
