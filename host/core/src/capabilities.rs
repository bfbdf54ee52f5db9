//! What a component's guests may reach beyond their own memory: nothing
//! unless granted. Grants are per component: host directories preopened at
//! a guest path (read-only unless marked writable), named environment
//! variables copied from the host's environment, and where the guest's
//! stderr and stdout go. Network access and every other directory and
//! variable stay out of reach.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use wasmtime_wasi::{FsPerms, WasiCtxBuilder};

/// The grants of one component (as configuration: every key optional).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default)]
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
}

impl Default for Capabilities {
    fn default() -> Self {
        Self {
            dirs: Vec::new(),
            env: Vec::new(),
            stderr: true,
            stdout: false,
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
