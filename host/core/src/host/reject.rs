//! Calls that fail before they reach the memoizer (no such component or
//! export, arguments that do not parse): counted and logged like every call
//! the memoizer runs, so a worker's log has one line for every call.

use super::Host;
use crate::call_line::CallLine;
use crate::component::ExportHandle;
use crate::error::HostError;
use crate::memo::ErrorKind;

impl Host {
    /// Counts and logs a call of `export` (of `component`, when the caller
    /// named one) that failed with `error` before it named a loaded export.
    pub fn reject_unrouted(&self, component: Option<&str>, export: &str, error: &HostError) {
        let kind = error.kind().unwrap_or(ErrorKind::NotFound);
        self.stats.record_unrouted(kind);
        CallLine {
            outcome: "error",
            error: Some(kind.as_str()),
            component,
            export,
            key: None,
            policy: None,
            store: None,
            elapsed_us: 0,
            age: None,
            reason: None,
            detail: Some(&error.to_string()),
        }
        .write();
    }

    /// Counts and logs a call of `handle`'s export that failed with `error`
    /// before it ran (arguments that do not parse, or that a front end could
    /// not decode).
    pub fn reject(&self, handle: &ExportHandle, error: &HostError) {
        let kind = error.kind().unwrap_or(ErrorKind::Arguments);
        self.memo.reject(handle, kind, &error.to_string());
    }

    /// The export `export` of `component` addresses, or the call rejected.
    pub(super) fn route(&self, component: &str, export: &str) -> Result<ExportHandle, HostError> {
        self.export(component, export)
            .inspect_err(|error| self.reject_unrouted(Some(component), export, error))
    }

    /// `args`, or the call of `handle` rejected.
    pub(super) fn checked<T>(
        &self,
        handle: &ExportHandle,
        args: Result<T, HostError>,
    ) -> Result<T, HostError> {
        args.inspect_err(|error| self.reject(handle, error))
    }
}
