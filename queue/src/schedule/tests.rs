use std::time::Duration;

use proptest::prelude::*;

use super::*;
use crate::{Notify, Recipient, RecipientState};

const T0: Timestamp = Timestamp(1_700_000_000_000_000);
const MINUTE: Duration = Duration::from_secs(60);
const HOUR: Duration = Duration::from_secs(60 * 60);
const DAY: Duration = Duration::from_secs(24 * 60 * 60);

fn at(offset: Duration) -> Timestamp {
    T0.plus(offset)
}

/// Queue IDs sort by `n`, as real ones sort by arrival.
fn id(n: u64) -> QueueId {
    QueueId::from_bits(u128::from(n) << 16).expect("fits in 80 bits")
}

fn exact() -> ScheduleConfig {
    ScheduleConfig { jitter: 0.0, ..ScheduleConfig::default() }
}

fn envelope(addresses: &[&str]) -> Envelope {
    Envelope::new("alice@example.org", addresses.iter().map(|&a| Recipient::new(a)).collect(), T0)
}

/// A recipient recovered from the spool: deferred, due at `next`.
fn deferred(address: &str, next: Timestamp) -> Recipient {
    let mut recipient = Recipient::new(address);
    recipient.state = RecipientState::Deferred;
    recipient.attempts = 1;
    recipient.next_attempt = Some(next);
    recipient
}

fn insert(scheduler: &mut Scheduler, n: u64, envelope: &Envelope, now: Timestamp) {
    scheduler.insert(id(n), envelope, now, Destination::of_domain).unwrap();
}

fn batch(work: Option<Work>) -> Batch {
    match work {
        Some(Work::Deliver(batch)) => batch,
        other => panic!("expected a batch, got {other:?}"),
    }
}

fn items(pairs: &[(u64, &[usize])]) -> Vec<(QueueId, Vec<usize>)> {
    pairs.iter().map(|&(n, recipients)| (id(n), recipients.to_vec())).collect()
}

/// Reports `outcome` for every recipient of `batch`.
fn finish(scheduler: &mut Scheduler, batch: &Batch, outcome: Outcome, now: Timestamp) {
    for (id, recipients) in &batch.items {
        for &recipient in recipients {
            scheduler.handle_result(*id, recipient, outcome, now).unwrap();
        }
    }
}

#[test]
fn new_mail_is_due_at_once() {
    let mut scheduler = Scheduler::new(exact());
    insert(&mut scheduler, 1, &envelope(&["b@example.net", "c@EXAMPLE.net"]), T0);
    assert_eq!(scheduler.poll_timeout(), Some(T0));
    let batch = batch(scheduler.poll_work(T0));
    assert_eq!(batch.destination, Destination::new("example.net"));
    assert_eq!(batch.items, items(&[(1, &[0, 1])]));
    assert_eq!(scheduler.poll_work(T0), None);
    // Only the warning check is left to wait for.
    assert_eq!(scheduler.poll_timeout(), Some(at(4 * HOUR)));
}

#[test]
fn recovered_recipients_keep_their_stored_schedule() {
    let mut delivered = Recipient::new("done@example.net");
    delivered.state = RecipientState::Delivered;
    let mut failed = Recipient::new("bad@example.net");
    failed.state = RecipientState::Failed;
    let mut later = deferred("later@example.net", at(HOUR));
    later.attempts = 3;
    let fresh = Recipient::new("fresh@example.net");
    let envelope = Envelope::new("", vec![delivered, later, fresh, failed], T0);
    let mut scheduler = Scheduler::new(exact());
    let now = at(10 * MINUTE);
    insert(&mut scheduler, 1, &envelope, now);

    assert_eq!(batch(scheduler.poll_work(now)).items, items(&[(1, &[2])]));
    assert_eq!(batch(scheduler.poll_work(at(HOUR))).items, items(&[(1, &[1])]));
    // Three stored attempts plus this one: the fourth wait, 4 h.
    assert_eq!(scheduler.handle_result(id(1), 1, Outcome::Deferred, at(HOUR)), Ok(Some(at(5 * HOUR))));
    assert!(matches!(
        scheduler.handle_result(id(1), 0, Outcome::Delivered, now),
        Err(ScheduleError::NotInFlight { recipient: 0, .. })
    ));
}

#[test]
fn back_off_doubles_from_30_minutes_to_4_hours() {
    let config = ScheduleConfig { warn_after: 10 * DAY, ..exact() };
    let mut scheduler = Scheduler::new(config);
    insert(&mut scheduler, 1, &envelope(&["b@example.net"]), T0);
    let mut now = T0;
    let mut waits = Vec::new();
    for _ in 0..7 {
        assert_eq!(batch(scheduler.poll_work(now)).items, items(&[(1, &[0])]));
        let next = scheduler.handle_result(id(1), 0, Outcome::Deferred, now).unwrap().unwrap();
        waits.push(next.since(now));
        assert_eq!(scheduler.poll_timeout(), Some(next));
        assert_eq!(scheduler.poll_work(Timestamp(next.0 - 1)), None, "not before its time");
        now = next;
    }
    let expected = [30 * MINUTE, HOUR, 2 * HOUR, 4 * HOUR, 4 * HOUR, 4 * HOUR, 4 * HOUR];
    assert_eq!(waits, expected);
}

#[test]
fn an_explicit_retry_list_is_followed_and_its_last_wait_repeats() {
    let config = ScheduleConfig { warn_after: 10 * DAY, retry: vec![MINUTE, 5 * MINUTE, HOUR], ..exact() };
    let mut scheduler = Scheduler::new(config);
    insert(&mut scheduler, 1, &envelope(&["b@example.net"]), T0);
    let mut now = T0;
    let mut waits = Vec::new();
    for _ in 0..5 {
        assert_eq!(batch(scheduler.poll_work(now)).items, items(&[(1, &[0])]));
        let next = scheduler.handle_result(id(1), 0, Outcome::Deferred, now).unwrap().unwrap();
        waits.push(next.since(now));
        now = next;
    }
    assert_eq!(waits, [MINUTE, 5 * MINUTE, HOUR, HOUR, HOUR]);
    // The jitter applies to listed waits too, within its bounds.
    let jittered = ScheduleConfig { retry: vec![MINUTE], ..ScheduleConfig::default() };
    let waits: Vec<Duration> = (0..200).map(|n| jittered.back_off(id(n), 3)).collect();
    assert!(waits.iter().all(|w| (MINUTE.mul_f64(0.9)..=MINUTE.mul_f64(1.1)).contains(w)));
    assert!(waits.iter().any(|w| *w != MINUTE));
}

