//! Random operations on the spool, restarts included, agree with a plain
//! in-memory model: nothing is lost, nothing comes back, and finished
//! messages leave both.

use std::collections::BTreeMap;

use proptest::prelude::*;
use smarthost_queue::{Envelope, FsOptions, QueueId, Recipient, RecipientState, Spool, SyncMode, Timestamp};

#[derive(Clone, Debug)]
enum Op {
    Enqueue {
        recipients: usize,
        body: usize,
    },
    /// Message `pick` (modulo the queue's length), recipient `recipient`.
    Update {
        pick: usize,
        recipient: usize,
        state: RecipientState,
        reported: bool,
    },
    Hold {
        pick: usize,
    },
    Release {
        pick: usize,
    },
    Delete {
        pick: usize,
    },
    /// Lets the storage move long-lived messages out of old segments.
    Compact,
    Restart,
}

fn op() -> impl Strategy<Value = Op> {
    let state = prop_oneof![
        Just(RecipientState::Delivered),
        Just(RecipientState::Deferred),
        Just(RecipientState::Failed)
    ];
    prop_oneof![
        4 => (1..4usize, 0..2_000usize).prop_map(|(recipients, body)| Op::Enqueue { recipients, body }),
        6 => (any::<usize>(), 0..4usize, state, any::<bool>())
            .prop_map(|(pick, recipient, state, reported)| Op::Update { pick, recipient, state, reported }),
        1 => any::<usize>().prop_map(|pick| Op::Hold { pick }),
        1 => any::<usize>().prop_map(|pick| Op::Release { pick }),
        1 => any::<usize>().prop_map(|pick| Op::Delete { pick }),
        1 => Just(Op::Compact),
        1 => Just(Op::Restart),
    ]
}

/// What the spool should hold: each message's envelope and body.
#[derive(Default)]
struct Model {
    messages: BTreeMap<QueueId, (Envelope, Vec<u8>)>,
    enqueued: u64,
}

impl Model {
    fn pick(&self, pick: usize) -> Option<QueueId> {
        (!self.messages.is_empty())
            .then(|| *self.messages.keys().nth(pick % self.messages.len()).expect("in range"))
    }

    /// Applies `change` as `Spool::update` does: a finished message leaves.
    fn update(&mut self, id: QueueId, change: impl FnOnce(&mut Envelope)) -> Envelope {
        let (envelope, _) = self.messages.get_mut(&id).expect("picked from the model");
        change(envelope);
        let envelope = envelope.clone();
        if envelope.is_finished() {
            self.messages.remove(&id);
        }
        envelope
    }
}

const NOW: Timestamp = Timestamp(1_800_000_000_000_000);

fn run(ops: Vec<Op>, sync: SyncMode) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let options = || FsOptions { sync, segment_bytes: 16 << 10, ..FsOptions::default() };
    let (mut spool, _) = Spool::open(dir.path(), options()).expect("open");
    let mut model = Model::default();
    for (step, op) in ops.into_iter().enumerate() {
        match op {
            Op::Enqueue { recipients, body } => {
                let n = model.enqueued;
                model.enqueued += 1;
                let recipients =
                    (0..recipients).map(|r| Recipient::new(format!("r{r}.{n}@example.org"))).collect();
                // A millisecond apart: a restart resets the ID generator's sequence
                // within a millisecond (only the random salt keeps IDs apart then).
                let envelope =
                    Envelope::new(format!("s{n}@example.com"), recipients, Timestamp(NOW.0 + n * 1_000));
                let body = format!("Subject: {n}\r\n\r\n{}", "z".repeat(body)).into_bytes();
                let id = spool.enqueue(envelope.clone(), &body).expect("enqueue");
                prop_assert!(model.messages.insert(id, (envelope, body)).is_none(), "ID {id} given twice");
            }
            Op::Update { pick, recipient, state, reported } => {
                let Some(id) = model.pick(pick) else { continue };
                let change = |envelope: &mut Envelope| {
                    let count = envelope.recipients.len();
                    let recipient = &mut envelope.recipients[recipient % count];
                    recipient.state = state;
                    recipient.reported = reported;
                    recipient.attempts += 1;
                    recipient.next_attempt = (state == RecipientState::Deferred).then_some(NOW);
                };
                let expected = model.update(id, change);
                prop_assert_eq!(spool.update(id, change).expect("update"), expected);
            }
            Op::Hold { pick } => {
                let Some(id) = model.pick(pick) else { continue };
                let expected = model.update(id, |e| e.held = true);
                prop_assert_eq!(spool.hold(id).expect("hold"), expected);
            }
            Op::Release { pick } => {
                let Some(id) = model.pick(pick) else { continue };
                let expected = model.update(id, |envelope| {
                    envelope.held = false;
                    for recipient in envelope.recipients.iter_mut().filter(|r| r.state.is_pending()) {
                        recipient.next_attempt = Some(NOW);
                    }
                });
                prop_assert_eq!(spool.release(id, NOW).expect("release"), expected);
            }
            Op::Delete { pick } => {
                let Some(id) = model.pick(pick) else { continue };
                model.messages.remove(&id);
                spool.delete(id).expect("delete");
            }
            Op::Compact => {
                spool.compact().expect("compact");
            }
            Op::Restart => {
                drop(spool);
                let (reopened, recovery) = Spool::open(dir.path(), options()).expect("reopen");
                prop_assert!(recovery.set_aside.is_empty(), "step {}: {:?}", step, recovery.set_aside);
                prop_assert_eq!(recovery.discarded_bytes, 0);
                spool = reopened;
                for (id, (_, body)) in &model.messages {
                    prop_assert_eq!(&spool.body(*id).expect("body"), body, "step {}: body of {}", step, id);
                }
            }
        }
        check(&spool, &model, step)?;
    }
    drop(spool);
    let (spool, _) = Spool::open(dir.path(), options()).expect("final reopen");
    check(&spool, &model, usize::MAX)
}

