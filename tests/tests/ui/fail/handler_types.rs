use pepeunit::client::PepeunitClient;
use pepeunit::runtime::Message;

#[pepeunit::input("input/pepeunit")]
async fn wrong_first(_unit: String, _msg: Message) {}

#[pepeunit::input("input/pepeunit")]
fn wrong_second(_unit: PepeunitClient, _msg: Vec<u8>) {}

#[pepeunit::output]
fn wrong_return(_unit: PepeunitClient) -> i32 {
    0
}

#[pepeunit::main(mqtt)]
async fn main(_unit: PepeunitClient) -> pepeunit::Result<()> {
    Ok(())
}
