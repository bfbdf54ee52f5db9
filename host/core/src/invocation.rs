//! A call's arguments as callers write them: JSON (the HTTP and Temporal
//! workers) or a WAVE invocation (the CLI), typed against the export.

use serde_json::Value as Json;
use wasmtime::component::wasm_wave::ast::Node;
use wasmtime::component::wasm_wave::untyped::UntypedFuncCall;
use wasmtime::component::{Type, Val};

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
        let wrong = |message: String| HostError::Arguments {
            text: invocation.to_owned(),
            message: format!("{message}; expected {}", export.signature),
        };
        let call = UntypedFuncCall::parse(&stand_in).map_err(|e| wrong(e.to_string()))?;
        let args = call
            .to_wasm_params(&export.param_types)
            .map_err(|e| wrong(e.to_string()))?;
        // wasm-wave drops record fields the type does not have; a misspelt
        // field must not become another call's key (JSON refuses it too).
        if let Some(params) = call.params_node() {
            let nodes = params.as_tuple().map_err(|e| wrong(e.to_string()))?;
            for (node, ty) in nodes.zip(&export.param_types) {
                reject_unknown_fields(node, ty, call.source()).map_err(wrong)?;
            }
        }
        Ok(args)
    }
}

/// An error if a record in `node` (already known to convert to `ty`) names a
/// field its type does not have.
fn reject_unknown_fields(node: &Node, ty: &Type, source: &str) -> Result<(), String> {
    match ty {
        Type::Record(record) => {
            let fields = node.as_record(source).map_err(|e| e.to_string())?;
            for (label, value) in fields {
                let Some(field) = record.fields().find(|field| field.name == label) else {
                    let known: Vec<&str> = record.fields().map(|field| field.name).collect();
                    return Err(format!(
                        "unknown field `{label}` at {}: the record's fields are {}",
                        node.span().start,
                        known.join(", ")
                    ));
                };
                reject_unknown_fields(value, &field.ty, source)?;
            }
            Ok(())
        }
        Type::List(list) => {
            let element = list.ty();
            for item in node.as_list().map_err(|e| e.to_string())? {
                reject_unknown_fields(item, &element, source)?;
            }
            Ok(())
        }
        Type::Tuple(tuple) => {
            let items = node.as_tuple().map_err(|e| e.to_string())?;
            for (item, item_type) in items.zip(tuple.types()) {
                reject_unknown_fields(item, &item_type, source)?;
            }
            Ok(())
        }
        Type::Option(option) => match node.as_option().map_err(|e| e.to_string())? {
            Some(inner) => reject_unknown_fields(inner, &option.ty(), source),
            None => Ok(()),
        },
        Type::Result(result) => match node.as_result().map_err(|e| e.to_string())? {
            Ok(Some(inner)) => result
                .ok()
                .map_or(Ok(()), |ok| reject_unknown_fields(inner, &ok, source)),
            Err(Some(inner)) => result
                .err()
                .map_or(Ok(()), |err| reject_unknown_fields(inner, &err, source)),
            Ok(None) | Err(None) => Ok(()),
        },
        Type::Variant(variant) => {
            let (label, payload) = node.as_variant(source).map_err(|e| e.to_string())?;
            let case_type = variant
                .cases()
                .find(|case| case.name == label)
                .and_then(|case| case.ty);
            match (payload, case_type) {
                (Some(payload), Some(case_type)) => {
                    reject_unknown_fields(payload, &case_type, source)
                }
                _ => Ok(()),
            }
        }
        _ => Ok(()),
    }
}
