//! The MQTT half of the client's API (cargo feature `mqtt`): the builder's MQTT options and the seed's
//! MQTT methods, each forwarding to the connection engine ([`crate::runtime`]'s `engine`) or the main
//! cycle (its `cycle`).

use std::future::Future;
use std::sync::Arc;

use bytes::Bytes;

use super::{ClientBuilder, PepeunitClient};
use crate::error::Result;
use crate::mqtt::{MqttConfig, MqttTransport};
use crate::runtime::{
    HandlerOutput, InputHandler, Message, MqttRuntime, OutputHandler, Outputs, PlatformCommands,
    cycle, schema_subscriptions,
};

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

/// The seed's MQTT API (cargo feature `mqtt`); each call returns [`Error::MqttDisabled`](crate::Error::MqttDisabled) when the client
/// was built without MQTT.
impl PepeunitClient {
    /// Subscribes to `topics` (physical names), now and after every reconnect.
    pub async fn subscribe_topics(&self, topics: &[&str]) -> Result<()> {
        let topics = topics.iter().map(|t| (*t).to_owned()).collect();
        self.mqtt_runtime()?.subscribe(self, topics).await
    }

    /// Subscribes to every topic of `input_base_topic` and `input_topic` (also done when the
    /// connection starts).
    pub async fn subscribe_all_schema_topics(&self) -> Result<()> {
        let topics = schema_subscriptions(self).into_iter().collect();
        self.mqtt_runtime()?.subscribe(self, topics).await
    }

    /// Publishes `message` to every topic of `output_topic[name]`, else of `output_base_topic[name]`;
    /// an unknown name is [`Error::UnknownTopicName`](crate::Error::UnknownTopicName). Queued (bounded) while disconnected.
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

    /// Sets the input handler (built with [`Handler::new`](crate::runtime::Handler::new) or [`Handler::blocking`](crate::runtime::Handler::blocking), and a name for the
    /// log). Messages already queued for the previous handler still go to it.
    pub fn set_input_handler(&self, handler: InputHandler) -> Result<()> {
        self.mqtt_runtime()?.set_input_handler(self, handler);
        Ok(())
    }

    /// Attaches the hook that runs `update`, `env_update` and `schema_update` (the REST layer's).
    pub fn set_platform_commands(&self, commands: Arc<dyn PlatformCommands>) -> Result<()> {
        self.mqtt_runtime()?.set_platform_commands(commands);
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

    /// [`run_main_cycle`](Self::run_main_cycle) with an output handler built by [`Handler::new`](crate::runtime::Handler::new) or
    /// [`Handler::blocking`](crate::runtime::Handler::blocking).
    pub async fn run_main_cycle_with(&self, output: OutputHandler) -> Result<()> {
        self.run_main_cycle_with_outputs(Outputs::new().every_tick(output))
            .await
    }

    /// The main cycle with [`Outputs`]: per-tick handlers every cycle interval, scheduled ones on
    /// their periods (periods from env variables read again whenever env.json changes). With no
    /// per-tick handler the cycle does not tick: it sleeps until the next scheduled output, state
    /// message or command.
    pub async fn run_main_cycle_with_outputs(&self, outputs: Outputs) -> Result<()> {
        cycle::run(self, outputs).await
    }

    /// Ends the running main cycle after its current tick (callable from any handler or thread).
    pub fn stop_main_cycle(&self) -> Result<()> {
        self.mqtt_runtime()?.request_stop();
        Ok(())
    }

    /// Whether the MQTT connection is up right now.
    pub fn is_mqtt_connected(&self) -> bool {
        self.mqtt_runtime().is_ok_and(MqttRuntime::is_connected)
    }
}
