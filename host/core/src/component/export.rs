//! One exported function of a component: its path and names, signature,
//! types, rule and counters; and the names that address it.

use std::sync::Arc;

use rustc_hash::FxHashMap;
use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::types::{ComponentFunc, ComponentItem};
use wasmtime::component::{Component, ComponentExportIndex, Type};

use super::signature::signature;
use super::{ExportLookupError, LoadError};
use crate::codec::{self, EncodeError, Shape};
use crate::contract::RULES_INTERFACE;
use crate::key::{KeyPrefix, KeyScope};
use crate::payload::{ByteKind, ByteSignature};
use crate::policy::{CachePolicy, CacheRule};
use crate::stats::ExportCounters;

/// One exported function of an activity.
pub struct ActivityExport {
    /// Canonical path: `fetch-user`, or `example:users/api@0.1.0#fetch-user`
    /// for a function inside an exported interface.
    pub path: String,
    /// The function's own name (`fetch-user`).
    pub name: String,
    /// The exported interface that holds the function, if any.
    pub interface: Option<String>,
    /// The WIT signature, e.g. `func(user-id: u64) -> record { id: u64, … }`.
    pub signature: String,
    /// sha256 of [`Self::signature`].
    pub signature_hash: [u8; 32],
    /// The function's type.
    pub func_type: ComponentFunc,
    /// Parameter types, in order.
    pub param_types: Vec<Type>,
    /// Result types (zero or one).
    pub result_types: Vec<Type>,
    /// The shapes of the result types, for decoding stored results, or why
    /// they have no encoding.
    pub(crate) result_shapes: Result<Arc<[Shape]>, EncodeError>,
    /// Whether its one parameter and one result are each a `list<u8>` or a
    /// `string`: then calls move them as bytes ([`crate::payload`]).
    pub byte_signature: Option<ByteSignature>,
    /// Where to find the function in an instance.
    pub(crate) index: ComponentExportIndex,
    /// The rule that applies to calls of this function.
    pub rule: CacheRule,
    /// Per parameter: whether it is part of the cache key.
    pub(crate) key_params: Vec<bool>,
    /// What every key of this export starts with, hashed once; `None` while
    /// its rule is `no-cache` (set with the rule, [`Self::set_rule`]).
    pub(crate) key_prefix: Option<KeyPrefix>,
    /// This export's call counters.
    pub(crate) counters: Arc<ExportCounters>,
}

impl ActivityExport {
    /// Whether the function returns one `list<u8>` (which the HTTP worker
    /// can answer as raw bytes).
    pub fn returns_bytes(&self) -> bool {
        is_bytes(&self.result_types)
    }

    /// `iface#func` with the interface's package and version left out, if the
    /// function is inside an interface.
    pub fn short_path(&self) -> Option<String> {
        let interface = self.interface.as_deref()?;
        let short = interface
            .rsplit_once('/')
            .map_or(interface, |(_, name)| name);
        let short = short.split_once('@').map_or(short, |(name, _)| name);
        Some(format!("{short}#{}", self.name))
    }

    /// What the keys of this export of `component` (whose code's sha256 is
    /// `code_hash`) are made of besides arguments, or `None` if its rule does
    /// not cache it.
    pub(crate) fn key_scope<'a>(
        &'a self,
        component: &'a str,
        code_hash: &'a [u8; 32],
    ) -> Option<KeyScope<'a>> {
        let code_hash = match self.rule.policy {
            CachePolicy::NoCache => return None,
            CachePolicy::Inputs => None,
            CachePolicy::TaskSource => Some(code_hash),
        };
        Some(KeyScope {
            component,
            export: &self.path,
            signature_hash: &self.signature_hash,
            code_hash,
        })
    }

    /// Applies `rule` to this export of `component` (whose code's sha256 is
    /// `code_hash`), checking it fits the signature. A rule that asks to
    /// cache what cannot be cached is an error if it was `configured`
    /// (declared or overridden), and falls back to `no-cache` if it is only
    /// the default.
    pub(crate) fn set_rule(
        &mut self,
        rule: CacheRule,
        configured: bool,
        component: &str,
        code_hash: &[u8; 32],
    ) -> Result<(), LoadError> {
        let param_names: Vec<&str> = self.func_type.params().map(|(name, _)| name).collect();
        if let Some(param) = rule
            .ignore_params
            .iter()
            .find(|p| !param_names.contains(&p.as_str()))
        {
            return Err(LoadError::UnknownParam {
                export: self.path.clone(),
                param: param.clone(),
                params: param_names.join(", "),
            });
        }
        self.key_params = param_names
            .iter()
            .map(|name| !rule.ignore_params.iter().any(|ignored| ignored == name))
            .collect();
        let cacheable = self
            .param_types
            .iter()
            .chain(&self.result_types)
            .all(codec::is_cacheable);
        self.rule = match (rule.policy, cacheable, configured) {
            (CachePolicy::NoCache, _, _) | (_, true, _) => rule,
            (_, false, false) => CacheRule::new(CachePolicy::NoCache),
            (policy, false, true) => {
                return Err(LoadError::Uncacheable {
                    export: self.path.clone(),
                    policy,
                    signature: self.signature.clone(),
                });
            }
        };
        self.key_prefix = self
            .key_scope(component, code_hash)
            .map(|scope| KeyPrefix::new(&scope));
        Ok(())
    }
}

