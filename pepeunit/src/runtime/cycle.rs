//! The main cycle: one loop that sleeps until the next thing is due in its [`Schedule`] — the state
//! message, the per-tick outputs, each scheduled output — or until a stop, a signal, a connect or
//! an env.json change wakes it. Scheduled outputs run on tasks of their own.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::declared::{Outputs, Period};
use super::handler::report;
use super::schedule::Schedule;
use super::{MqttRuntime, OutputHandler, STATE_MARGIN, Signals};
use crate::client::PepeunitClient;
use crate::error::Result;
use crate::settings::Env;

/// What the cycle schedules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Job {
    State,
    Tick,
    Output(usize),
}

/// Runs the cycle until a stop or a signal; the caller shuts the connection down afterwards.
pub(super) async fn run(
    client: &PepeunitClient,
    runtime: &MqttRuntime,
    outputs: Outputs,
) -> Result<()> {
    runtime.stop.send_replace(false);
    let mut stop = runtime.stop.subscribe();
    let mut signals = Signals::new(runtime.config.handle_signals)?;
    let mut connected = runtime.connected.subscribe();
    let env_changed = runtime.watch_settings(client);
    runtime.ensure_started(client).await?;

    let now = Instant::now();
    let mut env = client.settings().current();
    let mut schedule = Schedule::new();
    schedule.add(Job::State, Some(state_period(&env)), now);
    let tick = (!outputs.every_tick.is_empty()).then(|| in_turn(outputs.every_tick));
    if tick.is_some() {
        schedule.add(Job::Tick, Some(runtime.config.cycle_interval), now);
    }
    let scheduled: Vec<Scheduled> = outputs
        .scheduled
        .into_iter()
        .enumerate()
        .map(|(index, output)| {
            let period = resolve(client, &output.period, &output.handler, &env);
            schedule.add(Job::Output(index), period, now);
            Scheduled::spawn(client, output.period, output.handler)
        })
        .collect();
    // A state that came due while offline goes out as soon as the connection is up.
    let mut state_pending = false;

    loop {
        let now = Instant::now();
        for job in schedule.take_due(now) {
            let online = *connected.borrow();
            match job {
                Job::State if online => runtime.send_state(client).await,
                Job::State => state_pending = true,
                Job::Tick => {
                    if let Some(tick) = &tick {
                        report(client, tick.name(), tick.call(client.clone(), ()).await);
                    }
                }
                Job::Output(index) => scheduled[index].trigger(),
            }
        }
        let deadline = schedule.next_deadline();
        tokio::select! {
            biased;
            () = stopped(&mut stop) => break,
            signal = signals.recv() => {
                client.logger().info(format!("{signal} received: stopping the main cycle"));
                break;
            }
            Ok(()) = connected.changed() => {
                let online = *connected.borrow_and_update();
                if state_pending && online {
                    state_pending = false;
                    runtime.send_state(client).await;
                    schedule.reschedule(Job::State, Instant::now() + state_period(&env));
                }
            }
            () = env_changed.notified() => {
                env = client.settings().current();
                let now = Instant::now();
                schedule.set_period(Job::State, Some(state_period(&env)), now);
                for (index, output) in scheduled.iter().enumerate() {
                    if matches!(output.period, Period::EnvSeconds(_)) {
                        let period = resolve(client, &output.period, &output.handler, &env);
                        schedule.set_period(Job::Output(index), period, now);
                    }
                }
            }
            () = sleep_until(deadline) => {}
        }
    }
    for output in scheduled {
        output.task.abort();
    }
    Ok(())
}

/// The state's period: `PU_STATE_SEND_INTERVAL` plus a margin, so that network jitter never makes
/// the backend see two states closer together than its interval (it drops those).
fn state_period(env: &Env) -> Duration {
    Duration::from_secs(env.state_send_interval) + STATE_MARGIN
}

/// An output's period under `env`; `None` (the output paused) with an error in the log when it
/// has none.
fn resolve(
    client: &PepeunitClient,
    period: &Period,
    handler: &OutputHandler,
    env: &Env,
) -> Option<Duration> {
    period
        .resolve(env)
        .map_err(|e| {
            client.logger().error(format!(
                "Output {} does not run until env.json gives it a period: {e}",
                handler.name()
            ))
        })
        .ok()
}

/// Resolves once a stop is asked for (the `Ref` `wait_for` returns is not `Send`).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|stop| *stop).await;
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

/// One handler running `handlers` one after the other, each guarded and reported on its own.
fn in_turn(mut handlers: Vec<OutputHandler>) -> OutputHandler {
    if handlers.len() == 1
        && let Some(only) = handlers.pop()
    {
        return only;
    }
    let handlers = Arc::new(handlers);
    OutputHandler::new("pepeunit::output", move |client, ()| {
        let handlers = handlers.clone();
        async move {
            for handler in handlers.iter() {
                let outcome = handler.call(client.clone(), ()).await;
                report(&client, handler.name(), outcome);
            }
        }
    })
}

/// A scheduled output on its own task, so that a slow one delays nothing else.
struct Scheduled {
    period: Period,
    handler: OutputHandler,
    wake: mpsc::Sender<()>,
    /// Set from the trigger to the end of the run: a run due meanwhile is skipped, not queued.
    busy: Arc<AtomicBool>,
    task: JoinHandle<()>,
}

impl Scheduled {
    fn spawn(client: &PepeunitClient, period: Period, handler: OutputHandler) -> Self {
        let (wake, mut woken) = mpsc::channel(1);
        let busy = Arc::new(AtomicBool::new(false));
        let task = tokio::spawn({
            let (client, handler, busy) = (client.clone(), handler.clone(), busy.clone());
            async move {
                while woken.recv().await.is_some() {
                    report(
                        &client,
                        handler.name(),
                        handler.call(client.clone(), ()).await,
                    );
                    busy.store(false, Ordering::Release);
                }
            }
        });
        Scheduled {
            period,
            handler,
            wake,
            busy,
            task,
        }
    }

    /// Starts a run unless the previous one is still going.
    fn trigger(&self) {
        if !self.busy.swap(true, Ordering::AcqRel) {
            let _ = self.wake.try_send(());
        }
    }
}
