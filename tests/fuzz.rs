//! Fuzzing, bounded in time: mutated inputs for every decoder a caller or a
//! store can reach, over every WIT type the `typed` fixture's echo exports
//! take (all value kinds, nested).
//!
//! - WAVE invocations, through the whole call path (parse, type, key, store,
//!   guest call): never a panic, and a call that succeeded once is a hit
//!   with the same results the second time;
//! - WAVE and JSON arguments mean the same: what one syntax accepts, written
//!   in the other, decodes to the same values (and a numeral valid in both
//!   is accepted by both or neither, with the same value);
//! - JSON arguments (the worker's mapping): never a panic, and what decodes
//!   maps back to JSON that decodes to the same values;
//! - stored entries: never a panic, and what decodes re-encodes to an entry
//!   that decodes to the same values.
//!
//! Each target runs for `ACTIVITY_FUZZ_SECONDS` (default 10) seconds, in
//! rounds of proptest cases; failures are shrunk and their seeds kept in
//! `tests/fuzz-regressions/`, which every later run replays first.

use crate::support;

use std::time::{Duration, Instant};

use activity_host::internals::{args_from_json, args_from_wave};
use activity_host::internals::{decode_entry, encode_entry, encode_key_args};
use activity_host::to_json;
use activity_host::{CachePolicy, Host, MemoryOutputPipe, Outcome, RuleOverride, RulesConfig, Val};
use proptest::prelude::*;
use proptest::test_runner::{Config, FileFailurePersistence, TestCaseError, TestRunner};
use serde_json::Value as Json;
use support::guest;
use support::values::arb_val;
use wasmtime::component::Type;

/// An echo export of the fixture: its name, parameter and result types, and
/// signature hash.
#[derive(Clone, Debug)]
struct Echo {
    name: String,
    params: Vec<Type>,
    results: Vec<Type>,
    signature_hash: [u8; 32],
}

/// A host with the fixture's echo exports cached by inputs, and the exports.
fn typed_host(runtime: &tokio::runtime::Runtime) -> (Host, Vec<Echo>) {
    runtime.block_on(async {
        let mut rules = RulesConfig::default();
        let host = Host::builder()
            .capture_guest_stderr(MemoryOutputPipe::new(1 << 16))
            .build()
            .unwrap();
        host.load_file("typed", guest("typed.wasm")).await.unwrap();
        let echoes: Vec<Echo> = host
            .component("typed")
            .unwrap()
            .exports
            .iter()
            .filter(|export| {
                let in_echo = export
                    .interface
                    .as_deref()
                    .is_some_and(|i| i.ends_with("/echo@0.1.0"));
                in_echo && export.result_types.len() == 1
            })
            .map(|export| Echo {
                name: format!("echo#{}", export.name),
                params: export.param_types.clone(),
                results: export.result_types.clone(),
                signature_hash: export.signature_hash,
            })
            .collect();
        assert!(echoes.len() >= 14, "the fixture's echo exports");
        for echo in &echoes {
            let inputs = RuleOverride {
                policy: Some(CachePolicy::Inputs),
                cache_errors: Some(true), // `result::err` values are cached too
                ..RuleOverride::default()
            };
            rules.set("typed", &echo.name, inputs);
        }
        let host = Host::builder()
            .rules(rules)
            .capture_guest_stderr(MemoryOutputPipe::new(1 << 16))
            .build()
            .unwrap();
        host.load_file("typed", guest("typed.wasm")).await.unwrap();
        (host, echoes)
    })
}

/// One edit of a text or byte string; positions are fractions of its length.
#[derive(Clone, Debug)]
enum Edit {
    Delete { at: f64, len: usize },
    Insert { at: f64, bytes: Vec<u8> },
    Replace { at: f64, byte: u8 },
    Truncate { at: f64 },
    Duplicate { at: f64, len: usize },
}

