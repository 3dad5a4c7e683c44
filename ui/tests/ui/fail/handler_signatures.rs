use pepeunit::client::PepeunitClient;
use pepeunit::runtime::Message;

#[pepeunit::input("input/pepeunit")]
fn generic_and_short<T>(_unit: PepeunitClient) {}

#[pepeunit::output]
async fn too_many(_unit: PepeunitClient, _msg: Message) {}

#[pepeunit::input("input/pepeunit")]
struct NotAFunction;

struct Device;

impl Device {
    #[pepeunit::input("input/pepeunit")]
    fn method(&self, _msg: Message) {}
}

#[pepeunit::main(mqtt)]
async fn main(_unit: PepeunitClient) -> pepeunit::Result<()> {
    Ok(())
}
