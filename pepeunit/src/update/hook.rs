//! The default [`PlatformCommands`] of a client with both transports (features `mqtt` and `rest`):
//! `update/pepeunit`, `env_update/pepeunit` and `schema_update/pepeunit` run through the REST flows of
//! `flow.rs`. The builder installs it when both flags are on and no hook was given; the runtime then
//! resubscribes, reconnects and restarts as the returned [`AfterCommand`] says.

use std::sync::Arc;

use super::command::UpdateCommand;
use super::flow;
use crate::BoxFuture;
use crate::client::PepeunitClient;
use crate::error::Result;
use crate::runtime::{AfterCommand, PlatformCommand, PlatformCommands};

/// The REST layer's platform-command hook (the default one). A unit that wants its own update
/// handling gives the builder another [`PlatformCommands`], which may call the same client methods.
#[derive(Debug, Clone, Copy, Default)]
pub struct RestCommands;

/// [`RestCommands`] as the builder installs it.
pub(crate) fn default_commands() -> Arc<dyn PlatformCommands> {
    Arc::new(RestCommands)
}

impl PlatformCommands for RestCommands {
    fn run<'a>(
        &'a self,
        client: &'a PepeunitClient,
        command: PlatformCommand,
    ) -> BoxFuture<'a, Result<AfterCommand>> {
        Box::pin(async move {
            let done = match command {
                PlatformCommand::EnvUpdate => flow::apply_env_update(client)
                    .await
                    .map(|_| AfterCommand::Continue),
                PlatformCommand::SchemaUpdate => flow::apply_schema_update(client)
                    .await
                    .map(|_| AfterCommand::Continue),
                PlatformCommand::Update {
                    commit_version,
                    firmware_link,
                } => {
                    let command = UpdateCommand {
                        version: commit_version,
                        compiled_firmware_link: firmware_link,
                    };
                    flow::apply_update_command(client, &command)
                        .await
                        .map(|outcome| outcome.after())
                }
            };
            // Each flow has logged its failure ("Env update failed: …", "Update to … failed: …");
            // returned, the command handler would log it a second time.
            Ok(done.unwrap_or_default())
        })
    }
}
