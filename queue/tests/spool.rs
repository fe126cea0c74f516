//! The spool across restarts: what was acknowledged survives, whole.

use std::fs;
use std::sync::Arc;

use smarthost_queue::{
    Envelope, FsOptions, Recipient, RecipientState, Spool, StorageError, SyncMode, Timestamp,
};

fn envelope(n: u32) -> Envelope {
    Envelope::new(
        format!("sender{n}@example.com"),
        vec![Recipient::new(format!("a{n}@example.org")), Recipient::new(format!("b{n}@example.net"))],
        Timestamp(1_700_000_000_000_000 + u64::from(n)),
    )
}

fn body(n: u32) -> Vec<u8> {
    format!("Subject: message {n}\r\n\r\n{}\r\n", "x".repeat(n as usize % 700)).into_bytes()
}

#[test]
fn messages_and_their_states_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let mut ids = Vec::new();
    {
        let (spool, recovery) = Spool::open(dir.path(), FsOptions::default()).unwrap();
        assert!(recovery.messages.is_empty());
        for n in 0..20 {
            ids.push(spool.enqueue(envelope(n), &body(n)).unwrap());
        }
        spool.update(ids[3], |e| e.recipients[0].state = RecipientState::Delivered).unwrap();
        spool
            .update(ids[4], |e| {
                for r in &mut e.recipients {
                    r.state = RecipientState::Delivered;
                }
            })
            .unwrap();
        spool.hold(ids[5]).unwrap();
        spool.delete(ids[6]).unwrap();
    }
    let (spool, recovery) = Spool::open(dir.path(), FsOptions::default()).unwrap();
    assert_eq!(recovery.messages.len(), 18);
    assert_eq!(recovery.discarded_bytes, 0);
    assert!(recovery.set_aside.is_empty());
    assert_eq!(spool.len(), 18);
    for (n, id) in ids.iter().enumerate() {
        let n = n as u32;
        match n {
            4 | 6 => assert!(spool.envelope(*id).is_none()),
            _ => {
                assert_eq!(spool.body(*id).unwrap(), body(n), "message {n}");
                let stored = spool.envelope(*id).unwrap();
                assert_eq!(stored.sender, envelope(n).sender);
                assert_eq!(stored.recipients[0].state == RecipientState::Delivered, n == 3);
                assert_eq!(stored.held, n == 5);
            }
        }
    }
    let listed: Vec<_> = spool.list().iter().map(|q| q.id).collect();
    let mut sorted = listed.clone();
    sorted.sort();
    assert_eq!(listed, sorted, "oldest first");
}

#[test]
fn a_second_writer_is_refused_but_a_reader_may_look() {
    let dir = tempfile::tempdir().unwrap();
    let (spool, _) = Spool::open(dir.path(), FsOptions::default()).unwrap();
    spool.enqueue(envelope(1), &body(1)).unwrap();
    let error = Spool::open(dir.path(), FsOptions::default()).unwrap_err();
    assert!(matches!(error, StorageError::Locked(_)), "{error}");
    assert!(error.to_string().contains("in use by another smarthost process"));
    let reader = smarthost_queue::FsStorage::open_read_only(dir.path()).unwrap();
    let recovery = smarthost_queue::Storage::recover(&reader).unwrap();
    assert_eq!(recovery.messages.len(), 1);
}

#[test]
fn a_torn_record_at_the_end_is_discarded_and_damage_in_the_middle_set_aside() {
    let dir = tempfile::tempdir().unwrap();
    let ids: Vec<_> = {
        let (spool, _) = Spool::open(dir.path(), FsOptions::default()).unwrap();
        (0..5).map(|n| spool.enqueue(envelope(n), &body(n)).unwrap()).collect()
    };
    let segment = fs::read_dir(dir.path().join("log")).unwrap().map(|e| e.unwrap().path()).max().unwrap();
    let segments: Vec<_> = fs::read_dir(dir.path().join("log")).unwrap().map(|e| e.unwrap().path()).collect();
    let with_data = segments.into_iter().find(|p| fs::metadata(p).unwrap().len() > 0).unwrap();
    let _ = segment;
    let mut bytes = fs::read(&with_data).unwrap();
    let clean_len = bytes.len();
    // Damage the second record's body, and leave half a record at the end.
    let second = bytes.windows(2).enumerate().filter(|(_, w)| w == b"SQ").nth(1).unwrap().0;
    bytes[second + 40] ^= 0xff;
    bytes.extend_from_slice(b"SQ\x01\0\x40\0\0\0partial");
    fs::write(&with_data, &bytes).unwrap();

    let (spool, recovery) = Spool::open(dir.path(), FsOptions::default()).unwrap();
    assert_eq!(recovery.discarded_bytes, 15);
    assert_eq!(recovery.set_aside.len(), 1, "{:?}", recovery.set_aside);
    assert!(recovery.set_aside[0].path.exists());
    assert_eq!(spool.len(), 4);
    assert!(spool.envelope(ids[1]).is_none());
    assert_eq!(fs::metadata(&with_data).unwrap().len() as usize, clean_len);
}