#[test]
fn jitter_stays_within_bounds_and_is_deterministic() {
    let config = ScheduleConfig { jitter_seed: 42, ..ScheduleConfig::default() };
    let other_seed = ScheduleConfig { jitter_seed: 43, ..config.clone() };
    for attempts in 1..=6 {
        let nominal = exact().back_off(id(0), attempts);
        let waits: Vec<Duration> = (0..1_000).map(|n| config.back_off(id(n), attempts)).collect();
        let low = nominal.mul_f64(0.9);
        let high = nominal.mul_f64(1.1);
        assert!(waits.iter().all(|w| (low..=high).contains(w)), "{attempts} attempts: outside ±10%");
        // Spread over the range, not bunched at the nominal value.
        assert!(waits.iter().any(|w| *w < nominal.mul_f64(0.95)));
        assert!(waits.iter().any(|w| *w > nominal.mul_f64(1.05)));
        let again: Vec<Duration> = (0..1_000).map(|n| config.back_off(id(n), attempts)).collect();
        assert_eq!(waits, again);
        let reseeded: Vec<Duration> = (0..1_000).map(|n| other_seed.back_off(id(n), attempts)).collect();
        assert_ne!(waits, reseeded);
    }
    // Through the public calls: recipients of one message deferred together
    // stay together, and the same seed gives the same times.
    let times = |config: &ScheduleConfig| {
        let mut scheduler = Scheduler::new(config.clone());
        insert(&mut scheduler, 7, &envelope(&["b@example.net", "c@example.net"]), T0);
        assert_eq!(batch(scheduler.poll_work(T0)).items, items(&[(7, &[0, 1])]));
        [0, 1].map(|r| scheduler.handle_result(id(7), r, Outcome::Deferred, T0).unwrap().unwrap())
    };
    let first = times(&config);
    assert_eq!(first[0], first[1]);
    assert_eq!(first, times(&config));
    assert_ne!(first, times(&other_seed));
}

#[test]
fn a_warning_comes_once_after_warn_after() {
    let mut scheduler = Scheduler::new(exact());
    let envelope = Envelope::new(
        "alice@example.org",
        vec![deferred("b@example.net", at(10 * HOUR)), deferred("c@example.org", at(10 * HOUR))],
        T0,
    );
    insert(&mut scheduler, 1, &envelope, T0);
    assert_eq!(scheduler.poll_timeout(), Some(at(4 * HOUR)));
    assert_eq!(scheduler.poll_work(Timestamp(at(4 * HOUR).0 - 1)), None);
    assert_eq!(scheduler.poll_work(at(4 * HOUR)), Some(Work::Warn { id: id(1), recipients: vec![0, 1] }));
    assert_eq!(scheduler.poll_work(at(4 * HOUR)), None);
    assert_eq!(scheduler.poll_timeout(), Some(at(10 * HOUR)));
    // Later deferrals do not warn again.
    let batch = batch(scheduler.poll_work(at(10 * HOUR)));
    finish(&mut scheduler, &batch, Outcome::Deferred, at(10 * HOUR));
    let mut now = at(10 * HOUR);
    while now < at(4 * DAY) {
        now = scheduler.poll_timeout().unwrap();
        while let Some(work) = scheduler.poll_work(now) {
            let Work::Deliver(batch) = work else { panic!("only deliveries, got {work:?}") };
            finish(&mut scheduler, &batch, Outcome::Deferred, now);
        }
    }
}

#[test]
fn warnings_respect_notify() {
    let mut scheduler = Scheduler::new(exact());
    let notify = |notify: Option<Notify>| {
        let mut recipient = deferred("b@example.net", at(DAY));
        recipient.notify = notify;
        recipient
    };
    let wants_delay = Notify { delay: true, ..Notify::NEVER };
    let failure_only = Notify { failure: true, ..Notify::NEVER };
    let recipients = vec![
        notify(None),
        notify(Some(wants_delay)),
        notify(Some(Notify::NEVER)),
        notify(Some(failure_only)),
    ];
    insert(&mut scheduler, 1, &Envelope::new("a@example.org", recipients, T0), T0);
    let silent = vec![notify(Some(Notify::NEVER)), notify(Some(failure_only))];
    insert(&mut scheduler, 2, &Envelope::new("a@example.org", silent, T0), T0);
    let mut already = notify(None);
    already.warned = true;
    insert(&mut scheduler, 3, &Envelope::new("a@example.org", vec![already, notify(None)], T0), T0);

    let now = at(4 * HOUR);
    assert_eq!(scheduler.poll_work(now), Some(Work::Warn { id: id(1), recipients: vec![0, 1] }));
    // Message 2 only wants failure reports: it is marked without any work.
    assert_eq!(scheduler.poll_work(now), Some(Work::Warn { id: id(3), recipients: vec![1] }));
    assert_eq!(scheduler.poll_work(now), None);
    assert_eq!(scheduler.poll_timeout(), Some(at(DAY)));
}

#[test]
fn recipients_in_flight_are_warned_with_their_message() {
    let mut scheduler = Scheduler::new(exact());
    let envelope = Envelope::new(
        "alice@example.org",
        vec![deferred("b@example.net", at(3 * HOUR)), deferred("c@example.org", at(9 * HOUR))],
        T0,
    );
    insert(&mut scheduler, 1, &envelope, T0);
    let batch = batch(scheduler.poll_work(at(3 * HOUR)));
    assert_eq!(scheduler.poll_work(at(4 * HOUR)), Some(Work::Warn { id: id(1), recipients: vec![0, 1] }));
    finish(&mut scheduler, &batch, Outcome::Deferred, at(5 * HOUR));
    assert_eq!(scheduler.poll_work(at(5 * HOUR)), None);
}

