//! SMTP delivery of the messages of one batch that share a route: rewrite,
//! resolve the next hops, and try them in order over one connection each,
//! failing over on connection, TLS and AUTH failures.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use smarthost_authinfo::LookupRequest;
use smarthost_queue::{Outcome, QueueId, Ret, Timestamp};
use smarthost_routing::{
    MailerRules, NextHop, ParseOptions, ReversePath, TlsPolicy as RouteTls, random_seed, resolve_next_hops,
};
use smarthost_smtp_core::dsn::Diagnostic;
use smarthost_smtp_core::tokio::{Destination, deliver_each};
use smarthost_smtp_core::{
    ClientAuth, ClientConfig, Envelope, FailureKind, MailParams, MessageResult, Notify, Phase, RcptParams,
    RecipientResult, TlsPolicy,
};
use tokio::sync::mpsc;

use super::destination::SmtpRoute;
use super::runner::{Attempt, Context};
use crate::lock;
use crate::tables::Tables;

/// One message of the batch, with the recipients that take this route.
pub(super) struct Outgoing {
    pub(super) id: QueueId,
    pub(super) sender: String,
    pub(super) content: Arc<Vec<u8>>,
    pub(super) arrival: Timestamp,
    pub(super) ret: Option<Ret>,
    pub(super) envid: Option<String>,
    pub(super) recipients: Vec<Rcpt>,
}

/// One recipient of an [`Outgoing`] message.
pub(super) struct Rcpt {
    /// Its index in the envelope.
    pub(super) index: usize,
    /// The queued address, for the log line.
    pub(super) queued: String,
    /// The address for `RCPT TO` (the route may rewrite it).
    pub(super) forward: String,
    pub(super) notify: Option<smarthost_queue::Notify>,
    pub(super) orcpt: Option<String>,
}

