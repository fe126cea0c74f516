//! The retry schedule: which recipients to attempt, warn about or give up on,
//! and when.
//!
//! [`Scheduler`] is a plain state machine. It never reads a clock, sleeps,
//! opens a connection or touches the spool: the caller passes `now` into
//! every call, does the work it hands out, reports back, and persists what
//! it learns (the next attempt time, the `warned` flag, failures). The same
//! calls rebuild the schedule from the spool after a restart, so the
//! scheduler itself keeps nothing that is not also in the envelopes.
//!
//! The rules, with their sendmail names (smtp.md §6 and §11, dsn.md §7):
//!
//! * New mail is due at once. A temporary failure retries after
//!   [`ScheduleConfig::retry_first`], doubling per attempt up to
//!   [`ScheduleConfig::retry_max`] (30 min, 1 h, 2 h, 4 h, 4 h, …), or
//!   after the waits of an explicit [`ScheduleConfig::retry`] list (the
//!   relay's `[queue] retry`), spread by a deterministic jitter so that a
//!   queue full of mail deferred by one outage does not retry in one burst.
//! * After [`ScheduleConfig::warn_after`] (`Timeout.queuewarn`) the pending
//!   recipients that asked for delay reports get one warning.
//! * After [`ScheduleConfig::return_after`] (`Timeout.queuereturn`) the
//!   pending recipients expire: the caller fails them with `4.4.7` and
//!   reports them.
//! * Due recipients are grouped by next hop, so one connection carries many
//!   messages, within caps on connections overall and per next hop.

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::{Envelope, QueueId, Timestamp};

/// How the [`Scheduler`] paces attempts and reports.
///
/// The defaults are those of smtp.md §6. The scheduler does not enforce the
/// RFC 5321 minimum retry interval: the configuration loader refuses or
/// clamps values below it before they get here.
#[derive(Clone, Debug, PartialEq)]
pub struct ScheduleConfig {
    /// The wait after the first temporary failure (30 min).
    pub retry_first: Duration,
    /// The longest wait between attempts (4 h): the wait doubles after each
    /// temporary failure until it reaches this.
    pub retry_max: Duration,
    /// The waits after the first, second, … temporary failure, the last one
    /// repeating (`["1m", "5m", "30m"]`: 1 min, 5 min, 30 min, 30 min, …).
    /// Empty (the default): `retry_first` doubling up to `retry_max`. The
    /// jitter applies either way.
    pub retry: Vec<Duration>,
    /// How far each wait may stray from its nominal value, as a fraction
    /// (0.1: ±10%). Values outside `0.0..=1.0` are clamped; NaN counts as 0.
    pub jitter: f64,
    /// Seeds the jitter, which is otherwise a pure function of the message,
    /// so a test (or a replayed run) sees the same times every run.
    pub jitter_seed: u64,
    /// When pending recipients get a delay report, counted from arrival
    /// (4 h; sendmail's `Timeout.queuewarn`).
    pub warn_after: Duration,
    /// When pending recipients expire, counted from arrival (5 days;
    /// sendmail's `Timeout.queuereturn`).
    pub return_after: Duration,
    /// Connection attempts in flight at once, over all destinations (20).
    /// Values below 1 count as 1.
    pub max_in_flight: usize,
    /// Connection attempts in flight at once to one destination (2). Values
    /// below 1 count as 1.
    pub max_per_destination: usize,
    /// Recipients handed out for one connection (100), over all its
    /// messages. Values below 1 count as 1.
    pub max_batch_recipients: usize,
}

impl Default for ScheduleConfig {
    fn default() -> Self {
        Self {
            retry_first: Duration::from_secs(30 * 60),
            retry_max: Duration::from_secs(4 * 60 * 60),
            retry: Vec::new(),
            jitter: 0.1,
            jitter_seed: 0,
            warn_after: Duration::from_secs(4 * 60 * 60),
            return_after: Duration::from_secs(5 * 24 * 60 * 60),
            max_in_flight: 20,
            max_per_destination: 2,
            max_batch_recipients: 100,
        }
    }
}

/// A next hop: recipients with equal keys may share a connection, and the
/// per-destination connection cap counts per key.
///
/// The key is opaque to the scheduler, which cannot route. The relay uses
/// its next-hop key (`relay:[hub.example.net]`, or an MX domain);
/// [`Destination::of_domain`] is the simple choice of one key per domain.
/// Cloning is cheap.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Destination(Arc<str>);

