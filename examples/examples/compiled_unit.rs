//! A compiled unit that updates itself: the program of the compiled-update end-to-end test, and a
//! template for a real one.
//!
//! Its version is fixed at build time (`UNIT_VERSION=v2 cargo build --example compiled_unit`); it
//! publishes that version on `output/pepeunit` every second and logs it at start. With MQTT and REST
//! on, an `update/pepeunit` command carrying `COMPILED_FIRMWARE_LINK` replaces this executable, applies
//! the archive's env.json and schema.json and execs the new binary under the start-up guard: if the new
//! binary is gone within the grace period, the old one is put back and started again.
//!
//! Run: `compiled_unit <dir with env.json and schema.json>`; `COMPILED_UNIT_GRACE_MS` shortens the
//! grace period (default 30 s); `COMPILED_UNIT_UPDATE_KEY` names a minisign public key file, and then
//! only updates signed with it run (PROTOCOL §8a; a real unit compiles its key in with
//! `#[pepeunit::main(…, update_key = "update_key.pub")]`).

use std::path::PathBuf;
use std::time::Duration;

use pepeunit::client::PepeunitClient;
use pepeunit::mqtt::MqttConfig;
use pepeunit::update::{UpdateKey, UpdateOptions};

/// The version compiled in.
const VERSION: &str = match option_env!("UNIT_VERSION") {
    Some(version) => version,
    None => "dev",
};

#[tokio::main(flavor = "current_thread")]
async fn main() -> pepeunit::Result<()> {
    let dir = PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| ".".into()));
    let mut update_options = UpdateOptions::default();
    if let Some(ms) = std::env::var("COMPILED_UNIT_GRACE_MS")
        .ok()
        .and_then(|ms| ms.parse().ok())
    {
        update_options.startup_grace = Duration::from_millis(ms);
    }
    let mut builder = PepeunitClient::builder(
        dir.join("env.json"),
        dir.join("schema.json"),
        dir.join("log.json"),
    )
    .mqtt(true)
    .rest(true)
    .update_options(update_options)
    .mqtt_config(MqttConfig {
        cycle_interval: Duration::from_secs(1),
        ..MqttConfig::default()
    });
    if let Some(path) = std::env::var_os("COMPILED_UNIT_UPDATE_KEY") {
        let text = std::fs::read_to_string(&path).map_err(|e| pepeunit::Error::Io {
            path: path.into(),
            source: e,
        })?;
        builder = builder.update_key(UpdateKey::from_minisign(&text)?);
    }
    let client = builder.build()?;
    client.logger().info(format!(
        "compiled_unit {VERSION} started (pid {})",
        std::process::id()
    ));
    client
        .run_main_cycle(|client| async move {
            client.publish_to_topics("output/pepeunit", VERSION).await
        })
        .await
}
