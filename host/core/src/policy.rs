//! Cache policies, rules, and how the rule of one export is resolved.
//!
//! A component declares rules through its `rules` export. The host's rules
//! configuration (the config file's `[components.NAME.exports.EXPORT]`
//! tables, then CLI flags) overrides them field by field. Exports nobody
//! declared a rule for get the configured default, `no-cache` unless changed:
//! caching is opt-in.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// How the host memoizes one exported function.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CachePolicy {
    /// Cache by function identity and argument values.
    Inputs,
    /// Cache by function identity, argument values and the component's code.
    TaskSource,
    /// Never cache (the default for an export that declares no rule).
    #[default]
    NoCache,
}

impl CachePolicy {
    /// The policy's name as written in WIT, flags, config and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Inputs => "inputs",
            Self::TaskSource => "task-source",
            Self::NoCache => "no-cache",
        }
    }
}

impl fmt::Display for CachePolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for CachePolicy {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "inputs" => Ok(Self::Inputs),
            "task-source" => Ok(Self::TaskSource),
            "no-cache" => Ok(Self::NoCache),
            other => Err(format!(
                "unknown cache policy `{other}` (expected inputs, task-source or no-cache)"
            )),
        }
    }
}

/// The rule that applies to one export.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CacheRule {
    /// How calls are memoized.
    pub policy: CachePolicy,
    /// How long a cached result lives; `None`: until evicted or invalidated.
    pub ttl: Option<Duration>,
    /// Whether returned `result::err` values are cached (traps never are).
    pub cache_errors: bool,
    /// Parameters left out of the key.
    pub ignore_params: Vec<String>,
    /// The named store that keeps this export's results (`None`: the
    /// host's store).
    pub store: Option<String>,
    /// Whether its results may depend on what the purity check found (the
    /// operator said so): no load warning names it.
    pub allow_nondeterministic: bool,
}

impl CacheRule {
    /// A rule with `policy`, no TTL, errors not cached, every parameter keyed.
    pub fn new(policy: CachePolicy) -> Self {
        Self {
            policy,
            ttl: None,
            cache_errors: false,
            ignore_params: Vec::new(),
            store: None,
            allow_nondeterministic: false,
        }
    }
}

impl fmt::Display for CacheRule {
    /// `inputs, ttl 1h, caches errors, ignores trace-id`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.policy.as_str())?;
        if self.policy == CachePolicy::NoCache {
            return Ok(());
        }
        match self.ttl {
            Some(ttl) => write!(f, ", ttl {}", humantime::format_duration(ttl))?,
            None => f.write_str(", no ttl")?,
        }
        if self.cache_errors {
            f.write_str(", caches errors")?;
        }
        if !self.ignore_params.is_empty() {
            write!(f, ", ignores {}", self.ignore_params.join(", "))?;
        }
        if let Some(store) = &self.store {
            write!(f, ", store {store}")?;
        }
        Ok(())
    }
}

/// A configured TTL: a duration, or `never` (kept until evicted).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ttl {
    /// Cached results never expire.
    Never,
    /// Cached results expire after this long.
    After(Duration),
}

impl FromStr for Ttl {
    type Err = String;

    /// `never`, or a duration such as `250ms`, `90s`, `10m`, `1h`, `2h 30m`.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if text == "never" {
            return Ok(Self::Never);
        }
        let ttl = humantime::parse_duration(text).map_err(|e| {
            format!("invalid TTL `{text}`: {e} (examples: 250ms, 90s, 10m, 1h, never)")
        })?;
        if ttl.is_zero() {
            return Err(format!("invalid TTL `{text}`: must be longer than zero"));
        }
        Ok(Self::After(ttl))
    }
}

impl fmt::Display for Ttl {
    /// `never`, or the duration as `humantime` writes it (`10m`, `1h 30m`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Never => f.write_str("never"),
            Self::After(ttl) => write!(f, "{}", humantime::format_duration(*ttl)),
        }
    }
}

impl Serialize for Ttl {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Ttl {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// Host-side changes to one export's rule; unset fields keep what the
/// component declared.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RuleOverride {
    /// Replaces the policy.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy: Option<CachePolicy>,
    /// Replaces the TTL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ttl: Option<Ttl>,
    /// Replaces whether `result::err` values are cached.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache_errors: Option<bool>,
    /// Replaces the parameters left out of the key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ignore_params: Option<Vec<String>>,
    /// Keeps this export's results in the named store (`[stores.NAME]`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub store: Option<String>,
    /// Acknowledges that its results may depend on more than the arguments
    /// (the clock, the network, …): the load warning leaves it out.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allow_nondeterministic: Option<bool>,
}

impl RuleOverride {
    /// `rule` with this override applied.
    pub fn apply(&self, mut rule: CacheRule) -> CacheRule {
        if let Some(policy) = self.policy {
            rule.policy = policy;
        }
        match self.ttl {
            Some(Ttl::Never) => rule.ttl = None,
            Some(Ttl::After(ttl)) => rule.ttl = Some(ttl),
            None => {}
        }
        if let Some(cache_errors) = self.cache_errors {
            rule.cache_errors = cache_errors;
        }
        if let Some(ignore_params) = &self.ignore_params {
            rule.ignore_params = ignore_params.clone();
        }
        if let Some(store) = &self.store {
            rule.store = Some(store.clone());
        }
        if let Some(allow) = self.allow_nondeterministic {
            rule.allow_nondeterministic = allow;
        }
        rule
    }

