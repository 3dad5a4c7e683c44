//! Numeric outputs (`sample`, `reduce`, `delta`, `round` of `#[pepeunit::output]`): the function
//! runs every `sample` on the main cycle's schedule (the monotonic clock: no drift, no catch-up
//! burst), each value a sample; every `every` the reduction of the samples since the last
//! publication goes through the `round`/`delta` filter and is published. Without `sample` the
//! function's own value is filtered and published on its period.

use std::fmt;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::OutputHandler;
use super::declared::{Deliver, Period, producing, producing_blocking, publish_bytes};
use super::handler::{Outcome, report};
use super::outputs::Outputs;
use super::reduce::{Filter, Reduce, Window};
use crate::client::PepeunitClient;
use crate::future::BoxFuture;

/// A value a sampled output function may return: a number, `Option` of one (`None`: no sample this
/// time) or `Result` of one (`Err`: the function's failure, no sample).
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a number: `sample`, `reduce`, `delta` and `round` need an output returning one",
    label = "`{Self}` does not implement `pepeunit::runtime::Sample`",
    note = "a sampled output returns an integer or float type, `Option<N>` (None: no sample) or `Result<N, E: Display>`"
)]
pub trait Sample: Send + 'static {
    /// The sample, `Ok(None)` for none this time, or the failure to log.
    fn into_sample(self) -> Result<Option<f64>, String>;
}

impl<T: Sample> Sample for Option<T> {
    fn into_sample(self) -> Result<Option<f64>, String> {
        self.map_or(Ok(None), Sample::into_sample)
    }
}

impl<T: Sample, E: fmt::Display + Send + 'static> Sample for Result<T, E> {
    fn into_sample(self) -> Result<Option<f64>, String> {
        self.map_err(|e| e.to_string())?.into_sample()
    }
}

/// The number types, as `f64` (what the reductions compute in).
macro_rules! number_sample {
    ($($t:ty),*) => {$(
        impl Sample for $t {
            fn into_sample(self) -> Result<Option<f64>, String> {
                Ok(Some(self as f64))
            }
        }
    )*};
}

number_sample!(
    i8, i16, i32, i64, i128, isize, u8, u16, u32, u64, u128, usize, f32, f64
);

/// An output whose number is sampled, reduced, compared by `delta` or rounded before it is published.
#[derive(Debug, Clone)]
pub struct NumericOutput {
    /// Runs the function once and adds its value to `window`.
    run: OutputHandler,
    topic_name: Arc<str>,
    window: Arc<Mutex<Window>>,
    every: Option<Period>,
    sample: Option<Duration>,
    reduce: Reduce,
    filter: Filter,
}

impl NumericOutput {
    /// Publishes what the async function `f` returns to every topic of `output_topic[topic_name]`.
    pub fn new<F, Fut, S>(name: impl Into<String>, topic_name: impl Into<String>, f: F) -> Self
    where
        F: Fn(PepeunitClient) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = S> + Send + 'static,
        S: Sample,
    {
        let window = Arc::default();
        let run = producing(name, f, sampling(&window));
        NumericOutput::with(run, topic_name, window)
    }

    /// [`NumericOutput::new`] for a blocking function, run on tokio's blocking pool.
    pub fn new_blocking<F, S>(name: impl Into<String>, topic_name: impl Into<String>, f: F) -> Self
    where
        F: Fn(PepeunitClient) -> S + Send + Sync + 'static,
        S: Sample,
    {
        let window = Arc::default();
        let run = producing_blocking(name, f, sampling(&window));
        NumericOutput::with(run, topic_name, window)
    }

    fn with(run: OutputHandler, topic_name: impl Into<String>, window: Arc<Mutex<Window>>) -> Self {
        NumericOutput {
            run,
            topic_name: topic_name.into().into(),
            window,
            every: None,
            sample: None,
            reduce: Reduce::default(),
            filter: Filter::default(),
        }
    }

    /// Published every `period` (without it: every main-cycle tick).
    pub fn every(mut self, period: Period) -> Self {
        self.every = Some(period);
        self
    }

    /// The function runs every `period`, each value a sample, and what is published is the
    /// reduction of the samples since the last publication (no samples: nothing).
    pub fn sample(mut self, period: Duration) -> Self {
        self.sample = Some(period);
        self
    }

    /// How the samples are reduced; [`Reduce::Mean`] unless set.
    pub fn reduce(mut self, reduce: Reduce) -> Self {
        self.reduce = reduce;
        self
    }

    /// Published only when the value moved at least `delta` from the last one published.
    pub fn delta(mut self, delta: f64) -> Self {
        self.filter.delta = Some(delta);
        self
    }

    /// Rounded to `decimals` and published with that many.
    pub fn round(mut self, decimals: u8) -> Self {
        self.filter.round = Some(decimals);
        self
    }

    /// The handler that publishes, after running the function itself when it is not sampled.
    fn publisher(self) -> OutputHandler {
        let name = self.run.name().to_owned();
        let run = self.sample.is_none().then_some(self.run);
        let (reduce, window) = (self.reduce, self.window);
        let (filter, topic_name) = (Arc::new(Mutex::new(self.filter)), self.topic_name);
        OutputHandler::calling(name.clone(), move |unit, ()| {
            let (run, window, filter) = (run.clone(), window.clone(), filter.clone());
            let (name, topic_name) = (name.clone(), topic_name.clone());
            async move {
                if let Some(run) = run {
                    let outcome = run.call(unit.clone(), ()).await;
                    run.report(&unit, outcome);
                }
                let value = lock(&window).take(reduce);
                let Some(payload) = value.and_then(|value| lock(&filter).pass(value)) else {
                    return;
                };
                if let Err(e) = publish_bytes(&unit, &topic_name, payload.into()).await {
                    report(&unit, &name, Outcome::Failed(e));
                }
            }
        })
    }
}

impl Outputs {
    /// Adds a numeric output: sampled on its own schedule when it has a `sample`, published on its
    /// period (or every tick).
    pub fn numeric(mut self, output: NumericOutput) -> Self {
        if let Some(sample) = output.sample {
            self = self.every(Period::Fixed(sample), output.run.clone());
        }
        match output.every.clone() {
            Some(period) => self.every(period, output.publisher()),
            None => self.every_tick(output.publisher()),
        }
    }
}

/// The window is only ever held for a push or a take: a poisoned one is still whole.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

/// Delivers a value by adding it to `window` as a sample.
fn sampling<S: Sample>(window: &Arc<Mutex<Window>>) -> impl Deliver<(), S> {
    let window = window.clone();
    move |_: PepeunitClient, (): (), value: S| -> BoxFuture<'static, Result<(), String>> {
        let sample = value.into_sample();
        let window = window.clone();
        Box::pin(async move {
            if let Some(sample) = sample? {
                lock(&window).push(sample);
            }
            Ok(())
        })
    }
}
