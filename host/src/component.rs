//! A loaded activity: its code hash, its exported functions with their WIT
//! signatures, and the cache rule that applies to each.

use std::sync::Arc;

use rustc_hash::FxHashMap;
use sha2::{Digest, Sha256};
use wasmtime::component::types::{ComponentFunc, ComponentItem};
use wasmtime::component::wasm_wave::wasm::DisplayType;
use wasmtime::component::{Component, ComponentExportIndex, InstancePre, Type};

use crate::actor_cache::ActorCacheScope;
use crate::codec;
use crate::contract::{self, RULES_INTERFACE};
use crate::policy::{CachePolicy, CacheRule, RulesConfig};
use crate::pool::{InstanceMode, InstancePool};
use crate::purity::Purity;
use crate::runner::{HostState, Runner};
use crate::sandbox::Sandbox;
use crate::stats::{ExportCounters, StatsRegistry};

/// Why a component could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The bytes are a core WebAssembly module, not a component.
    #[error(
        "this is a core WebAssembly module, not a component; build it for wasm32-wasip2 (or wrap it with `wasm-tools component new`)"
    )]
    CoreModule,
    /// The bytes are not WebAssembly at all.
    #[error("not a WebAssembly component (no `\\0asm` header)")]
    NotWasm,
    /// wasmtime rejected the component, or its imports, or its `rules` export.
    #[error("{0:#}")]
    Invalid(anyhow::Error),
    /// A rule (declared or configured) does not name exactly one export.
    #[error("cache rule: {0}")]
    Rule(#[from] ExportLookupError),
    /// A rule keeps results in a store the host does not have.
    #[error(
        "cache rule for `{export}` names store `{store}`, which is not configured ([stores.{store}])"
    )]
    UnknownStore {
        /// The export.
        export: String,
        /// The store named by the rule.
        store: String,
    },
    /// A rule leaves out a parameter the function does not have.
    #[error(
        "cache rule for `{export}` ignores `{param}`, which is not one of its parameters ({params})"
    )]
    UnknownParam {
        /// The export.
        export: String,
        /// The parameter named by the rule.
        param: String,
        /// The export's parameters.
        params: String,
    },
    /// A rule asks to cache a function whose values have no encoding.
    #[error(
        "`{export}` cannot be cached ({policy}): its signature `{signature}` has a resource, future or stream"
    )]
    Uncacheable {
        /// The export.
        export: String,
        /// The requested policy.
        policy: CachePolicy,
        /// Its signature.
        signature: String,
    },
}

/// A name that does not address exactly one exported function.
#[derive(Debug, thiserror::Error)]
pub enum ExportLookupError {
    /// No export answers to the name.
    #[error("`{name}` is not an exported function; exports: {available}")]
    Unknown {
        /// The name given.
        name: String,
        /// The export paths there are.
        available: String,
    },
    /// Several exports answer to the name.
    #[error("`{name}` is ambiguous; use one of: {candidates}")]
    Ambiguous {
        /// The name given.
        name: String,
        /// The export paths it could mean.
        candidates: String,
    },
}

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
    /// Where to find the function in an instance.
    pub index: ComponentExportIndex,
    /// The rule that applies to calls of this function.
    pub rule: CacheRule,
    /// Per parameter: whether it is part of the cache key.
    pub key_params: Vec<bool>,
    /// This export's call counters.
    pub counters: Arc<ExportCounters>,
}

impl ActivityExport {
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

    /// Applies `rule`, checking it fits the signature. A rule that asks to
    /// cache what cannot be cached is an error if it was `configured` (declared
    /// or overridden), and falls back to `no-cache` if it is only the default.
    fn set_rule(&mut self, rule: CacheRule, configured: bool) -> Result<(), LoadError> {
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
        Ok(())
    }
}

/// A loaded activity component.
pub struct ActivityComponent {
    /// Its name on this host (part of every cache key).
    pub name: Arc<str>,
    /// sha256 of the component's bytes.
    pub code_hash: [u8; 32],
    /// Exported functions, in the component's order; the contract's `rules`
    /// interface is not listed.
    pub exports: Vec<ActivityExport>,
    /// The component with its imports resolved, ready to instantiate.
    pub pre: InstancePre<HostState>,
    /// Its limits and grants.
    pub sandbox: Sandbox,
    /// What it imports, and what of that makes results depend on more than
    /// arguments.
    pub purity: Purity,
    /// Warm instances, in actor mode; `None`: a fresh instance per call.
    pub pool: Option<InstancePool>,
    /// Its namespace in the replica's actor cache.
    pub actor_cache: ActorCacheScope,
    names: ExportNames,
}

