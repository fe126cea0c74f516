//! Where the spool keeps its bytes.
//!
//! [`crate::Spool`] and the scheduler talk to a [`Storage`]; the local
//! filesystem ([`FsStorage`]) is the implementation today. A shared backend
//! on an existing distributed store implements the same five operations.

use std::io;
use std::path::PathBuf;

use crate::{Envelope, QueueId};

mod fs;
mod record;

pub use fs::{FsOptions, FsStorage, SyncMode};

/// A message as storage hands it back at start-up.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredMessage {
    /// Its queue ID.
    pub id: QueueId,
    /// Its latest envelope.
    pub envelope: Envelope,
    /// The size of its bytes.
    pub size: u64,
}

/// What recovery found, for the start-up log line.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Recovery {
    /// The messages in the queue.
    pub messages: Vec<StoredMessage>,
    /// Bytes of records that were being written when the process stopped
    /// (never acknowledged, so never promised to anyone): discarded.
    pub discarded_bytes: u64,
    /// Damaged records, copied aside for the operator to inspect.
    pub set_aside: Vec<SetAside>,
    /// Records that named a message the spool no longer has (harmless: the
    /// rest of a finished message whose first record was already reclaimed).
    pub orphan_records: u64,
}

/// A damaged stretch of the spool, moved aside rather than dropped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SetAside {
    /// Where the damaged bytes were copied.
    pub path: PathBuf,
    /// How many bytes.
    pub bytes: u64,
    /// What was wrong.
    pub reason: String,
}

/// Durable storage of queued messages.
///
/// Each mutating call returns only when its effect is on stable storage (as
/// far as the implementation's sync mode promises), and is atomic: after a
/// crash it has happened entirely or not at all.
pub trait Storage: Send + Sync {
    /// Stores a new message.
    fn store(&self, id: QueueId, envelope: &Envelope, body: &[u8]) -> Result<(), StorageError>;
    /// Replaces the envelope of a stored message (recipient states, hold).
    fn update(&self, id: QueueId, envelope: &Envelope) -> Result<(), StorageError>;
    /// Forgets a message that is finished or deleted.
    fn remove(&self, id: QueueId) -> Result<(), StorageError>;
    /// Reads a message's bytes.
    fn body(&self, id: QueueId) -> Result<Vec<u8>, StorageError>;
    /// Every stored message; called once, at start-up.
    fn recover(&self) -> Result<Recovery, StorageError>;
    /// Reclaims space held by finished messages, where the storage needs
    /// help with that; returns how many messages it moved. The relay calls
    /// it now and then.
    fn compact(&self) -> Result<usize, StorageError> {
        Ok(0)
    }
    /// Makes several changes, each atomic on its own as [`Storage::update`]
    /// and [`Storage::remove`] are, and returns one result per change, in
    /// order. A storage that can share the cost of durability among them
    /// (one sync for all) overrides this; the default makes them one after
    /// another.
    fn apply(&self, changes: &[Change<'_>]) -> Vec<Result<(), StorageError>> {
        changes
            .iter()
            .map(|change| match change {
                Change::Update(id, envelope) => self.update(*id, envelope),
                Change::Remove(id) => self.remove(*id),
            })
            .collect()
    }
}

/// One change of a [`Storage::apply`] batch.
#[derive(Clone, Copy, Debug)]
pub enum Change<'a> {
    /// [`Storage::update`]: the message's new envelope.
    Update(QueueId, &'a Envelope),
    /// [`Storage::remove`]: the message is finished or deleted.
    Remove(QueueId),
}

impl Change<'_> {
    /// The message changed.
    pub fn id(&self) -> QueueId {
        match self {
            Self::Update(id, _) | Self::Remove(id) => *id,
        }
    }
}

/// Why storage failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StorageError {
    /// The operating system refused; the message names the file.
    #[error("{}: cannot {action}: {source}", .path.display())]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// Another process has the spool open for writing.
    #[error(
        "{}: the spool is in use by another smarthost process (its lock is held); \
         stop it, or use the read-only commands",
        .0.display()
    )]
    Locked(PathBuf),
    /// The spool was opened read-only.
    #[error("the spool was opened read-only")]
    ReadOnly,
    /// No such message.
    #[error("no message {0} in the queue")]
    UnknownMessage(QueueId),
    /// A record that was read back is damaged.
    #[error("{}: damaged record at byte {offset}: {reason}", .path.display())]
    Corrupt {
        /// The segment file.
        path: PathBuf,
        /// Where the record starts.
        offset: u64,
        /// What is wrong.
        reason: String,
    },
    /// A message or envelope too large for one record (4 GiB).
    #[error("message too large for the spool ({0} bytes)")]
    TooLarge(u64),
}

impl StorageError {
    /// Whether the failure is a full disk or quota, where the right SMTP
    /// reply is `452 4.3.1 Insufficient system storage`.
    pub fn is_storage_full(&self) -> bool {
        matches!(self, Self::Io { source, .. }
            if matches!(source.kind(), io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded)
                || source.raw_os_error() == Some(28))
    }
}
