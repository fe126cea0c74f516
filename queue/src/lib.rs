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
pub use storage::{
    Change, FsOptions, FsStorage, Recovery, SetAside, Storage, StorageError, StoredMessage, SyncMode,
};

/// Locks a mutex, recovering from poisoning: the queue must keep serving after
/// a panic in another thread, and its critical sections swap whole values.
pub(crate) fn lock<T>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}
