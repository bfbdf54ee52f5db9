//! [`ExportHandle`]: one export of one loaded component, looked up once.

use std::sync::Arc;

use super::{ActivityComponent, ActivityExport, ExportLookupError};

/// One export of a loaded component, looked up once: everything a call of
/// it needs (the component's instances, limits and actor-cache view; the
/// export's index, types and rule). Cheap to clone; it keeps the component
/// it was looked up in alive even if a newer build replaces it on the host.
#[derive(Clone)]
pub struct ExportHandle {
    component: Arc<ActivityComponent>,
    index: usize,
}

impl ExportHandle {
    /// The export of `component` that `name` addresses (see
    /// [`ActivityComponent::export`]).
    pub fn new(component: Arc<ActivityComponent>, name: &str) -> Result<Self, ExportLookupError> {
        let index = component.export_index(name)?;
        Ok(Self { component, index })
    }

    /// The component.
    pub fn component(&self) -> &ActivityComponent {
        &self.component
    }

    /// The export.
    pub fn export(&self) -> &ActivityExport {
        &self.component.exports[self.index]
    }
}

impl std::fmt::Debug for ExportHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExportHandle")
            .field("component", &self.component.name)
            .field("export", &self.export().path)
            .finish()
    }
}