#[test]
fn recipients_expire_after_return_after() {
    let config = ScheduleConfig { retry_max: 4 * DAY, ..exact() };
    let mut scheduler = Scheduler::new(config);
    let mut in_flight = deferred("b@example.net", at(5 * DAY - HOUR));
    in_flight.warned = true;
    let mut waiting = deferred("c@example.org", at(6 * DAY));
    waiting.warned = true;
    let mut delivered = Recipient::new("d@example.com");
    delivered.state = RecipientState::Delivered;
    let envelope = Envelope::new("alice@example.org", vec![in_flight, waiting, delivered], T0);
    insert(&mut scheduler, 1, &envelope, T0);

    assert_eq!(scheduler.poll_timeout(), Some(at(5 * DAY - HOUR)));
    let batch = batch(scheduler.poll_work(at(5 * DAY - HOUR)));
    assert_eq!(batch.items, items(&[(1, &[0])]));
    assert_eq!(scheduler.poll_timeout(), Some(at(5 * DAY)));
    assert_eq!(scheduler.poll_work(Timestamp(at(5 * DAY).0 - 1)), None);
    assert_eq!(scheduler.poll_work(at(5 * DAY)), Some(Work::Expire { id: id(1), recipients: vec![1] }));
    assert_eq!(scheduler.poll_work(at(5 * DAY)), None);
    // The one in flight expires when it comes back deferred, and is not
    // attempted again.
    finish(&mut scheduler, &batch, Outcome::Deferred, at(5 * DAY + MINUTE));
    assert_eq!(
        scheduler.poll_work(at(5 * DAY + MINUTE)),
        Some(Work::Expire { id: id(1), recipients: vec![0] })
    );
    assert_eq!(scheduler.poll_work(at(10 * DAY)), None);
    assert_eq!(scheduler.poll_timeout(), None);
    assert!(scheduler.contains(id(1)));
    assert!(scheduler.remove(id(1)));
    assert!(scheduler.is_empty());
}

#[test]
fn a_message_past_both_deadlines_expires_without_a_warning() {
    let mut scheduler = Scheduler::new(exact());
    insert(&mut scheduler, 1, &envelope(&["b@example.net"]), at(6 * DAY));
    assert_eq!(scheduler.poll_work(at(6 * DAY)), Some(Work::Expire { id: id(1), recipients: vec![0] }));
    assert_eq!(scheduler.poll_work(at(6 * DAY)), None);
}

#[test]
fn a_recovered_message_past_warn_after_warns_at_once() {
    let mut scheduler = Scheduler::new(exact());
    insert(&mut scheduler, 1, &envelope(&["b@example.net"]), at(5 * HOUR));
    assert_eq!(scheduler.poll_work(at(5 * HOUR)), Some(Work::Warn { id: id(1), recipients: vec![0] }));
    assert_eq!(batch(scheduler.poll_work(at(5 * HOUR))).items, items(&[(1, &[0])]));
}

#[test]
fn held_messages_wait_for_release() {
    let mut scheduler = Scheduler::new(exact());
    let mut held = envelope(&["b@example.net"]);
    held.held = true;
    insert(&mut scheduler, 1, &held, T0);
    assert!(scheduler.is_held(id(1)));
    assert_eq!(scheduler.poll_work(T0), None);
    assert_eq!(scheduler.poll_timeout(), None, "held mail neither retries nor warns nor expires");
    assert_eq!(scheduler.poll_work(at(6 * DAY)), None);
    assert!(scheduler.release(id(1), at(DAY)));
    assert!(!scheduler.is_held(id(1)));
    assert_eq!(scheduler.poll_work(at(DAY)), Some(Work::Warn { id: id(1), recipients: vec![0] }));
    assert_eq!(batch(scheduler.poll_work(at(DAY))).items, items(&[(1, &[0])]));

    // Holding a message with a recipient due and one in flight.
    let fresh = Envelope { arrival: at(DAY), ..envelope(&["b@example.org", "c@example.com"]) };
    insert(&mut scheduler, 2, &fresh, at(DAY));
    let first = batch(scheduler.poll_work(at(DAY)));
    assert!(scheduler.hold(id(2)));
    assert_eq!(scheduler.poll_work(at(DAY)), None);
    // The attempt in flight finishes; its retry waits for the release,
    // which ignores the back-off.
    finish(&mut scheduler, &first, Outcome::Deferred, at(DAY));
    assert_eq!(scheduler.poll_work(at(2 * DAY)), None);
    assert!(scheduler.release(id(2), at(DAY + MINUTE)));
    let mut released: Vec<_> = std::iter::from_fn(|| scheduler.poll_work(at(DAY + MINUTE)))
        .map(|work| batch(Some(work)).destination.to_string())
        .collect();
    released.sort();
    assert_eq!(released, ["example.com", "example.org"]);

    assert!(!scheduler.hold(id(99)));
    assert!(!scheduler.release(id(99), T0));
}

#[test]
fn a_held_message_past_its_lifetime_expires_on_release() {
    let mut scheduler = Scheduler::new(exact());
    insert(&mut scheduler, 1, &envelope(&["b@example.net"]), T0);
    assert!(scheduler.hold(id(1)));
    assert_eq!(scheduler.poll_work(at(6 * DAY)), None);
    scheduler.release(id(1), at(6 * DAY));
    assert_eq!(scheduler.poll_work(at(6 * DAY)), Some(Work::Expire { id: id(1), recipients: vec![0] }));
}

#[test]
fn run_now_ignores_back_off_but_not_holds() {
    let mut scheduler = Scheduler::new(exact());
    let later = |address| Envelope::new("a@example.org", vec![deferred(address, at(3 * HOUR))], T0);
    insert(&mut scheduler, 1, &later("b@example.net"), T0);
    insert(&mut scheduler, 2, &later("c@example.org"), T0);
    insert(&mut scheduler, 3, &later("d@example.com"), T0);
    scheduler.hold(id(3));
    assert_eq!(scheduler.poll_work(at(HOUR)), None);
    assert_eq!(scheduler.run_now(at(HOUR), None), 2);
    let mut due = [batch(scheduler.poll_work(at(HOUR))), batch(scheduler.poll_work(at(HOUR)))];
    due.sort_by(|a, b| a.items.cmp(&b.items));
    assert_eq!(due[0].items, items(&[(1, &[0])]));
    assert_eq!(due[1].items, items(&[(2, &[0])]));
    assert_eq!(scheduler.poll_work(at(HOUR)), None);
    // Recipients in flight are not due again.
    assert_eq!(scheduler.run_now(at(HOUR), None), 0);
    assert_eq!(scheduler.poll_work(at(HOUR)), None);
}

