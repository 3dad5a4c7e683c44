//! `#[pepeunit::main(FLAGS, OPTIONS)]`: parse the arguments into a [`MainConfig`], check it against
//! the library's features and the crate's example files, then generate `fn main()`.

use std::time::Duration;

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Ident, LitStr, Visibility};

use crate::args::{self, Arg};
use crate::errors::Errors;
use crate::examples::{EnvExample, SchemaExample};
use crate::item::UnitFn;
use crate::paths::Item;
use crate::{Features, handler, signature, unit_dir};

/// The platform commands the REST layer runs.
const REST_COMMANDS: [&str; 3] = [
    "update/pepeunit",
    "env_update/pepeunit",
    "schema_update/pepeunit",
];

/// The restart modes `restart = "…"` names, and the `RestartMode` variant of each.
const RESTART_MODES: [(&str, &str); 4] = [
    ("exec", "ExecInPlace"),
    ("spawn", "SpawnAndExit"),
    ("reload", "ReloadOnly"),
    ("none", "None"),
];

/// What the attribute says. Each option has one default: no `restart` is `"exec"`, no `cycle`
/// is `"100ms"`, the files are `env.json`, `schema.json` and `log.json` in the current directory, no
/// `ca_file` trusts the system's roots only, no `mqtt_tls` is `"auto"`.
#[derive(Default)]
pub(crate) struct MainConfig {
    mqtt: Option<Ident>,
    rest: Option<Ident>,
    /// The `RestartMode` variant.
    restart: Option<(LitStr, &'static str)>,
    cycle: Option<(LitStr, Duration)>,
    env: Option<LitStr>,
    schema: Option<LitStr>,
    log: Option<LitStr>,
    ca_file: Option<LitStr>,
    /// `MqttConfig::tls`: `None` for `"auto"`.
    mqtt_tls: Option<(LitStr, Option<bool>)>,
    /// `update_key = "…"` and the key file's full path, checked to hold a minisign public key.
    update_key: Option<(LitStr, String)>,
    /// The arguments could not all be read: `#[input]`/`#[output]` must then not report a missing
    /// `mqtt` flag that may only be misspelt.
    unreadable: bool,
}

impl MainConfig {
    /// Reads every flag and option, reporting each problem; a flag written as an option
    /// (`mqtt = true`) still counts as given.
    fn parse(attr: TokenStream, errors: &mut Errors) -> MainConfig {
        let mut config = MainConfig::default();
        let Some(args) = errors.ok(args::parse(attr)) else {
            config.unreadable = true;
            return config;
        };
        for arg in args {
            match arg {
                Arg::Flag(flag) => config.flag(flag, errors),
                Arg::Option { key, value } if key == "mqtt" || key == "rest" => {
                    errors.at(
                        &value,
                        format!("`{key}` is a flag: write `{key}`, not `{key} = …`"),
                    );
                    config.flag(key, errors);
                }
                Arg::Option { key, value } => config.option(key, value, errors),
                Arg::Name(name) => {
                    config.unreadable = true;
                    errors.at(&name, "`#[pepeunit::main]` takes flags and options, e.g. `#[pepeunit::main(mqtt, rest, restart = \"exec\")]`");
                }
            }
        }
        config
    }

    fn flag(&mut self, flag: Ident, errors: &mut Errors) {
        let slot = match flag.to_string().as_str() {
            "mqtt" => &mut self.mqtt,
            "rest" => &mut self.rest,
            _ => {
                self.unreadable = true;
                errors.at(
                    &flag,
                    format!("unknown flag `{flag}`: expected `mqtt`, `rest` or an option (`restart`, `cycle`, `env`, `schema`, `log`, `ca_file`, `mqtt_tls`, `update_key`)"),
                );
                return;
            }
        };
        if slot.is_some() {
            errors.at(&flag, format!("`{flag}` is given twice"));
        }
        *slot = Some(flag);
    }

