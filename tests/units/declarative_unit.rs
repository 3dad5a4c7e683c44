//! A unit made only of declarative items, run by `tests/declarative_unit.rs` against a local
//! instance: typed inputs of three kinds, an output every `DELAY_PUB_MSG` seconds, an output that
//! publishes only when it has something, an input answering on an output, an output published on
//! change, and `restart = "reload"`. Its topic names and variables
//! are this crate's `schema_example.json` and `env_example.json`, checked at compile time.

use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use pepeunit::prelude::*;

#[derive(serde::Deserialize)]
struct Reading {
    celsius: f64,
}

/// The last text received, echoed once by `echo`.
static LAST_TEXT: Mutex<Option<String>> = Mutex::new(None);

#[pepeunit::input("number/pepeunit")]
fn on_number(unit: PepeunitClient, value: i64) {
    unit.logger().info(format!("number {value}"));
}

/// The last number received (`i64::MIN`: none yet).
static LAST_NUMBER: AtomicI64 = AtomicI64::new(i64::MIN);

/// Answers each number on `ack/pepeunit`.
#[pepeunit::input("input/pepeunit", publish = "ack/pepeunit")]
fn ack_number(value: i64) -> String {
    LAST_NUMBER.store(value, Ordering::Relaxed);
    format!("ack {value}")
}

/// The parity of the last number, published when it changes.
#[pepeunit::output("parity/pepeunit", on_change)]
fn parity() -> Option<&'static str> {
    match LAST_NUMBER.load(Ordering::Relaxed) {
        i64::MIN => None,
        n if n % 2 == 0 => Some("even"),
        _ => Some("odd"),
    }
}

#[pepeunit::input("reading/pepeunit")]
async fn on_reading(Json(reading): Json<Reading>, unit: PepeunitClient) {
    unit.logger().info(format!("reading {}", reading.celsius));
}

#[pepeunit::input("text/pepeunit")]
fn on_text(unit: PepeunitClient, text: String) {
    unit.logger().info(format!("text {text}"));
    *LAST_TEXT.lock().unwrap_or_else(|p| p.into_inner()) = Some(text);
}

/// 1, 2, 3, … every `DELAY_PUB_MSG` seconds.
#[pepeunit::output("counter/pepeunit", every = "DELAY_PUB_MSG")]
fn counter() -> u64 {
    static COUNT: AtomicU64 = AtomicU64::new(0);
    COUNT.fetch_add(1, Ordering::Relaxed) + 1
}

/// The last text, once; `None` (nothing published) the rest of the time.
#[pepeunit::output("echo/pepeunit", every = "100ms")]
async fn echo() -> Option<String> {
    LAST_TEXT.lock().unwrap_or_else(|p| p.into_inner()).take()
}

#[pepeunit::main(mqtt, rest, restart = "reload")]
async fn main(_unit: PepeunitClient) -> pepeunit::Result<()> {
    Ok(())
}