impl Destination {
    /// A destination with the given key, as is.
    pub fn new(key: &str) -> Self {
        Self(key.into())
    }

    /// One destination per recipient domain: the text after the last `@`,
    /// lower-cased, without a trailing dot. An address without `@` (an
    /// unqualified local name) is its own key.
    ///
    /// ```
    /// use smarthost_queue::Destination;
    /// assert_eq!(Destination::of_domain("\"a@b\"@Mail.Example.ORG.").as_str(), "mail.example.org");
    /// ```
    pub fn of_domain(address: &str) -> Self {
        Self(domain_of(address).unwrap_or(address).to_ascii_lowercase().into())
    }

    /// The key.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Destination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl fmt::Display for Destination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Something the caller should do now; see [`Scheduler::poll_work`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Work {
    /// Open a connection to the destination and attempt these recipients,
    /// then report each one through [`Scheduler::handle_result`].
    Deliver(Batch),
    /// Send one delay report (`Action: delayed`) for these recipients of
    /// the message and persist their `warned` flag. Recipients whose
    /// `NOTIFY` excludes `DELAY` are never listed.
    Warn {
        /// The message.
        id: QueueId,
        /// Indexes into its [`Envelope::recipients`], ascending.
        recipients: Vec<usize>,
    },
    /// The message's lifetime is over: fail these recipients with a timeout
    /// (`4.4.7`), report them as failed, and persist that. The scheduler
    /// has already stopped scheduling them.
    Expire {
        /// The message.
        id: QueueId,
        /// Indexes into its [`Envelope::recipients`], ascending.
        recipients: Vec<usize>,
    },
}

/// Recipients for one connection to one destination.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Batch {
    /// Where to connect.
    pub destination: Destination,
    /// One entry per message (one SMTP transaction each), oldest message
    /// first, with indexes into its [`Envelope::recipients`], ascending.
    pub items: Vec<(QueueId, Vec<usize>)>,
}

/// How an attempt for one recipient ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The next hop took responsibility: never attempted again.
    Delivered,
    /// A temporary failure: attempted again after a back-off.
    Deferred,
    /// A permanent failure: never attempted again; the caller reports it.
    Failed,
}

/// A call the scheduler cannot make sense of: a bug in the caller, or a
/// result for a message that was removed while it was in flight.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ScheduleError {
    /// [`Scheduler::insert`] of a message that is already scheduled.
    #[error("message {0} is already scheduled; remove it before inserting it again")]
    AlreadyScheduled(QueueId),
    /// A result for a message the scheduler does not know.
    #[error("message {0} is not scheduled: it was removed, or never inserted")]
    UnknownMessage(QueueId),
    /// A result for a recipient that was not handed out, or whose result
    /// was already reported.
    #[error(
        "recipient {recipient} of message {id} is not in flight: report exactly one result for \
         each recipient that poll_work handed out"
    )]
    NotInFlight {
        /// The message.
        id: QueueId,
        /// The recipient's index.
        recipient: usize,
    },
}

/// The queue's schedule: decides what to attempt, warn about and expire,
/// and when.
///
/// # Calling order
///
/// 1. [`insert`](Self::insert) every queued message: at start-up from the
///    spool, then each new message once it is on stable storage.
/// 2. Drain [`poll_work`](Self::poll_work) until it returns `None`, doing
///    each piece of [`Work`]. Every recipient in a [`Work::Deliver`] batch
///    gets exactly one [`handle_result`](Self::handle_result); persist the
///    next attempt time it returns. The batch's connection slot is free
///    once its last recipient has its result.
/// 3. Sleep until [`poll_timeout`](Self::poll_timeout), or until a result,
///    a new message or an operator command ([`hold`](Self::hold),
///    [`release`](Self::release), [`run_now`](Self::run_now),
///    [`remove`](Self::remove)) arrives; then go to 2.
///
/// # Cost
///
/// With `n` waiting recipients overall and `r` recipients in a message:
/// `poll_work` and `handle_result` take O(log n) (plus O(r) for a message
/// that warns or expires, and O(b log n) for a batch of `b`); making due
/// recipients ready costs O(log n) each, once. `insert`, `remove`, `hold`
/// and `release` take O(r log n). Only [`run_now`](Self::run_now) visits
/// every message, as a queue run does.
#[derive(Debug)]
pub struct Scheduler {
    config: ScheduleConfig,
    messages: HashMap<QueueId, Message>,
    /// Waiting recipients of messages not on hold, by due time. Due entries
    /// move to their destination's lane in `poll_work`.
    timers: BTreeSet<(Timestamp, QueueId, usize)>,
    /// Each message's next warning or expiry check.
    deadlines: BTreeSet<(Timestamp, QueueId)>,
    lanes: Lanes,
    /// Connections handed out and not finished, by batch number.
    connections: HashMap<u64, Connection>,
    next_batch: u64,
}

