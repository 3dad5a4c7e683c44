//! `#[pepeunit::output]`, `#[pepeunit::output(every = "5s")]`,
//! `#[pepeunit::output("NAME", every = "DELAY_PUB_MSG")]`: parse, check, generate.

use std::time::Duration;

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Expr, ExprLit, Ident, Lit, LitInt, LitStr};

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
    /// `on_change`: published only when the payload changed.
    on_change: Option<Ident>,
    /// `heartbeat = "60s"`: an unchanged value republished at least that often.
    heartbeat: Option<(Ident, Duration)>,
    /// `sample = "250ms"`: the function runs that often, its samples reduced every `every`.
    sample: Option<(LitStr, Duration)>,
    /// `reduce = "mean"`: how the samples become the value published.
    reduce: Option<(Ident, LitStr)>,
    /// `delta = 0.5`: published only when the value moved that much.
    delta: Option<(Ident, Expr)>,
    /// `round = 1`: the decimals published.
    round: Option<(Ident, LitInt)>,
}

/// The `every = "…"` of an output.
enum Every {
    /// A literal duration.
    Fixed(Duration),
    /// An env.json variable holding seconds.
    Variable(LitStr),
}

/// The reductions `reduce` names (the runtime's `Reduce` variants, in lower case).
const REDUCTIONS: [&str; 6] = ["mean", "min", "max", "sum", "last", "count"];

/// A literal duration option (`sample = "250ms"`), or `None` with an error on the value.
fn literal_duration(key: &Ident, value: Expr, errors: &mut Errors) -> Option<(LitStr, Duration)> {
    let text = errors.ok(args::string_value(key, value, "\"250ms\""))?;
    match args::duration(&text.value()) {
        Ok(period) => Some((text, period)),
        Err(e) => {
            errors.at(&text, e);
            None
        }
    }
}

/// Keeps the first value of an option; a second one is an error on its key.
fn once<T>(slot: &mut Option<T>, key: &Ident, value: Option<T>, errors: &mut Errors) {
    if slot.is_some() {
        errors.at(key, format!("`{key}` is given twice"));
    } else {
        *slot = value;
    }
}

impl OutputConfig {
    /// `["NAME"] [, every = "PERIOD"] [, on_change] [, heartbeat = "D"] [, sample = "D"]
    /// [, reduce = "…"] [, delta = N] [, round = N]`; what it cannot read is an error and left out.
    fn parse(attr: TokenStream, errors: &mut Errors) -> OutputConfig {
        let mut config = OutputConfig::default();
        let Some(args) = errors.ok(args::parse(attr)) else {
            return config;
        };
        for (index, arg) in args.into_iter().enumerate() {
            match arg {
                Arg::Name(name) if index == 0 => config.name = Some(name),
                Arg::Option { key, value } if key == "every" => {
                    let every = errors
                        .ok(args::string_value(&key, value, "\"5s\""))
                        .and_then(|text| match text.value() {
                            v if args::is_variable_name(&v) => Some(Every::Variable(text)),
                            v => match args::duration(&v) {
                                Ok(period) => Some(Every::Fixed(period)),
                                Err(e) => {
                                    errors.at(&text, format!("{e}; or name an env_example.json variable holding seconds"));
                                    None
                                }
                            },
                        });
                    once(&mut config.every, &key, every, errors);
                }
                Arg::Flag(key) if key == "on_change" => {
                    once(&mut config.on_change, &key, Some(key.clone()), errors);
                }
                Arg::Option { key, value } if key == "heartbeat" => {
                    let period = literal_duration(&key, value, errors).map(|(_, d)| (key.clone(), d));
                    once(&mut config.heartbeat, &key, period, errors);
                }
                Arg::Option { key, value } if key == "sample" => {
                    let period = literal_duration(&key, value, errors);
                    once(&mut config.sample, &key, period, errors);
                }
                Arg::Option { key, value } if key == "reduce" => {
                    let reduce = errors
                        .ok(args::string_value(&key, value, "\"mean\""))
                        .filter(|text| {
                            let known = REDUCTIONS.contains(&text.value().as_str());
                            if !known {
                                errors.at(text, format!("unknown reduction `{}`: `reduce` is one of {}", text.value(), REDUCTIONS.join(", ")));
                            }
                            known
                        })
                        .map(|text| (key.clone(), text));
                    once(&mut config.reduce, &key, reduce, errors);
                }
                Arg::Option { key, value } if key == "delta" => {
                    let delta = match &value {
                        Expr::Lit(ExprLit { lit: Lit::Float(_) | Lit::Int(_), .. }) => Some((key.clone(), value)),
                        _ => {
                            errors.at(&value, "`delta` takes a number: `delta = 0.5`");
                            None
                        }
                    };
                    once(&mut config.delta, &key, delta, errors);
                }
                Arg::Option { key, value } if key == "round" => {
                    let round = match value {
                        Expr::Lit(ExprLit { lit: Lit::Int(decimals), .. }) if decimals.base10_parse::<u8>().is_ok_and(|d| d <= 15) => {
                            Some((key.clone(), decimals))
                        }
                        other => {
                            errors.at(&other, "`round` takes the number of decimals, 0 to 15: `round = 1`");
                            None
                        }
                    };
                    once(&mut config.round, &key, round, errors);
                }
                Arg::Name(name) => errors.at(&name, "the output_topic name comes first: `#[pepeunit::output(\"output/pepeunit\", every = \"5s\")]`"),
                Arg::Flag(key) | Arg::Option { key, .. } => errors.at(
                    &key,
                    format!(
                        "unknown option `{key}`: `#[pepeunit::output]` takes an output_topic name, `every = \"…\"`, \
                         `on_change`, `heartbeat = \"…\"`, `sample = \"…\"`, `reduce = \"…\"`, `delta = N` and `round = N`"
                    ),
                ),
            }
        }
        config
    }

