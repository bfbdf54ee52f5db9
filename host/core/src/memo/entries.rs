//! Keys and entries outside a call: the key of a call, removing one entry,
//! invalidating an export or a component, and checking that a component's
//! rules name stores this memoizer has.

use bytes::Bytes;
use wasmtime::component::Val;

use super::{CallError, Memoizer};
use crate::codec;
use crate::component::{ActivityComponent, ExportHandle, LoadError};
use crate::error::HostError;
use crate::host::CacheKeyText;
use crate::key::{CacheKey, KeyScope, code_record_key};
use crate::payload::Args;
use crate::policy::CachePolicy;
use crate::store::{Found, Slot, StoreError};

impl Memoizer {
    /// The key of a call of `handle`'s export with `args`, or `None` if its
    /// rule does not cache it. Every argument is checked against its type,
    /// even those the rule leaves out of the key.
    pub(crate) fn key(
        &self,
        handle: &ExportHandle,
        args: &Args<'_>,
    ) -> Result<Option<CacheKey>, CallError> {
        let Some(prefix) = &handle.export().key_prefix else {
            return Ok(None);
        };
        key_by(|parts| prefix.key(parts), handle, args).map(Some)
    }

    /// For a `task-source` export: the key of the record of which version
    /// of the component's code last stored a result for `args`
    /// ([`code_record_key`]).
    pub(crate) fn code_record_key(
        &self,
        handle: &ExportHandle,
        args: &Args<'_>,
    ) -> Option<CacheKey> {
        if handle.export().rule.policy != CachePolicy::TaskSource {
            return None;
        }
        let scope = key_scope(handle)?;
        key_by(|parts| code_record_key(&scope, parts), handle, args).ok()
    }

    /// For a `task-source` export: the record of which version of the
    /// component's code last stored a result for `args` (one lookup).
    pub(crate) async fn read_code_record(
        &self,
        handle: &ExportHandle,
        args: &Args<'_>,
    ) -> Option<CodeRecordRead> {
        let key = self.code_record_key(handle, args)?;
        let (component, export) = (handle.component(), handle.export());
        let slot = Slot::result(&key, &component.name, &export.path).code_record();
        let store = self.stores.for_rule(&export.rule);
        let recorded = store.get(slot).await.ok().and_then(Found::entry);
        Some(CodeRecordRead {
            key,
            recorded,
            current: component.code_hash,
        })
    }

    /// Removes the entry of a call of `handle`'s export with `args`; returns
    /// its short key.
    pub(crate) async fn invalidate_entry(
        &self,
        handle: &ExportHandle,
        args: &[Val],
    ) -> Result<CacheKeyText, HostError> {
        let export = handle.export();
        let key = self
            .key(handle, &Args::Values(args))?
            .ok_or_else(|| HostError::NotCached(export.path.clone()))?;
        self.stores.for_rule(&export.rule).remove(&key).await?;
        Ok(key.short())
    }

    /// Makes every entry of `handle`'s export unreachable.
    pub(crate) async fn invalidate_export(&self, handle: &ExportHandle) -> Result<(), StoreError> {
        let (component, export) = (handle.component(), handle.export());
        let store = self.stores.for_rule(&export.rule);
        store.invalidate_export(&component.name, &export.path).await
    }

    /// Makes every entry of `component` unreachable, in every store.
    pub(crate) async fn invalidate_component(&self, component: &str) -> Result<(), StoreError> {
        for store in self.stores.all() {
            store.invalidate_component(component).await?;
        }
        Ok(())
    }

    /// An error if a rule of `component` keeps results in a store this
    /// memoizer does not have.
    pub(crate) fn check_stores(&self, component: &ActivityComponent) -> Result<(), LoadError> {
        for export in &component.exports {
            if let Some(store) = export.rule.store.as_deref()
                && !self.stores.contains(store)
            {
                return Err(LoadError::UnknownStore {
                    export: export.path.clone(),
                    store: store.to_owned(),
                });
            }
        }
        Ok(())
    }
}

/// A code record as read: which version of the code it names, if any.
pub(crate) struct CodeRecordRead {
    /// The record's key.
    pub key: CacheKey,
    /// The code hash recorded, if any.
    pub recorded: Option<Bytes>,
    /// The current code's hash.
    pub current: [u8; 32],
}

impl CodeRecordRead {
    /// Whether it records this version of the code.
    pub fn is_current(&self) -> bool {
        self.recorded.as_deref() == Some(&self.current[..])
    }

    /// Whether it records another version of the code.
    pub fn changed(&self) -> bool {
        self.recorded.is_some() && !self.is_current()
    }
}

/// What the key of a call of `handle`'s export is made of besides its
/// arguments, or `None` if its rule does not cache it.
pub(super) fn key_scope(handle: &ExportHandle) -> Option<KeyScope<'_>> {
    let component = handle.component();
    handle
        .export()
        .key_scope(&component.name, &component.code_hash)
}

/// The key `recipe` makes of the encoding of `args` to `handle`'s export, in
/// parts. A byte payload is hashed where it lies, after its length: the
/// encoding of the value it is.
fn key_by(
    recipe: impl FnOnce(&[&[u8]]) -> CacheKey,
    handle: &ExportHandle,
    args: &Args<'_>,
) -> Result<CacheKey, CallError> {
    match args {
        Args::Values(values) => {
            let encoded_args = encoded_key_args(handle, values)?;
            Ok(recipe(&[&encoded_args]))
        }
        Args::Bytes(_) if !handle.export().key_params[0] => Ok(recipe(&[])),
        Args::Bytes(arg) => {
            let bytes = arg.bytes();
            let len = codec::length_prefix(bytes.len()).map_err(|source| CallError::Arguments {
                export: handle.export().path.clone(),
                source,
            })?;
            Ok(recipe(&[&len, bytes]))
        }
    }
}

/// The canonical encoding of the arguments the key covers. Every argument is
/// checked against its type, even those the rule leaves out of the key.
pub(super) fn encoded_key_args(handle: &ExportHandle, args: &[Val]) -> Result<Vec<u8>, CallError> {
    let export = handle.export();
    // Nothing to allocate for a function without arguments.
    let mut encoded_args = Vec::with_capacity(if args.is_empty() { 0 } else { 64 });
    codec::encode_key_args(
        args,
        &export.param_types,
        &export.key_params,
        &mut encoded_args,
    )
    .map_err(|source| CallError::Arguments {
        export: export.path.clone(),
        source,
    })?;
    Ok(encoded_args)
}
