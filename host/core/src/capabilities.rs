//! What a component's guests may reach beyond their own memory: nothing
//! unless granted. Grants are per component: host directories preopened at
//! a guest path (read-only unless marked writable), named environment
//! variables copied from the host's environment, and where the guest's
//! stderr and stdout go; the hosts their HTTP requests and TCP connections
//! may reach, and secrets they use without seeing ([`crate::outbound`]).
//! Every other directory, variable and host stays out of reach.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use wasmtime_wasi::{FsPerms, WasiCtxBuilder};

use crate::outbound::{OutboundGrant, SecretGrant};

/// The grants of one component (as configuration: every key optional).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, rename_all = "kebab-case")]
pub struct Capabilities {
    /// Host directories the guest may open.
    pub dirs: Vec<DirGrant>,
    /// Names of host environment variables the guest sees (with the host's
    /// values at instantiation; unset ones are left out).
    pub env: Vec<String>,
    /// Whether the guest's stderr reaches the host's stderr (default: yes;
    /// otherwise it is discarded).
    pub stderr: bool,
    /// Whether the guest's stdout is kept (default: no, it is discarded);
    /// kept, it goes to the host's stderr too, since the host's stdout
    /// carries results.
    pub stdout: bool,
    /// Hosts the guests may reach: `http://…` and `https://…` for wasi:http
    /// requests, `tcp://host:port` for wasi:sockets connections (default:
    /// none).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub allowed_outbound_hosts: Vec<OutboundGrant>,
    /// Secrets by the variable name the guests see: each guest gets a
    /// placeholder, which the host replaces by the value in requests to
    /// the secret's hosts.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub secrets: BTreeMap<String, SecretGrant>,
    /// Acknowledges that the cached exports' results may depend on what
    /// these grants and the component's imports reach (the purity check):
    /// no load warning.
    pub allow_nondeterministic: bool,
}

impl Default for Capabilities {
    fn default() -> Self {
        Self {
            dirs: Vec::new(),
            env: Vec::new(),
            stderr: true,
            stdout: false,
            allowed_outbound_hosts: Vec::new(),
            secrets: BTreeMap::new(),
            allow_nondeterministic: false,
        }
    }
}

/// A host directory visible to the guest.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DirGrant {
    /// The directory on the host.
    pub host: PathBuf,
    /// Where the guest sees it, e.g. `/data`.
    pub guest: String,
    /// Whether the guest may create, change and delete files in it
    /// (default: read-only).
    #[serde(default)]
    pub writable: bool,
}

impl Capabilities {
    /// Adds these grants to a guest's WASI context.
    pub fn grant(&self, wasi: &mut WasiCtxBuilder) -> anyhow::Result<()> {
        for dir in &self.dirs {
            let perms = if dir.writable {
                FsPerms::ReadWrite
            } else {
                FsPerms::ReadOnly
            };
            wasi.preopened_dir(&dir.host, &dir.guest, perms)
                .map_err(|error| {
                    anyhow::anyhow!(
                        "cannot grant directory {} as {}: {error}",
                        dir.host.display(),
                        dir.guest
                    )
                })?;
        }
        for name in &self.env {
            if let Ok(value) = std::env::var(name) {
                wasi.env(name, value);
            }
        }
        Ok(())
    }
}
