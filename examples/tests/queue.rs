//! `smarthost queue list|run|hold|release|delete|bounce` on a spool that the
//! test builds with `smarthost_queue::Spool`.

mod common;

use common::{Outcome, SMARTHOST, Scratch, Stdin};
use smarthost_queue::{Envelope, FsOptions, QueueId, Recipient, RecipientState, Spool, Timestamp};

/// 2023-11-14 22:13:20 UTC.
const ARRIVAL: Timestamp = Timestamp(1_700_000_000_000_000);
/// 2100-01-01 00:00:00 UTC: nothing is due before a `queue run`.
const LATER: Timestamp = Timestamp(4_102_444_800_000_000);
/// A well-formed ID that no spool in these tests holds.
const UNKNOWN: &str = "01JD3X4Q7ZK2M9TA";

fn smarthost(scratch: &Scratch, args: &[&str]) -> Outcome {
    scratch.run(SMARTHOST, args, Stdin::Null)
}

fn open(scratch: &Scratch) -> Spool {
    Spool::open(scratch.path("spool"), FsOptions::default()).expect("open the spool").0
}

/// Alice's message to two recipients (one deferred until 2100 with a
/// reply that needs escaping), and a held bounce with the null sender.
fn fill(spool: &Spool) -> (QueueId, QueueId) {
    let first = Envelope::new(
        "alice@example.com",
        vec![Recipient::new("bob@example.org"), Recipient::new("carol@mx.example.net")],
        ARRIVAL,
    );
    let first = spool.enqueue(first, b"Subject: hi\r\n\r\nhello\r\n").unwrap();
    spool
        .update(first, |envelope| {
            let carol = &mut envelope.recipients[1];
            carol.state = RecipientState::Deferred;
            carol.attempts = 2;
            carol.next_attempt = Some(LATER);
            carol.last_reply = Some("451 4.3.0 \"try\" later\r\n".to_string());
        })
        .unwrap();
    let second =
        Envelope::new("", vec![Recipient::new("dave@example.org")], Timestamp(ARRIVAL.0 + 61_000_000));
    let second = spool.enqueue(second, &[b'x'; 1234]).unwrap();
    spool.hold(second).unwrap();
    (first, second)
}

#[test]
fn an_empty_queue() {
    let scratch = Scratch::new();
    drop(open(&scratch));
    let text = smarthost(&scratch, &["queue", "list"]);
    assert_eq!((text.code, text.stdout_text().as_str()), (0, "Mail queue is empty\n"), "{}", text.stderr);
    let json = smarthost(&scratch, &["queue", "list", "--format", "json"]);
    assert_eq!((json.code, json.stdout_text().as_str()), (0, "[]\n"), "{}", json.stderr);
}

#[test]
fn list_as_text() {
    let scratch = Scratch::new();
    let (first, second) = fill(&open(&scratch));
    let listed = smarthost(&scratch, &["queue", "list"]);
    let expected = format!(
        "spool (2 requests)\n\
         -----Queue ID----- --Size-- ----Arrival (UTC)--- --Sender/Recipient--\n\
         {first}         22 2023-11-14 22:13:20 <alice@example.com>\n\
         \x20   <bob@example.org> pending, 0 attempts\n\
         \x20   <carol@mx.example.net> deferred, 2 attempts, next 2100-01-01 00:00:00, \
         last reply: 451 4.3.0 \"try\" later\\r\\n\n\
         {second}       1234 2023-11-14 22:14:21 <> (held)\n\
         \x20   <dave@example.org> pending, 0 attempts\n"
    );
    assert_eq!((listed.code, listed.stdout_text()), (0, expected), "{}", listed.stderr);
}

