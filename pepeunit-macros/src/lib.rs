//! Attribute macros of the `pepeunit` crate: a unit written as a few annotated functions.
//!
//! - [`macro@main`] builds the client, runs the setup body, then the main cycle;
//! - [`macro@input`] registers a function for the messages of one `input_topic` name;
//! - [`macro@output`] registers a function run once per main-cycle tick.
//!
//! Use them through `pepeunit` (`#[pepeunit::main(mqtt, rest)]`, …): the generated code refers to
//! `::pepeunit::__private::…` only, so a unit crate depends on `pepeunit` alone. Which flags `main`
//! accepts depends on the features `pepeunit` was built with (it forwards `mqtt` and `rest` here).
//!
//! Every mistake the macros can see is a compile error spanned on the offending token: all of them at
//! once, with the original item kept so that no cascade of follow-up errors hides them.

mod errors;
mod examples;
mod handler;
mod main_attr;
mod signature;

use proc_macro::TokenStream;

use examples::{EnvExample, SchemaExample};

/// The transports `pepeunit` was built with (its features, forwarded to this crate).
#[derive(Clone, Copy)]
struct Features {
    mqtt: bool,
    rest: bool,
}

const FEATURES: Features = Features {
    mqtt: cfg!(feature = "mqtt"),
    rest: cfg!(feature = "rest"),
};

/// Turns `async fn main(unit: PepeunitClient)` into the unit's whole program.
///
/// # Grammar
/// ```text
/// #[pepeunit::main]  |  #[pepeunit::main(FLAG, …)]      FLAG := mqtt | rest   (each at most once)
/// async fn NAME(PAT: PepeunitClient) -> pepeunit::Result<()> { SETUP }
/// ```
///
/// # Semantics
/// The generated `fn NAME()` (usually `main`) builds a current-thread tokio runtime and a
/// `PepeunitClient` from `env.json`, `schema.json` and `log.json` in the current directory — or the
/// paths in the environment variables `PEPEUNIT_ENV`, `PEPEUNIT_SCHEMA`, `PEPEUNIT_LOG` — with MQTT
/// and REST on as the flags say; `PEPEUNIT_CA_FILE` names a PEM file of CA certificates trusted for
/// `mqtts` and `https` beside the system's roots. With `mqtt`, it sets one input handler that runs every
/// [`macro@input`] function of the binary whose name matches the message's `input_topic` name. Then
/// it runs `SETUP` with a clone of the client and, with `mqtt`, the main cycle with every
/// [`macro@output`] function until SIGINT, SIGTERM or `stop_main_cycle()`. Without `mqtt` it returns
/// after `SETUP`. Any error (a missing file, a failed setup) is printed to stderr and the process
/// exits with code 1.
///
/// Compile errors: an unknown or repeated flag; a flag whose `pepeunit` feature is off; a
/// signature other than the one above; and, when the crate has a `schema_example.json`, an `update`,
/// `env_update` or `schema_update` command in its `input_base_topic` while the `rest` flag (which
/// runs them) is missing.
///
/// When the crate has an `env_example.json`, it also defines `mod unit_env` beside the function:
/// one `fn name(unit: &PepeunitClient) -> pepeunit::Result<T>` per developer variable, named by the
/// variable in lower case and typed by its example value (integer `i64`, other number `f64`, `bool`,
/// string `String`; variables whose name is not an identifier or whose value is anything else get
/// none), so `unit_env::delay_pub_msg(&unit)?` reads `DELAY_PUB_MSG` from env.json and a misspelt
/// name fails to compile. The attribute also defines a hidden `__pepeunit_main` type beside the
/// function, which [`macro@input`] and [`macro@output`] check for the `mqtt` flag: put `main` at the
/// crate root.
///
/// # Expansion
/// ```text
/// fn main() {
///     async fn __pepeunit_setup(unit: PepeunitClient) -> pepeunit::Result<()> { SETUP }
///     if let Err(error) = ::pepeunit::__private::run(MQTT, REST, |unit| __pepeunit_setup(unit)) {
///         eprintln!("error: {error}");
///         std::process::exit(1);
///     }
/// }
/// type __pepeunit_main = ::pepeunit::__private::MainFlags<MQTT>;
/// pub(crate) mod unit_env {                // with env_example.json {"DELAY_PUB_MSG": 1}
///     pub fn delay_pub_msg(unit: &PepeunitClient) -> pepeunit::Result<i64> {
///         unit.settings().get("DELAY_PUB_MSG")
///     }
/// }
/// ```
/// `run` is the imperative API: `PepeunitClient::builder(..).mqtt(MQTT).rest(REST).build()`,
/// `set_input_handler`, then `run_main_cycle_with`.
///
/// # Example
/// ```no_run
/// use pepeunit::client::PepeunitClient;
///
/// #[pepeunit::main(mqtt, rest)]
/// async fn main(unit: PepeunitClient) -> pepeunit::Result<()> {
///     unit.logger().info("unit started");
///     Ok(())
/// }
/// ```
#[proc_macro_attribute]
pub fn main(attr: TokenStream, item: TokenStream) -> TokenStream {
    let (schema, env) = (SchemaExample::load(), EnvExample::load());
    main_attr::expand(attr.into(), item.into(), FEATURES, schema, env).into()
}