/// Bytes that matter to WAVE and to the entry format, and anything else.
fn interesting_byte() -> impl Strategy<Value = u8> {
    prop_oneof![
        proptest::sample::select(b"(){}[],:\"'\\%-+.0123456789eEinfanu ".to_vec()),
        any::<u8>(),
    ]
}

fn arb_edits() -> impl Strategy<Value = Vec<Edit>> {
    let at = 0.0..1.0f64;
    let edit = prop_oneof![
        (at.clone(), 1usize..8).prop_map(|(at, len)| Edit::Delete { at, len }),
        (
            at.clone(),
            proptest::collection::vec(interesting_byte(), 1..6)
        )
            .prop_map(|(at, bytes)| Edit::Insert { at, bytes }),
        (at.clone(), interesting_byte()).prop_map(|(at, byte)| Edit::Replace { at, byte }),
        at.clone().prop_map(|at| Edit::Truncate { at }),
        (at, 1usize..16).prop_map(|(at, len)| Edit::Duplicate { at, len }),
    ];
    proptest::collection::vec(edit, 0..4)
}

fn apply(edits: &[Edit], mut bytes: Vec<u8>) -> Vec<u8> {
    let index = |at: f64, len: usize| ((at * len as f64) as usize).min(len);
    for edit in edits {
        let len = bytes.len();
        match edit {
            Edit::Delete { at, len: n } => {
                let start = index(*at, len);
                bytes.drain(start..(start + n).min(len));
            }
            Edit::Insert { at, bytes: new } => {
                let start = index(*at, len);
                bytes.splice(start..start, new.iter().copied());
            }
            Edit::Replace { at, byte } => {
                if len > 0 {
                    bytes[index(*at, len - 1)] = *byte;
                }
            }
            Edit::Truncate { at } => bytes.truncate(index(*at, len)),
            Edit::Duplicate { at, len: n } => {
                let start = index(*at, len);
                let copy = bytes[start..(start + n).min(len)].to_vec();
                bytes.splice(start..start, copy);
            }
        }
    }
    bytes
}

/// An echo export and arguments of its types.
fn arb_call(echoes: &[Echo]) -> impl Strategy<Value = (Echo, Vec<Val>)> {
    proptest::sample::select(echoes.to_vec()).prop_flat_map(|echo| {
        let args: Vec<_> = echo.params.iter().map(arb_val).collect();
        (Just(echo), args)
    })
}

fn wave_invocation(echo: &Echo, args: &[Val]) -> String {
    let args: Vec<String> = args
        .iter()
        .map(|arg| activity_host::wasm_wave::to_string(arg).unwrap())
        .collect();
    format!("{}({})", echo.name, args.join(", "))
}

/// The key bytes of arguments: equal exactly for the same call (the same
/// values, whatever order wasm-wave lists flags in).
fn call_key(values: &[Val], types: &[Type]) -> Vec<u8> {
    let mut out = Vec::new();
    encode_key_args(values, types, &vec![true; types.len()], &mut out).unwrap();
    out
}