impl std::fmt::Debug for ActivityComponent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ActivityComponent")
            .field("name", &self.name)
            .field("code_hash", &self.code_hash_hex())
            .field(
                "exports",
                &self.exports.iter().map(|e| &e.path).collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl ActivityComponent {
    /// Compiles `bytes` as component `name`, reads its declared rules, and
    /// resolves each export's rule with the overrides in `rules` applied.
    pub async fn load(
        runner: &Runner,
        name: &str,
        bytes: &[u8],
        rules: &RulesConfig,
        stats: &StatsRegistry,
        mode: InstanceMode,
        sandbox: Sandbox,
    ) -> Result<Self, LoadError> {
        check_header(bytes)?;
        let code_hash: [u8; 32] = Sha256::digest(bytes).into();
        let component = Component::from_binary(runner.engine(), bytes)
            .map_err(|e| LoadError::Invalid(anyhow::Error::from(e).context("invalid component")))?;
        let pre = runner.prepare(&component).map_err(LoadError::Invalid)?;
        let name: Arc<str> = Arc::from(name);
        let actor_cache = runner.actor_cache().scope(&name, &code_hash);
        let declared = runner
            .declared_rules(&pre, &actor_cache, &sandbox)
            .await
            .map_err(LoadError::Invalid)?;

        let mut exports = discover_exports(runner, &component);
        for export in &mut exports {
            export.counters = stats.counters(&name, &export.path);
        }
        let names = ExportNames::new(&exports);
        let mut resolved: Vec<Option<CacheRule>> = vec![None; exports.len()];
        for (function, rule) in declared
            .unwrap_or_default()
            .into_iter()
            .map(contract::declared_rule)
        {
            resolved[names.find(&exports, &function)?] = Some(rule);
        }
        // Overrides by bare name first, so more specific names win.
        let mut overrides: Vec<_> = rules.overrides(&name).collect();
        overrides.sort_by_key(|(export, _)| (export.contains('/'), export.contains('#')));
        for (export, change) in overrides {
            let index = names.find(&exports, export)?;
            let rule = resolved[index]
                .take()
                .unwrap_or_else(|| rules.undeclared_rule());
            resolved[index] = Some(change.apply(rule));
        }
        for (export, rule) in exports.iter_mut().zip(resolved) {
            let configured = rule.is_some();
            export.set_rule(rule.unwrap_or_else(|| rules.undeclared_rule()), configured)?;
        }
        let imports = component
            .component_type()
            .imports(runner.engine())
            .map(|(name, _)| name.to_owned())
            .collect();
        let purity = Purity::assess(imports, &sandbox.capabilities);
        let cached: Vec<&str> = exports
            .iter()
            .filter(|export| export.rule.policy != crate::policy::CachePolicy::NoCache)
            .map(|export| export.path.as_str())
            .collect();
        if !purity.is_pure() && !cached.is_empty() {
            tracing::warn!(
                component = &*name,
                reaches = %purity.reaches_text(),
                cached = %cached.join(", "),
                "cached exports can reach nondeterministic capabilities: their results may \
                 depend on more than their arguments"
            );
        }
        Ok(Self {
            name,
            code_hash,
            purity,
            exports,
            pre,
            sandbox,
            pool: match mode {
                InstanceMode::Fresh => None,
                InstanceMode::Warm(config) => Some(InstancePool::new(config)),
            },
            actor_cache,
            names,
        })
    }

    /// The export `name` addresses: its path (`iface#func`), its short path
    /// (`api#func`), or its bare name when that is unambiguous.
    pub fn export(&self, name: &str) -> Result<&ActivityExport, ExportLookupError> {
        self.names
            .find(&self.exports, name)
            .map(|index| &self.exports[index])
    }

    /// The code hash in hex.
    pub fn code_hash_hex(&self) -> String {
        hex::encode(self.code_hash)
    }
}

/// Every name that addresses an export (path, short path, bare name), with
/// the exports answering to it.
#[derive(Default)]
struct ExportNames {
    by_name: FxHashMap<String, Vec<usize>>,
    paths: String,
}

impl ExportNames {
    fn new(exports: &[ActivityExport]) -> Self {
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
    fn find(&self, exports: &[ActivityExport], name: &str) -> Result<usize, ExportLookupError> {
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
                available: self.paths.clone(),
            }),
        }
    }
}

