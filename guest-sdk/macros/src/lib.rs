//! The attribute macros of `activity-sdk`; use them through that crate
//! (`activity_sdk::bindings!`, `#[activity_sdk::activity]`,
//! `#[activity_sdk::actor_cache]`), whose documentation shows them in use.

use proc_macro::TokenStream;
use proc_macro2::{Span, TokenStream as TokenStream2};
use quote::{quote, quote_spanned};
use syn::parse::{Parse, ParseStream, Parser};
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{
    Attribute, Expr, ExprArray, ExprLit, FnArg, ImplItem, ItemFn, ItemImpl, Lit, LitStr, Meta, Pat,
    ReturnType, Token,
};

/// The contract's WIT files, vendored in `activity-sdk`.
const CONTRACT_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../wit");

/// Generates the component's bindings in `mod bindings` for the world named
/// by the string literal (found in the crate's own `wit/` folder, with the
/// activity contract vendored in `activity-sdk`).
#[proc_macro]
pub fn bindings(input: TokenStream) -> TokenStream {
    let world = match syn::parse::<LitStr>(input) {
        Ok(world) => world,
        Err(error) => return error.to_compile_error().into(),
    };
    quote! {
        #[allow(missing_docs)] // generated from the WIT, which carries the docs
        mod bindings {
            ::activity_sdk::wit_bindgen::generate!({
                world: #world,
                path: [#CONTRACT_DIR, "wit"],
                runtime_path: "::activity_sdk::wit_bindgen::rt",
                with: {
                    "activity:cache/types@0.1.0": ::activity_sdk::types,
                    "activity:cache/actor-cache@0.1.0": ::activity_sdk::actor_cache::raw,
                },
                generate_all,
            });
        }
    }
    .into()
}

/// On an `impl Guest for T` block of exported functions: each function's
/// `#[cache(...)]` attribute becomes its rule in a generated `rules` export.
#[proc_macro_attribute]
pub fn activity(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand(activity_impl(attr.into(), item.into()))
}

/// On a helper function: memoizes it in the replica's actor cache, keyed by
/// its arguments; `#[actor_cache(ttl = "10m")]` bounds how long a result is
/// kept.
#[proc_macro_attribute]
pub fn actor_cache(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand(actor_cache_fn(attr.into(), item.into()))
}

fn expand(result: syn::Result<TokenStream2>) -> TokenStream {
    result.unwrap_or_else(syn::Error::into_compile_error).into()
}

fn activity_impl(attr: TokenStream2, item: TokenStream2) -> syn::Result<TokenStream2> {
    if !attr.is_empty() {
        return Err(syn::Error::new(
            attr.span(),
            "`#[activity]` takes no arguments",
        ));
    }
    let mut block: ItemImpl = syn::parse2(item)?;
    if block.trait_.is_none() {
        return Err(syn::Error::new(
            block.self_ty.span(),
            "`#[activity]` goes on the `impl Guest for ...` block of the exported functions",
        ));
    }
    let mut rules = Vec::new();
    for item in &mut block.items {
        let ImplItem::Fn(function) = item else {
            continue;
        };
        let mut found = None;
        for attr in std::mem::take(&mut function.attrs) {
            if !attr.path().is_ident("cache") {
                function.attrs.push(attr);
            } else if found.is_some() {
                return Err(syn::Error::new(
                    attr.span(),
                    "one `#[cache(...)]` per function",
                ));
            } else {
                found = Some(attr);
            }
        }
        if let Some(attr) = found {
            let export = wit_name(&function.sig.ident);
            rules.push(CacheAttr::parse(&attr)?.rule(&export));
        }
    }
    let self_ty = &block.self_ty;
    Ok(quote! {
        #block

        impl crate::bindings::exports::activity::cache::rules::Guest for #self_ty {
            fn declare() -> ::std::vec::Vec<::activity_sdk::Rule> {
                ::std::vec![#(#rules),*]
            }
        }
    })
}

/// A `#[cache(POLICY, ttl = "1h", cache_errors, ignore = ["param"])]`.
struct CacheAttr {
    policy: syn::Ident,
    ttl_ms: Option<u64>,
    cache_errors: bool,
    ignore: Vec<LitStr>,
}

impl CacheAttr {
    fn parse(attr: &Attribute) -> syn::Result<Self> {
        let Meta::List(list) = &attr.meta else {
            return Err(syn::Error::new(
                attr.span(),
                "write `#[cache(inputs)]`, `#[cache(task_source)]` or `#[cache(no_cache)]`",
            ));
        };
        let items = Punctuated::<Meta, Token![,]>::parse_terminated.parse2(list.tokens.clone())?;
        let mut items = items.into_iter();
        let policy = match items.next() {
            Some(Meta::Path(path)) if is_policy(&path) => path.get_ident().cloned(),
            Some(other) => {
                return Err(syn::Error::new(
                    other.span(),
                    "the first argument is the policy: inputs, task_source or no_cache",
                ));
            }
            None => None,
        }
        .ok_or_else(|| {
            syn::Error::new(
                list.span(),
                "name a policy: inputs, task_source or no_cache",
            )
        })?;
        let mut parsed = Self {
            policy,
            ttl_ms: None,
            cache_errors: false,
            ignore: Vec::new(),
        };
        for item in items {
            match &item {
                Meta::NameValue(pair) if pair.path.is_ident("ttl") && parsed.ttl_ms.is_none() => {
                    parsed.ttl_ms = Some(ttl_ms(&pair.value)?);
                }
                Meta::NameValue(pair)
                    if pair.path.is_ident("ignore") && parsed.ignore.is_empty() =>
                {
                    parsed.ignore = param_names(&pair.value)?;
                }
                Meta::Path(path) if path.is_ident("cache_errors") && !parsed.cache_errors => {
                    parsed.cache_errors = true;
                }
                Meta::NameValue(pair)
                    if ["ttl", "ignore"].iter().any(|k| pair.path.is_ident(k)) =>
                {
                    return Err(syn::Error::new(pair.span(), "this setting is given twice"));
                }
                Meta::Path(path) if path.is_ident("cache_errors") => {
                    return Err(syn::Error::new(path.span(), "this setting is given twice"));
                }
                other => {
                    return Err(syn::Error::new(
                        other.span(),
                        "unknown cache setting; expected `ttl = \"1h\"`, `cache_errors` or \
                         `ignore = [\"param\"]`",
                    ));
                }
            }
        }
        if parsed.policy == "no_cache"
            && (parsed.ttl_ms.is_some() || parsed.cache_errors || !parsed.ignore.is_empty())
        {
            return Err(syn::Error::new(
                list.span(),
                "`no_cache` takes no other settings: nothing is cached",
            ));
        }
        Ok(parsed)
    }

    /// The `activity_sdk::Rule` expression for export `export`.
    fn rule(&self, export: &str) -> TokenStream2 {
        let constructor = &self.policy;
        let mut rule = quote! { ::activity_sdk::Rule::#constructor(#export) };
        if let Some(ttl) = self.ttl_ms {
            rule = quote! { #rule.ttl(#ttl) };
        }
        if self.cache_errors {
            rule = quote! { #rule.cache_errors() };
        }
        for param in &self.ignore {
            rule = quote! { #rule.ignore(#param) };
        }
        rule
    }
}

fn is_policy(path: &syn::Path) -> bool {
    ["inputs", "task_source", "no_cache"]
        .iter()
        .any(|policy| path.is_ident(policy))
}

/// A `"1h"`-style duration literal in milliseconds.
fn ttl_ms(value: &Expr) -> syn::Result<u64> {
    let text = string_literal(value, "write the TTL as a string, e.g. `ttl = \"10m\"`")?;
    let duration = humantime::parse_duration(&text.value()).map_err(|error| {
        syn::Error::new(
            text.span(),
            format!("not a duration ({error}); e.g. \"250ms\", \"90s\", \"10m\", \"1h\""),
        )
    })?;
    if duration.is_zero() {
        return Err(syn::Error::new(
            text.span(),
            "a TTL must be longer than zero",
        ));
    }
    u64::try_from(duration.as_millis())
        .map_err(|_| syn::Error::new(text.span(), "this TTL does not fit in milliseconds"))
}

/// A `["param", ...]` list of WIT parameter names.
fn param_names(value: &Expr) -> syn::Result<Vec<LitStr>> {
    let Expr::Array(ExprArray { elems, .. }) = value else {
        return Err(syn::Error::new(
            value.span(),
            "write the ignored parameters as a list, e.g. `ignore = [\"trace-id\"]`",
        ));
    };
    elems
        .iter()
        .map(|elem| string_literal(elem, "parameter names are strings"))
        .collect()
}

fn string_literal(value: &Expr, message: &str) -> syn::Result<LitStr> {
    match value {
        Expr::Lit(ExprLit {
            lit: Lit::Str(text),
            ..
        }) => Ok(text.clone()),
        other => Err(syn::Error::new(other.span(), message)),
    }
}

/// The WIT name of a Rust function name: `fetch_user` is `fetch-user`;
/// wit-bindgen's `type_` (a WIT name that is a Rust keyword) is `type`.
fn wit_name(ident: &syn::Ident) -> String {
    let name = ident.to_string();
    let name = name.strip_prefix("r#").unwrap_or(&name);
    let name = name.strip_suffix('_').unwrap_or(name);
    name.replace('_', "-")
}

/// `#[actor_cache]` / `#[actor_cache(ttl = "10m")]`.
struct ActorCacheAttr {
    ttl_ms: Option<u64>,
}

impl Parse for ActorCacheAttr {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let mut ttl = None;
        for item in Punctuated::<Meta, Token![,]>::parse_terminated(input)? {
            match &item {
                Meta::NameValue(pair) if pair.path.is_ident("ttl") => {
                    if ttl.is_some() {
                        return Err(syn::Error::new(pair.span(), "`ttl` is given twice"));
                    }
                    ttl = Some(ttl_ms(&pair.value)?);
                }
                other => {
                    return Err(syn::Error::new(
                        other.span(),
                        "expected nothing or `ttl = \"10m\"`",
                    ));
                }
            }
        }
        Ok(Self { ttl_ms: ttl })
    }
}

fn actor_cache_fn(attr: TokenStream2, item: TokenStream2) -> syn::Result<TokenStream2> {
    let ActorCacheAttr { ttl_ms } = syn::parse2(attr)?;
    let function: ItemFn = syn::parse2(item)?;
    let sig = &function.sig;
    if let Some(asyncness) = sig.asyncness {
        return Err(syn::Error::new(
            asyncness.span(),
            "an actor-cache helper cannot be async (guests call it synchronously)",
        ));
    }
    let ReturnType::Type(_, result) = &sig.output else {
        return Err(syn::Error::new(
            sig.span(),
            "an actor-cache helper returns the value to cache: add `-> T`",
        ));
    };
    if matches!(**result, syn::Type::Reference(_) | syn::Type::ImplTrait(_)) {
        return Err(syn::Error::new(
            result.span(),
            "an actor-cache helper returns an owned value (it is stored and handed to \
             other calls): not a reference or `impl Trait`",
        ));
    }
    let mut params = Vec::new();
    for input in &sig.inputs {
        match input {
            FnArg::Receiver(receiver) => {
                return Err(syn::Error::new(
                    receiver.span(),
                    "an actor-cache helper is a free function: its key is its arguments, \
                     so it cannot take `self`",
                ));
            }
            FnArg::Typed(typed) => match &*typed.pat {
                Pat::Ident(ident) if ident.by_ref.is_none() && ident.subpat.is_none() => {
                    // Spanned at its type: a key part that is not
                    // `Serialize` is reported there.
                    let name = &ident.ident;
                    params.push(quote_spanned! {typed.ty.span()=>
                        ::activity_sdk::actor_cache::key_part(&#name)
                    });
                }
                other => {
                    return Err(syn::Error::new(
                        other.span(),
                        "name each argument of an actor-cache helper (no patterns): the \
                         arguments are its key",
                    ));
                }
            },
        }
    }
    let helper = wit_name(&sig.ident);
    let ttl = match ttl_ms {
        Some(ms) => {
            quote! { ::core::option::Option::Some(::core::time::Duration::from_millis(#ms)) }
        }
        None => quote! { ::core::option::Option::None },
    };
    let (attrs, vis, block) = (&function.attrs, &function.vis, &function.block);
    // Hygienic: the key's name cannot collide with an argument's.
    let key = syn::Ident::new("key", Span::mixed_site());
    Ok(quote! {
        #(#attrs)*
        #vis #sig {
            // The module path keeps same-named helpers of two modules apart.
            let #key = ::activity_sdk::actor_cache::encode_key::<#result, _>(
                &(::core::module_path!(), #(#params,)*),
            );
            ::activity_sdk::actor_cache::Helper::new(#helper)
                .ttl(#ttl)
                .get_or_compute_encoded(#key, move || -> #result #block)
        }
    })
}
