#[pepeunit::main(mqtt)]
async fn main(_unit: pepeunit::client::PepeunitClient) -> pepeunit::Result<()> {
    Ok(())
}
