//! Handlers as the runtime holds them: an incoming [`Message`], the type-erased [`Handler`] built from
//! an async or a blocking function returning `()` or a `Result`, and the guard that turns an error or a
//! panic into an [`Outcome`] instead of letting it end the main cycle.

use std::fmt;
use std::future::Future;
use std::panic::{self, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;

use crate::client::PepeunitClient;
use crate::error::{Error, Result};
use crate::future::BoxFuture;
use crate::schema::Section;

/// One incoming MQTT message, with the schema name its topic was found under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The physical topic it arrived on.
    pub topic: String,
    /// The schema name listing that topic (`input/pepeunit`, `env_update/pepeunit`, …), if any: one
    /// name may stand for several physical topics (a linked unit's output among them).
    pub topic_name: Option<Arc<str>>,
    /// The schema section of `topic_name`.
    pub section: Option<Section>,
    /// The payload, as received (MQTT payloads are bytes).
    pub payload: Bytes,
}

impl Message {
    /// The payload as UTF-8 text, or [`Error::InvalidPayload`] naming the topic.
    pub fn text(&self) -> Result<&str> {
        std::str::from_utf8(&self.payload).map_err(|e| Error::InvalidPayload {
            topic: self.topic.clone(),
            reason: format!("not UTF-8 text: {e}"),
        })
    }
}

/// What a handler may return: `()` or a `Result` whose error can be shown.
#[diagnostic::on_unimplemented(
    message = "a pepeunit handler must return `()` or `Result<(), E>` with `E: Display`, not `{Self}`",
    label = "this handler returns `{Self}`"
)]
pub trait HandlerOutput: Send + 'static {
    /// `Err` with the error's text when the handler failed.
    fn into_outcome(self) -> std::result::Result<(), String>;
}

impl HandlerOutput for () {
    fn into_outcome(self) -> std::result::Result<(), String> {
        Ok(())
    }
}

impl<E: fmt::Display + Send + 'static> HandlerOutput for std::result::Result<(), E> {
    fn into_outcome(self) -> std::result::Result<(), String> {
        self.map_err(|e| e.to_string())
    }
}

/// How one call of a handler ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// It returned `()` or `Ok`.
    Done,
    /// It returned this error.
    Failed(String),
    /// It panicked with this message.
    Panicked(String),
}

type AsyncFn<A> =
    dyn Fn(PepeunitClient, A) -> BoxFuture<'static, std::result::Result<(), String>> + Send + Sync;
type BlockingFn<A> = dyn Fn(PepeunitClient, A) -> std::result::Result<(), String> + Send + Sync;

/// A handler's last failure and how many times in a row it failed that way.
type Repeats = Arc<Mutex<Option<(String, u64)>>>;

/// A named handler taking the client and an `A` ([`Message`] for input handlers, `()` for the output
/// function); the name is what the log shows when it fails.
pub struct Handler<A> {
    name: String,
    call: Call<A>,
    /// `None` when every failure is logged.
    repeats: Option<Repeats>,
}

/// The input handler of [`PepeunitClient::set_input_handler`].
pub type InputHandler = Handler<Message>;
/// The output function of [`PepeunitClient::run_main_cycle_with`].
pub type OutputHandler = Handler<()>;

enum Call<A> {
    /// Polled on a tokio task.
    Async(Arc<AsyncFn<A>>),
    /// Polled on a tokio task without a guard of its own: library code that only calls handlers,
    /// each guarded (the input table), so that a user's function is guarded once.
    Calls(Arc<AsyncFn<A>>),
    /// Run on a blocking thread, so it can never stall the runtime's tasks.
    Blocking(Arc<BlockingFn<A>>),
}

impl<A> Clone for Handler<A> {
    fn clone(&self) -> Self {
        let call = match &self.call {
            Call::Async(f) => Call::Async(f.clone()),
            Call::Calls(f) => Call::Calls(f.clone()),
            Call::Blocking(f) => Call::Blocking(f.clone()),
        };
        Handler {
            name: self.name.clone(),
            call,
            repeats: self.repeats.clone(),
        }
    }
}

impl<A> fmt::Debug for Handler<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.call {
            Call::Async(_) | Call::Calls(_) => "async",
            Call::Blocking(_) => "blocking",
        };
        write!(f, "Handler({} {kind})", self.name)
    }
}

