//! What `#[pepeunit::input]` and `#[pepeunit::output]` share: the function stays as written, and a
//! row that builds its handler is added to the binary's table.

use proc_macro2::{Ident, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;

use crate::Features;
use crate::errors::Errors;
use crate::item::UnitFn;
use crate::paths::Item;
use crate::signature::Param;

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

/// For a sync function: the statements that take the states of its `&T`/`&mut T` arguments from
/// `_unit` and lock them all in the fixed order, and the expression of each argument (`args[i]` for
/// the others, which the caller makes).
pub(crate) fn lock_states(params: &[Param], args: &[Ident]) -> (TokenStream, Vec<TokenStream>) {
    let (mut handles, mut lockers, mut call) = (Vec::new(), Vec::new(), Vec::new());
    for (param, arg) in params.iter().zip(args) {
        let Param::Locked { state: ty, mutable } = param else {
            call.push(quote!(#arg));
            continue;
        };
        let index = syn::Index::from(lockers.len());
        let handle = format_ident!("__pepeunit_state{}", lockers.len());
        // Spanned on the user's `T`: "not a unit state" lands there.
        let (from_unit, state) = (
            Item::FromUnit.spanned(ty.span()),
            Item::State.spanned(ty.span()),
        );
        handles.push(quote_spanned!(ty.span()=> let #handle = #from_unit::<#state<#ty>>(&_unit);));
        let (locker, borrow) = match mutable {
            true => (
                Item::Exclusive.path(),
                quote!(&mut *__pepeunit_guards.#index),
            ),
            false => (Item::Shared.path(), quote!(&*__pepeunit_guards.#index)),
        };
        lockers.push(quote!(#locker(&#handle)));
        call.push(borrow);
    }
    if lockers.is_empty() {
        return (TokenStream::new(), call);
    }
    let lock_all = Item::LockAll.path();
    let locks = quote! {
        #(#handles)*
        #[allow(unused_mut)]
        let mut __pepeunit_guards = #lock_all::lock_all((#(#lockers,)*));
    };
    (locks, call)
}