impl Scheduler {
    /// An empty schedule.
    pub fn new(config: ScheduleConfig) -> Self {
        let per_destination = config.max_per_destination.max(1);
        Self {
            config,
            messages: HashMap::new(),
            timers: BTreeSet::new(),
            deadlines: BTreeSet::new(),
            lanes: Lanes { per_destination, ..Lanes::default() },
            connections: HashMap::new(),
            next_batch: 0,
        }
    }

    /// Schedules a message, new or recovered from the spool.
    ///
    /// Pending and deferred recipients are due at their stored
    /// `next_attempt`, or at `now` without one; delivered and failed ones
    /// are not scheduled. A held message is kept but not attempted, warned
    /// about or expired until it is released. `destination` names the next
    /// hop of each recipient still to be attempted, from its address.
    ///
    /// ```
    /// use smarthost_queue::{Destination, Envelope, IdGenerator, Recipient, ScheduleConfig, Scheduler, Timestamp, Work};
    /// let now = Timestamp(1_700_000_000_000_000);
    /// let id = IdGenerator::with_salt(1).next_id(now.millis());
    /// let envelope = Envelope::new("a@example.org", vec![Recipient::new("b@example.net")], now);
    /// let mut scheduler = Scheduler::new(ScheduleConfig::default());
    /// scheduler.insert(id, &envelope, now, Destination::of_domain)?;
    /// let Some(Work::Deliver(batch)) = scheduler.poll_work(now) else { panic!("new mail is due at once") };
    /// assert_eq!((batch.destination.as_str(), batch.items), ("example.net", vec![(id, vec![0])]));
    /// # Ok::<(), smarthost_queue::ScheduleError>(())
    /// ```
    pub fn insert(
        &mut self,
        id: QueueId,
        envelope: &Envelope,
        now: Timestamp,
        mut destination: impl FnMut(&str) -> Destination,
    ) -> Result<(), ScheduleError> {
        if self.messages.contains_key(&id) {
            return Err(ScheduleError::AlreadyScheduled(id));
        }
        let mut message = Message {
            arrival: envelope.arrival,
            held: envelope.held,
            slots: Vec::with_capacity(envelope.recipients.len()),
            waiting: 0,
            unwarned: 0,
            deadline: None,
        };
        for (index, recipient) in envelope.recipients.iter().enumerate() {
            if !recipient.state.is_pending() {
                message.slots.push(Slot::Done);
                continue;
            }
            let due = recipient.next_attempt.unwrap_or(now);
            message.waiting += 1;
            message.unwarned += usize::from(!recipient.warned);
            if !message.held {
                self.timers.insert((due, id, index));
            }
            message.slots.push(Slot::Live(Live {
                destination: destination(&recipient.address),
                domain: domain_of(&recipient.address).map(|d| d.to_ascii_lowercase().into()),
                phase: Phase::Scheduled(due),
                attempts: recipient.attempts,
                warned: recipient.warned,
                wants_delay_report: recipient.notify.is_none_or(|notify| notify.delay),
            }));
        }
        self.messages.insert(id, message);
        self.arm(id);
        Ok(())
    }

    /// Forgets a message, whatever its state; returns whether it was
    /// scheduled. Recipients in flight free their connection slot as if
    /// they had their result, and a later result for them is an
    /// [`ScheduleError::UnknownMessage`].
    pub fn remove(&mut self, id: QueueId) -> bool {
        let Some(message) = self.messages.remove(&id) else { return false };
        if let Some(at) = message.deadline {
            self.deadlines.remove(&(at, id));
        }
        for (index, slot) in message.slots.iter().enumerate() {
            let Slot::Live(live) = slot else { continue };
            match live.phase {
                Phase::Scheduled(due) => {
                    self.timers.remove(&(due, id, index));
                }
                Phase::Ready(_) => self.lanes.remove_ready(&live.destination, id, index),
                Phase::InFlight(batch) => self.finish_one(batch),
            }
        }
        true
    }