#[test]
fn run_now_for_a_domain_matches_whole_labels() {
    let addresses =
        ["a@x.example.com", "b@example.com", "c@badexample.com", "d@Mail.EXAMPLE.com.", "postmaster"];
    for pattern in ["example.com", "EXAMPLE.com", ".example.com."] {
        let mut scheduler = Scheduler::new(exact());
        for (n, address) in addresses.iter().enumerate() {
            let envelope = Envelope::new("a@example.org", vec![deferred(address, at(3 * HOUR))], T0);
            insert(&mut scheduler, n as u64, &envelope, T0);
        }
        assert_eq!(scheduler.run_now(at(HOUR), Some(pattern)), 3, "-qR{pattern}");
        let mut got: Vec<_> = std::iter::from_fn(|| scheduler.poll_work(at(HOUR)))
            .map(|work| batch(Some(work)).destination.to_string())
            .collect();
        got.sort();
        assert_eq!(got, ["example.com", "mail.example.com", "x.example.com"], "-qR{pattern}");
    }
}

#[test]
fn connections_per_destination_are_capped() {
    let config = ScheduleConfig { max_per_destination: 2, max_batch_recipients: 1, ..exact() };
    let mut scheduler = Scheduler::new(config);
    for n in 0..5 {
        insert(&mut scheduler, n, &envelope(&["b@example.net"]), T0);
    }
    let first = batch(scheduler.poll_work(T0));
    let second = batch(scheduler.poll_work(T0));
    assert_eq!([&first.items, &second.items], [&items(&[(0, &[0])]), &items(&[(1, &[0])])]);
    assert_eq!(scheduler.poll_work(T0), None);
    assert_eq!(scheduler.in_flight(), 2);
    // Waiting for a slot is not waiting for time.
    assert_eq!(scheduler.poll_timeout(), Some(at(4 * HOUR)));
    finish(&mut scheduler, &first, Outcome::Delivered, T0);
    assert_eq!(batch(scheduler.poll_work(T0)).items, items(&[(2, &[0])]));
    assert_eq!(scheduler.poll_work(T0), None);
}

#[test]
fn connections_overall_are_capped() {
    let config = ScheduleConfig { max_in_flight: 3, ..exact() };
    let mut scheduler = Scheduler::new(config);
    for n in 0..5 {
        insert(&mut scheduler, n, &envelope(&[&format!("b@d{n}.example")]), T0);
    }
    let started: Vec<_> = std::iter::from_fn(|| scheduler.poll_work(T0)).map(|w| batch(Some(w))).collect();
    let destinations: Vec<_> = started.iter().map(|b| b.destination.to_string()).collect();
    assert_eq!(destinations, ["d0.example", "d1.example", "d2.example"], "oldest first");
    assert_eq!(scheduler.in_flight(), 3);
    finish(&mut scheduler, &started[1], Outcome::Failed, T0);
    assert_eq!(batch(scheduler.poll_work(T0)).destination.as_str(), "d3.example");
    assert_eq!(scheduler.poll_work(T0), None);
}

#[test]
fn one_batch_carries_several_messages_for_one_destination() {
    let mut scheduler = Scheduler::new(ScheduleConfig { max_batch_recipients: 4, ..exact() });
    // Inserted newest first: batches still list the oldest message first.
    insert(&mut scheduler, 3, &envelope(&["x@other.example", "e@example.net"]), T0);
    insert(&mut scheduler, 2, &envelope(&["c@example.net", "d@example.net", "y@other.example"]), T0);
    insert(&mut scheduler, 1, &envelope(&["a@example.net", "b@Example.NET"]), T0);
    let first = batch(scheduler.poll_work(T0));
    assert_eq!(first.destination.as_str(), "example.net");
    assert_eq!(first.items, items(&[(1, &[0, 1]), (2, &[0, 1])]));
    let second = batch(scheduler.poll_work(T0));
    assert_eq!(second.destination.as_str(), "other.example");
    assert_eq!(second.items, items(&[(2, &[2]), (3, &[0])]));
    let third = batch(scheduler.poll_work(T0));
    assert_eq!(third.items, items(&[(3, &[1])]));
    assert_eq!(scheduler.poll_work(T0), None);
}

#[test]
fn the_destination_with_the_oldest_due_message_goes_first() {
    let mut scheduler = Scheduler::new(exact());
    insert(&mut scheduler, 5, &envelope(&["a@a.example"]), T0);
    insert(&mut scheduler, 3, &envelope(&["b@b.example"]), T0);
    insert(&mut scheduler, 4, &envelope(&["c@a.example"]), T0);
    let first = batch(scheduler.poll_work(T0));
    assert_eq!((first.destination.as_str(), first.items), ("b.example", items(&[(3, &[0])])));
    assert_eq!(batch(scheduler.poll_work(T0)).items, items(&[(4, &[0]), (5, &[0])]));
}

#[test]
fn recipients_in_flight_are_handed_out_once() {
    let mut scheduler = Scheduler::new(ScheduleConfig { max_per_destination: 5, ..exact() });
    insert(&mut scheduler, 1, &envelope(&["a@example.net", "b@example.net"]), T0);
    let batch = batch(scheduler.poll_work(T0));
    assert_eq!(scheduler.run_now(at(MINUTE), None), 0);
    assert!(scheduler.release(id(1), at(MINUTE)));
    assert_eq!(scheduler.poll_work(at(DAY)), Some(Work::Warn { id: id(1), recipients: vec![0, 1] }));
    assert_eq!(scheduler.poll_work(at(DAY)), None);

    assert_eq!(scheduler.handle_result(id(1), 0, Outcome::Delivered, at(DAY)), Ok(None));
    assert_eq!(
        scheduler.handle_result(id(1), 0, Outcome::Delivered, at(DAY)),
        Err(ScheduleError::NotInFlight { id: id(1), recipient: 0 })
    );
    assert_eq!(
        scheduler.handle_result(id(1), 7, Outcome::Delivered, at(DAY)),
        Err(ScheduleError::NotInFlight { id: id(1), recipient: 7 })
    );
    assert_eq!(
        scheduler.handle_result(id(2), 0, Outcome::Delivered, at(DAY)),
        Err(ScheduleError::UnknownMessage(id(2)))
    );
    assert_eq!(scheduler.in_flight(), 1, "the connection is busy until its last recipient is done");
    finish(&mut scheduler, &Batch { items: items(&[(1, &[1])]), ..batch }, Outcome::Delivered, at(DAY));
    assert_eq!(scheduler.in_flight(), 0);
}

