//! Purity check: what a component can reach that would make a cached result
//! depend on more than the call's arguments.
//!
//! Decided at load time from the component's imports and its grants: a
//! clock, randomness, the network (`wasi:http` or `wasi:sockets`, granted or
//! not: grants can change without the code changing), a granted writable
//! directory, granted environment variables.
//! The verdict is per component: the host cannot tell which export calls
//! which import, so it is a warning about what cached exports *can* reach.

use std::fmt;

use crate::capabilities::Capabilities;

/// A source of results that the arguments do not determine.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Nondeterminism {
    /// `wasi:clocks`: the time.
    Clocks,
    /// `wasi:random`: random numbers.
    Random,
    /// `wasi:http` or `wasi:sockets`: other machines' answers.
    Network,
    /// `wasi:filesystem` with a writable directory granted.
    WritableFiles,
    /// `wasi:cli/environment` with variables granted.
    Environment,
}

impl Nondeterminism {
    /// Its name in logs, `inspect` and the worker's component listing.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Clocks => "clocks",
            Self::Random => "random",
            Self::Network => "network",
            Self::WritableFiles => "writable files",
            Self::Environment => "environment",
        }
    }
}

impl fmt::Display for Nondeterminism {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a component imports and what nondeterminism that gives it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Purity {
    /// The component's imports (`wasi:clocks/wall-clock@0.2.6`, …), sorted.
    pub imports: Vec<String>,
    /// The sources of nondeterminism it can reach, sorted.
    pub reaches: Vec<Nondeterminism>,
}

impl Purity {
    /// The verdict for a component with `imports` and `capabilities`.
    pub fn assess(mut imports: Vec<String>, capabilities: &Capabilities) -> Self {
        imports.sort();
        let imports_any = |prefix: &str| imports.iter().any(|name| name.starts_with(prefix));
        let mut reaches = Vec::new();
        if imports_any("wasi:clocks/") {
            reaches.push(Nondeterminism::Clocks);
        }
        if imports_any("wasi:random/") {
            reaches.push(Nondeterminism::Random);
        }
        if imports_any("wasi:http/") || imports_any("wasi:sockets/") {
            reaches.push(Nondeterminism::Network);
        }
        if imports_any("wasi:filesystem/") && capabilities.dirs.iter().any(|dir| dir.writable) {
            reaches.push(Nondeterminism::WritableFiles);
        }
        if imports_any("wasi:cli/environment") && !capabilities.env.is_empty() {
            reaches.push(Nondeterminism::Environment);
        }
        Self { imports, reaches }
    }

    /// Whether nothing nondeterministic is reachable.
    pub fn is_pure(&self) -> bool {
        self.reaches.is_empty()
    }

    /// The reachable sources as text: `clocks, random`.
    pub fn reaches_text(&self) -> String {
        let names: Vec<&str> = self.reaches.iter().map(|n| n.as_str()).collect();
        names.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capabilities::DirGrant;

    fn imports(names: &[&str]) -> Vec<String> {
        names.iter().map(|n| n.to_string()).collect()
    }

    #[test]
    fn clocks_and_random_come_from_imports_files_and_env_from_grants() {
        let none = Capabilities::default();
        let pure = Purity::assess(imports(&["wasi:io/streams@0.2.6"]), &none);
        assert!(pure.is_pure());
        let all = imports(&[
            "wasi:random/random@0.2.6",
            "wasi:clocks/wall-clock@0.2.6",
            "wasi:filesystem/types@0.2.6",
            "wasi:cli/environment@0.2.6",
            "wasi:http/outgoing-handler@0.2.6",
        ]);
        let ungranted = Purity::assess(all.clone(), &none);
        assert_eq!(ungranted.reaches_text(), "clocks, random, network");
        assert_eq!(ungranted.imports[0], "wasi:cli/environment@0.2.6", "sorted");
        let granted = Capabilities {
            dirs: vec![DirGrant {
                host: "out".into(),
                guest: "/out".into(),
                writable: true,
            }],
            env: vec!["MODEL".into()],
            ..Capabilities::default()
        };
        assert_eq!(
            Purity::assess(all, &granted).reaches_text(),
            "clocks, random, network, writable files, environment"
        );
    }
}
