//! Where MQTT meets the update pipeline — the one place that knows both. The platform commands on
//! `input_base_topic` (PROTOCOL §5): which command a message is (its payload checked by
//! [`crate::update::UpdateCommand`]'s parser and its siblings), `log_sync` and `reset` here, and the
//! [`PlatformCommands`] hook that runs `update`, `env_update` and `schema_update` ([`RestCommands`],
//! the update flows over REST, by default). After the hook, the runtime follows what the reload changed
//! ([`crate::update::EnvChange`], [`crate::update::SchemaChange`]): it subscribes to new input topics,
//! unsubscribes from removed ones and reconnects when the broker host, port, token or keepalive
//! changed; then, if the hook installed a new version ([`AfterCommand::Restart`]), the unit's one
//! restart sequence (`restart_cleanly`, which `reset` uses too) stops cleanly and restarts per the
//! restart mode.

use std::collections::BTreeSet;
use std::future::Future;

use super::handler::Message;
use super::log_sync::split_log;
use crate::client::PepeunitClient;
use crate::command::Command;
use crate::error::{Error, Result};
use crate::future::BoxFuture;
use crate::mqtt::transport::max_payload_size;
use crate::update::firmware::ReplacedExecutable;
use crate::update::{Loaded, RestartMode, UpdateCommand, check_command};

/// A command that needs the REST API, handed to the [`PlatformCommands`] hook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlatformCommand {
    /// `update/pepeunit`: bring the program to the command's version. The hook decides whether a
    /// version equal to the one in force means nothing to do.
    Update(UpdateCommand),
    /// `env_update/pepeunit`: fetch env.json, replace it and reload the settings.
    EnvUpdate,
    /// `schema_update/pepeunit`: fetch schema.json, replace it and reload the schema.
    SchemaUpdate,
}

/// Runs the commands that need REST. With the `rest` feature and a client built with both flags on,
/// the REST layer's implementation is installed by default; one given to
/// [`crate::client::ClientBuilder::platform_commands`] or [`PepeunitClient::set_platform_commands`]
/// replaces it (a custom update handler). Without one, those commands are logged as errors naming the
/// missing `rest` feature.
pub trait PlatformCommands: Send + Sync + 'static {
    /// Carries out `command` for `client` (files replaced and reloaded through the client) and says
    /// whether a restart is due. The runtime resubscribes and reconnects afterwards as the reloaded
    /// files require, then restarts if asked. An error returned is logged as the failure of the
    /// `platform commands` handler (the default hook logs each failure itself and returns `Continue`).
    fn run<'a>(
        &'a self,
        client: &'a PepeunitClient,
        command: PlatformCommand,
    ) -> BoxFuture<'a, Result<AfterCommand>>;
}

/// What the runtime does once a [`PlatformCommands`] hook returned and the subscriptions follow the
/// reloaded env.json and schema.json.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum AfterCommand {
    /// Nothing more: an env or schema update, or an update that was not needed.
    #[default]
    Continue,
    /// A new program version is installed: stop cleanly and restart per the client's restart mode
    /// (`ReloadOnly` and `None` keep running).
    Restart {
        /// The replaced executable, when the update brought a new binary: the restart then runs it
        /// under the start-up guard, which restores the backup if it does not stay up.
        executable: Option<ReplacedExecutable>,
    },
}

/// The REST layer's platform-command hook, installed by the builder when a client has both transports
/// and the user gave no hook: `update/pepeunit`, `env_update/pepeunit` and `schema_update/pepeunit` run
/// through the update flows. A unit that wants its own update handling gives the builder another
/// [`PlatformCommands`], which may call the same client methods.
#[cfg(feature = "rest")]
#[derive(Debug, Clone, Copy, Default)]
pub struct RestCommands;

#[cfg(feature = "rest")]
impl PlatformCommands for RestCommands {
    fn run<'a>(
        &'a self,
        client: &'a PepeunitClient,
        command: PlatformCommand,
    ) -> BoxFuture<'a, Result<AfterCommand>> {
        Box::pin(async move {
            let done = match command {
                PlatformCommand::EnvUpdate => client
                    .apply_env_update()
                    .await
                    .map(|_| AfterCommand::Continue),
                PlatformCommand::SchemaUpdate => client
                    .apply_schema_update()
                    .await
                    .map(|_| AfterCommand::Continue),
                PlatformCommand::Update(command) => client
                    .apply_update_command(&command)
                    .await
                    .map(|outcome| after_update(&outcome)),
            };
            // Each flow has logged its failure ("Env update failed: …", "Update to … failed: …");
            // returned, the command handler would log it a second time.
            Ok(done.unwrap_or_default())
        })
    }
}

