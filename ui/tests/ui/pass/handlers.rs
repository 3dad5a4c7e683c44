//! Every handler shape: async and sync, returning `()` or a `Result`, two inputs on one name.
//! `#[pepeunit::main]` is on `unit`, which this test never calls: running it would look for env.json.

use pepeunit::client::PepeunitClient;
use pepeunit::runtime::Message;

#[pepeunit::input("input/pepeunit")]
async fn async_result(_unit: PepeunitClient, msg: Message) -> pepeunit::Result<()> {
    msg.text().map(drop)
}

#[pepeunit::input("input/pepeunit")]
fn sync_unit(_unit: PepeunitClient, _msg: Message) {}

#[pepeunit::input("input/other")]
fn sync_result(_unit: PepeunitClient, _msg: Message) -> Result<(), String> {
    Err("failed".to_owned())
}

#[pepeunit::output]
async fn async_unit(_unit: PepeunitClient) {}

#[pepeunit::output]
fn sync_output(_unit: PepeunitClient) -> Result<(), std::io::Error> {
    Ok(())
}

#[pepeunit::main(mqtt, rest)]
async fn unit(unit: PepeunitClient) -> pepeunit::Result<()> {
    unit.logger().info("setup");
    Ok(())
}

fn main() {
    let _ = unit;
    // The functions stay callable as written.
    let _ = (
        async_result,
        sync_unit,
        sync_result,
        async_unit,
        sync_output,
    );
}
