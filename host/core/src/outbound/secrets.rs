//! Secrets a guest uses without seeing them: the guest gets a random
//! placeholder in an environment variable, and the host puts the real value
//! in place of the placeholder only in requests to the secret's hosts.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use super::grant::{OutboundGrant, Scheme};

/// A secret granted to a component (as configuration: where its value is
/// and where it may go; never the value itself).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SecretGrant {
    /// The host environment variable holding the real value, read when an
    /// instance starts.
    pub env: String,
    /// The HTTP hosts whose requests may carry it (each must also be in
    /// `allowed-outbound-hosts` to be reached at all).
    pub hosts: Vec<OutboundGrant>,
}

/// One instance's secrets: placeholder, real value and hosts of each.
#[derive(Default)]
pub(crate) struct Secrets {
    secrets: Vec<Secret>,
}

struct Secret {
    name: String,
    placeholder: String,
    value: String,
    hosts: Vec<OutboundGrant>,
}

/// A placeholder where its secret may not go.
#[derive(Debug)]
pub(crate) struct MisplacedSecret {
    /// The secret's name (never its value).
    pub name: String,
}

impl Secrets {
    /// Fresh placeholders for `granted` (a secret whose variable is not set
    /// is left out, like an unset granted variable).
    pub fn new(granted: &BTreeMap<String, SecretGrant>) -> Self {
        let secrets = granted
            .iter()
            .filter_map(|(name, grant)| {
                let value = std::env::var(&grant.env).ok()?;
                Some(Secret {
                    name: name.clone(),
                    placeholder: placeholder(name),
                    value,
                    hosts: grant.hosts.clone(),
                })
            })
            .collect();
        Self { secrets }
    }

    /// The variables the guest sees: each secret's name and placeholder.
    pub fn guest_env(&self) -> impl Iterator<Item = (&str, &str)> {
        self.secrets
            .iter()
            .map(|secret| (secret.name.as_str(), secret.placeholder.as_str()))
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.secrets.is_empty()
    }

    /// `text` with the placeholder of every secret that may go to
    /// `scheme://host:port` replaced by its value, or the first secret that
    /// may not go there. `None`: no placeholder in `text`.
    pub fn reveal(
        &self,
        text: &str,
        scheme: Scheme,
        host: &str,
        port: u16,
    ) -> Result<Option<String>, MisplacedSecret> {
        let mut revealed: Option<String> = None;
        for secret in &self.secrets {
            let current = revealed.as_deref().unwrap_or(text);
            if !current.contains(&secret.placeholder) {
                continue;
            }
            if !secret
                .hosts
                .iter()
                .any(|grant| grant.allows(scheme, host, port, None))
            {
                return Err(MisplacedSecret {
                    name: secret.name.clone(),
                });
            }
            revealed = Some(current.replace(&secret.placeholder, &secret.value));
        }
        Ok(revealed)
    }
}

impl fmt::Debug for Secrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.secrets.iter().map(|s| s.name.as_str()).collect();
        f.debug_struct("Secrets").field("names", &names).finish()
    }
}

/// A placeholder no guest can guess or produce by chance: the secret's name
/// and 128 random bits.
fn placeholder(name: &str) -> String {
    let mut random = [0u8; 16];
    getrandom::fill(&mut random).expect("the operating system's random source works");
    format!("activity-host-secret-{name}-{}", hex::encode(random))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secrets(value: &str) -> Secrets {
        Secrets {
            secrets: vec![Secret {
                name: "API_TOKEN".into(),
                placeholder: placeholder("API_TOKEN"),
                value: value.into(),
                hosts: vec!["http://127.0.0.1:8089".parse().unwrap()],
            }],
        }
    }

    #[test]
    fn placeholders_become_values_only_for_their_hosts() {
        let secrets = secrets("s3cret");
        let (_, placeholder) = secrets.guest_env().next().unwrap();
        assert!(!placeholder.contains("s3cret"));
        let header = format!("Bearer {placeholder}");
        let revealed = secrets.reveal(&header, Scheme::Http, "127.0.0.1", 8089);
        assert_eq!(revealed.unwrap().as_deref(), Some("Bearer s3cret"));
        let elsewhere = secrets.reveal(&header, Scheme::Http, "127.0.0.1", 8090);
        assert_eq!(elsewhere.unwrap_err().name, "API_TOKEN");
        let plain = secrets.reveal("no secret here", Scheme::Http, "example.com", 80);
        assert_eq!(plain.unwrap(), None);
        assert!(!format!("{secrets:?}").contains("s3cret"));
    }

    #[test]
    fn every_instance_gets_its_own_placeholder() {
        assert_ne!(placeholder("A"), placeholder("A"));
    }
}
