use pepeunit::client::PepeunitClient;

#[pepeunit::main(mqtt)]
fn main<T>(_unit: PepeunitClient, _extra: T) -> pepeunit::Result<()> {
    Ok(())
}