    /// This override with the fields set in `later` replacing its own.
    pub fn merge(&mut self, later: RuleOverride) {
        self.policy = later.policy.or(self.policy);
        self.ttl = later.ttl.or(self.ttl);
        self.cache_errors = later.cache_errors.or(self.cache_errors);
        if later.ignore_params.is_some() {
            self.ignore_params = later.ignore_params;
        }
        if later.store.is_some() {
            self.store = later.store;
        }
        self.allow_nondeterministic = later.allow_nondeterministic.or(self.allow_nondeterministic);
    }
}

/// The host's rules configuration: the default for undeclared exports, and
/// overrides per component and export.
#[derive(Clone, Debug, Default)]
pub struct RulesConfig {
    /// Policy of exports the component declares no rule for (default
    /// `no-cache`). Exports whose types cannot be cached stay `no-cache`.
    pub undeclared: Option<CachePolicy>,
    /// Overrides, by component name, then by export name (any name the
    /// export answers to: `iface#func`, `api#func` or `func`).
    pub components: HashMap<String, HashMap<String, RuleOverride>>,
}

impl RulesConfig {
    /// Adds `change` to the override of `export` of `component`; fields it
    /// sets replace earlier ones.
    pub fn set(&mut self, component: &str, export: &str, change: RuleOverride) {
        self.components
            .entry(component.to_owned())
            .or_default()
            .entry(export.to_owned())
            .or_default()
            .merge(change);
    }

    /// The rule of an export nobody declared a rule for.
    pub fn undeclared_rule(&self) -> CacheRule {
        CacheRule::new(self.undeclared.unwrap_or(CachePolicy::NoCache))
    }

    /// The overrides configured for `component`, by export name.
    pub fn overrides(&self, component: &str) -> impl Iterator<Item = (&str, &RuleOverride)> {
        self.components
            .get(component)
            .into_iter()
            .flatten()
            .map(|(export, change)| (export.as_str(), change))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn undeclared_exports_are_not_cached_unless_configured() {
        assert_eq!(
            RulesConfig::default().undeclared_rule().policy,
            CachePolicy::NoCache
        );
        let config = RulesConfig {
            undeclared: Some(CachePolicy::Inputs),
            ..RulesConfig::default()
        };
        assert_eq!(config.undeclared_rule().policy, CachePolicy::Inputs);
    }

    #[test]
    fn overrides_replace_only_the_fields_they_set() {
        let declared = CacheRule {
            ttl: Some(Duration::from_secs(3600)),
            ..CacheRule::new(CachePolicy::Inputs)
        };
        let ttl_only = RuleOverride {
            ttl: Some(Ttl::After(Duration::from_millis(250))),
            ..RuleOverride::default()
        };
        let rule = ttl_only.apply(declared.clone());
        assert_eq!(rule.policy, CachePolicy::Inputs);
        assert_eq!(rule.ttl, Some(Duration::from_millis(250)));
        let never = RuleOverride {
            ttl: Some(Ttl::Never),
            cache_errors: Some(true),
            ignore_params: Some(vec!["trace-id".into()]),
            ..RuleOverride::default()
        };
        let rule = never.apply(declared);
        assert_eq!(rule.ttl, None);
        assert!(rule.cache_errors);
        assert_eq!(rule.ignore_params, ["trace-id"]);
    }

    #[test]
    fn later_overrides_win_field_by_field() {
        let mut config = RulesConfig::default();
        let from_file = RuleOverride {
            policy: Some(CachePolicy::Inputs),
            ttl: Some(Ttl::After(Duration::from_secs(60))),
            ..RuleOverride::default()
        };
        let from_flag = RuleOverride {
            ttl: Some(Ttl::After(Duration::from_secs(5))),
            ..RuleOverride::default()
        };
        config.set("users", "f", from_file);
        config.set("users", "f", from_flag);
        let (_, merged) = config.overrides("users").next().unwrap();
        assert_eq!(merged.policy, Some(CachePolicy::Inputs));
        assert_eq!(merged.ttl, Some(Ttl::After(Duration::from_secs(5))));
        assert_eq!(config.overrides("other").count(), 0);
    }

    #[test]
    fn parses_ttls() {
        assert_eq!("10m".parse(), Ok(Ttl::After(Duration::from_secs(600))));
        assert_eq!("250ms".parse(), Ok(Ttl::After(Duration::from_millis(250))));
        assert_eq!("1h 30m".parse(), Ok(Ttl::After(Duration::from_secs(5400))));
        assert_eq!("never".parse(), Ok(Ttl::Never));
        assert!("0s".parse::<Ttl>().is_err());
        assert!("soon".parse::<Ttl>().is_err());
    }

    #[test]
    fn rules_display_everything_that_matters() {
        let rule = CacheRule {
            ttl: Some(Duration::from_millis(1500)),
            cache_errors: true,
            ignore_params: vec!["trace-id".into()],
            ..CacheRule::new(CachePolicy::TaskSource)
        };
        assert_eq!(
            rule.to_string(),
            "task-source, ttl 1s 500ms, caches errors, ignores trace-id"
        );
        assert_eq!(CacheRule::new(CachePolicy::NoCache).to_string(), "no-cache");
    }
}
