//! Attribute macros of the `pepeunit` crate: a unit declared as a few annotated functions.
//!
//! - [`macro@main`] builds the client, runs the setup body, then the main cycle;
//! - [`macro@input`] declares what the unit consumes: a function of typed arguments made from
//!   each message of one `input_topic` name;
//! - [`macro@output`] declares what it produces: a function run on a period (or every tick) whose
//!   return value is published to one `output_topic` name;
//! - [`macro@state`] declares what it keeps: a type with one value per unit that the functions take
//!   as `&T`, `&mut T` or `State<T>`, optionally kept in the unit's state storage.
//!
//! Use them through `pepeunit` (`#[pepeunit::main(mqtt, rest)]`, …): the generated code refers to
//! `::pepeunit::__private::…` only (the table in `paths.rs`), so a unit crate depends on
//! `pepeunit` alone. Which flags `main` accepts depends on the features `pepeunit` was built with
//! (it forwards `mqtt` and `rest` here).
//!
//! Each macro works in three stages: parse the attribute into a configuration, check it (against the
//! library's features and the crate's `schema_example.json`/`env_example.json`), generate. Every
//! mistake is a compile error spanned on the offending token, all of them at once, with the
//! original item kept so that no cascade of follow-up errors hides them; the function's body is
//! never parsed, so a syntax error in it is rustc's own.
//!
//! The crate's files are read from its directory (`CARGO_MANIFEST_DIR`), or from the directory that
//! `PEPEUNIT_UNIT_DIR` names when it is set at build time (relative to the crate's directory); cargo
//! rebuilds the unit when that variable changes. It is meant for harnesses that compile a unit's
//! source inside a crate of their own, as trybuild does.

mod args;
mod errors;
mod examples;
mod handler;
mod input;
mod item;
mod main_attr;
mod output;
mod paths;
mod signature;
mod state;
mod unit_dir;

use proc_macro::TokenStream;

use examples::{EnvExample, SchemaExample};

/// The transports `pepeunit` was built with (its features, forwarded to this crate).
#[derive(Clone, Copy)]
struct Features {
    mqtt: bool,
    mqtt_tls: bool,
    rest: bool,
}

const FEATURES: Features = Features {
    mqtt: cfg!(feature = "mqtt"),
    mqtt_tls: cfg!(feature = "mqtt-tls"),
    rest: cfg!(feature = "rest"),
};

