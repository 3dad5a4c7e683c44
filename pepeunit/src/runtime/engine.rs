//! The connection engine (cargo feature `mqtt`): what exists between the first connect and the
//! shutdown — the transport connection and its dispatcher, the handler workers, the log publisher —
//! and the start, reconnect and shutdown that create and end it. One [`MqttRuntime`] per client.

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, Once, RwLock};
use std::time::Duration;

use bytes::Bytes;
use tokio::runtime::Handle;
use tokio::sync::{Notify, mpsc, watch};
use tokio::task::JoinHandle;

use super::commands::{self, PlatformCommands};
use super::dispatch::{self, Worker, Workers};
use super::early_log::EarlyLog;
use super::handler::InputHandler;
use super::ran::Ran;
use crate::client::PepeunitClient;
use crate::error::Result;
use crate::logger::{LogEntry, Logger};
use crate::mqtt::{MqttConfig, MqttTransport, RumqttcTransport};

/// Log entries waiting to be published; beyond that they stay in log.json only.
const LOG_QUEUE: usize = 1024;
/// How long stopping waits for queued log entries to be handed to the transport.
const LOG_DRAIN_TIMEOUT: Duration = Duration::from_secs(2);
/// The MQTT side of a client, as set on the builder.
#[derive(Clone, Default)]
pub(crate) struct MqttSetup {
    pub(crate) enabled: bool,
    pub(crate) config: MqttConfig,
    pub(crate) transport: Option<Arc<dyn MqttTransport>>,
    pub(crate) commands: Option<Arc<dyn PlatformCommands>>,
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

