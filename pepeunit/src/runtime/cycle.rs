//! The main cycle (cargo feature `mqtt`): it runs on the caller's task until a stop request, SIGINT or
//! SIGTERM, and runs everything periodic from one [`Schedule`]: the state message, the per-tick outputs
//! and each scheduled output, each when due, sleeping until the next deadline in between — with no
//! per-tick output there is no tick at all. A connect and a change of env.json wake it too: the state
//! waiting for a connection goes out, periods taken from env variables are read again.
//!
//! Scheduled outputs run on tasks of their own: a slow one delays neither the cycle nor the others,
//! and a run still going when the next is due makes that one skipped, not queued.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::declared::Period;
use super::engine::MqttRuntime;
use super::handler::OutputHandler;
use super::outputs::Outputs;
use super::schedule::Schedule;
use crate::client::PepeunitClient;
use crate::error::{Error, Result};
use crate::settings::Env;

/// Added to `PU_STATE_SEND_INTERVAL` so that network jitter never makes the backend see two states
/// closer together than its interval (it drops those).
const STATE_MARGIN: Duration = Duration::from_millis(250);

/// The main cycle's periodic jobs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Job {
    /// `state/pepeunit`, every `PU_STATE_SEND_INTERVAL` + [`STATE_MARGIN`], only while connected.
    State,
    /// The per-tick outputs, every cycle interval.
    Tick,
    /// The scheduled output at this index, on its period.
    Output(usize),
}

/// Runs the main cycle of `client` with `outputs` until a stop request or a signal, then shuts the
/// connection down (pending log entries published, DISCONNECT, log flushed).
pub(crate) async fn run(client: &PepeunitClient, outputs: Outputs) -> Result<()> {
    let runtime = client.mqtt_runtime()?;
    let mut stop = runtime.stop_requests();
    let mut signals = Signals::new(runtime.config().handle_signals)?;
    let env_changed = runtime.settings_changes(client);
    runtime.ensure_started(client).await?;
    let mut connection = runtime.connection();
    let start = Instant::now();
    let mut env = client.settings().current();
    let mut schedule = Schedule::new();
    schedule.add(Job::State, state_period(&env), start);
    let tick = in_turn(outputs.every_tick);
    if tick.is_some() {
        schedule.add(Job::Tick, runtime.config().cycle_interval, start);
    }
    let scheduled: Vec<Scheduled> = outputs
        .scheduled
        .into_iter()
        .map(|output| Scheduled::spawn(client, output.period, output.handler))
        .collect();
    for (index, output) in scheduled.iter().enumerate() {
        schedule.put(Job::Output(index), output.period(client, &env), start);
    }
    let on_change: Vec<JoinHandle<()>> = outputs
        .on_change
        .into_iter()
        .map(|output| output.spawn(client, runtime))
        .collect();
    // The state came due while offline: it goes out as soon as the connection is up.
    let mut state_waiting = false;
    loop {
        let due = tokio::select! {
            biased;
            _ = stop.wait_for(|stop| *stop) => break,
            signal = signals.recv() => {
                client.logger().info(format!("{signal} received: stopping the main cycle"));
                break;
            }
            _ = connection.wait_for(|up| *up), if state_waiting => vec![Job::State],
            () = env_changed.notified() => {
                // env.json was reloaded: every period taken from it follows.
                env = client.settings().current();
                let now = Instant::now();
                schedule.set_period(&Job::State, state_period(&env));
                for (index, output) in scheduled.iter().enumerate() {
                    if matches!(output.period, Period::EnvSeconds(_)) {
                        schedule.put(Job::Output(index), output.period(client, &env), now);
                    }
                }
                schedule.take_due(now)
            }
            () = sleep_until(schedule.next_deadline()) => schedule.take_due(Instant::now()),
        };
        for job in due {
            match job {
                Job::State if runtime.is_connected() => {
                    state_waiting = false;
                    schedule.ran_at(&Job::State, Instant::now());
                    send_state(client, runtime).await;
                }
                Job::State => state_waiting = true,
                Job::Tick => {
                    if let Some(tick) = &tick {
                        tick.report(client, tick.call(client.clone(), ()).await);
                    }
                }
                Job::Output(index) => scheduled[index].trigger(),
            }
        }
    }
    for output in &scheduled {
        output.task.abort();
    }
    for task in &on_change {
        task.abort();
    }
    #[cfg(feature = "rest")]
    client.flush_stored_states().await;
    client.logger().info("Main cycle stopped");
    runtime.shutdown(client).await;
    Ok(())
}