/// Turns `async fn main(unit: PepeunitClient)` into the unit's whole program.
///
/// # Grammar
/// ```text
/// #[pepeunit::main(ARG, …)]        ARG := mqtt | rest                            (flags)
///                                        | restart = "exec" | "spawn" | "reload" | "none"
///                                        | cycle = DURATION                        e.g. "100ms"
///                                        | env = "PATH" | schema = "PATH" | log = "PATH"
///                                        | ca_file = "PATH" | mqtt_tls = "auto" | "on" | "off"
/// async fn NAME(PAT: PepeunitClient [, PAT: State<S>, …]) -> pepeunit::Result<()> { SETUP }
/// ```
///
/// # Semantics
/// The generated `fn NAME()` (usually `main`) builds a current-thread tokio runtime and a
/// `PepeunitClient` from env.json, schema.json and log.json, with MQTT and REST on as the flags
/// say. With `mqtt`, the [`macro@input`] functions of the binary receive their messages and the
/// [`macro@output`] functions run in the main cycle. It runs `SETUP` with a clone of the client,
/// then (with `mqtt`) the main cycle until SIGINT, SIGTERM or `stop_main_cycle()`. Without
/// `mqtt` it returns after `SETUP`. Any error (a missing file, a failed setup) is printed to stderr
/// and the process exits with code 1.
///
/// Options, each with one default:
/// - `restart` — what happens after an update is installed: `"exec"` (default: the new program
///   replaces the process, same pid), `"spawn"` (a new process is started and this one exits),
///   `"reload"` (env.json and schema.json are reloaded, the process goes on), `"none"`. Needs `rest`.
/// - `cycle` — the tick of per-tick outputs (plain `#[output]`); default `"100ms"`. With no per-tick
///   output the cycle does not tick at all. Needs `mqtt`.
/// - `env`, `schema`, `log` — the unit's files; default `env.json`, `schema.json`, `log.json` in the
///   current directory. The environment variables `PEPEUNIT_ENV`, `PEPEUNIT_SCHEMA`,
///   `PEPEUNIT_LOG` override them.
/// - `ca_file` — a PEM file of CA certificates trusted for `mqtts` and `https` beside the system's
///   roots (a private instance's CA); default none. `PEPEUNIT_CA_FILE` overrides it.
/// - `mqtt_tls` — TLS for the MQTT connection: `"auto"` (default: TLS when `PU_MQTT_PORT` is 8883),
///   `"on"` (a TLS broker on another port), `"off"`. Needs `mqtt`, and `"on"` the `mqtt-tls`
///   feature. `PEPEUNIT_MQTT_TLS` overrides it.
///
/// Compile errors: an unknown or repeated flag or option; a flag whose `pepeunit` feature is off; a
/// malformed value; `restart` without `rest`; `cycle` or `mqtt_tls` without `mqtt`; a signature other than the
/// one above; and, when the crate has a `schema_example.json`, an `update`, `env_update` or
/// `schema_update` command in its `input_base_topic` while the `rest` flag (which runs them) is
/// missing.
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
///     let options = RunOptions { mqtt: MQTT, rest: REST, restart: Some(RestartMode::ReloadOnly),
///         cycle: None, env: unit_file("PEPEUNIT_ENV", "env.json"), schema: …, log: …,
///         ca_file: ca_file("PEPEUNIT_CA_FILE", None), mqtt_tls: None };
///     if let Err(error) = ::pepeunit::__private::run(options, |unit| __pepeunit_setup(unit)) {
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
/// `run` is the imperative API: `PepeunitClient::builder(..).mqtt(MQTT).rest(REST)`
/// `.restart_mode(..).mqtt_config(..).build()`, `set_input_handler`, then
/// `run_main_cycle_with_outputs`.
///
/// # Example
/// ```no_run
/// use pepeunit::prelude::*;
///
/// #[pepeunit::main(mqtt, rest, restart = "reload")]
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

