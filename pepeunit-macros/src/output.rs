//! `#[pepeunit::output]`, `#[pepeunit::output(every = "5s")]`,
//! `#[pepeunit::output("NAME", every = "DELAY_PUB_MSG")]`: parse, check, generate.

use std::time::Duration;

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::LitStr;
use syn::spanned::Spanned;

use crate::args::{self, Arg};
use crate::errors::Errors;
use crate::examples::{EnvExample, SchemaExample};
use crate::item::UnitFn;
use crate::paths::Item;
use crate::signature::Param;
use crate::{Features, handler, signature};

/// What the attribute says.
#[derive(Default)]
pub(crate) struct OutputConfig {
    /// The `output_topic` name its return value is published to.
    name: Option<LitStr>,
    /// Its period; none: every main-cycle tick.
    every: Option<Every>,
}

/// The `every = "…"` of an output.
enum Every {
    /// A literal duration.
    Fixed(Duration),
    /// An env.json variable holding seconds.
    Variable(LitStr),
}

impl OutputConfig {
    /// `["NAME"] [, every = "PERIOD"]`; what it cannot read is an error and left out.
    fn parse(attr: TokenStream, errors: &mut Errors) -> OutputConfig {
        let mut config = OutputConfig::default();
        let Some(args) = errors.ok(args::parse(attr)) else {
            return config;
        };
        for (index, arg) in args.into_iter().enumerate() {
            match arg {
                Arg::Name(name) if index == 0 => config.name = Some(name),
                Arg::Option { key, value } if key == "every" => {
                    if config.every.is_some() {
                        errors.at(&key, "`every` is given twice");
                    }
                    let Some(text) = errors.ok(args::string_value(&key, value, "\"5s\"")) else {
                        continue;
                    };
                    config.every = match text.value() {
                        v if args::is_variable_name(&v) => Some(Every::Variable(text)),
                        v => match args::duration(&v) {
                            Ok(period) => Some(Every::Fixed(period)),
                            Err(e) => {
                                errors.at(&text, format!("{e}; or name an env_example.json variable holding seconds"));
                                None
                            }
                        },
                    };
                }
                Arg::Name(name) => errors.at(&name, "the output_topic name comes first: `#[pepeunit::output(\"output/pepeunit\", every = \"5s\")]`"),
                Arg::Flag(key) | Arg::Option { key, .. } => errors.at(
                    &key,
                    format!("unknown option `{key}`: `#[pepeunit::output]` takes an output_topic name and `every = \"…\"`"),
                ),
            }
        }
        config
    }

    /// The name must be an `output_topic` of schema_example.json and an `every` variable a number in
    /// env_example.json (when the crate has them); a function with no name must return nothing.
    fn check(
        &self,
        function: &UnitFn,
        schema: &Option<SchemaExample>,
        env: &Option<EnvExample>,
        errors: &mut Errors,
    ) {
        if let (Some(name), Some(schema)) = (&self.name, schema) {
            schema.check_name("output_topic", &schema.output_topic, name, errors);
        }
        if let (Some(Every::Variable(variable)), Some(env)) = (&self.every, env) {
            match env.variable(&variable.value()) {
                // The runtime's rule (a JSON number or a numeric string), not a second one.
                Some(_) if env.is_number(&variable.value()) => {}
                Some(other) => errors.at(
                    variable,
                    format!(
                        "`{}` must hold a number of seconds, but env_example.json gives it `{other}`",
                        variable.value()
                    ),
                ),
                None => errors.at(
                    variable,
                    format!("`{}` is not a variable of env_example.json", variable.value()),
                ),
            }
        }
        if self.name.is_none() && !signature::returns_unit(&function.sig) {
            let span = signature::return_span(&function.sig);
            errors.push(syn::Error::new(
                span,
                "this output returns a value but names no output_topic to publish it to: \
                 write `#[pepeunit::output(\"output/pepeunit\", every = \"…\")]`, or return `()`",
            ));
        }
    }

    /// The function and its row: the period and a handler that makes its arguments from the unit,
    /// locks the states it takes by reference, calls it (and publishes what it returns, for a named
    /// output).
    fn build(&self, function: &UnitFn, params: &[Param]) -> TokenStream {
        let sig = &function.sig;
        let ident = &sig.ident;
        let client = Item::Client.path();
        let args: Vec<_> = (0..params.len())
            .map(|i| format_ident!("__pepeunit_arg{i}"))
            .collect();
        // Each `from_unit::<T>` is spanned on the user's `T`: a wrong argument type lands there.
        let made = params.iter().zip(&args).filter_map(|(param, arg)| {
            let Param::Made(ty) = param else { return None };
            let from_unit = Item::FromUnit.spanned(ty.span());
            Some(quote_spanned!(ty.span()=> let #arg = #from_unit::<#ty>(&_unit);))
        });
        let (locks, call) = handler::lock_states(params, &args);
        let call = quote!({ #(#made)* #locks #ident(#(#call),*) });
        let returns = signature::return_span(sig);
        let output_handler = Item::OutputHandler.spanned(returns);
        let log_name = handler::log_name(function);
        let blocking = sig.asyncness.is_none();
        let handler = match (&self.name, blocking) {
            (Some(name), false) => {
                quote_spanned!(returns=> #output_handler::publishing(#log_name, #name, |_unit: #client| #call))
            }
            (Some(name), true) => {
                quote_spanned!(returns=> #output_handler::publishing_blocking(#log_name, #name, |_unit: #client| #call))
            }
            (None, false) => {
                quote_spanned!(returns=> #output_handler::new(#log_name, |_unit: #client, (): ()| #call))
            }
            (None, true) => {
                quote_spanned!(returns=> #output_handler::blocking(#log_name, |_unit: #client, (): ()| #call))
            }
        };
        let period = match &self.every {
            None => quote!(::core::option::Option::None),
            Some(Every::Fixed(period)) => {
                let (period_type, duration) = (Item::Period.path(), Item::Duration.path());
                let nanos = period.as_nanos() as u64;
                quote!(::core::option::Option::Some(#period_type::Fixed(#duration::from_nanos(#nanos))))
            }
            Some(Every::Variable(variable)) => {
                let (period_type, cow) = (Item::Period.path(), Item::Cow.path());
                quote!(::core::option::Option::Some(#period_type::EnvSeconds(#cow::Borrowed(#variable))))
            }
        };
        let fields = quote! {
            period: #period,
            handler: || #handler,
        };
        handler::register(function, Item::Outputs, Item::OutputEntry, fields)
    }
}

/// The function unchanged plus its row, or the item and every error found.
pub(crate) fn expand(
    attr: TokenStream,
    item: TokenStream,
    features: Features,
    schema: syn::Result<Option<SchemaExample>>,
    env: syn::Result<Option<EnvExample>>,
) -> TokenStream {
    let mut errors = Errors::default();
    let config = OutputConfig::parse(attr, &mut errors);
    let schema = errors.ok(schema).flatten();
    let env = errors.ok(env).flatten();
    handler::check_mqtt_feature("output", features, &mut errors);
    let Some(function) = handler::parse_item(item.clone(), "output", &mut errors) else {
        return errors.finish(item);
    };
    let types = signature::arguments(&function.sig, "output", &mut errors);
    let params = signature::params(&function.sig, &types, &mut errors);
    config.check(&function, &schema, &env, &mut errors);
    match errors.is_empty() {
        true => config.build(&function, &params),
        false => errors.finish(quote!(#function)),
    }
}
