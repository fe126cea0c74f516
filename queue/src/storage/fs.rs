//! The local filesystem spool: append-only segment files and group commit.
//!
//! ```text
//! SPOOL/lock                 held (flock) by the one process that writes
//! SPOOL/log/00000001.seg     segments of records (see record.rs), in order
//! SPOOL/corrupt/             damaged records, copied aside at recovery
//! ```
//!
//! Every change is a record appended to the current segment. A committer
//! thread writes whatever records are waiting in one write and makes them
//! durable with one `fdatasync`, then wakes every caller in the batch: many
//! concurrent sessions share one sync, and none is answered before its
//! record is on disk. A new segment is created, synced and its directory
//! synced before records go into it. Segments are deleted once no live
//! message has a record in them; [`FsStorage::compact`] moves the few
//! long-lived messages out of old segments so that those can go too.

use std::collections::{BTreeMap, HashMap};
use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::{Arc, Mutex, RwLock};
use std::thread;
use std::time::{Duration, Instant};

use super::record::{self, Invalid, Kind};
use super::{Change, Recovery, SetAside, Storage, StorageError, StoredMessage};
use crate::{Envelope, QueueId, lock};

/// How the spool makes records durable. The names say what they promise.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SyncMode {
    /// One `fdatasync` per record: the slowest, the simplest to reason about.
    PerMessage,
    /// Records that are waiting together share one `fdatasync`; each caller
    /// is still answered only after its own record is durable. Same promise
    /// as `PerMessage`, far fewer syncs under load.
    #[default]
    Group,
    /// No sync at all: a power failure or kernel crash can lose messages that
    /// were acknowledged with 250. Only for tests and throw-away relays.
    DangerousNone,
}

impl std::str::FromStr for SyncMode {
    type Err = String;

    /// The configuration names: `per-message`, `group`, `dangerous_none`.
    fn from_str(name: &str) -> Result<Self, Self::Err> {
        match name {
            "per-message" => Ok(Self::PerMessage),
            "group" => Ok(Self::Group),
            "dangerous_none" => Ok(Self::DangerousNone),
            other => Err(format!("unknown sync mode `{other}`: use per-message, group or dangerous_none")),
        }
    }
}

impl std::fmt::Display for SyncMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::PerMessage => "per-message",
            Self::Group => "group",
            Self::DangerousNone => "dangerous_none",
        })
    }
}

/// Tuning for [`FsStorage`].
#[derive(Clone, Debug)]
pub struct FsOptions {
    /// How records are made durable.
    pub sync: SyncMode,
    /// In `Group` mode, how long the committer waits for more records after
    /// the first one before syncing. Zero (the default) syncs at once and
    /// lets batches form while the previous sync runs, which adds no latency.
    pub group_window: Duration,
    /// The most bytes one batch writes.
    pub max_batch_bytes: usize,
    /// A segment is closed and a new one started past this size.
    pub segment_bytes: u64,
}

impl Default for FsOptions {
    fn default() -> Self {
        Self {
            sync: SyncMode::Group,
            group_window: Duration::ZERO,
            max_batch_bytes: 8 << 20,
            segment_bytes: 64 << 20,
        }
    }
}

/// The filesystem implementation of [`Storage`].
#[derive(Debug)]
pub struct FsStorage {
    dir: PathBuf,
    state: Arc<Mutex<State>>,
    committer: Option<SyncSender<Request>>,
    thread: Option<thread::JoinHandle<()>>,
    recovery: Mutex<Option<Recovery>>,
    /// Compaction rewrites a message from its latest envelope, so it must
    /// not run beside an update of the same message: changes take this
    /// shared, compaction exclusive.
    gate: RwLock<()>,
    _lock: Option<File>,
}

/// What the spool knows of its files.
#[derive(Debug, Default)]
struct State {
    segments: BTreeMap<u64, Segment>,
    messages: HashMap<QueueId, Placement>,
    current: u64,
}

#[derive(Debug)]
struct Segment {
    path: PathBuf,
    file: Arc<File>,
    len: u64,
    /// Messages that have a record here that is still needed.
    live: HashMap<QueueId, u64>,
    /// Bytes of those records (for compaction).
    live_bytes: u64,
}