/// Declares what the unit consumes: a function run for every message on the topics of one
/// `input_topic` name, its arguments made from the message.
///
/// # Grammar
/// ```text
/// #[pepeunit::input("NAME")]
/// [async] fn IDENT(PAT: T, …) [-> () | -> Result<(), E: Display>] { … }      T: FromMessage
/// #[pepeunit::input("NAME", publish = "OUTPUT")]
/// [async] fn IDENT(PAT: T, …) -> P { … }                                     P: IntoPayload
///         T := FromMessage | State<S> | &S | &mut S (plain `fn` only)      S: #[pepeunit::state]
/// ```
///
/// # Semantics
/// `NAME` is an `input_topic` name of schema.json; the function receives every message on any of
/// its physical topics (its own, and linked units' outputs), in arrival order, one at a time. Each
/// argument, in any order, is made from the message through `pepeunit::FromMessage`:
/// `PepeunitClient` (the unit), `Message` (the raw message), `Topic` (the physical topic it came
/// on), `&str`/`String` (the UTF-8 payload), a number or `bool` (the trimmed text, by the rules of
/// env values), `Json<T>` (`T: Deserialize`), `&[u8]`/`Vec<u8>`/`Bytes` (the payload as is), or a
/// type of your own implementing the trait. A message an argument cannot be made from (not UTF-8,
/// not a number, JSON of another shape) is not an error: it is logged at `Warning` naming the
/// input, the function, the expected type and the reason (quoting at most 32 characters of the
/// payload; the first time, then at every power of two with the count), the function is not
/// called, and the next message goes on as usual.
///
/// An `async fn` runs on the runtime, a plain `fn` on a blocking thread. A returned `Err` is logged
/// at `Error` and a panic at `Critical`, with the function's path; the cycle goes on. Several
/// functions may take the same name: each runs, sorted by path. The function stays callable as
/// written.
///
/// With `publish = "OUTPUT"` the function answers: what it returns is published to every topic of
/// `output_topic[OUTPUT]` through `pepeunit::IntoPayload`, as an output's value is (`None`: nothing
/// this time; `Err`: logged as the function's error). Every input function and scheduled output that
/// ran wakes the `on_change` outputs (see [`macro@output`]).
///
/// Unit states ([`macro@state`]) are arguments too: `State<S>` in any function, `&S`/`&mut S` in
/// a plain `fn`, locked for the call.
///
/// Compile errors: an argument type that is not made from a message (on that type); the errors of
/// unit-state arguments (see [`macro@state`]); a return
/// type other than `()`/`Result<(), E>` (without `publish`), or one that cannot be published (with it);
/// an unknown option; no `#[pepeunit::main(mqtt)]` at the crate root or no `mqtt`
/// feature (on this attribute); a name that the crate's `schema_example.json` does not list in
/// `input_topic`, or an `OUTPUT` it does not list in `output_topic`.
///
/// # Expansion
/// ```text
/// fn IDENT(..) { … }                       // unchanged
/// const _: () = {
///     #[distributed_slice(::pepeunit::__private::INPUTS)]
///     static ENTRY: InputEntry = InputEntry {
///         topic_name: "NAME",
///         handler: || InputHandler::typed("module::IDENT", |unit, msg| async move {
///             let arg0 = extract::<T0>(&unit, &msg)?;   // Err(Rejected): logged, not called
///             Ok(IDENT(arg0, …).await)
///         }),                                           // `typed_blocking` for a plain `fn`
///     };   // with `publish`: `InputHandler::answering[_blocking]("module::IDENT", "OUTPUT", …)`
///     ::pepeunit::__private::main_has_mqtt::<crate::__pepeunit_main>()
/// };
/// ```
///
/// # Example
/// ```no_run
/// use pepeunit::prelude::*;
///
/// #[derive(serde::Deserialize)]
/// struct Reading {
///     celsius: f64,
/// }
///
/// #[pepeunit::input("input/pepeunit")]
/// fn on_value(unit: PepeunitClient, value: f64) {
///     unit.logger().info(format!("got {value}"));
/// }
///
/// #[pepeunit::input("input/pepeunit")]
/// async fn on_reading(unit: PepeunitClient, Json(reading): Json<Reading>, topic: Topic) {
///     unit.logger().info(format!("{} °C from {topic}", reading.celsius));
/// }
///
/// #[pepeunit::main(mqtt)]
/// async fn main(_unit: PepeunitClient) -> pepeunit::Result<()> {
///     Ok(())
/// }
/// ```
#[proc_macro_attribute]
pub fn input(attr: TokenStream, item: TokenStream) -> TokenStream {
    input::expand(attr.into(), item.into(), FEATURES, SchemaExample::load()).into()
}