/// What follows an update command: a restart (into the new executable, if there is one) once a new
/// version is installed.
#[cfg(feature = "rest")]
pub(crate) fn after_update(outcome: &crate::update::UpdateOutcome) -> AfterCommand {
    match outcome {
        crate::update::UpdateOutcome::UpToDate { .. } => AfterCommand::Continue,
        crate::update::UpdateOutcome::Applied(applied) => AfterCommand::Restart {
            executable: applied.executable.clone(),
        },
    }
}

/// A command as received: what its payload says.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Received {
    Platform(PlatformCommand),
    LogSync,
    Reset,
}

/// Handles one message of `input_base_topic`; a malformed payload is an error naming the command.
pub(crate) async fn handle(client: PepeunitClient, message: Message) -> Result<()> {
    let Some(name) = message.topic_name.as_deref() else {
        return Ok(());
    };
    let command = match parse(name, &message.payload) {
        Ok(Some(command)) => command,
        Ok(None) => return Ok(()),
        Err(reason) => {
            return Err(Error::InvalidPayload {
                topic: name.to_owned(),
                reason: format!("command ignored: {reason}"),
            });
        }
    };
    client
        .logger()
        .info(format!("Get base MQTT command: {name}"));
    match command {
        Received::LogSync => log_sync(&client).await,
        Received::Reset => reset(&client).await,
        Received::Platform(command) => {
            let runtime = client.mqtt_runtime()?;
            let Some(hook) = runtime.platform_commands() else {
                let missing = Error::RestDisabled;
                client.logger().error(format!("{name} not run: {missing}"));
                return Ok(());
            };
            reload_then_restart(&client, hook.run(&client, command), Clone::clone)
                .await
                .map(drop)
        }
    }
}

/// Runs `work` (which replaces and reloads env.json, schema.json or the program), brings the
/// connection in line with the reloaded files — even when `work` failed half-way — and then does what
/// `after` says of its result.
pub(crate) async fn reload_then_restart<T>(
    client: &PepeunitClient,
    work: impl Future<Output = Result<T>>,
    after: impl FnOnce(&T) -> AfterCommand,
) -> Result<T> {
    let before = Loaded::take(client.settings(), client.schema());
    let result = work.await;
    follow_reload(client, &before).await?;
    let value = result?;
    if let AfterCommand::Restart { executable } = after(&value) {
        let restart = client.restart();
        restart.announce_update(client.logger());
        if restart.mode.is_process() {
            restart_cleanly(client, executable.as_ref()).await?;
        }
    }
    Ok(value)
}

/// The unit's one restart sequence, after an update or on `reset`: stop cleanly (stored states
/// saved, log entries published, DISCONNECT), flush the log and replace the process (under the start-up guard when the
/// update replaced the executable). It returns only on failure, and then ends the main cycle: a unit
/// whose connection is gone must end, so that its supervisor can start it again.
async fn restart_cleanly(
    client: &PepeunitClient,
    executable: Option<&ReplacedExecutable>,
) -> Result<()> {
    let runtime = client.mqtt_runtime()?;
    #[cfg(feature = "rest")]
    client.flush_stored_states().await;
    runtime.shutdown(client).await;
    let restarted = client
        .restart()
        .replace_process(client.logger(), executable);
    if restarted.is_err() {
        runtime.request_stop();
    }
    restarted
}

/// The command on topic name `name`, `None` for a name that is no command.
fn parse(name: &str, payload: &[u8]) -> std::result::Result<Option<Received>, String> {
    let Some(command) = Command::from_topic_name(name) else {
        return Ok(None);
    };
    let received = match command {
        Command::Update => {
            Received::Platform(PlatformCommand::Update(UpdateCommand::read(payload)?))
        }
        // Any payload restarts (PROTOCOL §5).
        Command::Reset => Received::Reset,
        Command::EnvUpdate | Command::SchemaUpdate | Command::LogSync => {
            check_command(payload, command.as_str())?;
            match command {
                Command::EnvUpdate => Received::Platform(PlatformCommand::EnvUpdate),
                Command::SchemaUpdate => Received::Platform(PlatformCommand::SchemaUpdate),
                _ => Received::LogSync,
            }
        }
    };
    Ok(Some(received))
}

