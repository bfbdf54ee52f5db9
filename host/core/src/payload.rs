//! Byte payloads. A call of a *byte export* (one parameter and one result,
//! each a `list<u8>` or a `string`) moves its payloads as bytes: the
//! argument is lowered by a typed call, hashed for the key without being
//! encoded again, and the result is lifted as bytes and laid out as its
//! cache entry, which a hit then hands out without a copy.
//! Other calls carry one wasmtime [`Val`] per byte. Both forms have the same
//! canonical encoding ([`crate::codec`]), so they share keys and entries.

use std::borrow::Cow;
use std::sync::Arc;

use bytes::Bytes;
use wasmtime::component::{Type, Val};

use crate::codec::{self, BYTES_RESULT_OFFSET, Shape};

/// Which byte value a parameter or result is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ByteKind {
    /// `list<u8>`.
    List,
    /// `string` (UTF-8).
    String,
}

impl ByteKind {
    /// The kind of `ty`, if it is a `list<u8>` or a `string`.
    pub fn of(ty: &Type) -> Option<Self> {
        match ty {
            Type::String => Some(Self::String),
            Type::List(list) if list.ty() == Type::U8 => Some(Self::List),
            _ => None,
        }
    }

    /// `bytes` as a value of this kind: one `Val` per byte for a list.
    /// `bytes` of a string were checked to be UTF-8 where they came from.
    fn to_val(self, bytes: &[u8]) -> Val {
        match self {
            Self::List => Val::List(bytes.iter().map(|&byte| Val::U8(byte)).collect()),
            Self::String => Val::String(String::from_utf8_lossy(bytes).into_owned()),
        }
    }
}

/// The signature of a byte export.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ByteSignature {
    /// Its one parameter.
    pub param: ByteKind,
    /// Its one result.
    pub result: ByteKind,
}

impl ByteSignature {
    /// The byte signature of a function with parameter types `params` and
    /// result types `results`, if it has one.
    pub fn of(params: &[Type], results: &[Type]) -> Option<Self> {
        match (params, results) {
            ([param], [result]) => Some(Self {
                param: ByteKind::of(param)?,
                result: ByteKind::of(result)?,
            }),
            _ => None,
        }
    }
}

/// The argument of a byte export, as bytes.
#[derive(Clone)]
pub(crate) enum ByteArg<'a> {
    /// A `list<u8>`.
    List(Cow<'a, [u8]>),
    /// A `string`.
    String(&'a str),
}

impl ByteArg<'_> {
    /// The bytes (a string's UTF-8).
    pub(crate) fn bytes(&self) -> &[u8] {
        match self {
            Self::List(bytes) => bytes,
            Self::String(text) => text.as_bytes(),
        }
    }
}

/// The arguments of one call.
#[derive(Clone)]
pub(crate) enum Args<'a> {
    /// One value per parameter.
    Values(&'a [Val]),
    /// The one argument of a byte export.
    Bytes(ByteArg<'a>),
}

impl<'a> Args<'a> {
    /// `values` in the form the export with byte signature `signature`
    /// takes them: as bytes if it is a byte export and they are one value
    /// of its parameter's kind, else as values (checked against the types
    /// on the way).
    pub(crate) fn new(values: &'a [Val], signature: Option<ByteSignature>) -> Self {
        let Some(signature) = signature else {
            return Self::Values(values);
        };
        match (values, signature.param) {
            ([Val::String(text)], ByteKind::String) => Self::Bytes(ByteArg::String(text)),
            ([Val::List(items)], ByteKind::List) => {
                let bytes: Option<Vec<u8>> = items
                    .iter()
                    .map(|item| match item {
                        Val::U8(byte) => Some(*byte),
                        _ => None,
                    })
                    .collect();
                bytes.map_or(Self::Values(values), |bytes| {
                    Self::Bytes(ByteArg::List(Cow::Owned(bytes)))
                })
            }
            _ => Self::Values(values),
        }
    }

    /// How many bytes they take (what `max-argument-bytes` bounds).
    pub(crate) fn size(&self) -> usize {
        match self {
            Self::Values(values) => crate::limits::argument_bytes(values),
            Self::Bytes(arg) => arg.bytes().len(),
        }
    }
}

/// The results of one call.
#[derive(Clone)]
pub(crate) enum Results {
    /// One value per result (zero or one).
    Values(Vec<Val>),
    /// The one result of a byte export, inside its cache entry: its bytes
    /// start at [`BYTES_RESULT_OFFSET`].
    Bytes(ByteKind, Bytes),
    /// Results as their cache entry holds them, checked against their
    /// types' `shapes` (decoded when they are asked for as values).
    Stored { entry: Bytes, shapes: Arc<[Shape]> },
}

impl std::fmt::Debug for Results {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Values(values) => f.debug_tuple("Values").field(values).finish(),
            Self::Bytes(kind, entry) => {
                let len = entry.len().saturating_sub(BYTES_RESULT_OFFSET);
                write!(f, "Bytes({kind:?}, {len} bytes)")
            }
            Self::Stored { entry, .. } => write!(f, "Stored({} bytes)", entry.len()),
        }
    }
}

impl Results {
    /// The results as values: lifted from the bytes of a byte export's
    /// result (one `Val` per byte for a list), or decoded from a stored
    /// entry.
    pub(crate) fn to_values(&self) -> Vec<Val> {
        match self {
            Self::Values(values) => values.clone(),
            Self::Bytes(kind, entry) => vec![kind.to_val(&entry[BYTES_RESULT_OFFSET..])],
            Self::Stored { entry, shapes } => codec::checked_results(entry, shapes),
        }
    }

    /// The results as values, without a copy when they are values.
    pub(crate) fn into_values(self) -> Vec<Val> {
        match self {
            Self::Values(values) => values,
            bytes => bytes.to_values(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_arguments_are_taken_only_in_the_parameters_kind() {
        let list = ByteSignature {
            param: ByteKind::List,
            result: ByteKind::List,
        };
        let string = ByteSignature {
            param: ByteKind::String,
            ..list
        };
        let bytes = [Val::List(vec![Val::U8(1), Val::U8(2)])];
        let text = [Val::String("ab".into())];
        let not_bytes = [Val::List(vec![Val::U32(1)])];
        let bytes_of = |args: Args<'_>| match args {
            Args::Bytes(arg) => Some(arg.bytes().to_vec()),
            Args::Values(_) => None,
        };
        assert_eq!(bytes_of(Args::new(&bytes, Some(list))), Some(vec![1, 2]));
        assert_eq!(
            bytes_of(Args::new(&text, Some(string))),
            Some(b"ab".to_vec())
        );
        // Anything else goes the way of values, whose types are checked.
        assert_eq!(bytes_of(Args::new(&text, Some(list))), None);
        assert_eq!(bytes_of(Args::new(&bytes, Some(string))), None);
        assert_eq!(bytes_of(Args::new(&not_bytes, Some(list))), None);
        assert_eq!(bytes_of(Args::new(&bytes, None)), None);
        assert_eq!(Args::new(&text, Some(string)).size(), 2);
    }
}
