//! A unit declared with the macros alone: each number received on `input/pepeunit` is logged and,
//! on the next 100 ms slot, published doubled on `output/pepeunit`. Run it in a directory holding
//! the unit's env.json and schema.json (or point `PEPEUNIT_ENV` / `PEPEUNIT_SCHEMA` at them).

use pepeunit::prelude::*;

/// The value waiting to be doubled: a unit state, lent `&mut` to the input and to the output.
#[pepeunit::state]
#[derive(Default)]
struct Pending(Option<i64>);

/// A payload that is not a number is logged as skipped; this function only sees numbers.
#[pepeunit::input("input/pepeunit")]
fn on_value(unit: PepeunitClient, value: i64, pending: &mut Pending) {
    unit.logger().info(format!("got {value}"));
    pending.0 = Some(value);
}

/// Publishes the double of a pending value once, every 100 ms at most.
#[pepeunit::output("output/pepeunit", every = "100ms")]
fn doubled(pending: &mut Pending) -> Option<i64> {
    pending.0.take().map(|value| value * 2)
}

#[pepeunit::main(mqtt, rest)]
async fn main(unit: PepeunitClient) -> pepeunit::Result<()> {
    unit.logger().info("macro unit started");
    Ok(())
}