/// Tells a core module and non-WebAssembly bytes apart from a component, so
/// the error says what to do.
fn check_header(bytes: &[u8]) -> Result<(), LoadError> {
    match bytes {
        [0, b'a', b's', b'm', 1, 0, 0, 0, ..] => Err(LoadError::CoreModule),
        [0, b'a', b's', b'm', ..] => Ok(()),
        _ => Err(LoadError::NotWasm),
    }
}

/// Every exported function, at the top level or one interface deep.
fn discover_exports(runner: &Runner, component: &Component) -> Vec<ActivityExport> {
    let engine = runner.engine();
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
    ActivityExport {
        path: interface.map_or_else(
            || name.to_owned(),
            |interface| format!("{interface}#{name}"),
        ),
        name: name.to_owned(),
        interface: interface.map(str::to_owned),
        signature_hash: Sha256::digest(signature.as_bytes()).into(),
        signature,
        result_types: func_type.results().collect(),
        key_params: vec![true; param_types.len()],
        param_types,
        func_type,
        index,
        rule: CacheRule::new(CachePolicy::NoCache),
        counters: Arc::default(),
    }
}

/// The WIT text of a function type: `func(user-id: u64) -> string`.
fn signature(func_type: &ComponentFunc) -> String {
    let params: Vec<String> = func_type
        .params()
        .map(|(name, ty)| format!("{name}: {}", type_text(&ty)))
        .collect();
    let mut text = format!("func({})", params.join(", "));
    for result in func_type.results() {
        text.push_str(&format!(" -> {}", type_text(&result)));
    }
    text
}

/// The WIT text of a type, structurally (named types are spelled out, as
/// wasmtime does not keep their names): `record { id: u64, name: string }`.
fn type_text(ty: &Type) -> String {
    let list = |items: Vec<String>| items.join(", ");
    match ty {
        Type::List(list_ty) => format!("list<{}>", type_text(&list_ty.ty())),
        Type::FixedLengthList(list_ty) => {
            format!("list<{}, {}>", type_text(&list_ty.ty()), list_ty.len())
        }
        Type::Map(map) => format!(
            "map<{}, {}>",
            type_text(&map.key()),
            type_text(&map.value())
        ),
        Type::Record(record) => format!(
            "record {{ {} }}",
            list(
                record
                    .fields()
                    .map(|f| format!("{}: {}", f.name, type_text(&f.ty)))
                    .collect()
            )
        ),
        Type::Tuple(tuple) => format!(
            "tuple<{}>",
            list(tuple.types().map(|t| type_text(&t)).collect())
        ),
        Type::Variant(variant) => format!(
            "variant {{ {} }}",
            list(
                variant
                    .cases()
                    .map(|case| match case.ty {
                        Some(ty) => format!("{}({})", case.name, type_text(&ty)),
                        None => case.name.to_owned(),
                    })
                    .collect()
            )
        ),
        Type::Option(option) => format!("option<{}>", type_text(&option.ty())),
        Type::Result(result) => match (result.ok(), result.err()) {
            (None, None) => "result".to_owned(),
            (Some(ok), None) => format!("result<{}>", type_text(&ok)),
            (ok, err) => format!(
                "result<{}, {}>",
                ok.map_or("_".to_owned(), |t| type_text(&t)),
                err.map_or("_".to_owned(), |t| type_text(&t))
            ),
        },
        Type::Own(_) => "own<resource>".to_owned(),
        Type::Borrow(_) => "borrow<resource>".to_owned(),
        Type::Future(future) => format!(
            "future<{}>",
            future.ty().map_or("_".to_owned(), |t| type_text(&t))
        ),
        Type::Stream(stream) => format!(
            "stream<{}>",
            stream.ty().map_or("_".to_owned(), |t| type_text(&t))
        ),
        Type::ErrorContext => "error-context".to_owned(),
        // Primitives, enums and flags print the same as WAVE's type display.
        primitive => DisplayType(primitive).to_string(),
    }
}