/// Runs a function for every message on the topics of one `input_topic` name.
///
/// # Grammar
/// ```text
/// #[pepeunit::input("NAME")]
/// [async] fn IDENT(PAT: PepeunitClient, PAT: Message) [-> () | -> Result<(), E: Display>] { … }
/// ```
///
/// # Semantics
/// `NAME` is an `input_topic` name of schema.json; the function receives every message on any of
/// its physical topics (its own, and linked units' outputs), in arrival order, one at a time. An
/// `async fn` runs on the runtime, a plain `fn` on a blocking thread. A returned `Err` is logged at
/// `Error` level and a panic at `Critical`, with the function's path; the cycle goes on. Several
/// functions may take the same name: each runs, sorted by path. The function stays callable as
/// written.
///
/// Needs the `mqtt` feature and `#[pepeunit::main(mqtt)]` at the crate root (else a compile error
/// on this attribute). When the crate has a `schema_example.json`, `NAME` must be in its
/// `input_topic` list.
///
/// # Expansion
/// ```text
/// fn IDENT(..) { … }                       // unchanged
/// const _: () = {
///     #[distributed_slice(::pepeunit::__private::INPUTS)]
///     static ENTRY: InputEntry = InputEntry {
///         topic_name: "NAME",
///         handler: || Handler::new /* or ::blocking */ ("module::IDENT", |unit, msg| IDENT(unit, msg)),
///     };
///     ::pepeunit::__private::main_has_mqtt::<crate::__pepeunit_main>()
/// };
/// ```
///
/// # Example
/// ```no_run
/// use pepeunit::client::PepeunitClient;
/// use pepeunit::runtime::Message;
///
/// #[pepeunit::input("input/pepeunit")]
/// async fn on_value(unit: PepeunitClient, msg: Message) -> pepeunit::Result<()> {
///     let value: i64 = msg.text()?.trim().parse().unwrap_or_default();
///     unit.logger().info(format!("got {value}"));
///     Ok(())
/// }
///
/// #[pepeunit::main(mqtt)]
/// async fn main(_unit: PepeunitClient) -> pepeunit::Result<()> {
///     Ok(())
/// }
/// ```
#[proc_macro_attribute]
pub fn input(attr: TokenStream, item: TokenStream) -> TokenStream {
    let schema = SchemaExample::load();
    handler::expand(
        handler::Kind::Input,
        attr.into(),
        item.into(),
        FEATURES,
        schema,
    )
    .into()
}