#[test]
fn a_slot_frees_after_the_last_result_of_its_batch() {
    let mut scheduler =
        Scheduler::new(ScheduleConfig { max_per_destination: 1, max_batch_recipients: 2, ..exact() });
    insert(&mut scheduler, 1, &envelope(&["a@example.net", "b@example.net", "c@example.net"]), T0);
    let _first = batch(scheduler.poll_work(T0));
    assert_eq!(scheduler.poll_work(T0), None);
    scheduler.handle_result(id(1), 0, Outcome::Delivered, T0).unwrap();
    assert_eq!(scheduler.poll_work(T0), None);
    scheduler.handle_result(id(1), 1, Outcome::Deferred, T0).unwrap();
    assert_eq!(batch(scheduler.poll_work(T0)).items, items(&[(1, &[2])]));
}

#[test]
fn removing_a_message_frees_its_slots() {
    let mut scheduler = Scheduler::new(ScheduleConfig { max_in_flight: 1, ..exact() });
    insert(&mut scheduler, 1, &envelope(&["a@example.net"]), T0);
    insert(&mut scheduler, 2, &envelope(&["b@example.org"]), T0);
    assert_eq!(
        scheduler.insert(id(1), &envelope(&[]), T0, Destination::of_domain),
        Err(ScheduleError::AlreadyScheduled(id(1)))
    );
    let _first = batch(scheduler.poll_work(T0));
    assert_eq!(scheduler.poll_work(T0), None);
    assert!(scheduler.remove(id(1)));
    assert!(!scheduler.remove(id(1)));
    assert_eq!(
        scheduler.handle_result(id(1), 0, Outcome::Delivered, T0),
        Err(ScheduleError::UnknownMessage(id(1)))
    );
    assert_eq!(batch(scheduler.poll_work(T0)).items, items(&[(2, &[0])]));
    assert!(scheduler.remove(id(2)));
    assert_eq!((scheduler.len(), scheduler.in_flight(), scheduler.poll_timeout()), (0, 0, None));
    scheduler.check_invariants();
}

#[test]
fn an_idle_scheduler_has_no_timeout() {
    let mut scheduler = Scheduler::new(exact());
    assert_eq!(scheduler.poll_timeout(), None);
    assert_eq!(scheduler.poll_work(T0), None);
    let mut done = Recipient::new("a@example.net");
    done.state = RecipientState::Delivered;
    insert(&mut scheduler, 1, &Envelope::new("", vec![done], T0), T0);
    assert_eq!((scheduler.poll_timeout(), scheduler.poll_work(T0), scheduler.len()), (None, None, 1));
}

#[test]
fn destination_of_domain_uses_the_last_at_sign() {
    assert_eq!(Destination::of_domain("Bob@Example.NET").as_str(), "example.net");
    assert_eq!(Destination::of_domain("\"a@b\"@example.net.").as_str(), "example.net");
    assert_eq!(Destination::of_domain("user@[192.0.2.1]").as_str(), "[192.0.2.1]");
    assert_eq!(Destination::of_domain("Postmaster").as_str(), "postmaster");
    assert_eq!(format!("{:?}", Destination::new("relay:[hub]")), "\"relay:[hub]\"");
}

#[test]
fn odd_configurations_do_not_stall_or_panic() {
    let config = ScheduleConfig {
        jitter: f64::NAN,
        max_in_flight: 0,
        max_per_destination: 0,
        max_batch_recipients: 0,
        retry_first: Duration::MAX,
        ..ScheduleConfig::default()
    };
    let mut scheduler = Scheduler::new(config);
    insert(&mut scheduler, 1, &envelope(&["a@example.net", "b@example.net"]), T0);
    assert_eq!(batch(scheduler.poll_work(T0)).items, items(&[(1, &[0])]));
    assert_eq!(scheduler.poll_work(T0), None);
    assert_eq!(scheduler.handle_result(id(1), 0, Outcome::Deferred, T0), Ok(Some(at(4 * HOUR))));
    let wild =
        ScheduleConfig { jitter: 7.0, retry_max: Duration::MAX, retry_first: Duration::MAX, ..exact() };
    assert!(wild.back_off(id(1), 40) <= Duration::MAX);
}

#[test]
fn a_large_queue_polls_without_scanning() {
    let mut scheduler = Scheduler::new(ScheduleConfig::default());
    let messages = 100_000;
    for n in 0..messages {
        let envelope = envelope(&[&format!("user{n}@d{}.example", n % 500)]);
        let due = T0.plus(Duration::from_secs(n % 3_600));
        let envelope =
            Envelope { recipients: vec![deferred(&envelope.recipients[0].address, due)], ..envelope };
        insert(&mut scheduler, n, &envelope, T0);
    }
    // Everything due: fill the connection slots.
    let now = at(HOUR);
    let started: Vec<_> = std::iter::from_fn(|| scheduler.poll_work(now)).collect();
    assert_eq!(started.len(), 20);
    // With every slot taken, polling costs a look at the heads of the indexes.
    let clock = std::time::Instant::now();
    for _ in 0..10_000 {
        assert_eq!(scheduler.poll_work(now), None);
    }
    let per_poll = clock.elapsed() / 10_000;
    assert!(per_poll < Duration::from_millis(1), "{per_poll:?} per poll");
    let Some(Work::Deliver(first)) = started.into_iter().next() else { panic!("a batch") };
    finish(&mut scheduler, &first, Outcome::Delivered, now);
    assert!(matches!(scheduler.poll_work(now), Some(Work::Deliver(_))));
}