impl<A: Send + 'static> Handler<A> {
    /// A handler from an async function (`async fn(PepeunitClient, A) -> ()` or `-> Result<(), E>`).
    pub fn new<F, Fut>(name: impl Into<String>, f: F) -> Self
    where
        F: Fn(PepeunitClient, A) -> Fut + Send + Sync + 'static,
        Fut: Future<Output: HandlerOutput> + Send + 'static,
    {
        let call = move |client, arg| -> BoxFuture<'static, std::result::Result<(), String>> {
            let future = f(client, arg);
            Box::pin(async move { future.await.into_outcome() })
        };
        Handler::with(name, Call::Async(Arc::new(call)))
    }

    /// A handler whose async function only calls other handlers (each guarded, each reporting its
    /// own outcome): it is not guarded again.
    pub(crate) fn calling<F, Fut>(name: impl Into<String>, f: F) -> Self
    where
        F: Fn(PepeunitClient, A) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let call = move |client, arg| -> BoxFuture<'static, std::result::Result<(), String>> {
            let future = f(client, arg);
            Box::pin(async move {
                future.await;
                Ok(())
            })
        };
        Handler::with(name, Call::Calls(Arc::new(call)))
    }

    /// A handler from a blocking function, run on a thread of its own (tokio's blocking pool).
    pub fn blocking<F, R>(name: impl Into<String>, f: F) -> Self
    where
        F: Fn(PepeunitClient, A) -> R + Send + Sync + 'static,
        R: HandlerOutput,
    {
        Handler::with(
            name,
            Call::Blocking(Arc::new(move |client, arg| f(client, arg).into_outcome())),
        )
    }

    fn with(name: impl Into<String>, call: Call<A>) -> Self {
        Handler {
            name: name.into(),
            call,
            repeats: Some(Arc::default()),
        }
    }

    /// Logs every failure, none folded into a count: for the platform commands, where each refused
    /// command payload is a line the operator looks for, and the backend, not a loop, sends them.
    pub(crate) fn every_failure_logged(mut self) -> Self {
        self.repeats = None;
        self
    }

    /// The name the log uses for it.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Writes a failed call to the unit log as [`report`] does; a failure the same as the one before
    /// it (a sensor that fails every second) only at its 1st, 2nd, 4th, 8th… time in a row, with
    /// the count, as rejected payloads are. A success ends the row: the next failure is a 1st again.
    pub(crate) fn report(&self, client: &PepeunitClient, outcome: Outcome) {
        let Some(repeats) = &self.repeats else {
            return report(client, &self.name, outcome);
        };
        let count = {
            let mut last = repeats.lock().unwrap_or_else(|p| p.into_inner());
            let text = match &outcome {
                Outcome::Done => {
                    *last = None;
                    return;
                }
                Outcome::Failed(text) | Outcome::Panicked(text) => text,
            };
            match &mut *last {
                Some((previous, count)) if previous == text => {
                    *count += 1;
                    *count
                }
                _ => {
                    *last = Some((text.clone(), 1));
                    1
                }
            }
        };
        match (count, outcome) {
            (1, outcome) => report(client, &self.name, outcome),
            (n, Outcome::Failed(e)) if n.is_power_of_two() => report(
                client,
                &self.name,
                Outcome::Failed(format!("{e} ({n} times in a row)")),
            ),
            (n, Outcome::Panicked(p)) if n.is_power_of_two() => report(
                client,
                &self.name,
                Outcome::Panicked(format!("{p} ({n} times in a row)")),
            ),
            _ => {}
        }
    }

    /// Whether it must run on a blocking thread.
    pub(crate) fn is_blocking(&self) -> bool {
        matches!(self.call, Call::Blocking(_))
    }

    /// Runs it once on the current task, guarded; a blocking handler runs on the blocking pool.
    pub(crate) async fn call(&self, client: PepeunitClient, arg: A) -> Outcome {
        match &self.call {
            Call::Async(f) => {
                let f = f.clone();
                // Calling `f` itself may panic before any future exists.
                match panic::catch_unwind(AssertUnwindSafe(|| f(client, arg))) {
                    Ok(future) => CatchUnwind(future).await,
                    Err(payload) => Outcome::Panicked(panic_text(payload.as_ref())),
                }
            }
            Call::Calls(f) => outcome(f(client, arg).await),
            Call::Blocking(f) => {
                let f = f.clone();
                match tokio::task::spawn_blocking(move || run_blocking(&*f, client, arg)).await {
                    Ok(outcome) => outcome,
                    Err(e) => Outcome::Panicked(e.to_string()),
                }
            }
        }
    }

    /// Runs a blocking handler on the current (blocking) thread, guarded; `None` for an async one.
    pub(crate) fn call_blocking(&self, client: PepeunitClient, arg: A) -> Option<Outcome> {
        match &self.call {
            Call::Blocking(f) => Some(run_blocking(&**f, client, arg)),
            Call::Async(_) | Call::Calls(_) => None,
        }
    }
}

fn run_blocking<A>(f: &BlockingFn<A>, client: PepeunitClient, arg: A) -> Outcome {
    match panic::catch_unwind(AssertUnwindSafe(|| f(client, arg))) {
        Ok(result) => outcome(result),
        Err(payload) => Outcome::Panicked(panic_text(payload.as_ref())),
    }
}

fn outcome(result: std::result::Result<(), String>) -> Outcome {
    match result {
        Ok(()) => Outcome::Done,
        Err(e) => Outcome::Failed(e),
    }
}

/// The text of a panic payload (`panic!("…")` gives a `&str` or a `String`).
fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_owned())
}

/// Polls a handler's future, turning a panic into [`Outcome::Panicked`].
struct CatchUnwind(BoxFuture<'static, std::result::Result<(), String>>);

impl Future for CatchUnwind {
    type Output = Outcome;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Outcome> {
        match panic::catch_unwind(AssertUnwindSafe(|| self.0.as_mut().poll(cx))) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(result)) => Poll::Ready(outcome(result)),
            Err(payload) => Poll::Ready(Outcome::Panicked(panic_text(payload.as_ref()))),
        }
    }
}

/// Writes a failed call to the unit log: `Error` for a returned error, `Critical` for a panic.
pub(crate) fn report(client: &PepeunitClient, name: &str, outcome: Outcome) {
    match outcome {
        Outcome::Done => {}
        Outcome::Failed(e) => client.logger().error(format!("Handler {name} failed: {e}")),
        Outcome::Panicked(p) => client
            .logger()
            .critical(format!("Handler {name} panicked: {p}")),
    }
}
