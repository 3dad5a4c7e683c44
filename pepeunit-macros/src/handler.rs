//! `#[pepeunit::input("name")]` and `#[pepeunit::output]`: the function stays as written, and an
//! entry that builds its handler is added to the binary's table.

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{ItemFn, LitStr, ReturnType};

use crate::errors::Errors;
use crate::examples::SchemaExample;
use crate::{Features, signature};

/// Which of the two attributes.
pub(crate) enum Kind {
    /// `#[input]`.
    Input,
    /// `#[output]`.
    Output,
}

impl Kind {
    fn attribute(&self) -> &'static str {
        match self {
            Kind::Input => "input",
            Kind::Output => "output",
        }
    }
}

/// The function unchanged plus its table entry, or the item and every error found.
pub(crate) fn expand(
    kind: Kind,
    attr: TokenStream,
    item: TokenStream,
    features: Features,
    schema: syn::Result<Option<SchemaExample>>,
) -> TokenStream {
    let mut errors = Errors::default();
    let attribute = kind.attribute();
    let topic_name = match kind {
        Kind::Input => topic_name(attr, schema, &mut errors),
        Kind::Output => {
            if !attr.is_empty() {
                errors.at(&attr, "`#[pepeunit::output]` takes no arguments");
            }
            None
        }
    };
    if !features.mqtt {
        errors.at_attribute(format!(
            "`#[pepeunit::{attribute}]` runs in the MQTT main cycle: add `features = [\"mqtt\"]` \
                 to the `pepeunit` dependency"
        ));
    }
    let function = match syn::parse2::<ItemFn>(item.clone()) {
        Ok(function) => function,
        Err(_) => {
            errors.at(
                &item,
                format!("`#[pepeunit::{attribute}]` applies to a function"),
            );
            return errors.finish(item);
        }
    };
    let expected: &[&str] = match kind {
        Kind::Input => &["unit: PepeunitClient", "msg: Message"],
        Kind::Output => &["unit: PepeunitClient"],
    };
    let types = signature::check(&function.sig, attribute, expected, &mut errors);
    if !errors.is_empty() {
        return errors.finish(item);
    }

    let sig = &function.sig;
    let name = &sig.ident;
    let log_name = name.to_string();
    // Type errors land on the user's own argument and return types.
    let unit = quote_spanned!(types[0].span()=> unit);
    let result_span = match &sig.output {
        ReturnType::Type(_, ty) => ty.span(),
        ReturnType::Default => name.span(),
    };
    let constructor = match sig.asyncness {
        Some(_) => quote_spanned!(result_span=> ::pepeunit::runtime::Handler::new),
        None => quote_spanned!(result_span=> ::pepeunit::runtime::Handler::blocking),
    };
    let log_name = quote!(::core::concat!(::core::module_path!(), "::", #log_name));
    let (slice, entry, topic, call) = match topic_name {
        Some(topic_name) => {
            let msg = quote_spanned!(types[1].span()=> msg);
            let call = quote_spanned! {result_span=>
                |unit: ::pepeunit::client::PepeunitClient, msg: ::pepeunit::runtime::Message| {
                    #name(#unit, #msg)
                }
            };
            (
                quote!(INPUTS),
                quote!(InputEntry),
                quote!(topic_name: #topic_name,),
                call,
            )
        }
        None => {
            let call = quote_spanned! {result_span=>
                |unit: ::pepeunit::client::PepeunitClient, (): ()| #name(#unit)
            };
            (quote!(OUTPUTS), quote!(OutputEntry), quote!(), call)
        }
    };
    let handler = quote_spanned!(result_span=> #constructor(#log_name, #call));
    let entry = quote! {
        #[::pepeunit::__private::linkme::distributed_slice(::pepeunit::__private::#slice)]
        #[linkme(crate = ::pepeunit::__private::linkme)]
        static ENTRY: ::pepeunit::__private::#entry = ::pepeunit::__private::#entry {
            #topic
            handler: || #handler,
        };
    };
    let needs_mqtt = quote_spanned! {Span::call_site()=>
        ::pepeunit::__private::main_has_mqtt::<crate::__pepeunit_main>()
    };
    quote! {
        #function

        const _: () = {
            #entry
            #needs_mqtt
        };
    }
}

/// The `input_topic` name of `#[input("name")]`, checked against schema_example.json when there is one.
fn topic_name(
    attr: TokenStream,
    schema: syn::Result<Option<SchemaExample>>,
    errors: &mut Errors,
) -> Option<LitStr> {
    let name = match syn::parse2::<LitStr>(attr.clone()) {
        Ok(name) if !name.value().is_empty() => name,
        _ => {
            let message = "`#[pepeunit::input]` takes the input_topic name: \
                           `#[pepeunit::input(\"input/pepeunit\")]`";
            match attr.is_empty() {
                true => errors.at_attribute(message),
                false => errors.at(&attr, message),
            }
            return None;
        }
    };
    match schema {
        Ok(Some(schema)) if !schema.input_topic.contains(&name.value()) => errors.at(
            &name,
            format!(
                "`{}` is not an input_topic of schema_example.json (it lists: {})",
                name.value(),
                match schema.input_topic.is_empty() {
                    true => "none".to_owned(),
                    false => schema.input_topic.join(", "),
                }
            ),
        ),
        Ok(_) => {}
        Err(e) => errors.push(e),
    }
    Some(name)
}
