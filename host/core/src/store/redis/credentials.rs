//! Who the store is to Redis, and how it checks that Redis is Redis: an
//! ACL user and password, TLS with a private CA, a client certificate
//! (mutual TLS), read from the settings' files and variables when the
//! store opens, and applied to every connection it makes (requests,
//! pub/sub, every node of a cluster).

use std::path::Path;

use redis::cluster::ClusterClientBuilder;
use redis::{
    ClientTlsConfig, ErrorKind, IntoConnectionInfo, RedisError, RedisResult, TlsCertificates,
    TlsMode,
};

use super::{RedisConfig, RedisTopology};
use crate::store::{StoreError, StoreErrorKind};

/// The credentials of a store (see the module's doc). Their `Debug` shows
/// no password and no key.
#[derive(Clone, Default)]
pub struct Credentials {
    username: Option<String>,
    password: Option<String>,
    certificates: Option<TlsCertificates>,
    /// Certificates are not checked (tests only; logged loudly at start).
    insecure: bool,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .field("certificates", &self.certificates.is_some())
            .field("insecure", &self.insecure)
            .finish()
    }
}

fn config_error(message: String) -> StoreError {
    StoreError::new("redis", StoreErrorKind::Config, message)
}

/// The contents of the file a setting names.
fn read(setting: &str, path: &Path) -> Result<Vec<u8>, StoreError> {
    std::fs::read(path)
        .map_err(|e| config_error(format!("cannot read {setting} {}: {e}", path.display())))
}

impl Credentials {
    /// Reads what `config` names: certificate and key files, the password
    /// from the setting, a variable or a file. An error names the setting.
    pub fn read(config: &RedisConfig, topology: &RedisTopology) -> Result<Self, StoreError> {
        let urls = topology.node_urls();
        let tls = urls.iter().all(|url| url.starts_with("rediss://"));
        let tls_settings = [
            ("tls-ca-cert", &config.tls_ca_cert),
            ("tls-client-cert", &config.tls_client_cert),
            ("tls-client-key", &config.tls_client_key),
        ];
        if let Some((setting, _)) = tls_settings.iter().find(|(_, path)| path.is_some())
            && !tls
        {
            return Err(config_error(format!(
                "{setting} is set, but the store's URLs are not all `rediss://` (TLS)"
            )));
        }
        if config.insecure && !tls {
            return Err(config_error(
                "insecure is set, but the store's URLs are not all `rediss://` (TLS)".into(),
            ));
        }
        let client_tls = match (&config.tls_client_cert, &config.tls_client_key) {
            (Some(cert), Some(key)) => Some(ClientTlsConfig {
                client_cert: read("tls-client-cert", cert)?,
                client_key: read("tls-client-key", key)?,
            }),
            (None, None) => None,
            _ => {
                return Err(config_error(
                    "set both tls-client-cert and tls-client-key (mutual TLS), or neither".into(),
                ));
            }
        };
        let root_cert = config
            .tls_ca_cert
            .as_deref()
            .map(|path| read("tls-ca-cert", path))
            .transpose()?;
        let certificates =
            (client_tls.is_some() || root_cert.is_some()).then_some(TlsCertificates {
                client_tls,
                root_cert,
            });
        Ok(Self {
            username: config.username.clone(),
            password: password(config)?,
            certificates,
            insecure: config.insecure || urls.iter().any(|url| url.ends_with("#insecure")),
        })
    }

    /// Whether certificates go unchecked.
    pub fn insecure(&self) -> bool {
        self.insecure
    }

    /// A client for the node at `url` with these credentials.
    pub fn client(&self, url: &str) -> RedisResult<redis::Client> {
        let url = if self.insecure && !url.ends_with("#insecure") {
            format!("{}/#insecure", url.trim_end_matches('/'))
        } else {
            url.to_owned()
        };
        let mut info = url.as_str().into_connection_info()?;
        let mut settings = info.redis_settings().clone();
        if let Some(username) = &self.username {
            settings = settings.set_username(username);
        }
        if let Some(password) = &self.password {
            settings = settings.set_password(password);
        }
        info = info.set_redis_settings(settings);
        match &self.certificates {
            Some(certificates) => redis::Client::build_with_tls(info, certificates.clone()),
            None => redis::Client::open(info),
        }
    }

    /// `builder` (for a cluster) with these credentials.
    pub fn cluster(&self, mut builder: ClusterClientBuilder) -> ClusterClientBuilder {
        if let Some(username) = &self.username {
            builder = builder.username(username);
        }
        if let Some(password) = &self.password {
            builder = builder.password(password);
        }
        if let Some(certificates) = &self.certificates {
            builder = builder.certs(certificates.clone());
        }
        if self.insecure {
            builder = builder.tls(TlsMode::Insecure);
        }
        builder
    }
}

/// The password: from `password`, the variable `password-env` names, or
/// the file `password-file` names (at most one of them; a file's trailing
/// newline is not part of it).
fn password(config: &RedisConfig) -> Result<Option<String>, StoreError> {
    let given = [
        config.password.is_some(),
        config.password_env.is_some(),
        config.password_file.is_some(),
    ];
    if given.iter().filter(|given| **given).count() > 1 {
        return Err(config_error(
            "set at most one of password, password-env and password-file".into(),
        ));
    }
    if let Some(name) = &config.password_env {
        return std::env::var(name)
            .map(Some)
            .map_err(|_| config_error(format!("password-env names {name}, which is not set")));
    }
    if let Some(path) = &config.password_file {
        let bytes = read("password-file", path)?;
        let text = String::from_utf8(bytes)
            .map_err(|_| config_error(format!("password-file {} is not UTF-8", path.display())))?;
        return Ok(Some(text.trim_end_matches(['\r', '\n']).to_owned()));
    }
    Ok(config.password.clone())
}

/// One node of a cluster, asked on its own why the cluster cannot be
/// reached: a cluster client reports only that no node answered.
pub struct NodeProbe {
    /// The node's URL.
    pub url: String,
    /// The store's credentials.
    pub credentials: Credentials,
    /// How long to wait for its answer.
    pub timeout: std::time::Duration,
}

impl NodeProbe {
    /// `error` (the cluster's), with the node's own failure added.
    pub async fn why_not(&self, error: RedisError) -> RedisError {
        let answer = tokio::time::timeout(self.timeout, async {
            let client = self.credentials.client(&self.url)?;
            let mut connection = client.get_multiplexed_async_connection().await?;
            redis::cmd("PING").query_async::<()>(&mut connection).await
        })
        .await;
        let why = match answer {
            Ok(Ok(())) => return error,
            Ok(Err(node_error)) => node_error.to_string(),
            Err(_) => format!("no answer within {:?}", self.timeout),
        };
        let location = super::config::hide_password(&self.url);
        RedisError::from((
            ErrorKind::Io,
            "no cluster node answered",
            format!("{location}: {why}"),
        ))
    }
}