impl Scheduler {
    /// Checks that every index agrees with the recipients' states.
    fn check_invariants(&self) {
        let mut timers = BTreeSet::new();
        let mut ready: HashMap<Destination, BTreeSet<(QueueId, usize)>> = HashMap::new();
        let mut outstanding: HashMap<u64, usize> = HashMap::new();
        let mut deadlines = BTreeSet::new();
        for (&id, message) in &self.messages {
            let (mut waiting, mut unwarned) = (0, 0);
            for (index, slot) in message.slots.iter().enumerate() {
                let Slot::Live(live) = slot else { continue };
                unwarned += usize::from(!live.warned);
                match live.phase {
                    Phase::Scheduled(due) => {
                        waiting += 1;
                        if !message.held {
                            timers.insert((due, id, index));
                        }
                    }
                    Phase::Ready(_) => {
                        assert!(!message.held, "{id} is held but has a recipient in a lane");
                        waiting += 1;
                        ready.entry(live.destination.clone()).or_default().insert((id, index));
                    }
                    Phase::InFlight(batch) => *outstanding.entry(batch).or_default() += 1,
                }
            }
            assert_eq!((message.waiting, message.unwarned), (waiting, unwarned), "counters of {id}");
            assert_eq!(message.deadline, message.next_deadline(&self.config), "deadline of {id}");
            if let Some(at) = message.deadline {
                deadlines.insert((at, id));
            }
        }
        assert_eq!(self.timers, timers);
        assert_eq!(self.deadlines, deadlines);
        let connections: HashMap<u64, usize> =
            self.connections.iter().map(|(&batch, c)| (batch, c.outstanding)).collect();
        assert_eq!(connections, outstanding);
        let mut runnable = BTreeSet::new();
        for (destination, lane) in &self.lanes.lanes {
            assert_eq!(&lane.ready, ready.get(destination).unwrap_or(&BTreeSet::new()), "lane {destination}");
            let busy = self.connections.values().filter(|c| c.destination == *destination).count();
            assert_eq!(lane.connections, busy, "connections to {destination}");
            assert!(busy <= self.lanes.per_destination);
            assert!(!lane.ready.is_empty() || busy > 0, "idle lane {destination} kept");
            if busy < self.lanes.per_destination
                && let Some(&(id, _)) = lane.ready.first()
            {
                runnable.insert((id, destination.clone()));
            }
        }
        assert_eq!(ready.keys().filter(|d| !self.lanes.lanes.contains_key(*d)).count(), 0);
        assert_eq!(self.lanes.runnable, runnable);
        assert!(self.connections.len() <= self.config.max_in_flight.max(1));
    }
}

// The model-based test: random operations against a simple model of what
// each recipient should be doing.

const DOMAINS: [&str; 4] = ["a.example", "b.example", "x.a.example", "c.test"];
const PATTERNS: [&str; 4] = ["a.example", "example", "c.test", "B.example"];

fn model_config() -> ScheduleConfig {
    ScheduleConfig {
        jitter_seed: 7,
        max_in_flight: 3,
        max_per_destination: 2,
        max_batch_recipients: 3,
        ..ScheduleConfig::default()
    }
}

#[derive(Clone, Debug)]
struct NewRecipient {
    domain: usize,
    notify: Option<Notify>,
    /// Stored next attempt, in minutes from now (negative: overdue).
    next_attempt: Option<i64>,
    attempts: u32,
    warned: bool,
    done: bool,
}

#[derive(Clone, Debug)]
enum Op {
    Insert { recipients: Vec<NewRecipient>, age_minutes: u64, held: bool },
    Poll,
    Result { pick: usize, outcome: Outcome },
    StrayResult { pick: usize, recipient: usize },
    Advance { minutes: u64 },
    Hold { pick: usize },
    Release { pick: usize },
    RunNow { pattern: Option<usize> },
    Remove { pick: usize },
}

fn new_recipient() -> impl Strategy<Value = NewRecipient> {
    let notify = prop_oneof![
        3 => Just(None),
        1 => Just(Some(Notify::NEVER)),
        1 => Just(Some(Notify { delay: true, ..Notify::NEVER })),
        1 => Just(Some(Notify { failure: true, success: true, delay: false })),
    ];
    let next_attempt = prop_oneof![2 => Just(None), 1 => (-600i64..600).prop_map(Some)];
    (0..DOMAINS.len(), notify, next_attempt, 0u32..8, prop::bool::weighted(0.2), prop::bool::weighted(0.15))
        .prop_map(|(domain, notify, next_attempt, attempts, warned, done)| NewRecipient {
            domain,
            notify,
            next_attempt,
            attempts,
            warned,
            done,
        })
}