/// Declares what the unit produces: a function run on a period whose return value is published to
/// one `output_topic` name — or, plainly, a function run once per main-cycle tick.
///
/// # Grammar
/// ```text
/// #[pepeunit::output("NAME", every = PERIOD)]    PERIOD := "ENV_VARIABLE" | DURATION ("5s", "250ms", "1.5s", "2m", "1h")
/// #[pepeunit::output("NAME")]                    published every tick
/// #[pepeunit::output(every = PERIOD)]            run on the period, nothing published
/// #[pepeunit::output]                            run every tick, nothing published
/// #[pepeunit::output("NAME", on_change [, every = PERIOD] [, heartbeat = DURATION])]
/// #[pepeunit::output("NAME", sample = DURATION, every = PERIOD [, reduce = REDUCE] [, delta = N] [, round = D])]
/// #[pepeunit::output("NAME" [, every = PERIOD], delta = N [, round = D])]   (or `round` alone)
/// [async] fn IDENT(PAT: A, …) [-> T] { … }
///         A := PepeunitClient | State<S> | &S | &mut S (plain `fn` only)   S: #[pepeunit::state]
///                                  REDUCE := "mean" (default) | "min" | "max" | "sum" | "last" | "count"
/// ```
///
/// # Semantics
/// With a `NAME`, the value returned is published to every topic of `output_topic[NAME]` through
/// `pepeunit::IntoPayload`: a number or `bool` as its text, `String`/`&'static str`, `Json<T>`
/// (`T: Serialize`), `Vec<u8>`/`Bytes` as they are, `Option<T>` (`None`: nothing this time),
/// `Result<T, E: Display>` (`Err`: logged as the function's error, nothing published), or a type of
/// your own implementing the trait. Without a name the function returns `()` or `Result<(), E>`.
///
/// `every = "DELAY_PUB_MSG"` runs it every that many seconds of env.json's variable (a number;
/// fractions allowed), read again when env.json is reloaded, so an `env_update` changes the period
/// of the running unit; `every = "5s"` is a fixed period. Periods are kept on the monotonic clock
/// without drift; a run that comes late is not followed by catch-up runs, and a run still going
/// when the next is due makes that one skipped. Each scheduled function runs on its own task: a
/// slow one delays neither the others nor the inputs. Without `every` the function runs once per
/// tick (`cycle` of [`macro@main`], 100 ms by default), after the other per-tick functions, sorted
/// by path. An `async fn` runs on the runtime, a plain `fn` on a blocking thread; errors and panics
/// are logged as for [`macro@input`]; a function failing the same way again and again is logged at
/// its 1st, 2nd, 4th, 8th… failure in a row, with the count (a success ends the row).
///
/// `on_change` publishes only when the payload differs from the last one published. Without
/// `every` the function is evaluated once connected and then after every input function and every
/// scheduled output ran (runs that come while it is being evaluated are followed by one more
/// evaluation, not one each: a burst is seen at its latest value); with `every`, on that period.
/// `heartbeat = "60s"` publishes an unchanged value again when that long passed since it last
/// was. After every reconnect the current value is published again (the broker keeps no retained
/// message).
///
/// `sample = "250ms"` runs the function that often (on the monotonic clock, no drift, no catch-up
/// burst), each value a sample (`None`: no sample); every `every` the reduction of the samples since
/// the last publication is published (no samples: nothing). `delta = N` publishes only when the value
/// moved at least `N` from the last one published; `round = D` rounds to `D` decimals and publishes
/// that many. These need a number (an integer or float type, `Option`/`Result` of one).
///
/// Compile errors: a return type that cannot be published (on that type), or that is not a number
/// with `sample`/`reduce`/`delta`/`round`; `reduce` without `sample`; `sample` without `every` or
/// longer than a literal `every`; `on_change` or `heartbeat` without a `NAME`; `heartbeat` without
/// `on_change`; `on_change` beside the numeric options; an unknown reduction; `round` outside 0…15; a function that returns
/// a value but names no output; an argument that is not `PepeunitClient` or a unit state (with
/// the list of what an output takes); the errors of unit-state arguments (see [`macro@state`]); a
/// malformed duration; an unknown or repeated option; no `#[pepeunit::main(mqtt)]` at the crate
/// root or no `mqtt` feature; and with the crate's example files, a `NAME` that
/// `schema_example.json` does not list in `output_topic`, an `every` variable that
/// `env_example.json` does not define or whose example value is not a number.
///
/// # Expansion
/// ```text
/// fn IDENT(..) -> T { … }                  // unchanged
/// const _: () = {
///     #[distributed_slice(::pepeunit::__private::OUTPUTS)]
///     static ENTRY: OutputEntry = OutputEntry {
///         name: "module::IDENT",              // outputs are added in the order of their names
///         add: |outputs| outputs.every(       // `every_tick(handler)` without `every`
///             Period::EnvSeconds(Cow::Borrowed("DELAY_PUB_MSG")),
///             OutputHandler::publishing("module::IDENT", "NAME", |unit| IDENT(from_unit::<T0>(&unit), …)),
///         ),   // `publishing_blocking` for a plain `fn`; without a name `OutputHandler::new`/`blocking`
///     };
///     // on_change:  add: |outputs| outputs.on_change(ChangeOutput::publishing("module::IDENT",
///     //                 "NAME", |unit| IDENT(..)).every(PERIOD).heartbeat(Duration::from_nanos(..)))
///     // numeric:    add: |outputs| outputs.numeric(NumericOutput::new("module::IDENT", "NAME",
///     //                 |unit| IDENT(..)).every(PERIOD).sample(..).reduce(Reduce::Mean).delta(N).round(D))
///     ::pepeunit::__private::main_has_mqtt::<crate::__pepeunit_main>()
/// };
/// ```
///
/// # Example
/// ```no_run
/// use pepeunit::prelude::*;
///
/// #[pepeunit::output("output/pepeunit", every = "5s")]
/// fn temperature() -> Option<f64> {
///     std::fs::read_to_string("/sys/class/thermal/thermal_zone0/temp")
///         .ok()
///         .and_then(|text| text.trim().parse::<f64>().ok())
///         .map(|millidegrees| millidegrees / 1000.0)
/// }
///
/// #[pepeunit::output(every = "1m")]
/// async fn heartbeat(unit: PepeunitClient) {
///     unit.logger().debug("alive");
/// }
///
/// #[pepeunit::output("output/pepeunit", on_change, heartbeat = "60s")]
/// fn door() -> &'static str {
///     "closed"
/// }
///
/// #[pepeunit::output("output/pepeunit", sample = "250ms", every = "10s", reduce = "max", round = 1)]
/// fn peak() -> Option<f64> {
///     Some(1.25)
/// }
///
/// #[pepeunit::main(mqtt)]
/// async fn main(_unit: PepeunitClient) -> pepeunit::Result<()> {
///     Ok(())
/// }
/// ```
#[proc_macro_attribute]
pub fn output(attr: TokenStream, item: TokenStream) -> TokenStream {
    let (schema, env) = (SchemaExample::load(), EnvExample::load());
    output::expand(attr.into(), item.into(), FEATURES, schema, env).into()
}

