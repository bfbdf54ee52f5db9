//! `activity-host entries [COMPONENT [EXPORT]]`: what a store holds, entry
//! by entry; `--evict KEY` removes one.

use std::collections::{BTreeMap, BTreeSet};
use std::process::ExitCode;
use std::time::Duration;

use activity_host::EntryQuery;

use super::StoreArgs;
use super::worker_client::{WorkerArgs, WorkerClient};
use crate::config::Flags;
use crate::server::EntryJson;

/// Entries fetched per request.
const PAGE: usize = 500;

/// Arguments of `entries`.
#[derive(clap::Args)]
pub struct Args {
    /// The component whose entries to list [default: every component the
    /// worker serves, or, with --store, every component the config file
    /// names or the store's shared counters know].
    #[arg(value_name = "COMPONENT")]
    component: Option<String>,

    /// Only this export's entries: its path as `inspect` shows it, or its
    /// name (`fetch-user`).
    #[arg(value_name = "EXPORT", requires = "component")]
    export: Option<String>,

    #[command(flatten)]
    store: StoreArgs,

    /// With --worker, the entries of that worker's store (its memory store
    /// too).
    #[command(flatten)]
    worker: WorkerArgs,

    /// Print the entries as JSON (an array of objects, as
    /// `GET /v1/components/{name}/entries` lists them) instead of a table.
    #[arg(long)]
    json: bool,

    /// Print at most this many entries.
    #[arg(long, value_name = "N")]
    limit: Option<usize>,

    /// Evict the entry under this key (the full key a listing shows)
    /// instead of listing. Repeatable.
    #[arg(long = "evict", value_name = "KEY", conflicts_with_all = ["component", "json", "limit"])]
    evict: Vec<String>,
}

/// Lists (or evicts) what was asked, on stdout.
pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    if let Some(client) = args.worker.client() {
        return tokio::task::spawn_blocking(move || on_worker(&client, &args)).await?;
    }
    let config = args.store.resolve(Flags::default())?;
    let shared = |store: &activity_host::StoreConfig| !store.is_memory();
    if !shared(&config.store) && !config.stores.values().any(shared) {
        anyhow::bail!(
            "the memory store lives in its worker's process: use --worker URL to ask the worker, \
             or --store redis://… for a shared store"
        );
    }
    let host = config.host_builder()?.front_end("cli").build()?;
    if !args.evict.is_empty() {
        let mut missing = false;
        for key in &args.evict {
            missing |= !report_eviction(key, host.evict(key).await?);
        }
        return Ok(exit_code(missing));
    }
    let components = match &args.component {
        Some(component) => vec![component.clone()],
        None => {
            let mut names: BTreeSet<String> = config.components.keys().cloned().collect();
            let counted = host.shared_stats().await?.unwrap_or_default();
            names.extend(counted.into_iter().map(|(component, _, _)| component));
            names.into_iter().collect()
        }
    };
    // The store indexes entries by export path: a bare name (no component
    // is loaded here to resolve it) is matched against each entry's path.
    let (path, name) = match args.export.as_deref() {
        Some(export) if !export.contains(':') => (None, Some(export)),
        export => (export, None),
    };
    let mut listed = Vec::new();
    let limit = args.limit.unwrap_or(usize::MAX);
    'components: for component in &components {
        let mut cursor = None;
        loop {
            let query = EntryQuery {
                component,
                export: path,
                cursor: cursor.as_deref(),
                limit: PAGE.min(limit - listed.len()),
            };
            let page = host.entries(query).await?;
            let wanted = |export: &str| name.is_none_or(|name| names_export(export, name));
            listed.extend(
                page.entries
                    .iter()
                    .map(EntryJson::from)
                    .filter(|entry| wanted(&entry.export)),
            );
            if listed.len() >= limit {
                break 'components;
            }
            match page.next {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
    }
    if let Some(name) = name {
        refuse_ambiguous(name, &listed)?;
    }
    print_entries(listed, &args)?;
    Ok(ExitCode::SUCCESS)
}

/// `entries` against a running worker.
fn on_worker(client: &WorkerClient, args: &Args) -> anyhow::Result<ExitCode> {
    if !args.evict.is_empty() {
        let mut missing = false;
        for key in &args.evict {
            let answer = client.send("DELETE", &format!("/v1/entries/{key}"), None)?;
            let evicted = match answer.status.as_u16() {
                200 => true,
                404 => false,
                _ => anyhow::bail!("cannot evict {key}: {}", answer.error()),
            };
            missing |= !report_eviction(key, evicted);
        }
        return Ok(exit_code(missing));
    }
    let components = match &args.component {
        Some(component) => vec![component.clone()],
        None => {
            let answer = client.send("GET", "/v1/components", None)?;
            if !answer.status.is_success() {
                anyhow::bail!("cannot list the worker's components: {}", answer.error());
            }
            let names = answer.body.as_array().into_iter().flatten();
            names
                .filter_map(|component| component["name"].as_str().map(str::to_owned))
                .collect()
        }
    };
    let mut listed: Vec<EntryJson> = Vec::new();
    let limit = args.limit.unwrap_or(usize::MAX);
    'components: for component in &components {
        let mut cursor: Option<String> = None;
        loop {
            let mut path = format!(
                "/v1/components/{component}/entries?limit={}",
                PAGE.min(limit - listed.len())
            );
            if let Some(export) = &args.export {
                path += &format!("&export={}", encode(export));
            }
            if let Some(cursor) = &cursor {
                path += &format!("&cursor={}", encode(cursor));
            }
            let answer = client.send("GET", &path, None)?;
            if !answer.status.is_success() {
                anyhow::bail!("cannot list {component}'s entries: {}", answer.error());
            }
            let page: Vec<EntryJson> = serde_json::from_value(answer.body["entries"].clone())?;
            listed.extend(page);
            if listed.len() >= limit {
                break 'components;
            }
            match answer.body["next"].as_str() {
                Some(next) => cursor = Some(next.to_owned()),
                None => break,
            }
        }
    }
    print_entries(listed, args)?;
    Ok(ExitCode::SUCCESS)
}

