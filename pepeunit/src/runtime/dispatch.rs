//! From transport events to handlers: the dispatcher task looks each message's topic up in the schema
//! and offers it to the platform-command worker (for `input_base_topic`) and then to the input
//! handler's worker. Each worker runs its handler on one message at a time, in arrival order, on its own
//! task (or blocking thread), so a slow handler never stalls the connection.

use std::sync::{Arc, RwLock};

use tokio::runtime::Handle;
use tokio::sync::{mpsc, watch};

use super::handler::{InputHandler, Message};
use super::ran::Ran;
use crate::client::PepeunitClient;
use crate::mqtt::{Outage, TransportEvent};
use crate::schema::Section;
use crate::sparse::SparseCount;

/// A queue in front of one handler.
pub(crate) struct Worker {
    name: String,
    capacity: usize,
    sender: mpsc::Sender<Message>,
    dropped: SparseCount,
}

impl Worker {
    /// Starts a worker for `handler` on `runtime`: a task for an async handler, a blocking thread for a
    /// blocking one, noting each run in `ran` when given. It ends when the worker is dropped and its
    /// queue is empty.
    pub(crate) fn spawn(
        handler: InputHandler,
        client: PepeunitClient,
        capacity: usize,
        runtime: &Handle,
        ran: Option<Ran>,
    ) -> Worker {
        let (sender, mut queue) = mpsc::channel::<Message>(capacity.max(1));
        let name = handler.name().to_owned();
        if handler.is_blocking() {
            runtime.spawn_blocking(move || {
                while let Some(message) = queue.blocking_recv() {
                    if let Some(outcome) = handler.call_blocking(client.clone(), message) {
                        handler.report(&client, outcome);
                    }
                    ran.iter().for_each(Ran::note);
                }
            });
        } else {
            runtime.spawn(async move {
                while let Some(message) = queue.recv().await {
                    let outcome = handler.call(client.clone(), message).await;
                    handler.report(&client, outcome);
                    ran.iter().for_each(Ran::note);
                }
            });
        }
        Worker {
            name,
            capacity,
            sender,
            dropped: SparseCount::default(),
        }
    }

    /// Queues `message`; when the queue is full the message is dropped and counted, and the count is
    /// logged at 1, 2, 4, 8, … drops (never a line per message in a flood).
    fn offer(&self, message: Message, client: &PepeunitClient) {
        if let Err(mpsc::error::TrySendError::Full(_)) = self.sender.try_send(message)
            && let Some(dropped) = self.dropped.add()
        {
            client.logger().warning(format!(
                "Handler {} is behind: its queue of {} is full, {dropped} messages dropped so far",
                self.name, self.capacity
            ));
        }
    }
}

/// The workers messages are dispatched to.
pub(crate) struct Workers {
    pub(crate) commands: Worker,
    pub(crate) input: RwLock<Option<Worker>>,
}

/// Handles the events of one connection until its channel closes.
pub(crate) async fn dispatch(
    mut events: mpsc::Receiver<TransportEvent>,
    workers: Arc<Workers>,
    client: PepeunitClient,
    connected: Arc<watch::Sender<bool>>,
) {
    let mut outage = Outage::default();
    while let Some(event) = events.recv().await {
        match event {
            TransportEvent::Message { topic, payload } => {
                let topics = client.schema().current();
                let found = topics.route(&topic);
                let message = Message {
                    section: found.map(|(section, _)| section),
                    topic_name: found.map(|(_, name)| name.clone()),
                    topic,
                    payload,
                };
                if message.section == Some(Section::InputBaseTopic) {
                    workers.commands.offer(message.clone(), &client);
                }
                let input = workers.input.read().unwrap_or_else(|p| p.into_inner());
                if let Some(worker) = input.as_ref() {
                    worker.offer(message, &client);
                }
            }
            TransportEvent::Connected { dropped_offline } => {
                connected.send_replace(true);
                client.logger().info("Connected to MQTT broker");
                if let Some(text) = outage.on_connected() {
                    client.logger().info(text);
                }
                if dropped_offline > 0 {
                    client.logger().warning(format!(
                        "{dropped_offline} messages published while offline were dropped (offline queue full)"
                    ));
                }
            }
            TransportEvent::Disconnected { reason } => {
                connected.send_replace(false);
                client
                    .logger()
                    .warning(format!("MQTT connection lost: {reason}"));
            }
            TransportEvent::ConnectFailed { reason } => {
                if let Some(line) = outage.on_failure(&reason) {
                    client.logger().log(line.level, line.text);
                }
            }
        }
    }
}