/// Where a live message's records are.
#[derive(Clone, Copy, Debug)]
struct Placement {
    /// The message record: envelope at arrival, and the body.
    message: Place,
    /// Where the body starts, and its length.
    body_at: u64,
    body_len: u64,
    /// The latest envelope: the message record itself until the first update.
    envelope: Place,
}

/// One record: its segment, offset and length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Place {
    segment: u64,
    at: u64,
    len: u64,
}

struct Request {
    bytes: Vec<u8>,
    reply: SyncSender<Answer>,
}

/// The committer's answer: the record's segment and offset.
type Answer = Result<(u64, u64), StorageError>;

impl FsStorage {
    /// Opens (creating if needed) the spool in `dir` for writing, taking its
    /// lock, and recovers it: torn records at the end are discarded, damaged
    /// ones copied to `corrupt/`. [`Storage::recover`] hands the result over.
    pub fn open(dir: impl Into<PathBuf>, options: FsOptions) -> Result<Self, StorageError> {
        let dir = dir.into();
        for sub in [dir.clone(), dir.join("log"), dir.join("corrupt")] {
            fs::create_dir_all(&sub).map_err(io_error("create the directory", &sub))?;
        }
        // A directory made just now exists only once its parent is synced:
        // without this, the first acknowledged messages could vanish with
        // the spool's own directory entry.
        for synced in [dir.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new(".")), &dir] {
            sync_dir(synced)?;
        }
        let lock_path = dir.join("lock");
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(io_error("open", &lock_path))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(fs::TryLockError::WouldBlock) => return Err(StorageError::Locked(dir)),
            Err(fs::TryLockError::Error(error)) => return Err(io_error("lock", &lock_path)(error)),
        }
        let (mut state, recovery) = scan(&dir, true)?;
        start_segment(&dir, &mut state)?;
        let state = Arc::new(Mutex::new(state));
        let (sender, receiver) = mpsc::sync_channel(4096);
        let committer = Committer { dir: dir.clone(), options, state: Arc::clone(&state), receiver };
        let thread = thread::Builder::new()
            .name("spool-commit".into())
            .spawn(move || committer.run())
            .map_err(io_error("start the commit thread for", &dir))?;
        Ok(Self {
            dir,
            state,
            committer: Some(sender),
            thread: Some(thread),
            recovery: Mutex::new(Some(recovery)),
            gate: RwLock::new(()),
            _lock: Some(lock),
        })
    }

    /// Opens the spool for reading only, without its lock, while a relay may
    /// be writing it (for `smarthost queue list`): it changes nothing on
    /// disk, and a record being written at the end is simply not shown.
    pub fn open_read_only(dir: impl Into<PathBuf>) -> Result<Self, StorageError> {
        let dir = dir.into();
        let (state, recovery) = scan(&dir, false)?;
        Ok(Self {
            dir,
            state: Arc::new(Mutex::new(state)),
            committer: None,
            thread: None,
            recovery: Mutex::new(Some(recovery)),
            gate: RwLock::new(()),
            _lock: None,
        })
    }

    /// The spool directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// How many segment files the spool has.
    pub fn segment_count(&self) -> usize {
        lock(&self.state).segments.len()
    }

    /// Moves the messages still alive in old, mostly finished segments into
    /// the current one, so that the old segments can be deleted. Returns how
    /// many messages moved; cheap when there is nothing to do.
    fn compact_segments(&self) -> Result<usize, StorageError> {
        let candidates: Vec<(u64, Vec<QueueId>)> = {
            let state = lock(&self.state);
            state
                .segments
                .iter()
                .filter(|(number, segment)| {
                    **number != state.current
                        && !segment.live.is_empty()
                        && segment.live_bytes * 2 < segment.len
                })
                .map(|(&number, segment)| (number, segment.live.keys().copied().collect()))
                .collect()
        };
        let _exclusive = self.gate.write().unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut moved = 0;
        for (_, ids) in candidates {
            for id in ids {
                let Some(envelope) = self.envelope_of(id)? else { continue };
                let body = self.body(id)?;
                self.store_unguarded(id, &envelope, &body)?;
                moved += 1;
            }
        }
        Ok(moved)
    }

    /// The latest envelope of a live message, read back from its record.
    fn envelope_of(&self, id: QueueId) -> Result<Option<Envelope>, StorageError> {
        let Some((placement, file, path)) = self.placement(id, |p| p.envelope.segment) else {
            return Ok(None);
        };
        let place = placement.envelope;
        let mut bytes = vec![0; place.len as usize];
        file.read_exact_at(&mut bytes, place.at).map_err(io_error("read", &path))?;
        let changed = || corrupt(&path, place.at, "the record changed on disk");
        let read = record::read(&bytes).map_err(|_| changed())?;
        let encoded = match read.kind {
            Kind::Message => record::split_message(read.payload).ok_or_else(changed)?.0,
            Kind::Update => read.payload,
            Kind::Remove => return Err(changed()),
        };
        let (_, envelope) =
            Envelope::decode(encoded).map_err(|e| corrupt(&path, place.at, &e.to_string()))?;
        Ok(Some(envelope))
    }

    /// A live message's placement, with the file of the segment `which` picks.
    fn placement(
        &self,
        id: QueueId,
        which: impl Fn(&Placement) -> u64,
    ) -> Option<(Placement, Arc<File>, PathBuf)> {
        let state = lock(&self.state);
        let placement = *state.messages.get(&id)?;
        let segment = &state.segments[&which(&placement)];
        Some((placement, Arc::clone(&segment.file), segment.path.clone()))
    }

    fn append(&self, bytes: Vec<u8>) -> Result<(u64, u64), StorageError> {
        let answer = self.submit(bytes)?;
        self.wait(answer)
    }

    /// Hands a record to the committer without waiting for it, so that
    /// several records of one caller can share a sync.
    fn submit(&self, bytes: Vec<u8>) -> Result<Receiver<Answer>, StorageError> {
        let committer = self.committer.as_ref().ok_or(StorageError::ReadOnly)?;
        let (reply, answer) = mpsc::sync_channel(1);
        committer.send(Request { bytes, reply }).map_err(|_| self.stopped())?;
        Ok(answer)
    }

    /// Where a submitted record went, once it is durable.
    fn wait(&self, answer: Receiver<Answer>) -> Result<(u64, u64), StorageError> {
        answer.recv().map_err(|_| self.stopped())?
    }

    fn stopped(&self) -> StorageError {
        io_error("append to", &self.dir)(io::Error::other("the commit thread has stopped"))
    }
}

