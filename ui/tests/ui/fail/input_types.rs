use pepeunit::prelude::*;

struct Celsius(f64);

#[pepeunit::input("input/pepeunit")]
fn not_an_extractor(_unit: PepeunitClient, _value: Celsius) {}

#[pepeunit::input("input/pepeunit")]
async fn wrong_return(_value: f64) -> i32 {
    0
}

#[pepeunit::main(mqtt)]
async fn main(_unit: PepeunitClient) -> pepeunit::Result<()> {
    Ok(())
}
