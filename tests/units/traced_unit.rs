//! A unit with no logging set-up of its own whose handler logs through `tracing` and `log`, run by
//! `tests/traced_unit.rs`: `#[pepeunit::main]` installs both bridges (pepeunit's `tracing` and `log`
//! features), so both warnings reach log.json and `log/pepeunit`.

use pepeunit::prelude::*;

#[pepeunit::input("input/pepeunit")]
fn on_value(celsius: f64) {
    tracing::warn!(celsius, "too hot");
    log::warn!("too hot: {celsius}");
}

#[pepeunit::main(mqtt, rest)]
async fn main(_unit: PepeunitClient) -> pepeunit::Result<()> {
    tracing::info!("traced unit started");
    Ok(())
}