impl FsStorage {
    fn shared(&self) -> std::sync::RwLockReadGuard<'_, ()> {
        self.gate.read().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn store_unguarded(&self, id: QueueId, envelope: &Envelope, body: &[u8]) -> Result<(), StorageError> {
        let mut bytes = Vec::with_capacity(body.len() + 256);
        let body_offset = record::message(id, envelope, body, &mut bytes) as u64;
        check_size(&bytes)?;
        let len = bytes.len() as u64;
        let (segment, at) = self.append(bytes)?;
        let message = Place { segment, at, len };
        let placement =
            Placement { message, body_at: at + body_offset, body_len: body.len() as u64, envelope: message };
        let doomed = lock(&self.state).place(id, placement);
        delete_segments(doomed);
        Ok(())
    }
}

impl Storage for FsStorage {
    fn store(&self, id: QueueId, envelope: &Envelope, body: &[u8]) -> Result<(), StorageError> {
        let _shared = self.shared();
        self.store_unguarded(id, envelope, body)
    }

    fn update(&self, id: QueueId, envelope: &Envelope) -> Result<(), StorageError> {
        let _shared = self.shared();
        if !lock(&self.state).messages.contains_key(&id) {
            return Err(StorageError::UnknownMessage(id));
        }
        let mut bytes = Vec::with_capacity(256);
        record::update(id, envelope, &mut bytes);
        check_size(&bytes)?;
        let len = bytes.len() as u64;
        let (segment, at) = self.append(bytes)?;
        let doomed = lock(&self.state).move_envelope(id, Place { segment, at, len });
        delete_segments(doomed);
        Ok(())
    }

    fn remove(&self, id: QueueId) -> Result<(), StorageError> {
        let _shared = self.shared();
        if !lock(&self.state).messages.contains_key(&id) {
            return Err(StorageError::UnknownMessage(id));
        }
        let mut bytes = Vec::with_capacity(32);
        record::remove(id, &mut bytes);
        self.append(bytes)?;
        let doomed = lock(&self.state).forget(id);
        delete_segments(doomed);
        Ok(())
    }