/// Runs `test` on cases of `strategy` until the time budget is spent.
fn fuzz<S: Strategy>(
    target: &str,
    strategy: S,
    test: impl Fn(S::Value) -> Result<(), TestCaseError>,
) where
    S::Value: std::fmt::Debug,
{
    let seconds: u64 = std::env::var("ACTIVITY_FUZZ_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    let regressions = support::repo_root()
        .join("tests/fuzz-regressions")
        .join(format!("{target}.txt"));
    let regressions: &'static str =
        Box::leak(regressions.to_string_lossy().into_owned().into_boxed_str());
    // A runner counts its cases from its start: a fresh one (and a fresh
    // random seed) per round.
    let runner = || {
        TestRunner::new(Config {
            cases: 256,
            failure_persistence: Some(Box::new(FileFailurePersistence::Direct(regressions))),
            ..Config::default()
        })
    };
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let cases = std::cell::Cell::new(0u64);
    let counted = |input| {
        cases.set(cases.get() + 1);
        test(input)
    };
    while cases.get() == 0 || Instant::now() < deadline {
        if let Err(failure) = runner().run(&strategy, counted) {
            panic!("{target}: {failure}");
        }
    }
    eprintln!("{target}: {} cases in {seconds} s", cases.get());
}

#[test]
fn fuzz_wave_invocations_through_the_call_path() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (host, echoes) = typed_host(&runtime);
    let cases = (arb_call(&echoes), arb_edits()).prop_map(|((echo, args), edits)| {
        let text = apply(&edits, wave_invocation(&echo, &args).into_bytes());
        (echo.params, String::from_utf8_lossy(&text).into_owned())
    });
    fuzz("wave", cases, |(params, text)| {
        if let Ok(values) = args_from_wave(&text, &params) {
            let json = Json::Array(values.iter().map(to_json).collect()).to_string();
            let in_json = args_from_json(&serde_json::from_str(&json).unwrap(), &params);
            let in_json = in_json.map(|same| call_key(&same, &params)).ok();
            prop_assert_eq!(
                in_json,
                Some(call_key(&values, &params)),
                "{} as JSON: {}",
                text,
                json
            );
        }
        runtime.block_on(async {
            let Ok(first) = host.call_wave("typed", &text).await else {
                return Ok(());
            };
            let second = host.call_wave("typed", &text).await.unwrap();
            prop_assert_eq!(second.outcome, Outcome::Hit, "{}", text);
            prop_assert_eq!(
                format!("{:?}", second.results()),
                format!("{:?}", first.results()),
                "{}",
                text
            );
            Ok(())
        })
    });
}

/// Any JSON value, with the numbers and strings that break mappings.
fn arb_json() -> impl Strategy<Value = Json> {
    let leaf = prop_oneof![
        Just(Json::Null),
        any::<bool>().prop_map(Json::Bool),
        any::<i64>().prop_map(Json::from),
        any::<u64>().prop_map(Json::from),
        any::<f64>().prop_map(Json::from),
        proptest::sample::select(vec!["NaN", "inf", "-inf", "", "\u{0}", "é", "🦀", "ab"])
            .prop_map(Json::from),
        ".{0,6}".prop_map(Json::String),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Json::Array),
            proptest::collection::btree_map("[a-z-]{0,6}", inner, 0..4)
                .prop_map(|map| Json::Object(map.into_iter().collect())),
        ]
    })
}

/// `json` with its `n`th node (preorder, wrapping) replaced by `new`.
fn replace_node(json: &mut Json, n: &mut usize, new: &Json) -> bool {
    if *n == 0 {
        *json = new.clone();
        return true;
    }
    *n -= 1;
    match json {
        Json::Array(items) => items.iter_mut().any(|item| replace_node(item, n, new)),
        Json::Object(fields) => fields.values_mut().any(|field| replace_node(field, n, new)),
        _ => false,
    }
}

#[test]
fn fuzz_json_arguments() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (_host, echoes) = typed_host(&runtime);
    let cases = (arb_call(&echoes), any::<usize>(), arb_json(), any::<bool>());
    fuzz("json", cases, |((echo, args), node, new, mutate)| {
        let mut json = Json::Array(args.iter().map(to_json).collect());
        if mutate {
            let mut n = node % 64;
            replace_node(&mut json, &mut n, &new);
        }
        let Ok(values) = args_from_json(&json, &echo.params) else {
            return Ok(());
        };
        let again = Json::Array(values.iter().map(to_json).collect());
        let round_trip = args_from_json(&again, &echo.params).map_err(|e| {
            TestCaseError::fail(format!(
                "{json} decoded, but its mapping {again} did not: {e}"
            ))
        })?;
        prop_assert_eq!(format!("{round_trip:?}"), format!("{values:?}"), "{}", json);
        let wave = wave_invocation(&echo, &values);
        let in_wave = args_from_wave(&wave, &echo.params).map(|same| call_key(&same, &echo.params));
        let expected = Some(call_key(&values, &echo.params));
        prop_assert_eq!(in_wave.ok(), expected, "{} as WAVE: {}", json, wave);
        Ok(())
    });
}