/// Declares what the unit keeps: a type with one value per unit, made with `Default` at start,
/// that the [`macro@input`], [`macro@output`] and [`macro@main`] functions take as arguments.
///
/// # Grammar
/// ```text
/// #[pepeunit::state]                        kept in memory
/// #[pepeunit::state(stored)]                kept in the unit's state storage under the type's name
/// #[pepeunit::state(stored = "KEY")]        … under KEY
/// struct NAME { … } | enum NAME { … }       NAME: Default + Send + 'static (stored: + Serialize + Deserialize)
///
/// ARGUMENT := &NAME | &mut NAME             a plain `fn` (input or output): locked for the call
///           | State<NAME>                   any function, `main` too: a handle
/// ```
///
/// # Semantics
/// Each unit (each `PepeunitClient`) has one value of `NAME`, made with `Default` when the unit
/// starts. A plain `fn` taking `&NAME` or `&mut NAME` holds its lock for the call; a function taking
/// several states locks them in one fixed order (the order the unit made them in), whatever the
/// order of its arguments, so two functions can never deadlock each other. A `State<NAME>` handle is
/// cheap to clone and locks only within each of its calls — `get()` (a copy, for `Clone` types),
/// `set(v)`, `update(|s| …) -> R`, `read(|s| …) -> R` — so an `async fn` may hold it across
/// `.await`s. Units built by hand get the same handle from `unit.state::<NAME>()`.
///
/// `stored` (needs the `rest` feature and the `rest` flag of `main`) keeps the value in the unit's
/// state storage: one JSON object keyed by each stored type's key (`{"Plug": {"on": true}}`), so
/// several stored types share it. It is loaded before the first input or output runs: an empty
/// storage or a missing key leaves `Default`; an unreachable storage or a value that no longer
/// deserializes (the program changed the type) leaves `Default` with a Warning naming why, and the
/// stored value is kept until the state changes. After a handler changed it (its serialized form
/// differs from the last one saved), it is saved — one save in flight, at most one a second, the
/// latest value winning — and it is saved at once on a clean stop and before an update's restart. A
/// storage longer than the backend takes (1,000,000 characters) is an Error in the log, and nothing
/// is sent. A stored state while `main` lacks `rest` is a start-up error naming the type.
///
/// Compile errors: an argument `&T`, `&mut T` or `State<T>` whose `T` is not declared with this
/// attribute (on that `T`); `&T` or `&mut T` in an `async fn` (take `State<T>`); one state taken
/// twice by one function; `stored` on a type without `Serialize`/`Deserialize` or while pepeunit's
/// `rest` feature is off (on `stored`); a generic type; a type without `Default` or not `Send`.
///
/// # Expansion
/// ```text
/// struct NAME { … }                        // unchanged
/// impl ::pepeunit::__private::UnitState for NAME {
///     const STORED: Option<StoredAs<Self>> = Some(StoredAs::<Self>::new("NAME"));   // `stored` only
/// }
/// const _: () = {
///     #[distributed_slice(::pepeunit::__private::STATES)]
///     static ENTRY: StateEntry = StateEntry { name: "module::NAME", make: make_state::<NAME> };
/// };
/// // in a plain `fn` handler taking (value: f64, plug: &mut Plug):
/// let arg0 = extract::<f64>(&unit, &msg)?;
/// let state0 = from_unit::<State<Plug>>(&unit);
/// let mut guards = LockAll::lock_all((Exclusive(&state0),));
/// IDENT(arg0, &mut *guards.0)
/// ```
///
/// # Example
/// ```no_run
/// use pepeunit::prelude::*;
///
/// #[pepeunit::state(stored)]
/// #[derive(Default, serde::Serialize, serde::Deserialize)]
/// struct Plug {
///     on: bool,
/// }
///
/// #[pepeunit::state]
/// #[derive(Default, Clone)]
/// struct Readings {
///     count: u64,
/// }
///
/// #[pepeunit::input("input/pepeunit")]
/// fn switch(text: &str, plug: &mut Plug, readings: &mut Readings) {
///     plug.on = text == "on";
///     readings.count += 1;
/// }
///
/// #[pepeunit::output("output/pepeunit", every = "5s")]
/// fn relay(plug: &Plug) -> &'static str {
///     if plug.on { "on" } else { "off" }
/// }
///
/// #[pepeunit::output(every = "1m")]
/// async fn report(unit: PepeunitClient, readings: State<Readings>) {
///     let count = readings.get().count;
///     unit.logger().info(format!("{count} switches"));
/// }
///
/// #[pepeunit::main(mqtt, rest)]
/// async fn main(_unit: PepeunitClient) -> pepeunit::Result<()> {
///     Ok(())
/// }
/// ```
#[proc_macro_attribute]
pub fn state(attr: TokenStream, item: TokenStream) -> TokenStream {
    state::expand(attr.into(), item.into(), FEATURES).into()
}

