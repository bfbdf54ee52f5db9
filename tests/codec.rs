//! Property tests of the value encoding (keys and stored results) over
//! generated WIT types: each case generates a type, builds a real component
//! exporting `f: func(a: T) -> T` (wit-component's dummy module), reads the
//! type back through wasmtime, then checks many generated values of it.

use crate::support;

use activity_host::DecodeError;
use activity_host::Val;
use activity_host::internals::{
    ENTRY_HEADER_LEN, args_from_wave, check_entry, decode_entry, encode_entry, encode_key_args,
};
use activity_host::{from_json, to_json};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use support::values::{arb_val, canonical, rebuilt};
use wasmtime::component::{Component, Type, types::ComponentItem};

/// A WIT type to generate.
#[derive(Clone, Debug)]
enum Ty {
    Prim(&'static str),
    List(Box<Ty>),
    Option(Box<Ty>),
    Result(Option<Box<Ty>>, Option<Box<Ty>>),
    Tuple(Vec<Ty>),
    Record(Vec<Ty>),
    Variant(Vec<Option<Ty>>),
    Enum(usize),
    Flags(usize),
}

const PRIMS: &[&str] = &[
    "bool", "s8", "u8", "s16", "u16", "s32", "u32", "s64", "u64", "f32", "f64", "char", "string",
];

fn arb_ty() -> impl Strategy<Value = Ty> {
    let leaf = prop_oneof![
        proptest::sample::select(PRIMS).prop_map(Ty::Prim),
        (1usize..5).prop_map(Ty::Enum),
        (1usize..12).prop_map(Ty::Flags),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        let boxed = inner.clone().prop_map(Box::new);
        prop_oneof![
            boxed.clone().prop_map(Ty::List),
            boxed.clone().prop_map(Ty::Option),
            (
                proptest::option::of(boxed.clone()),
                proptest::option::of(boxed)
            )
                .prop_map(|(ok, err)| Ty::Result(ok, err)),
            proptest::collection::vec(inner.clone(), 1..4).prop_map(Ty::Tuple),
            proptest::collection::vec(inner.clone(), 1..4).prop_map(Ty::Record),
            proptest::collection::vec(proptest::option::of(inner), 1..4).prop_map(Ty::Variant),
        ]
    })
}

