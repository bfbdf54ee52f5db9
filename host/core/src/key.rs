//! Cache keys: which calls share a cached result.
//!
//! A key is the sha256 of a versioned, length-prefixed recipe:
//!
//! ```text
//! "activity-host/key/v1" | component name | export path | signature hash
//!   | 0 (inputs) or 1 and the component's code hash (task-source)
//!   | canonical argument values (encoded by crate::codec, last, so unprefixed)
//! ```
//!
//! So two exports never share entries (even with equal names in two
//! components), a changed signature never reads an old entry, and a rebuilt
//! component reuses its `inputs` entries but not its `task-source` ones.

use std::fmt;

use sha2::{Digest, Sha256};

/// Version tag of the key recipe; bump it whenever the recipe changes.
const RECIPE: &[u8] = b"activity-host/key/v1";

/// Tag of the code-record recipe (see [`code_record_key`]): never equal to a
/// key's.
const CODE_RECORD_RECIPE: &[u8] = b"activity-host/code-record/v1";

/// The identity of one cached call: a sha256 digest (ordered as bytes).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct CacheKey([u8; 32]);

impl std::hash::Hash for CacheKey {
    /// A digest is already uniformly distributed: hash tables get its first
    /// eight bytes instead of hashing all 32 again.
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        let (prefix, _) = self.0.split_first_chunk::<8>().expect("32 bytes");
        state.write_u64(u64::from_le_bytes(*prefix));
    }
}

impl CacheKey {
    /// A key from a digest computed elsewhere (tests, stores).
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The key whose full digest is `text` in hex (as [`fmt::Display`] writes it).
    pub fn from_hex(text: &str) -> Option<Self> {
        let mut bytes = [0; 32];
        hex::decode_to_slice(text, &mut bytes).ok()?;
        Some(Self(bytes))
    }

    /// The digest.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The first 12 hex digits, as shown in logs and HTTP headers.
    pub fn short(&self) -> String {
        self.short_hex().as_str().to_owned()
    }

    /// The first 12 hex digits, without allocating (every call's log line
    /// and span carry them).
    pub(crate) fn short_hex(&self) -> ShortKey {
        let mut digits = [0; 12];
        hex::encode_to_slice(&self.0[..6], &mut digits).expect("12 digits for 6 bytes");
        ShortKey(digits)
    }
}

/// The first 12 hex digits of a key.
pub(crate) struct ShortKey([u8; 12]);

impl ShortKey {
    /// The digits.
    pub(crate) fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).expect("hex digits are ASCII")
    }
}

impl fmt::Display for ShortKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for CacheKey {
    /// The full digest in hex.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for CacheKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CacheKey({})", self.short_hex().as_str())
    }
}

/// What a key is computed from, besides the argument values.
#[derive(Clone, Copy, Debug)]
pub struct KeyScope<'a> {
    /// The component's name on this host.
    pub component: &'a str,
    /// The export path (`fetch-user` or `iface#fetch-user`).
    pub export: &'a str,
    /// sha256 of the export's WIT signature.
    pub signature_hash: &'a [u8; 32],
    /// The component's code hash for `task-source`; `None` for `inputs`.
    pub code_hash: Option<&'a [u8; 32]>,
}

/// The part of every key of one export that does not depend on its
/// arguments (the recipe and the [`KeyScope`]), hashed once: a call hashes
/// only its arguments on top of it.
#[derive(Clone)]
pub struct KeyPrefix(Sha256);

impl KeyPrefix {
    /// The prefix of the keys of calls of `scope`.
    pub fn new(scope: &KeyScope<'_>) -> Self {
        let mut hasher = Sha256::new();
        hash_scope(&mut hasher, RECIPE, scope);
        Self(hasher)
    }

    /// The key of a call whose arguments encode to the concatenation of
    /// `encoded_parts` (a byte payload's length and its bytes are hashed
    /// where they lie).
    pub fn key(&self, encoded_parts: &[&[u8]]) -> CacheKey {
        let mut hasher = self.0.clone();
        for part in encoded_parts {
            hasher.update(part);
        }
        CacheKey(hasher.finalize().into())
    }
}

impl fmt::Debug for KeyPrefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("KeyPrefix")
    }
}

/// Computes the key of a call of `scope` whose arguments encode to
/// `encoded_args` (see [`crate::codec::encode_key_args`]): what
/// [`KeyPrefix::key`] computes, in one pass.
pub fn cache_key(scope: &KeyScope<'_>, encoded_args: &[u8]) -> CacheKey {
    let mut hasher = Sha256::new();
    hash_scope(&mut hasher, RECIPE, scope);
    hasher.update(encoded_args);
    CacheKey(hasher.finalize().into())
}

