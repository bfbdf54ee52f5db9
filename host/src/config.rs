//! The configuration file (TOML).
//!
//! ```toml
//! [cache]
//! default-policy = "no-cache"        # for exports without a declared rule
//!
//! [components.users.exports.fetch-user]
//! policy = "inputs"                  # inputs | task-source | no-cache
//! ttl = "10m"                        # 250ms, 90s, 10m, 1h, "2h 30m" or never
//! cache-errors = false               # cache returned result::err values too
//! ignore-params = ["trace-id"]       # parameters left out of the key
//! ```
//!
//! Precedence, lowest first: the component's declared rules, this file, CLI
//! flags. Unknown keys are errors that name the key and the file.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::policy::{CachePolicy, RuleOverride, RulesConfig};

/// The configuration file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not valid TOML or has unknown or mistyped keys.
    #[error("config file {path}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong, and where.
        message: String,
    },
}

/// The configuration file's contents.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    /// `[cache]`: defaults of the memoizer.
    #[serde(default)]
    pub cache: CacheSection,
    /// `[components.NAME]`: per-component settings.
    #[serde(default)]
    pub components: HashMap<String, ComponentSection>,
}

/// The `[cache]` table.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct CacheSection {
    /// Policy of exports without a declared rule (default `no-cache`).
    pub default_policy: Option<CachePolicy>,
}

/// A `[components.NAME]` table.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ComponentSection {
    /// `[components.NAME.exports.EXPORT]`: rule overrides by export name.
    #[serde(default)]
    pub exports: HashMap<String, RuleOverride>,
}

impl ConfigFile {
    /// Reads and parses the file at `path`.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(&text).map_err(|message| ConfigError::Invalid {
            path: path.to_owned(),
            message,
        })
    }

    /// Parses TOML text.
    pub fn parse(text: &str) -> Result<Self, String> {
        toml::from_str(text).map_err(|error| error.to_string())
    }

    /// The rules configuration this file describes.
    pub fn rules(&self) -> RulesConfig {
        let mut rules = RulesConfig {
            undeclared: self.cache.default_policy,
            ..RulesConfig::default()
        };
        for (component, section) in &self.components {
            for (export, change) in &section.exports {
                rules.set(component, export, change.clone());
            }
        }
        rules
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::policy::Ttl;

    #[test]
    fn parses_rules_per_component_and_export() {
        let file = ConfigFile::parse(
            r#"
            [cache]
            default-policy = "inputs"

            [components.users.exports.fetch-user]
            policy = "task-source"
            ttl = "250ms"
            cache-errors = true
            ignore-params = ["trace-id"]

            [components.users.exports."api#calculate"]
            ttl = "never"
            "#,
        )
        .unwrap();
        let rules = file.rules();
        assert_eq!(rules.undeclared, Some(CachePolicy::Inputs));
        let users: HashMap<_, _> = rules.overrides("users").collect();
        let fetch = users["fetch-user"];
        assert_eq!(fetch.policy, Some(CachePolicy::TaskSource));
        assert_eq!(fetch.ttl, Some(Ttl::After(Duration::from_millis(250))));
        assert_eq!(fetch.cache_errors, Some(true));
        assert_eq!(
            fetch.ignore_params.as_deref(),
            Some(&["trace-id".to_owned()][..])
        );
        assert_eq!(users["api#calculate"].ttl, Some(Ttl::Never));
    }

    #[test]
    fn unknown_keys_are_named() {
        let error = ConfigFile::parse("[components.users.exports.f]\nttl-ms = 5\n").unwrap_err();
        assert!(error.contains("ttl-ms"), "{error}");
        let error = ConfigFile::parse("[cache]\ndefault = \"inputs\"\n").unwrap_err();
        assert!(error.contains("default"), "{error}");
        let error =
            ConfigFile::parse("[components.users.exports.f]\nttl = \"soon\"\n").unwrap_err();
        assert!(error.contains("invalid TTL `soon`"), "{error}");
    }

    #[test]
    fn load_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("host.toml");
        std::fs::write(&path, "[cache]\nbogus = 1\n").unwrap();
        let error = ConfigFile::load(&path).unwrap_err().to_string();
        assert!(
            error.contains("host.toml") && error.contains("bogus"),
            "{error}"
        );
    }
}
