//! One module per subcommand, plus the options they share.

pub mod call;
pub mod config;
pub mod entries;
pub mod inspect;
pub mod invalidate;
pub mod new;
pub mod serve;
pub mod stats;
pub mod temporal;
pub mod worker_client;

use std::net::SocketAddr;
use std::path::PathBuf;

use crate::catalog::{Sources, stem};
use crate::config::{Config, Flags};
use crate::worker::Worker;
use activity_host::{
    CachePolicy, Host, LoadError, RuleOverride, RulesConfig, StatsRow, StoreConfig, Ttl,
};

/// The configuration file and the store.
#[derive(clap::Args)]
pub struct StoreArgs {
    /// Configuration file (TOML): the store, and cache rules per component
    /// and export. Flags override it.
    #[arg(long, env = "ACTIVITY_HOST_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Where results are cached: `memory` (this process only; the default);
    /// Redis, `redis://[user:password@]host:port[/db]` or `rediss://…` (TLS);
    /// a Redis Cluster, `redis-cluster://HOST:PORT,HOST:PORT…`; or `tiered+`
    /// before either, for this process's memory in front of Redis.
    #[arg(long, env = "ACTIVITY_HOST_STORE", value_name = "STORE", value_parser = str::parse::<StoreConfig>)]
    pub store: Option<StoreConfig>,
}

impl StoreArgs {
    /// The resolved configuration: the file (every default without
    /// `--config`), then `--store` and the other `flags` on top.
    pub fn resolve(&self, flags: Flags) -> anyhow::Result<Config> {
        let flags = Flags {
            store: self.store.clone(),
            ..flags
        };
        Ok(Config::resolve(self.config.as_deref(), flags)?)
    }
}

/// How components are compiled.
#[derive(clap::Args)]
pub struct EngineArgs {
    /// Directory that keeps compiled components, so the next load of the
    /// same component (by any process) skips compilation; `off` compiles
    /// every time [default: $XDG_CACHE_HOME/activity-host/compiled, else
    /// ~/.cache/activity-host/compiled].
    #[arg(long, env = "ACTIVITY_HOST_COMPILE_CACHE", value_name = "DIR|off")]
    pub compile_cache: Option<PathBuf>,
}

impl EngineArgs {
    /// The compile cache directory, if any.
    pub fn compile_cache(&self) -> Option<PathBuf> {
        match &self.compile_cache {
            Some(dir) if dir.as_os_str() == "off" => None,
            Some(dir) => Some(dir.clone()),
            None => activity_host::default_compile_cache_dir(),
        }
    }
}

/// Counters as a table, one line per export that counted anything.
pub fn stats_table(rows: &[StatsRow]) -> String {
    use std::fmt::Write as _;
    let rows: Vec<_> = rows
        .iter()
        .filter(|(_, _, stats)| !stats.is_zero())
        .collect();
    let width = rows
        .iter()
        .map(|(c, e, _)| c.len() + e.len() + 1)
        .max()
        .unwrap_or(6);
    let mut table = format!(
        "{:width$}  {:>7} {:>7} {:>7} {:>8} {:>6} {:>6} {:>12}\n",
        "export", "hits", "misses", "bypass", "degraded", "errors", "waits", "stored bytes"
    );
    for (component, export, s) in rows {
        let name = format!("{component} {export}");
        let _ = writeln!(
            table,
            "{name:width$}  {:>7} {:>7} {:>7} {:>8} {:>6} {:>6} {:>12}",
            s.hits, s.misses, s.bypasses, s.degraded, s.errors, s.waits, s.stored_bytes
        );
    }
    table
}

/// Parses `EXPORT=VALUE` as given to `--policy` and `--ttl`.
pub fn parse_assignment<T>(
    text: &str,
    parse: impl FnOnce(&str) -> Result<T, String>,
) -> Result<(String, T), String> {
    let (export, value) = text
        .split_once('=')
        .ok_or_else(|| format!("expected EXPORT=VALUE, got `{text}`"))?;
    if export.is_empty() {
        return Err(format!("missing export name in `{text}`"));
    }
    Ok((export.to_owned(), parse(value)?))
}

/// Which component to load, and how to override its declared cache rules.
#[derive(clap::Args)]
pub struct ComponentArgs {
    /// The component file (`.wasm`).
    pub file: PathBuf,

    /// The component's name on this host, part of every cache key
    /// [default: the file name without `.wasm`].
    #[arg(long)]
    pub name: Option<String>,

    #[command(flatten)]
    pub store: StoreArgs,

    #[command(flatten)]
    pub engine: EngineArgs,

