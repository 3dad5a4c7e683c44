//! A unit that runs only compiled updates signed with its key (the path is relative to this crate).
#[pepeunit::main(mqtt, rest, update_key = "tests/ui/examples/update_key.pub")]
async fn unit(_unit: pepeunit::client::PepeunitClient) -> pepeunit::Result<()> {
    Ok(())
}

fn main() {
    let _ = unit;
}
