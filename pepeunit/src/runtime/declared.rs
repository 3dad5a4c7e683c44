//! The declarative side of handlers, as public API the macros expand to: input handlers whose typed
//! arguments may reject a message, output handlers that publish what they return, and the periods
//! outputs run on.

use std::borrow::Cow;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use super::extract::Rejected;
use super::handler::HandlerOutput;
use super::payload::IntoPayload;
use super::{Handler, InputHandler, Message, OutputHandler};
use crate::client::PepeunitClient;
use crate::future::BoxFuture;
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
        producing(name, f, publisher(topic_name))
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
        producing_blocking(name, f, publisher(topic_name))
    }
}

/// What becomes of a value an output function produced: published, compared, sampled…
pub(super) trait Deliver<A, V>:
    Fn(PepeunitClient, A, V) -> BoxFuture<'static, Result<(), String>> + Send + Sync + 'static
{
}

impl<A, V, D> Deliver<A, V> for D where
    D: Fn(PepeunitClient, A, V) -> BoxFuture<'static, Result<(), String>> + Send + Sync + 'static
{
}

/// A handler calling the async function `f` and handing its value to `deliver` (with the handler's
/// argument): the one shape of every output kind.
pub(super) fn producing<A, F, Fut, V>(
    name: impl Into<String>,
    f: F,
    deliver: impl Deliver<A, V>,
) -> Handler<A>
where
    A: Send + 'static,
    F: Fn(PepeunitClient) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = V> + Send + 'static,
    V: Send + 'static,
{
    let deliver = Arc::new(deliver);
    Handler::new(name, move |unit: PepeunitClient, arg: A| {
        let value = f(unit.clone());
        let deliver = deliver.clone();
        async move { deliver(unit, arg, value.await).await }
    })
}

/// [`producing`] for a blocking function, run on tokio's blocking pool.
pub(super) fn producing_blocking<A, F, V>(
    name: impl Into<String>,
    f: F,
    deliver: impl Deliver<A, V>,
) -> Handler<A>
where
    A: Send + 'static,
    F: Fn(PepeunitClient) -> V + Send + Sync + 'static,
    V: Send + 'static,
{
    let (f, deliver) = (Arc::new(f), Arc::new(deliver));
    Handler::new(name, move |unit: PepeunitClient, arg: A| {
        let (f, deliver, caller) = (f.clone(), deliver.clone(), unit.clone());
        async move {
            let value = run_blocking(move || f(caller)).await?;
            deliver(unit, arg, value).await
        }
    })
}

/// Runs `f` on tokio's blocking pool; a panic goes on in the caller (whose guard reports it).
pub(super) async fn run_blocking<V: Send + 'static>(
    f: impl FnOnce() -> V + Send + 'static,
) -> Result<V, String> {
    match tokio::task::spawn_blocking(f).await {
        Ok(value) => Ok(value),
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(e) => Err(e.to_string()),
    }
}

/// Delivers a payload by publishing it to `output_topic[topic_name]`.
fn publisher<A, P: IntoPayload>(topic_name: impl Into<String>) -> impl Deliver<A, P> {
    let topic_name: Arc<str> = topic_name.into().into();
    move |unit: PepeunitClient, _: A, value: P| -> BoxFuture<'static, Result<(), String>> {
        let topic_name = topic_name.clone();
        Box::pin(async move { publish(&unit, &topic_name, value).await })
    }
}

/// Publishes `value` to `output_topic[topic_name]`, unless it says "nothing this time".
pub(super) async fn publish(
    unit: &PepeunitClient,
    topic_name: &str,
    value: impl IntoPayload,
) -> Result<(), String> {
    match value.into_payload()? {
        Some(payload) => publish_bytes(unit, topic_name, payload).await,
        None => Ok(()),
    }
}

/// Publishes `payload` to `output_topic[topic_name]`.
pub(super) async fn publish_bytes(
    unit: &PepeunitClient,
    topic_name: &str,
    payload: Bytes,
) -> Result<(), String> {
    unit.publish_to_topics(topic_name, payload)
        .await
        .map_err(|e| e.to_string())
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
