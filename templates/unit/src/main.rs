//! A Pepeunit unit. Put the unit's `env.json` and `schema.json` (Unit → Get env / Get schema on your
//! Pepeunit instance) next to where you run it, or point `PEPEUNIT_ENV` / `PEPEUNIT_SCHEMA` at them.

use pepeunit::prelude::*;

/// Runs for every message on any topic of `input_topic["input/pepeunit"]`.
#[pepeunit::input("input/pepeunit")]
async fn on_value(unit: PepeunitClient, msg: Message) -> pepeunit::Result<()> {
    unit.logger().info(format!("got {}", msg.text()?));
    Ok(())
}

/// Runs once per main-cycle tick.
#[pepeunit::output]
async fn tick(_unit: PepeunitClient) {}

#[pepeunit::main(mqtt, rest)]
async fn main(unit: PepeunitClient) -> pepeunit::Result<()> {
    unit.logger().info(format!("unit {} started", unit.unit_uuid()?));
    Ok(())
}
