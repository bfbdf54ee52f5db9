//! Cache policies and how the rule for one export is resolved.
//!
//! A component declares rules through its `rules` export; the host's
//! configuration (CLI flags, later the config file) overrides them per export.
//! Exports without any rule are not cached: caching is opt-in.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// How the host memoizes one exported function.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CachePolicy {
    /// Cache by function identity and argument values.
    Inputs,
    /// Cache by function identity, argument values and the component's code.
    TaskSource,
    /// Never cache.
    NoCache,
}

impl CachePolicy {
    /// The policy's name as written in WIT, flags and logs.
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
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CacheRule {
    /// How calls are memoized.
    pub policy: CachePolicy,
    /// How long a cached result lives; `None`: until evicted or invalidated.
    pub ttl: Option<Duration>,
}

impl CacheRule {
    /// The rule of exports nobody declared a rule for: not cached.
    pub const UNDECLARED: CacheRule = CacheRule {
        policy: CachePolicy::NoCache,
        ttl: None,
    };
}

impl fmt::Display for CacheRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.policy.as_str())?;
        match (self.policy, self.ttl) {
            (CachePolicy::NoCache, _) => Ok(()),
            (_, Some(ttl)) => write!(f, ", ttl {}", humantime::format_duration(ttl)),
            (_, None) => f.write_str(", no ttl"),
        }
    }
}

/// Host-side changes to declared rules, per export (as named by the user).
#[derive(Clone, Debug, Default)]
pub struct RuleOverrides {
    policies: HashMap<String, CachePolicy>,
    ttls: HashMap<String, Duration>,
}

impl RuleOverrides {
    /// Uses `policy` for `export`, whatever the component declares.
    pub fn set_policy(&mut self, export: impl Into<String>, policy: CachePolicy) {
        self.policies.insert(export.into(), policy);
    }

    /// Uses `ttl` for `export`, whatever the component declares.
    pub fn set_ttl(&mut self, export: impl Into<String>, ttl: Duration) {
        self.ttls.insert(export.into(), ttl);
    }

    /// Every export name these overrides mention.
    pub fn exports(&self) -> impl Iterator<Item = &str> {
        self.policies
            .keys()
            .chain(self.ttls.keys())
            .map(String::as_str)
    }

    /// `declared` (or [`CacheRule::UNDECLARED`]) with the overrides for an
    /// export known by any of `names` applied.
    pub fn apply(&self, names: &[&str], declared: Option<CacheRule>) -> CacheRule {
        let mut rule = declared.unwrap_or(CacheRule::UNDECLARED);
        if let Some(policy) = names.iter().find_map(|name| self.policies.get(*name)) {
            rule.policy = *policy;
        }
        if let Some(ttl) = names.iter().find_map(|name| self.ttls.get(*name)) {
            rule.ttl = Some(*ttl);
        }
        rule
    }
}

/// Parses `EXPORT=VALUE` as given to `--policy` and `--ttl`.
pub fn parse_assignment<T>(
    text: &str,
    parse: impl FnOnce(&str) -> Result<T, String>,
) -> Result<(String, T), String> {
    let (export, value) = text
        .split_once('=')
        .ok_or_else(|| format!("expected EXPORT=VALUE, got `{text}`"))?;
    if export.is_empty() {
        return Err(format!("missing export name in `{text}`"));
    }
    Ok((export.to_owned(), parse(value)?))
}

/// Parses a TTL such as `500ms`, `90s`, `10m`, `1h` or `2h 30m`.
pub fn parse_ttl(text: &str) -> Result<Duration, String> {
    let ttl = humantime::parse_duration(text).map_err(|e| format!("invalid TTL `{text}`: {e}"))?;
    if ttl.is_zero() {
        return Err(format!("invalid TTL `{text}`: must be longer than zero"));
    }
    Ok(ttl)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn undeclared_exports_are_not_cached() {
        let rule = RuleOverrides::default().apply(&["f"], None);
        assert_eq!(rule.policy, CachePolicy::NoCache);
    }

    #[test]
    fn overrides_replace_declared_policy_and_ttl_separately() {
        let declared = CacheRule {
            policy: CachePolicy::Inputs,
            ttl: Some(Duration::from_secs(3600)),
        };
        let mut overrides = RuleOverrides::default();
        overrides.set_ttl("api#f", Duration::from_secs(600));
        let rule = overrides.apply(&["pkg:x/api#f", "api#f", "f"], Some(declared));
        assert_eq!(rule.policy, CachePolicy::Inputs);
        assert_eq!(rule.ttl, Some(Duration::from_secs(600)));
        overrides.set_policy("f", CachePolicy::NoCache);
        let rule = overrides.apply(&["pkg:x/api#f", "api#f", "f"], Some(declared));
        assert_eq!(rule.policy, CachePolicy::NoCache);
    }

    #[test]
    fn parses_flag_values() {
        assert_eq!(
            parse_assignment("fetch-user=inputs", |v| v.parse::<CachePolicy>()),
            Ok(("fetch-user".to_owned(), CachePolicy::Inputs))
        );
        assert!(parse_assignment("fetch-user", |v| v.parse::<CachePolicy>()).is_err());
        assert!(parse_assignment("f=sometimes", |v| v.parse::<CachePolicy>()).is_err());
        assert_eq!(parse_ttl("10m"), Ok(Duration::from_secs(600)));
        assert_eq!(parse_ttl("250ms"), Ok(Duration::from_millis(250)));
        assert!(parse_ttl("0s").is_err());
        assert!(parse_ttl("soon").is_err());
    }
}
