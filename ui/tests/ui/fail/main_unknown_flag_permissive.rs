//! A misspelt flag is reported once, on `main`: the handlers do not add "needs the `mqtt` flag".
use pepeunit::prelude::*;

#[pepeunit::output(every = "1s")]
fn tick() {}

#[pepeunit::main(mqtt, rets)]
async fn main(_unit: PepeunitClient) -> pepeunit::Result<()> {
    Ok(())
}
