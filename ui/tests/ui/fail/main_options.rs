//! Every option mistake reported at once; the handlers below report nothing, since `mqtt = true`
//! is read as the `mqtt` flag.
use pepeunit::prelude::*;

#[pepeunit::input("input/pepeunit")]
fn on_value(_value: f64) {}

#[pepeunit::output("output/pepeunit", every = "1s")]
fn value() -> i64 {
    1
}

#[pepeunit::main(mqtt = true, rest, restart = "reboot", cycle = "fast", env = 1, restrt = "exec", log = "a.json", log = "b.json", ca_file = 7, mqtt_tls = "yes")]
async fn main(_unit: PepeunitClient) -> pepeunit::Result<()> {
    Ok(())
}
