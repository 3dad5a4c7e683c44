use pepeunit::prelude::*;

#[pepeunit::state]
#[derive(Default, Clone)]
struct Plug {
    on: bool,
}

#[pepeunit::input("input/pepeunit")]
fn twice(first: &mut Plug, second: &Plug) {
    first.on = second.on;
}

#[pepeunit::output(every = "1s")]
fn handle_and_reference(plug: &mut Plug, handle: State<Plug>) {
    plug.on = handle.get().on;
}

#[pepeunit::main(mqtt)]
async fn main(_unit: PepeunitClient) -> pepeunit::Result<()> {
    Ok(())
}
