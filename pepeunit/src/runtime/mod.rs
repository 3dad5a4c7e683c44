//! The main cycle and everything around it (cargo feature `mqtt`, PROTOCOL §4–§6): the connection's
//! start and stop, input dispatch (platform commands first, then the user's handler), the output
//! function each tick, `state/pepeunit` on schedule, every log entry on `log/pepeunit`, and signals.
//!
//! # Tasks
//! - the transport's driver polls the connection (see [`crate::mqtt`]);
//! - a dispatcher per connection routes messages to per-handler queues ([`dispatch`]);
//! - one worker per handler runs it, one message at a time, in arrival order;
//! - the log publisher sends the entries the logger's sink hands it (the sink itself only queues);
//! - [`PepeunitClient::run_main_cycle`] runs on the caller's task: ticks, state, stop and signals.
//!
//! # Guarded
//! An error returned or a panic raised by any handler (input, output, platform commands) is written to
//! the unit log — `Error` or `Critical`, with the handler's name — and the cycle goes on. Panics still
//! reach the process's panic hook (by default a line on stderr) before they are caught.

mod commands;
mod dispatch;
mod handler;
pub mod log_sync;
pub(crate) mod registry;

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::Duration;

use bytes::Bytes;
use tokio::runtime::Handle;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::{Instant, MissedTickBehavior};

#[cfg(feature = "rest")]
pub(crate) use commands::reload_then_restart;
pub use commands::{AfterCommand, PlatformCommand, PlatformCommands};
pub use handler::{Handler, HandlerOutput, InputHandler, Message, Outcome, OutputHandler};

use crate::client::{ClientBuilder, PepeunitClient};
use crate::error::{Error, Result};
use crate::logger::LogEntry;
use crate::mqtt::{MqttConfig, MqttTransport, RumqttcTransport};
use dispatch::{Worker, Workers};
use handler::report;

/// Log entries waiting to be published; beyond that they stay in log.json only.
const LOG_QUEUE: usize = 1024;
/// How long stopping waits for queued log entries to be handed to the transport.
const LOG_DRAIN_TIMEOUT: Duration = Duration::from_secs(2);
/// Added to `PU_STATE_SEND_INTERVAL` so that network jitter never makes the backend see two states
/// closer together than its interval (it drops those).
const STATE_MARGIN: Duration = Duration::from_millis(250);

/// The MQTT side of a client, as set on the builder.
#[derive(Clone, Default)]
pub(crate) struct MqttSetup {
    enabled: bool,
    config: MqttConfig,
    transport: Option<Arc<dyn MqttTransport>>,
    commands: Option<Arc<dyn PlatformCommands>>,
}

impl fmt::Debug for MqttSetup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MqttSetup")
            .field("enabled", &self.enabled)
            .field("config", &self.config)
            .field("custom_transport", &self.transport.is_some())
            .field("platform_commands", &self.commands.is_some())
            .finish()
    }
}

impl MqttSetup {
    /// Installs `default` as the platform-command hook unless the user gave one.
    #[cfg(feature = "rest")]
    pub(crate) fn or_commands(
        mut self,
        default: impl FnOnce() -> Arc<dyn PlatformCommands>,
    ) -> Self {
        self.commands = self.commands.or_else(|| Some(default()));
        self
    }

    /// The runtime, when MQTT is on (the flag, or a transport given).
    pub(crate) fn build(self) -> Option<Arc<MqttRuntime>> {
        if !self.enabled && self.transport.is_none() {
            return None;
        }
        let transport = self.transport.unwrap_or_else(|| {
            Arc::new(RumqttcTransport::new(
                self.config.offline_queue,
                self.config.backoff,
            ))
        });
        Some(Arc::new(MqttRuntime {
            config: self.config,
            transport,
            commands: RwLock::new(self.commands),
            input: Mutex::new(None),
            start: tokio::sync::Mutex::new(()),
            live: Mutex::new(None),
            connected: Arc::new(watch::Sender::new(false)),
            stop: watch::Sender::new(false),
        }))
    }
}

