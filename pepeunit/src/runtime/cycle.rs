//! The main cycle (cargo feature `mqtt`): it runs on the caller's task until a stop request, SIGINT or
//! SIGTERM, and runs everything periodic from one [`Schedule`]: the state message and the output
//! function, each when due, sleeping until the next deadline in between.

use std::time::Duration;

use bytes::Bytes;
use tokio::time::Instant;

use super::engine::MqttRuntime;
use super::handler::{OutputHandler, report};
use super::schedule::Schedule;
use crate::client::PepeunitClient;
use crate::error::{Error, Result};

/// Added to `PU_STATE_SEND_INTERVAL` so that network jitter never makes the backend see two states
/// closer together than its interval (it drops those).
const STATE_MARGIN: Duration = Duration::from_millis(250);

/// The main cycle's periodic jobs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Job {
    /// `state/pepeunit`, every `PU_STATE_SEND_INTERVAL` + [`STATE_MARGIN`], only while connected.
    State,
    /// The output function, every cycle interval.
    Output,
}

/// Runs the main cycle of `client` with `output` until a stop request or a signal, then shuts the
/// connection down (pending log entries published, DISCONNECT, log flushed).
pub(crate) async fn run(client: &PepeunitClient, output: OutputHandler) -> Result<()> {
    let runtime = client.mqtt_runtime()?;
    let mut stop = runtime.stop_requests();
    let mut signals = Signals::new(runtime.config().handle_signals)?;
    runtime.ensure_started(client).await?;
    let mut connection = runtime.connection();
    let start = Instant::now();
    let mut schedule = Schedule::new();
    schedule.add(Job::State, state_period(client), start);
    schedule.add(Job::Output, runtime.config().cycle_interval, start);
    // The state came due while offline: it goes out as soon as the connection is up.
    let mut state_waiting = false;
    loop {
        // Both jobs stay in the schedule, so there is always a deadline.
        let deadline = schedule.next_deadline().unwrap_or(start);
        let due = tokio::select! {
            biased;
            _ = stop.wait_for(|stop| *stop) => break,
            signal = signals.recv() => {
                client.logger().info(format!("{signal} received: stopping the main cycle"));
                break;
            }
            _ = connection.wait_for(|up| *up), if state_waiting => vec![Job::State],
            _ = tokio::time::sleep_until(deadline) => {
                // env.json may have been reloaded: the state's period follows it.
                schedule.set_period(&Job::State, state_period(client));
                schedule.take_due(Instant::now())
            }
        };
        for job in due {
            match job {
                Job::State if runtime.is_connected() => {
                    state_waiting = false;
                    schedule.ran_at(&Job::State, Instant::now());
                    send_state(client, runtime).await;
                }
                Job::State => state_waiting = true,
                Job::Output => report(client, output.name(), output.call(client.clone(), ()).await),
            }
        }
    }
    client.logger().info("Main cycle stopped");
    runtime.shutdown(client).await;
    Ok(())
}

/// The state's period as env.json says now.
fn state_period(client: &PepeunitClient) -> Duration {
    Duration::from_secs(client.settings().current().state_send_interval) + STATE_MARGIN
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
