//! How the worker reaches Temporal: the address, namespace, TLS and API key,
//! read as Temporal's own clients read them (a profile of `temporal.toml`,
//! then the `TEMPORAL_*` variables), with this command's flags on top.
//!
//! | flag | Temporal's variable | what |
//! |---|---|---|
//! | `--address` | `TEMPORAL_ADDRESS` | `HOST:PORT` or a URL (default `localhost:7233`) |
//! | `--namespace` | `TEMPORAL_NAMESPACE` | default `default` |
//! | `--profile` | `TEMPORAL_PROFILE` | a profile of `TEMPORAL_CONFIG_FILE` (default `~/.config/temporalio/temporal.toml`) |
//! | `--tls` | `TEMPORAL_TLS` | TLS with the system's roots |
//! | `--tls-ca-cert` | `TEMPORAL_TLS_SERVER_CA_CERT_PATH` | a private CA |
//! | `--tls-client-cert`, `--tls-client-key` | `TEMPORAL_TLS_CLIENT_CERT_PATH`, `…_KEY_PATH` | mutual TLS |
//! | `--tls-server-name` | `TEMPORAL_TLS_SERVER_NAME` | the name the certificate must carry |
//! | `--api-key` | `TEMPORAL_API_KEY` | sent as `authorization: Bearer`; turns TLS on unless `TEMPORAL_TLS=false` |

use std::path::{Path, PathBuf};

use anyhow::Context;
use temporalio_client::ConnectionOptions;
use temporalio_client::envconfig::{
    ClientConfigProfile, DataSource, LoadClientConfigProfileOptions,
};
use temporalio_common::envconfig::{ClientConfigTLS, load_client_config_profile};

/// Where Temporal is and how to prove who this worker is (see the module's
/// doc for the variables each flag stands in for).
#[derive(clap::Args, Clone, Debug, Default)]
pub struct TemporalConnection {
    /// The Temporal frontend: HOST:PORT (such as 127.0.0.1:7233) or a URL
    /// (`https://…` for TLS) [default: $TEMPORAL_ADDRESS, the profile's, or
    /// localhost:7233].
    #[arg(long, env = "ACTIVITY_HOST_TEMPORAL_ADDRESS", value_name = "HOST:PORT")]
    pub address: Option<String>,

    /// The Temporal namespace [default: $TEMPORAL_NAMESPACE, the
    /// profile's, or default].
    #[arg(long, env = "ACTIVITY_HOST_TEMPORAL_NAMESPACE", value_name = "NS")]
    pub namespace: Option<String>,

    /// The profile of Temporal's client configuration file
    /// ($TEMPORAL_CONFIG_FILE, or ~/.config/temporalio/temporal.toml) to
    /// start from [default: $TEMPORAL_PROFILE, or default].
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,

    /// Connect with TLS, checking the server's certificate against the
    /// system's roots (implied by the other --tls-* flags and by an API key).
    #[arg(long)]
    pub tls: bool,

    /// The CA certificate (PEM) the server's certificate must chain to
    /// [or $TEMPORAL_TLS_SERVER_CA_CERT_PATH].
    #[arg(long, value_name = "FILE")]
    pub tls_ca_cert: Option<PathBuf>,

    /// This worker's certificate (PEM), for mutual TLS; with
    /// --tls-client-key [or $TEMPORAL_TLS_CLIENT_CERT_PATH].
    #[arg(long, value_name = "FILE", requires = "tls_client_key")]
    pub tls_client_cert: Option<PathBuf>,

    /// The private key (PEM) of --tls-client-cert
    /// [or $TEMPORAL_TLS_CLIENT_KEY_PATH].
    #[arg(long, value_name = "FILE", requires = "tls_client_cert")]
    pub tls_client_key: Option<PathBuf>,

    /// The name the server's certificate must be issued to, when it is not
    /// the address's host [or $TEMPORAL_TLS_SERVER_NAME].
    #[arg(long, value_name = "NAME")]
    pub tls_server_name: Option<String>,

    /// An API key (Temporal Cloud), sent as `authorization: Bearer KEY` on
    /// every request; TLS is on with it unless TEMPORAL_TLS=false. Prefer
    /// $TEMPORAL_API_KEY: a flag shows in the process list.
    #[arg(long, value_name = "KEY")]
    pub api_key: Option<String>,
}

/// What [`TemporalConnection::resolve`] found: how to connect, and to what.
pub struct Resolved {
    /// The client's options (identity and timeouts still to set).
    pub options: ConnectionOptions,
    /// The namespace.
    pub namespace: String,
    /// The address as a URL, for logs and errors (never the key).
    pub address: String,
}