/// The spool lists exactly the model's messages, each with its envelope.
fn check(spool: &Spool, model: &Model, step: usize) -> Result<(), TestCaseError> {
    let listed: Vec<(QueueId, Envelope, u64)> =
        spool.list().into_iter().map(|q| (q.id, q.envelope, q.size)).collect();
    let expected: Vec<(QueueId, Envelope, u64)> = model
        .messages
        .iter()
        .map(|(id, (envelope, body))| (*id, envelope.clone(), body.len() as u64))
        .collect();
    prop_assert_eq!(listed, expected, "after step {}", step);
    for queued in spool.list() {
        let envelope = &queued.envelope;
        prop_assert!(!envelope.is_finished(), "finished message {} still queued", queued.id);
        let states = [
            RecipientState::Pending,
            RecipientState::Deferred,
            RecipientState::Delivered,
            RecipientState::Failed,
        ];
        let counted: usize = states.iter().map(|&s| envelope.count(s)).sum();
        prop_assert_eq!(counted, envelope.recipients.len(), "each recipient in exactly one state");
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn the_spool_agrees_with_the_model(ops in prop::collection::vec(op(), 1..60)) {
        run(ops, SyncMode::DangerousNone)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, ..ProptestConfig::default() })]

    #[test]
    fn the_spool_agrees_with_the_model_with_group_commit(ops in prop::collection::vec(op(), 1..40)) {
        run(ops, SyncMode::Group)?;
    }
}

/// The case the model test found: a message's removal record sits in a
/// later segment than its first record; that later segment empties out and
/// used to be deleted while the earlier one was still kept for another
/// message, so the removed message came back at the next start.
#[test]
fn a_removed_message_stays_removed_when_its_removal_segment_empties() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let options =
        || FsOptions { sync: SyncMode::DangerousNone, segment_bytes: 1_500, ..FsOptions::default() };
    let message = |n: u64| {
        Envelope::new(
            format!("s{n}@example.com"),
            vec![Recipient::new("r@example.org")],
            Timestamp(NOW.0 + n),
        )
    };
    let (spool, _) = Spool::open(dir.path(), options()).expect("open");
    let long_lived = spool.enqueue(message(0), &[b'a'; 500]).expect("enqueue");
    let removed = spool.enqueue(message(1), &[b'b'; 1_100]).expect("enqueue");
    spool.delete(removed).expect("delete"); // its removal starts segment 2
    let filler = spool.enqueue(message(2), &[b'c'; 1_600]).expect("enqueue");
    spool.delete(filler).expect("delete"); // segment 2 holds nothing live now
    drop(spool);
    let (spool, recovery) = Spool::open(dir.path(), options()).expect("reopen");
    assert!(recovery.set_aside.is_empty());
    let listed: Vec<QueueId> = spool.list().iter().map(|q| q.id).collect();
    assert_eq!(listed, [long_lived], "the deleted message came back");
}
