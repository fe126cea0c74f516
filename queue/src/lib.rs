#![doc = include_str!("../README.md")]

mod envelope;
mod id;
mod schedule;
mod spool;
mod storage;

pub use envelope::{
    Client, DecodeError, Envelope, MAX_RECIPIENTS, Notify, Recipient, RecipientState, Ret, Timestamp,
};
pub use id::{BadQueueId, IdGenerator, QueueId};
pub use schedule::{Batch, Destination, Outcome, ScheduleConfig, ScheduleError, Scheduler, Work};
pub use spool::{Queued, Spool, in_domain};
pub use storage::{FsOptions, FsStorage, Recovery, SetAside, Storage, StorageError, StoredMessage, SyncMode};
