use pepeunit::prelude::*;

#[pepeunit::state(stored)]
#[derive(Default)]
struct Plug {
    on: bool,
}

#[pepeunit::state(stored = "limit")]
#[derive(Default, serde::Serialize)]
struct Limit {
    watts: f64,
}

#[pepeunit::main(mqtt, rest)]
async fn main(_unit: PepeunitClient) -> pepeunit::Result<()> {
    Ok(())
}
