//! The start and stop that the long-lived workers (`serve`, `temporal`)
//! share: build the host from the configuration, load the components, keep
//! them loaded as their files change, and keep the store's shared counters
//! current.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use activity_host::Host;
use tokio::task::JoinHandle;

use crate::catalog::{Catalog, Sources};
use crate::config::Config;

/// How often component files are checked for changes.
const RELOAD_EVERY: Duration = Duration::from_secs(1);

/// How often this worker's counters are added to the store's shared
/// counters (`activity-host stats`; also when the worker stops).
const FLUSH_EVERY: Duration = Duration::from_secs(10);

/// A running worker's host and components.
pub struct Worker {
    /// The host, configured by the resolved configuration.
    pub host: Arc<Host>,
    /// The components it serves, and where they come from.
    pub catalog: Arc<Catalog>,
    /// Where its results are cached (`memory`, a Redis URL without its
    /// password), for its start-up line.
    pub store: String,
    reload: JoinHandle<()>,
    flush: JoinHandle<()>,
}

/// Settings for a component the worker does not serve apply to nothing:
/// likely a misspelt name. An error when the worker serves named files; a
/// warning when it watches a directory (the file may be deployed later).
fn check_component_sections(config: &Config, catalog: &Catalog) -> anyhow::Result<()> {
    let served = catalog.names();
    let unknown: Vec<&str> = config
        .components
        .keys()
        .filter(|name| !served.contains(name))
        .map(String::as_str)
        .collect();
    if unknown.is_empty() {
        return Ok(());
    }
    let message = format!(
        "the configuration has settings for {} but this worker serves no such component \
         (it serves: {})",
        unknown
            .iter()
            .map(|name| format!("[components.{name}]"))
            .collect::<Vec<_>>()
            .join(", "),
        if served.is_empty() {
            "none yet".to_owned()
        } else {
            served.join(", ")
        }
    );
    match catalog.sources() {
        Sources::Directory(_) => {
            tracing::warn!("{message}; they apply once such a file appears");
            Ok(())
        }
        Sources::Files(_) => anyhow::bail!(message),
    }
}

impl Worker {
    /// Builds the host of `front_end` from `config` (compiled components
    /// kept in `compile_cache`) and loads `sources`; an error if files were
    /// named and none loads (an empty or missing directory is watched).
    pub async fn start(
        config: &Config,
        compile_cache: Option<PathBuf>,
        sources: Sources,
        front_end: &'static str,
    ) -> anyhow::Result<Self> {
        let host = config
            .host_builder()?
            .compile_cache(compile_cache)
            .front_end(front_end)
            .build()?;
        let host = Arc::new(host);
        let catalog = Arc::new(Catalog::new(sources));
        if catalog.refresh(&host).await == 0 {
            match catalog.sources() {
                // A worker may start before its components are deployed.
                Sources::Directory(dir) => tracing::warn!(
                    dir = %dir.display(),
                    "no component in {} yet: the worker serves those that appear",
                    dir.display()
                ),
                Sources::Files(_) => {
                    anyhow::bail!(
                        "none of the component files could be loaded (see the errors above)"
                    )
                }
            }
        }
        check_component_sections(config, &catalog)?;
        // Ask the store now: a refused certificate or password is logged
        // at start (the store's warning says why), not at the first call.
        host.store_is_ready().await;
        Ok(Self {
            store: config.store.location(),
            reload: catalog.keep_loaded(&host, RELOAD_EVERY),
            flush: host.keep_flushing_stats(FLUSH_EVERY),
            host,
            catalog,
        })
    }

    /// Stops reloading and adds the last counters to the shared ones.
    pub async fn stop(self) {
        self.reload.abort();
        self.flush.abort();
        if let Err(error) = self.host.flush_stats().await {
            tracing::warn!(%error, "counters not added to the store's shared counters");
        }
    }
}
