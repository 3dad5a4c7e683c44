//! env_example.json's variables as typed functions: the type of each is pinned by this case's only
//! errors, one per variable, its value bound to `()`. The unit is never run.

use pepeunit::client::PepeunitClient;

#[pepeunit::main(mqtt, rest)]
async fn unit(unit: PepeunitClient) -> pepeunit::Result<()> {
    let () = unit_env::delay_pub_msg(&unit)?;
    let () = unit_env::ratio(&unit)?;
    let () = unit_env::enabled(&unit)?;
    let () = unit_env::greeting(&unit)?;
    Ok(())
}

fn main() {
    let _ = unit;
}