    /// Override the cache policy of an export: EXPORT=inputs|task-source|no-cache.
    /// Repeatable.
    #[arg(long = "policy", value_name = "EXPORT=POLICY", value_parser = parse_policy_flag)]
    pub policies: Vec<(String, CachePolicy)>,

    /// Override the TTL of an export's cached results: EXPORT=DURATION, such as
    /// fetch-user=10m, calculate=250ms or calculate=never. Repeatable.
    #[arg(long = "ttl", value_name = "EXPORT=DURATION", value_parser = parse_ttl_flag)]
    pub ttls: Vec<(String, Ttl)>,
}

fn parse_policy_flag(text: &str) -> Result<(String, CachePolicy), String> {
    parse_assignment(text, str::parse)
}

fn parse_ttl_flag(text: &str) -> Result<(String, Ttl), String> {
    parse_assignment(text, str::parse)
}

impl ComponentArgs {
    /// The component's name: `--name`, or the file stem.
    pub fn name(&self) -> String {
        self.name.clone().unwrap_or_else(|| stem(&self.file))
    }

    /// A host configured by the config file and flags, and the component
    /// loaded into it.
    pub async fn load(&self) -> anyhow::Result<(Host, String)> {
        let name = self.name();
        let config = self.store.resolve(Flags::default())?;
        let rules = rules_with_flags(&config, &name, &self.policies, &self.ttls);
        let host = config
            .host_builder()?
            .rules(rules)
            .compile_cache(self.engine.compile_cache())
            .front_end("cli")
            .build()?;
        host.load_file(&name, &self.file)
            .await
            .map_err(|error| match error {
                // It names the file already.
                read @ LoadError::Read { .. } => anyhow::Error::from(read),
                other => anyhow::Error::from(other)
                    .context(format!("cannot load {}", self.file.display())),
            })?;
        Ok((host, name))
    }
}

/// The rules of the `config`, with `--policy` and `--ttl` flags for
/// component `name` applied on top.
fn rules_with_flags(
    config: &Config,
    name: &str,
    policies: &[(String, CachePolicy)],
    ttls: &[(String, Ttl)],
) -> RulesConfig {
    let mut rules = config.rules();
    for (export, policy) in policies {
        let change = RuleOverride {
            policy: Some(*policy),
            ..RuleOverride::default()
        };
        rules.set(name, export, change);
    }
    for (export, ttl) in ttls {
        let change = RuleOverride {
            ttl: Some(*ttl),
            ..RuleOverride::default()
        };
        rules.set(name, export, change);
    }
    rules
}

/// The components a long-lived worker serves.
#[derive(clap::Args)]
pub struct ComponentSources {
    /// Serve every `.wasm` file in this directory (new and changed files are
    /// loaded while running) [default: the config file's `[server] dir`].
    #[arg(long, env = "ACTIVITY_HOST_DIR", value_name = "DIR")]
    dir: Option<PathBuf>,

    /// Serve these component files (instead of --dir; without either, the
    /// config file's `[components.NAME] path` entries are served).
    #[arg(value_name = "FILE")]
    files: Vec<PathBuf>,
}

impl ComponentSources {
    /// `--dir`, the FILEs, else the `config`'s `[server] dir`, else its
    /// `[components.NAME] path` entries.
    pub fn sources(self, config: &Config) -> anyhow::Result<Sources> {
        let named = |files: Vec<PathBuf>| files.into_iter().map(|f| (stem(&f), f)).collect();
        Ok(
            match (self.dir.or_else(|| config.server.dir.clone()), self.files) {
                (Some(dir), files) if files.is_empty() => Sources::Directory(dir),
                (None, files) if !files.is_empty() => Sources::Files(named(files)),
                (Some(_), _) => anyhow::bail!("give either --dir or FILEs, not both"),
                (None, _) if !config.component_files().is_empty() => {
                    Sources::Files(config.component_files())
                }
                (None, _) => anyhow::bail!(
                    "nothing to serve: give --dir DIR, component FILEs, or [components.NAME] path = … in the config"
                ),
            },
        )
    }
}

/// `--token`, the bearer token a worker's HTTP listener requires (`serve`,
/// and `temporal` with `--listen`).
#[derive(clap::Args)]
pub struct TokenArg {
    /// Require `Authorization: Bearer TOKEN` on every route of the HTTP
    /// listener but /healthz.
    #[arg(
        long,
        env = "ACTIVITY_HOST_TOKEN",
        value_name = "TOKEN",
        hide_env_values = true
    )]
    pub token: Option<String>,
}