    /// Whether its value must be a number: it is sampled, reduced, compared by `delta` or rounded.
    fn numeric(&self) -> bool {
        self.sample.is_some()
            || self.reduce.is_some()
            || self.delta.is_some()
            || self.round.is_some()
    }

    /// The combinations that mean nothing: what only a published value has without a name,
    /// `heartbeat` without `on_change`, `reduce` without `sample`, a `sample` not shorter than a
    /// literal `every` (or without one), `on_change` beside sampling.
    fn check_options(&self, errors: &mut Errors) {
        match (&self.name, &self.on_change, &self.heartbeat) {
            (None, Some(key), _) => errors.at(key, "`on_change` compares what is published, but this output names no output_topic: write `#[pepeunit::output(\"output/pepeunit\", on_change)]`"),
            (None, None, Some((key, _))) => errors.at(key, "`heartbeat` republishes an unchanged published value, but this output names no output_topic: write `#[pepeunit::output(\"output/pepeunit\", on_change, heartbeat = \"60s\")]`"),
            (Some(_), None, Some((key, _))) => errors.at(key, "`heartbeat` republishes an unchanged value of an `on_change` output: add `on_change`"),
            _ => {}
        }
        if let (Some((key, _)), None) = (&self.reduce, &self.sample) {
            errors.at(key, "`reduce` combines the samples of `sample = \"…\"`: add `sample` (how often the function runs)");
        }
        match (&self.sample, &self.every) {
            (Some((text, sample)), Some(Every::Fixed(every))) if sample > every => errors.at(
                text,
                format!("`sample = \"{}\"` is longer than `every`: sampling must be at least as frequent as publishing", text.value()),
            ),
            (Some((text, _)), None) => errors.at(
                text,
                "`sample` needs `every = \"…\"`: how often the reduced samples are published",
            ),
            _ => {}
        }
        if let (Some(on_change), true) = (&self.on_change, self.numeric()) {
            errors.at(on_change, "`on_change` cannot be combined with `sample`, `reduce`, `delta` or `round`: use `delta` to publish on change");
        }
        if self.name.is_none()
            && let Some(key) = [
                self.sample.as_ref().map(|(t, _)| t.span()),
                self.delta.as_ref().map(|(k, _)| k.span()),
                self.round.as_ref().map(|(k, _)| k.span()),
            ]
            .into_iter()
            .flatten()
            .next()
        {
            errors.push(syn::Error::new(key, "sampled, `delta` and `round` outputs publish their value: name an output_topic first"));
        }
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
        self.check_options(errors);
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
        let log_name = handler::log_name(function);
        let blocking = sig.asyncness.is_none();
        let suffix = |name: &str| match blocking {
            true => format_ident!("{name}_blocking", span = returns),
            false => format_ident!("{name}", span = returns),
        };
        let period = self.every.as_ref().map(period);
        let add = match (&self.name, &self.on_change, self.numeric()) {
            (Some(name), Some(_), _) => {
                let (output, publishing) =
                    (Item::ChangeOutput.spanned(returns), suffix("publishing"));
                let every = period.map(|period| quote!(.every(#period)));
                let heartbeat = self.heartbeat.as_ref().map(|(_, d)| {
                    let (duration, nanos) = (Item::Duration.path(), d.as_nanos() as u64);
                    quote!(.heartbeat(#duration::from_nanos(#nanos)))
                });
                quote_spanned!(returns=> outputs.on_change(
                    #output::#publishing(#log_name, #name, |_unit: #client| #call) #every #heartbeat))
            }
            (Some(name), None, true) => {
                let (output, new) = (Item::NumericOutput.spanned(returns), suffix("new"));
                let every = period.map(|period| quote!(.every(#period)));
                let sample = self.sample.as_ref().map(|(_, d)| {
                    let (duration, nanos) = (Item::Duration.path(), d.as_nanos() as u64);
                    quote!(.sample(#duration::from_nanos(#nanos)))
                });
                let reduce = self.reduce.as_ref().map(|(_, text)| {
                    let (reduce, variant) = (Item::Reduce.path(), reduction(text));
                    quote!(.reduce(#reduce::#variant))
                });
                let delta = self
                    .delta
                    .as_ref()
                    .map(|(_, value)| quote!(.delta(#value as f64)));
                let round = self
                    .round
                    .as_ref()
                    .map(|(_, decimals)| quote!(.round(#decimals)));
                quote_spanned!(returns=> outputs.numeric(
                    #output::#new(#log_name, #name, |_unit: #client| #call) #every #sample #reduce #delta #round))
            }
            (name, _, _) => {
                let output_handler = Item::OutputHandler.spanned(returns);
                let handler = match name {
                    Some(name) => {
                        let publishing = suffix("publishing");
                        quote_spanned!(returns=> #output_handler::#publishing(#log_name, #name, |_unit: #client| #call))
                    }
                    None => {
                        let new = match blocking {
                            true => format_ident!("blocking", span = returns),
                            false => format_ident!("new", span = returns),
                        };
                        quote_spanned!(returns=> #output_handler::#new(#log_name, |_unit: #client, (): ()| #call))
                    }
                };
                match period {
                    Some(period) => quote!(outputs.every(#period, #handler)),
                    None => quote!(outputs.every_tick(#handler)),
                }
            }
        };
        let outputs = Item::OutputsType.path();
        let fields = quote! {
            name: #log_name,
            add: |outputs: #outputs| #add,
        };
        handler::register(function, Item::Outputs, Item::OutputEntry, fields)
    }
}

/// The `Period` of `every`.
fn period(every: &Every) -> TokenStream {
    match every {
        Every::Fixed(period) => {
            let (period_type, duration) = (Item::Period.path(), Item::Duration.path());
            let nanos = period.as_nanos() as u64;
            quote!(#period_type::Fixed(#duration::from_nanos(#nanos)))
        }
        Every::Variable(variable) => {
            let (period_type, cow) = (Item::Period.path(), Item::Cow.path());
            quote!(#period_type::EnvSeconds(#cow::Borrowed(#variable)))
        }
    }
}

/// The `Reduce` variant `reduce = "…"` names (checked against [`REDUCTIONS`] when parsed).
fn reduction(text: &LitStr) -> Ident {
    let value = text.value();
    let mut chars = value.chars();
    let first = chars
        .next()
        .map(|c| c.to_ascii_uppercase())
        .unwrap_or_default();
    format_ident!("{first}{}", chars.as_str(), span = text.span())
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
