//! The runner task: the scheduler's driver, the delivery of one batch, and
//! the recording of every attempt (log line and spool update).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use smarthost_queue::{
    Batch, Envelope, Outcome, QueueId, RecipientState, ScheduleConfig, Scheduler, StoredMessage, Timestamp,
    Work,
};
use smarthost_routing::{BoxFuture, DnsError, Mx, Resolver};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinSet;

use super::Command;
use super::breaker::Breakers;
use super::destination::{self, Plan, SmtpRoute};
use super::mailbox::{self, Job, Target};
use super::report::{self, Event};
use super::smtp::{self, Outgoing, Rcpt};
use crate::engine::Shared;
use crate::log;
use crate::tables::Tables;

/// The longest sleep: the runner looks at the clock at least this often,
/// so a system clock that jumps does not leave mail waiting for long.
const MAX_SLEEP: Duration = Duration::from_secs(300);

/// Connections at once to one destination. Each connection carries one
/// message per two round trips (commands, then content), so a smart host,
/// which gets all the mail through one destination, needs several to keep
/// up with the inbound side; Postfix's default is 20 per destination.
const MAX_PER_DESTINATION: usize = 8;

/// How often the spool is compacted (long-deferred messages moved out of
/// old segments so that those can be deleted).
const COMPACT_EVERY: Duration = Duration::from_secs(15 * 60);

/// What delivery tasks share.
pub(super) struct Context {
    pub(super) shared: Arc<Shared>,
    pub(super) resolver: Arc<dyn Resolver>,
    pub(super) breakers: Mutex<Breakers>,
}

/// The result of one attempt for one recipient.
#[derive(Clone, Debug)]
pub(super) struct Attempt {
    pub(super) id: QueueId,
    pub(super) index: usize,
    /// The queued address, for the log line.
    pub(super) to: String,
    pub(super) arrival: Timestamp,
    /// When the attempt started, for `xdelay=`.
    pub(super) started: Timestamp,
    pub(super) outcome: Outcome,
    /// The reply on one line: `250 2.0.0 Ok: queued as 4Xz`.
    pub(super) reply: String,
    /// The enhanced status code, `2.0.0`.
    pub(super) status: String,
    pub(super) mailer: String,
    /// `relay=`: `host [addr]`, or `localhost`.
    pub(super) relay: String,
}

/// What a delivery task hands back.
#[derive(Default)]
struct Done {
    attempts: Vec<Attempt>,
    /// Messages that left the spool while they were due.
    gone: Vec<QueueId>,
}

impl Context {
    /// Logs each attempt and writes its result to the spool at once: the
    /// state, one more attempt, the last reply.
    pub(super) async fn record(&self, attempts: &[Attempt], tables: &Tables) {
        self.record_with(attempts, tables, true).await;
    }

    async fn record_with(&self, attempts: &[Attempt], tables: &Tables, counts: bool) {
        if attempts.is_empty() {
            return;
        }
        let now = Timestamp::now();
        for attempt in attempts {
            let stat = match attempt.outcome {
                Outcome::Delivered => format!("Sent ({})", after_code(&attempt.reply)),
                Outcome::Deferred => format!("Deferred: {}", attempt.reply),
                Outcome::Failed => report::reply_text(&attempt.reply),
            };
            self.shared.log.event(
                Some(&attempt.id.to_string()),
                &[
                    ("to", &format!("<{}>", attempt.to)),
                    ("delay", &log::delay(now.since(attempt.arrival))),
                    ("xdelay", &log::delay(now.since(attempt.started))),
                    ("mailer", &attempt.mailer),
                    ("relay", &attempt.relay),
                    ("dsn", &attempt.status),
                    ("stat", &stat),
                    ("maps", &tables.generation),
                ],
            );
        }
        let mut by_message: BTreeMap<QueueId, Vec<(usize, Outcome, String)>> = BTreeMap::new();
        for attempt in attempts {
            by_message.entry(attempt.id).or_default().push((
                attempt.index,
                attempt.outcome,
                attempt.reply.clone(),
            ));
        }
        let spool = self.shared.spool.clone();
        // One batch: the records of all these messages share one sync.
        let written = tokio::task::spawn_blocking(move || {
            let changes = by_message.into_iter().map(|(id, changes)| {
                let change = move |envelope: &mut Envelope| {
                    for (index, outcome, reply) in changes {
                        let Some(recipient) = envelope.recipients.get_mut(index) else { continue };
                        if counts {
                            recipient.attempts = recipient.attempts.saturating_add(1);
                        }
                        recipient.state = match outcome {
                            Outcome::Delivered => RecipientState::Delivered,
                            Outcome::Deferred => RecipientState::Deferred,
                            Outcome::Failed => RecipientState::Failed,
                        };
                        if outcome != Outcome::Deferred {
                            recipient.next_attempt = None;
                        }
                        recipient.last_reply = Some(reply);
                    }
                };
                (id, change)
            });
            (spool.update_many(changes).into_iter())
                .filter_map(|(id, result)| {
                    let error = result.err()?;
                    Some(format!("{id}: cannot record delivery results in the spool: {error}"))
                })
                .collect::<Vec<_>>()
        })
        .await;
        match written {
            Ok(errors) => errors.iter().for_each(|e| self.shared.log.notice(e)),
            Err(error) => self.shared.log.notice(&format!("spool update task failed: {error}")),
        }
    }
}

