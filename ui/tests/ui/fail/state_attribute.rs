use pepeunit::prelude::*;

#[pepeunit::state(kept)]
#[derive(Default)]
struct UnknownOption;

#[pepeunit::state(stored, stored = "again")]
#[derive(Default, serde::Serialize, serde::Deserialize)]
struct StoredTwice;

#[pepeunit::state(stored = 1)]
#[derive(Default, serde::Serialize, serde::Deserialize)]
struct KeyNotAString;

#[pepeunit::state]
fn not_a_type() {}

#[pepeunit::state]
#[derive(Default)]
struct Generic<T>(T);

#[pepeunit::state]
struct NoDefault {
    on: bool,
}

#[pepeunit::state]
#[derive(Default)]
struct NotSend(std::rc::Rc<u8>);

#[pepeunit::main(mqtt, rest)]
async fn main(_unit: PepeunitClient) -> pepeunit::Result<()> {
    Ok(())
}
