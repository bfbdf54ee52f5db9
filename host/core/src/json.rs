//! JSON ⇄ component values, for the HTTP worker.
//!
//! | WIT type | JSON |
//! |---|---|
//! | `bool` | `true` / `false` |
//! | integers | numbers (a decimal string is accepted too, for 64-bit values beyond what a client's doubles hold) |
//! | `f32`, `f64` | numbers (an `f32` written in its own shortest form); `"NaN"`, `"Infinity"`, `"-Infinity"` as strings |
//! | `char`, `string` | strings (a `char` is a one-character string) |
//! | `list<T>`, fixed-length lists, `tuple<…>` | arrays |
//! | `map<K, V>` | an array of `[key, value]` pairs |
//! | `record` | an object keyed by field name (every field required, no others) |
//! | `variant` | `"case"` for a case without payload, `{"case": payload}` with one |
//! | `enum` | `"case"` |
//! | `option<T>` | `null` for `none`, the value for `some`; when `T` is itself an option, `{"some": value}` |
//! | `result<T, E>` | `{"ok": value}` / `{"err": value}` (`null` where that side has no type) |
//! | `flags` | an array of the set flags' names, each once |
//! | no result | `null` |
//!
//! A number is read from its text as written (serde_json keeps it, feature
//! `arbitrary_precision`) with the same parser WAVE uses, so a numeral means
//! the same value in both syntaxes and errors quote it as the caller wrote
//! it; a finite number too large for its float type is an error, not
//! infinity.

use std::str::FromStr;

use serde_json::{Map, Number, Value as Json};
use wasmtime::component::{Type, Val};

/// JSON that does not describe a value of the expected type.
#[derive(Debug, thiserror::Error)]
#[error("at {path}: expected {expected}, got {got}")]
pub struct JsonError {
    /// Where in the argument: `$[0].label`.
    pub path: String,
    /// What the type wants.
    pub expected: String,
    /// What was given.
    pub got: String,
}

/// The JSON form of `value`.
pub fn to_json(value: &Val) -> Json {
    match value {
        Val::Bool(b) => Json::Bool(*b),
        Val::S8(n) => Json::from(*n),
        Val::U8(n) => Json::from(*n),
        Val::S16(n) => Json::from(*n),
        Val::U16(n) => Json::from(*n),
        Val::S32(n) => Json::from(*n),
        Val::U32(n) => Json::from(*n),
        Val::S64(n) => Json::from(*n),
        Val::U64(n) => Json::from(*n),
        Val::Float32(x) if x.is_finite() => Json::from(*x),
        Val::Float32(x) => non_finite_to_json(f64::from(*x)),
        Val::Float64(x) => {
            Number::from_f64(*x).map_or_else(|| non_finite_to_json(*x), Json::Number)
        }
        Val::Char(c) => Json::String(c.to_string()),
        Val::String(s) => Json::String(s.clone()),
        Val::List(items) | Val::Tuple(items) | Val::FixedLengthList(items) => {
            Json::Array(items.iter().map(to_json).collect())
        }
        Val::Map(pairs) => Json::Array(
            pairs
                .iter()
                .map(|(k, v)| Json::Array(vec![to_json(k), to_json(v)]))
                .collect(),
        ),
        Val::Record(fields) => Json::Object(
            fields
                .iter()
                .map(|(name, v)| (name.clone(), to_json(v)))
                .collect(),
        ),
        Val::Variant(case, None) | Val::Enum(case) => Json::String(case.clone()),
        Val::Variant(case, Some(payload)) => single(case, to_json(payload)),
        Val::Option(None) => Json::Null,
        Val::Option(Some(inner)) => match &**inner {
            Val::Option(_) => single("some", to_json(inner)),
            other => to_json(other),
        },
        Val::Result(Ok(payload)) => single("ok", payload.as_deref().map_or(Json::Null, to_json)),
        Val::Result(Err(payload)) => single("err", payload.as_deref().map_or(Json::Null, to_json)),
        Val::Flags(names) => Json::Array(names.iter().cloned().map(Json::String).collect()),
        Val::Resource(_) | Val::Future(_) | Val::Stream(_) | Val::ErrorContext(_) => {
            Json::String("<handle>".to_owned())
        }
    }
}

fn single(key: &str, value: Json) -> Json {
    let mut object = Map::new();
    object.insert(key.to_owned(), value);
    Json::Object(object)
}

fn non_finite_to_json(x: f64) -> Json {
    let text = if x.is_nan() {
        "NaN"
    } else if x > 0.0 {
        "Infinity"
    } else {
        "-Infinity"
    };
    Json::String(text.to_owned())
}

/// The value of type `ty` that `json` describes.
pub fn from_json(json: &Json, ty: &Type) -> Result<Val, JsonError> {
    Reader {
        path: "$".to_owned(),
    }
    .value(json, ty)
}