/// The reply without its code: `2.0.0 Ok: queued as 4Xz`.
fn after_code(reply: &str) -> &str {
    match reply.get(..3) {
        Some(code) if code.bytes().all(|b| b.is_ascii_digit()) => reply[3..].trim_start_matches(['-', ' ']),
        _ => reply,
    }
}

/// The enhanced status of a reply line, or its class's generic one.
pub(super) fn status_of(reply: &str) -> String {
    let mut words = reply.split_whitespace();
    let code = words.next().unwrap_or("");
    match words.next().filter(|w| w.parse::<smarthost_smtp_core::EnhancedStatus>().is_ok()) {
        Some(status) => status.to_owned(),
        None => {
            format!("{}.0.0", code.chars().next().filter(|c| matches!(c, '2' | '4' | '5')).unwrap_or('4'))
        }
    }
}

/// The outcome a reply line stands for when it is a failure.
fn failure_outcome(reply: &str) -> Outcome {
    if reply.starts_with('5') { Outcome::Failed } else { Outcome::Deferred }
}

/// A resolver that fails every lookup temporarily: the system has no
/// usable DNS configuration. Address literals still work.
struct NoDns(String);

impl Resolver for NoDns {
    fn mx<'a>(&'a self, _name: &'a str) -> BoxFuture<'a, Result<Vec<Mx>, DnsError>> {
        Box::pin(async move { Err(DnsError::Temporary(self.0.clone())) })
    }

    fn ip<'a>(&'a self, _name: &'a str) -> BoxFuture<'a, Result<Vec<std::net::IpAddr>, DnsError>> {
        Box::pin(async move { Err(DnsError::Temporary(self.0.clone())) })
    }
}

struct Runner {
    ctx: Arc<Context>,
    scheduler: Scheduler,
    deliveries: JoinSet<Done>,
    idle: Vec<oneshot::Sender<()>>,
    stopping: bool,
}

