use pepeunit::prelude::*;

#[pepeunit::output("output/pepeunit", every = "5x")]
fn malformed() -> i64 {
    1
}

#[pepeunit::output("output/pepeunit", every = 5)]
fn not_a_string() -> i64 {
    1
}

#[pepeunit::output("output/pepeunit", rate = "1s")]
fn unknown_option() -> i64 {
    1
}

#[pepeunit::output("output/pepeunit", every = "1s", every = "2s")]
fn twice() -> i64 {
    1
}

#[pepeunit::output(every = "1s", "output/pepeunit")]
fn name_not_first() {}

#[pepeunit::output(every = "1s")]
fn value_without_a_name() -> f64 {
    1.0
}

#[pepeunit::output("output/pepeunit")]
fn too_many(_unit: PepeunitClient, _extra: i32) -> i64 {
    1
}

#[pepeunit::main(mqtt)]
async fn main(_unit: PepeunitClient) -> pepeunit::Result<()> {
    Ok(())
}
