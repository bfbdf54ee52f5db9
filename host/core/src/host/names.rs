//! Finding an export by name among all loaded components, as the Temporal
//! worker does with activity types.
//!
//! A name is one the export answers to in its component: its bare name
//! (`fetch-user`), `iface#func` (`api#fetch-user`) or its full path. When
//! several loaded components export the same name, the caller names the
//! component too: `users/fetch-user`.

use super::Host;
use crate::component::{ExportHandle, ExportLookupError};
use crate::error::HostError;

impl Host {
    /// The one export, among all loaded components, that `name` (or
    /// `component/name`) addresses.
    pub fn find_export(&self, name: &str) -> Result<ExportHandle, HostError> {
        if let Some((component, export)) = name.split_once('/')
            && let Some(loaded) = self.component(component)
        {
            return Ok(ExportHandle::new(loaded, export)?);
        }
        let (mut found, ambiguous_within) = self.candidates(name);
        match (found.len(), ambiguous_within) {
            (1, _) => Ok(found.remove(0)),
            (0, Some(error)) => Err(error.into()),
            (0, None) => Err(HostError::NotExported {
                name: name.to_owned(),
                served: self.export_names().join(", "),
            }),
            _ => Err(HostError::ExportedBySeveral {
                name: name.to_owned(),
                candidates: found
                    .iter()
                    .map(|handle| format!("{}/{name}", handle.component().name))
                    .collect::<Vec<_>>()
                    .join(", "),
            }),
        }
    }

    /// The name of every loaded export as [`Host::find_export`] takes it:
    /// its bare name where that is unambiguous on this host, else
    /// `component/iface#func`.
    pub fn export_names(&self) -> Vec<String> {
        let mut names = Vec::new();
        for component in self.component_names() {
            let Some(loaded) = self.component(&component) else {
                continue;
            };
            for export in &loaded.exports {
                let (found, _) = self.candidates(&export.name);
                let unique = matches!(
                    found.as_slice(),
                    [only] if *only.component().name == *component
                        && only.export().path == export.path
                );
                names.push(if unique {
                    export.name.clone()
                } else {
                    let short = export.short_path().unwrap_or_else(|| export.name.clone());
                    format!("{component}/{short}")
                });
            }
        }
        names
    }

    /// The exports of all components that answer to `name`, and the lookup
    /// error of a component in which `name` is ambiguous, if any.
    fn candidates(&self, name: &str) -> (Vec<ExportHandle>, Option<ExportLookupError>) {
        let mut found = Vec::new();
        let mut ambiguous_within = None;
        for component in self.component_names() {
            let Some(loaded) = self.component(&component) else {
                continue;
            };
            match ExportHandle::new(loaded, name) {
                Ok(handle) => found.push(handle),
                Err(error @ ExportLookupError::Ambiguous { .. }) => ambiguous_within = Some(error),
                Err(ExportLookupError::Unknown { .. }) => {}
            }
        }
        (found, ambiguous_within)
    }
}