/// The runner task.
pub(super) async fn run(
    shared: Arc<Shared>,
    recovered: Vec<StoredMessage>,
    mut commands: mpsc::UnboundedReceiver<Command>,
) {
    let resolver: Arc<dyn Resolver> = match &shared.dns {
        Ok(resolver) => Arc::new(resolver.clone()),
        Err(error) => {
            let why = format!("no DNS resolver: {error}");
            shared.log.notice(&format!("{why}; only routes to address literals can be delivered"));
            Arc::new(NoDns(why))
        }
    };
    let queue = shared.tables().config.queue.clone();
    let config = ScheduleConfig {
        retry: queue.retry.clone(),
        warn_after: queue.warn_after,
        return_after: queue.return_after,
        max_per_destination: MAX_PER_DESTINATION,
        ..ScheduleConfig::default()
    };
    let ctx = Arc::new(Context { shared, resolver, breakers: Mutex::new(Breakers::default()) });
    let mut runner = Runner {
        ctx,
        scheduler: Scheduler::new(config),
        deliveries: JoinSet::new(),
        idle: Vec::new(),
        stopping: false,
    };
    runner.recover(recovered).await;
    let mut open = true;
    let mut compacted = std::time::Instant::now();
    loop {
        if !runner.stopping {
            runner.dispatch().await;
        }
        if compacted.elapsed() >= COMPACT_EVERY && !runner.stopping {
            compacted = std::time::Instant::now();
            let shared = runner.ctx.shared.clone();
            // In the background: the spool serialises it with the writers.
            tokio::task::spawn_blocking(move || {
                if let Err(error) = shared.spool.compact() {
                    shared.log.notice(&format!("spool compaction failed: {error}"));
                }
            });
        }
        if runner.deliveries.is_empty() {
            if runner.stopping {
                return;
            }
            let now = Timestamp::now();
            if runner.scheduler.poll_timeout().is_none_or(|due| due > now) {
                for waiter in runner.idle.drain(..) {
                    let _ = waiter.send(());
                }
            }
        }
        let sleep = match runner.scheduler.poll_timeout() {
            Some(due) => due.since(Timestamp::now()).min(MAX_SLEEP),
            None => MAX_SLEEP,
        };
        tokio::select! {
            command = commands.recv(), if open => match command {
                Some(command) => runner.command(command),
                // Every handle is gone: nobody can ask for anything more.
                None => {
                    open = false;
                    runner.stopping = true;
                }
            },
            Some(joined) = runner.deliveries.join_next(), if !runner.deliveries.is_empty() => {
                match joined {
                    Ok(done) => runner.finished(done).await,
                    Err(error) => runner.ctx.shared.log.notice(&format!("delivery task failed: {error}")),
                }
            }
            _ = tokio::time::sleep(sleep), if !runner.stopping => {}
        }
    }
}

impl Runner {
    fn command(&mut self, command: Command) {
        match command {
            Command::Submitted(id, envelope) => self.insert(id, &envelope),
            Command::RunNow(domain, reply) => {
                let count = self.scheduler.run_now(Timestamp::now(), domain.as_deref());
                let _ = reply.send(count);
            }
            Command::Idle(waiter) => self.idle.push(waiter),
            Command::Stop => self.stopping = true,
        }
    }

    fn insert(&mut self, id: QueueId, envelope: &Envelope) {
        let tables = self.ctx.shared.tables();
        let inserted = self
            .scheduler
            .insert(id, envelope, Timestamp::now(), |address| destination::destination(&tables, address));
        if let Err(error) = inserted {
            self.ctx.shared.log.notice(&format!("{id}: {error}"));
        }
    }

    /// Schedules what the spool held at start, and sends the failure
    /// reports a previous run could not queue.
    async fn recover(&mut self, recovered: Vec<StoredMessage>) {
        let mut unreported = Vec::new();
        for message in recovered {
            self.insert(message.id, &message.envelope);
            let failed: Vec<usize> = (message.envelope.recipients.iter().enumerate())
                .filter(|(_, r)| r.state == RecipientState::Failed && !r.reported)
                .map(|(index, _)| index)
                .collect();
            if !failed.is_empty() {
                unreported.push((message.id, failed));
            }
        }
        for (id, indexes) in unreported {
            self.report(id, indexes, Event::Failed).await;
        }
    }

    /// Hands out everything due now.
    async fn dispatch(&mut self) {
        let now = Timestamp::now();
        while let Some(work) = self.scheduler.poll_work(now) {
            match work {
                Work::Deliver(batch) => {
                    let ctx = self.ctx.clone();
                    self.deliveries.spawn(async move {
                        // A panic in a delivery must not leave its recipients
                        // in flight for ever: they are deferred instead.
                        match tokio::spawn(deliver_batch(ctx.clone(), batch.clone())).await {
                            Ok(done) => done,
                            Err(error) => abandoned(&ctx, &batch, &error.to_string()),
                        }
                    });
                }
                Work::Warn { id, recipients } => self.report(id, recipients, Event::Delayed).await,
                Work::Expire { id, recipients } => self.expire(id, recipients).await,
            }
        }
    }

