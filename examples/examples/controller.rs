//! A controller unit: every `DELAY_PUB_MSG` seconds it reads the latest hourly average of a sensor's
//! node from DataPipe and switches a heater unit's input node `on` below `SETPOINT` − 0.5 °C and
//! `off` above `SETPOINT` + 0.5 °C, with `set_state_input` — only when that changes. It has no
//! topics of its own: the instance carries the values both ways.
//!
//! Its env.json names the nodes: `SENSOR_NODE_UUID` (an output node whose DataPipe runs an
//! `Aggregation` pipeline with `Avg` over 3600 s windows), `HEATER_NODE_UUID` (an input node whose
//! owner turned `is_rewritable_input` on), `SETPOINT` (°C, default 20) and `DELAY_PUB_MSG`.
//!
//! The backend (1.2.0) turns `is_rewritable_input` off at each write, so a second switch is refused
//! (403, logged) until the heater's owner turns it on again; the controller then retries at each
//! period.

use pepeunit::prelude::*;
use pepeunit::rest::{AggregationFunction, AggregationQuery, Page};

/// The heater's state as last written (`None` until the first write): a unit state, handed to the
/// async output as a `State` handle (no lock is held across the REST calls).
#[pepeunit::state]
#[derive(Default, Clone)]
struct Heating(Option<bool>);

/// One control step: read the sensor's latest average, switch the heater when that is due.
#[pepeunit::output(every = "DELAY_PUB_MSG")]
async fn control(unit: PepeunitClient, heating: State<Heating>) -> pepeunit::Result<()> {
    let sensor: String = unit.settings().get("SENSOR_NODE_UUID")?;
    let heater: String = unit.settings().get("HEATER_NODE_UUID")?;
    let setpoint = unit.settings().current().get_or("SETPOINT", 20.0);
    let latest = AggregationQuery {
        functions: vec![AggregationFunction::Avg],
        window_size: Some(3600),
        page: Page {
            offset: 0,
            limit: 1,
        },
        ..AggregationQuery::default()
    };
    let Some(average) = unit.data_pipe_data(&sensor, &latest).await?.pipe_data.pop() else {
        unit.logger().debug("no hourly average yet");
        return Ok(());
    };
    let Heating(heating_now) = heating.get();
    let on = match heating_now {
        Some(true) => average.state < setpoint + 0.5,
        _ => average.state < setpoint - 0.5,
    };
    if heating_now == Some(on) {
        return Ok(());
    }
    let word = if on { "on" } else { "off" };
    unit.set_state_input(&heater, Some(word)).await?;
    heating.set(Heating(Some(on)));
    unit.logger().info(format!(
        "heater {word}: average {} °C until {}",
        average.state, average.end_window_datetime
    ));
    Ok(())
}

#[pepeunit::main(mqtt, rest)]
async fn main(unit: PepeunitClient) -> pepeunit::Result<()> {
    let info = unit.instance_info().await?;
    if info.feature_flags.is_some_and(|flags| !flags.datapipe) {
        unit.logger()
            .error("DataPipe is off on this instance: the controller has nothing to read");
    }
    unit.logger()
        .info(format!("controller started on Pepeunit {}", info.version));
    Ok(())
}