    /// The next piece of work due at `now`, or `None` when there is nothing
    /// more to do until [`poll_timeout`](Self::poll_timeout) or until a
    /// connection slot frees up.
    ///
    /// Expiries and warnings come first; then batches for the destination
    /// whose oldest due message is oldest, within the connection caps. Each
    /// recipient is handed out once: it is not handed out again until its
    /// result is reported.
    pub fn poll_work(&mut self, now: Timestamp) -> Option<Work> {
        while let Some(&(at, id)) = self.deadlines.first()
            && at <= now
        {
            self.deadlines.pop_first();
            let work = self.handle_deadline(id, now);
            self.arm(id);
            if work.is_some() {
                return work;
            }
        }
        self.promote(now);
        self.start_batch()
    }

    /// Records the outcome of the attempt for one recipient handed out in a
    /// [`Work::Deliver`] batch.
    ///
    /// Returns the recipient's next attempt time after
    /// [`Outcome::Deferred`], for the caller to persist, and `None`
    /// otherwise. The back-off depends on the attempts made: the stored
    /// [`Recipient::attempts`](crate::Recipient::attempts) at insertion,
    /// plus one per result reported since.
    pub fn handle_result(
        &mut self,
        id: QueueId,
        recipient: usize,
        outcome: Outcome,
        now: Timestamp,
    ) -> Result<Option<Timestamp>, ScheduleError> {
        let not_in_flight = ScheduleError::NotInFlight { id, recipient };
        let message = self.messages.get_mut(&id).ok_or(ScheduleError::UnknownMessage(id))?;
        let Some(Slot::Live(live)) = message.slots.get_mut(recipient) else { return Err(not_in_flight) };
        let Phase::InFlight(batch) = live.phase else { return Err(not_in_flight) };
        live.attempts = live.attempts.saturating_add(1);
        let next = match outcome {
            Outcome::Deferred => {
                let due = now.plus(self.config.back_off(id, live.attempts));
                live.phase = Phase::Scheduled(due);
                message.waiting += 1;
                if !message.held {
                    self.timers.insert((due, id, recipient));
                }
                Some(due)
            }
            Outcome::Delivered | Outcome::Failed => {
                message.unwarned -= usize::from(!live.warned);
                message.slots[recipient] = Slot::Done;
                None
            }
        };
        self.finish_one(batch);
        self.arm(id);
        Ok(next)
    }

    /// Puts a message on hold; returns whether it is scheduled. Its waiting
    /// recipients are not attempted, warned about or expired until
    /// [`release`](Self::release); recipients already in flight finish
    /// their attempt.
    pub fn hold(&mut self, id: QueueId) -> bool {
        let Some(message) = self.messages.get_mut(&id) else { return false };
        if !message.held {
            message.held = true;
            for (index, slot) in message.slots.iter_mut().enumerate() {
                let Slot::Live(live) = slot else { continue };
                match live.phase {
                    Phase::Scheduled(due) => {
                        self.timers.remove(&(due, id, index));
                    }
                    Phase::Ready(due) => {
                        self.lanes.remove_ready(&live.destination, id, index);
                        live.phase = Phase::Scheduled(due);
                    }
                    Phase::InFlight(_) => {}
                }
            }
            self.arm(id);
        }
        true
    }

    /// Releases a held message, making its waiting recipients due at `now`;
    /// returns whether the message is scheduled. A message that is not on
    /// hold is left as it is.
    ///
    /// A released message past its warning or expiry time warns or expires
    /// at the next [`poll_work`](Self::poll_work).
    pub fn release(&mut self, id: QueueId, now: Timestamp) -> bool {
        let Some(message) = self.messages.get_mut(&id) else { return false };
        if message.held {
            message.held = false;
            for (index, slot) in message.slots.iter_mut().enumerate() {
                if let Slot::Live(live) = slot
                    && let Phase::Scheduled(_) = live.phase
                {
                    live.phase = Phase::Scheduled(now);
                    self.timers.insert((now, id, index));
                }
            }
            self.arm(id);
        }
        true
    }

