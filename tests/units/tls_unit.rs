//! A unit of a private instance that serves only `mqtts` (on a port of its own, not 8883) and
//! `https`, trusting its CA through `ca_file` (run by tests/tls_unit.rs).

use pepeunit::prelude::*;

#[pepeunit::main(mqtt, rest, ca_file = "ca.pem", mqtt_tls = "on")]
async fn main(unit: PepeunitClient) -> pepeunit::Result<()> {
    unit.logger().info("tls unit started");
    Ok(())
}