#[test]
fn list_as_json() {
    let scratch = Scratch::new();
    let (first, second) = fill(&open(&scratch));
    let listed = smarthost(&scratch, &["queue", "list", "--spool", "spool", "--format", "json"]);
    let expected = format!(
        "[\n  \
         {{\"id\":\"{first}\",\"size\":22,\"arrival\":\"2023-11-14 22:13:20\",\"sender\":\"alice@example.com\",\
         \"held\":false,\"recipients\":[\
         {{\"address\":\"bob@example.org\",\"state\":\"pending\",\"attempts\":0,\"next_attempt\":null,\
         \"last_reply\":null}},\
         {{\"address\":\"carol@mx.example.net\",\"state\":\"deferred\",\"attempts\":2,\
         \"next_attempt\":\"2100-01-01 00:00:00\",\"last_reply\":\"451 4.3.0 \\\"try\\\" later\\r\\n\"}}]}},\n  \
         {{\"id\":\"{second}\",\"size\":1234,\"arrival\":\"2023-11-14 22:14:21\",\"sender\":\"\",\
         \"held\":true,\"recipients\":[\
         {{\"address\":\"dave@example.org\",\"state\":\"pending\",\"attempts\":0,\"next_attempt\":null,\
         \"last_reply\":null}}]}}\n\
         ]\n"
    );
    assert_eq!((listed.code, listed.stdout_text()), (0, expected), "{}", listed.stderr);
}

#[test]
fn list_works_while_a_relay_holds_the_lock() {
    let scratch = Scratch::new();
    let spool = open(&scratch);
    let (first, _) = fill(&spool);
    let listed = smarthost(&scratch, &["queue", "list"]);
    assert_eq!(listed.code, 0, "{}", listed.stderr);
    assert!(listed.stdout_text().contains(&first.to_string()), "{}", listed.stdout_text());
}

#[test]
fn run_makes_pending_recipients_due() {
    let scratch = Scratch::new();
    let (first, second) = fill(&open(&scratch));
    let before = Timestamp::now();
    let run = smarthost(&scratch, &["queue", "run"]);
    // The held message's recipient stays as it is.
    assert_eq!(
        (run.code, run.stdout_text().as_str()),
        (0, "2 recipients made due now; the relay's queue runner delivers them\n"),
        "{}",
        run.stderr
    );
    let spool = open(&scratch);
    for recipient in spool.envelope(first).unwrap().recipients {
        let due = recipient.next_attempt.expect("made due");
        assert!(due >= before && due <= Timestamp::now(), "{recipient:?}");
    }
    assert_eq!(spool.envelope(second).unwrap().recipients[0].next_attempt, None);
}

#[test]
fn run_for_one_domain() {
    let scratch = Scratch::new();
    let (first, _) = fill(&open(&scratch));
    let run = smarthost(&scratch, &["queue", "run", "--domain", "example.net"]);
    assert_eq!(
        (run.code, run.stdout_text().as_str()),
        (0, "1 recipient made due now; the relay's queue runner delivers them\n"),
        "{}",
        run.stderr
    );
    let recipients = open(&scratch).envelope(first).unwrap().recipients;
    assert_eq!(recipients[0].next_attempt, None, "bob is not in example.net");
    assert!(recipients[1].next_attempt.unwrap() < LATER, "carol@mx.example.net is");
    let none = smarthost(&scratch, &["queue", "run", "--domain", "example.com"]);
    assert_eq!(none.stdout_text(), "0 recipients made due now; the relay's queue runner delivers them\n");
}

#[test]
fn hold_and_release() {
    let scratch = Scratch::new();
    let (first, second) = fill(&open(&scratch));
    let (first_id, second_id) = (first.to_string(), second.to_string());
    let held = smarthost(&scratch, &["queue", "hold", &first_id]);
    assert_eq!((held.code, held.stdout_text()), (0, format!("{first}: held\n")), "{}", held.stderr);
    assert!(open(&scratch).envelope(first).unwrap().held);

    // Lower case is accepted, as Crockford base32 allows.
    let lower = second_id.to_ascii_lowercase();
    let released = smarthost(&scratch, &["queue", "release", &first_id, &lower, "--spool", "spool"]);
    assert_eq!(
        (released.code, released.stdout_text()),
        (0, format!("{first}: released\n{second}: released\n")),
        "{}",
        released.stderr
    );
    let spool = open(&scratch);
    for id in [first, second] {
        let envelope = spool.envelope(id).unwrap();
        assert!(!envelope.held);
        assert!(envelope.recipients.iter().all(|r| r.next_attempt.is_some_and(|t| t < LATER)));
    }
}

