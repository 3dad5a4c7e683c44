//! Every declarative shape: extractors in any order, sync and async, outputs with and without a
//! name or a period, every publishable return type, and the options of `main`. Never run.

use pepeunit::prelude::*;

#[derive(serde::Deserialize, serde::Serialize)]
struct Reading {
    celsius: f64,
}

/// A type of the user's own, made from a message.
struct Celsius(f64);

impl FromMessage<'_> for Celsius {
    fn from_message(_: &PepeunitClient, message: &Message) -> Result<Self, Rejected> {
        let text = message
            .text()
            .map_err(|e| Rejected::new::<Self>(e.to_string()))?;
        text.trim_end_matches("°C")
            .parse()
            .map(Celsius)
            .map_err(|e| Rejected::new::<Self>(format!("{e}")))
    }
}

#[pepeunit::input("input/pepeunit")]
fn numbers(value: f64, count: u32, on: bool) -> pepeunit::Result<()> {
    let _ = (value, count, on);
    Ok(())
}

#[pepeunit::input("input/pepeunit")]
async fn text_last(topic: Topic, unit: PepeunitClient, text: &str) {
    unit.logger().info(format!("{text} on {topic}"));
}

#[pepeunit::input("input/pepeunit")]
fn owned_and_raw(_text: String, _bytes: &[u8], _vec: Vec<u8>, _b: Bytes, _msg: Message) {}

#[pepeunit::input("input/pepeunit")]
async fn json(Json(reading): Json<Reading>, celsius: Celsius) -> Result<(), String> {
    let _ = (reading.celsius, celsius.0);
    Ok(())
}

#[pepeunit::input("input/pepeunit")]
fn nothing() {}

#[pepeunit::output("output/pepeunit", every = "250ms")]
fn number() -> f64 {
    21.5
}

#[pepeunit::output("output/pepeunit", every = "1.5s")]
async fn json_out(_unit: PepeunitClient) -> Json<Reading> {
    Json(Reading { celsius: 1.0 })
}

#[pepeunit::output("output/pepeunit", every = "2m")]
fn maybe() -> Option<String> {
    None
}

#[pepeunit::output("output/pepeunit", every = "1h")]
fn fallible() -> Result<&'static str, std::io::Error> {
    Ok("x")
}

#[pepeunit::output("output/pepeunit")]
fn bytes_each_tick() -> Vec<u8> {
    vec![1]
}

#[pepeunit::output(every = "1s")]
async fn periodic(unit: PepeunitClient) -> pepeunit::Result<()> {
    unit.logger().debug("tick");
    Ok(())
}

#[pepeunit::main(
    mqtt,
    rest,
    restart = "reload",
    cycle = "50ms",
    env = "unit/env.json",
    schema = "unit/schema.json",
    log = "unit/log.json",
    ca_file = "unit/ca.pem",
    mqtt_tls = "on"
)]
async fn unit(_unit: PepeunitClient) -> pepeunit::Result<()> {
    Ok(())
}

fn main() {
    let _ = unit;
    let _ = (
        numbers,
        text_last,
        owned_and_raw,
        json,
        nothing,
        number,
        json_out,
        maybe,
        fallible,
    );
    let _ = (bytes_each_tick, periodic);
}
