//! {{project-name}}: a Pepeunit unit. Every number that arrives on `input/pepeunit` is logged, and its
//! double is published on `output/pepeunit` every `DELAY_PUB_MSG` seconds (nothing before the first
//! number). Run it where the unit's `env.json` and `schema.json` are (README: "Run it").

use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use pepeunit::prelude::*;

/// What the handlers share: the last number received and when its double last went out.
struct Latest {
    value: Option<f64>,
    published_at: Option<Instant>,
}

static LATEST: Mutex<Latest> = Mutex::new(Latest {
    value: None,
    published_at: None,
});

fn latest() -> std::sync::MutexGuard<'static, Latest> {
    // A panicking handler is logged and the cycle goes on: keep using the data it left.
    LATEST.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Runs for every message on `input_topic["input/pepeunit"]`: a number is kept, anything else
/// logged as a warning.
#[pepeunit::input("input/pepeunit")]
fn on_number(unit: PepeunitClient, msg: Message) -> pepeunit::Result<()> {
    let text = msg.text()?;
    match text.trim().parse::<f64>() {
        Ok(value) => {
            unit.logger().info(format!("got {value}"));
            latest().value = Some(value);
        }
        Err(_) => unit.logger().warning(format!("not a number: {text:?}")),
    }
    Ok(())
}

/// Runs every main-cycle tick: publishes the double of the last number once per `DELAY_PUB_MSG`.
#[pepeunit::output]
async fn publish_double(unit: PepeunitClient) -> pepeunit::Result<()> {
    let period = Duration::from_secs(unit_env::delay_pub_msg(&unit)?.try_into().unwrap_or(1));
    let due = {
        let mut latest = latest();
        match latest.value {
            Some(value) if latest.published_at.is_none_or(|at| at.elapsed() >= period) => {
                latest.published_at = Some(Instant::now());
                Some(value * 2.0)
            }
            _ => None,
        }
    };
    let Some(double) = due else { return Ok(()) };
    unit.publish_to_topics("output/pepeunit", double.to_string())
        .await
}

/// Builds the unit from env.json, schema.json and log.json, runs this body, then the main cycle
{%- if flags == "mqtt+rest" %}
/// until SIGINT/SIGTERM. With `rest`, the platform's update commands (program, env, schema) are
/// handled by the library.
#[pepeunit::main(mqtt, rest)]
{%- else %}
/// until SIGINT/SIGTERM.
#[pepeunit::main(mqtt)]
{%- endif %}
async fn main(unit: PepeunitClient) -> pepeunit::Result<()> {
    unit.logger().info("{{project-name}} started");
    Ok(())
}
