//! `#[pepeunit::input("NAME")]`: parse the name, check it, generate the typed handler.

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::LitStr;
use syn::spanned::Spanned;

use crate::args::{self, Arg};
use crate::errors::Errors;
use crate::examples::SchemaExample;
use crate::item::UnitFn;
use crate::paths::Item;
use crate::signature::Param;
use crate::{Features, handler, signature};

/// What the attribute says.
pub(crate) struct InputConfig {
    /// The `input_topic` name.
    name: LitStr,
    /// `publish = "NAME"`: the output the function's value is published to.
    publish: Option<LitStr>,
}

impl InputConfig {
    /// `"NAME" [, publish = "OUTPUT"]`, or `None` with an error.
    fn parse(attr: TokenStream, errors: &mut Errors) -> Option<InputConfig> {
        let message = "`#[pepeunit::input]` takes the input_topic name: \
                       `#[pepeunit::input(\"input/pepeunit\")]`";
        let args = match args::parse(attr.clone()) {
            Ok(args) => args,
            Err(_) => {
                errors.at(&attr, message);
                return None;
            }
        };
        let mut args = args.into_iter();
        let name = match args.next() {
            Some(Arg::Name(name)) if !name.value().is_empty() => name,
            _ => {
                match attr.is_empty() {
                    true => errors.at_attribute(message),
                    false => errors.at(&attr, message),
                }
                return None;
            }
        };
        let mut publish = None;
        for arg in args {
            match arg {
                Arg::Option { key, value } if key == "publish" => {
                    let topic = errors.ok(args::string_value(&key, value, "\"output/pepeunit\""));
                    match publish {
                        Some(_) => errors.at(&key, "`publish` is given twice"),
                        None => publish = topic,
                    }
                }
                Arg::Name(name) => errors.at(&name, "`#[pepeunit::input]` takes one input_topic name"),
                Arg::Flag(key) | Arg::Option { key, .. } => errors.at(
                    &key,
                    format!("unknown option `{key}`: `#[pepeunit::input]` takes an input_topic name and `publish = \"…\"`"),
                ),
            }
        }
        Some(InputConfig { name, publish })
    }

    /// The name must be an `input_topic` and `publish` an `output_topic` of schema_example.json,
    /// when the crate has one.
    fn check(&self, schema: &Option<SchemaExample>, errors: &mut Errors) {
        if let Some(schema) = schema {
            schema.check_name("input_topic", &schema.input_topic, &self.name, errors);
            if let Some(publish) = &self.publish {
                schema.check_name("output_topic", &schema.output_topic, publish, errors);
            }
        }
    }

    /// The function and a row whose handler makes each argument from the message (`extract`), locks
    /// the states it takes by reference, and calls the function; a message an argument cannot be made
    /// from is logged and skipped.
    fn build(&self, function: &UnitFn, params: &[Param]) -> TokenStream {
        let sig = &function.sig;
        let ident = &sig.ident;
        let args: Vec<_> = (0..params.len())
            .map(|i| format_ident!("__pepeunit_arg{i}"))
            .collect();
        // Each `extract::<T>` is spanned on the user's `T`: "not an extractor" lands there.
        let extracts = params.iter().zip(&args).filter_map(|(param, arg)| {
            let Param::Made(ty) = param else { return None };
            let extract = Item::Extract.spanned(ty.span());
            Some(quote_spanned!(ty.span()=> let #arg = #extract::<#ty>(&_unit, &_msg)?;))
        });
        let (locks, call) = handler::lock_states(params, &args);
        let ok = {
            let rejected = Item::Rejected.path();
            quote!(::core::result::Result::<_, #rejected>::Ok)
        };
        let (client, message, rejected) = (
            Item::Client.path(),
            Item::Message.path(),
            Item::Rejected.path(),
        );
        let returns = signature::return_span(sig);
        let log_name = handler::log_name(function);
        let input_handler = Item::InputHandler.spanned(returns);
        // The whole constructor call carries the return type's span: "must return `()` or
        // `Result`" lands there (the extracts keep the argument types' spans).
        // With `publish`, the value goes to that output: `answering` in place of `typed`.
        let (constructor, publish) = match (&self.publish, sig.asyncness.is_some()) {
            (Some(topic), true) => (format_ident!("answering", span = returns), Some(topic)),
            (Some(topic), false) => (
                format_ident!("answering_blocking", span = returns),
                Some(topic),
            ),
            (None, true) => (format_ident!("typed", span = returns), None),
            (None, false) => (format_ident!("typed_blocking", span = returns), None),
        };
        let publish = publish.map(|topic| quote!(#topic,));
        let handler = match sig.asyncness {
            Some(_) => quote_spanned! {returns=>
                #input_handler::#constructor(#log_name, #publish |_unit: #client, _msg: #message| async move {
                    #(#extracts)*
                    #ok(#ident(#(#call),*).await)
                })
            },
            None => quote_spanned! {returns=>
                #input_handler::#constructor(#log_name, #publish |_unit: #client, _msg: #message|
                    -> ::core::result::Result<_, #rejected> {
                    #(#extracts)*
                    #locks
                    #ok(#ident(#(#call),*))
                })
            },
        };
        let name = &self.name;
        let fields = quote! {
            topic_name: #name,
            handler: || #handler,
        };
        handler::register(function, Item::Inputs, Item::InputEntry, fields)
    }
}

/// The function unchanged plus its row, or the item and every error found.
pub(crate) fn expand(
    attr: TokenStream,
    item: TokenStream,
    features: Features,
    schema: syn::Result<Option<SchemaExample>>,
) -> TokenStream {
    let mut errors = Errors::default();
    let config = InputConfig::parse(attr, &mut errors);
    let schema = errors.ok(schema).flatten();
    if let Some(config) = &config {
        config.check(&schema, &mut errors);
    }
    handler::check_mqtt_feature("input", features, &mut errors);
    let Some(function) = handler::parse_item(item.clone(), "input", &mut errors) else {
        return errors.finish(item);
    };
    let types = signature::arguments(&function.sig, "input", &mut errors);
    let params = signature::params(&function.sig, &types, &mut errors);
    match config {
        Some(config) if errors.is_empty() => config.build(&function, &params),
        _ => errors.finish(quote!(#function)),
    }
}
