//! Reading values back from their encoding (the inverse of the encoder in
//! the parent module), checked against the expected type at every step.

use wasmtime::component::{Type, Val};

use super::{DecodeError, EncodeError};

/// Reads values off the front of an encoding.
pub(super) struct Decoder<'a> {
    bytes: &'a [u8],
}

impl<'a> Decoder<'a> {
    /// A decoder of `bytes`.
    pub(super) fn new(bytes: &'a [u8]) -> Self {
        Self { bytes }
    }

    /// An error unless every byte was read.
    pub(super) fn finish(self) -> Result<(), DecodeError> {
        if self.bytes.is_empty() {
            Ok(())
        } else {
            Err(DecodeError::Corrupt("trailing bytes"))
        }
    }

    /// The next `N` bytes.
    pub(super) fn take<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let (head, rest) = self
            .bytes
            .split_first_chunk::<N>()
            .ok_or(DecodeError::Corrupt("truncated"))?;
        self.bytes = rest;
        Ok(*head)
    }

    fn take_slice(&mut self, len: usize) -> Result<&[u8], DecodeError> {
        if len > self.bytes.len() {
            return Err(DecodeError::Corrupt("truncated"));
        }
        let (head, rest) = self.bytes.split_at(len);
        self.bytes = rest;
        Ok(head)
    }

    fn u32(&mut self) -> Result<usize, DecodeError> {
        Ok(u32::from_le_bytes(self.take()?) as usize)
    }

    fn tag(&mut self) -> Result<bool, DecodeError> {
        match self.take::<1>()? {
            [0] => Ok(false),
            [1] => Ok(true),
            _ => Err(DecodeError::Corrupt("invalid tag")),
        }
    }

    fn payload(&mut self, ty: Option<Type>) -> Result<Option<Box<Val>>, DecodeError> {
        ty.map(|ty| self.value(&ty).map(Box::new)).transpose()
    }

    fn items(&mut self, count: usize, ty: &Type) -> Result<Vec<Val>, DecodeError> {
        // Never trust a count further than the bytes that are left.
        let mut items = Vec::with_capacity(count.min(self.bytes.len()));
        for _ in 0..count {
            items.push(self.value(ty)?);
        }
        Ok(items)
    }

    /// The next value, of type `ty`.
    pub(super) fn value(&mut self, ty: &Type) -> Result<Val, DecodeError> {
        Ok(match ty {
            Type::Bool => Val::Bool(self.tag()?),
            Type::S8 => Val::S8(i8::from_le_bytes(self.take()?)),
            Type::U8 => Val::U8(u8::from_le_bytes(self.take()?)),
            Type::S16 => Val::S16(i16::from_le_bytes(self.take()?)),
            Type::U16 => Val::U16(u16::from_le_bytes(self.take()?)),
            Type::S32 => Val::S32(i32::from_le_bytes(self.take()?)),
            Type::U32 => Val::U32(u32::from_le_bytes(self.take()?)),
            Type::S64 => Val::S64(i64::from_le_bytes(self.take()?)),
            Type::U64 => Val::U64(u64::from_le_bytes(self.take()?)),
            Type::Float32 => Val::Float32(f32::from_bits(u32::from_le_bytes(self.take()?))),
            Type::Float64 => Val::Float64(f64::from_bits(u64::from_le_bytes(self.take()?))),
            Type::Char => Val::Char(
                char::from_u32(u32::from_le_bytes(self.take()?))
                    .ok_or(DecodeError::Corrupt("invalid char"))?,
            ),
            Type::String => {
                let len = self.u32()?;
                let bytes = self.take_slice(len)?;
                let text = std::str::from_utf8(bytes)
                    .map_err(|_| DecodeError::Corrupt("invalid UTF-8"))?;
                Val::String(text.to_owned())
            }
            Type::List(list) => {
                let count = self.u32()?;
                Val::List(self.items(count, &list.ty())?)
            }
            Type::FixedLengthList(list) => {
                Val::FixedLengthList(self.items(list.len() as usize, &list.ty())?)
            }
            Type::Map(map) => {
                let count = self.u32()?;
                let mut pairs = Vec::with_capacity(count.min(self.bytes.len()));
                for _ in 0..count {
                    pairs.push((self.value(&map.key())?, self.value(&map.value())?));
                }
                Val::Map(pairs)
            }
            Type::Record(record) => Val::Record(
                record
                    .fields()
                    .map(|field| Ok((field.name.to_owned(), self.value(&field.ty)?)))
                    .collect::<Result<_, DecodeError>>()?,
            ),
            Type::Tuple(tuple) => Val::Tuple(
                tuple
                    .types()
                    .map(|ty| self.value(&ty))
                    .collect::<Result<_, _>>()?,
            ),
            Type::Variant(variant) => {
                let index = self.u32()?;
                let case = variant
                    .cases()
                    .nth(index)
                    .ok_or(DecodeError::Corrupt("unknown variant case"))?;
                let name = case.name.to_owned();
                Val::Variant(name, self.payload(case.ty)?)
            }
            Type::Enum(enum_) => {
                let index = self.u32()?;
                let name = enum_
                    .names()
                    .nth(index)
                    .ok_or(DecodeError::Corrupt("unknown enum case"))?;
                Val::Enum(name.to_owned())
            }
            Type::Option(option) => match self.tag()? {
                false => Val::Option(None),
                true => Val::Option(Some(Box::new(self.value(&option.ty())?))),
            },
            Type::Result(result) => match self.tag()? {
                false => Val::Result(Ok(self.payload(result.ok())?)),
                true => Val::Result(Err(self.payload(result.err())?)),
            },
            Type::Flags(flags) => {
                let count = flags.names().len();
                let bits = self.take_slice(count.div_ceil(8))?.to_vec();
                if count % 8 != 0 && bits.last().is_some_and(|last| last >> (count % 8) != 0) {
                    return Err(DecodeError::Corrupt("unknown flag bits"));
                }
                let set = flags
                    .names()
                    .enumerate()
                    .filter(|(index, _)| bits[index / 8] & (1 << (index % 8)) != 0)
                    .map(|(_, name)| name.to_owned());
                Val::Flags(set.collect())
            }
            Type::Own(_) | Type::Borrow(_) => {
                return Err(EncodeError::Uncacheable("resource").into());
            }
            Type::Future(_) => return Err(EncodeError::Uncacheable("future").into()),
            Type::Stream(_) => return Err(EncodeError::Uncacheable("stream").into()),
            Type::ErrorContext => return Err(EncodeError::Uncacheable("error-context").into()),
        })
    }
}
