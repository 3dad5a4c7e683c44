//! `update_key` names a file that is not there: the error is on the string.
#[pepeunit::main(mqtt, rest, update_key = "no_such_key.pub")]
async fn main(_unit: pepeunit::client::PepeunitClient) -> pepeunit::Result<()> {
    Ok(())
}
