//! Outputs published when their value changes (`#[pepeunit::output("NAME", on_change)]`): the
//! payload last published per output, compared with each new one; the heartbeat that republishes an
//! unchanged value; the republication after every (re)connect, since the broker keeps no retained
//! message for a unit that was away.
//!
//! Without a period such an output is evaluated once connected and then after every input handler
//! and every scheduled output ran (`ran.rs`, a watch: runs during an evaluation are followed by one
//! more evaluation, so a burst is seen at its latest value); with one, on its period.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::Mutex;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::declared::{Deliver, Period, producing, producing_blocking, publish_bytes};
use super::handler::Handler;
use super::payload::IntoPayload;
use super::{OutputHandler, engine::MqttRuntime};
use crate::client::PepeunitClient;
use crate::future::BoxFuture;

/// An output published only when its payload differs from the last one published.
#[derive(Debug, Clone)]
pub struct ChangeOutput {
    /// Calls the function; its argument says whether to publish even an unchanged payload.
    evaluate: Handler<bool>,
    /// When it is evaluated besides after the handlers: `None`, after them instead.
    pub(crate) every: Option<Period>,
    /// The longest time an unchanged value goes unpublished.
    heartbeat: Option<Duration>,
    last: Arc<Mutex<Last>>,
}

/// The payload last published and when.
#[derive(Debug, Default)]
struct Last {
    payload: Option<Bytes>,
    at: Option<Instant>,
}

impl ChangeOutput {
    /// Publishes what the async function `f` returns (through [`IntoPayload`]; `None`: nothing this
    /// time) to every topic of `output_topic[topic_name]` when it differs from the last payload
    /// published there.
    pub fn publishing<F, Fut, P>(
        name: impl Into<String>,
        topic_name: impl Into<String>,
        f: F,
    ) -> Self
    where
        F: Fn(PepeunitClient) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = P> + Send + 'static,
        P: IntoPayload,
    {
        let last = Arc::default();
        let evaluate = producing(name, f, comparing(topic_name, &last));
        ChangeOutput::new(evaluate, last)
    }

    /// [`ChangeOutput::publishing`] for a blocking function, run on tokio's blocking pool.
    pub fn publishing_blocking<F, P>(
        name: impl Into<String>,
        topic_name: impl Into<String>,
        f: F,
    ) -> Self
    where
        F: Fn(PepeunitClient) -> P + Send + Sync + 'static,
        P: IntoPayload,
    {
        let last = Arc::default();
        let evaluate = producing_blocking(name, f, comparing(topic_name, &last));
        ChangeOutput::new(evaluate, last)
    }

    fn new(evaluate: Handler<bool>, last: Arc<Mutex<Last>>) -> Self {
        ChangeOutput {
            evaluate,
            every: None,
            heartbeat: None,
            last,
        }
    }

    /// Evaluated every `period` instead of after every handler.
    pub fn every(mut self, period: Period) -> Self {
        self.every = Some(period);
        self
    }

    /// An unchanged value is published again when `period` passed since it last was.
    pub fn heartbeat(mut self, period: Duration) -> Self {
        self.heartbeat = Some(period);
        self
    }

    /// The name the log uses for it.
    pub fn name(&self) -> &str {
        self.evaluate.name()
    }

    /// The handler its period runs: an evaluation while connected.
    pub(crate) fn scheduled(&self) -> OutputHandler {
        let evaluate = self.evaluate.clone();
        OutputHandler::calling(self.name().to_owned(), move |client, ()| {
            let evaluate = evaluate.clone();
            async move {
                if client.is_mqtt_connected() {
                    let outcome = evaluate.call(client.clone(), false).await;
                    evaluate.report(&client, outcome);
                }
            }
        })
    }

    /// Its task: an evaluation at each connect (published whatever the last payload), after each
    /// handler run (without a period), and when the heartbeat is due. Ends with the runtime.
    pub(crate) fn spawn(self, client: &PepeunitClient, runtime: &MqttRuntime) -> JoinHandle<()> {
        let (client, mut connection) = (client.clone(), runtime.connection());
        let mut ran = runtime.handler_runs();
        tokio::spawn(async move {
            let mut force = *connection.borrow_and_update();
            let mut due = force;
            // The last forced evaluation: a failing one is not retried before the next beat.
            let mut forced_at = None;
            loop {
                let connected = *connection.borrow();
                if due && connected {
                    let outcome = self.evaluate.call(client.clone(), force).await;
                    self.evaluate.report(&client, outcome);
                    if force {
                        forced_at = Some(Instant::now());
                    }
                }
                let published_at = self.last.lock().await.at;
                let heartbeat = match self.heartbeat {
                    Some(period) if connected => published_at.max(forced_at).map(|at| at + period),
                    _ => None,
                };
                (due, force) = tokio::select! {
                    changed = connection.changed() => match changed {
                        Ok(()) => (*connection.borrow_and_update(), true),
                        Err(_) => return,
                    },
                    changed = ran.changed(), if self.every.is_none() => match changed {
                        Ok(()) => (true, false),
                        Err(_) => return,
                    },
                    () = sleep_until(heartbeat) => (true, true),
                };
            }
        })
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

/// Delivers a payload by publishing it when it differs from `last` (or when told to anyway).
fn comparing<P: IntoPayload>(
    topic_name: impl Into<String>,
    last: &Arc<Mutex<Last>>,
) -> impl Deliver<bool, P> {
    let (topic_name, last): (Arc<str>, _) = (topic_name.into().into(), last.clone());
    move |unit: PepeunitClient, force: bool, value: P| -> BoxFuture<'static, Result<(), String>> {
        let (topic_name, last) = (topic_name.clone(), last.clone());
        Box::pin(async move {
            let Some(payload) = value.into_payload()? else {
                return Ok(());
            };
            // Held across the publish: two evaluations never both publish one change.
            let mut last = last.lock().await;
            if !force && last.payload.as_ref() == Some(&payload) {
                return Ok(());
            }
            let published = publish_bytes(&unit, &topic_name, payload.clone()).await;
            *last = Last {
                // Not published: the next evaluation tries again.
                payload: published.is_ok().then_some(payload),
                at: Some(Instant::now()),
            };
            published
        })
    }
}
