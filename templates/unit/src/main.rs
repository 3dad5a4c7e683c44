//! A Pepeunit unit. `env.json` and `schema.json` come from your Pepeunit instance (Unit → Get env / schema).

use pepeunit::client::PepeunitClient;

fn main() -> pepeunit::Result<()> {
    let client = PepeunitClient::builder("env.json", "schema.json", "log.json").build()?;
    client.logger().info(format!("unit {} started", client.unit_uuid()?));
    let delay: u64 = client.settings().current().get_or("DELAY_PUB_MSG", 1);
    client.logger().info(format!("DELAY_PUB_MSG = {delay}"));
    Ok(())
}
