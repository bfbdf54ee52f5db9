//! A call's arguments as callers write them: JSON (the HTTP and Temporal
//! workers) or a WAVE invocation (the CLI), typed against the export.

use serde_json::Value as Json;
use wasmtime::component::Val;
use wasmtime::component::wasm_wave::untyped::UntypedFuncCall;

use crate::component::ExportHandle;
use crate::error::HostError;
use crate::json::args_from_json;

impl ExportHandle {
    /// The typed arguments of a JSON array (or object) of arguments, one per
    /// parameter, in the mapping `to_json` writes.
    pub fn json_args(&self, args: &Json) -> Result<Vec<Val>, HostError> {
        let export = self.export();
        args_from_json(args, &export.param_types).map_err(|error| HostError::Arguments {
            text: args.to_string(),
            message: format!("{error}; expected {}", export.signature),
        })
    }
}

/// The export name of a WAVE invocation such as `api#fetch-user(123)` (the
/// syntax of `wasmtime run --invoke`): the text before `(`.
pub(crate) fn wave_name(invocation: &str) -> &str {
    invocation[..invocation.find('(').unwrap_or(invocation.len())].trim()
}

impl ExportHandle {
    /// The typed arguments of a WAVE invocation of this export, such as
    /// `api#fetch-user(123)`.
    pub(crate) fn wave_args(&self, invocation: &str) -> Result<Vec<Val>, HostError> {
        let export = self.export();
        let (name, params) = invocation.split_at(invocation.find('(').unwrap_or(invocation.len()));
        // WAVE names are plain labels; parse the call under a stand-in label
        // of the same length so error positions still point into
        // `invocation`.
        let stand_in = format!("{}{params}", "f".repeat(name.len()));
        UntypedFuncCall::parse(&stand_in)
            .and_then(|call| call.to_wasm_params(&export.param_types))
            .map_err(|error| HostError::Arguments {
                text: invocation.to_owned(),
                message: format!("{error}; expected {}", export.signature),
            })
    }
}
