use pepeunit::client::PepeunitClient;
use pepeunit::runtime::Message;

#[pepeunit::input("input/pepeunit")]
async fn listed(_unit: PepeunitClient, _msg: Message) {}

#[pepeunit::input("inptu/pepeunit")]
async fn typo(_unit: PepeunitClient, _msg: Message) {}

#[pepeunit::main(mqtt, rest)]
async fn main(_unit: PepeunitClient) -> pepeunit::Result<()> {
    Ok(())
}