    /// Submits every record before waiting for any, so that the committer
    /// writes them together and one sync (or two, when the committer was
    /// already syncing) makes them all durable.
    fn apply(&self, changes: &[Change<'_>]) -> Vec<Result<(), StorageError>> {
        let _shared = self.shared();
        let submitted: Vec<Result<(Receiver<Answer>, u64), StorageError>> = changes
            .iter()
            .map(|change| {
                let id = change.id();
                if !lock(&self.state).messages.contains_key(&id) {
                    return Err(StorageError::UnknownMessage(id));
                }
                let mut bytes = Vec::with_capacity(256);
                match change {
                    Change::Update(id, envelope) => record::update(*id, envelope, &mut bytes),
                    Change::Remove(id) => record::remove(*id, &mut bytes),
                }
                check_size(&bytes)?;
                let len = bytes.len() as u64;
                Ok((self.submit(bytes)?, len))
            })
            .collect();
        changes
            .iter()
            .zip(submitted)
            .map(|(change, submitted)| {
                let (answer, len) = submitted?;
                let (segment, at) = self.wait(answer)?;
                let doomed = match change {
                    Change::Update(id, _) => lock(&self.state).move_envelope(*id, Place { segment, at, len }),
                    Change::Remove(id) => lock(&self.state).forget(*id),
                };
                delete_segments(doomed);
                Ok(())
            })
            .collect()
    }

    fn body(&self, id: QueueId) -> Result<Vec<u8>, StorageError> {
        let (placement, file, path) =
            self.placement(id, |p| p.message.segment).ok_or(StorageError::UnknownMessage(id))?;
        let mut body = vec![0; placement.body_len as usize];
        file.read_exact_at(&mut body, placement.body_at).map_err(io_error("read", &path))?;
        Ok(body)
    }

    fn recover(&self) -> Result<Recovery, StorageError> {
        Ok(lock(&self.recovery).clone().unwrap_or_default())
    }

    fn compact(&self) -> Result<usize, StorageError> {
        self.compact_segments()
    }
}

impl Drop for FsStorage {
    fn drop(&mut self) {
        // Closing the channel ends the committer once it has answered
        // everything already sent.
        self.committer.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl State {
    /// Records where a message now lives (new, or moved by compaction);
    /// returns segments that no longer hold anything live.
    fn place(&mut self, id: QueueId, placement: Placement) -> Vec<PathBuf> {
        // The new record is in the current segment, which is never doomed.
        let doomed = self.forget(id);
        self.add(placement.message, id);
        self.messages.insert(id, placement);
        doomed
    }

    fn move_envelope(&mut self, id: QueueId, place: Place) -> Vec<PathBuf> {
        let Some(placement) = self.messages.get_mut(&id) else { return Vec::new() };
        let old = std::mem::replace(&mut placement.envelope, place);
        let message = placement.message;
        self.add(place, id);
        if old != message { self.release(old, id) } else { Vec::new() }
    }

    fn forget(&mut self, id: QueueId) -> Vec<PathBuf> {
        let Some(placement) = self.messages.remove(&id) else { return Vec::new() };
        let mut doomed = self.release(placement.message, id);
        if placement.envelope != placement.message {
            doomed.extend(self.release(placement.envelope, id));
        }
        doomed
    }

    fn add(&mut self, place: Place, id: QueueId) {
        if let Some(segment) = self.segments.get_mut(&place.segment) {
            *segment.live.entry(id).or_default() += place.len;
            segment.live_bytes += place.len;
        }
    }

    /// Drops a record's claim on its segment; an old segment left with no
    /// live record is unlisted and returned for deletion.
    fn release(&mut self, place: Place, id: QueueId) -> Vec<PathBuf> {
        let Some(segment) = self.segments.get_mut(&place.segment) else { return Vec::new() };
        if let Some(bytes) = segment.live.get_mut(&id) {
            *bytes = bytes.saturating_sub(place.len);
            if *bytes == 0 {
                segment.live.remove(&id);
            }
        }
        segment.live_bytes = segment.live_bytes.saturating_sub(place.len);
        self.reclaim()
    }

    /// Unlists the oldest segments while they hold nothing live, and returns
    /// them for deletion. Only a prefix may go: a later segment can hold the
    /// removal or update of a message whose first record sits in an earlier,
    /// still-needed segment, and without it recovery would bring the message
    /// (or an old envelope of it) back.
    fn reclaim(&mut self) -> Vec<PathBuf> {
        let mut doomed = Vec::new();
        while let Some((&number, segment)) = self.segments.first_key_value() {
            if number == self.current || !segment.live.is_empty() {
                break;
            }
            doomed.extend(self.segments.remove(&number).map(|s| s.path));
        }
        doomed
    }
}

/// Deletes reclaimed segments, oldest first, syncing the directory after
/// each: a later segment's deletion must never reach the disk before an
/// earlier one's, or a removal record could vanish while the message it
/// removed comes back. A failure leaves the file for the next recovery,
/// which finds it holds nothing live.
fn delete_segments(paths: Vec<PathBuf>) {
    for path in paths {
        if fs::remove_file(&path).is_ok()
            && let Some(dir) = path.parent()
        {
            let _ = sync_dir(dir);
        }
    }
}

/// The thread that writes and syncs batches of records.
struct Committer {
    dir: PathBuf,
    options: FsOptions,
    state: Arc<Mutex<State>>,
    receiver: Receiver<Request>,
}

impl Committer {
    fn run(self) {
        while let Ok(first) = self.receiver.recv() {
            let batch = self.gather(first);
            match self.commit(&batch) {
                Ok(offsets) => {
                    for (request, offset) in batch.into_iter().zip(offsets) {
                        let _ = request.reply.send(Ok(offset));
                    }
                }
                Err(error) => {
                    for request in batch {
                        let _ = request.reply.send(Err(copy_error(&error)));
                    }
                }
            }
        }
    }

    /// The first request and whatever else is waiting (within the window).
    fn gather(&self, first: Request) -> Vec<Request> {
        let mut bytes = first.bytes.len();
        let mut batch = vec![first];
        if self.options.sync == SyncMode::PerMessage {
            return batch;
        }
        let deadline = Instant::now() + self.options.group_window;
        while bytes < self.options.max_batch_bytes {
            let next = if self.options.group_window.is_zero() {
                self.receiver.try_recv().ok()
            } else {
                // Timed out or disconnected: commit what is here.
                self.receiver.recv_timeout(deadline.saturating_duration_since(Instant::now())).ok()
            };
            let Some(request) = next else { break };
            bytes += request.bytes.len();
            batch.push(request);
        }
        batch
    }

    /// Writes the batch with one write and one sync; returns each record's
    /// (segment, offset). On failure nothing of the batch stays visible.
    fn commit(&self, batch: &[Request]) -> Result<Vec<(u64, u64)>, StorageError> {
        let (number, file, path, start) = {
            let mut state = lock(&self.state);
            if state.segments[&state.current].len >= self.options.segment_bytes {
                start_segment(&self.dir, &mut state)?;
            }
            let segment = &state.segments[&state.current];
            (state.current, Arc::clone(&segment.file), segment.path.clone(), segment.len)
        };
        let mut buffer = Vec::with_capacity(batch.iter().map(|r| r.bytes.len()).sum());
        let mut offsets = Vec::with_capacity(batch.len());
        for request in batch {
            offsets.push((number, start + buffer.len() as u64));
            buffer.extend_from_slice(&request.bytes);
        }
        let written = file.write_all_at(&buffer, start).and_then(|()| match self.options.sync {
            SyncMode::DangerousNone => Ok(()),
            SyncMode::PerMessage | SyncMode::Group => file.sync_data(),
        });
        if let Err(error) = written {
            // Cut the partial batch off. After a failed sync the page cache
            // can no longer be trusted either, so later records go into a
            // fresh segment.
            let _ = file.set_len(start);
            let _ = file.sync_data();
            let mut state = lock(&self.state);
            let _ = start_segment(&self.dir, &mut state);
            return Err(io_error("write to", &path)(error));
        }
        let mut state = lock(&self.state);
        if let Some(segment) = state.segments.get_mut(&number) {
            segment.len = start + buffer.len() as u64;
        }
        Ok(offsets)
    }
}

/// The same error for every caller in a failed batch.
fn copy_error(error: &StorageError) -> StorageError {
    match error {
        StorageError::Io { action, path, source } => StorageError::Io {
            action,
            path: path.clone(),
            source: source.raw_os_error().map_or_else(
                || io::Error::new(source.kind(), source.to_string()),
                io::Error::from_raw_os_error,
            ),
        },
        other => StorageError::Io {
            action: "write the spool",
            path: PathBuf::new(),
            source: io::Error::other(other.to_string()),
        },
    }
}

/// Reads every segment and rebuilds the state. When `writable`, torn tails
/// are cut off and damaged records copied to `corrupt/`.
fn scan(dir: &Path, writable: bool) -> Result<(State, Recovery), StorageError> {
    let log = dir.join("log");
    let mut numbers = Vec::new();
    let entries = match fs::read_dir(&log) {
        Ok(entries) => entries,
        Err(error) if error.kind() == io::ErrorKind::NotFound && !writable => {
            return Err(io_error("read the spool directory", &log)(error));
        }
        Err(error) => return Err(io_error("read the spool directory", &log)(error)),
    };
    for entry in entries {
        let entry = entry.map_err(io_error("read the spool directory", &log))?;
        let name = entry.file_name();
        let Some(number) =
            name.to_str().and_then(|n| n.strip_suffix(".seg")).and_then(|n| n.parse::<u64>().ok())
        else {
            continue;
        };
        numbers.push(number);
    }
    numbers.sort_unstable();

    let mut state = State::default();
    let mut recovery = Recovery::default();
    let mut envelopes: HashMap<QueueId, Envelope> = HashMap::new();
    let mut reclaim = Vec::new();
    for number in numbers {
        let path = segment_path(dir, number);
        let file = match OpenOptions::new().read(true).write(writable).open(&path) {
            Ok(file) => file,
            // A reader racing the relay: the segment was reclaimed after the
            // directory was listed, so it held nothing live.
            Err(error) if error.kind() == io::ErrorKind::NotFound && !writable => continue,
            Err(error) => return Err(io_error("open", &path)(error)),
        };
        let data = match fs::read(&path) {
            Ok(data) => data,
            Err(error) if error.kind() == io::ErrorKind::NotFound && !writable => continue,
            Err(error) => return Err(io_error("read", &path)(error)),
        };
        state.segments.insert(
            number,
            Segment { path: path.clone(), file: Arc::new(file), len: 0, live: HashMap::new(), live_bytes: 0 },
        );
        state.current = number;
        let mut pos = 0;
        while pos < data.len() {
            match record::read(&data[pos..]) {
                Ok(read) => {
                    let place = Place { segment: number, at: pos as u64, len: read.len as u64 };
                    reclaim.extend(apply(
                        &mut state,
                        &mut envelopes,
                        &mut recovery,
                        place,
                        &read,
                        dir,
                        writable,
                    ));
                    pos += read.len;
                }
                Err(invalid) => match record::resync(&data[pos..]) {
                    Some(skip) => {
                        let reason = format!("damaged record in {} at byte {pos}", path.display());
                        recovery.set_aside.push(set_aside(
                            dir,
                            number,
                            pos,
                            &data[pos..pos + skip],
                            reason,
                            writable,
                        ));
                        pos += skip;
                    }
                    None => {
                        if let Invalid::Damaged(what) = invalid {
                            let reason =
                                format!("{what} in the last record of {} at byte {pos}", path.display());
                            recovery.set_aside.push(set_aside(
                                dir,
                                number,
                                pos,
                                &data[pos..],
                                reason,
                                writable,
                            ));
                        } else {
                            recovery.discarded_bytes += (data.len() - pos) as u64;
                        }
                        if writable {
                            let segment = &state.segments[&number];
                            segment.file.set_len(pos as u64).map_err(io_error("truncate", &path))?;
                            segment.file.sync_data().map_err(io_error("sync", &path))?;
                        }
                        break;
                    }
                },
            }
        }
        if let Some(segment) = state.segments.get_mut(&number) {
            segment.len = pos.min(data.len()) as u64;
        }
    }
    // Segments that hold nothing live are leftovers of finished mail.
    if writable {
        delete_segments(reclaim);
    }
    // Only the oldest ones, for the reason `State::reclaim` gives.
    let empty: Vec<u64> =
        state.segments.iter().take_while(|(_, s)| s.live.is_empty()).map(|(&n, _)| n).collect();
    for number in empty {
        if writable && let Some(segment) = state.segments.remove(&number) {
            let _ = fs::remove_file(segment.path);
        }
    }
    let mut messages: Vec<StoredMessage> = envelopes
        .into_iter()
        .filter_map(|(id, envelope)| {
            state.messages.get(&id).map(|p| StoredMessage { id, envelope, size: p.body_len })
        })
        .collect();
    messages.sort_by_key(|m| m.id);
    recovery.messages = messages;
    Ok((state, recovery))
}

fn apply(
    state: &mut State,
    envelopes: &mut HashMap<QueueId, Envelope>,
    recovery: &mut Recovery,
    place: Place,
    read: &record::Read<'_>,
    dir: &Path,
    writable: bool,
) -> Vec<PathBuf> {
    let mut damaged = |reason: String| {
        let bytes = read.payload;
        recovery.set_aside.push(set_aside(dir, place.segment, place.at as usize, bytes, reason, writable));
    };
    match read.kind {
        Kind::Message => {
            let decoded = record::split_message(read.payload)
                .and_then(|(encoded, body_offset)| Envelope::decode(encoded).ok().map(|d| (d, body_offset)));
            let Some(((id, envelope), body_offset)) = decoded else {
                damaged(format!(
                    "undecodable message record at byte {} of segment {}",
                    place.at, place.segment
                ));
                return Vec::new();
            };
            let body_len = (read.payload.len() - body_offset) as u64;
            let body_at = place.at + record::HEADER as u64 + body_offset as u64;
            envelopes.insert(id, envelope);
            state.place(id, Placement { message: place, body_at, body_len, envelope: place })
        }
        Kind::Update => match Envelope::decode(read.payload) {
            Ok((id, envelope)) if state.messages.contains_key(&id) => {
                envelopes.insert(id, envelope);
                state.move_envelope(id, place)
            }
            Ok(_) => {
                recovery.orphan_records += 1;
                Vec::new()
            }
            Err(error) => {
                damaged(format!("undecodable envelope update at byte {}: {error}", place.at));
                Vec::new()
            }
        },
        Kind::Remove => match record::removed_id(read.payload) {
            Some(id) if state.messages.contains_key(&id) => {
                envelopes.remove(&id);
                state.forget(id)
            }
            Some(_) => {
                recovery.orphan_records += 1;
                Vec::new()
            }
            None => {
                damaged(format!("undecodable removal at byte {}", place.at));
                Vec::new()
            }
        },
    }
}

/// Copies damaged bytes to `corrupt/` (when writable) and describes them.
fn set_aside(dir: &Path, segment: u64, at: usize, bytes: &[u8], reason: String, writable: bool) -> SetAside {
    let path = dir.join("corrupt").join(format!("{segment:08}-{at}.bin"));
    if writable {
        let _ = fs::write(&path, bytes);
    }
    SetAside { path, bytes: bytes.len() as u64, reason }
}

fn segment_path(dir: &Path, number: u64) -> PathBuf {
    dir.join("log").join(format!("{number:08}.seg"))
}

/// Creates the next segment, durably, and makes it current.
fn start_segment(dir: &Path, state: &mut State) -> Result<(), StorageError> {
    let number = state.segments.keys().next_back().map_or(1, |last| last + 1).max(state.current + 1);
    let path = segment_path(dir, number);
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(&path)
        .map_err(io_error("create", &path))?;
    file.sync_all().map_err(io_error("sync", &path))?;
    sync_dir(&dir.join("log"))?;
    state
        .segments
        .insert(number, Segment { path, file: Arc::new(file), len: 0, live: HashMap::new(), live_bytes: 0 });
    state.current = number;
    // The segment just closed may hold nothing live any more.
    delete_segments(state.reclaim());
    Ok(())
}

fn sync_dir(dir: &Path) -> Result<(), StorageError> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(io_error("sync the directory", dir))
}

fn check_size(bytes: &[u8]) -> Result<(), StorageError> {
    if bytes.len() > u32::MAX as usize {
        return Err(StorageError::TooLarge(bytes.len() as u64));
    }
    Ok(())
}

fn io_error(action: &'static str, path: &Path) -> impl FnOnce(io::Error) -> StorageError {
    let path = path.to_path_buf();
    move |source| StorageError::Io { action, path, source }
}

fn corrupt(path: &Path, offset: u64, reason: &str) -> StorageError {
    StorageError::Corrupt { path: path.to_path_buf(), offset, reason: reason.to_string() }
}
