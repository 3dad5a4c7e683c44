//! The declarative side of handlers, as public API the macros expand to: input handlers whose typed
//! arguments may reject a message, output handlers that publish what they return, and the periods
//! outputs run on.

use std::borrow::Cow;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use super::extract::Rejected;
use super::handler::HandlerOutput;
use super::payload::IntoPayload;
use super::{InputHandler, Message, OutputHandler};
use crate::client::PepeunitClient;
use crate::settings::Env;
use crate::sparse::SparseCount;

impl InputHandler {
    /// An input handler whose async function makes its arguments from the message first
    /// ([`extract`](super::extract::extract)): a message it [`Rejected`] is not the unit's error —
    /// it is logged at `Warning` (the first time, then at every power of two, with the count) and
    /// the function is not called.
    pub fn typed<F, Fut, R>(name: impl Into<String>, f: F) -> Self
    where
        F: Fn(PepeunitClient, Message) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<R, Rejected>> + Send + 'static,
        R: HandlerOutput,
    {
        let name = name.into();
        let skipped = Skipped::new(name.clone());
        InputHandler::new(name, move |unit, message: Message| {
            let skipped = skipped.clone();
            let topic = message.topic.clone();
            let input_name = message.topic_name.clone();
            let call = f(unit.clone(), message);
            async move {
                match call.await {
                    Ok(output) => output.into_outcome(),
                    Err(rejected) => {
                        skipped.log(&unit, input_name.as_deref(), &topic, &rejected);
                        Ok(())
                    }
                }
            }
        })
    }

    /// [`InputHandler::typed`] for a blocking function, run on a thread of its own.
    pub fn typed_blocking<F, R>(name: impl Into<String>, f: F) -> Self
    where
        F: Fn(PepeunitClient, Message) -> Result<R, Rejected> + Send + Sync + 'static,
        R: HandlerOutput,
    {
        let name = name.into();
        let skipped = Skipped::new(name.clone());
        InputHandler::blocking(name, move |unit, message: Message| {
            match f(unit.clone(), message.clone()) {
                Ok(output) => output.into_outcome(),
                Err(rejected) => {
                    let name = message.topic_name.as_deref();
                    skipped.log(&unit, name, &message.topic, &rejected);
                    Ok(())
                }
            }
        })
    }
}

/// Counts the messages one input function skipped and logs them sparsely, so that a flood of bad
/// payloads costs a few log lines, not one each.
#[derive(Clone)]
struct Skipped {
    function: Arc<str>,
    count: Arc<SparseCount>,
}

impl Skipped {
    fn new(function: String) -> Self {
        Skipped {
            function: function.into(),
            count: Arc::new(SparseCount::default()),
        }
    }

    fn log(&self, unit: &PepeunitClient, input: Option<&str>, topic: &str, rejected: &Rejected) {
        let Some(count) = self.count.add() else {
            return;
        };
        let so_far = match count {
            1 => String::new(),
            n => format!(" ({n} skipped so far)"),
        };
        unit.logger().warning(format!(
            "Input {} skipped a message on {topic} for {}: {rejected}{so_far}",
            input.unwrap_or("?"),
            self.function,
        ));
    }
}

impl OutputHandler {
    /// An output handler publishing what the async function `f` returns to every topic of
    /// `output_topic[topic_name]` (through [`IntoPayload`]: `None` publishes nothing, an `Err` is
    /// the handler's failure).
    pub fn publishing<F, Fut, P>(
        name: impl Into<String>,
        topic_name: impl Into<String>,
        f: F,
    ) -> Self
    where
        F: Fn(PepeunitClient) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = P> + Send + 'static,
        P: IntoPayload,
    {
        let topic_name: Arc<str> = topic_name.into().into();
        OutputHandler::new(name, move |unit, ()| {
            let value = f(unit.clone());
            let topic_name = topic_name.clone();
            async move { publish(&unit, &topic_name, value.await).await }
        })
    }

    /// [`OutputHandler::publishing`] for a blocking function, run on tokio's blocking pool.
    pub fn publishing_blocking<F, P>(
        name: impl Into<String>,
        topic_name: impl Into<String>,
        f: F,
    ) -> Self
    where
        F: Fn(PepeunitClient) -> P + Send + Sync + 'static,
        P: IntoPayload,
    {
        let topic_name: Arc<str> = topic_name.into().into();
        let f = Arc::new(f);
        OutputHandler::new(name, move |unit, ()| {
            let (f, topic_name, caller) = (f.clone(), topic_name.clone(), unit.clone());
            async move {
                let value = match tokio::task::spawn_blocking(move || f(caller)).await {
                    Ok(value) => value,
                    // The guard around this future reports the panic as the handler's.
                    Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
                    Err(e) => return Err(e.to_string()),
                };
                publish(&unit, &topic_name, value).await
            }
        })
    }
}

/// Publishes `value` to `output_topic[topic_name]`, unless it says "nothing this time".
async fn publish(
    unit: &PepeunitClient,
    topic_name: &str,
    value: impl IntoPayload,
) -> Result<(), String> {
    match value.into_payload()? {
        Some(payload) => unit
            .publish_to_topics(topic_name, payload)
            .await
            .map_err(|e| e.to_string()),
        None => Ok(()),
    }
}

/// How often a scheduled output runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Period {
    /// A fixed period.
    Fixed(Duration),
    /// The number of seconds in this env.json variable (e.g. `DELAY_PUB_MSG`), read again whenever
    /// env.json is reloaded, so an `env_update` changes the period of a running unit.
    EnvSeconds(Cow<'static, str>),
}

impl Period {
    /// The period under `env`: `Err` names why there is none (a missing, non-numeric or
    /// non-positive variable); the output does not run until a reload fixes it.
    pub fn resolve(&self, env: &Env) -> crate::error::Result<Duration> {
        match self {
            Period::Fixed(period) => Ok(*period),
            Period::EnvSeconds(key) => {
                let seconds: f64 = env.get(key)?;
                Duration::try_from_secs_f64(seconds)
                    .ok()
                    .filter(|d| !d.is_zero())
                    .ok_or_else(|| crate::error::Error::InvalidSetting {
                        source_name: env.source_name().to_owned(),
                        key: key.to_string(),
                        reason: format!(
                            "a period must be a positive number of seconds, found {seconds}"
                        ),
                    })
            }
        }
    }
}

/// An output handler with the period it runs on.
#[derive(Debug, Clone)]
pub struct ScheduledOutput {
    /// When it runs.
    pub period: Period,
    /// What runs.
    pub handler: OutputHandler,
}

/// Everything the main cycle runs: handlers once per tick (`MqttConfig::cycle_interval`) and
/// scheduled ones on their periods. With no per-tick handler the cycle does not tick at all: it
/// sleeps until the next scheduled output, state message or command.
#[derive(Debug, Clone, Default)]
pub struct Outputs {
    pub(crate) every_tick: Vec<OutputHandler>,
    pub(crate) scheduled: Vec<ScheduledOutput>,
}

impl Outputs {
    /// No outputs (the main cycle still sends the state and handles inputs and commands).
    pub fn new() -> Self {
        Outputs::default()
    }

    /// Adds a handler run once per tick, after the per-tick handlers added before it.
    pub fn every_tick(mut self, handler: OutputHandler) -> Self {
        self.every_tick.push(handler);
        self
    }

    /// Adds a handler run every `period`, on its own task: a slow one delays no other output and no
    /// input; a run still going when the next is due makes that one skipped, not queued.
    pub fn every(mut self, period: Period, handler: OutputHandler) -> Self {
        self.scheduled.push(ScheduledOutput { period, handler });
        self
    }
}
