//! What `#[pepeunit::input]` and `#[pepeunit::output]` share: the function stays as written, and a
//! row that builds its handler is added to the binary's table.

use proc_macro2::TokenStream;
use quote::quote;

use crate::Features;
use crate::errors::Errors;
use crate::item::UnitFn;
use crate::paths::Item;

/// The function, or `None` with an error when the item is not one.
pub(crate) fn parse_item(
    item: TokenStream,
    attribute: &str,
    errors: &mut Errors,
) -> Option<UnitFn> {
    match syn::parse2::<UnitFn>(item.clone()) {
        Ok(function) => Some(function),
        Err(_) => {
            errors.at(
                &item,
                format!("`#[pepeunit::{attribute}]` applies to a function"),
            );
            None
        }
    }
}

/// An error when `pepeunit` was built without MQTT, which runs every handler.
pub(crate) fn check_mqtt_feature(attribute: &str, features: Features, errors: &mut Errors) {
    if !features.mqtt {
        errors.at_attribute(format!(
            "`#[pepeunit::{attribute}]` runs in the MQTT main cycle: add `features = [\"mqtt\"]` \
             to the `pepeunit` dependency"
        ));
    }
}

/// The name the log gives the function: its path, `crate::module::name`.
pub(crate) fn log_name(function: &UnitFn) -> TokenStream {
    let name = function.sig.ident.to_string();
    quote!(::core::concat!(::core::module_path!(), "::", #name))
}

/// The function followed by its row in `table` and the check that `main` has the `mqtt` flag.
pub(crate) fn register(
    function: &UnitFn,
    table: Item,
    entry: Item,
    fields: TokenStream,
) -> TokenStream {
    let (table, entry, linkme) = (table.path(), entry.path(), Item::Linkme.path());
    let (flags, has_mqtt) = (quote!(crate::__pepeunit_main), Item::MainHasMqtt.path());
    quote! {
        #function

        const _: () = {
            #[#linkme::distributed_slice(#table)]
            #[linkme(crate = #linkme)]
            static ENTRY: #entry = #entry { #fields };
            #has_mqtt::<#flags>()
        };
    }
}