/// Publishes the whole log on `log/pepeunit`, split into arrays that fit the packet limit.
async fn log_sync(client: &PepeunitClient) -> Result<()> {
    let runtime = client.mqtt_runtime()?;
    let topics = client
        .schema()
        .current()
        .output_targets("log/pepeunit")?
        .to_vec();
    let entries = client.logger().get_full_log();
    for topic in topics {
        let payloads = split_log(
            &entries,
            max_payload_size(&topic, runtime.max_packet_size()),
        );
        for payload in payloads {
            runtime.publish(topic.clone(), payload.into()).await?;
        }
    }
    client.logger().info("Log sync completed");
    Ok(())
}

/// Restarts the program as the client's restart mode says.
async fn reset(client: &PepeunitClient) -> Result<()> {
    let mode = client.restart_mode();
    let logger = client.logger();
    match mode {
        RestartMode::ReloadOnly => {
            let before = Loaded::take(client.settings(), client.schema());
            client.settings().update_from_file()?;
            client.schema().update_from_file()?;
            follow_reload(client, &before).await?;
            logger.info("Reset: env and schema reloaded (restart mode ReloadOnly)");
            Ok(())
        }
        RestartMode::None => {
            logger.info("Reset: restart mode None, the program is not restarted");
            Ok(())
        }
        RestartMode::ExecInPlace | RestartMode::SpawnAndExit => {
            logger.info(format!("Reset: restarting the program ({mode:?})"));
            restart_cleanly(client, None).await
        }
    }
}

/// Brings the connection in line with what was reloaded since `before`: unsubscribes from removed
/// input topics, subscribes to new ones, and reconnects when a connection setting changed.
async fn follow_reload(client: &PepeunitClient, before: &Loaded) -> Result<()> {
    let runtime = client.mqtt_runtime()?;
    let schema = before.schema_change(client.schema());
    if !schema.unsubscribe.is_empty() {
        runtime.transport().unsubscribe(schema.unsubscribe).await?;
    }
    if !schema.subscribe.is_empty() {
        runtime.transport().subscribe(schema.subscribe).await?;
    }
    let env = before.env_change(client.settings());
    if env.needs_reconnect() {
        let keys: Vec<&str> = env.connection_keys().collect();
        client.logger().info(format!(
            "MQTT connection settings changed ({}): reconnecting",
            keys.join(", ")
        ));
        runtime.reconnect(client).await?;
    }
    Ok(())
}

/// Every physical topic of `input_base_topic` and `input_topic`.
pub(crate) fn schema_subscriptions(client: &PepeunitClient) -> BTreeSet<String> {
    client
        .schema()
        .current()
        .input_subscriptions()
        .into_iter()
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_backend_payloads_and_refuses_malformed_ones() {
        let update = br#"{"COMMAND": "Update", "PU_COMMIT_VERSION": "abc", "COMPILED_FIRMWARE_LINK": "http://x/b"}"#;
        assert_eq!(
            parse("update/pepeunit", update),
            Ok(Some(Received::Platform(PlatformCommand::Update(
                UpdateCommand {
                    version: Some("abc".into()),
                    compiled_firmware_link: Some("http://x/b".into()),
                }
            ))))
        );
        let legacy = br#"{"COMMAND": "Update", "NEW_COMMIT_VERSION": "old"}"#;
        assert!(matches!(
            parse("update/pepeunit", legacy),
            Ok(Some(Received::Platform(PlatformCommand::Update(UpdateCommand { version: Some(v), .. })))) if v == "old"
        ));
        assert_eq!(
            parse("log_sync/pepeunit", br#"{"COMMAND": "LogSync"}"#),
            Ok(Some(Received::LogSync))
        );
        assert_eq!(
            parse("reset/pepeunit", b"\xff\xfe"),
            Ok(Some(Received::Reset))
        );
        assert_eq!(parse("input/pepeunit", b"1"), Ok(None));
        for bad in [
            &b"\xff"[..],
            b"not json",
            b"[1, 2]",
            br#"{"COMMAND": 5}"#,
            br#"{"COMMAND": "SchemaUpdate"}"#,
        ] {
            assert!(parse("env_update/pepeunit", bad).is_err(), "{bad:?}");
        }
        assert!(parse("update/pepeunit", br#"{"PU_COMMIT_VERSION": 7}"#).is_err());
        // The one update parser refuses an empty payload: it is no JSON object.
        for empty in [&b""[..], b"  \n"] {
            assert!(parse("update/pepeunit", empty).is_err(), "{empty:?}");
        }
    }
}
