//! The structured log lines of events that change what is served or cached
//! (target `activity_host::event`, field `event`): components loaded,
//! reloaded and unloaded, invalidations, a store going down and coming back.
//! Call lines ([`crate::call_line`]) say what each call did; these say why
//! the next calls may do otherwise.

/// A component was loaded under `component` (`reloaded` when it replaced
/// the version with digest `previous`).
pub(crate) fn loaded(component: &str, file: Option<&str>, sha256: &str, previous: Option<&str>) {
    let event = if previous.is_some() {
        "reloaded"
    } else {
        "loaded"
    };
    tracing::info!(
        target: "activity_host::event",
        event,
        component,
        file,
        sha256,
        previous_sha256 = previous,
        "component {event}"
    );
}

/// The component `component` (digest `sha256`) is no longer served.
pub(crate) fn unloaded(component: &str, sha256: &str, why: &str) {
    tracing::warn!(
        target: "activity_host::event",
        event = "unloaded",
        component,
        sha256,
        why,
        "component unloaded"
    );
}

/// Entries were invalidated by `by` (the host's front end, or `peer`: another
/// worker sharing the store, as this worker's in-memory tier heard it): one entry
/// (`key`; its component is unknown when it was evicted by key), an
/// export, or a whole component.
pub(crate) fn invalidated(
    by: &str,
    component: Option<&str>,
    export: Option<&str>,
    key: Option<&str>,
) {
    let scope = match (export, key) {
        (_, Some(_)) => "entry",
        (Some(_), None) => "export",
        (None, None) => "component",
    };
    tracing::info!(
        target: "activity_host::event",
        event = "invalidated",
        scope,
        component,
        export,
        key,
        by,
        "cache invalidated"
    );
}

/// The store at `location` failed: calls run uncached until it answers.
#[cfg(feature = "redis")]
pub(crate) fn store_down(store: &str, location: &str, error: &dyn std::fmt::Display) {
    tracing::warn!(
        target: "activity_host::event",
        event = "store-down",
        store,
        location,
        %error,
        "store failed; circuit open: calls run uncached until a probe succeeds"
    );
}

/// The store at `location` answers again: calls are cached again.
#[cfg(feature = "redis")]
pub(crate) fn store_up(store: &str, location: &str) {
    tracing::warn!(
        target: "activity_host::event",
        event = "store-up",
        store,
        location,
        "store is reachable again; circuit closed"
    );
}

/// A guest of `component` tried to reach `destination` (an HTTP request, a
/// TCP connection, a name lookup) and was refused: `why`.
pub(crate) fn outbound_refused(component: &str, destination: &str, why: &str) {
    tracing::warn!(
        target: "activity_host::event",
        event = "outbound-refused",
        component,
        destination,
        why,
        "outbound access refused"
    );
}
