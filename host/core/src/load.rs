//! Loading a component: compile it, link its imports, read the rules it
//! declares, resolve each export's rule against the configured overrides,
//! and assess what it can reach.

use std::sync::{Arc, Mutex, Weak};

use rustc_hash::FxHashSet;

use sha2::{Digest, Sha256};
use wasmtime::component::Component;

use crate::component::{
    ActivityComponent, ActivityExport, ExportNames, LoadError, discover_exports,
};
use crate::contract;
use crate::memory_budget::IdleInstances;
use crate::policy::{CachePolicy, CacheRule, RulesConfig};
use crate::pool::{InstanceMode, InstancePool, WarmConfig};
use crate::purity::Purity;
use crate::runner::Runner;
use crate::sandbox::Sandbox;
use crate::stats::StatsRegistry;

/// How a component runs: its instance mode, limits and grants.
#[derive(Clone, Debug, Default)]
pub(crate) struct ComponentSettings {
    /// A fresh instance per call, or warm instances (actor mode).
    pub instances: InstanceMode,
    /// Its limits and grants.
    pub sandbox: Sandbox,
}

/// Loads components for a host: compiles them with its runner, resolves their
/// rules with its configured overrides, and counts into its counters.
pub(crate) struct Loader<'a> {
    /// Compiles, links and instantiates.
    pub runner: &'a Runner,
    /// The configured overrides of declared rules.
    pub rules: &'a RulesConfig,
    /// Where each export's counters live.
    pub stats: &'a StatsRegistry,
    /// The component digests whose purity warning was given (once each).
    pub purity_warned: &'a Mutex<FxHashSet<[u8; 32]>>,
}

impl Loader<'_> {
    /// Compiles `bytes` as component `name`, reads its declared rules, and
    /// resolves each export's rule with the configured overrides applied.
    pub(crate) async fn load(
        &self,
        name: &str,
        bytes: &[u8],
        settings: ComponentSettings,
    ) -> Result<ActivityComponent, LoadError> {
        let ComponentSettings { instances, sandbox } = settings;
        let (component, code_hash) = self.compile(bytes)?;
        let pre = self.runner.prepare(&component).map_err(invalid)?;
        let name: Arc<str> = Arc::from(name);
        let actor_cache = self.runner.actor_cache().scope(&name, &code_hash);
        let declared = self
            .runner
            .declared_rules(&pre, &actor_cache, &sandbox)
            .await
            .map_err(invalid)?
            .unwrap_or_default();
        let engine = self.runner.engine();
        let mut exports = discover_exports(engine, &component);
        for export in &mut exports {
            export.counters = self.stats.counters(&name, &export.path);
        }
        let names = ExportNames::new(&exports);
        self.resolve_rules(&name, &code_hash, &mut exports, &names, declared)?;
        let imports = component
            .component_type()
            .imports(engine)
            .map(|(name, _)| name.to_owned())
            .collect();
        let purity = Purity::assess(imports, &sandbox.capabilities);
        if !sandbox.capabilities.allow_nondeterministic && self.first_load_of(&code_hash) {
            warn_if_impure(&name, &purity, &exports);
        }
        warn_of_unset_secrets(&name, &sandbox);
        Ok(ActivityComponent {
            name,
            code_hash,
            purity,
            exports,
            pre,
            sandbox,
            pool: match instances {
                InstanceMode::Fresh => None,
                InstanceMode::Warm(config) => Some(self.warm_pool(config)),
            },
            actor_cache,
            names,
        })
    }

    /// A pool of warm instances whose idle ones the memory budget (if any)
    /// may drop.
    fn warm_pool(&self, config: WarmConfig) -> Arc<InstancePool> {
        let pool = Arc::new(InstancePool::new(config));
        if let Some(budget) = self.runner.memory_budget() {
            let idle: Weak<dyn IdleInstances> = Arc::downgrade(&pool) as Weak<InstancePool>;
            budget.watch(idle);
        }
        pool
    }

    /// Whether this host loads the component with digest `code_hash` for
    /// the first time (its purity warning is given once).
    fn first_load_of(&self, code_hash: &[u8; 32]) -> bool {
        self.purity_warned
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .insert(*code_hash)
    }

    /// The compiled component and the sha256 of its bytes.
    fn compile(&self, bytes: &[u8]) -> Result<(Component, [u8; 32]), LoadError> {
        check_header(bytes)?;
        let code_hash: [u8; 32] = Sha256::digest(bytes).into();
        let component = Component::from_binary(self.runner.engine(), bytes)
            .map_err(|e| invalid(anyhow::Error::from(e).context("invalid component")))?;
        Ok((component, code_hash))
    }

    /// Gives each export its rule: declared by the component, then changed by
    /// the configured overrides (by bare name first, so more specific names
    /// win), else the rule for undeclared exports.
    fn resolve_rules(
        &self,
        component: &str,
        code_hash: &[u8; 32],
        exports: &mut [ActivityExport],
        names: &ExportNames,
        declared: Vec<contract::activity::cache::types::Rule>,
    ) -> Result<(), LoadError> {
        let mut resolved: Vec<Option<CacheRule>> = vec![None; exports.len()];
        for (function, rule) in declared.into_iter().map(contract::declared_rule) {
            resolved[names.find(exports, &function)?] = Some(rule);
        }
        let mut overrides: Vec<_> = self.rules.overrides(component).collect();
        overrides.sort_by_key(|(export, _)| (export.contains('/'), export.contains('#')));
        for (export, change) in overrides {
            let index = names.find(exports, export)?;
            let rule = resolved[index]
                .take()
                .unwrap_or_else(|| self.rules.undeclared_rule());
            resolved[index] = Some(change.apply(rule));
        }
        for (export, rule) in exports.iter_mut().zip(resolved) {
            let configured = rule.is_some();
            export.set_rule(
                rule.unwrap_or_else(|| self.rules.undeclared_rule()),
                configured,
                component,
                code_hash,
            )?;
        }
        Ok(())
    }
}

/// Warns when cached exports can reach nondeterministic capabilities (the
/// clock, randomness, the network, granted directories or variables),
/// naming those whose rule does not acknowledge it.
fn warn_if_impure(component: &str, purity: &Purity, exports: &[ActivityExport]) {
    let cached: Vec<&str> = exports
        .iter()
        .filter(|export| export.rule.policy != CachePolicy::NoCache)
        .filter(|export| !export.rule.allow_nondeterministic)
        .map(|export| export.path.as_str())
        .collect();
    if !purity.is_pure() && !cached.is_empty() {
        tracing::warn!(
            component,
            reaches = %purity.reaches_text(),
            cached = %cached.join(", "),
            "cached exports can reach nondeterministic capabilities: their results may \
             depend on more than their arguments"
        );
    }
}

/// Warns once, at load, of each granted secret whose host variable is not
/// set (its guests get no such variable until it is).
fn warn_of_unset_secrets(component: &str, sandbox: &Sandbox) {
    for (secret, grant) in &sandbox.capabilities.secrets {
        if std::env::var_os(&grant.env).is_none() {
            tracing::warn!(
                component,
                secret,
                variable = grant.env,
                "a secret's host variable is not set: guests get no such variable"
            );
        }
    }
}

/// An error of wasmtime or of the contract, with its whole chain of causes.
fn invalid(error: anyhow::Error) -> LoadError {
    LoadError::Invalid(format!("{error:#}"))
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
