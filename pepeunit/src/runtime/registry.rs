//! The tables `#[pepeunit::input]` and `#[pepeunit::output]` register functions into (linkme
//! distributed slices, one set per binary), and what `#[pepeunit::main]` builds from them: one input
//! handler dispatching by topic name, and the `Outputs` of the main cycle.
//!
//! Both are sorted by name (link order is not stable); each call is guarded on its own.

use std::collections::HashMap;
use std::sync::Arc;

use super::outputs::Outputs;
use super::{InputHandler, Message};
use crate::client::PepeunitClient;
use crate::error::Result;
use crate::schema::Section;

/// A function registered by `#[pepeunit::input("name")]`.
pub struct InputEntry {
    /// The `input_topic` name whose messages it receives.
    pub topic_name: &'static str,
    /// Builds its handler (a fn pointer: slice elements are statics).
    pub handler: fn() -> InputHandler,
}

/// A function registered by `#[pepeunit::output]`.
pub struct OutputEntry {
    /// Its path, `crate::module::name`: the order outputs are added in.
    pub name: &'static str,
    /// Adds it to the main cycle's outputs, as the kind of output it is (per tick, scheduled, on
    /// change, sampled).
    pub add: fn(Outputs) -> Outputs,
}

/// Every `#[pepeunit::input]` function of the binary.
#[linkme::distributed_slice]
pub static INPUTS: [InputEntry];

/// Every `#[pepeunit::output]` function of the binary.
#[linkme::distributed_slice]
pub static OUTPUTS: [OutputEntry];

/// Sets `client`'s input handler to one that runs every registered function of the message's
/// `input_topic` name (none registered: nothing is set). The functions are grouped by name once, so a
/// message costs one lookup; each function is guarded on its own, and the message is moved into the
/// last (or only) one, cloned only for the others.
pub fn register_inputs(client: &PepeunitClient) -> Result<()> {
    let mut entries: Vec<(&'static str, InputHandler)> = INPUTS
        .iter()
        .map(|entry| (entry.topic_name, (entry.handler)()))
        .collect();
    if entries.is_empty() {
        return Ok(());
    }
    entries.sort_by(|a, b| a.1.name().cmp(b.1.name()));
    let mut table: HashMap<&'static str, Vec<InputHandler>> = HashMap::new();
    for (topic_name, handler) in entries {
        table.entry(topic_name).or_default().push(handler);
    }
    let table = Arc::new(table);
    client.set_input_handler(InputHandler::calling(
        "pepeunit::input",
        move |client, message: Message| {
            let table = table.clone();
            async move {
                if message.section != Some(Section::InputTopic) {
                    return;
                }
                let Some(handlers) = message.topic_name.as_deref().and_then(|n| table.get(n))
                else {
                    return;
                };
                let Some((last, others)) = handlers.split_last() else {
                    return;
                };
                for handler in others {
                    let outcome = handler.call(client.clone(), message.clone()).await;
                    handler.report(&client, outcome);
                }
                let outcome = last.call(client.clone(), message).await;
                last.report(&client, outcome);
            }
        },
    ))
}

/// The registered `#[pepeunit::output]` functions, added in the order of their names.
pub fn outputs() -> Outputs {
    let mut entries: Vec<&OutputEntry> = OUTPUTS.iter().collect();
    entries.sort_by_key(|entry| entry.name);
    entries
        .into_iter()
        .fold(Outputs::new(), |outputs, entry| (entry.add)(outputs))
}