/// `text` with the characters a URL query cannot carry as they are
/// percent-encoded.
fn encode(text: &str) -> String {
    text.bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (byte as char).to_string()
            }
            _ => format!("%{byte:02X}"),
        })
        .collect()
}

/// Says whether `key` was evicted; returns it.
fn report_eviction(key: &str, evicted: bool) -> bool {
    if evicted {
        println!("evicted {key}");
    } else {
        eprintln!("no entry under {key}");
    }
    evicted
}

fn exit_code(failed: bool) -> ExitCode {
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// Prints the entries as JSON or as a table.
fn print_entries(entries: Vec<EntryJson>, args: &Args) -> anyhow::Result<()> {
    if args.json {
        println!("{}", serde_json::to_string_pretty(&entries)?);
    } else {
        print!("{}", entries_table(&entries));
    }
    Ok(())
}

/// Entries as a table, one line each.
fn entries_table(entries: &[EntryJson]) -> String {
    use std::fmt::Write as _;
    let width = |field: fn(&EntryJson) -> usize, title: &str| {
        entries
            .iter()
            .map(field)
            .max()
            .unwrap_or(0)
            .max(title.len())
    };
    let component_width = width(|e| e.component.len(), "component");
    let export_width = width(|e| e.export.len(), "export");
    let mut table = format!(
        "{:component_width$}  {:export_width$}  {:64}  {:>10}  {:>10}  {:>10}  {:>6}\n",
        "component", "export", "key", "bytes", "age", "ttl left", "hits"
    );
    for entry in entries {
        let ttl_left = entry.ttl_left_ms.map_or("never".to_owned(), short_duration);
        let _ = writeln!(
            table,
            "{:component_width$}  {:export_width$}  {:64}  {:>10}  {:>10}  {:>10}  {:>6}",
            entry.component,
            entry.export,
            entry.key,
            entry.bytes,
            short_duration(entry.age_ms),
            ttl_left,
            entry.hits
        );
    }
    table
}

/// Milliseconds as `350ms`, `12s` or `1h 2m 3s` (to the second from 1 s).
fn short_duration(ms: u64) -> String {
    let duration = if ms < 1000 {
        Duration::from_millis(ms)
    } else {
        Duration::from_secs(ms / 1000)
    };
    humantime::format_duration(duration).to_string()
}

/// An error if `name` matched entries of two exports of one component (two
/// interfaces exporting one function name), as a worker would say.
fn refuse_ambiguous(name: &str, listed: &[EntryJson]) -> anyhow::Result<()> {
    let mut exports: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for entry in listed {
        exports
            .entry(&entry.component)
            .or_default()
            .insert(&entry.export);
    }
    match exports.values().find(|paths| paths.len() > 1) {
        Some(paths) => {
            let paths: Vec<&str> = paths.iter().copied().collect();
            anyhow::bail!(
                "`{name}` is ambiguous; use one of: {} (or `interface#{name}`)",
                paths.join(", ")
            )
        }
        None => Ok(()),
    }
}

/// Whether `name` (`fetch-user`, or `api#fetch-user`) names the export at
/// `path` (`example:users/api@0.1.0#fetch-user`).
fn names_export(path: &str, name: &str) -> bool {
    let Some((interface, function)) = path.rsplit_once('#') else {
        return path == name;
    };
    match name.split_once('#') {
        Some((wanted_interface, wanted_function)) => {
            let short = interface.rsplit('/').next().unwrap_or(interface);
            let short = short.split('@').next().unwrap_or(short);
            short == wanted_interface && function == wanted_function
        }
        None => function == name,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_short() {
        assert_eq!(short_duration(350), "350ms");
        assert_eq!(short_duration(12_345), "12s");
        assert_eq!(short_duration(3_723_000), "1h 2m 3s");
    }

    #[test]
    fn query_values_are_percent_encoded() {
        assert_eq!(encode("api#calc"), "api%23calc");
        assert_eq!(encode("0.1-ab"), "0.1-ab");
    }

    #[test]
    fn an_export_is_named_by_its_function_or_interface_and_function() {
        let path = "example:users/api@0.1.0#fetch-user";
        assert!(names_export(path, "fetch-user"));
        assert!(names_export(path, "api#fetch-user"));
        assert!(!names_export(path, "user"));
        assert!(!names_export(path, "other#fetch-user"));
        assert!(names_export("noop", "noop"));
    }
}