    fn option(&mut self, key: Ident, value: syn::Expr, errors: &mut Errors) {
        let form = match key.to_string().as_str() {
            "restart" => "\"exec\" | \"spawn\" | \"reload\" | \"none\"",
            "cycle" => "\"100ms\"",
            "env" => "\"env.json\"",
            "schema" => "\"schema.json\"",
            "log" => "\"log.json\"",
            "ca_file" => "\"ca.pem\"",
            "mqtt_tls" => "\"auto\" | \"on\" | \"off\"",
            "update_key" => "\"update_key.pub\"",
            _ => {
                errors.at(
                    &key,
                    format!("unknown option `{key}`: expected `restart`, `cycle`, `env`, `schema`, `log`, `ca_file`, `mqtt_tls` or `update_key`"),
                );
                return;
            }
        };
        let Some(text) = errors.ok(args::string_value(&key, value, form)) else {
            return;
        };
        let given_twice = match key.to_string().as_str() {
            "restart" => {
                let mode = RESTART_MODES.iter().find(|(name, _)| *name == text.value());
                let Some((_, variant)) = mode else {
                    errors.at(
                        &text,
                        format!("unknown restart mode `{}`: expected {form}", text.value()),
                    );
                    return;
                };
                self.restart.replace((text, variant)).is_some()
            }
            "cycle" => match args::duration(&text.value()) {
                Ok(cycle) => self.cycle.replace((text, cycle)).is_some(),
                Err(e) => {
                    errors.at(&text, e);
                    return;
                }
            },
            "env" => self.env.replace(text).is_some(),
            "schema" => self.schema.replace(text).is_some(),
            "log" => self.log.replace(text).is_some(),
            "ca_file" => self.ca_file.replace(text).is_some(),
            "update_key" => {
                let Some(path) = read_update_key(&text, errors) else {
                    return;
                };
                self.update_key.replace((text, path)).is_some()
            }
            _ => {
                let tls = match text.value().as_str() {
                    "auto" => None,
                    "on" => Some(true),
                    "off" => Some(false),
                    other => {
                        errors.at(
                            &text,
                            format!("unknown `mqtt_tls` value `{other}`: expected {form}"),
                        );
                        return;
                    }
                };
                self.mqtt_tls.replace((text, tls)).is_some()
            }
        };
        if given_twice {
            errors.at(&key, format!("`{key}` is given twice"));
        }
    }

    /// The library's features, and the combinations that cannot work: `restart` without `rest`
    /// (updates come over REST), `cycle` or `mqtt_tls` without `mqtt`, REST commands in schema_example.json
    /// without `rest`.
    fn check(
        &self,
        attr_span: Span,
        features: Features,
        schema: &Option<SchemaExample>,
        errors: &mut Errors,
    ) {
        for (flag, feature_on) in [(&self.mqtt, features.mqtt), (&self.rest, features.rest)] {
            if let Some(flag) = flag
                && !feature_on
            {
                errors.at(
                    flag,
                    format!(
                        "the `{flag}` flag needs the `{flag}` feature of pepeunit: \
                         add `features = [\"{flag}\"]` to the `pepeunit` dependency"
                    ),
                );
            }
        }
        if !features.mqtt && !features.rest && self.mqtt.is_none() && self.rest.is_none() {
            errors.at_attribute(
                "`#[pepeunit::main]` runs on tokio, which comes with the `mqtt` or `rest` feature: \
                 add one to the `pepeunit` dependency",
            );
        }
        if let (Some((text, _)), None) = (&self.restart, &self.rest) {
            errors.at(
                text,
                "`restart` sets how the unit restarts after an update, and updates need the `rest` flag: add `rest`",
            );
        }
        if let (Some((text, _)), None) = (&self.update_key, &self.rest) {
            errors.at(
                text,
                "`update_key` is the key compiled updates must be signed with, and updates need the `rest` flag: add `rest`",
            );
        }
        if let (Some((text, _)), None) = (&self.cycle, &self.mqtt) {
            errors.at(
                text,
                "`cycle` is the tick of the MQTT main cycle: add the `mqtt` flag",
            );
        }
        match (&self.mqtt_tls, &self.mqtt) {
            (Some((text, _)), None) => errors.at(
                text,
                "`mqtt_tls` sets TLS for the MQTT connection: add the `mqtt` flag",
            ),
            (Some((text, Some(true))), Some(_)) if !features.mqtt_tls => errors.at(
                text,
                "`mqtt_tls = \"on\"` needs the `mqtt-tls` feature of pepeunit: \
                 add `features = [\"mqtt-tls\"]` to the `pepeunit` dependency",
            ),
            _ => {}
        }
        if let (Some(schema), None) = (schema, &self.rest) {
            let listed: Vec<&str> = REST_COMMANDS
                .into_iter()
                .filter(|c| schema.input_base_topic.iter().any(|t| t == c))
                .collect();
            if !listed.is_empty() {
                let which = if listed.len() == 1 {
                    "that command"
                } else {
                    "those commands"
                };
                errors.push(syn::Error::new(
                    attr_span,
                    format!(
                        "schema_example.json lists `{}` in input_base_topic: add the `rest` flag, which runs {which}",
                        listed.join("`, `")
                    ),
                ));
            }
        }
    }