    /// Takes a finished delivery's results to the scheduler.
    async fn finished(&mut self, done: Done) {
        let now = Timestamp::now();
        for id in done.gone {
            self.scheduler.remove(id);
        }
        let mut deferred: BTreeMap<QueueId, Vec<(usize, Timestamp)>> = BTreeMap::new();
        let mut failed: BTreeMap<QueueId, Vec<usize>> = BTreeMap::new();
        let mut touched = BTreeSet::new();
        for attempt in &done.attempts {
            touched.insert(attempt.id);
            match self.scheduler.handle_result(attempt.id, attempt.index, attempt.outcome, now) {
                Ok(Some(next)) => deferred.entry(attempt.id).or_default().push((attempt.index, next)),
                Ok(None) if attempt.outcome == Outcome::Failed => {
                    failed.entry(attempt.id).or_default().push(attempt.index)
                }
                Ok(None) => {}
                Err(error) => self.ctx.shared.log.notice(&format!("scheduler: {error}")),
            }
        }
        if !deferred.is_empty() {
            let spool = self.ctx.shared.spool.clone();
            let _ = tokio::task::spawn_blocking(move || {
                spool.update_many(deferred.into_iter().map(|(id, times)| {
                    let change = move |envelope: &mut Envelope| {
                        for (index, next) in times {
                            if let Some(recipient) = envelope.recipients.get_mut(index) {
                                recipient.next_attempt = Some(next);
                            }
                        }
                    };
                    (id, change)
                }))
            })
            .await;
        }
        for (id, indexes) in failed {
            self.report(id, indexes, Event::Failed).await;
        }
        for id in touched {
            if self.ctx.shared.spool.envelope(id).is_none() {
                self.scheduler.remove(id);
            }
        }
    }

    /// Fails the recipients whose time ran out (`4.4.7`) and reports them.
    async fn expire(&mut self, id: QueueId, indexes: Vec<usize>) {
        let Some(envelope) = self.ctx.shared.spool.envelope(id) else {
            self.scheduler.remove(id);
            return;
        };
        let tables = self.ctx.shared.tables();
        let after = crate::config::format_duration(tables.config.queue.return_after);
        let now = Timestamp::now();
        let attempts: Vec<Attempt> = indexes
            .iter()
            .filter_map(|&index| envelope.recipients.get(index).map(|r| (index, r)))
            .map(|(index, recipient)| {
                let last =
                    recipient.last_reply.as_deref().map(|l| format!("; last: {l}")).unwrap_or_default();
                let reply = format!("451 4.4.7 Could not be delivered for {after}{last}");
                Attempt {
                    id,
                    index,
                    to: recipient.address.clone(),
                    arrival: envelope.arrival,
                    started: now,
                    outcome: Outcome::Failed,
                    status: "4.4.7".to_owned(),
                    reply,
                    mailer: mailer_of(&destination::plan(&tables, &recipient.address)),
                    relay: "localhost".to_owned(),
                }
            })
            .collect();
        self.ctx.record_with(&attempts, &tables, false).await;
        self.report(id, indexes, Event::Failed).await;
    }

    /// Queues the report about `indexes` of message `id` (when one is due)
    /// and marks them reported or warned.
    async fn report(&mut self, id: QueueId, indexes: Vec<usize>, event: Event) {
        let shared = self.ctx.shared.clone();
        let Some(envelope) = shared.spool.envelope(id) else {
            self.scheduler.remove(id);
            return;
        };
        let tables = shared.tables();
        let spool = shared.spool.clone();
        let null_sender = envelope.sender.is_empty();
        let marks = indexes.clone();
        let built = tokio::task::spawn_blocking(move || {
            let body = spool.body(id).map_err(|e| format!("cannot read the message: {e}"))?;
            let Some(queueable) = report::build(&tables, id, &envelope, &body, &indexes, event)? else {
                return Ok(None);
            };
            let new_id = spool
                .enqueue(queueable.envelope.clone(), &queueable.content)
                .map_err(|e| format!("cannot queue the report: {e}"))?;
            Ok::<_, String>(Some((new_id, queueable)))
        })
        .await
        .map_err(|e| e.to_string())
        .and_then(|r| r);
        match built {
            Ok(Some((new_id, queueable))) => {
                shared.log.notice(&format!("{id}: {new_id}: DSN: {}", queueable.reason));
                self.insert(new_id, &queueable.envelope);
            }
            Ok(None) if null_sender && event == Event::Failed => {
                shared.log.notice(&format!(
                    "{id}: DSN: not sent: the sender is <>, and a report never causes a report"
                ));
            }
            Ok(None) => {}
            Err(error) => {
                // Left unreported: the next start tries again.
                shared.log.notice(&format!("{id}: DSN: {error}"));
                return;
            }
        }
        let spool = shared.spool.clone();
        let marked = tokio::task::spawn_blocking(move || {
            spool.update(id, |envelope| {
                for index in marks {
                    if let Some(recipient) = envelope.recipients.get_mut(index) {
                        match event {
                            Event::Failed => recipient.reported = true,
                            Event::Delayed => recipient.warned = true,
                        }
                    }
                }
            })
        })
        .await;
        match marked {
            Ok(Ok(envelope)) if envelope.is_finished() => {
                self.scheduler.remove(id);
            }
            Ok(Ok(_)) => {}
            Ok(Err(error)) => {
                shared.log.notice(&format!("{id}: cannot record the report in the spool: {error}"))
            }
            Err(error) => shared.log.notice(&format!("spool update task failed: {error}")),
        }
    }
}

