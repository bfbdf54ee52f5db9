//! A call's arguments as callers write them: JSON (the HTTP and Temporal
//! workers) or a WAVE invocation (the CLI), typed against the export.

use std::str::FromStr;

use serde_json::Value as Json;
use wasmtime::component::wasm_wave::ast::{Node, NodeType};
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

impl ExportHandle {
    /// The arguments of an export taking one `list<u8>`, given as raw
    /// bytes (an HTTP body of type `application/octet-stream`).
    pub fn bytes_args(&self, bytes: &[u8]) -> Result<Vec<Val>, HostError> {
        let export = self.export();
        if !crate::component::is_bytes(&export.param_types) {
            return Err(HostError::Arguments {
                text: format!("{} bytes", bytes.len()),
                message: format!(
                    "raw bytes are the argument of an export taking one list<u8>; expected {}",
                    export.signature
                ),
            });
        }
        let bytes = bytes.iter().map(|&byte| Val::U8(byte)).collect();
        Ok(vec![Val::List(bytes)])
    }
}

/// The export name of a WAVE invocation such as `api#fetch-user(123)` (the
/// syntax of `wasmtime run --invoke`): the text before `(`.
pub fn wave_name(invocation: &str) -> &str {
    invocation[..invocation.find('(').unwrap_or(invocation.len())].trim()
}

impl ExportHandle {
    /// The typed arguments of a WAVE invocation of this export, such as
    /// `api#fetch-user(123)`.
    pub(crate) fn wave_args(&self, invocation: &str) -> Result<Vec<Val>, HostError> {
        let export = self.export();
        args_from_wave(invocation, &export.param_types).map_err(|message| HostError::Arguments {
            text: invocation.to_owned(),
            message: format!("{message}; expected {}", export.signature),
        })
    }
}

/// The arguments of a WAVE invocation such as `api#fetch-user(123)` (any
/// name before the parenthesis) for parameter types `types`; strict where
/// wasm-wave is lenient, as JSON is.
pub fn args_from_wave(invocation: &str, types: &[Type]) -> Result<Vec<Val>, String> {
    let (name, params) = invocation.split_at(invocation.find('(').unwrap_or(invocation.len()));
    // WAVE names are plain labels; parse the call under a stand-in label of
    // the same length so error positions still point into `invocation`.
    let stand_in = format!("{}{params}", "f".repeat(name.len()));
    let call = UntypedFuncCall::parse(&stand_in).map_err(|e| e.to_string())?;
    let args = call.to_wasm_params(types).map_err(|e| e.to_string())?;
    // What wasm-wave reads as something else than was written must not
    // become another call's key (JSON refuses the same input).
    if let Some(params) = call.params_node() {
        let nodes = params.as_tuple().map_err(|e| e.to_string())?;
        for (node, ty) in nodes.zip(types) {
            reject_silent_changes(node, ty, call.source())?;
        }
    }
    Ok(args)
}

/// An error where `node` (already known to convert to `ty`) would silently
/// mean something else than written: a record naming a field its type does
/// not have (wasm-wave drops it), a finite number too large for its float
/// type (wasm-wave reads infinity).
fn reject_silent_changes(node: &Node, ty: &Type, source: &str) -> Result<(), String> {
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
                reject_silent_changes(value, &field.ty, source)?;
            }
            Ok(())
        }
        Type::List(list) => {
            let element = list.ty();
            for item in node.as_list().map_err(|e| e.to_string())? {
                reject_silent_changes(item, &element, source)?;
            }
            Ok(())
        }
        Type::Tuple(tuple) => {
            let items = node.as_tuple().map_err(|e| e.to_string())?;
            for (item, item_type) in items.zip(tuple.types()) {
                reject_silent_changes(item, &item_type, source)?;
            }
            Ok(())
        }
        Type::Option(option) => match node.as_option().map_err(|e| e.to_string())? {
            Some(inner) => reject_silent_changes(inner, &option.ty(), source),
            None => Ok(()),
        },
        Type::Result(result) => match node.as_result().map_err(|e| e.to_string())? {
            Ok(Some(inner)) => result
                .ok()
                .map_or(Ok(()), |ok| reject_silent_changes(inner, &ok, source)),
            Err(Some(inner)) => result
                .err()
                .map_or(Ok(()), |err| reject_silent_changes(inner, &err, source)),
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
                    reject_silent_changes(payload, &case_type, source)
                }
                _ => Ok(()),
            }
        }
        Type::Float32 => reject_overflow::<f32>(node, source, "an f32"),
        Type::Float64 => reject_overflow::<f64>(node, source, "an f64"),
        _ => Ok(()),
    }
}

/// An error if `node` is a finite numeral that `T` reads as infinity.
fn reject_overflow<T: FromStr + Into<f64> + Copy>(
    node: &Node,
    source: &str,
    name: &str,
) -> Result<(), String> {
    let text = &source[node.span()];
    let finite_numeral = node.ty() == NodeType::Number
        && text
            .trim_start_matches('-')
            .starts_with(|c: char| c.is_ascii_digit());
    match text.parse::<T>() {
        Ok(x) if finite_numeral && !x.into().is_finite() => Err(format!(
            "`{text}` at {} is too large for {name}",
            node.span().start
        )),
        _ => Ok(()),
    }
}
