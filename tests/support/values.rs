//! Proptest strategies for component values of a given wasmtime type.

use activity_host::Val;
use proptest::prelude::*;
use proptest::sample::{select, subsequence};
use proptest::strategy::Union;
use wasmtime::component::Type;

/// Any value of type `ty`, including NaNs with payloads, `-0.0`, empty and
/// nested lists, every variant case and flag combination.
pub fn arb_val(ty: &Type) -> BoxedStrategy<Val> {
    match ty {
        Type::Bool => any::<bool>().prop_map(Val::Bool).boxed(),
        Type::S8 => any::<i8>().prop_map(Val::S8).boxed(),
        Type::U8 => any::<u8>().prop_map(Val::U8).boxed(),
        Type::S16 => any::<i16>().prop_map(Val::S16).boxed(),
        Type::U16 => any::<u16>().prop_map(Val::U16).boxed(),
        Type::S32 => any::<i32>().prop_map(Val::S32).boxed(),
        Type::U32 => any::<u32>().prop_map(Val::U32).boxed(),
        Type::S64 => any::<i64>().prop_map(Val::S64).boxed(),
        Type::U64 => any::<u64>().prop_map(Val::U64).boxed(),
        Type::Float32 => prop_oneof![
            any::<f32>(),
            any::<u32>().prop_map(f32::from_bits),
            select(vec![
                0.0f32,
                -0.0,
                f32::NAN,
                f32::INFINITY,
                f32::NEG_INFINITY
            ]),
        ]
        .prop_map(Val::Float32)
        .boxed(),
        Type::Float64 => prop_oneof![
            any::<f64>(),
            any::<u64>().prop_map(f64::from_bits),
            select(vec![
                0.0f64,
                -0.0,
                f64::NAN,
                f64::INFINITY,
                f64::NEG_INFINITY
            ]),
        ]
        .prop_map(Val::Float64)
        .boxed(),
        Type::Char => any::<char>().prop_map(Val::Char).boxed(),
        Type::String => prop_oneof![Just(String::new()), "\\PC{0,12}", any::<String>()]
            .prop_map(Val::String)
            .boxed(),
        Type::List(list) => proptest::collection::vec(arb_val(&list.ty()), 0..4)
            .prop_map(Val::List)
            .boxed(),
        Type::Record(record) => {
            let names: Vec<String> = record.fields().map(|f| f.name.to_owned()).collect();
            let fields: Vec<_> = record.fields().map(|f| arb_val(&f.ty)).collect();
            fields
                .prop_map(move |values| Val::Record(names.iter().cloned().zip(values).collect()))
                .boxed()
        }
        Type::Tuple(tuple) => {
            let items: Vec<_> = tuple.types().map(|ty| arb_val(&ty)).collect();
            items.prop_map(Val::Tuple).boxed()
        }
        Type::Variant(variant) => {
            let cases: Vec<BoxedStrategy<Val>> = variant
                .cases()
                .map(|case| {
                    let name = case.name.to_owned();
                    match case.ty {
                        None => Just(Val::Variant(name, None)).boxed(),
                        Some(ty) => arb_val(&ty)
                            .prop_map(move |payload| {
                                Val::Variant(name.clone(), Some(Box::new(payload)))
                            })
                            .boxed(),
                    }
                })
                .collect();
            Union::new(cases).boxed()
        }
        Type::Enum(enum_) => {
            let names: Vec<String> = enum_.names().map(str::to_owned).collect();
            select(names).prop_map(Val::Enum).boxed()
        }
        Type::Option(option) => prop_oneof![
            Just(Val::Option(None)),
            arb_val(&option.ty()).prop_map(|v| Val::Option(Some(Box::new(v)))),
        ]
        .boxed(),
        Type::Result(result) => {
            let side = |ty: Option<Type>| match ty {
                None => Just(None).boxed(),
                Some(ty) => arb_val(&ty).prop_map(|v| Some(Box::new(v))).boxed(),
            };
            prop_oneof![
                side(result.ok()).prop_map(|v| Val::Result(Ok(v))),
                side(result.err()).prop_map(|v| Val::Result(Err(v))),
            ]
            .boxed()
        }
        Type::Flags(flags) => {
            let names: Vec<String> = flags.names().map(str::to_owned).collect();
            let count = names.len();
            subsequence(names, 0..=count).prop_map(Val::Flags).boxed()
        }
        other => panic!("no strategy for {other:?}"),
    }
}

/// The same value built differently: record fields and flags in reverse
/// order, NaNs with another payload. Its key must not change.
pub fn rebuilt(value: &Val) -> Val {
    match value {
        Val::Float32(x) if x.is_nan() => Val::Float32(f32::from_bits(0x7fc0_0001)),
        Val::Float64(x) if x.is_nan() => Val::Float64(f64::from_bits(0x7ff8_0000_0000_0001)),
        Val::Record(fields) => Val::Record(
            fields
                .iter()
                .rev()
                .map(|(n, v)| (n.clone(), rebuilt(v)))
                .collect(),
        ),
        Val::Flags(names) => Val::Flags(names.iter().rev().cloned().collect()),
        other => map_children(other, rebuilt),
    }
}

/// `value` with every NaN replaced by the canonical NaN (what keys see).
pub fn canonical(value: &Val) -> Val {
    match value {
        Val::Float32(x) if x.is_nan() => Val::Float32(f32::NAN),
        Val::Float64(x) if x.is_nan() => Val::Float64(f64::NAN),
        other => map_children(other, canonical),
    }
}

/// `value` with `f` applied to each value directly inside it.
fn map_children(value: &Val, f: fn(&Val) -> Val) -> Val {
    let boxed = |payload: &Option<Box<Val>>| payload.as_deref().map(|v| Box::new(f(v)));
    match value {
        Val::List(items) => Val::List(items.iter().map(f).collect()),
        Val::Tuple(items) => Val::Tuple(items.iter().map(f).collect()),
        Val::Record(fields) => Val::Record(fields.iter().map(|(n, v)| (n.clone(), f(v))).collect()),
        Val::Variant(name, payload) => Val::Variant(name.clone(), boxed(payload)),
        Val::Option(payload) => Val::Option(boxed(payload)),
        Val::Result(Ok(payload)) => Val::Result(Ok(boxed(payload))),
        Val::Result(Err(payload)) => Val::Result(Err(boxed(payload))),
        other => other.clone(),
    }
}