    /// The runtime, when MQTT is on (the flag, or a transport given); from now on `logger`'s lines
    /// are held for `log/pepeunit` until the engine starts.
    pub(crate) fn build(self, logger: &Logger) -> Option<Arc<MqttRuntime>> {
        if !self.enabled && self.transport.is_none() {
            return None;
        }
        let transport = self.transport.unwrap_or_else(|| {
            Arc::new(RumqttcTransport::new(
                self.config.offline_queue,
                self.config.backoff,
            ))
        });
        let early_log = EarlyLog::default();
        early_log.hold(logger);
        Some(Arc::new(MqttRuntime {
            early_log,
            config: self.config,
            transport,
            commands: RwLock::new(self.commands),
            input: Mutex::new(None),
            start: tokio::sync::Mutex::new(()),
            live: Mutex::new(None),
            connected: Arc::new(watch::Sender::new(false)),
            stop: watch::Sender::new(false),
            settings_changed: Arc::new(Notify::new()),
            watching_settings: Once::new(),
            ran: Ran::new(),
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
    /// Woken by every change of the env in force (the main cycle re-reads its periods).
    settings_changed: Arc<Notify>,
    watching_settings: Once,
    /// Noted after every input handler and scheduled output run (what on-change outputs follow).
    ran: Ran,
    /// The lines logged before the log publisher started.
    early_log: EarlyLog,
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

    /// The options the runtime was built with.
    /// What wakes the main cycle when the env in force changes (a reload by a command or by the
    /// user's code); the watch on `client`'s settings is set up once.
    pub(crate) fn settings_changes(&self, client: &PepeunitClient) -> Arc<Notify> {
        self.watching_settings.call_once(|| {
            let changed = self.settings_changed.clone();
            client.settings().on_change(move |_| changed.notify_one());
        });
        self.settings_changed.clone()
    }

    pub(crate) fn config(&self) -> &MqttConfig {
        &self.config
    }

    /// Subscribes to `topics` (physical names), now and after every reconnect; starts first.
    pub(crate) async fn subscribe(
        &self,
        client: &PepeunitClient,
        topics: Vec<String>,
    ) -> Result<()> {
        self.ensure_started(client).await?;
        self.transport.subscribe(topics).await
    }

    /// Makes `handler` the input handler, for the running connection too. Messages already queued for
    /// the previous handler still go to it.
    pub(crate) fn set_input_handler(&self, client: &PepeunitClient, handler: InputHandler) {
        *self.input.lock().unwrap_or_else(|p| p.into_inner()) = Some(handler.clone());
        if let Some(live) = self.live().as_ref() {
            let worker = Worker::spawn(
                handler,
                client.clone(),
                self.config.handler_queue,
                &live.runtime,
                Some(self.ran.clone()),
            );
            *live
                .workers
                .input
                .write()
                .unwrap_or_else(|p| p.into_inner()) = Some(worker);
        }
    }

    /// Makes `commands` the hook that runs `update`, `env_update` and `schema_update`.
    pub(crate) fn set_platform_commands(&self, commands: Arc<dyn PlatformCommands>) {
        *self.commands.write().unwrap_or_else(|p| p.into_inner()) = Some(commands);
    }

    /// Whether the connection is up right now.
    pub(crate) fn is_connected(&self) -> bool {
        *self.connected.borrow()
    }

    /// Follows the connection going up and down.
    pub(crate) fn connection(&self) -> watch::Receiver<bool> {
        self.connected.subscribe()
    }

    /// Notes that an input handler or a scheduled output ran.
    pub(crate) fn handler_ran(&self) {
        self.ran.note();
    }

    /// Follows [`MqttRuntime::handler_ran`].
    pub(crate) fn handler_runs(&self) -> watch::Receiver<u64> {
        self.ran.subscribe()
    }

    /// Asks the running main cycle to stop.
    pub(crate) fn request_stop(&self) {
        self.stop.send_replace(true);
    }

    /// Clears an earlier stop request and follows the new ones (for a main cycle that starts).
    pub(crate) fn stop_requests(&self) -> watch::Receiver<bool> {
        self.stop.send_replace(false);
        self.stop.subscribe()
    }

    /// Connects, subscribes to every schema input and starts the workers and the log publisher, once.
    pub(crate) async fn ensure_started(&self, client: &PepeunitClient) -> Result<()> {
        if self.live().is_some() {
            return Ok(());
        }
        let _serial = self.start.lock().await;
        if self.live().is_some() {
            return Ok(());
        }
        let runtime = Handle::current();
        let capacity = self.config.handler_queue;
        let commands =
            InputHandler::new("platform commands", commands::handle).every_failure_logged();
        let input = self.input.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let workers = Arc::new(Workers {
            commands: Worker::spawn(commands, client.clone(), capacity, &runtime, None),
            input: RwLock::new(input.map(|h| {
                Worker::spawn(
                    h,
                    client.clone(),
                    capacity,
                    &runtime,
                    Some(self.ran.clone()),
                )
            })),
        });
        let topics = commands::schema_subscriptions(client).into_iter().collect();
        self.transport.subscribe(topics).await?;
        self.connect(client, &workers).await?;
        let log_publisher = start_log_publisher(client, &self.early_log);
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
}

/// Hands every entry the logger stores to a task that publishes it on `log/pepeunit`, the lines
/// `early` held first; the sink only queues (it must never block or publish inline). The task ends
/// when the sink is removed; it runs quiet ([`crate::quiet`]): publishing a log entry must not make one.
fn start_log_publisher(client: &PepeunitClient, early: &EarlyLog) -> JoinHandle<()> {
    let (sender, mut entries) = mpsc::channel::<LogEntry>(LOG_QUEUE);
    for entry in early.take() {
        let _ = sender.try_send(entry);
    }
    let queue = sender.clone();
    client
        .logger()
        .set_sink(Some(Arc::new(move |entry: &LogEntry| {
            let _ = queue.try_send(entry.clone());
        })));
    // Logged between the take and the new sink.
    for entry in early.take() {
        let _ = sender.try_send(entry);
    }
    drop(sender);
    let client = client.clone();
    tokio::spawn(crate::quiet::quiet(async move {
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
    }))
}