fn op() -> impl Strategy<Value = Op> {
    let outcome = prop_oneof![Just(Outcome::Delivered), Just(Outcome::Deferred), Just(Outcome::Failed)];
    let age = prop_oneof![4 => Just(0u64), 1 => 0u64..9_000];
    prop_oneof![
        4 => (prop::collection::vec(new_recipient(), 0..5), age, prop::bool::weighted(0.1))
            .prop_map(|(recipients, age_minutes, held)| Op::Insert { recipients, age_minutes, held }),
        6 => Just(Op::Poll),
        6 => (any::<usize>(), outcome).prop_map(|(pick, outcome)| Op::Result { pick, outcome }),
        1 => (any::<usize>(), 0usize..6).prop_map(|(pick, recipient)| Op::StrayResult { pick, recipient }),
        4 => prop_oneof![3 => 0u64..120, 1 => 0u64..3_000].prop_map(|minutes| Op::Advance { minutes }),
        1 => any::<usize>().prop_map(|pick| Op::Hold { pick }),
        1 => any::<usize>().prop_map(|pick| Op::Release { pick }),
        1 => prop::option::of(0..PATTERNS.len()).prop_map(|pattern| Op::RunNow { pattern }),
        1 => any::<usize>().prop_map(|pick| Op::Remove { pick }),
    ]
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Expected {
    Waiting(Timestamp),
    InFlight,
    Done,
}

#[derive(Debug)]
struct ModelRecipient {
    address: String,
    state: Expected,
    attempts: u32,
    warned: bool,
    wants_delay_report: bool,
}

#[derive(Debug)]
struct ModelMessage {
    id: QueueId,
    arrival: Timestamp,
    held: bool,
    removed: bool,
    recipients: Vec<ModelRecipient>,
}

/// A connection handed out: its destination and the recipients still out.
#[derive(Debug)]
struct ModelBatch {
    destination: Destination,
    out: Vec<(usize, usize)>,
}

struct Model {
    config: ScheduleConfig,
    scheduler: Scheduler,
    now: Timestamp,
    messages: Vec<ModelMessage>,
    batches: Vec<ModelBatch>,
}

impl Model {
    fn new() -> Self {
        let config = model_config();
        Self {
            scheduler: Scheduler::new(config.clone()),
            config,
            now: T0,
            messages: Vec::new(),
            batches: Vec::new(),
        }
    }

    fn index_of(&self, id: QueueId) -> usize {
        self.messages.iter().position(|m| m.id == id).expect("the scheduler names known messages")
    }

    fn apply(&mut self, op: &Op) {
        match op {
            Op::Insert { recipients, age_minutes, held } => self.insert(recipients, *age_minutes, *held),
            Op::Poll => self.drain(),
            Op::Result { pick, outcome } => {
                let out: Vec<(usize, usize, usize)> = (self.batches.iter().enumerate())
                    .flat_map(|(b, batch)| batch.out.iter().map(move |&(m, r)| (b, m, r)))
                    .collect();
                if !out.is_empty() {
                    let (b, m, r) = out[pick % out.len()];
                    self.result(b, m, r, *outcome);
                }
            }
            Op::StrayResult { pick, recipient } => {
                if let Some(m) = (!self.messages.is_empty()).then(|| pick % self.messages.len()) {
                    let message = &self.messages[m];
                    let in_flight = !message.removed
                        && message.recipients.get(*recipient).is_some_and(|r| r.state == Expected::InFlight);
                    if !in_flight {
                        let got = self.scheduler.handle_result(
                            message.id,
                            *recipient,
                            Outcome::Delivered,
                            self.now,
                        );
                        assert!(
                            got.is_err(),
                            "a result for {} #{recipient} that is not out: {got:?}",
                            message.id
                        );
                    }
                }
            }
            Op::Advance { minutes } => self.now = self.now.plus(MINUTE * *minutes as u32),
            Op::Hold { pick } => {
                if let Some(message) = pick_message(&mut self.messages, *pick) {
                    assert_eq!(self.scheduler.hold(message.id), !message.removed);
                    message.held |= !message.removed;
                }
            }
            Op::Release { pick } => {
                if let Some(message) = pick_message(&mut self.messages, *pick) {
                    assert_eq!(self.scheduler.release(message.id, self.now), !message.removed);
                    if message.held && !message.removed {
                        message.held = false;
                        for recipient in &mut message.recipients {
                            if let Expected::Waiting(_) = recipient.state {
                                recipient.state = Expected::Waiting(self.now);
                            }
                        }
                    }
                }
            }
            Op::RunNow { pattern } => self.run_now(pattern.map(|p| PATTERNS[p])),
            Op::Remove { pick } => {
                if let Some(m) = (!self.messages.is_empty()).then(|| pick % self.messages.len()) {
                    assert_eq!(self.scheduler.remove(self.messages[m].id), !self.messages[m].removed);
                    self.messages[m].removed = true;
                    for batch in &mut self.batches {
                        batch.out.retain(|&(other, _)| other != m);
                    }
                    self.batches.retain(|batch| !batch.out.is_empty());
                }
            }
        }
        self.check();
    }

    fn insert(&mut self, recipients: &[NewRecipient], age_minutes: u64, held: bool) {
        let id = id(self.messages.len() as u64);
        let arrival = Timestamp(self.now.0.saturating_sub(age_minutes * 60_000_000));
        let stored: Vec<Recipient> = recipients
            .iter()
            .enumerate()
            .map(|(n, new)| {
                let mut recipient = Recipient::new(format!("user{n}@{}", DOMAINS[new.domain]));
                recipient.notify = new.notify;
                recipient.attempts = new.attempts;
                recipient.warned = new.warned;
                recipient.next_attempt =
                    new.next_attempt.map(|m| Timestamp(self.now.0.saturating_add_signed(m * 60_000_000)));
                recipient.state = match (new.done, new.attempts) {
                    (true, _) => RecipientState::Delivered,
                    (false, 0) => RecipientState::Pending,
                    (false, _) => RecipientState::Deferred,
                };
                recipient
            })
            .collect();
        let mut envelope = Envelope::new("alice@example.org", stored, arrival);
        envelope.held = held;
        self.scheduler.insert(id, &envelope, self.now, Destination::of_domain).unwrap();
        let recipients = envelope
            .recipients
            .iter()
            .map(|r| ModelRecipient {
                address: r.address.clone(),
                state: if r.state.is_pending() {
                    Expected::Waiting(r.next_attempt.unwrap_or(self.now))
                } else {
                    Expected::Done
                },
                attempts: r.attempts,
                warned: r.warned,
                wants_delay_report: r.notify.is_none_or(|n| n.delay),
            })
            .collect();
        self.messages.push(ModelMessage { id, arrival, held, removed: false, recipients });
    }

    fn drain(&mut self) {
        for _ in 0..10_000 {
            let Some(work) = self.scheduler.poll_work(self.now) else {
                self.check_quiet();
                return;
            };
            match work {
                Work::Deliver(batch) => self.deliver(batch),
                Work::Warn { id, recipients } => self.warn(id, &recipients),
                Work::Expire { id, recipients } => self.expire(id, &recipients),
            }
        }
        panic!("poll_work never ran dry");
    }

    fn deliver(&mut self, batch: Batch) {
        let count: usize = batch.items.iter().map(|(_, r)| r.len()).sum();
        assert!((1..=self.config.max_batch_recipients).contains(&count), "batch of {count}");
        assert!(batch.items.windows(2).all(|w| w[0].0 < w[1].0), "messages oldest first, once each");
        let mut out = Vec::new();
        for (id, recipients) in &batch.items {
            let m = self.index_of(*id);
            let message = &mut self.messages[m];
            assert!(!message.held && !message.removed, "{id} handed out while held or removed");
            assert!(!recipients.is_empty() && recipients.windows(2).all(|w| w[0] < w[1]));
            for &r in recipients {
                let recipient = &mut message.recipients[r];
                let Expected::Waiting(due) = recipient.state else {
                    panic!("{id} #{r} handed out while {:?}", recipient.state)
                };
                assert!(due <= self.now, "{id} #{r} handed out before {due:?}");
                assert_eq!(Destination::of_domain(&recipient.address), batch.destination);
                recipient.state = Expected::InFlight;
                out.push((m, r));
            }
        }
        self.batches.push(ModelBatch { destination: batch.destination.clone(), out });
        let to_destination = self.batches.iter().filter(|b| b.destination == batch.destination).count();
        assert!(
            to_destination <= self.config.max_per_destination,
            "{to_destination} to {}",
            batch.destination
        );
        assert!(self.batches.len() <= self.config.max_in_flight);
    }

    fn warn(&mut self, id: QueueId, recipients: &[usize]) {
        let now = self.now;
        let (warn_after, return_after) = (self.config.warn_after, self.config.return_after);
        let m = self.index_of(id);
        let message = &mut self.messages[m];
        assert!(!message.held && !message.removed);
        assert!(now >= message.arrival.plus(warn_after) && now < message.arrival.plus(return_after));
        let expected: Vec<usize> = (message.recipients.iter().enumerate())
            .filter(|(_, r)| r.state != Expected::Done && !r.warned && r.wants_delay_report)
            .map(|(index, _)| index)
            .collect();
        assert_eq!(recipients, expected, "warning for {id}");
        for recipient in &mut message.recipients {
            recipient.warned |= recipient.state != Expected::Done;
        }
    }

    fn expire(&mut self, id: QueueId, recipients: &[usize]) {
        let now = self.now;
        let return_after = self.config.return_after;
        let m = self.index_of(id);
        let message = &mut self.messages[m];
        assert!(!message.held && !message.removed);
        assert!(now >= message.arrival.plus(return_after));
        let expected: Vec<usize> = (message.recipients.iter().enumerate())
            .filter(|(_, r)| matches!(r.state, Expected::Waiting(_)))
            .map(|(index, _)| index)
            .collect();
        assert_eq!(recipients, expected, "expiry of {id}");
        for recipient in &mut message.recipients {
            // Past its lifetime a recipient is never warned.
            recipient.warned = true;
            if let Expected::Waiting(_) = recipient.state {
                recipient.state = Expected::Done;
            }
        }
    }

    fn result(&mut self, b: usize, m: usize, r: usize, outcome: Outcome) {
        let message = &mut self.messages[m];
        let recipient = &mut message.recipients[r];
        let got = self.scheduler.handle_result(message.id, r, outcome, self.now).unwrap();
        recipient.attempts += 1;
        match outcome {
            Outcome::Deferred => {
                let due = got.expect("a deferred recipient gets its next attempt");
                let nominal = (self.config.retry_first * 2u32.pow(recipient.attempts.min(20) - 1))
                    .min(self.config.retry_max);
                let wait = due.since(self.now);
                assert!(
                    wait >= nominal.mul_f64(0.9) && wait <= nominal.mul_f64(1.1),
                    "waits {wait:?} for {nominal:?}"
                );
                recipient.state = Expected::Waiting(due);
            }
            Outcome::Delivered | Outcome::Failed => {
                assert_eq!(got, None);
                recipient.state = Expected::Done;
            }
        }
        self.batches[b].out.retain(|&entry| entry != (m, r));
        if self.batches[b].out.is_empty() {
            self.batches.remove(b);
        }
    }

    fn run_now(&mut self, pattern: Option<&str>) {
        let mut expected = 0;
        for message in self.messages.iter_mut().filter(|m| !m.held && !m.removed) {
            for recipient in &mut message.recipients {
                if let Expected::Waiting(due) = recipient.state
                    && pattern.is_none_or(|p| crate::in_domain(&recipient.address, p))
                {
                    expected += 1;
                    recipient.state = Expected::Waiting(due.min(self.now));
                }
            }
        }
        assert_eq!(self.scheduler.run_now(self.now, pattern), expected, "-qR{pattern:?}");
    }

    /// The scheduler agrees with the model about every recipient.
    fn check(&self) {
        self.scheduler.check_invariants();
        let live = self.messages.iter().filter(|m| !m.removed).count();
        assert_eq!(self.scheduler.len(), live);
        assert_eq!(self.scheduler.in_flight(), self.batches.len());
        for message in self.messages.iter().filter(|m| !m.removed) {
            let scheduled = &self.scheduler.messages[&message.id];
            assert_eq!(scheduled.held, message.held);
            assert_eq!(scheduled.slots.len(), message.recipients.len());
            for (r, (slot, expected)) in scheduled.slots.iter().zip(&message.recipients).enumerate() {
                let actual = match slot {
                    Slot::Done => Expected::Done,
                    Slot::Live(Live { phase: Phase::Scheduled(due) | Phase::Ready(due), .. }) => {
                        Expected::Waiting(*due)
                    }
                    Slot::Live(Live { phase: Phase::InFlight(_), .. }) => Expected::InFlight,
                };
                assert_eq!(actual, expected.state, "{} #{r}", message.id);
            }
        }
    }

    /// With `poll_work` dry, nothing due is left undone unless a cap holds it.
    fn check_quiet(&self) {
        assert!(self.scheduler.poll_timeout().is_none_or(|t| t > self.now), "poll_timeout in the past");
        for message in self.messages.iter().filter(|m| !m.held && !m.removed) {
            let pending = message.recipients.iter().filter(|r| r.state != Expected::Done);
            if self.now >= message.arrival.plus(self.config.return_after) {
                assert!(
                    !pending.clone().any(|r| matches!(r.state, Expected::Waiting(_))),
                    "{} not expired",
                    message.id
                );
            } else if self.now >= message.arrival.plus(self.config.warn_after) {
                assert!(
                    !pending.clone().any(|r| !r.warned && r.wants_delay_report),
                    "{} not warned",
                    message.id
                );
            }
            for recipient in pending {
                if let Expected::Waiting(due) = recipient.state
                    && due <= self.now
                {
                    let destination = Destination::of_domain(&recipient.address);
                    let busy = self.batches.iter().filter(|b| b.destination == destination).count();
                    assert!(
                        self.batches.len() == self.config.max_in_flight
                            || busy == self.config.max_per_destination,
                        "{} due for {destination} but not handed out",
                        message.id
                    );
                }
            }
        }
    }

    /// Releases everything and keeps delivering: every recipient must end
    /// up done within the message lifetime.
    fn settle(&mut self) {
        for m in 0..self.messages.len() {
            if self.messages[m].held && !self.messages[m].removed {
                self.apply(&Op::Release { pick: m });
            }
        }
        let give_up = self.now.plus(self.config.return_after + DAY);
        loop {
            while let Some(batch) = self.batches.first() {
                let (m, r) = batch.out[0];
                self.result(0, m, r, Outcome::Delivered);
            }
            self.drain();
            self.check();
            if self.batches.is_empty() {
                match self.scheduler.poll_timeout() {
                    None => break,
                    Some(next) => self.now = next,
                }
            }
            assert!(self.now <= give_up, "still busy at {:?}", self.now);
        }
        for message in self.messages.iter().filter(|m| !m.removed) {
            for (r, recipient) in message.recipients.iter().enumerate() {
                assert_eq!(recipient.state, Expected::Done, "{} #{r} lost", message.id);
            }
        }
    }
}

fn pick_message(messages: &mut [ModelMessage], pick: usize) -> Option<&mut ModelMessage> {
    let len = messages.len();
    (len > 0).then(|| &mut messages[pick % len])
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn random_operations_keep_every_recipient_accounted_for(ops in prop::collection::vec(op(), 1..120)) {
        let mut model = Model::new();
        for op in &ops {
            model.apply(op);
        }
        model.settle();
    }
}
