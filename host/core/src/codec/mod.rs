//! Binary encoding of component values, for cache keys and stored results.
//!
//! # Value encoding (version 1)
//!
//! Values are written in the order of their WIT type; the type itself is not
//! written, because both sides always know it (keys include a hash of the
//! function's signature, and entries carry it, see [`encode_entry`]).
//!
//! | WIT type | bytes |
//! |---|---|
//! | `bool` | one byte, 0 or 1 |
//! | integers | little-endian, their own width |
//! | `f32`, `f64` | IEEE bits, little-endian; in keys every NaN is written as the canonical quiet NaN, so all NaNs share one key (`-0.0` and `0.0` stay distinct) |
//! | `char` | its scalar value as a `u32` |
//! | `string` | byte length as `u32`, then UTF-8 |
//! | `list`, `map` | element count as `u32`, then the elements (key, value for maps) |
//! | fixed-length list | the elements |
//! | `record`, `tuple` | the fields in declaration order, whatever order a `Val::Record` lists them in |
//! | `variant`, `enum` | the case index as a `u32`, then the variant case's payload if its type has one |
//! | `option` | 0 for `none`; 1 and the payload for `some` |
//! | `result` | 0 for `ok`, 1 for `err`, then the payload if that side has a type |
//! | `flags` | one bit per declared flag, in declaration order, in `ceil(n / 8)` bytes |
//!
//! The encoding is driven by the type, so a value that does not match it
//! (a `u32` where a `u64` is declared, a missing record field, an unknown
//! case) is an [`EncodeError`], never a key that collides with a well-typed
//! value. Every variable-length part is length-prefixed, so the encoding is
//! injective for a given type. Resources, futures and streams have no
//! encoding: functions that take or return them cannot be cached.
//!
//! # Entry format
//!
//! A stored result is `ENTRY_MAGIC`, the 32-byte signature hash of the
//! function that produced it, when it was written (milliseconds since the
//! Unix epoch, `u64` little-endian, for the age shown on a hit), then its
//! results. [`decode_entry`] checks the magic, the signature, the values and
//! the exact length: anything else is a [`DecodeError`], which the memoizer
//! treats as a miss.

mod bytes;
mod decoder;
mod shape;

use wasmtime::component::{Type, Val};

pub use bytes::{BYTES_RESULT_OFFSET, bytes_entry_buffer, check_bytes_entry, seal_bytes_entry};
use decoder::Decoder;
pub(crate) use shape::Shape;

/// Marks a stored entry and its format version.
pub const ENTRY_MAGIC: &[u8; 4] = b"AHC\x01";

