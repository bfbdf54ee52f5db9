//! Reading values back from their encoding (the inverse of the encoder in
//! the parent module), checked against the expected type at every step.

use wasmtime::component::Val;

use super::DecodeError;
use super::shape::Shape;

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

    fn payload(&mut self, shape: Option<&Shape>) -> Result<Option<Box<Val>>, DecodeError> {
        shape
            .map(|shape| self.value(shape).map(Box::new))
            .transpose()
    }

    fn items(&mut self, count: usize, shape: &Shape) -> Result<Vec<Val>, DecodeError> {
        // Never trust a count further than the bytes that are left.
        let mut items = Vec::with_capacity(count.min(self.bytes.len()));
        for _ in 0..count {
            items.push(self.value(shape)?);
        }
        Ok(items)
    }

    fn str(&mut self) -> Result<&str, DecodeError> {
        let len = self.u32()?;
        let bytes = self.take_slice(len)?;
        std::str::from_utf8(bytes).map_err(|_| DecodeError::Corrupt("invalid UTF-8"))
    }

    fn char(&mut self) -> Result<char, DecodeError> {
        char::from_u32(u32::from_le_bytes(self.take()?)).ok_or(DecodeError::Corrupt("invalid char"))
    }

    /// The index of the next case of `cases`.
    fn case<T>(&mut self, cases: &[T], what: &'static str) -> Result<usize, DecodeError> {
        let index = self.u32()?;
        if index < cases.len() {
            Ok(index)
        } else {
            Err(DecodeError::Corrupt(what))
        }
    }

    /// The next flag bits of `names`, checked.
    fn flag_bits(&mut self, names: &[String]) -> Result<&[u8], DecodeError> {
        let count = names.len();
        let bits = self.take_slice(count.div_ceil(8))?;
        if !count.is_multiple_of(8) && bits.last().is_some_and(|last| last >> (count % 8) != 0) {
            return Err(DecodeError::Corrupt("unknown flag bits"));
        }
        Ok(bits)
    }

    /// The next value, of shape `shape`.
    pub(super) fn value(&mut self, shape: &Shape) -> Result<Val, DecodeError> {
        Ok(match shape {
            Shape::Bool => Val::Bool(self.tag()?),
            Shape::S8 => Val::S8(i8::from_le_bytes(self.take()?)),
            Shape::U8 => Val::U8(u8::from_le_bytes(self.take()?)),
            Shape::S16 => Val::S16(i16::from_le_bytes(self.take()?)),
            Shape::U16 => Val::U16(u16::from_le_bytes(self.take()?)),
            Shape::S32 => Val::S32(i32::from_le_bytes(self.take()?)),
            Shape::U32 => Val::U32(u32::from_le_bytes(self.take()?)),
            Shape::S64 => Val::S64(i64::from_le_bytes(self.take()?)),
            Shape::U64 => Val::U64(u64::from_le_bytes(self.take()?)),
            Shape::Float32 => Val::Float32(f32::from_bits(u32::from_le_bytes(self.take()?))),
            Shape::Float64 => Val::Float64(f64::from_bits(u64::from_le_bytes(self.take()?))),
            Shape::Char => Val::Char(self.char()?),
            Shape::String => Val::String(self.str()?.to_owned()),
            Shape::List(item) => {
                let count = self.u32()?;
                Val::List(self.items(count, item)?)
            }
            Shape::FixedLengthList(item, len) => Val::FixedLengthList(self.items(*len, item)?),
            Shape::Map(key, value) => {
                let count = self.u32()?;
                let mut pairs = Vec::with_capacity(count.min(self.bytes.len()));
                for _ in 0..count {
                    pairs.push((self.value(key)?, self.value(value)?));
                }
                Val::Map(pairs)
            }
            Shape::Record(fields) => Val::Record(
                fields
                    .iter()
                    .map(|(name, shape)| Ok((name.clone(), self.value(shape)?)))
                    .collect::<Result<_, DecodeError>>()?,
            ),
            Shape::Tuple(shapes) => Val::Tuple(
                shapes
                    .iter()
                    .map(|shape| self.value(shape))
                    .collect::<Result<_, _>>()?,
            ),
            Shape::Variant(cases) => {
                let (name, payload) = &cases[self.case(cases, "unknown variant case")?];
                Val::Variant(name.clone(), self.payload(payload.as_ref())?)
            }
            Shape::Enum(names) => Val::Enum(names[self.case(names, "unknown enum case")?].clone()),
            Shape::Option(some) => match self.tag()? {
                false => Val::Option(None),
                true => Val::Option(Some(Box::new(self.value(some)?))),
            },
            Shape::Result(ok, err) => match self.tag()? {
                false => Val::Result(Ok(self.payload(ok.as_deref())?)),
                true => Val::Result(Err(self.payload(err.as_deref())?)),
            },
            Shape::Flags(names) => {
                let bits = self.flag_bits(names)?;
                let set = names
                    .iter()
                    .enumerate()
                    .filter(|(index, _)| bits[index / 8] & (1 << (index % 8)) != 0)
                    .map(|(_, name)| name.clone());
                Val::Flags(set.collect())
            }
        })
    }

    /// Reads past the next value, of shape `shape`, checking it as
    /// [`Self::value`] does without building it.
    pub(super) fn skip(&mut self, shape: &Shape) -> Result<(), DecodeError> {
        match shape {
            Shape::Bool => {
                self.tag()?;
            }
            Shape::S8 | Shape::U8 => {
                self.take::<1>()?;
            }
            Shape::S16 | Shape::U16 => {
                self.take::<2>()?;
            }
            Shape::S32 | Shape::U32 | Shape::Float32 => {
                self.take::<4>()?;
            }
            Shape::S64 | Shape::U64 | Shape::Float64 => {
                self.take::<8>()?;
            }
            Shape::Char => {
                self.char()?;
            }
            Shape::String => {
                self.str()?;
            }
            Shape::List(item) => {
                let count = self.u32()?;
                self.skip_items(count, item)?;
            }
            Shape::FixedLengthList(item, len) => self.skip_items(*len, item)?,
            Shape::Map(key, value) => {
                for _ in 0..self.u32()? {
                    self.skip(key)?;
                    self.skip(value)?;
                }
            }
            Shape::Record(fields) => {
                for (_, shape) in fields {
                    self.skip(shape)?;
                }
            }
            Shape::Tuple(shapes) => {
                for shape in shapes {
                    self.skip(shape)?;
                }
            }
            Shape::Variant(cases) => {
                let (_, payload) = &cases[self.case(cases, "unknown variant case")?];
                if let Some(payload) = payload {
                    self.skip(payload)?;
                }
            }
            Shape::Enum(names) => {
                self.case(names, "unknown enum case")?;
            }
            Shape::Option(some) => {
                if self.tag()? {
                    self.skip(some)?;
                }
            }
            Shape::Result(ok, err) => {
                let payload = if self.tag()? { err } else { ok };
                if let Some(payload) = payload {
                    self.skip(payload)?;
                }
            }
            Shape::Flags(names) => {
                self.flag_bits(names)?;
            }
        }
        Ok(())
    }

    fn skip_items(&mut self, count: usize, shape: &Shape) -> Result<(), DecodeError> {
        for _ in 0..count {
            self.skip(shape)?;
        }
        Ok(())
    }
}