/// The arguments of a function with parameter types `types`, given as a JSON
/// array with one element per parameter.
pub fn args_from_json(json: &Json, types: &[Type]) -> Result<Vec<Val>, JsonError> {
    let reader = Reader {
        path: "$".to_owned(),
    };
    let count = match types.len() {
        1 => "1 argument".to_owned(),
        n => format!("{n} arguments"),
    };
    let Json::Array(items) = json else {
        return Err(reader.error(format!("an array of {count}"), json));
    };
    if items.len() != types.len() {
        return Err(reader.error(count, json));
    }
    items
        .iter()
        .zip(types)
        .enumerate()
        .map(|(i, (item, ty))| reader.at(&format!("[{i}]")).value(item, ty))
        .collect()
}

struct Reader {
    path: String,
}

impl Reader {
    fn at(&self, step: &str) -> Reader {
        Reader {
            path: format!("{}{step}", self.path),
        }
    }

    fn error(&self, expected: impl Into<String>, got: &Json) -> JsonError {
        JsonError {
            path: self.path.clone(),
            expected: expected.into(),
            got: crate::error::excerpt(&got.to_string(), 60).into_owned(),
        }
    }

    /// An integer from a number's text as written, or a decimal string.
    fn integer<T: FromStr>(&self, json: &Json, name: &str) -> Result<T, JsonError> {
        let text = match json {
            Json::Number(n) => n.as_str(),
            Json::String(s) => s.as_str(),
            _ => "",
        };
        text.parse().map_err(|_| self.error(name, json))
    }

    /// A float from a number's text as written (finite numbers only: one
    /// too large for `T` is an error), or one of the non-finite strings.
    fn float<T: FromStr + Into<f64> + Copy>(
        &self,
        json: &Json,
        name: &str,
    ) -> Result<T, JsonError> {
        let parsed = match json {
            Json::Number(n) => n
                .as_str()
                .parse()
                .ok()
                .filter(|x: &T| (*x).into().is_finite()),
            Json::String(s) if matches!(s.as_str(), "NaN" | "Infinity" | "-Infinity") => {
                s.parse().ok()
            }
            _ => None,
        };
        parsed.ok_or_else(|| self.error(name, json))
    }

    fn payload(
        &self,
        json: &Json,
        ty: Option<Type>,
        step: &str,
    ) -> Result<Option<Box<Val>>, JsonError> {
        match (ty, json) {
            (None, Json::Null) => Ok(None),
            (None, _) => Err(self.at(step).error("null (no payload)", json)),
            (Some(ty), _) => Ok(Some(Box::new(self.at(step).value(json, &ty)?))),
        }
    }

