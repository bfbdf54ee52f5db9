//! `activity-host config check`: validate the configuration and print it as
//! the worker would resolve it, defaults filled in.

use std::collections::HashMap;
use std::process::ExitCode;

use crate::config::ConfigFile;
use crate::server::ServerConfig;
use activity_host::{CachePolicy, DEFAULT_ACTOR_CACHE_BYTES, InstanceMode, StoreConfig, Ttl};

use super::StoreArgs;

/// `config` subcommands.
#[derive(clap::Subcommand)]
pub enum Command {
    /// Check the configuration file (unknown keys, bad values) and print the
    /// resolved configuration, with `--store` / `ACTIVITY_HOST_STORE` applied.
    Check(StoreArgs),
}

/// Runs a `config` subcommand.
pub fn run(command: Command) -> anyhow::Result<ExitCode> {
    let Command::Check(args) = command;
    let file = match &args.config {
        Some(path) => ConfigFile::load(path)?,
        None => ConfigFile::default(),
    };
    let source = args
        .config
        .as_ref()
        .map_or("none".to_owned(), |p| p.display().to_string());
    println!("# resolved configuration (file: {source})");
    print_store("store", args.store.as_ref().unwrap_or(&file.store));
    let mut named: Vec<_> = file.stores.iter().collect();
    named.sort_by_key(|(name, _)| *name);
    for (name, store) in named {
        print_store(&format!("stores.{name}"), store);
    }
    print_server(&file);
    println!("\n[cache]");
    let default_policy = file.cache.default_policy.unwrap_or(CachePolicy::NoCache);
    println!("default-policy = \"{default_policy}\"");
    println!(
        "actor-cache-bytes = {}",
        file.cache
            .actor_cache_bytes
            .unwrap_or(DEFAULT_ACTOR_CACHE_BYTES)
    );
    print_components(&file);
    let rules = file.rules();
    let mut components: Vec<_> = rules.components.iter().collect();
    components.sort_by_key(|(name, _)| *name);
    for (component, exports) in components {
        let mut exports: Vec<_> = exports.iter().collect();
        exports.sort_by_key(|(name, _)| *name);
        for (export, change) in exports {
            println!("\n[components.{component}.exports.{export:?}]");
            if let Some(policy) = change.policy {
                println!("policy = \"{policy}\"");
            }
            match change.ttl {
                Some(Ttl::Never) => println!("ttl = \"never\""),
                Some(Ttl::After(ttl)) => println!("ttl = \"{}\"", humantime::format_duration(ttl)),
                None => {}
            }
            if let Some(cache_errors) = change.cache_errors {
                println!("cache-errors = {cache_errors}");
            }
            if let Some(params) = &change.ignore_params {
                println!("ignore-params = {params:?}");
            }
            if let Some(store) = &change.store {
                println!("store = {store:?}");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Every `[components.NAME]`: file, instances, limits and grants, with
/// defaults filled in.
fn print_components(file: &ConfigFile) {
    let paths: HashMap<_, _> = file.component_files().into_iter().collect();
    let modes: HashMap<_, _> = file.instance_modes().into_iter().collect();
    let limits: HashMap<_, _> = file.limits().into_iter().collect();
    let grants: HashMap<_, _> = file.capabilities().into_iter().collect();
    let mut names: Vec<_> = file.components.keys().collect();
    names.sort();
    for name in names {
        println!("\n[components.{name}]");
        if let Some(path) = paths.get(name) {
            println!("path = {:?}", path.display().to_string());
        }
        match modes.get(name).copied().unwrap_or_default() {
            InstanceMode::Fresh => println!("instances = \"fresh\""),
            InstanceMode::Warm(warm) => {
                println!("instances = \"warm\"");
                println!("max-instances = {}", warm.max_instances);
                println!(
                    "idle-ttl = \"{}\"",
                    humantime::format_duration(warm.idle_ttl)
                );
                println!("max-uses = {}", warm.max_uses);
            }
        }
        let limit = limits.get(name).copied().unwrap_or_default();
        println!("max-memory-bytes = {}", limit.max_memory_bytes);
        println!("max-table-elements = {}", limit.max_table_elements);
        println!("max-argument-bytes = {}", limit.max_argument_bytes);
        println!("max-result-bytes = {}", limit.max_result_bytes);
        println!(
            "timeout = \"{}\"",
            humantime::format_duration(limit.timeout)
        );
        let grant = grants.get(name).cloned().unwrap_or_default();
        let dirs: Vec<String> = grant
            .dirs
            .iter()
            .map(|dir| {
                format!(
                    "{{ host = {:?}, guest = {:?}, writable = {} }}",
                    dir.host.display().to_string(),
                    dir.guest,
                    dir.writable
                )
            })
            .collect();
        println!("dirs = [{}]", dirs.join(", "));
        println!("env = {:?}", grant.env);
        println!("stderr = {}", grant.stderr);
        println!("stdout = {}", grant.stdout);
    }
}

fn print_store(table: &str, store: &StoreConfig) {
    let mut store = store.clone();
    if let StoreConfig::Redis(redis) = &mut store {
        redis.url = redis.url.as_deref().map(hide_password);
        redis.nodes = redis.nodes.iter().map(|node| hide_password(node)).collect();
    }
    let text = toml::to_string(&store).expect("a store's settings are TOML");
    println!("\n[{table}]\n{}", text.trim_end());
}

fn print_server(file: &ConfigFile) {
    let section = &file.server;
    let defaults = ServerConfig::default();
    println!("\n[server]");
    println!("listen = \"{}\"", section.listen.unwrap_or(defaults.listen));
    if let Some(dir) = &section.dir {
        println!("dir = {:?}", dir.display().to_string());
    }
    println!(
        "token = {}",
        if section.token.is_some() {
            "\"(set, hidden)\""
        } else {
            "\"(none)\""
        }
    );
    println!(
        "max-body-bytes = {}",
        section.max_body_bytes.unwrap_or(defaults.max_body_bytes)
    );
    let call_timeout = section.call_timeout.unwrap_or(defaults.call_timeout);
    println!(
        "call-timeout = \"{}\"",
        humantime::format_duration(call_timeout)
    );
}

/// The URL with any password replaced by `***`.
fn hide_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    match rest.split_once('@') {
        Some((credentials, host)) => {
            let user = credentials
                .split_once(':')
                .map_or(credentials, |(user, _)| user);
            let hidden = if credentials.contains(':') {
                format!("{user}:***")
            } else {
                user.to_owned()
            };
            format!("{scheme}://{hidden}@{host}")
        }
        None => url.to_owned(),
    }
}
