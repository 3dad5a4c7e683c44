//! A thermostat unit: it consumes temperatures (numbers on `input/pepeunit`, e.g. a linked sensor's
//! output) and set-points (`{"celsius": 21.5}` on `setpoint/pepeunit`), keeps the set-point in the
//! backend's state storage so that it survives restarts and updates, and every 5 s publishes
//! `on`/`off` for the heater on `output/pepeunit` — only when that changes.
//!
//! Its schema needs `input/pepeunit` and `setpoint/pepeunit` in `input_topic`, `output/pepeunit` in
//! `output_topic`; run it like the `sensor` example.

use pepeunit::prelude::*;

/// The set-point, kept in the unit's state storage as `{"Setpoint": {"celsius": 20.0}}`.
#[pepeunit::state(stored)]
#[derive(serde::Serialize, serde::Deserialize)]
struct Setpoint {
    celsius: f64,
}

impl Default for Setpoint {
    fn default() -> Self {
        Setpoint { celsius: 20.0 }
    }
}

/// What the thermostat last measured and decided.
#[pepeunit::state]
#[derive(Default)]
struct Climate {
    temperature: Option<f64>,
    heating: bool,
}

#[pepeunit::input("input/pepeunit")]
fn on_temperature(celsius: f64, climate: &mut Climate) {
    climate.temperature = Some(celsius);
}

/// A new set-point (saved to the state storage by the framework).
#[pepeunit::input("setpoint/pepeunit")]
fn on_setpoint(unit: PepeunitClient, Json(new): Json<Setpoint>, setpoint: &mut Setpoint) {
    unit.logger().info(format!("set-point {} °C", new.celsius));
    *setpoint = new;
}

/// `on` below the set-point minus 0.5 °C, `off` above it plus 0.5 °C; published when it changes.
#[pepeunit::output("output/pepeunit", on_change, every = "5s")]
fn heater(climate: &mut Climate, setpoint: &Setpoint) -> Option<&'static str> {
    let temperature = climate.temperature?;
    let margin = if climate.heating { 0.5 } else { -0.5 };
    climate.heating = temperature < setpoint.celsius + margin;
    Some(if climate.heating { "on" } else { "off" })
}

/// Starts from the stored set-point (loaded before any handler runs).
#[pepeunit::main(mqtt, rest)]
async fn main(unit: PepeunitClient, setpoint: State<Setpoint>) -> pepeunit::Result<()> {
    let celsius = setpoint.read(|setpoint| setpoint.celsius);
    unit.logger()
        .info(format!("thermostat started at {celsius} °C"));
    Ok(())
}
