//! A sensor unit: every `DELAY_PUB_MSG` seconds it publishes the board's temperature on
//! `output/pepeunit` — read from Linux's thermal zone, or a simulated value where there is none.
//! An `env_update` that changes `DELAY_PUB_MSG` changes the period of the running unit.
//!
//! Try it against a local instance: `cargo run -p pepeunit-examples --example instance /tmp/unit`
//! in one terminal, then in another `PEPEUNIT_ENV=/tmp/unit/env.json PEPEUNIT_SCHEMA=/tmp/unit/schema.json
//! PEPEUNIT_LOG=/tmp/unit/log.json cargo run -p pepeunit-examples --example sensor`.

use std::time::{SystemTime, UNIX_EPOCH};

use pepeunit::prelude::*;

const THERMAL_ZONE: &str = "/sys/class/thermal/thermal_zone0/temp";

/// The temperature in °C, one decimal.
#[pepeunit::output("output/pepeunit", every = "DELAY_PUB_MSG")]
fn temperature() -> f64 {
    let celsius = match std::fs::read_to_string(THERMAL_ZONE) {
        Ok(millidegrees) => millidegrees.trim().parse::<f64>().unwrap_or(0.0) / 1000.0,
        Err(_) => simulated(),
    };
    (celsius * 10.0).round() / 10.0
}

/// 20 °C ± 5, one slow wave per 10 minutes.
fn simulated() -> f64 {
    let seconds = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    20.0 + 5.0 * (seconds / 600.0 * std::f64::consts::TAU).sin()
}

#[pepeunit::main(mqtt, rest)]
async fn main(unit: PepeunitClient) -> pepeunit::Result<()> {
    unit.logger().info("sensor started");
    Ok(())
}