/// A value that cannot be encoded.
#[derive(Clone, Debug, thiserror::Error)]
pub enum EncodeError {
    /// The type has no encoding (resources, futures, streams).
    #[error("{0} values cannot be cached")]
    Uncacheable(&'static str),
    /// The value does not match the declared type.
    #[error("value does not match its type: {0}")]
    Mismatch(String),
    /// A string or list longer than 4 GiB.
    #[error("a value of 4 GiB or more cannot be cached")]
    TooLong,
}

/// Stored bytes that do not decode to a value of the expected type.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// The entry is not in this format version.
    #[error("not a version-1 cache entry")]
    Format,
    /// The entry was written by a function with another signature.
    #[error("entry belongs to a function with another signature")]
    Signature,
    /// The bytes do not match the type.
    #[error("corrupt entry: {0}")]
    Corrupt(&'static str),
    /// A type that has no encoding.
    #[error(transparent)]
    Unsupported(#[from] EncodeError),
}

/// Whether values of `ty` have an encoding (no resources, futures or streams
/// anywhere inside).
pub fn is_cacheable(ty: &Type) -> bool {
    match ty {
        Type::Own(_) | Type::Borrow(_) | Type::Future(_) | Type::Stream(_) => false,
        Type::ErrorContext => false,
        Type::List(list) => is_cacheable(&list.ty()),
        Type::FixedLengthList(list) => is_cacheable(&list.ty()),
        Type::Map(map) => is_cacheable(&map.key()) && is_cacheable(&map.value()),
        Type::Record(record) => record.fields().all(|field| is_cacheable(&field.ty)),
        Type::Tuple(tuple) => tuple.types().all(|ty| is_cacheable(&ty)),
        Type::Variant(variant) => variant
            .cases()
            .all(|case| case.ty.is_none_or(|ty| is_cacheable(&ty))),
        Type::Option(option) => is_cacheable(&option.ty()),
        Type::Result(result) => {
            result.ok().is_none_or(|ty| is_cacheable(&ty))
                && result.err().is_none_or(|ty| is_cacheable(&ty))
        }
        _ => true,
    }
}

/// Appends the key encoding of the arguments `args` of a function with
/// parameter types `types` to `out`, leaving out those whose `keyed` flag is
/// false (they are still checked against their type). NaNs are canonicalized.
pub fn encode_key_args(
    args: &[Val],
    types: &[Type],
    keyed: &[bool],
    out: &mut Vec<u8>,
) -> Result<(), EncodeError> {
    if args.len() != types.len() {
        let plural = if types.len() == 1 { "" } else { "s" };
        return Err(EncodeError::Mismatch(format!(
            "expected {} argument{plural}, got {}",
            types.len(),
            args.len()
        )));
    }
    let mut ignored = Vec::new();
    for ((arg, ty), keyed) in args.iter().zip(types).zip(keyed) {
        let out = if *keyed { &mut *out } else { &mut ignored };
        Encoder {
            out,
            canonical_nan: true,
        }
        .value(arg, ty)?;
    }
    Ok(())
}

/// Bytes before an entry's results: magic, signature hash, write time.
pub const ENTRY_HEADER_LEN: usize = 4 + 32 + 8;

/// A decoded entry.
#[derive(Clone, Debug, PartialEq)]
pub struct DecodedEntry {
    /// The function's results.
    pub results: Vec<Val>,
    /// When the entry was written, in milliseconds since the Unix epoch.
    pub written_at_ms: u64,
}

/// Encodes a function's `results` (typed by `types`) as a stored entry,
/// tagged with the function's `signature_hash` and written at
/// `written_at_ms`. Float bits are kept exactly.
pub fn encode_entry(
    signature_hash: &[u8; 32],
    written_at_ms: u64,
    results: &[Val],
    types: &[Type],
) -> Result<Vec<u8>, EncodeError> {
    let mut out = Vec::with_capacity(64);
    out.extend_from_slice(ENTRY_MAGIC);
    out.extend_from_slice(signature_hash);
    out.extend_from_slice(&written_at_ms.to_le_bytes());
    let mut encoder = Encoder {
        out: &mut out,
        canonical_nan: false,
    };
    encoder.values(results, types)?;
    Ok(out)
}

/// Decodes a stored entry written by [`encode_entry`] for a function with
/// `signature_hash` and result types `types`.
pub fn decode_entry(
    bytes: &[u8],
    signature_hash: &[u8; 32],
    types: &[Type],
) -> Result<DecodedEntry, DecodeError> {
    decode_entry_as(bytes, signature_hash, &Shape::all(types)?)
}

/// [`decode_entry`] of results whose types' shapes are `shapes`.
pub(crate) fn decode_entry_as(
    bytes: &[u8],
    signature_hash: &[u8; 32],
    shapes: &[Shape],
) -> Result<DecodedEntry, DecodeError> {
    let (written_at_ms, mut decoder) = entry_results(bytes, signature_hash)?;
    let results = shapes
        .iter()
        .map(|shape| decoder.value(shape))
        .collect::<Result<Vec<_>, _>>()?;
    decoder.finish()?;
    Ok(DecodedEntry {
        results,
        written_at_ms,
    })
}

/// Checks a stored entry as [`decode_entry`] does, without building its
/// values; returns when it was written.
pub fn check_entry(
    bytes: &[u8],
    signature_hash: &[u8; 32],
    types: &[Type],
) -> Result<u64, DecodeError> {
    check_entry_as(bytes, signature_hash, &Shape::all(types)?)
}

/// [`check_entry`] of results whose types' shapes are `shapes`.
pub(crate) fn check_entry_as(
    bytes: &[u8],
    signature_hash: &[u8; 32],
    shapes: &[Shape],
) -> Result<u64, DecodeError> {
    let (written_at_ms, mut decoder) = entry_results(bytes, signature_hash)?;
    for shape in shapes {
        decoder.skip(shape)?;
    }
    decoder.finish()?;
    Ok(written_at_ms)
}

/// The results of an entry that [`check_entry_as`] accepted with `shapes`.
pub(crate) fn checked_results(bytes: &[u8], shapes: &[Shape]) -> Vec<Val> {
    let mut decoder = Decoder::new(&bytes[ENTRY_HEADER_LEN..]);
    shapes
        .iter()
        .map(|shape| {
            decoder
                .value(shape)
                .expect("an entry decodes as it was checked")
        })
        .collect()
}

/// When an entry for a function with `signature_hash` was written, and a
/// decoder of its results.
fn entry_results<'a>(
    bytes: &'a [u8],
    signature_hash: &[u8; 32],
) -> Result<(u64, Decoder<'a>), DecodeError> {
    let rest = bytes.strip_prefix(ENTRY_MAGIC).ok_or(DecodeError::Format)?;
    let rest = rest
        .strip_prefix(signature_hash.as_slice())
        .ok_or(DecodeError::Signature)?;
    let mut decoder = Decoder::new(rest);
    let written_at_ms = u64::from_le_bytes(decoder.take()?);
    Ok((written_at_ms, decoder))
}

fn mismatch(value: &Val, ty: &Type) -> EncodeError {
    EncodeError::Mismatch(format!("expected {}, got {value:?}", type_name(ty)))
}

fn type_name(ty: &Type) -> String {
    wasmtime::component::wasm_wave::wasm::DisplayType(ty).to_string()
}

/// The encoding of a string's or list's length, which comes before it.
pub fn length_prefix(len: usize) -> Result<[u8; 4], EncodeError> {
    let len = u32::try_from(len).map_err(|_| EncodeError::TooLong)?;
    Ok(len.to_le_bytes())
}

fn index_u32(index: usize) -> [u8; 4] {
    // Case and flag counts are bounded far below u32::MAX by the component model.
    (index as u32).to_le_bytes()
}

struct Encoder<'a> {
    out: &'a mut Vec<u8>,
    canonical_nan: bool,
}

