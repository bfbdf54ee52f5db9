//! One entry of `allowed-outbound-hosts`: a scheme, a host and a port a
//! component's guests may reach, e.g. `https://api.example.com`,
//! `https://*.example.com:8443`, `tcp://127.0.0.1:5432`, optionally limited
//! to some HTTP methods.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// How a guest reaches a granted host.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scheme {
    /// `http://`: wasi:http requests without TLS (default port 80).
    Http,
    /// `https://`: wasi:http requests over TLS (default port 443).
    Https,
    /// `tcp://`: wasi:sockets TCP connections (a port is required).
    Tcp,
}

impl Scheme {
    fn parse(text: &str) -> Option<Self> {
        match text {
            "http" => Some(Self::Http),
            "https" => Some(Self::Https),
            "tcp" => Some(Self::Tcp),
            _ => None,
        }
    }

    /// Its name in grants and URLs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Http => "http",
            Self::Https => "https",
            Self::Tcp => "tcp",
        }
    }

    /// The port a grant without one means.
    fn default_port(self) -> Option<u16> {
        match self {
            Self::Http => Some(80),
            Self::Https => Some(443),
            Self::Tcp => None,
        }
    }
}

/// The hosts a grant names.
#[derive(Clone, Debug, PartialEq, Eq)]
enum HostPattern {
    /// One name, lower case: `api.example.com`.
    Name(String),
    /// Every name under a domain (not the domain itself): `*.example.com`
    /// is kept as `.example.com`.
    Subdomains(String),
    /// One address: `127.0.0.1`, `[::1]`.
    Ip(IpAddr),
}

/// The ports a grant names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum PortPattern {
    One(u16),
    Any,
}

/// A host a component may reach: `scheme://host[:port]`, written as a
/// string in configuration (or as `{ host = "…", methods = ["GET"] }` to
/// limit an HTTP grant's methods).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(try_from = "GrantConfig", into = "GrantConfig")]
pub struct OutboundGrant {
    scheme: Scheme,
    host: HostPattern,
    port: PortPattern,
    /// Upper-case method names; empty: every method.
    methods: Vec<String>,
}

/// Why a grant could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid outbound host `{grant}`: {reason}")]
pub struct GrantError {
    grant: String,
    reason: &'static str,
}

impl OutboundGrant {
    /// The grant's scheme.
    pub fn scheme(&self) -> Scheme {
        self.scheme
    }

    /// Whether it allows `method` (upper case) to `host`:`port` over
    /// `scheme`. `host` is a name (any case, a trailing dot ignored) or an
    /// IP address, bracketed or not.
    pub fn allows(&self, scheme: Scheme, host: &str, port: u16, method: Option<&str>) -> bool {
        let method_allowed = match method {
            Some(method) => self.methods.is_empty() || self.methods.iter().any(|m| m == method),
            None => true,
        };
        scheme == self.scheme && self.allows_port(port) && self.names(host) && method_allowed
    }

    /// Whether it names `port`.
    pub fn allows_port(&self, port: u16) -> bool {
        match self.port {
            PortPattern::One(granted) => granted == port,
            PortPattern::Any => true,
        }
    }

    /// Whether it names `host` (any port, any scheme).
    pub fn names(&self, host: &str) -> bool {
        let host = host.trim_end_matches('.');
        let literal = host.trim_start_matches('[').trim_end_matches(']');
        match (&self.host, literal.parse::<IpAddr>()) {
            (HostPattern::Ip(granted), Ok(ip)) => granted.to_canonical() == ip.to_canonical(),
            (HostPattern::Ip(_), Err(_)) | (_, Ok(_)) => false,
            (HostPattern::Name(name), Err(_)) => name.eq_ignore_ascii_case(host),
            (HostPattern::Subdomains(suffix), Err(_)) => {
                host.len() > suffix.len()
                    && host
                        .get(host.len() - suffix.len()..)
                        .is_some_and(|tail| tail.eq_ignore_ascii_case(suffix))
            }
        }
    }

    /// The address it names, if it names one by address.
    pub fn ip(&self) -> Option<IpAddr> {
        match self.host {
            HostPattern::Ip(ip) => Some(ip),
            _ => None,
        }
    }
}

