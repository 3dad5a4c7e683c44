//! A smart plug: a relay switched by `on`/`off` on `relay/pepeunit` and kept across restarts and
//! updates, a power limit (watts on `limit/pepeunit`, answered on `ack/pepeunit`) that switches the
//! relay off when the power is above it, the power sampled every 250 ms from the meter and its mean
//! published every `DELAY_PUB_MSG` seconds on `power/pepeunit`, and the relay's state published on
//! `relay_state/pepeunit` whenever it changes (and once connected).
//!
//! The meter here is a file holding the power in watts (`PLUG_METER`, default `meter.txt`).

use pepeunit::prelude::*;

/// The relay and the limit, kept in the unit's state storage as `{"Plug": {…}}`.
#[pepeunit::state(stored)]
#[derive(Default, serde::Serialize, serde::Deserialize)]
struct Plug {
    on: bool,
    limit_watts: Option<f64>,
}

/// The meter's reading in watts; `None` (no sample) when it cannot be read.
fn power_now() -> Option<f64> {
    let meter = std::env::var("PLUG_METER").unwrap_or_else(|_| "meter.txt".to_owned());
    std::fs::read_to_string(meter).ok()?.trim().parse().ok()
}

#[pepeunit::input("relay/pepeunit")]
fn switch(command: &str, plug: &mut Plug) {
    match command.trim() {
        "on" => plug.on = true,
        "off" => plug.on = false,
        _ => {}
    }
}

#[pepeunit::input("limit/pepeunit", publish = "ack/pepeunit")]
fn limit(watts: f64, plug: &mut Plug) -> String {
    plug.limit_watts = Some(watts);
    if plug.on && power_now().is_some_and(|power| power > watts) {
        plug.on = false;
        return format!("limit {watts} W: exceeded, relay off");
    }
    format!("limit {watts} W")
}

#[pepeunit::output(
    "power/pepeunit",
    sample = "250ms",
    every = "DELAY_PUB_MSG",
    reduce = "mean"
)]
fn power() -> Option<f64> {
    power_now()
}

#[pepeunit::output("relay_state/pepeunit", on_change)]
fn relay_state(plug: &Plug) -> &'static str {
    if plug.on { "on" } else { "off" }
}

#[pepeunit::main(mqtt, rest)]
async fn main(unit: PepeunitClient) -> pepeunit::Result<()> {
    unit.logger().info("smart plug started");
    Ok(())
}
