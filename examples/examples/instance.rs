//! A local Pepeunit instance for trying a unit by hand: starts the broker and REST server, creates one
//! unit, prints where its env.json/schema.json are and how to reach the instance, then runs until Ctrl-C.
//!
//! `cargo run -p pepeunit-examples --example instance [unit-dir]`

use pepeunit_testkit::{Instance, InstanceOptions, UnitSpec};

#[tokio::main(flavor = "current_thread")]
async fn main() -> pepeunit_testkit::Result<()> {
    let dir = std::env::args_os()
        .nth(1)
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("pepeunit-instance-unit"));
    let instance = Instance::start(InstanceOptions::default()).await?;
    let unit = instance
        .create_unit(UnitSpec::new("example-unit", &dir))
        .await?;
    println!(
        "broker      : {:?} at mqtt://{}:{}",
        instance.broker_kind(),
        instance.mqtt_host(),
        instance.mqtt_port()
    );
    println!("REST        : {}", instance.rest_base_url());
    println!("instance    : {}", instance.instance_url());
    println!("unit uuid   : {}", unit.uuid());
    println!("env.json    : {}", unit.env_path().display());
    println!("schema.json : {}", unit.schema_path().display());
    println!("running; Ctrl-C to stop");
    let _ = tokio::signal::ctrl_c().await;
    println!("stopping");
    Ok(())
}