    fn value(&self, json: &Json, ty: &Type) -> Result<Val, JsonError> {
        Ok(match ty {
            Type::Bool => Val::Bool(
                json.as_bool()
                    .ok_or_else(|| self.error("a boolean", json))?,
            ),
            Type::S8 => Val::S8(self.integer(json, "an s8")?),
            Type::U8 => Val::U8(self.integer(json, "a u8")?),
            Type::S16 => Val::S16(self.integer(json, "an s16")?),
            Type::U16 => Val::U16(self.integer(json, "a u16")?),
            Type::S32 => Val::S32(self.integer(json, "an s32")?),
            Type::U32 => Val::U32(self.integer(json, "a u32")?),
            Type::S64 => Val::S64(self.integer(json, "an s64")?),
            Type::U64 => Val::U64(self.integer(json, "a u64")?),
            Type::Float32 => Val::Float32(self.float(json, "an f32")?),
            Type::Float64 => Val::Float64(self.float(json, "an f64")?),
            Type::Char => {
                let text = json
                    .as_str()
                    .ok_or_else(|| self.error("a one-character string", json))?;
                let mut chars = text.chars();
                match (chars.next(), chars.next()) {
                    (Some(c), None) => Val::Char(c),
                    _ => return Err(self.error("a one-character string", json)),
                }
            }
            Type::String => Val::String(
                json.as_str()
                    .ok_or_else(|| self.error("a string", json))?
                    .to_owned(),
            ),
            Type::List(list) => Val::List(self.items(json, &list.ty(), None)?),
            Type::FixedLengthList(list) => {
                Val::FixedLengthList(self.items(json, &list.ty(), Some(list.len() as usize))?)
            }
            Type::Map(map) => {
                let pairs = json
                    .as_array()
                    .ok_or_else(|| self.error("an array of [key, value] pairs", json))?;
                let mut out = Vec::with_capacity(pairs.len());
                for (i, pair) in pairs.iter().enumerate() {
                    let here = self.at(&format!("[{i}]"));
                    let [k, v] = pair.as_array().map(Vec::as_slice).unwrap_or_default() else {
                        return Err(here.error("a [key, value] pair", pair));
                    };
                    out.push((
                        here.at("[0]").value(k, &map.key())?,
                        here.at("[1]").value(v, &map.value())?,
                    ));
                }
                Val::Map(out)
            }
            Type::Record(record) => {
                let object = json
                    .as_object()
                    .ok_or_else(|| self.error("an object", json))?;
                if let Some(unknown) = object
                    .keys()
                    .find(|k| !record.fields().any(|f| f.name == k.as_str()))
                {
                    return Err(self
                        .at(&format!(".{unknown}"))
                        .error("no such field", &object[unknown]));
                }
                let fields = record.fields().map(|field| {
                    let here = self.at(&format!(".{}", field.name));
                    let value = object
                        .get(field.name)
                        .ok_or_else(|| here.error("a value (missing field)", json))?;
                    Ok((field.name.to_owned(), here.value(value, &field.ty)?))
                });
                Val::Record(fields.collect::<Result<_, JsonError>>()?)
            }
            Type::Tuple(tuple) => {
                let items = json
                    .as_array()
                    .ok_or_else(|| self.error("an array", json))?;
                if items.len() != tuple.types().len() {
                    return Err(self.error(format!("an array of {}", tuple.types().len()), json));
                }
                let values = items
                    .iter()
                    .zip(tuple.types())
                    .enumerate()
                    .map(|(i, (item, ty))| self.at(&format!("[{i}]")).value(item, &ty));
                Val::Tuple(values.collect::<Result<_, _>>()?)
            }
            Type::Variant(variant) => {
                let (case, payload) = tagged(json)
                    .ok_or_else(|| self.error("\"case\" or {\"case\": payload}", json))?;
                let found = variant
                    .cases()
                    .find(|c| c.name == case)
                    .ok_or_else(|| self.error("a case of the variant", json))?;
                let payload = match (found.ty, payload) {
                    (None, None) => None,
                    (Some(ty), Some(payload)) => {
                        Some(Box::new(self.at(&format!(".{case}")).value(payload, &ty)?))
                    }
                    _ => {
                        return Err(self.error(
                            format!("case `{case}` with its payload as the type says"),
                            json,
                        ));
                    }
                };
                Val::Variant(case.to_owned(), payload)
            }
            Type::Enum(enum_) => {
                let case = json.as_str().filter(|c| enum_.names().any(|n| n == *c));
                Val::Enum(
                    case.ok_or_else(|| self.error("a case of the enum", json))?
                        .to_owned(),
                )
            }
            Type::Option(option) => {
                let inner = option.ty();
                match json {
                    Json::Null => Val::Option(None),
                    _ if matches!(inner, Type::Option(_)) => {
                        let wrapped = json
                            .as_object()
                            .and_then(|o| o.get("some"))
                            .filter(|_| json.as_object().is_some_and(|o| o.len() == 1));
                        let wrapped =
                            wrapped.ok_or_else(|| self.error("null or {\"some\": value}", json))?;
                        Val::Option(Some(Box::new(self.at(".some").value(wrapped, &inner)?)))
                    }
                    _ => Val::Option(Some(Box::new(self.value(json, &inner)?))),
                }
            }
            Type::Result(result) => match tagged(json) {
                Some(("ok", Some(payload))) => {
                    Val::Result(Ok(self.payload(payload, result.ok(), ".ok")?))
                }
                Some(("err", Some(payload))) => {
                    Val::Result(Err(self.payload(payload, result.err(), ".err")?))
                }
                _ => return Err(self.error("{\"ok\": value} or {\"err\": value}", json)),
            },
            Type::Flags(flags) => {
                let names = json
                    .as_array()
                    .ok_or_else(|| self.error("an array of flag names", json))?;
                let mut set = Vec::new();
                for (i, name) in names.iter().enumerate() {
                    let here = self.at(&format!("[{i}]"));
                    let known = name.as_str().filter(|n| flags.names().any(|f| f == *n));
                    let known = known.ok_or_else(|| here.error("a flag name", name))?;
                    if set.contains(&known) {
                        return Err(here.error("each flag once", name));
                    }
                    set.push(known);
                }
                Val::Flags(
                    flags
                        .names()
                        .filter(|f| set.contains(f))
                        .map(str::to_owned)
                        .collect(),
                )
            }
            Type::Own(_)
            | Type::Borrow(_)
            | Type::Future(_)
            | Type::Stream(_)
            | Type::ErrorContext => {
                return Err(self.error(
                    "a value (resources, futures and streams cannot be passed as JSON)",
                    json,
                ));
            }
        })
    }

    fn items(&self, json: &Json, ty: &Type, len: Option<usize>) -> Result<Vec<Val>, JsonError> {
        let items = json
            .as_array()
            .ok_or_else(|| self.error("an array", json))?;
        if let Some(len) = len.filter(|len| *len != items.len()) {
            return Err(self.error(format!("an array of {len}"), json));
        }
        items
            .iter()
            .enumerate()
            .map(|(i, item)| self.at(&format!("[{i}]")).value(item, ty))
            .collect()
    }
}

/// `"case"` → (case, None); `{"case": payload}` → (case, Some(payload)).
fn tagged(json: &Json) -> Option<(&str, Option<&Json>)> {
    match json {
        Json::String(case) => Some((case, None)),
        Json::Object(object) if object.len() == 1 => {
            object.iter().next().map(|(k, v)| (k.as_str(), Some(v)))
        }
        _ => None,
    }
}
