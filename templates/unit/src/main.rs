//! {{project-name}}: a Pepeunit unit. Every number that arrives on `input/pepeunit` is logged, and the
//! double of the last one is published on `output/pepeunit` every `DELAY_PUB_MSG` seconds (nothing
//! before the first number). Run it where the unit's `env.json` and `schema.json` are (README: "Run it").

use pepeunit::prelude::*;

/// The last number received: one value per unit, created at start and lent to the functions that
/// name it (`&mut` to the input, `&` to the output), so no static or mutex is needed.
#[pepeunit::state]
#[derive(Default)]
struct Latest(Option<f64>);

/// Runs for every message on `input_topic["input/pepeunit"]` that is a number; the library logs any
/// other payload as a warning and skips it.
#[pepeunit::input("input/pepeunit")]
fn on_number(unit: PepeunitClient, value: f64, latest: &mut Latest) {
    unit.logger().info(format!("got {value}"));
    latest.0 = Some(value);
}

/// Runs every `DELAY_PUB_MSG` seconds (read again when the instance updates env.json) and publishes
/// what it returns on `output_topic["output/pepeunit"]`: `None`, before the first number, publishes
/// nothing.
#[pepeunit::output("output/pepeunit", every = "DELAY_PUB_MSG")]
fn double(latest: &Latest) -> Option<f64> {
    latest.0.map(|value| value * 2.0)
}

/// Builds the unit from env.json, schema.json and log.json, runs this body, then the main cycle
{%- if flags == "mqtt+rest" %}
/// until SIGINT/SIGTERM. With `rest`, the platform's update commands (program, env, schema) are
/// handled by the library.
{%- if signed %}
/// Only binaries signed with the key in `update_key.pub` run (README: "Signed updates").
#[pepeunit::main(mqtt, rest, update_key = "update_key.pub")]
{%- else %}
#[pepeunit::main(mqtt, rest)]
{%- endif %}
{%- else %}
/// until SIGINT/SIGTERM.
#[pepeunit::main(mqtt)]
{%- endif %}
async fn main(unit: PepeunitClient) -> pepeunit::Result<()> {
    unit.logger().info("{{project-name}} started");
    Ok(())
}
