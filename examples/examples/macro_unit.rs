//! A unit written only with the three macros: it logs each number received on `input/pepeunit` and
//! publishes it doubled on `output/pepeunit` on the next main-cycle tick. Run it in a directory holding
//! the unit's env.json and schema.json (or point `PEPEUNIT_ENV` / `PEPEUNIT_SCHEMA` at them).

use std::sync::atomic::{AtomicI64, Ordering};

use pepeunit::client::PepeunitClient;
use pepeunit::runtime::Message;

/// The last number received and not yet published.
static PENDING: AtomicI64 = AtomicI64::new(0);

#[pepeunit::input("input/pepeunit")]
fn on_value(unit: PepeunitClient, msg: Message) -> Result<(), String> {
    let value: i64 = msg
        .text()
        .ok()
        .and_then(|t| t.trim().parse().ok())
        .ok_or("not a number")?;
    unit.logger().info(format!("got {value}"));
    PENDING.store(value, Ordering::Relaxed);
    Ok(())
}

#[pepeunit::output]
async fn publish(unit: PepeunitClient) -> pepeunit::Result<()> {
    match PENDING.swap(0, Ordering::Relaxed) {
        0 => Ok(()),
        value => {
            unit.publish_to_topics("output/pepeunit", (value * 2).to_string())
                .await
        }
    }
}

#[pepeunit::main(mqtt, rest)]
async fn main(unit: PepeunitClient) -> pepeunit::Result<()> {
    unit.logger().info("macro unit started");
    Ok(())
}
