//! A return type only rustc can check, made to land on the user's tokens (input argument types are
//! in `input_types.rs`, output ones in `output_types.rs`).
use pepeunit::client::PepeunitClient;

#[pepeunit::output]
fn wrong_return(_unit: PepeunitClient) -> i32 {
    0
}

#[pepeunit::output]
fn result_of_a_value(_unit: PepeunitClient) -> Result<i32, String> {
    Ok(0)
}

#[pepeunit::main(mqtt)]
async fn main(_unit: PepeunitClient) -> pepeunit::Result<()> {
    Ok(())
}
