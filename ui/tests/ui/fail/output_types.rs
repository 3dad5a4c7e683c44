use pepeunit::prelude::*;

#[pepeunit::output("output/pepeunit", every = "1s")]
fn not_publishable() -> std::time::Instant {
    std::time::Instant::now()
}

#[pepeunit::output("output/pepeunit", every = "1s")]
async fn nothing_to_publish(_unit: PepeunitClient) {}

#[pepeunit::output("output/pepeunit", every = "1s")]
fn wrong_argument(_unit: String) -> i64 {
    1
}

#[pepeunit::main(mqtt)]
async fn main(_unit: PepeunitClient) -> pepeunit::Result<()> {
    Ok(())
}