/// Results for a batch whose delivery task panicked: every recipient
/// deferred.
fn abandoned(ctx: &Context, batch: &Batch, why: &str) -> Done {
    ctx.shared.log.notice(&format!("delivery to {} failed: {why}", batch.destination));
    let now = Timestamp::now();
    let mut done = Done::default();
    for (id, indexes) in &batch.items {
        let envelope = ctx.shared.spool.envelope(*id);
        for &index in indexes {
            let recipient = envelope.as_ref().and_then(|e| e.recipients.get(index));
            done.attempts.push(Attempt {
                id: *id,
                index,
                to: recipient.map(|r| r.address.clone()).unwrap_or_default(),
                arrival: envelope.as_ref().map_or(now, |e| e.arrival),
                started: now,
                outcome: Outcome::Deferred,
                reply: "451 4.3.0 Internal error in delivery".to_owned(),
                status: "4.3.0".to_owned(),
                mailer: batch.destination.to_string(),
                relay: "localhost".to_owned(),
            });
        }
    }
    done
}

/// Delivers one batch: routes each recipient with the current tables,
/// delivers locally or over SMTP, and records every result.
async fn deliver_batch(ctx: Arc<Context>, batch: Batch) -> Done {
    let tables = ctx.shared.tables();
    let mut done = Done::default();
    let mut immediate = Vec::new();
    let mut locals = Vec::new();
    let mut routes: Vec<(SmtpRoute, Vec<Outgoing>)> = Vec::new();
    let started = Timestamp::now();
    let mut queued = Vec::with_capacity(batch.items.len());
    for (id, indexes) in batch.items {
        match ctx.shared.spool.envelope(id) {
            Some(envelope) => queued.push((id, indexes, envelope)),
            None => done.gone.push(id),
        }
    }
    // Every body in one trip to the blocking pool, not one trip each.
    let spool = ctx.shared.spool.clone();
    let ids: Vec<QueueId> = queued.iter().map(|(id, _, _)| *id).collect();
    let count = ids.len();
    let read = move || -> Vec<Result<Vec<u8>, String>> {
        ids.into_iter().map(|id| spool.body(id).map_err(|error| error.to_string())).collect()
    };
    let bodies = match tokio::task::spawn_blocking(read).await {
        Ok(bodies) => bodies,
        Err(error) => vec![Err(error.to_string()); count],
    };
    for ((id, indexes, envelope), body) in queued.into_iter().zip(bodies) {
        let content = match body {
            Ok(body) => Arc::new(body),
            Err(why) => {
                let reply = format!("451 4.3.0 Cannot read the queued message: {}", log::one_line(&why));
                for index in indexes {
                    let to = envelope.recipients.get(index).map(|r| r.address.clone()).unwrap_or_default();
                    immediate.push(simple(id, index, to, &envelope, started, &reply, "local"));
                }
                continue;
            }
        };
        for index in indexes {
            let Some(recipient) = envelope.recipients.get(index) else {
                let reply = "451 4.3.0 Recipient missing from the envelope";
                immediate.push(simple(id, index, String::new(), &envelope, started, reply, "local"));
                continue;
            };
            let target = match destination::plan(&tables, &recipient.address) {
                Plan::Smtp(route) => {
                    let key = route.key();
                    let rcpt = Rcpt {
                        index,
                        queued: recipient.address.clone(),
                        forward: route.recipient.clone(),
                        notify: recipient.notify,
                        orcpt: recipient.orcpt.clone(),
                    };
                    let slot = match routes.iter().position(|(r, _)| r.key() == key) {
                        Some(slot) => slot,
                        None => {
                            routes.push((route, Vec::new()));
                            routes.len() - 1
                        }
                    };
                    let messages = &mut routes[slot].1;
                    match messages.last_mut() {
                        Some(message) if message.id == id => message.recipients.push(rcpt),
                        _ => messages.push(Outgoing {
                            id,
                            sender: envelope.sender.clone(),
                            content: content.clone(),
                            arrival: envelope.arrival,
                            ret: envelope.ret,
                            envid: envelope.envid.clone(),
                            recipients: vec![rcpt],
                        }),
                    }
                    continue;
                }
                Plan::Mailbox { user } => Target::Mailbox(user),
                Plan::Program { command } => Target::Program(command),
                Plan::File { path } => Target::File(path),
                Plan::Error(error) => {
                    let reply = error.reply_for(&recipient.address);
                    let to = recipient.address.clone();
                    immediate.push(simple(id, index, to, &envelope, started, &reply, "error"));
                    continue;
                }
                Plan::Unroutable { reply } => {
                    let to = recipient.address.clone();
                    immediate.push(simple(id, index, to, &envelope, started, &reply, "error"));
                    continue;
                }
            };
            let original = recipient.orcpt.as_deref().and_then(|o| o.split_once(';')).map(|(_, value)| {
                smarthost_smtp_core::xtext_decode(value).unwrap_or_else(|_| value.to_owned())
            });
            locals.push((
                index,
                envelope.arrival,
                Job {
                    tables: tables.clone(),
                    queue_id: id.to_string(),
                    sender: envelope.sender.clone(),
                    recipient: recipient.address.clone(),
                    original,
                    target,
                    content: content.clone(),
                    arrival: mailbox::system_time(envelope.arrival),
                },
                id,
            ));
        }
    }
    ctx.record(&immediate, &tables).await;
    done.attempts.extend(immediate);
    for (index, arrival, job, id) in locals {
        let started = Timestamp::now();
        let mailer = job.mailer().to_owned();
        let to = job.recipient.clone();
        let result = tokio::task::spawn_blocking(move || job.run()).await;
        let (outcome, reply) = match result {
            Ok(Ok(())) => (Outcome::Delivered, "250 2.0.0 Delivered".to_owned()),
            Ok(Err(error)) => {
                let outcome = if error.permanent { Outcome::Failed } else { Outcome::Deferred };
                (outcome, mailbox::reply_of(&error))
            }
            Err(error) => (Outcome::Deferred, format!("451 4.3.0 Local delivery failed: {error}")),
        };
        let attempt = Attempt {
            id,
            index,
            to,
            arrival,
            started,
            outcome,
            status: status_of(&reply),
            reply,
            mailer,
            relay: "localhost".to_owned(),
        };
        ctx.record(std::slice::from_ref(&attempt), &tables).await;
        done.attempts.push(attempt);
    }
    for (route, messages) in routes {
        done.attempts.extend(smtp::deliver_route(&ctx, &tables, &route, messages).await);
    }
    done
}