impl TemporalConnection {
    /// The profile (Temporal's file and variables) with the flags on top.
    pub fn resolve(&self) -> anyhow::Result<Resolved> {
        let load = LoadClientConfigProfileOptions::builder()
            .maybe_config_file_profile(self.profile.clone())
            .build();
        let mut profile = load_client_config_profile(load, None)
            .map_err(|error| anyhow::anyhow!("Temporal client configuration: {error}"))?;
        self.apply(&mut profile)?;
        let namespace = profile
            .namespace
            .clone()
            .unwrap_or_else(|| "default".to_owned());
        let options = ConnectionOptions::try_from(profile)
            .map_err(|error| anyhow::anyhow!("Temporal client configuration: {error}"))?;
        Ok(Resolved {
            address: options.target.to_string(),
            options,
            namespace,
        })
    }

    /// Overrides `profile` with the flags given. Files named by flags are
    /// read here, so an error names the flag and the file.
    fn apply(&self, profile: &mut ClientConfigProfile) -> anyhow::Result<()> {
        if let Some(address) = &self.address {
            profile.address = Some(address.clone());
        }
        if let Some(namespace) = &self.namespace {
            profile.namespace = Some(namespace.clone());
        }
        if let Some(key) = &self.api_key {
            profile.api_key = Some(key.clone());
        }
        let tls_flags = self.tls
            || self.tls_ca_cert.is_some()
            || self.tls_client_cert.is_some()
            || self.tls_server_name.is_some();
        if !tls_flags {
            return Ok(());
        }
        let tls = profile.tls.get_or_insert_with(ClientConfigTLS::default);
        tls.disabled = Some(false);
        if let Some(path) = &self.tls_ca_cert {
            tls.server_ca_cert = Some(read("--tls-ca-cert", path)?);
        }
        if let (Some(cert), Some(key)) = (&self.tls_client_cert, &self.tls_client_key) {
            tls.client_cert = Some(read("--tls-client-cert", cert)?);
            tls.client_key = Some(read("--tls-client-key", key)?);
        }
        if let Some(name) = &self.tls_server_name {
            tls.server_name = Some(name.clone());
        }
        Ok(())
    }
}

/// The contents of the file `flag` names.
fn read(flag: &str, path: &Path) -> anyhow::Result<DataSource> {
    let bytes =
        std::fs::read(path).with_context(|| format!("{flag}: cannot read {}", path.display()))?;
    Ok(DataSource::Data(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_override_the_profile_and_turn_tls_on() {
        let dir = tempfile::tempdir().unwrap();
        let ca = dir.path().join("ca.pem");
        std::fs::write(&ca, "not checked here").unwrap();
        let flags = TemporalConnection {
            address: Some("temporal.example:7233".into()),
            namespace: Some("prod".into()),
            tls_ca_cert: Some(ca),
            tls_server_name: Some("frontend".into()),
            ..TemporalConnection::default()
        };
        let mut profile = ClientConfigProfile::default();
        flags.apply(&mut profile).unwrap();
        assert_eq!(profile.namespace.as_deref(), Some("prod"));
        let tls = profile.tls.as_ref().unwrap();
        assert_eq!(tls.disabled, Some(false));
        assert_eq!(tls.server_name.as_deref(), Some("frontend"));
        let options = ConnectionOptions::try_from(profile).unwrap();
        assert_eq!(options.target.as_str(), "https://temporal.example:7233/");
    }

    #[test]
    fn an_api_key_alone_means_tls() {
        let flags = TemporalConnection {
            address: Some("h:7233".into()),
            api_key: Some("k".into()),
            ..TemporalConnection::default()
        };
        let mut profile = ClientConfigProfile::default();
        flags.apply(&mut profile).unwrap();
        let options = ConnectionOptions::try_from(profile).unwrap();
        assert!(options.tls_options.is_some());
        assert_eq!(options.target.scheme(), "https");
    }

    #[test]
    fn a_missing_file_names_its_flag() {
        let flags = TemporalConnection {
            tls_ca_cert: Some("/nonexistent/ca.pem".into()),
            ..TemporalConnection::default()
        };
        let error = flags
            .apply(&mut ClientConfigProfile::default())
            .unwrap_err();
        assert!(
            format!("{error:#}").starts_with("--tls-ca-cert: cannot read /nonexistent/ca.pem"),
            "{error:#}"
        );
    }
}
