//! The spool's front door: enqueue, state updates, listing, operator actions.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use crate::storage::{Change, FsOptions, FsStorage, Recovery, Storage, StorageError, StoredMessage};
use crate::{Envelope, IdGenerator, QueueId, RecipientState, Timestamp, lock};

/// The queue of messages, each on stable storage from the moment
/// [`Spool::enqueue`] returns.
///
/// ```
/// use smarthost_queue::{Envelope, FsOptions, Recipient, RecipientState, Spool, Timestamp};
///
/// let dir = tempfile::tempdir()?;
/// let (spool, _recovery) = Spool::open(dir.path(), FsOptions::default())?;
/// let envelope = Envelope::new("alice@example.com", vec![Recipient::new("bob@example.org")], Timestamp::now());
/// let id = spool.enqueue(envelope, b"Subject: hi\r\n\r\nhello\r\n")?;
/// // Only now may the server answer "250 2.0.0 Ok: queued as {id}".
///
/// spool.update(id, |envelope| envelope.recipients[0].state = RecipientState::Delivered)?;
/// assert!(spool.envelope(id).is_none(), "a finished message leaves the queue");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Spool {
    storage: Arc<dyn Storage>,
    messages: Mutex<BTreeMap<QueueId, Arc<Mutex<Queued>>>>,
    ids: Mutex<IdGenerator>,
}

/// A message in the queue, as listings show it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Queued {
    /// Its queue ID.
    pub id: QueueId,
    /// Its envelope, recipient states included.
    pub envelope: Envelope,
    /// The size of its bytes.
    pub size: u64,
}

impl std::fmt::Debug for Spool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Spool").field("messages", &lock(&self.messages).len()).finish_non_exhaustive()
    }
}

impl Spool {
    /// Opens the filesystem spool in `dir` for writing (see [`FsStorage::open`]).
    pub fn open(dir: impl Into<PathBuf>, options: FsOptions) -> Result<(Self, Recovery), StorageError> {
        Self::with_storage(Arc::new(FsStorage::open(dir, options)?))
    }

    /// Opens a spool over any storage. Messages that recovery finds finished
    /// (a crash between the last update and the removal) are removed now.
    pub fn with_storage(storage: Arc<dyn Storage>) -> Result<(Self, Recovery), StorageError> {
        let recovery = storage.recover()?;
        let mut messages = BTreeMap::new();
        let mut ids = IdGenerator::new();
        if let Some(newest) = recovery.messages.iter().map(|m| m.id).max() {
            ids.resume_after(newest);
        }
        for StoredMessage { id, envelope, size } in &recovery.messages {
            if envelope.is_finished() {
                storage.remove(*id)?;
                continue;
            }
            let queued = Queued { id: *id, envelope: envelope.clone(), size: *size };
            messages.insert(*id, Arc::new(Mutex::new(queued)));
        }
        Ok((Self { storage, messages: Mutex::new(messages), ids: Mutex::new(ids) }, recovery))
    }

    /// Stores a new message and returns its queue ID once it is durable.
    ///
    /// An error means nothing was stored: answer the client with a 4xx
    /// (`452 4.3.1` when [`StorageError::is_storage_full`]) so that it
    /// retries later.
    pub fn enqueue(&self, envelope: Envelope, body: &[u8]) -> Result<QueueId, StorageError> {
        let id = lock(&self.ids).next_id(envelope.arrival.millis());
        self.storage.store(id, &envelope, body)?;
        let queued = Queued { id, envelope, size: body.len() as u64 };
        lock(&self.messages).insert(id, Arc::new(Mutex::new(queued)));
        Ok(id)
    }

    /// Changes a message's envelope atomically and durably: `change` edits a
    /// copy, the copy is stored, and only then does the queue show it. A
    /// message that is finished afterwards (every recipient delivered, or
    /// failed and reported) leaves the queue. Updates of one message are
    /// serialised; different messages update in parallel.
    pub fn update(&self, id: QueueId, change: impl FnOnce(&mut Envelope)) -> Result<Envelope, StorageError> {
        let entry = self.entry(id)?;
        let mut queued = lock(&entry);
        let mut envelope = queued.envelope.clone();
        change(&mut envelope);
        if envelope.is_finished() {
            self.storage.remove(id)?;
            lock(&self.messages).remove(&id);
        } else {
            self.storage.update(id, &envelope)?;
        }
        queued.envelope = envelope.clone();
        Ok(envelope)
    }

