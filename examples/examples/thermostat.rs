//! A thermostat unit: it consumes temperatures (numbers on `input/pepeunit`, e.g. a linked sensor's
//! output) and set-points (`{"celsius": 21.5}` on `setpoint/pepeunit`), keeps the set-point in the
//! backend's state storage so that it survives restarts and updates, and every 5 s publishes
//! `on`/`off` for the heater on `output/pepeunit` — only when that changes.
//!
//! Its schema needs `input/pepeunit` and `setpoint/pepeunit` in `input_topic`, `output/pepeunit` in
//! `output_topic`; run it like the `sensor` example.

use std::sync::Mutex;

use pepeunit::prelude::*;

#[derive(serde::Deserialize)]
struct Setpoint {
    celsius: f64,
}

/// What the thermostat knows.
struct Thermostat {
    setpoint: f64,
    temperature: Option<f64>,
    heating: Option<bool>,
}

static THERMOSTAT: Mutex<Thermostat> = Mutex::new(Thermostat {
    setpoint: 20.0,
    temperature: None,
    heating: None,
});

fn thermostat() -> std::sync::MutexGuard<'static, Thermostat> {
    THERMOSTAT.lock().unwrap_or_else(|p| p.into_inner())
}

#[pepeunit::input("input/pepeunit")]
fn on_temperature(celsius: f64) {
    thermostat().temperature = Some(celsius);
}

/// A new set-point, kept in the backend's state storage.
#[pepeunit::input("setpoint/pepeunit")]
async fn on_setpoint(unit: PepeunitClient, Json(setpoint): Json<Setpoint>) -> pepeunit::Result<()> {
    thermostat().setpoint = setpoint.celsius;
    unit.logger()
        .info(format!("set-point {} °C", setpoint.celsius));
    unit.set_state_storage(&setpoint.celsius.to_string()).await
}

/// `on` below the set-point minus 0.5 °C, `off` above it plus 0.5 °C; published when it changes.
#[pepeunit::output("output/pepeunit", every = "5s")]
fn heater() -> Option<&'static str> {
    let mut thermostat = thermostat();
    let temperature = thermostat.temperature?;
    let heating = match thermostat.heating {
        Some(true) => temperature < thermostat.setpoint + 0.5,
        _ => temperature < thermostat.setpoint - 0.5,
    };
    if thermostat.heating.replace(heating) == Some(heating) {
        return None;
    }
    Some(if heating { "on" } else { "off" })
}

/// Starts from the set-point kept in state storage, if there is one.
#[pepeunit::main(mqtt, rest)]
async fn main(unit: PepeunitClient) -> pepeunit::Result<()> {
    if let Ok(setpoint) = unit.get_state_storage().await?.parse() {
        thermostat().setpoint = setpoint;
    }
    unit.logger().info(format!(
        "thermostat started at {} °C",
        thermostat().setpoint
    ));
    Ok(())
}
