use pepeunit::prelude::*;

#[derive(Default)]
struct Plain {
    on: bool,
}

#[pepeunit::input("input/pepeunit")]
fn by_reference(plain: &mut Plain) {
    plain.on = true;
}

#[pepeunit::output("output/pepeunit", every = "1s")]
fn shared(plain: &Plain) -> bool {
    plain.on
}

#[pepeunit::input("input/pepeunit")]
async fn handle(_plain: State<Plain>) {}

#[pepeunit::main(mqtt)]
async fn main(_unit: PepeunitClient, _plain: State<Plain>) -> pepeunit::Result<()> {
    Ok(())
}
