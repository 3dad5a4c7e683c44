//! `update_key` names a file that is not a minisign public key: the error says why, on the string.
#[pepeunit::main(mqtt, rest, update_key = "update_key_malformed.pub")]
async fn main(_unit: pepeunit::client::PepeunitClient) -> pepeunit::Result<()> {
    Ok(())
}
