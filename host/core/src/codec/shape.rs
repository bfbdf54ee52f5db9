//! The shape of a value type: what the decoder needs of a WIT type (its
//! kind, field and case names, element types), read from wasmtime's type
//! reflection once per export rather than on every value it decodes.

use wasmtime::component::Type;

use super::EncodeError;

/// A value type with an encoding, as the decoder walks it.
#[derive(Clone, Debug)]
pub(crate) enum Shape {
    Bool,
    S8,
    U8,
    S16,
    U16,
    S32,
    U32,
    S64,
    U64,
    Float32,
    Float64,
    Char,
    String,
    List(Box<Shape>),
    FixedLengthList(Box<Shape>, usize),
    Map(Box<Shape>, Box<Shape>),
    /// Field names and shapes, in declaration order.
    Record(Vec<(String, Shape)>),
    Tuple(Vec<Shape>),
    /// Case names and payload shapes, in declaration order.
    Variant(Vec<(String, Option<Shape>)>),
    Enum(Vec<String>),
    Option(Box<Shape>),
    Result(Option<Box<Shape>>, Option<Box<Shape>>),
    Flags(Vec<String>),
}

impl Shape {
    /// The shape of `ty`; an error if it has no encoding (a resource,
    /// future, stream or error context anywhere inside).
    pub(crate) fn of(ty: &Type) -> Result<Self, EncodeError> {
        let boxed = |ty: &Type| Self::of(ty).map(Box::new);
        Ok(match ty {
            Type::Bool => Self::Bool,
            Type::S8 => Self::S8,
            Type::U8 => Self::U8,
            Type::S16 => Self::S16,
            Type::U16 => Self::U16,
            Type::S32 => Self::S32,
            Type::U32 => Self::U32,
            Type::S64 => Self::S64,
            Type::U64 => Self::U64,
            Type::Float32 => Self::Float32,
            Type::Float64 => Self::Float64,
            Type::Char => Self::Char,
            Type::String => Self::String,
            Type::List(list) => Self::List(boxed(&list.ty())?),
            Type::FixedLengthList(list) => {
                Self::FixedLengthList(boxed(&list.ty())?, list.len() as usize)
            }
            Type::Map(map) => Self::Map(boxed(&map.key())?, boxed(&map.value())?),
            Type::Record(record) => Self::Record(
                record
                    .fields()
                    .map(|field| Ok((field.name.to_owned(), Self::of(&field.ty)?)))
                    .collect::<Result<_, EncodeError>>()?,
            ),
            Type::Tuple(tuple) => Self::Tuple(
                tuple
                    .types()
                    .map(|ty| Self::of(&ty))
                    .collect::<Result<_, _>>()?,
            ),
            Type::Variant(variant) => Self::Variant(
                variant
                    .cases()
                    .map(|case| {
                        Ok((
                            case.name.to_owned(),
                            case.ty.as_ref().map(Self::of).transpose()?,
                        ))
                    })
                    .collect::<Result<_, EncodeError>>()?,
            ),
            Type::Enum(enum_) => Self::Enum(enum_.names().map(str::to_owned).collect()),
            Type::Option(option) => Self::Option(boxed(&option.ty())?),
            Type::Result(result) => Self::Result(
                result.ok().as_ref().map(boxed).transpose()?,
                result.err().as_ref().map(boxed).transpose()?,
            ),
            Type::Flags(flags) => Self::Flags(flags.names().map(str::to_owned).collect()),
            Type::Own(_) | Type::Borrow(_) => return Err(EncodeError::Uncacheable("resource")),
            Type::Future(_) => return Err(EncodeError::Uncacheable("future")),
            Type::Stream(_) => return Err(EncodeError::Uncacheable("stream")),
            Type::ErrorContext => return Err(EncodeError::Uncacheable("error-context")),
        })
    }

    /// The shapes of `types`, in order.
    pub(crate) fn all(types: &[Type]) -> Result<Vec<Self>, EncodeError> {
        types.iter().map(Self::of).collect()
    }
}