    /// [`Spool::update`] for several messages at once, sharing one sync:
    /// each message's changes are applied in order to a copy of its
    /// envelope, the copies are stored together (each message atomically),
    /// and only then does the queue show them. Returns one result per
    /// distinct message, in ascending ID order: its new envelope, or why it
    /// was not changed (the others are changed all the same).
    ///
    /// ```
    /// use smarthost_queue::{Envelope, FsOptions, Recipient, RecipientState, Spool, Timestamp};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let (spool, _recovery) = Spool::open(dir.path(), FsOptions::default())?;
    /// let new = || Envelope::new("a@example.com", vec![Recipient::new("b@example.org")], Timestamp::now());
    /// let (one, two) = (spool.enqueue(new(), b"\r\nx\r\n")?, spool.enqueue(new(), b"\r\ny\r\n")?);
    /// let results = spool.update_many([
    ///     (one, RecipientState::Delivered),
    ///     (two, RecipientState::Deferred),
    /// ].map(|(id, state)| (id, move |e: &mut Envelope| e.recipients[0].state = state)));
    /// assert!(results.iter().all(|(_, result)| result.is_ok()));
    /// assert_eq!(spool.len(), 1, "the delivered message left the queue");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn update_many<F>(
        &self,
        changes: impl IntoIterator<Item = (QueueId, F)>,
    ) -> Vec<(QueueId, Result<Envelope, StorageError>)>
    where
        F: FnOnce(&mut Envelope),
    {
        let mut by_id: BTreeMap<QueueId, Vec<F>> = BTreeMap::new();
        for (id, change) in changes {
            by_id.entry(id).or_default().push(change);
        }
        let mut results = Vec::with_capacity(by_id.len());
        let mut entries = Vec::with_capacity(by_id.len());
        let mut pending = Vec::with_capacity(by_id.len());
        for (id, changes) in by_id {
            match self.entry(id) {
                Ok(entry) => {
                    entries.push((id, entry));
                    pending.push(changes);
                }
                Err(error) => results.push((id, Err(error))),
            }
        }
        // Locked in ascending ID order, the only order in which anything
        // holds more than one message's lock, so two batches cannot deadlock.
        let mut locked: Vec<_> = entries
            .iter()
            .zip(pending)
            .map(|((id, entry), changes)| {
                let queued = lock(entry);
                let mut envelope = queued.envelope.clone();
                changes.into_iter().for_each(|change| change(&mut envelope));
                (*id, queued, envelope)
            })
            .collect();
        let stored: Vec<Change<'_>> = locked
            .iter()
            .map(
                |(id, _, envelope)| {
                    if envelope.is_finished() { Change::Remove(*id) } else { Change::Update(*id, envelope) }
                },
            )
            .collect();
        let outcomes = self.storage.apply(&stored);
        drop(stored);
        for ((id, queued, envelope), outcome) in locked.iter_mut().zip(outcomes) {
            match outcome {
                Ok(()) => {
                    if envelope.is_finished() {
                        lock(&self.messages).remove(id);
                    }
                    queued.envelope = envelope.clone();
                    results.push((*id, Ok(envelope.clone())));
                }
                Err(error) => results.push((*id, Err(error))),
            }
        }
        drop(locked);
        results.sort_by_key(|(id, _)| *id);
        results
    }

    /// A message's current envelope, if it is in the queue.
    pub fn envelope(&self, id: QueueId) -> Option<Envelope> {
        let entry = lock(&self.messages).get(&id).cloned()?;
        let envelope = lock(&entry).envelope.clone();
        Some(envelope)
    }

    /// A message's bytes.
    pub fn body(&self, id: QueueId) -> Result<Vec<u8>, StorageError> {
        self.storage.body(id)
    }

    /// Every message, oldest first.
    pub fn list(&self) -> Vec<Queued> {
        let entries: Vec<_> = lock(&self.messages).values().cloned().collect();
        entries.iter().map(|entry| lock(entry).clone()).collect()
    }

    /// How many messages are queued.
    pub fn len(&self) -> usize {
        lock(&self.messages).len()
    }

    /// Whether the queue is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Deletes a message without telling anyone (`queue delete`).
    pub fn delete(&self, id: QueueId) -> Result<(), StorageError> {
        let entry = self.entry(id)?;
        let _serialised = lock(&entry);
        self.storage.remove(id)?;
        lock(&self.messages).remove(&id);
        Ok(())
    }

    /// Puts a message on hold: it is not attempted until released.
    pub fn hold(&self, id: QueueId) -> Result<Envelope, StorageError> {
        self.update(id, |envelope| envelope.held = true)
    }

    /// Releases a held message; its pending recipients are due at `now`.
    pub fn release(&self, id: QueueId, now: Timestamp) -> Result<Envelope, StorageError> {
        self.update(id, |envelope| {
            envelope.held = false;
            make_due(envelope, now, None);
        })
    }

    /// Fails every pending recipient with `reason` (`queue bounce`); the
    /// relay then sends the failure report.
    pub fn bounce(&self, id: QueueId, reason: &str) -> Result<Envelope, StorageError> {
        self.update(id, |envelope| {
            for recipient in envelope.recipients.iter_mut().filter(|r| r.state.is_pending()) {
                recipient.state = RecipientState::Failed;
                recipient.next_attempt = None;
                recipient.last_reply = Some(reason.to_string());
            }
        })
    }

    /// Makes pending recipients due at `now`, ignoring their back-off: all
    /// of them, or those whose domain is `domain` or below it (sendmail's
    /// `-q` and `-qR`). Held messages stay held. Returns how many
    /// recipients were made due.
    pub fn run_now(&self, now: Timestamp, domain: Option<&str>) -> Result<usize, StorageError> {
        let mut count = 0;
        for queued in self.list() {
            if queued.envelope.held {
                continue;
            }
            if queued.envelope.recipients.iter().any(|r| is_due_candidate(r, domain)) {
                let mut made = 0;
                self.update(queued.id, |envelope| made = make_due(envelope, now, domain))?;
                count += made;
            }
        }
        Ok(count)
    }

    /// Lets the storage reclaim space held by finished messages (see
    /// [`Storage::compact`]); returns how many messages it moved.
    pub fn compact(&self) -> Result<usize, StorageError> {
        self.storage.compact()
    }

    fn entry(&self, id: QueueId) -> Result<Arc<Mutex<Queued>>, StorageError> {
        lock(&self.messages).get(&id).cloned().ok_or(StorageError::UnknownMessage(id))
    }
}