/// Runs a function once per main-cycle tick (`MqttConfig::cycle_interval`, 100 ms by default).
///
/// # Grammar
/// ```text
/// #[pepeunit::output]
/// [async] fn IDENT(PAT: PepeunitClient) [-> () | -> Result<(), E: Display>] { … }
/// ```
///
/// # Semantics
/// Every output function of the binary runs on each tick, one after the other, sorted by path; an
/// `async fn` on the runtime, a plain `fn` on a blocking thread. Errors and panics are logged as for
/// [`macro@input`] and the cycle goes on. Needs the `mqtt` feature and `#[pepeunit::main(mqtt)]`.
///
/// # Expansion
/// ```text
/// fn IDENT(..) { … }                       // unchanged
/// const _: () = {
///     #[distributed_slice(::pepeunit::__private::OUTPUTS)]
///     static ENTRY: OutputEntry = OutputEntry {
///         handler: || Handler::new /* or ::blocking */ ("module::IDENT", |unit, ()| IDENT(unit)),
///     };
///     ::pepeunit::__private::main_has_mqtt::<crate::__pepeunit_main>()
/// };
/// ```
///
/// # Example
/// ```no_run
/// use pepeunit::client::PepeunitClient;
///
/// #[pepeunit::output]
/// async fn publish(unit: PepeunitClient) -> pepeunit::Result<()> {
///     unit.publish_to_topics("output/pepeunit", "1").await
/// }
///
/// #[pepeunit::main(mqtt)]
/// async fn main(_unit: PepeunitClient) -> pepeunit::Result<()> {
///     Ok(())
/// }
/// ```
#[proc_macro_attribute]
pub fn output(attr: TokenStream, item: TokenStream) -> TokenStream {
    let schema = Ok(None);
    handler::expand(
        handler::Kind::Output,
        attr.into(),
        item.into(),
        FEATURES,
        schema,
    )
    .into()
}

/// What trybuild cannot reach: the UI tests' `pepeunit` has both features, so the errors of a
/// feature that is off are checked here, on the expansion.
#[cfg(test)]
mod tests {
    use proc_macro2::TokenStream as TokenStream2;

    use super::*;

    const MIN: Features = Features {
        mqtt: false,
        rest: false,
    };
    const MQTT: Features = Features {
        mqtt: true,
        rest: false,
    };

    fn main(attr: &str, features: Features) -> String {
        let item = "async fn main(unit: PepeunitClient) -> pepeunit::Result<()> { Ok(()) }";
        let (attr, item) = (attr.parse().unwrap(), item.parse().unwrap());
        main_attr::expand(attr, item, features, Ok(None), Ok(None)).to_string()
    }

    fn output(features: Features) -> String {
        let item = "async fn tick(unit: PepeunitClient) {}".parse().unwrap();
        handler::expand(
            handler::Kind::Output,
            TokenStream2::new(),
            item,
            features,
            Ok(None),
        )
        .to_string()
    }

    #[test]
    fn a_flag_whose_feature_is_off_names_the_feature_to_add() {
        let expanded = main("mqtt, rest", MQTT);
        assert!(!expanded.contains("`mqtt` flag needs"), "{expanded}");
        assert!(
            expanded.contains("the `rest` flag needs the `rest` feature of pepeunit"),
            "{expanded}"
        );
        let expanded = main("mqtt", MIN);
        assert!(
            expanded.contains("the `mqtt` flag needs the `mqtt` feature"),
            "{expanded}"
        );
    }

    #[test]
    fn main_needs_a_transport_feature_for_tokio() {
        assert!(main("", MIN).contains("which comes with the `mqtt` or `rest` feature"));
        assert!(!main("", MQTT).contains("compile_error"));
    }

    #[test]
    fn handlers_need_the_mqtt_feature() {
        let expanded = output(MIN);
        assert!(
            expanded.contains("runs in the MQTT main cycle"),
            "{expanded}"
        );
        assert!(!expanded.contains("linkme"), "{expanded}");
        assert!(!output(MQTT).contains("compile_error"));
    }
}
