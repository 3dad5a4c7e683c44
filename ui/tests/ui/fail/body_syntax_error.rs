//! A syntax error inside a body is rustc's own, not "applies to a function".
use pepeunit::prelude::*;

#[pepeunit::input("input/pepeunit")]
fn on_value(value: f64) {
    let doubled = value * ;
}

#[pepeunit::main(mqtt)]
async fn main(_unit: PepeunitClient) -> pepeunit::Result<()> {
    let x = ;
    Ok(())
}