/// Valid JSON numerals (the same grammar as WAVE's), and the edges of the
/// numeric types.
fn arb_numeral() -> impl Strategy<Value = String> {
    let edges = [
        "0",
        "-0",
        "255",
        "256",
        "-128",
        "-129",
        "65536",
        "4294967296",
        "9223372036854775807",
        "9223372036854775808",
        "-9223372036854775809",
        "18446744073709551615",
        "18446744073709551616",
        "1e2",
        "1E2",
        "1.0",
        "3.4028235e38",
        "3.4028236e38",
        "1e39",
        "1.7976931348623157e308",
        "1.8e308",
        "4.9e-324",
        "1e-400",
        "0.1",
        "16777217",
        "9007199254740993",
    ];
    prop_oneof![
        proptest::sample::select(edges.to_vec()).prop_map(str::to_owned),
        "-?(0|[1-9][0-9]{0,24})(\\.[0-9]{1,20})?([eE][-+]?[0-9]{1,3})?",
    ]
}

#[test]
fn a_numeral_means_the_same_in_json_and_wave() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (_host, echoes) = typed_host(&runtime);
    let numeric: Vec<Type> = ["echo#echo-ints", "echo#echo-floats"]
        .iter()
        .flat_map(|name| {
            echoes
                .iter()
                .find(|e| e.name == *name)
                .unwrap()
                .params
                .clone()
        })
        .collect();
    let cases = (proptest::sample::select(numeric), arb_numeral());
    fuzz("numeral", cases, |(ty, numeral)| {
        let types = std::slice::from_ref(&ty);
        let json: Json = serde_json::from_str(&format!("[{numeral}]")).unwrap();
        let from_json = args_from_json(&json, types).ok();
        let from_wave = args_from_wave(&format!("f({numeral})"), types).ok();
        prop_assert_eq!(from_json, from_wave, "{} as {:?}", numeral, ty);
        Ok(())
    });
}

#[test]
fn fuzz_stored_entries() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (_host, echoes) = typed_host(&runtime);
    let cases = (arb_call(&echoes), arb_edits());
    fuzz("entry", cases, |((echo, args), edits)| {
        // An echo returns its argument (several as a tuple).
        let result = match <[Val; 1]>::try_from(args) {
            Ok([arg]) => arg,
            Err(args) => Val::Tuple(args),
        };
        let entry = encode_entry(&echo.signature_hash, 7, &[result], &echo.results).unwrap();
        let damaged = apply(&edits, entry);
        let Ok(decoded) = decode_entry(&damaged, &echo.signature_hash, &echo.results) else {
            return Ok(());
        };
        let again = encode_entry(&echo.signature_hash, 7, &decoded.results, &echo.results)
            .map_err(|e| TestCaseError::fail(format!("decoded a value it cannot encode: {e}")))?;
        let round_trip = decode_entry(&again, &echo.signature_hash, &echo.results).unwrap();
        prop_assert_eq!(
            format!("{:?}", round_trip.results),
            format!("{:?}", decoded.results)
        );
        Ok(())
    });
}

/// Found by `fuzz_json_arguments`: the error text of a mistyped argument was
/// cut inside a multi-byte character (a panic in the worker's handler).
#[test]
fn regression_a_long_non_ascii_mistyped_argument_is_a_clear_error() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (_host, echoes) = typed_host(&runtime);
    let bool_echo = echoes.iter().find(|e| e.name == "echo#echo-bool").unwrap();
    let json = serde_json::json!([format!("x{}", "é".repeat(40))]);
    let error = args_from_json(&json, &bool_echo.params).unwrap_err();
    assert!(error.to_string().contains("é..."), "{error}");
}