/// The state's period under `env`.
fn state_period(env: &Env) -> Duration {
    Duration::from_secs(env.state_send_interval) + STATE_MARGIN
}

/// Sleeps until `deadline`; without one (no job has a period), until something else wakes the cycle.
async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

/// One handler running `handlers` one after the other, each guarded and reported on its own; `None`
/// without handlers (then the cycle does not tick).
fn in_turn(mut handlers: Vec<OutputHandler>) -> Option<OutputHandler> {
    if handlers.len() <= 1 {
        return handlers.pop();
    }
    let handlers = Arc::new(handlers);
    Some(OutputHandler::new("pepeunit::output", move |client, ()| {
        let handlers = handlers.clone();
        async move {
            for handler in handlers.iter() {
                let outcome = handler.call(client.clone(), ()).await;
                handler.report(&client, outcome);
            }
        }
    }))
}

/// A scheduled output on a task of its own.
struct Scheduled {
    period: Period,
    name: String,
    wake: mpsc::Sender<()>,
    /// Set from the trigger to the end of the run: a run due meanwhile is skipped, not queued.
    busy: Arc<AtomicBool>,
    task: JoinHandle<()>,
}

impl Scheduled {
    fn spawn(client: &PepeunitClient, period: Period, handler: OutputHandler) -> Self {
        let (wake, mut woken) = mpsc::channel(1);
        let busy = Arc::new(AtomicBool::new(false));
        let name = handler.name().to_owned();
        let task = tokio::spawn({
            let (client, busy) = (client.clone(), busy.clone());
            async move {
                while woken.recv().await.is_some() {
                    handler.report(&client, handler.call(client.clone(), ()).await);
                    busy.store(false, Ordering::Release);
                    if let Ok(runtime) = client.mqtt_runtime() {
                        runtime.handler_ran();
                    }
                }
            }
        });
        Scheduled {
            period,
            name,
            wake,
            busy,
            task,
        }
    }

    /// Its period under `env`; `None` (it does not run) with an error in the log when it has none.
    fn period(&self, client: &PepeunitClient, env: &Env) -> Option<Duration> {
        self.period
            .resolve(env)
            .map_err(|e| {
                client.logger().error(format!(
                    "Output {} does not run until env.json gives it a period: {e}",
                    self.name
                ))
            })
            .ok()
    }

    /// Starts a run unless the previous one is still going.
    fn trigger(&self) {
        if !self.busy.swap(true, Ordering::AcqRel) {
            let _ = self.wake.try_send(());
        }
    }
}

/// Publishes the state on every topic of `state/pepeunit` (none in the schema: nothing to do).
async fn send_state(client: &PepeunitClient, runtime: &MqttRuntime) {
    let Some(topics) = client
        .schema()
        .current()
        .output_base_topic()
        .get("state/pepeunit")
        .cloned()
    else {
        return;
    };
    let state = Bytes::from(client.get_system_state().to_json());
    for topic in topics {
        if let Err(e) = runtime.publish(topic, state.clone()).await {
            client.logger().error(format!("State not sent: {e}"));
        }
    }
}

/// SIGINT and SIGTERM, when the runtime handles them.
struct Signals(Option<SignalStreams>);

#[cfg(unix)]
type SignalStreams = (tokio::signal::unix::Signal, tokio::signal::unix::Signal);
#[cfg(not(unix))]
type SignalStreams = ();

impl Signals {
    fn new(enabled: bool) -> Result<Signals> {
        if !enabled {
            return Ok(Signals(None));
        }
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let listen = |kind| signal(kind).map_err(|e| Error::io("signal handler", e));
            Ok(Signals(Some((
                listen(SignalKind::interrupt())?,
                listen(SignalKind::terminate())?,
            ))))
        }
        #[cfg(not(unix))]
        Ok(Signals(Some(())))
    }

    /// The name of the next signal received (never returns when disabled).
    async fn recv(&mut self) -> &'static str {
        match &mut self.0 {
            #[cfg(unix)]
            Some((interrupt, terminate)) => tokio::select! {
                _ = interrupt.recv() => "SIGINT",
                _ = terminate.recv() => "SIGTERM",
            },
            #[cfg(not(unix))]
            Some(()) => {
                let _ = tokio::signal::ctrl_c().await;
                "Ctrl-C"
            }
            None => std::future::pending().await,
        }
    }
}
