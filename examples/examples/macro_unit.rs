//! A unit declared with the three macros: each number received on `input/pepeunit` is logged and,
//! on the next 100 ms slot, published doubled on `output/pepeunit`. Run it in a directory holding
//! the unit's env.json and schema.json (or point `PEPEUNIT_ENV` / `PEPEUNIT_SCHEMA` at them).

use std::sync::Mutex;

use pepeunit::prelude::*;

/// The last number received and not yet published.
static PENDING: Mutex<Option<i64>> = Mutex::new(None);

/// A payload that is not a number is logged as skipped; this function only sees numbers.
#[pepeunit::input("input/pepeunit")]
fn on_value(unit: PepeunitClient, value: i64) {
    unit.logger().info(format!("got {value}"));
    *PENDING.lock().unwrap_or_else(|p| p.into_inner()) = Some(value);
}

/// `None` publishes nothing: a value goes out once per number received.
#[pepeunit::output("output/pepeunit", every = "100ms")]
fn doubled() -> Option<i64> {
    let pending = PENDING.lock().unwrap_or_else(|p| p.into_inner()).take();
    pending.map(|value| value * 2)
}

#[pepeunit::main(mqtt, rest)]
async fn main(unit: PepeunitClient) -> pepeunit::Result<()> {
    unit.logger().info("macro unit started");
    Ok(())
}
