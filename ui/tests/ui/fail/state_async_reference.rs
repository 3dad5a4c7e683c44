use pepeunit::prelude::*;

#[pepeunit::state]
#[derive(Default)]
struct Plug {
    on: bool,
}

#[pepeunit::input("input/pepeunit")]
async fn switch(plug: &mut Plug) {
    plug.on = true;
}

#[pepeunit::output("output/pepeunit", every = "1s")]
async fn relay(plug: &Plug) -> bool {
    plug.on
}

#[pepeunit::main(mqtt)]
async fn main(_unit: PepeunitClient, _plug: &Plug) -> pepeunit::Result<()> {
    Ok(())
}
