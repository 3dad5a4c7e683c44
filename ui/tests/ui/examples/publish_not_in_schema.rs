use pepeunit::client::PepeunitClient;

#[pepeunit::input("input/pepeunit", publish = "output/pepeunit")]
fn listed(value: f64) -> f64 {
    value
}

#[pepeunit::input("input/pepeunit", publish = "ack/pepeunit")]
fn unlisted(value: f64) -> f64 {
    value
}

#[pepeunit::output("relay/pepeunit", on_change)]
fn unlisted_output() -> bool {
    true
}

#[pepeunit::main(mqtt, rest)]
async fn main(_unit: PepeunitClient) -> pepeunit::Result<()> {
    Ok(())
}