/// Renders `ty` as WIT, declaring named types in `decls`.
fn render(ty: &Ty, decls: &mut Vec<String>) -> String {
    match ty {
        Ty::Prim(name) => (*name).to_owned(),
        Ty::List(inner) => format!("list<{}>", render(inner, decls)),
        Ty::Option(inner) => format!("option<{}>", render(inner, decls)),
        Ty::Result(ok, err) => {
            let side = |t: &Option<Box<Ty>>, decls: &mut Vec<String>| {
                t.as_ref().map_or("_".to_owned(), |t| render(t, decls))
            };
            match (ok, err) {
                (None, None) => "result".to_owned(),
                (Some(_), None) => format!("result<{}>", side(ok, decls)),
                _ => format!("result<{}, {}>", side(ok, decls), side(err, decls)),
            }
        }
        Ty::Tuple(items) => {
            let items: Vec<String> = items.iter().map(|t| render(t, decls)).collect();
            format!("tuple<{}>", items.join(", "))
        }
        Ty::Record(fields) => {
            let fields: Vec<String> = fields
                .iter()
                .enumerate()
                .map(|(i, t)| format!("f{i}: {}", render(t, decls)))
                .collect();
            let body = format!("{{ {} }}", fields.join(", "));
            declare_named(decls, "record", body)
        }
        Ty::Variant(cases) => {
            let cases: Vec<String> = cases
                .iter()
                .enumerate()
                .map(|(i, t)| match t {
                    Some(t) => format!("c{i}({})", render(t, decls)),
                    None => format!("c{i}"),
                })
                .collect();
            declare_named(decls, "variant", format!("{{ {} }}", cases.join(", ")))
        }
        Ty::Enum(n) => declare_named(
            decls,
            "enum",
            format!(
                "{{ {} }}",
                (0..*n)
                    .map(|i| format!("e{i}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ),
        Ty::Flags(n) => declare_named(
            decls,
            "flags",
            format!(
                "{{ {} }}",
                (0..*n)
                    .map(|i| format!("g{i}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ),
    }
}

fn declare_named(decls: &mut Vec<String>, kind: &str, body: String) -> String {
    let name = format!("t{}", decls.len());
    decls.push(format!("{kind} {name} {body}"));
    name
}

/// A real component exporting `f: func(a: T) -> T`, and T as wasmtime sees it.
fn component_type(engine: &wasmtime::Engine, ty: &Ty) -> Type {
    let mut decls = Vec::new();
    let rendered = render(ty, &mut decls);
    let wit = format!(
        "package gen:t;\ninterface i {{\n{}\nf: func(a: {rendered}) -> {rendered};\n}}\nworld w {{ export i; }}\n",
        decls.join("\n")
    );
    let bytes = support::wit::dummy_component(&wit, "w");
    let component = Component::from_binary(engine, &bytes).unwrap();
    let component_type = component.component_type();
    let (_, interface) = component_type.exports(engine).next().unwrap();
    let ComponentItem::ComponentInstance(interface) = interface.ty else {
        panic!("not an interface")
    };
    let ComponentItem::ComponentFunc(f) = interface.get_export(engine, "f").unwrap().ty else {
        panic!("not a function")
    };
    f.params().next().unwrap().1
}

fn key_bytes(value: &Val, ty: &Type) -> Vec<u8> {
    let mut out = Vec::new();
    encode_key_args(
        std::slice::from_ref(value),
        std::slice::from_ref(ty),
        &[true],
        &mut out,
    )
    .unwrap();
    out
}

const SIGNATURE: [u8; 32] = [7; 32];
const WRITTEN_AT: u64 = 1_700_000_000_123;

fn entry(value: &Val, ty: &Type) -> Vec<u8> {
    encode_entry(
        &SIGNATURE,
        WRITTEN_AT,
        std::slice::from_ref(value),
        std::slice::from_ref(ty),
    )
    .unwrap()
}

/// Checks every property on `values_per_type` values of `ty`.
fn check_type(ty: &Type, values_per_type: u32) {
    let mut runner = TestRunner::new(Config {
        cases: values_per_type,
        failure_persistence: None,
        ..Config::default()
    });
    let pair = (arb_val(ty), arb_val(ty));
    runner
        .run(&pair, |(a, b)| {
            // Deterministic, and independent of how the value was built.
            prop_assert_eq!(key_bytes(&a, ty), key_bytes(&a.clone(), ty));
            prop_assert_eq!(key_bytes(&a, ty), key_bytes(&rebuilt(&a), ty));
            // Injective: equal keys exactly when the values are equal (NaNs
            // all equal, 0.0 and -0.0 not: `Val`'s own equality).
            prop_assert_eq!(key_bytes(&a, ty) == key_bytes(&b, ty), a == b);
            // The key encoding is the entry encoding of the NaN-canonical
            // value, which decodes back: so it has a left inverse.
            let canonical_entry = entry(&canonical(&a), ty);
            prop_assert_eq!(&canonical_entry[ENTRY_HEADER_LEN..], &key_bytes(&a, ty)[..]);
            // Stored results round-trip exactly, NaN payloads included.
            let stored = entry(&a, ty);
            let decoded = decode_entry(&stored, &SIGNATURE, std::slice::from_ref(ty)).unwrap();
            prop_assert_eq!(decoded.written_at_ms, WRITTEN_AT);
            prop_assert_eq!(&decoded.results, std::slice::from_ref(&a));
            prop_assert_eq!(entry(&decoded.results[0], ty), stored.clone());
            // The worker's JSON form round-trips through text (NaN payloads
            // become "NaN": equal as values, not bit for bit).
            let text = to_json(&a).to_string();
            let parsed: serde_json::Value = serde_json::from_str(&text).unwrap();
            prop_assert_eq!(from_json(&parsed, ty).unwrap(), a.clone(), "{}", text);
            // So does its WAVE form (the CLI's), as the same call: wasm-wave
            // lists flags in its own order, which neither the key nor the
            // guest sees.
            let wave = format!("f({})", activity_host::wasm_wave::to_string(&a).unwrap());
            let from_wave = args_from_wave(&wave, std::slice::from_ref(ty)).unwrap();
            prop_assert_eq!(key_bytes(&from_wave[0], ty), key_bytes(&a, ty), "{}", wave);
            // A damaged entry is an error, never a panic or another value.
            for cut in 0..stored.len() {
                prop_assert!(
                    decode_entry(&stored[..cut], &SIGNATURE, std::slice::from_ref(ty)).is_err()
                );
            }
            let mut longer = stored.clone();
            longer.push(0);
            prop_assert!(decode_entry(&longer, &SIGNATURE, std::slice::from_ref(ty)).is_err());
            let other_signature = [8; 32];
            prop_assert!(matches!(
                decode_entry(&stored, &other_signature, std::slice::from_ref(ty)),
                Err(DecodeError::Signature)
            ));
            // A hit checks an entry without decoding it (values are decoded
            // when asked for): the check takes exactly what decodes, every
            // byte of the entry damaged in turn.
            let types = std::slice::from_ref(ty);
            prop_assert_eq!(
                check_entry(&stored, &SIGNATURE, types).ok(),
                Some(WRITTEN_AT)
            );
            prop_assert!(check_entry(&longer, &SIGNATURE, types).is_err());
            for cut in 0..stored.len() {
                prop_assert!(check_entry(&stored[..cut], &SIGNATURE, types).is_err());
            }
            for at in ENTRY_HEADER_LEN..stored.len() {
                for flip in [0x01, 0x80, 0xff] {
                    let mut damaged = stored.clone();
                    damaged[at] ^= flip;
                    prop_assert_eq!(
                        check_entry(&damaged, &SIGNATURE, types).is_ok(),
                        decode_entry(&damaged, &SIGNATURE, types).is_ok()
                    );
                }
            }
            Ok(())
        })
        .unwrap();
}

#[test]
fn encoding_properties_hold_for_generated_types() {
    let engine = wasmtime::Engine::default();
    let mut runner = TestRunner::new(Config {
        cases: 96,
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(&arb_ty(), |ty| {
            let component_ty = component_type(&engine, &ty);
            check_type(&component_ty, 48);
            Ok(())
        })
        .unwrap();
}

#[test]
fn mistyped_values_are_errors_not_keys() {
    let engine = wasmtime::Engine::default();
    let u64_ty = component_type(&engine, &Ty::Prim("u64"));
    let mut out = Vec::new();
    let wrong = encode_key_args(
        &[Val::S64(1)],
        std::slice::from_ref(&u64_ty),
        &[true],
        &mut out,
    );
    assert!(
        wrong.is_err(),
        "an s64 is not a u64 even with the same bytes"
    );
    let record = component_type(&engine, &Ty::Record(vec![Ty::Prim("u8"), Ty::Prim("u8")]));
    let missing_field = Val::Record(vec![("f0".into(), Val::U8(1))]);
    assert!(
        encode_key_args(
            &[missing_field],
            std::slice::from_ref(&record),
            &[true],
            &mut out
        )
        .is_err()
    );
    let unknown_field = Val::Record(vec![("f0".into(), Val::U8(1)), ("zz".into(), Val::U8(1))]);
    assert!(encode_key_args(&[unknown_field], &[record], &[true], &mut out).is_err());
    let flags = component_type(&engine, &Ty::Flags(3));
    assert!(
        encode_key_args(
            &[Val::Flags(vec!["nope".into()])],
            &[flags],
            &[true],
            &mut out
        )
        .is_err()
    );
    assert!(
        encode_key_args(&[], &[u64_ty], &[true], &mut out).is_err(),
        "wrong arity"
    );
}

#[test]
fn garbage_never_decodes_to_a_value() {
    let engine = wasmtime::Engine::default();
    let ty = component_type(&engine, &Ty::List(Box::new(Ty::Prim("string"))));
    let mut runner = TestRunner::new(Config {
        cases: 2000,
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(&proptest::collection::vec(any::<u8>(), 0..64), |bytes| {
            // Random payloads behind a valid header may decode (to some list),
            // but must never panic; without the header they never decode.
            let mut framed = b"AHC\x01".to_vec();
            framed.extend_from_slice(&SIGNATURE);
            framed.extend_from_slice(&WRITTEN_AT.to_le_bytes());
            framed.extend_from_slice(&bytes);
            let decoded = decode_entry(&framed, &SIGNATURE, std::slice::from_ref(&ty));
            let checked = check_entry(&framed, &SIGNATURE, std::slice::from_ref(&ty));
            prop_assert_eq!(checked.is_ok(), decoded.is_ok());
            prop_assert!(
                decode_entry(&bytes, &SIGNATURE, std::slice::from_ref(&ty)).is_err()
                    || bytes.starts_with(b"AHC\x01")
            );
            Ok(())
        })
        .unwrap();
}