/// Every name that addresses an export (path, short path, bare name), with
/// the exports answering to it.
#[derive(Default)]
pub(crate) struct ExportNames {
    by_name: FxHashMap<String, Vec<usize>>,
    paths: String,
}

impl ExportNames {
    pub(crate) fn new(exports: &[ActivityExport]) -> Self {
        let mut by_name: FxHashMap<String, Vec<usize>> = FxHashMap::default();
        for (index, export) in exports.iter().enumerate() {
            let names = [
                Some(export.path.clone()),
                export.short_path(),
                Some(export.name.clone()),
            ];
            for name in names.into_iter().flatten() {
                let indexes = by_name.entry(name).or_default();
                if !indexes.contains(&index) {
                    indexes.push(index);
                }
            }
        }
        let paths = exports
            .iter()
            .map(|e| e.path.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        Self { by_name, paths }
    }

    /// The one export `name` addresses. A full path always wins.
    pub(crate) fn find(
        &self,
        exports: &[ActivityExport],
        name: &str,
    ) -> Result<usize, ExportLookupError> {
        match self.by_name.get(name).map(Vec::as_slice) {
            Some([index]) => Ok(*index),
            Some(indexes) if !indexes.is_empty() => {
                if let Some(index) = indexes.iter().find(|&&i| exports[i].path == name) {
                    return Ok(*index);
                }
                Err(ExportLookupError::Ambiguous {
                    name: name.to_owned(),
                    candidates: indexes
                        .iter()
                        .map(|&i| exports[i].path.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                })
            }
            _ => Err(ExportLookupError::Unknown {
                name: name.to_owned(),
                hint: self.kebab_case_hint(name),
                available: self.paths.clone(),
            }),
        }
    }

    /// ` (did you mean `word-count`?)` when `name` in WIT's kebab case
    /// (`word_count`, `WordCount`) is an export's name; else nothing.
    fn kebab_case_hint(&self, name: &str) -> String {
        let mut kebab = String::with_capacity(name.len() + 4);
        for (at, c) in name.char_indices() {
            if c == '_' {
                kebab.push('-');
            } else if c.is_ascii_uppercase() {
                let after_lower = name[..at]
                    .chars()
                    .last()
                    .is_some_and(|p| p.is_ascii_lowercase());
                if after_lower {
                    kebab.push('-');
                }
                kebab.push(c.to_ascii_lowercase());
            } else {
                kebab.push(c);
            }
        }
        if kebab != name && self.by_name.contains_key(&kebab) {
            format!(" (did you mean `{kebab}`?)")
        } else {
            String::new()
        }
    }
}

/// Every exported function, at the top level or one interface deep.
pub(crate) fn discover_exports(engine: &Engine, component: &Component) -> Vec<ActivityExport> {
    let component_type = component.component_type();
    let mut exports = Vec::new();
    for (name, item) in component_type.exports(engine) {
        match item.ty {
            ComponentItem::ComponentFunc(func) => {
                if let Some(index) = component.get_export_index(None, name) {
                    exports.push(describe(None, name, func, index));
                }
            }
            ComponentItem::ComponentInstance(instance) if name != RULES_INTERFACE => {
                let Some(instance_index) = component.get_export_index(None, name) else {
                    continue;
                };
                for (func_name, item) in instance.exports(engine) {
                    if let ComponentItem::ComponentFunc(func) = item.ty
                        && let Some(index) =
                            component.get_export_index(Some(&instance_index), func_name)
                    {
                        exports.push(describe(Some(name), func_name, func, index));
                    }
                }
            }
            _ => {}
        }
    }
    exports
}

fn describe(
    interface: Option<&str>,
    name: &str,
    func_type: ComponentFunc,
    index: ComponentExportIndex,
) -> ActivityExport {
    let signature = signature(&func_type);
    let param_types: Vec<Type> = func_type.params().map(|(_, ty)| ty).collect();
    let result_types: Vec<Type> = func_type.results().collect();
    ActivityExport {
        path: interface.map_or_else(
            || name.to_owned(),
            |interface| format!("{interface}#{name}"),
        ),
        name: name.to_owned(),
        interface: interface.map(str::to_owned),
        signature_hash: Sha256::digest(signature.as_bytes()).into(),
        signature,
        byte_signature: ByteSignature::of(&param_types, &result_types),
        result_shapes: Shape::all(&result_types).map(Arc::from),
        result_types,
        key_params: vec![true; param_types.len()],
        key_prefix: None,
        param_types,
        func_type,
        index,
        rule: CacheRule::new(CachePolicy::NoCache),
        counters: Arc::default(),
    }
}

/// Whether `types` is one `list<u8>`.
pub(crate) fn is_bytes(types: &[Type]) -> bool {
    matches!(types, [ty] if ByteKind::of(ty) == Some(ByteKind::List))
}
