//! `#[pepeunit::main(flags)]`.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::parse::Parser;
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{Ident, ItemFn, ReturnType, Token, Visibility};

use crate::errors::Errors;
use crate::examples::{EnvExample, SchemaExample};
use crate::{Features, signature};

/// The platform commands the REST layer runs.
const REST_COMMANDS: [&str; 3] = [
    "update/pepeunit",
    "env_update/pepeunit",
    "schema_update/pepeunit",
];

/// The generated `fn main()` (see the attribute's docs), or the item and every error found.
pub(crate) fn expand(
    attr: TokenStream,
    item: TokenStream,
    features: Features,
    schema: syn::Result<Option<SchemaExample>>,
    env: syn::Result<Option<EnvExample>>,
) -> TokenStream {
    let mut errors = Errors::default();
    let (mqtt, rest) = flags(attr.clone(), features, &mut errors);
    let schema = errors.ok(schema).flatten();
    let env = errors.ok(env).flatten();
    if attr.is_empty() && !features.mqtt && !features.rest {
        errors.at_attribute(
            "`#[pepeunit::main]` runs on tokio, which comes with the `mqtt` or `rest` feature: \
             add one to the `pepeunit` dependency",
        );
    }
    if let Some(schema) = &schema
        && !rest
    {
        check_rest_commands(schema, &attr, &mut errors);
    }
    let function = match syn::parse2::<ItemFn>(item.clone()) {
        Ok(function) => function,
        Err(_) => {
            errors.at(&item, "`#[pepeunit::main]` applies to an `async fn`");
            return errors.finish(item);
        }
    };
    let sig = &function.sig;
    if sig.asyncness.is_none() {
        errors.push(syn::Error::new(
            sig.fn_token.span,
            "`#[pepeunit::main]` needs an `async fn`",
        ));
    }
    let types = signature::check(sig, "main", &["unit: PepeunitClient"], &mut errors);
    // Type errors land on the user's own argument and return types.
    let arg = types.first().map(|ty| quote_spanned!(ty.span()=> unit));
    let result_span = match &sig.output {
        ReturnType::Type(_, ty) => ty.span(),
        ReturnType::Default => sig.ident.span(),
    };
    // The user's function, renamed, goes inside the generated one; its attributes and visibility
    // go on the generated one.
    let mut function = function;
    let attrs = std::mem::take(&mut function.attrs);
    let vis = std::mem::replace(&mut function.vis, Visibility::Inherited);
    let setup = format_ident!("__pepeunit_setup", span = function.sig.ident.span());
    let name = std::mem::replace(&mut function.sig.ident, setup.clone());
    // With errors, the function is kept (inside a plain `fn main()`) so that rustc adds no
    // follow-up errors ("`main` is not allowed to be `async`").
    let run = match (errors.is_empty(), arg) {
        (true, Some(arg)) => quote_spanned! {result_span=>
            // The closure carries the spans that put type errors on the user's types.
            #[allow(clippy::redundant_closure)]
            let setup = |unit: ::pepeunit::client::PepeunitClient| #setup(#arg);
            if let ::core::result::Result::Err(error) = ::pepeunit::__private::run(#mqtt, #rest, setup) {
                ::std::eprintln!("error: {error}");
                ::std::process::exit(1);
            }
        },
        _ => quote!(),
    };
    let tracked = schema.map(|s| s.track());
    let env_accessors = env.map(|e| e.accessors());
    errors.finish(quote! {
        #(#attrs)*
        #vis fn #name() {
            #[allow(dead_code)]
            #function
            #run
        }

        /// The flags of `#[pepeunit::main]`, checked by `#[pepeunit::input]` and `#[pepeunit::output]`.
        #[doc(hidden)]
        #[allow(non_camel_case_types)]
        type __pepeunit_main = ::pepeunit::__private::MainFlags<#mqtt>;

        #tracked
        #env_accessors
    })
}

/// An error, on the flags, for each command of schema_example.json's `input_base_topic` that only
/// the REST layer runs (called when the `rest` flag is missing).
fn check_rest_commands(schema: &SchemaExample, attr: &TokenStream, errors: &mut Errors) {
    let listed: Vec<&str> = REST_COMMANDS
        .into_iter()
        .filter(|c| schema.input_base_topic.iter().any(|t| t == c))
        .collect();
    if listed.is_empty() {
        return;
    }
    let span = attr
        .clone()
        .into_iter()
        .next()
        .map_or(Span::call_site(), |t| t.span());
    let which = match listed.len() {
        1 => "that command",
        _ => "those commands",
    };
    errors.push(syn::Error::new(
        span,
        format!(
            "schema_example.json lists `{}` in input_base_topic: add the `rest` flag, which runs {which}",
            listed.join("`, `")
        ),
    ));
}

/// Parses `mqtt, rest`: each flag known, given once, and its feature on.
fn flags(attr: TokenStream, features: Features, errors: &mut Errors) -> (bool, bool) {
    let idents = match Punctuated::<Ident, Token![,]>::parse_terminated.parse2(attr) {
        Ok(idents) => idents,
        Err(e) => {
            errors.push(e);
            return (false, false);
        }
    };
    let (mut mqtt, mut rest) = (false, false);
    for ident in idents {
        let (seen, feature_on) = match ident.to_string().as_str() {
            "mqtt" => (&mut mqtt, features.mqtt),
            "rest" => (&mut rest, features.rest),
            _ => {
                errors.at(
                    &ident,
                    format!("unknown flag `{ident}`: expected `mqtt` or `rest`"),
                );
                continue;
            }
        };
        if *seen {
            errors.at(&ident, format!("`{ident}` is given twice"));
        } else if !feature_on {
            errors.at(
                &ident,
                format!(
                    "the `{ident}` flag needs the `{ident}` feature of pepeunit: \
                     add `features = [\"{ident}\"]` to the `pepeunit` dependency"
                ),
            );
        }
        *seen = true;
    }
    (mqtt, rest)
}