    /// Makes waiting recipients due at `now`, ignoring their back-off:
    /// all of them, or with `domain` those whose domain is `domain` or
    /// below it, whole labels only and ignoring case (sendmail's `-q` and
    /// `-qR`; `example.com` covers `mx.example.com`, not `badexample.com`).
    /// Held messages stay held. Returns how many recipients matched.
    ///
    /// This visits every scheduled message: O(n log n).
    pub fn run_now(&mut self, now: Timestamp, domain: Option<&str>) -> usize {
        let domain = domain.map(|d| d.trim_start_matches('.').trim_end_matches('.').to_ascii_lowercase());
        let mut matched = 0;
        for (&id, message) in &mut self.messages {
            if message.held {
                continue;
            }
            for (index, slot) in message.slots.iter_mut().enumerate() {
                let Slot::Live(live) = slot else { continue };
                let wanted = match &domain {
                    None => true,
                    Some(domain) => {
                        live.domain.as_deref().is_some_and(|own| crate::spool::is_within(own, domain))
                    }
                };
                match live.phase {
                    Phase::Scheduled(due) if wanted => {
                        matched += 1;
                        if due > now {
                            self.timers.remove(&(due, id, index));
                            self.timers.insert((now, id, index));
                            live.phase = Phase::Scheduled(now);
                        }
                    }
                    Phase::Ready(_) if wanted => matched += 1,
                    _ => {}
                }
            }
        }
        matched
    }

