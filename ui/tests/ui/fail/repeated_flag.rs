#[pepeunit::main(mqtt, rest, mqtt)]
async fn main(_unit: pepeunit::client::PepeunitClient) -> pepeunit::Result<()> {
    Ok(())
}