/// The mailer name a plan's log lines give.
fn mailer_of(plan: &Plan) -> String {
    match plan {
        Plan::Smtp(route) => route.mailer.name.clone(),
        Plan::Mailbox { .. } => "local".to_owned(),
        Plan::Program { .. } => "prog".to_owned(),
        Plan::File { .. } => "*file*".to_owned(),
        Plan::Error(_) | Plan::Unroutable { .. } => "error".to_owned(),
    }
}

/// An attempt decided without delivering: its outcome follows the reply's
/// class (2xx is never given here).
fn simple(
    id: QueueId,
    index: usize,
    to: String,
    envelope: &Envelope,
    started: Timestamp,
    reply: &str,
    mailer: &str,
) -> Attempt {
    Attempt {
        id,
        index,
        to,
        arrival: envelope.arrival,
        started,
        outcome: failure_outcome(reply),
        reply: reply.to_owned(),
        status: status_of(reply),
        mailer: mailer.to_owned(),
        relay: "localhost".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reply_lines_split_into_status_and_text() {
        assert_eq!(after_code("250 2.0.0 Ok: queued as X"), "2.0.0 Ok: queued as X");
        assert_eq!(status_of("550 5.1.1 <a@b>... User unknown"), "5.1.1");
        assert_eq!(status_of("421 Service not available"), "4.0.0");
        assert_eq!(failure_outcome("550 5.7.1 go away"), Outcome::Failed);
        assert_eq!(failure_outcome("451 4.3.0 later"), Outcome::Deferred);
    }
}