impl FromStr for OutboundGrant {
    type Err = GrantError;

    fn from_str(text: &str) -> Result<Self, GrantError> {
        let error = |reason| GrantError {
            grant: text.to_owned(),
            reason,
        };
        let (scheme, rest) = text.split_once("://").ok_or_else(|| {
            error("write it as scheme://host[:port], e.g. https://api.example.com")
        })?;
        let scheme =
            Scheme::parse(scheme).ok_or_else(|| error("the scheme must be http, https or tcp"))?;
        let authority = rest.strip_suffix('/').unwrap_or(rest);
        if authority.contains(['/', '?', '#', '@']) {
            return Err(error(
                "a grant names a host and a port, not a path, query or user",
            ));
        }
        let (host, port) = split_port(authority)
            .ok_or_else(|| error("the port must be a number from 1 to 65535 or *"))?;
        let port = match port {
            Some(port) => port,
            None => PortPattern::One(
                scheme
                    .default_port()
                    .ok_or_else(|| error("a tcp grant needs a port, e.g. tcp://127.0.0.1:5432"))?,
            ),
        };
        let host = parse_host(host).ok_or_else(|| {
            error("the host must be a name, *.domain (subdomains only) or an IP address")
        })?;
        Ok(Self {
            scheme,
            host,
            port,
            methods: Vec::new(),
        })
    }
}

/// Splits `host[:port]` (IPv6 bracketed); `None` if the port is invalid.
fn split_port(authority: &str) -> Option<(&str, Option<PortPattern>)> {
    let port_start = match authority.rfind(':') {
        Some(colon) if !authority[colon..].contains(']') => colon,
        _ => return Some((authority, None)),
    };
    let (host, port) = (&authority[..port_start], &authority[port_start + 1..]);
    let port = match port {
        "*" => PortPattern::Any,
        digits => match digits.parse::<u16>() {
            Ok(port) if port > 0 => PortPattern::One(port),
            _ => return None,
        },
    };
    Some((host, Some(port)))
}

fn parse_host(host: &str) -> Option<HostPattern> {
    if let Some(inner) = host.strip_prefix('[') {
        let ip = inner
            .strip_suffix(']')?
            .parse::<std::net::Ipv6Addr>()
            .ok()?;
        return Some(HostPattern::Ip(IpAddr::V6(ip)));
    }
    if let Ok(ip) = host.parse::<std::net::Ipv4Addr>() {
        return Some(HostPattern::Ip(IpAddr::V4(ip)));
    }
    let (subdomains, name) = match host.strip_prefix("*.") {
        Some(domain) => (true, domain),
        None => (false, host),
    };
    let valid_label = |label: &str| {
        !label.is_empty()
            && label.len() <= 63
            && label
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    };
    if name.is_empty() || name.len() > 253 || !name.split('.').all(valid_label) {
        return None;
    }
    let name = name.to_ascii_lowercase();
    Some(if subdomains {
        HostPattern::Subdomains(format!(".{name}"))
    } else {
        HostPattern::Name(name)
    })
}

impl fmt::Display for OutboundGrant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://", self.scheme.as_str())?;
        match &self.host {
            HostPattern::Name(name) => f.write_str(name)?,
            HostPattern::Subdomains(suffix) => write!(f, "*{suffix}")?,
            HostPattern::Ip(IpAddr::V4(ip)) => write!(f, "{ip}")?,
            HostPattern::Ip(IpAddr::V6(ip)) => write!(f, "[{ip}]")?,
        }
        match self.port {
            PortPattern::One(port) => write!(f, ":{port}"),
            PortPattern::Any => f.write_str(":*"),
        }
    }
}

/// A grant as written: a string, or a table with methods.
#[derive(Deserialize, Serialize)]
#[serde(untagged)]
enum GrantConfig {
    Host(String),
    WithMethods { host: String, methods: Vec<String> },
}

impl TryFrom<GrantConfig> for OutboundGrant {
    type Error = GrantError;

