//! A unit keeping state the declarative way, run by `tests/stateful_unit.rs` against a local instance:
//! a running total changed through `&mut` by an input and read through `&` by an output, and a
//! stored plug switched through a `State<T>` handle in an async input, kept across restarts.

use pepeunit::prelude::*;

/// The sum of the numbers received (in memory only).
#[pepeunit::state]
#[derive(Default)]
struct Total {
    sum: i64,
}

/// The relay and how often it was switched, kept in the unit's state storage.
#[pepeunit::state(stored)]
#[derive(Default, serde::Serialize, serde::Deserialize)]
struct Plug {
    on: bool,
    switches: u64,
}

#[pepeunit::input("number/pepeunit")]
fn add(value: i64, total: &mut Total) {
    total.sum += value;
}

#[pepeunit::output("counter/pepeunit", every = "100ms")]
fn total(total: &Total) -> i64 {
    total.sum
}

#[pepeunit::input("text/pepeunit")]
async fn switch(unit: PepeunitClient, text: String, plug: State<Plug>) {
    let switches = plug.update(|plug| {
        plug.on = text == "on";
        plug.switches += 1;
        plug.switches
    });
    unit.logger().info(format!("switch {text} ({switches})"));
}

#[pepeunit::output("output/pepeunit", every = "100ms")]
fn relay(plug: &Plug) -> &'static str {
    if plug.on { "on" } else { "off" }
}

#[pepeunit::main(mqtt, rest)]
async fn main(_unit: PepeunitClient) -> pepeunit::Result<()> {
    Ok(())
}