/// What trybuild cannot reach: the UI tests' `pepeunit` has both features, so the errors of a
/// feature that is off are checked here, on the expansion.
#[cfg(test)]
mod tests {
    use proc_macro2::TokenStream as TokenStream2;

    use super::*;

    const MIN: Features = Features {
        mqtt: false,
        mqtt_tls: false,
        rest: false,
    };
    const MQTT: Features = Features {
        mqtt: true,
        mqtt_tls: false,
        rest: false,
    };

    fn main(attr: &str, features: Features) -> String {
        let item = "async fn main(unit: PepeunitClient) -> pepeunit::Result<()> { Ok(()) }";
        let (attr, item) = (attr.parse().unwrap(), item.parse().unwrap());
        main_attr::expand(attr, item, features, Ok(None), Ok(None)).to_string()
    }

    fn output(features: Features) -> String {
        let item = "async fn tick(unit: PepeunitClient) {}".parse().unwrap();
        output::expand(TokenStream2::new(), item, features, Ok(None), Ok(None)).to_string()
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
    fn mqtt_tls_on_needs_the_mqtt_tls_feature() {
        let expanded = main("mqtt, mqtt_tls = \"on\"", MQTT);
        assert!(
            expanded.contains("`mqtt_tls = \\\"on\\\"` needs the `mqtt-tls` feature of pepeunit"),
            "{expanded}"
        );
        let with_tls = Features {
            mqtt_tls: true,
            ..MQTT
        };
        assert!(!main("mqtt, mqtt_tls = \"on\"", with_tls).contains("compile_error"));
        assert!(!main("mqtt, mqtt_tls = \"off\"", MQTT).contains("compile_error"));
    }

    #[test]
    fn main_needs_a_transport_feature_for_tokio() {
        assert!(main("", MIN).contains("which comes with the `mqtt` or `rest` feature"));
        assert!(!main("", MQTT).contains("compile_error"));
    }

    #[test]
    fn stored_needs_the_rest_feature() {
        let item = || {
            "#[derive(Default)] struct Plug { on: bool }"
                .parse()
                .unwrap()
        };
        let expanded = state::expand("stored".parse().unwrap(), item(), MQTT).to_string();
        assert!(
            expanded.contains("`stored` keeps the state in the unit's state storage, over REST"),
            "{expanded}"
        );
        let with_rest = Features { rest: true, ..MQTT };
        let expanded = state::expand("stored".parse().unwrap(), item(), with_rest).to_string();
        assert!(!expanded.contains("compile_error"), "{expanded}");
        assert!(expanded.contains("StoredAs"), "{expanded}");
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
