use pepeunit::client::PepeunitClient;

#[pepeunit::main(mqtt, rest)]
async fn main(unit: PepeunitClient) -> pepeunit::Result<()> {
    let _delay = unit_env::delay_pub_mgs(&unit)?;
    let _list = unit_env::list(&unit)?;
    Ok(())
}
