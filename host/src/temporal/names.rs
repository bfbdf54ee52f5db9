//! Which export a Temporal activity type runs.
//!
//! An activity type is a name the export answers to on this host: its bare
//! name (`fetch-user`), `iface#func` (`api#fetch-user`) or its full path.
//! When several loaded components export the same name, a workflow names
//! the component too: `users/fetch-user`.

use crate::component::ExportLookupError;
use crate::host::Host;

/// The export an activity type runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// The component's name on the host.
    pub component: String,
    /// The export's canonical path.
    pub export: String,
}

/// An activity type that names no single export.
#[derive(Debug, thiserror::Error)]
pub enum NameError {
    /// No loaded component exports it.
    #[error("no loaded component exports `{name}`; activity types served here: {served}")]
    Unknown {
        /// The activity type.
        name: String,
        /// What this worker serves.
        served: String,
    },
    /// Several components export it.
    #[error("`{name}` is exported by several components; name one: {candidates}")]
    Ambiguous {
        /// The activity type.
        name: String,
        /// The qualified names it could mean.
        candidates: String,
    },
    /// The component is named, but the rest is not one of its exports.
    #[error(transparent)]
    Export(#[from] ExportLookupError),
}

/// The export `activity_type` runs, among `host`'s loaded components.
pub fn resolve(host: &Host, activity_type: &str) -> Result<Target, NameError> {
    if let Some((component, export)) = activity_type.split_once('/')
        && let Some(loaded) = host.component(component)
    {
        let export = loaded.export(export)?;
        return Ok(Target {
            component: component.to_owned(),
            export: export.path.clone(),
        });
    }
    let (mut found, ambiguous_within) = candidates(host, activity_type);
    match (found.len(), ambiguous_within) {
        (1, _) => Ok(found.remove(0)),
        (0, Some(error)) => Err(error.into()),
        (0, None) => Err(NameError::Unknown {
            name: activity_type.to_owned(),
            served: activity_types(host).join(", "),
        }),
        _ => Err(NameError::Ambiguous {
            name: activity_type.to_owned(),
            candidates: found
                .iter()
                .map(|t| format!("{}/{activity_type}", t.component))
                .collect::<Vec<_>>()
                .join(", "),
        }),
    }
}

/// The activity type of every loaded export: its bare name where that is
/// unambiguous on this worker, else `component/iface#func`.
pub fn activity_types(host: &Host) -> Vec<String> {
    let mut types = Vec::new();
    for name in host.component_names() {
        let Some(loaded) = host.component(&name) else {
            continue;
        };
        for export in &loaded.exports {
            let target = Target {
                component: name.clone(),
                export: export.path.clone(),
            };
            let (found, _) = candidates(host, &export.name);
            types.push(if found == [target] {
                export.name.clone()
            } else {
                let short = export.short_path().unwrap_or_else(|| export.name.clone());
                format!("{name}/{short}")
            });
        }
    }
    types
}

/// The exports of all components that answer to `name`, and the lookup
/// error of a component in which `name` is ambiguous, if any.
fn candidates(host: &Host, name: &str) -> (Vec<Target>, Option<ExportLookupError>) {
    let mut found = Vec::new();
    let mut ambiguous_within = None;
    for component in host.component_names() {
        let Some(loaded) = host.component(&component) else {
            continue;
        };
        match loaded.export(name) {
            Ok(export) => found.push(Target {
                component,
                export: export.path.clone(),
            }),
            Err(error @ ExportLookupError::Ambiguous { .. }) => ambiguous_within = Some(error),
            Err(ExportLookupError::Unknown { .. }) => {}
        }
    }
    (found, ambiguous_within)
}