/// Delivers `messages` over `route`; records each message's results as
/// soon as its transaction ends, and returns them all.
pub(super) async fn deliver_route(
    ctx: &Context,
    tables: &Arc<Tables>,
    route: &SmtpRoute,
    messages: Vec<Outgoing>,
) -> Vec<Attempt> {
    let mailer = route.mailer.name.clone();
    let started = Timestamp::now();
    let mut done = Vec::new();
    let (mut pending, refused) = rewrite(tables, route, messages);
    for (message, reply) in refused {
        done.extend(finish_all(&message, Outcome::Deferred, &reply, &mailer, "localhost", started));
    }
    ctx.record(&done, tables).await;
    let unrewritable = done.len();
    let hops = match resolve_next_hops(
        &route.hosts,
        route.mailer.port,
        ctx.resolver.as_ref(),
        tables.local_names(),
        random_seed(),
    )
    .await
    {
        Ok(hops) => hops,
        Err(failure) => {
            let outcome = if failure.temporary { Outcome::Deferred } else { Outcome::Failed };
            let reply = failure.to_string();
            for message in &pending {
                done.extend(finish_all(message, outcome, &reply, &mailer, &route.host_text, started));
            }
            ctx.record(&done[unrewritable..], tables).await;
            return done;
        }
    };
    let mut last_failure: Option<String> = None;
    let mut only_connection_failures = true;
    let mut tried = 0;
    for hop in &hops {
        if pending.is_empty() {
            break;
        }
        let addr = SocketAddr::new(hop.addr, hop.port);
        if !lock::mutex(&ctx.breakers).allow(addr, Instant::now()) {
            continue;
        }
        tried += 1;
        let relay = crate::log::relay(Some(&hop.host_name), Some(hop.addr));
        let mut answered = false;
        let mut refused_connection = false;
        let mut next_round = Vec::new();
        // Messages whose senders have different AuthInfo entries need
        // connections of their own.
        for (auth, group) in by_credentials(tables, route, hop, std::mem::take(&mut pending)) {
            let auth = match auth {
                Ok(auth) => auth,
                Err(reply) => {
                    // Required AUTH without an entry for this host: the next
                    // host may have one.
                    last_failure = Some(reply);
                    only_connection_failures = false;
                    next_round.extend(group);
                    continue;
                }
            };
            let config = client_config(tables, route, auth);
            let started = Timestamp::now();
            let destination = Destination { addr, server_name: hop.host_name.clone() };
            let tls = tables.tls_client(&route.mailer.name);
            let envelopes = group.iter().map(|m| (envelope(m), m.content.to_vec())).collect();
            let (sender, receiver) = mpsc::unbounded_channel();
            let session = deliver_each(&destination, tls, config, envelopes, move |result| {
                // The receiver lives until the session ends.
                let _ = sender.send(result);
            });
            let recorder = record_as_they_come(ctx, tables, &group, receiver, &mailer, &relay, started);
            let (delivered, mut results) = tokio::join!(session, recorder);
            if let Err(error) = delivered {
                let reply = format!("451 4.3.5 {error}");
                let mut session = Vec::new();
                for message in &group {
                    session.extend(finish_all(message, Outcome::Deferred, &reply, &mailer, &relay, started));
                }
                ctx.record(&session, tables).await;
                done.extend(session);
                continue;
            }
            results.sort_by_key(|r| r.id);
            for (mut message, result) in group.into_iter().zip(results) {
                answered |= reached_server(&result);
                refused_connection |= !reached_server(&result);
                let mut retry = Vec::new();
                for (rcpt, outcome) in
                    std::mem::take(&mut message.recipients).into_iter().zip(&result.recipients)
                {
                    if is_host_failure(outcome) {
                        only_connection_failures &= outcome.failure == Some(FailureKind::Connection);
                        last_failure = Some(reply_line(outcome));
                        retry.push(rcpt);
                    } else {
                        // Recorded already, as the result came.
                        done.push(attempt(&message, &rcpt, outcome, &mailer, &relay, started));
                    }
                }
                if !retry.is_empty() {
                    message.recipients = retry;
                    next_round.push(message);
                }
            }
        }
        {
            let mut breakers = lock::mutex(&ctx.breakers);
            if answered {
                breakers.success(addr);
            } else if refused_connection {
                if let Some(cooling) = breakers.failure(addr, Instant::now()) {
                    ctx.shared.log.notice(&format!(
                        "{relay}: port {} keeps refusing connections; skipping it for {}s",
                        hop.port,
                        cooling.as_secs()
                    ));
                }
            } else {
                breakers.release_probe(addr);
            }
        }
        pending = next_round;
    }
    if !pending.is_empty() {
        let reply = match (&last_failure, tried) {
            (_, 0) => "451 4.4.1 Connection refused by all hosts: every next hop is cooling down after \
                       repeated connection failures"
                .to_owned(),
            (Some(last), _) if only_connection_failures => {
                format!("451 4.4.1 Connection refused by all hosts; last: {last}")
            }
            (Some(last), _) => last.clone(),
            (None, _) => "451 4.4.1 Connection refused by all hosts".to_owned(),
        };
        let mut rest = Vec::new();
        for message in &pending {
            rest.extend(finish_all(message, Outcome::Deferred, &reply, &mailer, &route.host_text, started));
        }
        ctx.record(&rest, tables).await;
        done.extend(rest);
    }
    done
}

/// Records each message's results (log lines, spool) while the session
/// goes on, so that a crash later in the session does not send the message
/// again: whatever came in while the previous write was syncing goes into
/// the next write, all of it sharing one sync. Host failures (connection,
/// TLS, AUTH) are not recorded: the next host gets those recipients.
/// Returns every result, once the session has ended and all are recorded.
async fn record_as_they_come(
    ctx: &Context,
    tables: &Arc<Tables>,
    group: &[Outgoing],
    mut results: mpsc::UnboundedReceiver<MessageResult>,
    mailer: &str,
    relay: &str,
    started: Timestamp,
) -> Vec<MessageResult> {
    let mut all = Vec::with_capacity(group.len());
    while let Some(first) = results.recv().await {
        let mut arrived = vec![first];
        while let Ok(more) = results.try_recv() {
            arrived.push(more);
        }
        let mut attempts = Vec::new();
        for result in &arrived {
            let Some(message) = usize::try_from(result.id.index()).ok().and_then(|i| group.get(i)) else {
                continue;
            };
            for (rcpt, outcome) in message.recipients.iter().zip(&result.recipients) {
                if !is_host_failure(outcome) {
                    attempts.push(attempt(message, rcpt, outcome, mailer, relay, started));
                }
            }
        }
        ctx.record(&attempts, tables).await;
        all.extend(arrived);
    }
    all
}

