//! `update_key` without `rest`: updates, and so their signatures, need REST.
#[pepeunit::main(mqtt, update_key = "update_key.pub")]
async fn main(_unit: pepeunit::client::PepeunitClient) -> pepeunit::Result<()> {
    Ok(())
}
