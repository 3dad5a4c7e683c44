//! `#[pepeunit::state]`, `#[pepeunit::state(stored)]`, `#[pepeunit::state(stored = "key")]`: the type
//! stays as written, gets `UnitState` and a row in the binary's table of states.

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::{Ident, Item as SynItem, LitStr};

use crate::Features;
use crate::args::{self, Arg};
use crate::errors::Errors;
use crate::paths::Item;

/// What the attribute says.
#[derive(Default)]
struct StateConfig {
    /// `stored` (the span of the word) and its key, when given.
    stored: Option<(Span, Option<LitStr>)>,
}

impl StateConfig {
    fn parse(attr: TokenStream, errors: &mut Errors) -> StateConfig {
        let mut config = StateConfig::default();
        let Some(args) = errors.ok(args::parse(attr)) else {
            return config;
        };
        for arg in args {
            let (key, value) = match arg {
                Arg::Flag(key) if key == "stored" => (key, None),
                Arg::Option { key, value } if key == "stored" => {
                    let Some(text) = errors.ok(args::string_value(&key, value, "\"key\"")) else {
                        continue;
                    };
                    if text.value().is_empty() {
                        errors.at(&text, "the storage key cannot be empty");
                    }
                    (key, Some(text))
                }
                Arg::Name(name) => {
                    errors.at(
                        &name,
                        "`#[pepeunit::state]` takes `stored` or `stored = \"key\"`",
                    );
                    continue;
                }
                Arg::Flag(key) | Arg::Option { key, .. } => {
                    errors.at(
                        &key,
                        format!("unknown option `{key}`: `#[pepeunit::state]` takes `stored` or `stored = \"key\"`"),
                    );
                    continue;
                }
            };
            if config.stored.is_some() {
                errors.at(&key, "`stored` is given twice");
            }
            config.stored = Some((key.span(), value));
        }
        config
    }

    /// `stored` needs the `rest` feature: the storage is read and written over REST.
    fn check(&self, features: Features, errors: &mut Errors) {
        if let (Some((span, _)), false) = (&self.stored, features.rest) {
            errors.push(syn::Error::new(
                *span,
                "`stored` keeps the state in the unit's state storage, over REST: \
                 add `features = [\"rest\"]` to the `pepeunit` dependency",
            ));
        }
    }

    /// The type, `impl UnitState` (with where it is stored) and, with a transport, its row.
    fn build(&self, item: &SynItem, ident: &Ident, features: Features) -> TokenStream {
        let unit_state = Item::UnitState.spanned(ident.span());
        let stored = self.stored.as_ref().map(|(span, key)| {
            let key = key
                .as_ref()
                .map_or_else(|| ident.to_string(), LitStr::value);
            let stored_as = Item::StoredAs.spanned(*span);
            // Spanned on `stored`: a type without the serde traits is reported there.
            quote_spanned! {*span=>
                const STORED: ::core::option::Option<#stored_as<Self>> =
                    ::core::option::Option::Some(#stored_as::<Self>::new(#key));
            }
        });
        let row = (features.mqtt || features.rest).then(|| {
            let (table, entry, make, linkme) = (
                Item::States.path(),
                Item::StateEntry.path(),
                Item::MakeState.path(),
                Item::Linkme.path(),
            );
            let name = ident.to_string();
            quote! {
                const _: () = {
                    #[#linkme::distributed_slice(#table)]
                    #[linkme(crate = #linkme)]
                    static ENTRY: #entry = #entry { name: ::core::concat!(::core::module_path!(), "::", #name), make: #make::<#ident> };
                };
            }
        });
        quote! {
            #item
            impl #unit_state for #ident { #stored }
            #row
        }
    }
}

/// The type unchanged plus its impl and row, or the item and every error found.
pub(crate) fn expand(attr: TokenStream, item: TokenStream, features: Features) -> TokenStream {
    let mut errors = Errors::default();
    let config = StateConfig::parse(attr, &mut errors);
    config.check(features, &mut errors);
    let parsed = syn::parse2::<SynItem>(item.clone()).ok();
    let (ident, generics) = match &parsed {
        Some(SynItem::Struct(s)) => (&s.ident, &s.generics),
        Some(SynItem::Enum(e)) => (&e.ident, &e.generics),
        _ => {
            errors.at(&item, "`#[pepeunit::state]` applies to a struct or an enum");
            return errors.finish(item);
        }
    };
    if !generics.params.is_empty() {
        errors.at(
            generics,
            "a unit state has one value per unit: it cannot be generic",
        );
    }
    match (errors.is_empty(), &parsed) {
        (true, Some(parsed)) => config.build(parsed, ident, features),
        _ => errors.finish(item),
    }
}