impl Encoder<'_> {
    fn values(&mut self, values: &[Val], types: &[Type]) -> Result<(), EncodeError> {
        if values.len() != types.len() {
            return Err(EncodeError::Mismatch(format!(
                "expected {} values, got {}",
                types.len(),
                values.len()
            )));
        }
        values
            .iter()
            .zip(types)
            .try_for_each(|(value, ty)| self.value(value, ty))
    }

    fn len(&mut self, len: usize) -> Result<(), EncodeError> {
        self.out.extend_from_slice(&length_prefix(len)?);
        Ok(())
    }

    fn payload(
        &mut self,
        value: Option<&Val>,
        ty: Option<Type>,
        whole: &Val,
    ) -> Result<(), EncodeError> {
        match (value, ty) {
            (None, None) => Ok(()),
            (Some(value), Some(ty)) => self.value(value, &ty),
            (_, ty) => Err(EncodeError::Mismatch(format!(
                "payload presence does not match {} in {whole:?}",
                ty.map_or("no payload".to_owned(), |ty| type_name(&ty))
            ))),
        }
    }

    fn value(&mut self, value: &Val, ty: &Type) -> Result<(), EncodeError> {
        match (value, ty) {
            (Val::Bool(b), Type::Bool) => self.out.push(u8::from(*b)),
            (Val::S8(n), Type::S8) => self.out.extend_from_slice(&n.to_le_bytes()),
            (Val::U8(n), Type::U8) => self.out.push(*n),
            (Val::S16(n), Type::S16) => self.out.extend_from_slice(&n.to_le_bytes()),
            (Val::U16(n), Type::U16) => self.out.extend_from_slice(&n.to_le_bytes()),
            (Val::S32(n), Type::S32) => self.out.extend_from_slice(&n.to_le_bytes()),
            (Val::U32(n), Type::U32) => self.out.extend_from_slice(&n.to_le_bytes()),
            (Val::S64(n), Type::S64) => self.out.extend_from_slice(&n.to_le_bytes()),
            (Val::U64(n), Type::U64) => self.out.extend_from_slice(&n.to_le_bytes()),
            (Val::Float32(x), Type::Float32) => {
                let x = if self.canonical_nan && x.is_nan() {
                    f32::NAN
                } else {
                    *x
                };
                self.out.extend_from_slice(&x.to_bits().to_le_bytes());
            }
            (Val::Float64(x), Type::Float64) => {
                let x = if self.canonical_nan && x.is_nan() {
                    f64::NAN
                } else {
                    *x
                };
                self.out.extend_from_slice(&x.to_bits().to_le_bytes());
            }
            (Val::Char(c), Type::Char) => self.out.extend_from_slice(&u32::from(*c).to_le_bytes()),
            (Val::String(s), Type::String) => {
                self.len(s.len())?;
                self.out.extend_from_slice(s.as_bytes());
            }
            (Val::List(items), Type::List(list)) => {
                self.len(items.len())?;
                let item_ty = list.ty();
                items
                    .iter()
                    .try_for_each(|item| self.value(item, &item_ty))?;
            }
            (Val::FixedLengthList(items), Type::FixedLengthList(list))
                if items.len() == list.len() as usize =>
            {
                let item_ty = list.ty();
                items
                    .iter()
                    .try_for_each(|item| self.value(item, &item_ty))?;
            }
            (Val::Map(pairs), Type::Map(map)) => {
                self.len(pairs.len())?;
                let (key_ty, value_ty) = (map.key(), map.value());
                for (k, v) in pairs {
                    self.value(k, &key_ty)?;
                    self.value(v, &value_ty)?;
                }
            }
            (Val::Record(fields), Type::Record(record))
                if fields.len() == record.fields().len() =>
            {
                for field in record.fields() {
                    let (_, v) = fields
                        .iter()
                        .find(|(name, _)| name == field.name)
                        .ok_or_else(|| mismatch(value, ty))?;
                    self.value(v, &field.ty)?;
                }
            }
            (Val::Tuple(items), Type::Tuple(tuple)) if items.len() == tuple.types().len() => {
                items
                    .iter()
                    .zip(tuple.types())
                    .try_for_each(|(item, ty)| self.value(item, &ty))?;
            }
            (Val::Variant(name, payload), Type::Variant(variant)) => {
                let (index, case) = variant
                    .cases()
                    .enumerate()
                    .find(|(_, case)| case.name == name)
                    .ok_or_else(|| mismatch(value, ty))?;
                self.out.extend_from_slice(&index_u32(index));
                self.payload(payload.as_deref(), case.ty, value)?;
            }
            (Val::Enum(name), Type::Enum(enum_)) => {
                let index = enum_
                    .names()
                    .position(|case| case == name)
                    .ok_or_else(|| mismatch(value, ty))?;
                self.out.extend_from_slice(&index_u32(index));
            }
            (Val::Option(None), Type::Option(_)) => self.out.push(0),
            (Val::Option(Some(inner)), Type::Option(option)) => {
                self.out.push(1);
                self.value(inner, &option.ty())?;
            }
            (Val::Result(Ok(payload)), Type::Result(result)) => {
                self.out.push(0);
                self.payload(payload.as_deref(), result.ok(), value)?;
            }
            (Val::Result(Err(payload)), Type::Result(result)) => {
                self.out.push(1);
                self.payload(payload.as_deref(), result.err(), value)?;
            }
            (Val::Flags(set), Type::Flags(flags)) => {
                if let Some(unknown) = set
                    .iter()
                    .find(|name| !flags.names().any(|flag| flag == *name))
                {
                    return Err(EncodeError::Mismatch(format!("unknown flag `{unknown}`")));
                }
                let mut bits = vec![0u8; flags.names().len().div_ceil(8)];
                for (index, flag) in flags.names().enumerate() {
                    if set.iter().any(|name| name == flag) {
                        bits[index / 8] |= 1 << (index % 8);
                    }
                }
                self.out.extend_from_slice(&bits);
            }
            (_, Type::Own(_) | Type::Borrow(_)) => {
                return Err(EncodeError::Uncacheable("resource"));
            }
            (_, Type::Future(_)) => return Err(EncodeError::Uncacheable("future")),
            (_, Type::Stream(_)) => return Err(EncodeError::Uncacheable("stream")),
            (_, Type::ErrorContext) => return Err(EncodeError::Uncacheable("error-context")),
            _ => return Err(mismatch(value, ty)),
        }
        Ok(())
    }
}