    /// When something next falls due: a recipient's attempt, a warning or
    /// an expiry. `None` when nothing is waiting for time to pass.
    ///
    /// After [`poll_work`](Self::poll_work) has returned `None` this is in
    /// the future: due recipients that are only waiting for a connection
    /// slot do not count, since a result, not time, frees the slot.
    pub fn poll_timeout(&self) -> Option<Timestamp> {
        let timer = self.timers.first().map(|&(due, _, _)| due);
        let deadline = self.deadlines.first().map(|&(at, _)| at);
        match (timer, deadline) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Whether the message is scheduled.
    pub fn contains(&self, id: QueueId) -> bool {
        self.messages.contains_key(&id)
    }

    /// Whether the message is scheduled and on hold.
    pub fn is_held(&self, id: QueueId) -> bool {
        self.messages.get(&id).is_some_and(|message| message.held)
    }

    /// How many messages are scheduled, finished ones included until they
    /// are [removed](Self::remove).
    pub fn len(&self) -> usize {
        self.messages.len()
    }

    /// Whether no message is scheduled.
    pub fn is_empty(&self) -> bool {
        self.messages.is_empty()
    }

    /// How many connections are in flight: batches handed out whose
    /// recipients do not all have their result yet.
    pub fn in_flight(&self) -> usize {
        self.connections.len()
    }

    /// Re-files the message's deadline after its recipients changed.
    fn arm(&mut self, id: QueueId) {
        let Some(message) = self.messages.get_mut(&id) else { return };
        let next = message.next_deadline(&self.config);
        if next != message.deadline {
            if let Some(old) = message.deadline {
                self.deadlines.remove(&(old, id));
            }
            if let Some(new) = next {
                self.deadlines.insert((new, id));
            }
            message.deadline = next;
        }
    }

    /// Warns or expires the message's recipients if their time has come.
    /// The caller re-arms the deadline afterwards.
    fn handle_deadline(&mut self, id: QueueId, now: Timestamp) -> Option<Work> {
        let message = self.messages.get_mut(&id)?;
        message.deadline = None;
        let expire_at = message.arrival.plus(self.config.return_after);
        if now >= expire_at {
            // Past its lifetime a recipient gets a failure report, not a
            // warning: close the warning window for those in flight too,
            // which expire here if they come back deferred.
            let mut expired = Vec::new();
            for (index, slot) in message.slots.iter_mut().enumerate() {
                let Slot::Live(live) = slot else { continue };
                live.warned = true;
                match live.phase {
                    // Messages with a deadline are not held, so their
                    // scheduled recipients are in `timers`.
                    Phase::Scheduled(due) => {
                        self.timers.remove(&(due, id, index));
                    }
                    Phase::Ready(_) => self.lanes.remove_ready(&live.destination, id, index),
                    Phase::InFlight(_) => continue,
                }
                *slot = Slot::Done;
                expired.push(index);
            }
            message.unwarned = 0;
            message.waiting = 0;
            return (!expired.is_empty()).then_some(Work::Expire { id, recipients: expired });
        }
        if now >= message.arrival.plus(self.config.warn_after) && message.unwarned > 0 {
            // In-flight recipients are warned too, so that the sender gets
            // one report per message rather than one per straggler.
            let mut reported = Vec::new();
            for (index, slot) in message.slots.iter_mut().enumerate() {
                if let Slot::Live(live) = slot
                    && !live.warned
                {
                    live.warned = true;
                    if live.wants_delay_report {
                        reported.push(index);
                    }
                }
            }
            message.unwarned = 0;
            return (!reported.is_empty()).then_some(Work::Warn { id, recipients: reported });
        }
        None
    }

    /// Moves recipients due by `now` from the timers to their lanes.
    fn promote(&mut self, now: Timestamp) {
        while let Some(&(due, id, index)) = self.timers.first()
            && due <= now
        {
            self.timers.pop_first();
            let live = self.messages.get_mut(&id).and_then(|message| message.slots[index].live_mut());
            // Every timer belongs to a live recipient: entries leave `timers`
            // whenever a recipient changes phase or its message goes.
            let live = live.expect("timers index live recipients");
            live.phase = Phase::Ready(due);
            self.lanes.add_ready(&live.destination, id, index);
        }
    }

    /// Hands out a batch for the destination with the oldest due message,
    /// if the caps allow a connection.
    fn start_batch(&mut self) -> Option<Work> {
        if self.connections.len() >= self.config.max_in_flight.max(1) {
            return None;
        }
        let (destination, picked) = self.lanes.take_batch(self.config.max_batch_recipients.max(1))?;
        let batch = self.next_batch;
        self.next_batch += 1;
        let mut items: Vec<(QueueId, Vec<usize>)> = Vec::new();
        for &(id, index) in &picked {
            let message = self.messages.get_mut(&id).expect("lanes index scheduled messages");
            let live = message.slots[index].live_mut().expect("lanes index live recipients");
            live.phase = Phase::InFlight(batch);
            message.waiting -= 1;
            match items.last_mut() {
                Some((last, recipients)) if *last == id => recipients.push(index),
                _ => items.push((id, vec![index])),
            }
        }
        for &(id, _) in &items {
            self.arm(id);
        }
        self.connections
            .insert(batch, Connection { destination: destination.clone(), outstanding: picked.len() });
        Some(Work::Deliver(Batch { destination, items }))
    }

    /// Counts one recipient of `batch` as finished, freeing the connection
    /// slot with the last one.
    fn finish_one(&mut self, batch: u64) {
        let Some(connection) = self.connections.get_mut(&batch) else { return };
        connection.outstanding -= 1;
        if connection.outstanding == 0 {
            let connection = self.connections.remove(&batch).expect("just looked up");
            self.lanes.release_connection(&connection.destination);
        }
    }
}

impl ScheduleConfig {
    /// The wait after the `attempts`-th attempt failed temporarily.
    ///
    /// The jitter is a hash of the message and the attempt count rather
    /// than a random stream: it does not depend on the order of calls, and
    /// recipients of one message deferred together stay together, so they
    /// still share a connection when they are retried.
    fn back_off(&self, id: QueueId, attempts: u32) -> Duration {
        let nth = attempts.saturating_sub(1);
        let nominal = match self.retry.len() {
            0 => self.retry_first.saturating_mul(1 << nth.min(31)).min(self.retry_max),
            len => self.retry[(nth as usize).min(len - 1)],
        };
        let jitter = if self.jitter.is_nan() { 0.0 } else { self.jitter.clamp(0.0, 1.0) };
        let mut key = [0u8; 20];
        key[..16].copy_from_slice(&id.to_bits().to_le_bytes());
        key[16..].copy_from_slice(&attempts.to_le_bytes());
        let hash = xxhash_rust::xxh3::xxh3_64_with_seed(&key, self.jitter_seed);
        // 53 random bits give a uniform float in [0, 1); map it to [-1, 1).
        let unit = (hash >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0;
        Duration::try_from_secs_f64(nominal.as_secs_f64() * (1.0 + jitter * unit)).unwrap_or(Duration::MAX)
    }
}

#[derive(Debug)]
struct Message {
    arrival: Timestamp,
    held: bool,
    slots: Vec<Slot>,
    /// Live recipients not in flight.
    waiting: usize,
    /// Live recipients not yet warned.
    unwarned: usize,
    /// Its entry in `Scheduler::deadlines`.
    deadline: Option<Timestamp>,
}

impl Message {
    fn next_deadline(&self, config: &ScheduleConfig) -> Option<Timestamp> {
        if self.held {
            return None;
        }
        let warn_at = self.arrival.plus(config.warn_after);
        let expire_at = self.arrival.plus(config.return_after);
        // A warning due no earlier than expiry would never be sent: expiry
        // closes the warning window.
        let warn = (self.unwarned > 0 && warn_at < expire_at).then_some(warn_at);
        let expire = (self.waiting > 0).then_some(expire_at);
        match (warn, expire) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

#[derive(Debug)]
enum Slot {
    /// Still to be attempted, or being attempted.
    Live(Live),
    /// Delivered, failed or expired: the scheduler is done with it.
    Done,
}

impl Slot {
    fn live_mut(&mut self) -> Option<&mut Live> {
        match self {
            Slot::Live(live) => Some(live),
            Slot::Done => None,
        }
    }
}

#[derive(Debug)]
struct Live {
    destination: Destination,
    /// The address's domain, lower-cased, for `run_now`; `None` for an
    /// unqualified address.
    domain: Option<Box<str>>,
    phase: Phase,
    attempts: u32,
    warned: bool,
    /// `NOTIFY` absent or containing `DELAY`.
    wants_delay_report: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Waiting for its due time; in `timers` unless the message is held.
    Scheduled(Timestamp),
    /// Due since the given time; in its destination's lane.
    Ready(Timestamp),
    /// Handed out in the given batch.
    InFlight(u64),
}

/// A connection handed out: its destination, and how many of its
/// recipients still await their result.
#[derive(Debug)]
struct Connection {
    destination: Destination,
    outstanding: usize,
}

/// Due recipients grouped by destination, and the destinations that could
/// open a connection now, by their oldest due message.
#[derive(Debug, Default)]
struct Lanes {
    lanes: HashMap<Destination, Lane>,
    runnable: BTreeSet<(QueueId, Destination)>,
    per_destination: usize,
}

#[derive(Debug, Default)]
struct Lane {
    /// Due recipients, oldest message first.
    ready: BTreeSet<(QueueId, usize)>,
    connections: usize,
    /// Its entry in `Lanes::runnable`.
    runnable: Option<QueueId>,
}

impl Lanes {
    fn add_ready(&mut self, destination: &Destination, id: QueueId, index: usize) {
        self.lanes.entry(destination.clone()).or_default().ready.insert((id, index));
        self.refresh(destination);
    }

    fn remove_ready(&mut self, destination: &Destination, id: QueueId, index: usize) {
        if let Some(lane) = self.lanes.get_mut(destination) {
            lane.ready.remove(&(id, index));
            self.refresh(destination);
        }
    }

    /// Takes up to `max` recipients for a new connection to the runnable
    /// destination with the oldest due message.
    fn take_batch(&mut self, max: usize) -> Option<(Destination, Vec<(QueueId, usize)>)> {
        let (_, destination) = self.runnable.first()?.clone();
        let lane = self.lanes.get_mut(&destination).expect("runnable destinations have lanes");
        let mut picked = Vec::new();
        while picked.len() < max
            && let Some(entry) = lane.ready.pop_first()
        {
            picked.push(entry);
        }
        lane.connections += 1;
        self.refresh(&destination);
        Some((destination, picked))
    }

    fn release_connection(&mut self, destination: &Destination) {
        if let Some(lane) = self.lanes.get_mut(destination) {
            lane.connections -= 1;
            self.refresh(destination);
        }
    }

    /// Re-files the lane in `runnable` after it changed, and drops it once
    /// it is empty and idle so that old destinations do not pile up.
    fn refresh(&mut self, destination: &Destination) {
        let Some(lane) = self.lanes.get_mut(destination) else { return };
        let key = if lane.connections < self.per_destination {
            lane.ready.first().map(|&(id, _)| id)
        } else {
            None
        };
        if key != lane.runnable {
            if let Some(old) = lane.runnable {
                self.runnable.remove(&(old, destination.clone()));
            }
            if let Some(new) = key {
                self.runnable.insert((new, destination.clone()));
            }
            lane.runnable = key;
        }
        if lane.ready.is_empty() && lane.connections == 0 {
            self.lanes.remove(destination);
        }
    }
}

/// The text after the last `@`, without a trailing dot.
fn domain_of(address: &str) -> Option<&str> {
    address.rsplit_once('@').map(|(_, domain)| domain.trim_end_matches('.'))
}

#[cfg(test)]
mod tests;
