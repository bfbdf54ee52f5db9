//! The WIT text of an export's signature, as shown by `inspect` and hashed
//! into every key.

use wasmtime::component::Type;
use wasmtime::component::types::ComponentFunc;
use wasmtime::component::wasm_wave::wasm::DisplayType;

/// The WIT text of a function type: `func(user-id: u64) -> string`.
pub(super) fn signature(func_type: &ComponentFunc) -> String {
    let params: Vec<String> = func_type
        .params()
        .map(|(name, ty)| format!("{name}: {}", type_text(&ty)))
        .collect();
    let mut text = format!("func({})", params.join(", "));
    for result in func_type.results() {
        text.push_str(&format!(" -> {}", type_text(&result)));
    }
    text
}

/// The WIT text of a type, structurally (named types are spelled out, as
/// wasmtime does not keep their names): `record { id: u64, name: string }`.
fn type_text(ty: &Type) -> String {
    let list = |items: Vec<String>| items.join(", ");
    match ty {
        Type::List(list_ty) => format!("list<{}>", type_text(&list_ty.ty())),
        Type::FixedLengthList(list_ty) => {
            format!("list<{}, {}>", type_text(&list_ty.ty()), list_ty.len())
        }
        Type::Map(map) => format!(
            "map<{}, {}>",
            type_text(&map.key()),
            type_text(&map.value())
        ),
        Type::Record(record) => format!(
            "record {{ {} }}",
            list(
                record
                    .fields()
                    .map(|f| format!("{}: {}", f.name, type_text(&f.ty)))
                    .collect()
            )
        ),
        Type::Tuple(tuple) => format!(
            "tuple<{}>",
            list(tuple.types().map(|t| type_text(&t)).collect())
        ),
        Type::Variant(variant) => format!(
            "variant {{ {} }}",
            list(
                variant
                    .cases()
                    .map(|case| match case.ty {
                        Some(ty) => format!("{}({})", case.name, type_text(&ty)),
                        None => case.name.to_owned(),
                    })
                    .collect()
            )
        ),
        Type::Option(option) => format!("option<{}>", type_text(&option.ty())),
        Type::Result(result) => match (result.ok(), result.err()) {
            (None, None) => "result".to_owned(),
            (Some(ok), None) => format!("result<{}>", type_text(&ok)),
            (ok, err) => format!(
                "result<{}, {}>",
                ok.map_or("_".to_owned(), |t| type_text(&t)),
                err.map_or("_".to_owned(), |t| type_text(&t))
            ),
        },
        Type::Own(_) => "own<resource>".to_owned(),
        Type::Borrow(_) => "borrow<resource>".to_owned(),
        Type::Future(future) => format!(
            "future<{}>",
            future.ty().map_or("_".to_owned(), |t| type_text(&t))
        ),
        Type::Stream(stream) => format!(
            "stream<{}>",
            stream.ty().map_or("_".to_owned(), |t| type_text(&t))
        ),
        Type::ErrorContext => "error-context".to_owned(),
        // Primitives, enums and flags print the same as WAVE's type display.
        primitive => DisplayType(primitive).to_string(),
    }
}
