use pepeunit::client::PepeunitClient;
use pepeunit::runtime::Message;

#[pepeunit::input]
async fn no_name(_unit: PepeunitClient, _msg: Message) {}

#[pepeunit::input(input)]
async fn not_a_string(_unit: PepeunitClient, _msg: Message) {}

#[pepeunit::output(fast)]
async fn tick(_unit: PepeunitClient) {}

#[pepeunit::main(mqtt)]
async fn main(_unit: PepeunitClient) -> pepeunit::Result<()> {
    Ok(())
}