/// The key of a `task-source` call's code record: which version of the
/// component's code last stored a result for the arguments whose encoding
/// is the concatenation of `encoded_parts`. The same for every version
/// (`scope`'s code hash is left out), so a miss can tell that the code
/// changed.
pub fn code_record_key(scope: &KeyScope<'_>, encoded_parts: &[&[u8]]) -> CacheKey {
    let without_code = KeyScope {
        code_hash: None,
        ..*scope
    };
    let mut hasher = Sha256::new();
    hash_scope(&mut hasher, CODE_RECORD_RECIPE, &without_code);
    for part in encoded_parts {
        hasher.update(part);
    }
    CacheKey(hasher.finalize().into())
}

/// Feeds `hasher` the part of a key before the arguments: `recipe` and
/// `scope`, each variable part length-prefixed.
#[inline]
fn hash_scope(hasher: &mut Sha256, recipe: &[u8], scope: &KeyScope<'_>) {
    for part in [recipe, scope.component.as_bytes(), scope.export.as_bytes()] {
        hasher.update((part.len() as u32).to_le_bytes());
        hasher.update(part);
    }
    hasher.update(scope.signature_hash);
    match scope.code_hash {
        None => hasher.update([0]),
        Some(code_hash) => {
            hasher.update([1]);
            hasher.update(code_hash);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SIG_A: [u8; 32] = [1; 32];
    const SIG_B: [u8; 32] = [2; 32];
    const CODE_V1: [u8; 32] = [3; 32];
    const CODE_V2: [u8; 32] = [4; 32];

    fn scope(export: &'static str) -> KeyScope<'static> {
        KeyScope {
            component: "users",
            export,
            signature_hash: &SIG_A,
            code_hash: None,
        }
    }

    fn key(scope: KeyScope<'_>, encoded_args: &[u8]) -> CacheKey {
        cache_key(&scope, encoded_args)
    }

    #[test]
    fn is_stable_across_runs() {
        // A fixed digest: changing it invalidates every stored entry, so it
        // must only change together with RECIPE.
        let k = key(scope("fetch-user"), &123u64.to_le_bytes());
        assert_eq!(
            k.to_string(),
            "e34546175bb53bb5c1031e1624bafed2c5acc0463426caf972cc368484e77f3c"
        );
        assert_eq!(k.short(), "e34546175bb5");
    }

    #[test]
    fn differs_by_export_component_and_arguments() {
        let base = key(scope("fetch-user"), &123u64.to_le_bytes());
        assert_ne!(base, key(scope("fetch-admin"), &123u64.to_le_bytes()));
        assert_ne!(base, key(scope("fetch-user"), &124u64.to_le_bytes()));
        let other_component = KeyScope {
            component: "admins",
            ..scope("fetch-user")
        };
        assert_ne!(base, key(other_component, &123u64.to_le_bytes()));
    }

    #[test]
    fn length_prefixes_keep_fields_apart() {
        let a = KeyScope {
            component: "ab",
            ..scope("c")
        };
        let b = KeyScope {
            component: "a",
            ..scope("bc")
        };
        assert_ne!(key(a, &[]), key(b, &[]));
    }

    #[test]
    fn differs_by_signature() {
        let changed = KeyScope {
            signature_hash: &SIG_B,
            ..scope("fetch-user")
        };
        assert_ne!(
            key(scope("fetch-user"), &1u64.to_le_bytes()),
            key(changed, &1u64.to_le_bytes())
        );
    }

    #[test]
    fn task_source_follows_the_code_and_inputs_does_not() {
        let v1 = KeyScope {
            code_hash: Some(&CODE_V1),
            ..scope("calculate")
        };
        let v2 = KeyScope {
            code_hash: Some(&CODE_V2),
            ..scope("calculate")
        };
        let args = 21i64.to_le_bytes();
        assert_ne!(key(v1, &args), key(v2, &args));
        // `inputs` scopes carry no code hash, so they never meet task-source keys.
        assert_ne!(key(v1, &args), key(scope("calculate"), &args));
    }

    #[test]
    fn code_records_are_shared_by_code_versions_and_never_keys() {
        let v1 = KeyScope {
            code_hash: Some(&CODE_V1),
            ..scope("calculate")
        };
        let v2 = KeyScope {
            code_hash: Some(&CODE_V2),
            ..scope("calculate")
        };
        let args = 21i64.to_le_bytes();
        let record = |scope| code_record_key(scope, &[&args]);
        assert_eq!(record(&v1), record(&v2));
        assert_ne!(record(&v1), key(scope("calculate"), &args));
        assert_ne!(record(&v1), code_record_key(&v1, &[]));
    }

    #[test]
    fn a_key_of_parts_is_the_key_of_their_concatenation() {
        let scope = scope("reverse");
        let whole = key(scope, b"\x03\0\0\0abc");
        let prefix = KeyPrefix::new(&scope);
        assert_eq!(prefix.key(&[b"\x03\0\0\0", b"abc"]), whole);
        assert_eq!(prefix.key(&[b"\x03\0\0\0abc"]), whole);
    }
}
