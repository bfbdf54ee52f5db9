//! The interception of one exported call: resolve the rule, compute the key,
//! look the result up, run on a miss, store what ran. The only place that
//! does get → run → set, and the only place that logs call outcomes.

use std::fmt;
use std::sync::Arc;
use std::time::Instant;

use wasmtime::component::Val;

use crate::codec::{self, EncodeError};
use crate::component::{ActivityComponent, ActivityExport};
use crate::key::{CacheKey, KeyScope, cache_key};
use crate::policy::CachePolicy;
use crate::runner::Runner;
use crate::store::CacheStore;

/// How a call was served.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Served from the cache; the function did not run.
    Hit,
    /// Not in the cache: the function ran and its result was stored.
    Miss,
    /// The rule says `no-cache`: the function ran, nothing was looked up or stored.
    Bypass,
    /// The store failed: the function ran uncached.
    Degraded,
}

impl Outcome {
    /// The outcome as written in logs and headers.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Hit => "hit",
            Self::Miss => "miss",
            Self::Bypass => "bypass",
            Self::Degraded => "degraded",
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The result of a call, and how it was served.
#[derive(Debug)]
pub struct CallReport {
    /// The function's results (zero or one value).
    pub results: Vec<Val>,
    /// Hit, miss, bypass or degraded.
    pub outcome: Outcome,
    /// The cache key, unless the call bypassed the cache.
    pub key: Option<CacheKey>,
}

/// Why a call failed. Nothing is cached for a failed call.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// The arguments do not match the function's parameters.
    #[error("invalid arguments for `{export}`: {source}")]
    Arguments {
        /// The export.
        export: String,
        /// What does not match.
        source: EncodeError,
    },
    /// The guest trapped or failed to instantiate.
    #[error("`{export}` failed: {message}")]
    Guest {
        /// The export.
        export: String,
        /// The error chain, as text.
        message: String,
    },
}

/// Calls `export` of `component` with `args`, memoized by the export's rule.
pub async fn call(
    runner: &Runner,
    store: &Arc<dyn CacheStore>,
    component: &ActivityComponent,
    export: &ActivityExport,
    args: &[Val],
) -> Result<CallReport, CallError> {
    let started = Instant::now();
    let rule = export.rule;
    let code_hash = match rule.policy {
        CachePolicy::NoCache => {
            let results = run(runner, component, export, args).await?;
            log(component, export, Outcome::Bypass, None, started);
            return Ok(CallReport {
                results,
                outcome: Outcome::Bypass,
                key: None,
            });
        }
        CachePolicy::Inputs => None,
        CachePolicy::TaskSource => Some(&component.code_hash),
    };

    let mut encoded_args = Vec::with_capacity(64);
    codec::encode_key_values(args, &export.param_types, &mut encoded_args).map_err(|source| {
        CallError::Arguments {
            export: export.path.clone(),
            source,
        }
    })?;
    let scope = KeyScope {
        component: &component.name,
        export: &export.path,
        signature_hash: &export.signature_hash,
        code_hash,
    };
    let key = cache_key(&scope, &encoded_args);

    let mut outcome = Outcome::Miss;
    match store.get(&key).await {
        Ok(Some(bytes)) => {
            match codec::decode_entry(&bytes, &export.signature_hash, &export.result_types) {
                Ok(results) => {
                    log(component, export, Outcome::Hit, Some(&key), started);
                    return Ok(CallReport {
                        results,
                        outcome: Outcome::Hit,
                        key: Some(key),
                    });
                }
                Err(error) => tracing::warn!(
                    component = &*component.name,
                    export = %export.path,
                    key = %key.short(),
                    %error,
                    "unusable cache entry; treating it as a miss and overwriting it"
                ),
            }
        }
        Ok(None) => {}
        Err(error) => {
            tracing::warn!(%error, "cache lookup failed; running uncached");
            outcome = Outcome::Degraded;
        }
    }

    let results = run(runner, component, export, args).await?;
    if outcome == Outcome::Miss {
        outcome = store_results(store, export, &key, &results, rule.ttl).await;
    }
    log(component, export, outcome, Some(&key), started);
    Ok(CallReport {
        results,
        outcome,
        key: Some(key),
    })
}

async fn run(
    runner: &Runner,
    component: &ActivityComponent,
    export: &ActivityExport,
    args: &[Val],
) -> Result<Vec<Val>, CallError> {
    runner
        .call(
            &component.pre,
            &component.name,
            &export.index,
            args,
            export.result_types.len(),
        )
        .await
        .map_err(|error| CallError::Guest {
            export: export.path.clone(),
            message: format!("{error:#}"),
        })
}

/// Stores `results`; returns `Miss`, or `Degraded` if the store failed.
async fn store_results(
    store: &Arc<dyn CacheStore>,
    export: &ActivityExport,
    key: &CacheKey,
    results: &[Val],
    ttl: Option<std::time::Duration>,
) -> Outcome {
    let entry = match codec::encode_entry(&export.signature_hash, results, &export.result_types) {
        Ok(entry) => entry,
        Err(error) => {
            tracing::warn!(export = %export.path, %error, "result not cached");
            return Outcome::Miss;
        }
    };
    match store.set(key, entry.into(), ttl).await {
        Ok(()) => Outcome::Miss,
        Err(error) => {
            tracing::warn!(%error, "cache write failed");
            Outcome::Degraded
        }
    }
}

fn log(
    component: &ActivityComponent,
    export: &ActivityExport,
    outcome: Outcome,
    key: Option<&CacheKey>,
    started: Instant,
) {
    tracing::info!(
        target: "activity_host::call",
        outcome = outcome.as_str(),
        component = &*component.name,
        export = %export.path,
        key = key.map(CacheKey::short),
        policy = export.rule.policy.as_str(),
        elapsed_us = started.elapsed().as_micros() as u64,
        "call"
    );
}