/// Masquerading and genericstable for the envelope sender and the headers,
/// when configured. A message that cannot be rewritten is deferred: the
/// operator asked for those addresses to be hidden.
fn rewrite(
    tables: &Tables,
    route: &SmtpRoute,
    messages: Vec<Outgoing>,
) -> (Vec<Outgoing>, Vec<(Outgoing, String)>) {
    if !tables.rewrites() {
        return (messages, Vec::new());
    }
    let rules = MailerRules::for_mailer(&route.mailer);
    let rewriter = tables.rewriter();
    let mut ok = Vec::new();
    let mut refused = Vec::new();
    for mut message in messages {
        let sender =
            match ReversePath::parse(&format!("<{}>", message.sender), ParseOptions { smtputf8: true }) {
                Ok(parsed) => rewriter.rewrite_reverse_path(&parsed.path, rules).map(|(path, _)| path),
                Err(_) => {
                    // Not ours to fix: pass on what the client gave.
                    ok.push(message);
                    continue;
                }
            };
        let headers = rewriter.rewrite_headers(&message.content, rules);
        match (sender, headers) {
            (Ok(sender), Ok(headers)) => {
                message.sender = match sender {
                    ReversePath::Null => String::new(),
                    ReversePath::Address(address) => address.to_string(),
                };
                if !headers.is_empty() {
                    message.content = Arc::new(headers.apply(&message.content));
                }
                ok.push(message);
            }
            (Err(error), _) | (_, Err(error)) => {
                refused.push((message, format!("451 4.3.0 masquerading failed: {error}")));
            }
        }
    }
    (ok, refused)
}

/// The credentials for a connection, or the reply to defer with.
type AuthChoice = Result<Option<ClientAuth>, String>;

/// Splits `messages` by the AuthInfo entry their sender gets for `hop`.
/// `Err(reply)` for a group whose mailer requires AUTH and that has no
/// entry.
fn by_credentials(
    tables: &Tables,
    route: &SmtpRoute,
    hop: &NextHop,
    messages: Vec<Outgoing>,
) -> Vec<(AuthChoice, Vec<Outgoing>)> {
    use smarthost_routing::AuthPolicy as RouteAuth;
    let mut groups: Vec<(Option<smarthost_authinfo::Found>, AuthChoice, Vec<Outgoing>)> = Vec::new();
    for message in messages {
        let found = if route.mailer.auth == RouteAuth::None {
            Ok(None)
        } else {
            tables.credentials(&LookupRequest {
                server_name: &hop.host_name,
                server_addr: Some(hop.addr),
                route_name: Some(&route.host_text),
                sender: Some(&message.sender).filter(|s| !s.is_empty()).map(String::as_str),
            })
        };
        let (key, auth) = match found {
            Ok(Some(found)) => {
                let mut auth = ClientAuth::new(found.entry.credentials());
                auth.required = route.mailer.auth == RouteAuth::Required;
                if let Some(mechanisms) = &found.entry.mechanisms {
                    auth.mechanisms = mechanisms.clone();
                }
                (Some(found), Ok(Some(auth)))
            }
            Ok(None) if route.mailer.auth == RouteAuth::Required => (
                None,
                Err(format!(
                    "451 4.7.0 mailer {} requires AUTH and the AuthInfo file has no entry for {} [{}]",
                    route.mailer.name, hop.host_name, hop.addr
                )),
            ),
            Ok(None) => (None, Ok(None)),
            Err(error) => (None, Err(format!("451 4.3.0 AuthInfo lookup failed: {error}"))),
        };
        match groups.iter_mut().find(|(k, a, _)| *k == key && a.is_ok() == auth.is_ok()) {
            Some((_, _, group)) => group.push(message),
            None => groups.push((key, auth, vec![message])),
        }
    }
    groups.into_iter().map(|(_, auth, group)| (auth, group)).collect()
}

