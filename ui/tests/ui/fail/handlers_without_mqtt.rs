use pepeunit::client::PepeunitClient;
use pepeunit::runtime::Message;

#[pepeunit::input("input/pepeunit")]
async fn on_value(_unit: PepeunitClient, _msg: Message) {}

#[pepeunit::output]
async fn tick(_unit: PepeunitClient) {}

#[pepeunit::main(rest)]
async fn main(_unit: PepeunitClient) -> pepeunit::Result<()> {
    Ok(())
}