/// The running parts of an MQTT client (one per [`PepeunitClient`]).
pub(crate) struct MqttRuntime {
    config: MqttConfig,
    transport: Arc<dyn MqttTransport>,
    commands: RwLock<Option<Arc<dyn PlatformCommands>>>,
    input: Mutex<Option<InputHandler>>,
    /// Serializes start, reconnect and shutdown.
    start: tokio::sync::Mutex<()>,
    live: Mutex<Option<Live>>,
    connected: Arc<watch::Sender<bool>>,
    stop: watch::Sender<bool>,
}

/// What exists between start and shutdown.
struct Live {
    workers: Arc<Workers>,
    log_publisher: JoinHandle<()>,
    runtime: Handle,
}

impl MqttRuntime {
    pub(crate) fn transport(&self) -> &Arc<dyn MqttTransport> {
        &self.transport
    }

    pub(crate) fn max_packet_size(&self) -> usize {
        self.config.max_packet_size
    }

    pub(crate) fn platform_commands(&self) -> Option<Arc<dyn PlatformCommands>> {
        self.commands
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn live(&self) -> MutexGuard<'_, Option<Live>> {
        self.live.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Publishes on one physical topic (queued while offline).
    pub(crate) async fn publish(&self, topic: String, payload: Bytes) -> Result<()> {
        self.transport.publish(topic, payload).await
    }

    /// Connects, subscribes to every schema input and starts the workers and the log publisher, once.
    async fn ensure_started(&self, client: &PepeunitClient) -> Result<()> {
        if self.live().is_some() {
            return Ok(());
        }
        let _serial = self.start.lock().await;
        if self.live().is_some() {
            return Ok(());
        }
        let runtime = Handle::current();
        let capacity = self.config.handler_queue;
        let commands = InputHandler::new("platform commands", commands::handle);
        let input = self.input.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let workers = Arc::new(Workers {
            commands: Worker::spawn(commands, client.clone(), capacity, &runtime),
            input: RwLock::new(input.map(|h| Worker::spawn(h, client.clone(), capacity, &runtime))),
        });
        let topics = commands::schema_subscriptions(client).into_iter().collect();
        self.transport.subscribe(topics).await?;
        self.connect(client, &workers).await?;
        let log_publisher = start_log_publisher(client);
        *self.live() = Some(Live {
            workers,
            log_publisher,
            runtime,
        });
        Ok(())
    }

    /// (Re)connects with the current env.json and dispatches the new connection's events.
    async fn connect(&self, client: &PepeunitClient, workers: &Arc<Workers>) -> Result<()> {
        let options = self.config.connect_options(&client.settings().current())?;
        self.connected.send_replace(false);
        let events = self.transport.connect(options).await?;
        tokio::spawn(dispatch::dispatch(
            events,
            workers.clone(),
            client.clone(),
            self.connected.clone(),
        ));
        Ok(())
    }

    /// Reconnects with the current env.json (after env.json changed the broker or the token).
    pub(crate) async fn reconnect(&self, client: &PepeunitClient) -> Result<()> {
        let _serial = self.start.lock().await;
        let workers = match self.live().as_ref() {
            Some(live) => live.workers.clone(),
            None => return Ok(()),
        };
        self.connect(client, &workers).await
    }

    /// Publishes what the log still holds for the broker, sends DISCONNECT and flushes log.json.
    pub(crate) async fn shutdown(&self, client: &PepeunitClient) {
        let _serial = self.start.lock().await;
        let Some(live) = self.live().take() else {
            return;
        };
        client.logger().set_sink(None);
        let _ = tokio::time::timeout(LOG_DRAIN_TIMEOUT, live.log_publisher).await;
        if let Err(e) = self.transport.disconnect().await {
            client
                .logger()
                .file_only()
                .error(format!("MQTT disconnect failed: {e}"));
        }
        self.connected.send_replace(false);
        let _ = client.logger().flush();
    }

    /// Publishes the state when connected and due: right after the first connect, then every
    /// `PU_STATE_SEND_INTERVAL` (monotonic clock).
    async fn send_state_if_due(&self, client: &PepeunitClient, last: &mut Option<Instant>) {
        if !*self.connected.borrow() {
            return;
        }
        let interval = Duration::from_secs(client.settings().current().state_send_interval);
        if last.is_some_and(|at| at.elapsed() < interval + STATE_MARGIN) {
            return;
        }
        let Some(topics) = client
            .schema()
            .current()
            .output_base_topic()
            .get("state/pepeunit")
            .cloned()
        else {
            return;
        };
        *last = Some(Instant::now());
        let state = Bytes::from(client.get_system_state().to_json());
        for topic in topics {
            if let Err(e) = self.publish(topic, state.clone()).await {
                client.logger().error(format!("State not sent: {e}"));
            }
        }
    }
}

/// Hands every entry the logger stores to a task that publishes it on `log/pepeunit`; the sink only
/// queues (it must never block or publish inline). The task ends when the sink is removed.
fn start_log_publisher(client: &PepeunitClient) -> JoinHandle<()> {
    let (sender, mut entries) = mpsc::channel::<LogEntry>(LOG_QUEUE);
    client
        .logger()
        .set_sink(Some(Arc::new(move |entry: &LogEntry| {
            let _ = sender.try_send(entry.clone());
        })));
    let client = client.clone();
    tokio::spawn(async move {
        while let Some(entry) = entries.recv().await {
            let payload = Bytes::from(entry.to_json());
            let Ok(runtime) = client.mqtt_runtime() else {
                return;
            };
            let topics = client
                .schema()
                .current()
                .output_base_topic()
                .get("log/pepeunit")
                .cloned()
                .unwrap_or_default();
            for topic in topics {
                if let Err(e) = runtime.publish(topic, payload.clone()).await {
                    client
                        .logger()
                        .file_only()
                        .error(format!("Log entry not sent: {e}"));
                }
            }
        }
    })
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

/// MQTT options of the builder (cargo feature `mqtt`).
impl ClientBuilder {
    /// Turns the MQTT client on (the Python client's `enable_mqtt`); off by default.
    pub fn mqtt(mut self, enabled: bool) -> Self {
        self.mqtt.enabled = enabled;
        self
    }

    /// Main-cycle and connection options beyond env.json.
    pub fn mqtt_config(mut self, config: MqttConfig) -> Self {
        self.mqtt.config = config;
        self
    }

    /// Uses `transport` instead of the built-in rumqttc one (and turns MQTT on).
    pub fn mqtt_transport(mut self, transport: Arc<dyn MqttTransport>) -> Self {
        self.mqtt.transport = Some(transport);
        self
    }

    /// The hook that runs `update`, `env_update` and `schema_update` (the REST layer's).
    pub fn platform_commands(mut self, commands: Arc<dyn PlatformCommands>) -> Self {
        self.mqtt.commands = Some(commands);
        self
    }
}

/// The seed's MQTT API (cargo feature `mqtt`); each call returns [`Error::MqttDisabled`] when the client
/// was built without MQTT.
impl PepeunitClient {
    /// Subscribes to `topics` (physical names), now and after every reconnect.
    pub async fn subscribe_topics(&self, topics: &[&str]) -> Result<()> {
        let runtime = self.mqtt_runtime()?;
        runtime.ensure_started(self).await?;
        let topics = topics.iter().map(|t| (*t).to_owned()).collect();
        runtime.transport.subscribe(topics).await
    }

    /// Subscribes to every topic of `input_base_topic` and `input_topic` (also done when the
    /// connection starts).
    pub async fn subscribe_all_schema_topics(&self) -> Result<()> {
        let runtime = self.mqtt_runtime()?;
        runtime.ensure_started(self).await?;
        let topics = commands::schema_subscriptions(self).into_iter().collect();
        runtime.transport.subscribe(topics).await
    }

    /// Publishes `message` to every topic of `output_topic[name]`, else of `output_base_topic[name]`;
    /// an unknown name is [`Error::UnknownTopicName`]. Queued (bounded) while disconnected.
    pub async fn publish_to_topics(&self, name: &str, message: impl Into<Bytes>) -> Result<()> {
        let runtime = self.mqtt_runtime()?;
        let topics = self.schema().current().output_targets(name)?.to_vec();
        runtime.ensure_started(self).await?;
        let payload = message.into();
        for topic in topics {
            runtime.publish(topic, payload.clone()).await?;
        }
        Ok(())
    }

    /// Sets the async function called for every incoming message (platform commands included, after
    /// the runtime handled them), e.g. `client.set_input_message_handler(|client, msg| async move { … })`.
    /// It returns `()` or a `Result`; errors and panics are logged and the cycle goes on.
    pub fn set_input_message_handler<F, Fut>(&self, f: F) -> Result<()>
    where
        F: Fn(PepeunitClient, Message) -> Fut + Send + Sync + 'static,
        Fut: Future<Output: HandlerOutput> + Send + 'static,
    {
        self.set_input_handler(InputHandler::new(std::any::type_name::<F>(), f))
    }

    /// Sets the input handler (built with [`Handler::new`] or [`Handler::blocking`], and a name for the
    /// log). Messages already queued for the previous handler still go to it.
    pub fn set_input_handler(&self, handler: InputHandler) -> Result<()> {
        let runtime = self.mqtt_runtime()?;
        *runtime.input.lock().unwrap_or_else(|p| p.into_inner()) = Some(handler.clone());
        if let Some(live) = runtime.live().as_ref() {
            let worker = Worker::spawn(
                handler,
                self.clone(),
                runtime.config.handler_queue,
                &live.runtime,
            );
            *live
                .workers
                .input
                .write()
                .unwrap_or_else(|p| p.into_inner()) = Some(worker);
        }
        Ok(())
    }

    /// Attaches the hook that runs `update`, `env_update` and `schema_update` (the REST layer's).
    pub fn set_platform_commands(&self, commands: Arc<dyn PlatformCommands>) -> Result<()> {
        let runtime = self.mqtt_runtime()?;
        *runtime.commands.write().unwrap_or_else(|p| p.into_inner()) = Some(commands);
        Ok(())
    }

    /// Runs the guarded main cycle until [`stop_main_cycle`](Self::stop_main_cycle), SIGINT or
    /// SIGTERM: connects, calls the async `output` function every cycle interval, sends the state on
    /// schedule; on the way out publishes the pending log entries, sends DISCONNECT and flushes the log.
    pub async fn run_main_cycle<F, Fut>(&self, output: F) -> Result<()>
    where
        F: Fn(PepeunitClient) -> Fut + Send + Sync + 'static,
        Fut: Future<Output: HandlerOutput> + Send + 'static,
    {
        let output =
            OutputHandler::new(std::any::type_name::<F>(), move |client, ()| output(client));
        self.run_main_cycle_with(output).await
    }

    /// [`run_main_cycle`](Self::run_main_cycle) with an output handler built by [`Handler::new`] or
    /// [`Handler::blocking`].
    pub async fn run_main_cycle_with(&self, output: OutputHandler) -> Result<()> {
        let runtime = self.mqtt_runtime()?;
        runtime.stop.send_replace(false);
        let mut stop = runtime.stop.subscribe();
        let mut signals = Signals::new(runtime.config.handle_signals)?;
        runtime.ensure_started(self).await?;
        let mut ticks = tokio::time::interval(runtime.config.cycle_interval);
        ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut last_state = None;
        // A (re)connect wakes the cycle too: the first state goes out on the ConnAck, not a tick later.
        let mut connection = runtime.connected.subscribe();
        loop {
            let tick = tokio::select! {
                biased;
                _ = stop.wait_for(|stop| *stop) => break,
                signal = signals.recv() => {
                    self.logger().info(format!("{signal} received: stopping the main cycle"));
                    break;
                }
                _ = ticks.tick() => true,
                Ok(()) = connection.changed() => false,
            };
            runtime.send_state_if_due(self, &mut last_state).await;
            if tick {
                report(self, output.name(), output.call(self.clone(), ()).await);
            }
        }
        self.logger().info("Main cycle stopped");
        runtime.shutdown(self).await;
        Ok(())
    }

    /// Ends the running main cycle after its current tick (callable from any handler or thread).
    pub fn stop_main_cycle(&self) -> Result<()> {
        self.mqtt_runtime()?.stop.send_replace(true);
        Ok(())
    }

    /// Whether the MQTT connection is up right now.
    pub fn is_mqtt_connected(&self) -> bool {
        self.mqtt_runtime().is_ok_and(|r| *r.connected.borrow())
    }
}
