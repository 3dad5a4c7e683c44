//! Every reaction and numeric form: an input answering on an output (sync, async, `Option`), outputs
//! on change (with and without a period, with a heartbeat), sampled with each reduction, `delta`
//! and `round`, and the imperative API they expand to. Never run.

use pepeunit::prelude::*;
use pepeunit::runtime::{ChangeOutput, NumericOutput, Outputs, Period, Reduce};

#[pepeunit::input("input/pepeunit", publish = "ack/pepeunit")]
fn limit(value: f64) -> String {
    format!("limit {value}")
}

#[pepeunit::input("input/pepeunit", publish = "ack/pepeunit")]
async fn maybe_answer(text: &str) -> Option<String> {
    (!text.is_empty()).then(|| text.to_owned())
}

#[pepeunit::output("relay/pepeunit", on_change)]
fn relay() -> &'static str {
    "on"
}

#[pepeunit::output("relay/pepeunit", on_change, heartbeat = "60s")]
async fn relay_beating(_unit: PepeunitClient) -> Option<bool> {
    Some(true)
}

#[pepeunit::output("relay/pepeunit", on_change, every = "DELAY_PUB_MSG", heartbeat = "5m")]
fn relay_scheduled() -> u8 {
    1
}

#[pepeunit::output(
    "power/pepeunit",
    sample = "250ms",
    every = "DELAY_PUB_MSG",
    reduce = "mean"
)]
fn power() -> f64 {
    21.5
}

#[pepeunit::output(
    "power/pepeunit",
    sample = "1s",
    every = "1m",
    reduce = "max",
    delta = 0.5,
    round = 1
)]
async fn peak(_unit: PepeunitClient) -> Option<f32> {
    None
}

#[pepeunit::output("power/pepeunit", sample = "100ms", every = "1s", reduce = "count")]
fn readings() -> Result<u32, String> {
    Ok(1)
}

#[pepeunit::output("power/pepeunit", sample = "1s", every = "10s", reduce = "min")]
fn lowest() -> i64 {
    0
}

#[pepeunit::output("power/pepeunit", sample = "1s", every = "10s", reduce = "sum")]
fn total() -> u64 {
    0
}

#[pepeunit::output("power/pepeunit", sample = "1s", every = "1s", reduce = "last")]
fn latest() -> f64 {
    0.0
}

#[pepeunit::output("power/pepeunit", every = "5s", delta = 1)]
fn moved() -> i32 {
    0
}

#[pepeunit::output("power/pepeunit", round = 2)]
fn rounded_every_tick() -> f64 {
    0.125
}

#[pepeunit::main(mqtt)]
async fn unit(_unit: PepeunitClient) -> pepeunit::Result<()> {
    Ok(())
}

fn main() {
    let _ = unit;
    let _ = (limit, maybe_answer, relay, relay_beating, relay_scheduled);
    let _ = (
        power,
        peak,
        readings,
        lowest,
        total,
        latest,
        moved,
        rounded_every_tick,
    );
    // The imperative API the attributes expand to.
    let _ = Outputs::new()
        .on_change(
            ChangeOutput::publishing_blocking("by_hand", "relay/pepeunit", |_| "off")
                .every(Period::Fixed(std::time::Duration::from_secs(1)))
                .heartbeat(std::time::Duration::from_secs(60)),
        )
        .numeric(
            NumericOutput::new_blocking("by_hand", "power/pepeunit", |_| 1.5)
                .sample(std::time::Duration::from_millis(250))
                .every(Period::EnvSeconds("DELAY_PUB_MSG".into()))
                .reduce(Reduce::Mean)
                .delta(0.5)
                .round(1),
        );
}
