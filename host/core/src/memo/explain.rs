//! What a call would do, without running it (`call --explain`,
//! `?explain=true`): the parts of its key, its rule, and what a lookup finds
//! and why.

use serde::Serialize;
use sha2::{Digest, Sha256};
use wasmtime::component::Val;

use super::entries::{encoded_key_args, key_scope};
use super::{Cached, CallError, Memoizer};
use crate::component::ExportHandle;
use crate::key::cache_key;
use crate::payload::Args;
use crate::store::{Found, MissReason, Slot};

/// What a call would do: the parts of its key, its rule, and what the store
/// holds for it. Nothing runs and nothing is stored.
#[derive(Clone, Debug, Serialize)]
#[non_exhaustive]
pub struct Explanation {
    /// The component's name.
    pub component: String,
    /// The export's path.
    pub export: String,
    /// Its WIT signature.
    pub signature: String,
    /// sha256 of the signature (part of the key).
    pub signature_hash: String,
    /// The rule, as `inputs, ttl 1h, ignores trace-id`.
    pub rule: String,
    /// sha256 of the component's code: part of the key for `task-source`.
    pub code_hash: Option<String>,
    /// sha256 of the canonical encoding of the keyed arguments.
    pub arguments_digest: Option<String>,
    /// The cache key (none for `no-cache`).
    pub key: Option<String>,
    /// The store the rule keeps results in.
    pub store: &'static str,
    /// What the call would be: `hit`, `miss`, `bypass` or `degraded`.
    pub outcome: &'static str,
    /// On a miss: why.
    pub reason: Option<&'static str>,
    /// On a hit: how long ago the entry was stored, in ms.
    pub age_ms: Option<u64>,
    /// On `degraded`: the store's error.
    pub store_error: Option<String>,
}

impl Memoizer {
    /// What a call of `handle`'s export with `args` would do.
    pub async fn explain(
        &self,
        handle: &ExportHandle,
        args: &[Val],
    ) -> Result<Explanation, CallError> {
        let (component, export) = (handle.component(), handle.export());
        let store = self.stores.for_rule(&export.rule);
        let mut explanation = Explanation {
            component: component.name.to_string(),
            export: export.path.clone(),
            signature: export.signature.clone(),
            signature_hash: hex::encode(export.signature_hash),
            rule: export.rule.to_string(),
            code_hash: None,
            arguments_digest: None,
            key: None,
            store: store.name(),
            outcome: "bypass",
            reason: None,
            age_ms: None,
            store_error: None,
        };
        let encoded_args = encoded_key_args(handle, args)?;
        let Some(scope) = key_scope(handle) else {
            return Ok(explanation);
        };
        let key = cache_key(&scope, &encoded_args);
        explanation.code_hash = scope.code_hash.map(hex::encode);
        explanation.arguments_digest = Some(hex::encode(Sha256::digest(&encoded_args)));
        explanation.key = Some(key.to_string());
        let slot = Slot::result(&key, &component.name, &export.path);
        let (outcome, reason) = match store.get(slot).await {
            Err(error) => {
                explanation.store_error = Some(error.to_string());
                ("degraded", None)
            }
            Ok(Found::Entry(bytes)) => match Cached::read(export, bytes) {
                Ok(entry) => {
                    let age_ms = self.clock.now_ms().saturating_sub(entry.written_at_ms);
                    explanation.age_ms = Some(age_ms);
                    ("hit", None)
                }
                Err(_) => ("miss", Some(MissReason::Unreadable)),
            },
            Ok(Found::Missing(MissReason::New))
                if self
                    .read_code_record(handle, &Args::Values(args))
                    .await
                    .is_some_and(|record| record.changed()) =>
            {
                ("miss", Some(MissReason::CodeChanged))
            }
            Ok(Found::Missing(reason)) => ("miss", Some(reason)),
        };
        explanation.outcome = outcome;
        explanation.reason = reason.map(MissReason::as_str);
        Ok(explanation)
    }
}
