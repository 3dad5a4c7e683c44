//! The unit the soak runner (`pepeunit/benches/soak`) keeps busy for minutes or hours: every message
//! on `input/pepeunit` goes back out on `output/pepeunit` as `echo <text>`, and every `DELAY_PUB_MSG`
//! seconds it publishes `tick <n>` there too, so an `env_update` changes that period live. Run it in a
//! directory holding the unit's env.json and schema.json (or set `PEPEUNIT_ENV` / `PEPEUNIT_SCHEMA`).

use std::sync::atomic::{AtomicU64, Ordering};

use pepeunit::prelude::*;

static TICKS: AtomicU64 = AtomicU64::new(0);

#[pepeunit::input("input/pepeunit")]
async fn echo(unit: PepeunitClient, text: String) -> pepeunit::Result<()> {
    unit.publish_to_topics("output/pepeunit", format!("echo {text}"))
        .await
}

#[pepeunit::output("output/pepeunit", every = "DELAY_PUB_MSG")]
fn tick() -> String {
    format!("tick {}", TICKS.fetch_add(1, Ordering::Relaxed))
}

#[pepeunit::main(mqtt, rest)]
async fn main(unit: PepeunitClient) -> pepeunit::Result<()> {
    unit.logger().info("soak unit started");
    Ok(())
}
