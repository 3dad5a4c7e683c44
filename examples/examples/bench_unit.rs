//! The unit program the `compare` bench measures for echo latency, idle footprint and start-up: every
//! message on `input/pepeunit` goes straight back out on `output/pepeunit` from its input handler. Run
//! it in a directory holding the unit's env.json and schema.json (or set `PEPEUNIT_ENV` /
//! `PEPEUNIT_SCHEMA`); `scripts/benchmarks` builds it and points the bench at the binary.

use pepeunit::client::PepeunitClient;
use pepeunit::runtime::Message;

#[pepeunit::input("input/pepeunit")]
async fn echo(unit: PepeunitClient, msg: Message) -> pepeunit::Result<()> {
    unit.publish_to_topics("output/pepeunit", msg.payload).await
}

#[pepeunit::main(mqtt, rest)]
async fn main(_unit: PepeunitClient) -> pepeunit::Result<()> {
    Ok(())
}