    fn try_from(config: GrantConfig) -> Result<Self, GrantError> {
        match config {
            GrantConfig::Host(host) => host.parse(),
            GrantConfig::WithMethods { host, methods } => {
                let mut grant: Self = host.parse()?;
                if grant.scheme == Scheme::Tcp {
                    return Err(GrantError {
                        grant: host,
                        reason: "methods limit HTTP grants only",
                    });
                }
                grant.methods = methods.iter().map(|m| m.to_ascii_uppercase()).collect();
                Ok(grant)
            }
        }
    }
}

impl From<OutboundGrant> for GrantConfig {
    fn from(grant: OutboundGrant) -> Self {
        let host = grant.to_string();
        if grant.methods.is_empty() {
            Self::Host(host)
        } else {
            Self::WithMethods {
                host,
                methods: grant.methods,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant(text: &str) -> OutboundGrant {
        text.parse().unwrap_or_else(|error| panic!("{error}"))
    }

    #[test]
    fn default_ports_follow_the_scheme_and_other_ports_stay_closed() {
        let api = grant("https://api.example.com");
        assert_eq!(api.to_string(), "https://api.example.com:443");
        assert!(api.allows(Scheme::Https, "api.example.com", 443, Some("GET")));
        assert!(api.allows(Scheme::Https, "API.Example.com.", 443, None));
        assert!(!api.allows(Scheme::Https, "api.example.com", 8443, None));
        assert!(!api.allows(Scheme::Http, "api.example.com", 443, None));
        assert!(!api.allows(Scheme::Https, "evil-api.example.com", 443, None));
        assert_eq!(
            grant("http://127.0.0.1/").to_string(),
            "http://127.0.0.1:80"
        );
        assert!(grant("http://h:*").allows(Scheme::Http, "h", 9, None));
    }

    #[test]
    fn a_leading_wildcard_matches_subdomains_only() {
        let wild = grant("https://*.example.com:443");
        assert!(wild.allows(Scheme::Https, "a.example.com", 443, None));
        assert!(wild.allows(Scheme::Https, "a.b.example.com", 443, None));
        assert!(!wild.allows(Scheme::Https, "example.com", 443, None));
        assert!(!wild.allows(Scheme::Https, "badexample.com", 443, None));
        assert!(!wild.allows(Scheme::Https, "127.0.0.1", 443, None));
    }

    #[test]
    fn addresses_match_addresses_only() {
        let local = grant("tcp://127.0.0.1:6379");
        assert!(local.allows(Scheme::Tcp, "127.0.0.1", 6379, None));
        assert!(!local.allows(Scheme::Tcp, "127.0.0.2", 6379, None));
        assert!(!local.allows(Scheme::Tcp, "localhost", 6379, None));
        let v6 = grant("http://[::1]:8080");
        assert!(v6.allows(Scheme::Http, "[::1]", 8080, None));
        assert_eq!(v6.to_string(), "http://[::1]:8080");
        assert_eq!(v6.ip(), Some("::1".parse().unwrap()));
    }

    #[test]
    fn malformed_grants_say_what_is_wrong() {
        for (text, reason) in [
            ("api.example.com", "scheme://host"),
            ("ftp://h", "http, https or tcp"),
            ("tcp://127.0.0.1", "needs a port"),
            ("https://h/path", "not a path"),
            ("https://u@h", "not a path"),
            ("https://h:0", "port"),
            ("https://h:99999", "port"),
            ("https://*", "host must be"),
            ("https://a.*.com", "host must be"),
            ("https://[::1", "host must be"),
        ] {
            let error = text.parse::<OutboundGrant>().unwrap_err().to_string();
            assert!(error.contains(reason), "{text}: {error}");
        }
    }

    #[test]
    fn methods_limit_http_grants() {
        let config = GrantConfig::WithMethods {
            host: "https://api.example.com".into(),
            methods: vec!["get".into()],
        };
        let get_only = OutboundGrant::try_from(config).unwrap();
        assert!(get_only.allows(Scheme::Https, "api.example.com", 443, Some("GET")));
        assert!(!get_only.allows(Scheme::Https, "api.example.com", 443, Some("POST")));
        let tcp = GrantConfig::WithMethods {
            host: "tcp://h:1".into(),
            methods: vec!["GET".into()],
        };
        assert!(OutboundGrant::try_from(tcp).is_err());
    }
}
