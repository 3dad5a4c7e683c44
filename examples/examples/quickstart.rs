//! The offline core of a unit, end to end: load env.json and schema.json, log, report the system state,
//! encrypt a payload, and apply an update archive — all on files in a temp directory.
//!
//! Run: `cargo run -p pepeunit-examples --example quickstart`

use std::path::{Path, PathBuf};

use pepeunit::cipher::Cipher;
use pepeunit::client::PepeunitClient;
use pepeunit::update::RestartMode;

fn vectors() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/vectors")
}

fn main() -> pepeunit::Result<()> {
    let unit_dir = std::env::temp_dir().join(format!("pepeunit-quickstart-{}", std::process::id()));
    std::fs::create_dir_all(&unit_dir).map_err(|e| pepeunit::Error::io(&unit_dir, e))?;
    for (from, to) in [
        ("env/env_current.json", "env.json"),
        ("schema/schema.json", "schema.json"),
    ] {
        let bytes =
            std::fs::read(vectors().join(from)).map_err(|e| pepeunit::Error::io(from, e))?;
        std::fs::write(unit_dir.join(to), bytes).map_err(|e| pepeunit::Error::io(to, e))?;
    }

    let client = PepeunitClient::builder(
        unit_dir.join("env.json"),
        unit_dir.join("schema.json"),
        unit_dir.join("log.json"),
    )
    .restart_mode(RestartMode::None)
    .build()?;

    println!("unit dir:   {}", unit_dir.display());
    println!("unit uuid:  {}", client.unit_uuid()?);
    let env = client.settings().current();
    println!("REST base:  {}", env.base_url());
    println!("MQTT:       {}:{}", env.mqtt_host, env.mqtt_port);
    println!("DELAY_PUB_MSG = {}", env.get::<u64>("DELAY_PUB_MSG")?);
    for (name, topics) in client.schema().current().input_topic() {
        println!("input {name:<16} <- {topics:?}");
    }

    let logger = client.logger();
    logger.info("quickstart started");
    logger.warning("this is what a warning looks like");
    logger
        .file_only()
        .debug("kept in log.json only, never sent");

    println!("state:      {}", client.get_system_state().to_json());

    let cipher = Cipher::new(&env.encrypt_key)?;
    let secret = cipher.encrypt(b"21.5 C")?;
    println!("encrypted:  {secret}");
    println!("decrypted:  {}", cipher.decrypt_to_string(&secret)?);

    let archive = vectors().join("archives/update_wbits9_level9.tgz");
    let report = client.update_device_program(&archive)?;
    println!("update:     {report}");

    println!(
        "log.json holds {} entries:",
        client.logger().get_full_log().len()
    );
    for entry in client.logger().get_full_log() {
        println!(
            "  {} {:<8} {}",
            entry.create_datetime, entry.level, entry.text
        );
    }
    std::fs::remove_dir_all(&unit_dir).map_err(|e| pepeunit::Error::io(&unit_dir, e))?;
    Ok(())
}