#[test]
fn concurrent_writers_share_syncs_and_all_survive() {
    let dir = tempfile::tempdir().unwrap();
    let ids: Vec<_> = {
        let (spool, _) = Spool::open(dir.path(), FsOptions::default()).unwrap();
        let spool = Arc::new(spool);
        let threads: Vec<_> = (0..8)
            .map(|t| {
                let spool = Arc::clone(&spool);
                std::thread::spawn(move || {
                    (0..50)
                        .map(|n| spool.enqueue(envelope(t * 100 + n), &body(n)).unwrap())
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        threads.into_iter().flat_map(|t| t.join().unwrap()).collect()
    };
    let (spool, _) =
        Spool::open(dir.path(), FsOptions { sync: SyncMode::PerMessage, ..FsOptions::default() }).unwrap();
    assert_eq!(spool.len(), 400);
    for id in ids {
        assert!(spool.envelope(id).is_some());
    }
}

#[test]
fn finished_segments_are_deleted_and_compaction_frees_old_ones() {
    let dir = tempfile::tempdir().unwrap();
    let options = FsOptions { segment_bytes: 1024, ..FsOptions::default() };
    let (spool, _) = Spool::open(dir.path(), options.clone()).unwrap();
    let ids: Vec<_> = (0..60).map(|n| spool.enqueue(envelope(n), &body(n)).unwrap()).collect();
    let before = fs::read_dir(dir.path().join("log")).unwrap().count();
    assert!(before > 5, "{before} segments");
    // Deliver all but every tenth message.
    for (n, id) in ids.iter().enumerate().filter(|(n, _)| n % 10 != 0) {
        let _ = n;
        spool
            .update(*id, |e| {
                for r in &mut e.recipients {
                    r.state = RecipientState::Delivered;
                }
            })
            .unwrap();
    }
    // Only the oldest segments go while they hold nothing live: a later one
    // can hold the removal of a message whose first record is in an earlier
    // one. Message 0 keeps the first segment, so they all wait for compaction.
    let finished = fs::read_dir(dir.path().join("log")).unwrap().count();
    assert!(finished >= before, "{finished} of {before}");
    assert_eq!(spool.compact().unwrap(), 6, "the survivors move out of their old segments");
    let compacted = fs::read_dir(dir.path().join("log")).unwrap().count();
    assert!(compacted < finished, "{compacted} segments after compaction, {finished} before");
    assert!(compacted <= 2, "only the segments the survivors moved to are left: {compacted}");
    drop(spool);
    let (spool, _) = Spool::open(dir.path(), options).unwrap();
    assert_eq!(spool.len(), 6);
    for (n, id) in ids.iter().enumerate().filter(|(n, _)| n % 10 == 0) {
        assert_eq!(spool.body(*id).unwrap(), body(n as u32));
    }
}

/// One boxed change, so that different changes go in one list.
type Change = Box<dyn FnOnce(&mut Envelope)>;

#[test]
fn update_many_changes_each_message_atomically_and_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let mut ids = Vec::new();
    let gone;
    {
        let (spool, _) = Spool::open(dir.path(), FsOptions::default()).unwrap();
        for n in 0..10 {
            ids.push(spool.enqueue(envelope(n), &body(n)).unwrap());
        }
        gone = spool.enqueue(envelope(99), &body(99)).unwrap();
        spool.delete(gone).unwrap();
        // Messages 0-4 delivered (in two changes each, applied in order),
        // 5-9 one recipient deferred; plus one message no longer queued.
        let mut changes: Vec<(_, Change)> = Vec::new();
        for (n, id) in ids.iter().enumerate().rev() {
            if n < 5 {
                changes.push((*id, Box::new(|e| e.recipients[0].state = RecipientState::Delivered)));
                changes.push((*id, Box::new(|e| e.recipients[1].state = RecipientState::Delivered)));
            } else {
                changes.push((*id, Box::new(|e| e.recipients[1].attempts = 7)));
            }
        }
        changes.push((gone, Box::new(|e| e.held = true)));
        let results =
            spool.update_many(changes.into_iter().map(|(id, change)| (id, move |e: &mut _| change(e))));
        let ids_seen: Vec<_> = results.iter().map(|(id, _)| *id).collect();
        let mut expected = ids.clone();
        expected.push(gone);
        expected.sort();
        assert_eq!(ids_seen, expected, "one result per message, in ID order");
        for (id, result) in &results {
            if *id == gone {
                assert!(matches!(result, Err(StorageError::UnknownMessage(g)) if g == id));
            } else {
                assert!(result.is_ok(), "{id}: {result:?}");
            }
        }
        assert_eq!(spool.len(), 5, "delivered messages left the queue");
    }
    let (spool, recovery) = Spool::open(dir.path(), FsOptions::default()).unwrap();
    assert_eq!(recovery.messages.len(), 5);
    for (n, id) in ids.iter().enumerate() {
        match spool.envelope(*id) {
            None => assert!(n < 5, "message {n} lost"),
            Some(stored) => {
                assert!(n >= 5, "message {n} came back after its delivery");
                assert_eq!(stored.recipients[1].attempts, 7);
                assert_eq!(spool.body(*id).unwrap(), body(n as u32));
            }
        }
    }
}
