//! env_example.json's variables as typed functions; the unit is never run (it would look for env.json).

use pepeunit::client::PepeunitClient;

#[pepeunit::main(mqtt, rest)]
async fn unit(unit: PepeunitClient) -> pepeunit::Result<()> {
    let _delay: i64 = unit_env::delay_pub_msg(&unit)?;
    let _ratio: f64 = unit_env::ratio(&unit)?;
    let _enabled: bool = unit_env::enabled(&unit)?;
    let _greeting: String = unit_env::greeting(&unit)?;
    Ok(())
}

fn main() {
    let _ = unit;
}