/// Sets `next_attempt = now` on pending recipients (in `domain`, if given).
fn make_due(envelope: &mut Envelope, now: Timestamp, domain: Option<&str>) -> usize {
    let mut count = 0;
    for recipient in envelope.recipients.iter_mut().filter(|r| is_due_candidate(r, domain)) {
        recipient.next_attempt = Some(now);
        count += 1;
    }
    count
}

/// A pending recipient in `domain` (any, if none is given).
fn is_due_candidate(recipient: &crate::Recipient, domain: Option<&str>) -> bool {
    recipient.state.is_pending() && domain.is_none_or(|domain| in_domain(&recipient.address, domain))
}

/// Whether `address`'s domain is `domain` or a sub-domain of it, whole
/// labels only (`example.com` covers `mx.example.com`, not `badexample.com`).
pub fn in_domain(address: &str, domain: &str) -> bool {
    let Some((_, host)) = address.rsplit_once('@') else { return false };
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    let domain = domain.trim_start_matches('.').trim_end_matches('.').to_ascii_lowercase();
    is_within(&host, &domain)
}

/// [`in_domain`] on names already lower-cased, without dots at the ends.
pub(crate) fn is_within(host: &str, domain: &str) -> bool {
    host == domain || host.strip_suffix(domain).is_some_and(|rest| rest.ends_with('.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domains_match_whole_labels() {
        assert!(in_domain("a@example.com", "example.com"));
        assert!(in_domain("a@MX.Example.com.", "example.com"));
        assert!(in_domain("a@mx.example.com", ".example.com"));
        assert!(!in_domain("a@badexample.com", "example.com"));
        assert!(!in_domain("postmaster", "example.com"));
    }
}