#[test]
fn delete_and_bounce() {
    let scratch = Scratch::new();
    let (first, second) = fill(&open(&scratch));
    let deleted = smarthost(&scratch, &["queue", "delete", &second.to_string()]);
    assert_eq!(
        (deleted.code, deleted.stdout_text()),
        (0, format!("{second}: deleted\n")),
        "{}",
        deleted.stderr
    );
    let bounced = smarthost(&scratch, &["queue", "bounce", &first.to_string()]);
    assert_eq!(
        (bounced.code, bounced.stdout_text()),
        (0, format!("{first}: bounced\n")),
        "{}",
        bounced.stderr
    );

    let spool = open(&scratch);
    assert_eq!(spool.envelope(second), None);
    // The message stays until the relay has sent the failure report.
    for recipient in spool.envelope(first).unwrap().recipients {
        assert_eq!(recipient.state, RecipientState::Failed);
        assert_eq!(recipient.last_reply.as_deref(), Some("5.0.0 bounced by the operator"));
    }
}

#[test]
fn an_unknown_id_is_reported_and_the_others_are_done() {
    let scratch = Scratch::new();
    let (first, _) = fill(&open(&scratch));
    let held = smarthost(&scratch, &["queue", "hold", UNKNOWN, &first.to_string()]);
    assert_eq!((held.code, held.stdout_text()), (1, format!("{first}: held\n")));
    assert!(held.stderr.contains(&format!("{UNKNOWN}: no such message in the queue")), "{}", held.stderr);
    assert!(open(&scratch).envelope(first).unwrap().held);
}

#[test]
fn a_bad_id_stops_everything() {
    let scratch = Scratch::new();
    let (first, _) = fill(&open(&scratch));
    let deleted = smarthost(&scratch, &["queue", "delete", &first.to_string(), "not-an-id"]);
    assert_eq!((deleted.code, deleted.stdout_text().as_str()), (2, ""));
    assert!(
        deleted.stderr.contains("`not-an-id` is not a queue ID")
            && deleted.stderr.contains("nothing was done"),
        "{}",
        deleted.stderr
    );
    assert!(open(&scratch).envelope(first).is_some());
}

#[test]
fn a_locked_spool_says_what_to_do() {
    let scratch = Scratch::new();
    let spool = open(&scratch);
    let (first, _) = fill(&spool);
    for args in [&["queue", "run"][..], &["queue", "hold", &first.to_string()]] {
        let refused = smarthost(&scratch, args);
        assert_eq!((refused.code, refused.stdout_text().as_str()), (2, ""), "{args:?}");
        assert!(
            refused.stderr.contains("the spool is in use by another smarthost process")
                && refused.stderr.contains("read-only commands"),
            "{}",
            refused.stderr
        );
    }
    assert!(!spool.envelope(first).unwrap().held);
}

#[test]
fn a_missing_spool_is_not_created() {
    let scratch = Scratch::new();
    for args in
        [&["queue", "list"][..], &["queue", "run", "--spool", "elsewhere"], &["queue", "hold", UNKNOWN]]
    {
        let refused = smarthost(&scratch, args);
        assert_eq!(refused.code, 2, "{args:?}");
        assert!(refused.stderr.contains("no spool here"), "{}", refused.stderr);
    }
    assert!(!scratch.exists("spool") && !scratch.exists("elsewhere"));
}