    /// `__pepeunit_main`, the flags `#[input]`/`#[output]` check: with unreadable arguments it
    /// claims `mqtt`, so that a typo in `main` is reported once, on `main`.
    fn flags_type(&self) -> TokenStream {
        let mqtt = self.mqtt.is_some() || self.unreadable;
        let flags = Item::MainFlags.path();
        quote! {
            /// The flags of `#[pepeunit::main]`, checked by `#[pepeunit::input]` and `#[pepeunit::output]`.
            #[doc(hidden)]
            #[allow(non_camel_case_types)]
            type __pepeunit_main = #flags<#mqtt>;
        }
    }

    /// `RunOptions { … }` for `run`.
    fn run_options(&self) -> TokenStream {
        let (mqtt, rest) = (self.mqtt.is_some(), self.rest.is_some());
        let restart = match &self.restart {
            Some((_, variant)) => {
                let (mode, variant) = (Item::RestartMode.path(), format_ident!("{variant}"));
                quote!(::core::option::Option::Some(#mode::#variant))
            }
            None => quote!(::core::option::Option::None),
        };
        let cycle = match &self.cycle {
            Some((_, cycle)) => {
                let (duration, nanos) = (Item::Duration.path(), cycle.as_nanos() as u64);
                quote!(::core::option::Option::Some(#duration::from_nanos(#nanos)))
            }
            None => quote!(::core::option::Option::None),
        };
        let file = |given: &Option<LitStr>, var: &str, default: &str| {
            let unit_file = Item::UnitFile.path();
            let path = given
                .as_ref()
                .map_or_else(|| default.to_owned(), LitStr::value);
            quote!(#unit_file(#var, #path))
        };
        let env = file(&self.env, "PEPEUNIT_ENV", "env.json");
        let schema = file(&self.schema, "PEPEUNIT_SCHEMA", "schema.json");
        let log = file(&self.log, "PEPEUNIT_LOG", "log.json");
        let ca_file = {
            let ca_file = Item::CaFile.path();
            match &self.ca_file {
                Some(path) => {
                    quote!(#ca_file("PEPEUNIT_CA_FILE", ::core::option::Option::Some(#path)))
                }
                None => quote!(#ca_file("PEPEUNIT_CA_FILE", ::core::option::Option::None)),
            }
        };
        let mqtt_tls = match &self.mqtt_tls {
            Some((_, Some(on))) => quote!(::core::option::Option::Some(#on)),
            _ => quote!(::core::option::Option::None),
        };
        // include_str! makes the key file an input of the crate: changing it rebuilds the unit.
        let update_key = match &self.update_key {
            Some((_, path)) => quote!(::core::option::Option::Some(::core::include_str!(#path))),
            None => quote!(::core::option::Option::None),
        };
        let options = Item::RunOptions.path();
        quote! {
            #options { mqtt: #mqtt, rest: #rest, restart: #restart, cycle: #cycle, env: #env, schema: #schema, log: #log, ca_file: #ca_file, mqtt_tls: #mqtt_tls, update_key: #update_key }
        }
    }

    /// `fn main()` with the user's function inside it as the setup, and (given the types of its
    /// arguments, i.e. when nothing is wrong) the code that runs the program. Without them, rustc sees
    /// a plain `fn main()` and adds no follow-up errors ("`main` is not allowed to be `async`").
    fn build(&self, mut function: UnitFn, types: Option<Vec<syn::Type>>) -> TokenStream {
        // The user's function, renamed, goes inside the generated one; its attributes and
        // visibility go on the generated one.
        let attrs = std::mem::take(&mut function.attrs);
        let vis = std::mem::replace(&mut function.vis, Visibility::Inherited);
        let setup = format_ident!("__pepeunit_setup", span = function.sig.ident.span());
        let name = std::mem::replace(&mut function.sig.ident, setup.clone());
        let returns = signature::return_span(&function.sig);
        let run = types.map(|types| {
            // Each argument is made from the unit; type errors land on the user's own argument types.
            let args = types.iter().map(|ty| {
                let from_unit = Item::FromUnit.spanned(ty.span());
                quote_spanned!(ty.span()=> #from_unit::<#ty>(&unit))
            });
            let (client, run, options) = (
                Item::Client.path(),
                Item::Run.spanned(returns),
                self.run_options(),
            );
            // The whole call carries the return type's span: a wrong return type lands there.
            quote_spanned! {returns=>
                let setup = |unit: #client| #setup(#(#args),*);
                if let ::core::result::Result::Err(error) = #run(#options, setup) {
                    ::std::eprintln!("error: {error}");
                    ::std::process::exit(1);
                }
            }
        });
        quote! {
            #(#attrs)*
            #vis fn #name() {
                #[allow(dead_code)]
                #function
                #run
            }
        }
    }
}

/// The full path of the minisign public key file `update_key = "…"` names (relative to the unit's
/// directory), once it reads as a key; else the error, on the string.
fn read_update_key(text: &LitStr, errors: &mut Errors) -> Option<String> {
    let Some(path) = unit_dir::file(&text.value()) else {
        errors.at(
            text,
            "`update_key` is read from the crate's directory: build with cargo",
        );
        return None;
    };
    let key = std::fs::read_to_string(&path)
        .map_err(|e| {
            format!(
                "cannot read the update key {} (relative to the crate's directory): {e}",
                text.value()
            )
        })
        .and_then(|key| {
            pepeunit_contract::update_key::parse_minisign_public_key(&key).map_err(|reason| {
                format!("{} is not a minisign public key: {reason}", text.value())
            })
        });
    match key {
        Ok(_) => Some(path.display().to_string()),
        Err(message) => {
            errors.at(
                text,
                format!("{message} (make a key pair with `minisign -G -W -p update_key.pub -s update_key.key`)"),
            );
            None
        }
    }
}

/// The generated `fn main()` (see the attribute's docs), or the item and every error found.
pub(crate) fn expand(
    attr: TokenStream,
    item: TokenStream,
    features: Features,
    schema: syn::Result<Option<SchemaExample>>,
    env: syn::Result<Option<EnvExample>>,
) -> TokenStream {
    let mut errors = Errors::default();
    let attr_span = attr
        .clone()
        .into_iter()
        .next()
        .map_or(Span::call_site(), |t| t.span());
    let config = MainConfig::parse(attr, &mut errors);
    let schema = errors.ok(schema).flatten();
    let env = errors.ok(env).flatten();
    config.check(attr_span, features, &schema, &mut errors);
    let tracked = schema.map(|s| s.track());
    let accessors = env.map(|e| e.accessors());
    let unit_dir = unit_dir::track();
    let generated = quote! {
        #unit_dir
        #tracked
        #accessors
    };
    let flags = config.flags_type();
    let Some(function) = handler::parse_item(item.clone(), "main", &mut errors) else {
        return errors.finish(quote!(#item #flags #generated));
    };
    let sig = &function.sig;
    if sig.asyncness.is_none() {
        errors.push(syn::Error::new(
            sig.fn_token.span,
            "`#[pepeunit::main]` needs an `async fn`",
        ));
    }
    let types = signature::arguments(sig, "main", &mut errors);
    signature::params(sig, &types, &mut errors);
    if sig.inputs.is_empty() {
        errors.push(syn::Error::new(
            sig.paren_token.span.join(),
            "`#[pepeunit::main]` takes `(unit: PepeunitClient)`, and may take `State<T>` handles too",
        ));
    }
    let types = errors
        .is_empty()
        .then(|| types.into_iter().cloned().collect());
    let main = config.build(function, types);
    errors.finish(quote! {
        #main
        #flags
        #generated
    })
}
