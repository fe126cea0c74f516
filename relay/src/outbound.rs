//! The queue runner: the outbound half of the relay.
//!
//! One task owns the queue's [`Scheduler`](smarthost_queue::Scheduler). It
//! inserts the messages recovered from the spool and each message the
//! inbound sessions queue, hands out due work, and sleeps until the next
//! retry, warning or expiry falls due, or until a command (a new message,
//! `run_now`, `idle`, `stop`) or a finished delivery arrives.
//!
//! # What happens to a recipient
//!
//! Each queued recipient is a ruleset-0 target (see `inbound`): an address
//! to route, `|command` (an alias program) or `/path` (an alias file).
//!
//! * **Grouping without DNS.** When a message is scheduled, each recipient
//!   is routed with the tables then in force, without DNS, to a
//!   destination key: `relay:[smtp.isp.example]` (mailer and host list as
//!   the route names them), `esmtp:example.org` (MX), `local`, `prog`,
//!   `file`, `error`. Recipients with one key share connections.
//! * **Routing again at delivery.** A delivery routes each recipient again
//!   with the *current* tables (a reload applies to queued mail too) and
//!   resolves the host list then ([`routing::resolve_next_hops`]).
//! * **One connection per batch.** All messages of a batch that go to one
//!   route share one SMTP connection (one transaction each, pipelined by
//!   the client where the server allows).
//! * **Failover.** A connection, TLS or AUTH failure (including a `4xx`
//!   greeting and a `421` at any point) moves at once to the next host of
//!   the list: the next MX, or the next host of `a:b:c`. Only the messages
//!   that did not get through are carried on. When the list is used up the
//!   recipients are deferred (`4.4.1 Connection refused by all hosts` when
//!   every failure was a connection failure, else the last reply).
//! * **Breaker.** Each next hop (`addr:port`) has a breaker: after three
//!   consecutive connection failures it opens and the host is skipped for
//!   30 s, doubling to at most 10 min while probes keep failing; once the
//!   cooling period is over one delivery probes it (half-open) and a
//!   success closes the breaker. A dead first MX thus costs nothing per
//!   message while it is down.
//! * **Outcomes.** A `2xx` after the content delivers; a `4xx` (or a
//!   protocol error) defers, to be retried after `[queue] retry`; a `5xx`
//!   fails. A mailertable `error:` route fails with its reply (an `error:`
//!   with a `4xx` code defers).
//! * **Local delivery** (`[local] delivery`: Maildir, mbox or a program
//!   mailer, and alias `|command` and `/path` targets) goes through
//!   [`crate::local`], on the blocking pool.
//! * **Rewriting.** When masquerading or a genericstable is configured,
//!   the envelope sender and the headers are rewritten per mailer
//!   (`MailerRules::for_mailer`) for SMTP routes; local delivery gets the
//!   message as queued.
//!
//! # Durability
//!
//! The SMTP client hands over each message's results as soon as its
//! transaction ends, and they are written to the spool (state, attempts,
//! last reply) while the session goes on with the next message: the
//! results that arrive while one write is syncing go into the next write,
//! which shares one sync (and the spool's group commit shares it further
//! with the inbound sessions' messages). So the window in which a crash
//! causes a duplicate is one message's write and sync, not a whole
//! connection. The runner then takes the results to the scheduler and
//! writes the next attempt time of deferred recipients in a second update
//! (a crash in between only makes them due at once at restart).
//!
//! # Reports
//!
//! Failed recipients (permanent failures, and expiry after `return_after`
//! with `4.4.7`) get an RFC 3464 failure report, and recipients still
//! queued after `warn_after` a delay report, when their `NOTIFY` asks for
//! it and never when the message has the null sender. One report goes out
//! per message per event, listing all its recipients of that event. A
//! report is from `MAILER-DAEMON@hostname` with envelope sender `<>`, and
//! is queued in the spool and sent through the relay itself like any
//! message (to a local sender it lands in their mailbox). The recipients
//! are marked `reported` / `warned` once the report is queued; a failed
//! recipient whose report could not be queued stays unreported and is
//! reported when the relay next starts. The report's recipient goes
//! through ruleset 0 (virtusertable, aliases) as an inbound RCPT does.
//!
//! # Log lines
//!
//! One line per recipient attempt, as sendmail writes them:
//! `ID: to=<bob@example.org>, delay=00:00:03, xdelay=00:00:01, mailer=relay,
//! relay=smtp.isp.example [192.0.2.25], dsn=2.0.0, stat=Sent (2.0.0 Ok:
//! queued as 4Xz), maps=3f2a9c01`; `stat=Deferred: 421 4.3.0 ...` for a
//! deferral and the reply text for a failure. A queued report logs
//! `ID: NEWID: DSN: reason`. AUTH exchanges and passwords are never logged.

mod breaker;
mod destination;
mod mailbox;
mod report;
mod runner;
mod smtp;

use std::sync::Arc;

use smarthost_queue::{Envelope, QueueId, StoredMessage};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinSet;

use crate::engine::Shared;

/// What the handle asks the runner task.
enum Command {
    Submitted(QueueId, Envelope),
    RunNow(Option<String>, oneshot::Sender<usize>),
    Idle(oneshot::Sender<()>),
    Stop,
}

/// Talks to the queue runner task.
#[derive(Clone)]
pub(crate) struct RunnerHandle {
    commands: mpsc::UnboundedSender<Command>,
}

impl RunnerHandle {
    /// A message was just queued.
    pub(crate) fn submitted(&self, id: QueueId, envelope: Envelope) {
        let _ = self.commands.send(Command::Submitted(id, envelope));
    }

    /// Makes every message (or `domain`'s) due now.
    pub(crate) async fn run_now(&self, domain: Option<String>) -> usize {
        let (tx, rx) = oneshot::channel();
        let _ = self.commands.send(Command::RunNow(domain, tx));
        rx.await.unwrap_or(0)
    }

    /// Resolves when nothing is due and nothing is in flight.
    pub(crate) async fn idle(&self) {
        let (tx, rx) = oneshot::channel();
        let _ = self.commands.send(Command::Idle(tx));
        let _ = rx.await;
    }

    /// Stops after the deliveries in flight.
    pub(crate) fn stop(&self) {
        let _ = self.commands.send(Command::Stop);
    }
}

/// Starts the runner with the messages recovered from the spool.
pub(crate) fn spawn(
    shared: Arc<Shared>,
    recovered: Vec<StoredMessage>,
    tasks: &mut JoinSet<()>,
) -> RunnerHandle {
    let (commands, rx) = mpsc::unbounded_channel();
    tasks.spawn(runner::run(shared, recovered, rx));
    RunnerHandle { commands }
}
