use pepeunit::client::PepeunitClient;

#[pepeunit::output("output/pepeunit", sample = "1s", every = "5s")]
fn sampled_text() -> String {
    String::new()
}

#[pepeunit::output("output/pepeunit", every = "5s", delta = 0.5)]
async fn compared_flag(_unit: PepeunitClient) -> Option<bool> {
    None
}

#[pepeunit::output("output/pepeunit", every = "5s")]
fn borrowed_unit(_unit: &PepeunitClient) -> f64 {
    0.0
}

#[pepeunit::main(mqtt)]
async fn main(_unit: PepeunitClient) -> pepeunit::Result<()> {
    Ok(())
}
