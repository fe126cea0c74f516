//! Storage failures: the caller gets a clean error, nothing half-stored ever
//! shows, and the spool carries on.

mod common;

use std::collections::BTreeSet;
use std::io;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use smarthost_queue::{
    Envelope, FsOptions, FsStorage, QueueId, Recipient, RecipientState, Recovery, Spool, Storage,
    StorageError, SyncMode, Timestamp,
};

/// A real file-size limit: appends past it fail with EFBIG in the middle of
/// a record (`trap "" XFSZ` turns the signal into the error).
#[test]
fn a_write_cut_off_by_the_file_size_limit_leaves_no_trace() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let size = 3_000;
    // `ulimit -f` counts blocks of 512 bytes (dash, POSIX sh) or 1 KiB
    // (bash); either way the limit falls within the first few dozen records.
    let output = Command::new("sh")
        .args(["-c", r#"trap "" XFSZ; ulimit -f 64; exec "$0" "$@""#, env!("CARGO_BIN_EXE_spool-writer")])
        .arg(dir.path())
        .args(["--sync", "group", "--size", &size.to_string(), "--count", "1000", "--threads", "1"])
        .output()
        .expect("run spool-writer under sh");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "the writer should fail cleanly: {stderr}");
    assert!(stderr.contains("enqueue of message") && stderr.contains("(storage full: false)"), "{stderr}");
    assert!(stderr.contains("File too large"), "EFBIG expected: {stderr}");
    let printed = common::printed(&output.stdout[..]);
    assert!(!printed.is_empty() && printed.len() < 1000, "{} printed", printed.len());

    let (spool, recovery) = Spool::open(dir.path(), FsOptions::default()).expect("reopen without the limit");
    assert!(recovery.set_aside.is_empty(), "{:?}", recovery.set_aside);
    assert_eq!(recovery.discarded_bytes, 0, "the failed write should have been cut off at once");
    // One thread: the failed message is the one after the last printed.
    let queued = common::check_whole(&spool, &printed, size, "after EFBIG");
    assert_eq!(queued, printed.len(), "only acknowledged messages may show");

    let id = spool.enqueue(message(0), b"Subject: after\r\n\r\n").expect("enqueue without the limit");
    drop(spool);
    let (spool, _) = Spool::open(dir.path(), FsOptions::default()).expect("reopen");
    assert_eq!(spool.len(), printed.len() + 1);
    assert_eq!(spool.body(id).expect("the new message"), b"Subject: after\r\n\r\n");
}

#[test]
fn a_full_disk_refuses_the_message_with_452_and_keeps_what_was_there() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let fs =
        FsStorage::open(dir.path(), FsOptions { sync: SyncMode::Group, ..FsOptions::default() }).unwrap();
    // The 4th store and the 2nd update fail.
    let storage = Arc::new(Failing::new(fs, &[4], &[2]));
    let (spool, _) = Spool::with_storage(storage.clone()).unwrap();
    let ids: Vec<QueueId> = (0..3).map(|n| spool.enqueue(message(n), &body(n)).unwrap()).collect();

    let error = spool.enqueue(message(3), &body(3)).expect_err("the 4th store fails");
    assert!(error.is_storage_full(), "ENOSPC is a full disk: {error}");
    assert_eq!(
        spool.list().iter().map(|q| q.id).collect::<Vec<_>>(),
        ids,
        "the refused message is not listed"
    );
    let later = spool.enqueue(message(4), &body(4)).expect("the disk has room again");

    let before = spool.envelope(ids[1]).unwrap();
    spool.update(ids[1], |e| e.recipients[0].state = RecipientState::Deferred).unwrap();
    let deferred = spool.envelope(ids[1]).unwrap();
    assert_ne!(before, deferred);
    let error = spool.update(ids[1], |e| e.held = true).expect_err("the 2nd update fails");
    assert!(error.is_storage_full(), "{error}");
    assert_eq!(spool.envelope(ids[1]), Some(deferred.clone()), "a failed update changes nothing");
    assert_eq!(spool.list().len(), 4);

    drop(spool);
    drop(storage);
    let (spool, recovery) = Spool::open(dir.path(), FsOptions::default()).unwrap();
    assert!(recovery.set_aside.is_empty() && recovery.discarded_bytes == 0, "{recovery:?}");
    let listed: Vec<QueueId> = spool.list().iter().map(|q| q.id).collect();
    assert_eq!(listed, [ids[0], ids[1], ids[2], later]);
    assert_eq!(spool.envelope(ids[1]), Some(deferred), "the last stored envelope, not the refused one");
    for (n, id) in [(0, ids[0]), (1, ids[1]), (2, ids[2]), (4, later)] {
        assert_eq!(spool.body(id).unwrap(), body(n));
    }
}

fn message(n: u32) -> Envelope {
    Envelope::new(
        format!("sender{n}@example.com"),
        vec![Recipient::new(format!("a{n}@example.org")), Recipient::new(format!("b{n}@example.net"))],
        Timestamp(1_700_000_000_000_000 + u64::from(n)),
    )
}

fn body(n: u32) -> Vec<u8> {
    format!("Subject: message {n}\r\n\r\n{}\r\n", "y".repeat(n as usize * 100)).into_bytes()
}

/// Storage that fails chosen `store` and `update` calls (counting from 1)
/// with ENOSPC before they reach the disk, and passes everything else on.
struct Failing {
    inner: FsStorage,
    stores: AtomicU32,
    updates: AtomicU32,
    fail_stores: BTreeSet<u32>,
    fail_updates: BTreeSet<u32>,
}

impl Failing {
    fn new(inner: FsStorage, fail_stores: &[u32], fail_updates: &[u32]) -> Self {
        Self {
            inner,
            stores: AtomicU32::new(0),
            updates: AtomicU32::new(0),
            fail_stores: fail_stores.iter().copied().collect(),
            fail_updates: fail_updates.iter().copied().collect(),
        }
    }
}

fn no_space(action: &'static str) -> StorageError {
    StorageError::Io {
        action,
        path: "spool/log/00000001.seg".into(),
        source: io::Error::from_raw_os_error(28),
    }
}

impl Storage for Failing {
    fn store(&self, id: QueueId, envelope: &Envelope, body: &[u8]) -> Result<(), StorageError> {
        if self.fail_stores.contains(&(self.stores.fetch_add(1, Ordering::SeqCst) + 1)) {
            return Err(no_space("write to"));
        }
        self.inner.store(id, envelope, body)
    }

    fn update(&self, id: QueueId, envelope: &Envelope) -> Result<(), StorageError> {
        if self.fail_updates.contains(&(self.updates.fetch_add(1, Ordering::SeqCst) + 1)) {
            return Err(no_space("write to"));
        }
        self.inner.update(id, envelope)
    }

    fn remove(&self, id: QueueId) -> Result<(), StorageError> {
        self.inner.remove(id)
    }

    fn body(&self, id: QueueId) -> Result<Vec<u8>, StorageError> {
        self.inner.body(id)
    }

    fn recover(&self) -> Result<Recovery, StorageError> {
        self.inner.recover()
    }

    fn compact(&self) -> Result<usize, StorageError> {
        self.inner.compact()
    }
}