fn client_config(tables: &Tables, route: &SmtpRoute, auth: Option<ClientAuth>) -> ClientConfig {
    let mut config = ClientConfig::new(tables.hostname.clone());
    config.tls = match route.mailer.tls {
        RouteTls::None => TlsPolicy::Disabled,
        RouteTls::Opportunistic => TlsPolicy::Opportunistic,
        RouteTls::Required => TlsPolicy::Required,
        RouteTls::Implicit => TlsPolicy::Implicit,
    };
    config.auth = auth;
    config
}

/// The SMTP envelope of a message: the DSN parameters are passed on.
fn envelope(message: &Outgoing) -> Envelope {
    let mut mail_params = MailParams::default();
    mail_params.ret = message.ret.map(|ret| match ret {
        Ret::Full => smarthost_smtp_core::Ret::Full,
        Ret::Headers => smarthost_smtp_core::Ret::Headers,
    });
    mail_params.envid = message.envid.clone();
    let recipients = message
        .recipients
        .iter()
        .map(|rcpt| {
            let mut params = RcptParams::default();
            params.notify = rcpt.notify.map(smtp_notify);
            params.orcpt = rcpt
                .orcpt
                .as_deref()
                .and_then(|orcpt| RcptParams::parse(&format!("ORCPT={orcpt}")).ok())
                .and_then(|parsed| parsed.orcpt);
            (rcpt.forward.clone(), params)
        })
        .collect();
    Envelope { reverse_path: message.sender.clone(), mail_params, recipients }
}

/// The queue's NOTIFY as the SMTP parameter.
pub(super) fn smtp_notify(notify: smarthost_queue::Notify) -> Notify {
    let mut out = Notify::NEVER;
    for (wanted, flag) in
        [(notify.success, Notify::SUCCESS), (notify.failure, Notify::FAILURE), (notify.delay, Notify::DELAY)]
    {
        if wanted {
            out = out.union(flag);
        }
    }
    out
}

/// Whether the session got as far as the server's greeting.
fn reached_server(result: &MessageResult) -> bool {
    !result
        .recipients
        .iter()
        .any(|r| r.failure == Some(FailureKind::Connection) && matches!(r.phase, Phase::Connect))
}

/// A failure of the host rather than of the recipient: try the next host.
fn is_host_failure(result: &RecipientResult) -> bool {
    matches!(result.failure, Some(FailureKind::Connection | FailureKind::Tls | FailureKind::Auth))
}

/// `550 5.1.1 text`, on one line.
fn reply_line(result: &RecipientResult) -> String {
    let diagnostic = Diagnostic::from(&result.reply);
    let text = crate::log::one_line(&diagnostic.text);
    if result.reply.status().is_none() { with_status(&text, &result.status.to_string()) } else { text }
}

/// Puts `status` after the code of a reply line without one.
fn with_status(line: &str, status: &str) -> String {
    match line.split_once(' ') {
        Some((code, rest)) => format!("{code} {status} {rest}"),
        None => format!("{line} {status}"),
    }
}

fn attempt(
    message: &Outgoing,
    rcpt: &Rcpt,
    result: &RecipientResult,
    mailer: &str,
    relay: &str,
    started: Timestamp,
) -> Attempt {
    let outcome = if result.is_delivered() {
        Outcome::Delivered
    } else if result.is_permanent() {
        Outcome::Failed
    } else {
        Outcome::Deferred
    };
    Attempt {
        id: message.id,
        index: rcpt.index,
        to: rcpt.queued.clone(),
        arrival: message.arrival,
        started,
        outcome,
        reply: reply_line(result),
        status: result.status.to_string(),
        mailer: mailer.to_owned(),
        relay: relay.to_owned(),
    }
}

/// The same outcome for every recipient of `message`.
fn finish_all(
    message: &Outgoing,
    outcome: Outcome,
    reply: &str,
    mailer: &str,
    relay: &str,
    started: Timestamp,
) -> Vec<Attempt> {
    message
        .recipients
        .iter()
        .map(|rcpt| Attempt {
            id: message.id,
            index: rcpt.index,
            to: rcpt.queued.clone(),
            arrival: message.arrival,
            started,
            outcome,
            reply: reply.to_owned(),
            status: super::runner::status_of(reply),
            mailer: mailer.to_owned(),
            relay: relay.to_owned(),
        })
        .collect()
}
