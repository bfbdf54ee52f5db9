//! The HTML of the worker's page: server-rendered (maud escapes every value),
//! readable with JavaScript off; `ui.js` only adds live updates.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use activity_host::{ActivityComponent, ActivityExport, CachePolicy, ExportStats, StoredEntry};
use maud::{DOCTYPE, Markup, html};

use super::chart;
use crate::recent::{Recent, SeenCall, SeenEvent};

/// What the dashboard shows about the worker as a whole.
pub struct Overview<'a> {
    /// Every call of the last ten minutes, summed.
    pub last_minutes: crate::recent::Bucket,
    /// Where results are cached (passwords hidden).
    pub store: &'a str,
    /// Whether the store answered its last requests.
    pub store_healthy: bool,
    /// What an action just did, to confirm it.
    pub notice: Option<&'a str>,
}

/// One component as the dashboard shows it: its file and counters beside it.
pub struct ComponentView<'a> {
    /// The loaded component.
    pub component: &'a ActivityComponent,
    /// The file it was loaded from.
    pub file: Option<String>,
    /// Counters since start per export path.
    pub stats: &'a [(String, String, ExportStats)],
}

/// The whole page.
pub fn dashboard(
    overview: &Overview<'_>,
    components: &[ComponentView<'_>],
    recent: &Recent,
) -> Markup {
    let health = if overview.store_healthy {
        "reachable"
    } else {
        "unreachable: calls run uncached"
    };
    let body = html! {
        header {
            h1 { "activity-host worker" }
            p class="meta" {
                "store " code { (overview.store) } " (" span class={"store " (if overview.store_healthy { "up" } else { "down" })} { (health) } ") · "
                (components.len()) " component" (if components.len() == 1 { "" } else { "s" }) " · rendered " (clock(SystemTime::now()))
            }
            @let last = &overview.last_minutes;
            p class="summary" {
                "Last 10 minutes: " strong { (last.calls()) " calls" } ", "
                (last.hits) " hits, " (last.misses) " misses, " (last.uncached) " uncached, "
                span class=(if last.errors > 0 { "errors" } else { "" }) { (last.errors) " errors" }
                @if let Some(ratio) = last.hit_ratio() { " · hit ratio " strong { (format!("{:.0} %", ratio * 100.0)) } }
            }
        }
        @if let Some(notice) = overview.notice {
            p class="notice" role="status" { (notice) }
        }
        main {
            section id="components" {
                @if components.is_empty() {
                    p { "No component is loaded: add a " code { ".wasm" } " file to the worker's directory." }
                }
                @for view in components {
                    (component_card(view, recent))
                }
            }
            section id="recent" {
                h2 { "Recent calls" }
                p class="hint" { "Newest first; the list updates by itself while this page is open (with JavaScript on)." }
                table id="calls" {
                    thead { tr { th { "time" } th { "age" } th { "component" } th { "export" } th { "outcome" } th { "why" } th { "elapsed" } th { "key" } } }
                    tbody id="calls-body" {
                        @for call in recent.calls() {
                            (call_row(&call))
                        }
                    }
                }
                h2 { "Recent events" }
                ul id="events" {
                    @for event in recent.events() {
                        (event_item(&event))
                    }
                }
            }
        }
    };
    layout("activity-host", body)
}

fn component_card(view: &ComponentView<'_>, recent: &Recent) -> Markup {
    let component = view.component;
    let name = &*component.name;
    let limits = &component.sandbox.limits;
    let grants = &component.sandbox.capabilities;
    let (called, idle): (Vec<&ActivityExport>, Vec<&ActivityExport>) =
        component.exports.iter().partition(|export| {
            let counts = counts_of(view.stats, name, &export.path);
            counts.hits + counts.misses + counts.bypasses + counts.degraded + counts.errors > 0
        });
    html! {
        article class="component" id={"component-" (name)} {
            h2 { (name) }
            dl {
                dt { "file" } dd { code { (view.file.as_deref().unwrap_or("(embedded)")) } }
                dt { "sha256" } dd { code class="digest" title=(component.code_hash_hex()) { (component.code_hash_hex()) } }
                @if let Some(loaded) = recent.loaded(name) {
                    dt { (if loaded.reloaded { "reloaded" } else { "loaded" }) } dd { (clock(loaded.at)) " (" (ago(loaded.at)) ")" }
                }
                dt { "purity" } dd {
                    @if component.purity.reaches.is_empty() {
                        "deterministic: reaches no clock, randomness, environment or writable file"
                    } @else {
                        "can reach "
                        (component.purity.reaches.iter().map(|n| n.as_str()).collect::<Vec<_>>().join(", "))
                        ": a cached result may depend on more than its arguments"
                    }
                }
                dt { "limits" } dd {
                    "timeout " (humantime::format_duration(limits.timeout))
                    " · memory " (mebibytes(limits.max_memory_bytes))
                    " · arguments " (mebibytes(limits.max_argument_bytes))
                    " · results " (mebibytes(limits.max_result_bytes))
                    " · outbound requests per call " (limits.max_outbound_requests)
                }
                dt { "grants" } dd {
                    @let hosts: Vec<String> = grants.allowed_outbound_hosts.iter().map(ToString::to_string).collect();
                    @let dirs: Vec<String> = grants.dirs.iter().map(|d| format!("{} → {}", d.host.display(), d.guest)).collect();
                    @let secrets: Vec<&str> = grants.secrets.keys().map(String::as_str).collect();
                    @if hosts.is_empty() && dirs.is_empty() && grants.env.is_empty() && secrets.is_empty() {
                        "none (no network, files or environment)"
                    }
                    @if !hosts.is_empty() { span { "outbound " (hosts.join(", ")) } " " }
                    @if !dirs.is_empty() { span { "directories " (dirs.join(", ")) } " " }
                    @if !grants.env.is_empty() { span { "environment " (grants.env.join(", ")) } " " }
                    @if !secrets.is_empty() { span { "secrets " (secrets.join(", ")) " (names only)" } }
                }
            }
            form class="action" method="post" action={"/ui/components/" (name) "/invalidate"} {
                input type="hidden" name="all" value="true";
                button type="submit" data-confirm={"Invalidate every cached result of " (name) "?"} { "Invalidate component" }
            }
            @if called.is_empty() {
                p class="hint" { "No export has been called yet." }
            } @else {
                (exports_table(name, &called, view.stats, recent))
            }
            @if !idle.is_empty() {
                details id={"idle-" (name)} {
                    summary { (idle.len()) " export" (if idle.len() == 1 { "" } else { "s" }) " not called since the worker started" }
                    (exports_table(name, &idle, view.stats, recent))
                }
            }
        }
    }
}

fn exports_table(
    component: &str,
    exports: &[&ActivityExport],
    stats: &[(String, String, ExportStats)],
    recent: &Recent,
) -> Markup {
    html! {
        table class="exports" {
            thead { tr {
                th { "export" } th { "signature" } th { "rule" }
                th title="since the worker started" { "hit / miss / bypass / degraded / error" }
                th title="last 10 minutes" { "hit ratio" } th title="last 10 minutes" { "p50" } th title="last 10 minutes" { "p99" }
                th { "last 10 min" } th {}
            } }
            tbody {
                @for export in exports {
                    (export_row(component, export, stats, recent))
                }
            }
        }
    }
}

/// The counters of `export` of `component` since start (zero if none).
fn counts_of(
    stats: &[(String, String, ExportStats)],
    component: &str,
    export: &str,
) -> ExportStats {
    stats
        .iter()
        .find(|(c, e, _)| c == component && e == export)
        .map(|(_, _, s)| *s)
        .unwrap_or_default()
}

fn export_row(
    component: &str,
    export: &ActivityExport,
    stats: &[(String, String, ExportStats)],
    recent: &Recent,
) -> Markup {
    let counts = counts_of(stats, component, &export.path);
    let window = recent.window(component, &export.path);
    let total = window.total();
    let cached = export.rule.policy != CachePolicy::NoCache;
    html! {
        tr class="export" data-export=(export.path) {
            td title=(export.path) { code { (export.name) } }
            td { code class="signature" { (export.signature) } }
            td {
                (export.rule.policy.as_str())
                @if let Some(ttl) = export.rule.ttl { ", ttl " (humantime::format_duration(ttl)) }
            }
            td class="counts" {
                (counts.hits) " / " (counts.misses) " / " (counts.bypasses) " / " (counts.degraded) " / " (counts.errors)
            }
            td { @match total.hit_ratio() { Some(r) => { (format!("{:.0} %", r * 100.0)) }, None => { "–" } } }
            td { @match window.p50_us { Some(us) => { (chart::micros(us)) }, None => { "–" } } }
            td { @match window.p99_us { Some(us) => { (chart::micros(us)) }, None => { "–" } } }
            td { (chart::activity(&window.buckets)) }
            td class="actions" {
                @if cached {
                    a href={"/ui/components/" (component) "/entries?export=" (urlencode(&export.path))} { "entries" }
                    form class="action" method="post" action={"/ui/components/" (component) "/invalidate"} {
                        input type="hidden" name="export" value=(export.path);
                        button type="submit" class="invalidate" { "Invalidate" }
                    }
                }
            }
        }
    }
}

/// One row of the recent calls (also sent live to open pages).
pub fn call_row(call: &SeenCall) -> Markup {
    let why = call
        .reason
        .as_deref()
        .or(call.error.as_deref())
        .unwrap_or("");
    let export = call.export.rsplit('#').next().unwrap_or(&call.export);
    html! {
        tr class={"call " (call.outcome)} data-at=(millis(call.at)) {
            td { (clock(call.at)) }
            td class="age" { (ago(call.at)) }
            td { (call.component.as_deref().unwrap_or("–")) }
            td title=(call.export) { (export) }
            td class="outcome" { (call.outcome) }
            td class="why" { (why) }
            td { (chart::micros(call.elapsed_us)) }
            td { code { (call.key.as_deref().unwrap_or("")) } }
        }
    }
}

fn event_item(event: &SeenEvent) -> Markup {
    html! {
        li class={"event " (event.event)} {
            (clock(event.at)) " " strong { (event.event) }
            @if let Some(component) = &event.component { " " (component) }
            " — " (event.summary)
        }
    }
}

/// A page of an export's (or a component's) cached entries, with evict
/// buttons and a link to the next page.
pub fn entries(
    component: &str,
    export: Option<&str>,
    list: &[StoredEntry],
    next: Option<&str>,
    notice: Option<&str>,
) -> Markup {
    let here = format!(
        "/ui/components/{component}/entries?export={}",
        urlencode(export.unwrap_or(""))
    );
    let body = html! {
        header {
            h1 { "Entries of " (component) @if let Some(export) = export { " " code { (export) } } }
            p class="meta" { a href="/ui" { "← back to the worker" } }
        }
        @if let Some(notice) = notice {
            p class="notice" role="status" { (notice) }
        }
        main {
            @if list.is_empty() {
                p { "No cached entries." }
            } @else {
                table id="entries" {
                    thead { tr { th { "key" } th { "export" } th { "bytes" } th { "age" } th { "expires in" } th { "hits" } th {} } }
                    tbody {
                        @for entry in list {
                            tr {
                                td { code { (entry.key.to_string()) } }
                                td title=(entry.export) { (entry.export.rsplit('#').next().unwrap_or(&entry.export)) }
                                td { (entry.bytes) }
                                td { (humantime::format_duration(whole_seconds(entry.age))) }
                                td { @match entry.ttl_left { Some(left) => { (humantime::format_duration(whole_seconds(left))) }, None => { "never" } } }
                                td { (entry.hits) }
                                td {
                                    form class="action" method="post" action={"/ui/entries/" (entry.key.to_string()) "/evict"} {
                                        input type="hidden" name="back" value=(here);
                                        button type="submit" { "Evict" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            @if let Some(next) = next {
                p { a href={(here) "&cursor=" (urlencode(next))} { "next page →" } }
            }
        }
    };
    layout(&format!("entries of {component}"), body)
}

/// The form that asks for the worker's token (when it has one).
pub fn login(failed: bool) -> Markup {
    let body = html! {
        header { h1 { "activity-host worker" } }
        main {
            form class="login" method="post" action="/ui/login" {
                p { "This worker has a token: enter it to see the page." }
                @if failed { p class="notice error" role="alert" { "That is not the worker's token." } }
                label { "token " input type="password" name="token" autocomplete="current-password" autofocus; }
                button type="submit" { "Open" }
            }
        }
    };
    layout("activity-host: token", body)
}

fn layout(title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) }
                link rel="stylesheet" href="/ui/assets/ui.css";
            }
            body {
                (body)
                script src="/ui/assets/ui.js" defer {}
            }
        }
    }
}

fn clock(at: SystemTime) -> String {
    humantime::format_rfc3339_seconds(at).to_string()
}

fn ago(at: SystemTime) -> String {
    let age = SystemTime::now().duration_since(at).unwrap_or_default();
    format!("{} ago", humantime::format_duration(whole_seconds(age)))
}

fn whole_seconds(duration: Duration) -> Duration {
    Duration::from_secs(duration.as_secs())
}

fn millis(at: SystemTime) -> u128 {
    at.duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis()
}

fn mebibytes(bytes: usize) -> String {
    format!("{} MiB", bytes >> 20)
}

/// `text` as a query value.
fn urlencode(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}
