use pepeunit::client::PepeunitClient;

#[pepeunit::output("output/pepeunit", every = "5s", reduce = "mean")]
fn reduce_without_sample() -> f64 {
    0.0
}

#[pepeunit::output("output/pepeunit", sample = "10s", every = "5s")]
fn sample_longer_than_every() -> f64 {
    0.0
}

#[pepeunit::output("output/pepeunit", sample = "1s")]
fn sample_without_every() -> f64 {
    0.0
}

#[pepeunit::output(on_change)]
fn on_change_without_topic() {}

#[pepeunit::output(every = "1s", heartbeat = "60s")]
fn heartbeat_without_topic() {}

#[pepeunit::output("output/pepeunit", heartbeat = "60s")]
fn heartbeat_without_on_change() -> f64 {
    0.0
}

#[pepeunit::output("output/pepeunit", every = "5s", reduce = "median", round = -1)]
fn unknown_reduction() -> f64 {
    0.0
}

#[pepeunit::output("output/pepeunit", on_change, delta = 0.5)]
fn on_change_and_delta() -> f64 {
    0.0
}

#[pepeunit::main(mqtt)]
async fn main(_unit: PepeunitClient) -> pepeunit::Result<()> {
    Ok(())
}