/// What the long-lived workers (`serve`, `temporal`) share: the
/// configuration, the engine and the components to serve.
#[derive(clap::Args)]
pub struct WorkerArgs {
    #[command(flatten)]
    store: StoreArgs,

    #[command(flatten)]
    engine: EngineArgs,

    #[command(flatten)]
    components: ComponentSources,

    /// Override the cache policy of a served component's export:
    /// COMPONENT/EXPORT=inputs|task-source|no-cache (e.g.
    /// users/fetch-user=no-cache). Repeatable.
    #[arg(long = "policy", value_name = "COMPONENT/EXPORT=POLICY", value_parser = parse_served_policy)]
    policies: Vec<(String, String, CachePolicy)>,

    /// Override the TTL of a served component's export:
    /// COMPONENT/EXPORT=DURATION (e.g. users/fetch-user=10m, or never).
    /// Repeatable.
    #[arg(long = "ttl", value_name = "COMPONENT/EXPORT=DURATION", value_parser = parse_served_ttl)]
    ttls: Vec<(String, String, Ttl)>,

    /// Bound on the linear memory of all guest instances at once, in bytes
    /// (the config's `[limits] max-total-memory-bytes`; default: none).
    /// Each instance reserves its component's max-memory-bytes from it; a
    /// call that does not fit waits until running calls end.
    #[arg(
        long,
        env = "ACTIVITY_HOST_MAX_TOTAL_MEMORY_BYTES",
        value_name = "BYTES",
        value_parser = clap::value_parser!(u64).range(1..)
    )]
    max_total_memory_bytes: Option<u64>,
}

fn parse_served_policy(text: &str) -> Result<(String, String, CachePolicy), String> {
    parse_served_assignment(text, str::parse)
}

fn parse_served_ttl(text: &str) -> Result<(String, String, Ttl), String> {
    parse_served_assignment(text, str::parse)
}

/// `COMPONENT/EXPORT=VALUE` (the export may itself contain `/`).
fn parse_served_assignment<T>(
    text: &str,
    parse: impl FnOnce(&str) -> Result<T, String>,
) -> Result<(String, String, T), String> {
    let (target, value) = parse_assignment(text, parse)?;
    match target.split_once('/') {
        Some((component, export)) if !component.is_empty() && !export.is_empty() => {
            Ok((component.to_owned(), export.to_owned(), value))
        }
        _ => Err(format!(
            "expected COMPONENT/EXPORT=VALUE (e.g. users/fetch-user=10m), got `{text}`"
        )),
    }
}

impl WorkerArgs {
    /// Resolves the configuration with `flags` on top, and starts the worker
    /// for `front_end` (`http`, `temporal`).
    pub async fn start(
        self,
        flags: Flags,
        front_end: &'static str,
    ) -> anyhow::Result<(Config, Worker)> {
        let flags = Flags {
            max_total_memory_bytes: self.max_total_memory_bytes,
            ..flags
        };
        let mut config = self.store.resolve(flags)?;
        for (component, export, policy) in self.policies {
            let change = RuleOverride {
                policy: Some(policy),
                ..RuleOverride::default()
            };
            config.override_rule(&component, &export, change);
        }
        for (component, export, ttl) in self.ttls {
            let change = RuleOverride {
                ttl: Some(ttl),
                ..RuleOverride::default()
            };
            config.override_rule(&component, &export, change);
        }
        let sources = self.components.sources(&config)?;
        let compile_cache = self.engine.compile_cache();
        let worker = Worker::start(&config, compile_cache, sources, front_end).await?;
        Ok((config, worker))
    }
}

/// Resolves on ctrl-c or SIGTERM.
/// `IP:PORT`, or `HOST:PORT` resolved to its first address.
pub fn listen_address(text: &str) -> Result<SocketAddr, String> {
    if let Ok(address) = text.parse() {
        return Ok(address);
    }
    std::net::ToSocketAddrs::to_socket_addrs(text)
        .map_err(|error| format!("not IP:PORT or HOST:PORT ({error})"))?
        .next()
        .ok_or_else(|| format!("{text} resolves to no address"))
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
    tracing::info!("shutting down: finishing in-flight calls");
}

#[cfg(test)]
mod tests {
    use super::*;
    use activity_host::CachePolicy;

    #[test]
    fn parses_export_assignments() {
        assert_eq!(
            parse_assignment("fetch-user=inputs", str::parse::<CachePolicy>),
            Ok(("fetch-user".to_owned(), CachePolicy::Inputs))
        );
        assert!(parse_assignment("fetch-user", str::parse::<CachePolicy>).is_err());
        assert!(parse_assignment("f=sometimes", str::parse::<CachePolicy>).is_err());
    }
}
