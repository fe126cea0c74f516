//! The queue runner (placeholder interface; being written).

use std::sync::Arc;

use smarthost_queue::{Envelope, QueueId, StoredMessage};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinSet;

use crate::engine::Shared;

enum Command {
    Submitted(QueueId, Envelope),
    RunNow(Option<String>, oneshot::Sender<usize>),
    Idle(oneshot::Sender<()>),
    Stop,
}

/// Talks to the queue runner task.
#[derive(Clone)]
pub(crate) struct RunnerHandle {
    commands: mpsc::UnboundedSender<Command>,
}

impl RunnerHandle {
    /// A message was just queued.
    pub(crate) fn submitted(&self, id: QueueId, envelope: Envelope) {
        let _ = self.commands.send(Command::Submitted(id, envelope));
    }

    /// Makes every message (or `domain`'s) due now.
    pub(crate) async fn run_now(&self, domain: Option<String>) -> usize {
        let (tx, rx) = oneshot::channel();
        let _ = self.commands.send(Command::RunNow(domain, tx));
        rx.await.unwrap_or(0)
    }

    /// Resolves when nothing is due and nothing is in flight.
    pub(crate) async fn idle(&self) {
        let (tx, rx) = oneshot::channel();
        let _ = self.commands.send(Command::Idle(tx));
        let _ = rx.await;
    }

    /// Stops after the deliveries in flight.
    pub(crate) fn stop(&self) {
        let _ = self.commands.send(Command::Stop);
    }
}

/// Starts the runner with the messages recovered from the spool.
pub(crate) fn spawn(
    shared: Arc<Shared>,
    recovered: Vec<StoredMessage>,
    tasks: &mut JoinSet<()>,
) -> RunnerHandle {
    let (commands, mut rx) = mpsc::unbounded_channel();
    let _ = (shared, recovered);
    tasks.spawn(async move {
        while let Some(command) = rx.recv().await {
            match command {
                Command::Submitted(..) => {}
                Command::RunNow(_, tx) => {
                    let _ = tx.send(0);
                }
                Command::Idle(tx) => {
                    let _ = tx.send(());
                }
                Command::Stop => return,
            }
        }
    });
    RunnerHandle { commands }
}
