//! Listeners and the questions of each SMTP session: connection limits,
//! the access map and relaying rules, reverse DNS, ruleset 0 at RCPT time,
//! and the durable enqueue before `250`.

use std::borrow::Cow;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use smarthost_queue::{Client as QueueClient, Envelope, Notify, Recipient, Ret, Timestamp};
use smarthost_routing::{
    Authenticated, Checked, Client, ClientResolve, ForwardPath, Mail, ParseOptions, PolicyReply, ReversePath,
    SenderDomain, Verdict as PolicyVerdict,
};
use smarthost_smtp_core::tokio::{ServerPolicy, ServerTls, serve_connection};
use smarthost_smtp_core::{
    EnhancedStatus, Notify as SmtpNotify, Question, RcptParams, Reply, Ret as SmtpRet, Transaction, Verdict,
};
use tokio::io::AsyncWriteExt as _;
use tokio::net::{TcpListener, TcpStream};

use crate::config::{ListenMode, Listener};
use crate::engine::Shared;
use crate::log;
use crate::tables::Tables;

/// Accepts connections until the relay stops.
pub(crate) async fn accept_loop(shared: Arc<Shared>, listener: Listener, socket: TcpListener) {
    let mut stopping = shared.stopping.clone();
    let mut sessions = tokio::task::JoinSet::new();
    loop {
        let (stream, remote) = tokio::select! {
            accepted = socket.accept() => match accepted {
                Ok(pair) => pair,
                Err(error) => {
                    // EMFILE and friends: say so, breathe, go on.
                    shared.log.notice(&format!("{}: accept failed: {error}", listener.addr));
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = stopping.changed() => break,
            Some(_) = sessions.join_next(), if !sessions.is_empty() => continue,
        };
        let _ = stream.set_nodelay(true);
        let shared = shared.clone();
        let listener = listener.clone();
        sessions.spawn(async move { session(shared, listener, stream, remote).await });
    }
    drop(socket);
    // Sessions notice `stopping` themselves after their transaction.
    while sessions.join_next().await.is_some() {}
}

async fn session(shared: Arc<Shared>, listener: Listener, mut stream: TcpStream, remote: SocketAddr) {
    let _slot = match shared.admit(remote.ip()) {
        Ok(slot) => slot,
        Err(why) => {
            let tables = shared.tables();
            let line = format!("421 4.3.2 {} {why}, try again later\r\n", tables.hostname);
            let _ = stream.write_all(line.as_bytes()).await;
            shared.log.event(
                None,
                &[
                    ("ruleset", &"check_relay"),
                    ("relay", &format!("[{}]", remote.ip())),
                    ("reject", &format!("421 4.3.2 {why}")),
                ],
            );
            return;
        }
    };
    let tables = shared.tables();
    let config = tables.server_config(listener.mode);
    let tls = tables.server_tls.clone().map(|tls| match listener.mode {
        ListenMode::Smtps => ServerTls::implicit(tls),
        _ => ServerTls::starttls(tls),
    });
    if listener.mode == ListenMode::Smtps && tls.is_none() {
        shared.log.notice(&format!("{}: an smtps listener needs [tls] cert and key", listener.addr));
        return;
    }
    let require_rdns = listener.require_rdns || tables.config.policy.require_rdns;
    // Without a resolver the requirement cannot be checked: defer (451
    // 4.7.25), never let the client through unchecked.
    let identity = if require_rdns {
        Some(identify(&shared, remote.ip()).await.unwrap_or((None, ClientResolve::Temp)))
    } else {
        None
    };
    drop(tables);
    let mut policy = SessionPolicy {
        shared: shared.clone(),
        remote,
        client_name: identity.as_ref().and_then(|i| i.0.clone()),
        resolve: identity.map_or(ClientResolve::Ok, |i| i.1),
        require_rdns,
        sender: None,
        auth: None,
        recipients: Vec::new(),
        discard: false,
        tables: None,
        busy: Arc::new(AtomicBool::new(false)),
    };
    let busy = policy.busy.clone();
    let mut stopping = shared.stopping.clone();
    let serve = serve_connection(stream, config, tls.as_ref(), &mut policy);
    tokio::pin!(serve);
    tokio::select! {
        _ = &mut serve => return,
        _ = stopping.wait_for(|stop| *stop) => {}
    }
    // Stopping: a session between transactions is closed now; one in the
    // middle of a transaction gets ten seconds to finish it: enough for a
    // message being sent, not for a client that went quiet.
    for _ in 0..200 {
        if !busy.load(Ordering::Acquire) {
            return;
        }
        tokio::select! {
            _ = &mut serve => return,
            _ = tokio::time::sleep(std::time::Duration::from_millis(50)) => {}
        }
    }
}

/// The client's reverse-DNS name, forward-confirmed; `None` without a
/// resolver (the caller defers).
async fn identify(shared: &Shared, addr: IpAddr) -> Option<(Option<String>, ClientResolve)> {
    let resolver = shared.dns.as_ref().ok()?;
    let ptr = resolver.ptr(addr).await;
    let identity = smarthost_routing::identify_client(resolver, addr, ptr).await;
    Some((identity.name, identity.resolve))
}

/// One accepted recipient: what ruleset 0 made of it.
struct Accepted {
    targets: Vec<String>,
    params: RcptParams,
    original: String,
}

/// Answers one session's questions.
struct SessionPolicy {
    shared: Arc<Shared>,
    remote: SocketAddr,
    client_name: Option<String>,
    resolve: ClientResolve,
    require_rdns: bool,
    sender: Option<ReversePath>,
    auth: Option<String>,
    recipients: Vec<Accepted>,
    /// An access `DISCARD`: the message is accepted and dropped.
    discard: bool,
    /// The tables of the transaction in progress: a reload in the middle
    /// of a transaction applies from the next one.
    tables: Option<Arc<Tables>>,
    /// Between an accepted MAIL and the end of its message: what a clean
    /// shutdown waits for.
    busy: Arc<AtomicBool>,
}

impl SessionPolicy {
    fn tables(&mut self) -> Arc<Tables> {
        self.tables.get_or_insert_with(|| self.shared.tables()).clone()
    }

    fn client(&self) -> Client<'_> {
        let mut client = Client::new(self.remote.ip(), self.client_name.as_deref());
        client.resolve = if self.require_rdns { self.resolve } else { ClientResolve::Ok };
        client.auth = self.auth.as_deref().map(|user| Authenticated { user, mechanism: "PLAIN" });
        client
    }

    /// `relay=name [addr]`: the reverse-DNS name when it was looked up
    /// (`localhost` for the loopback), as sendmail logs it.
    fn relay_field(&self) -> String {
        let ip = self.remote.ip();
        let name = self.client_name.as_deref().or(ip.is_loopback().then_some("localhost"));
        log::relay(name, Some(ip))
    }

    fn log_reject(&self, stage: &str, what: &str, checked_reply: &str) {
        let relay = self.relay_field();
        self.shared.log.event(
            None,
            &[("ruleset", &stage), ("arg1", &what), ("relay", &relay), ("reject", &checked_reply)],
        );
    }

    fn connect(&mut self) -> Verdict {
        let tables = self.tables();
        let checked = tables.policy().check_connect(&self.client());
        self.tables = None;
        answer(&checked)
            .inspect_err(|reply| {
                self.log_reject("check_relay", &self.remote.ip().to_string(), &reply_text(reply))
            })
            .map_or_else(Verdict::reject, |_| Verdict::accept())
    }

    fn mail(&mut self, sender: &smarthost_smtp_core::ReversePath, auth: Option<String>) -> Verdict {
        self.tables = None;
        self.recipients.clear();
        self.discard = false;
        self.auth = auth;
        let tables = self.tables();
        let raw = sender.raw();
        let parsed = match ReversePath::parse(&format!("<{raw}>"), ParseOptions { smtputf8: true }) {
            Ok(parsed) => parsed.path,
            Err(error) => {
                return Verdict::reject(reply(553, (5, 1, 7), &format!("<{raw}>... {error}")));
            }
        };
        if let (Some(login), ReversePath::Address(address)) = (&self.auth, &parsed)
            && !tables.sender_matches_login(login, &address.to_string())
        {
            let text = format!(
                "<{raw}>... Sender address not owned by the login `{login}`; send as your own address"
            );
            self.log_reject("check_mail", raw, &text);
            return Verdict::reject(reply(553, (5, 7, 1), &text));
        }
        let mail = Mail { sender: &parsed, domain: SenderDomain::Unchecked };
        let checked = tables.policy().check_sender(&self.client(), &mail);
        if checked.verdict == PolicyVerdict::Discard {
            self.discard = true;
        }
        match answer(&checked) {
            Ok(()) => {
                self.sender = Some(parsed);
                self.busy.store(true, Ordering::Release);
                Verdict::accept()
            }
            Err(refusal) => {
                self.log_reject("check_mail", raw, &reply_text(&refusal));
                Verdict::reject(refusal)
            }
        }
    }

    fn rcpt(&mut self, forward: &smarthost_smtp_core::ForwardPath, params: RcptParams) -> Verdict {
        let tables = self.tables();
        let Some(sender) = self.sender.clone() else {
            return Verdict::reject(reply(503, (5, 5, 1), "Need MAIL before RCPT"));
        };
        let raw = forward.raw();
        let parsed = match ForwardPath::parse(&format!("<{raw}>"), ParseOptions { smtputf8: true }) {
            Ok(parsed) => parsed,
            Err(error) => return Verdict::reject(reply(553, (5, 1, 3), &format!("<{raw}>... {error}"))),
        };
        let mail = Mail { sender: &sender, domain: SenderDomain::Unchecked };
        let checked = tables.policy().check_recipient(&self.client(), &mail, &parsed);
        if let Err(refusal) = answer(&checked) {
            self.log_reject("check_rcpt", raw, &reply_text(&refusal));
            return Verdict::reject(refusal);
        }
        if checked.verdict == PolicyVerdict::Discard {
            self.discard = true;
        }
        let resolution = match tables.resolver().resolve_path(&parsed.path) {
            Ok(resolution) => resolution,
            Err(error) => {
                self.shared.log.notice(&format!("<{raw}>: cannot resolve: {error}"));
                return Verdict::reject(reply(
                    451,
                    (4, 3, 0),
                    &format!("<{raw}>... Temporary lookup failure, try again later"),
                ));
            }
        };
        if let Some((target, refusal)) = resolution.rcpt_refusal() {
            let error = &refusal.reply;
            let refusal = error_reply(error.code, &error.enhanced, &error.text_for(&target.address));
            self.log_reject("check_rcpt", raw, &reply_text(&refusal));
            return Verdict::reject(refusal);
        }
        let targets: Vec<String> = resolution.deliveries().map(target_address).collect();
        self.recipients.push(Accepted { targets, params, original: raw.to_owned() });
        Verdict::accept()
    }

    async fn message(&mut self, transaction: Box<Transaction>) -> Verdict {
        let tables = self.tables();
        self.tables = None;
        let sender = match transaction.reverse_path.raw() {
            // sendmail qualifies an unqualified sender with $j.
            raw if !raw.is_empty() && !raw.contains('@') => format!("{raw}@{}", tables.hostname),
            raw => raw.to_owned(),
        };
        let size = transaction.content.len();
        let relay = self.relay_field();
        if self.discard {
            self.shared.log.event(
                None,
                &[
                    ("from", &format!("<{sender}>")),
                    ("size", &size),
                    ("relay", &relay),
                    ("discarded", &"access map DISCARD"),
                ],
            );
            self.recipients.clear();
            return Verdict::accept_with(reply(250, (2, 0, 0), "Ok: discarded"));
        }
        let mut recipients = Vec::new();
        for accepted in std::mem::take(&mut self.recipients) {
            let notify = accepted.params.notify.map(|n| Notify {
                success: n.contains(SmtpNotify::SUCCESS),
                failure: n.contains(SmtpNotify::FAILURE),
                delay: n.contains(SmtpNotify::DELAY),
            });
            // As received, or an xtext-encoded rfc822 one (RFC 3461 §4.2).
            let orcpt = match &accepted.params.orcpt {
                Some(orcpt) => orcpt.to_string(),
                None => smarthost_smtp_core::Orcpt::rfc822(&accepted.original).to_string(),
            };
            for target in accepted.targets {
                let mut recipient = Recipient::new(target);
                recipient.notify = notify;
                recipient.orcpt = Some(orcpt.clone());
                recipients.push(recipient);
            }
        }
        let nrcpts = recipients.len();
        let mut envelope = Envelope::new(sender.clone(), recipients, Timestamp::now());
        envelope.ret = transaction.mail_params.ret.map(|r| match r {
            SmtpRet::Full => Ret::Full,
            SmtpRet::Headers => Ret::Headers,
        });
        envelope.envid = transaction.mail_params.envid.clone();
        envelope.client = QueueClient {
            helo: transaction.helo.clone().unwrap_or_default(),
            addr: Some(self.remote.ip().to_string()),
            name: self.client_name.clone(),
            auth: transaction.auth.clone(),
            protocol: transaction.protocol.as_str().to_owned(),
        };
        if nrcpts == 0 {
            // Every recipient expanded to nothing (an alias to /dev/null style
            // list with no members is refused at RCPT, so this is rare).
            return Verdict::accept_with(reply(250, (2, 0, 0), "Ok: no recipients left to deliver to"));
        }
        let spool = self.shared.spool.clone();
        let stored = envelope.clone();
        let result = tokio::task::spawn_blocking(move || spool.enqueue(stored, &transaction.content)).await;
        match result {
            Ok(Ok(id)) => {
                let id_text = id.to_string();
                let proto = envelope.client.protocol.clone();
                let from = format!("<{sender}>");
                let mut fields: Vec<log::Field<'_>> = vec![
                    ("from", &from),
                    ("size", &size),
                    ("nrcpts", &nrcpts),
                    ("proto", &proto),
                    ("relay", &relay),
                    ("maps", &tables.generation),
                ];
                let authid;
                if let Some(login) = &envelope.client.auth {
                    authid = login.clone();
                    fields.insert(4, ("authid", &authid));
                }
                self.shared.log.event(Some(&id_text), &fields);
                self.shared.runner().submitted(id, envelope);
                Verdict::queued(&id_text)
            }
            Ok(Err(error)) if error.is_storage_full() => {
                self.shared.log.notice(&format!("spool full: refused a message from <{sender}>: {error}"));
                Verdict::reject(reply(452, (4, 3, 1), "Insufficient system storage, try again later"))
            }
            Ok(Err(error)) => {
                self.shared
                    .log
                    .notice(&format!("spool write failed: refused a message from <{sender}>: {error}"));
                Verdict::reject(reply(451, (4, 3, 0), "Local error in processing, try again later"))
            }
            Err(error) => {
                self.shared.log.notice(&format!("spool write task failed: {error}"));
                Verdict::reject(reply(451, (4, 3, 0), "Local error in processing, try again later"))
            }
        }
    }
}

impl ServerPolicy for SessionPolicy {
    async fn decide(&mut self, question: Question) -> Verdict {
        match question {
            Question::Connect(_) => self.connect(),
            Question::Mail { reverse_path, auth, .. } => self.mail(&reverse_path, auth),
            Question::Rcpt { forward_path, params } => self.rcpt(&forward_path, params),
            Question::Message(transaction) => {
                let verdict = self.message(transaction).await;
                self.busy.store(false, Ordering::Release);
                verdict
            }
            _ => Verdict::accept(),
        }
    }
}

/// How a queue recipient names a ruleset-0 target: an address to route,
/// `|command` for a program, `/path` for a file.
fn target_address(target: &smarthost_routing::Target) -> String {
    use smarthost_routing::Action;
    match &target.action {
        Action::Program { command } => format!("|{command}"),
        Action::File { path } => path.clone(),
        _ => target.address.clone(),
    }
}

/// `Ok` for an accepting check, else the reply to refuse with.
fn answer(checked: &Checked) -> Result<(), Reply> {
    if checked.verdict.is_refusal() { Err(policy_reply(&checked.reply)) } else { Ok(()) }
}

fn policy_reply(policy: &PolicyReply) -> Reply {
    reply(policy.code, policy.enhanced, &policy.text)
}

fn reply(code: u16, (class, subject, detail): (u8, u16, u16), text: &str) -> Reply {
    let status = EnhancedStatus::new(class, subject, detail).filter(|s| s.class() as u16 == code / 100);
    let clean: String = text.chars().map(|c| if c.is_control() { ' ' } else { c }).take(400).collect();
    Reply::new(code, status, Cow::Owned(clean.clone()))
        .or_else(|_| Reply::new(code, None, Cow::Owned(clean)))
        .unwrap_or_else(|_| Reply::new(451, None, "Local error").expect("a valid constant reply"))
}

/// A ruleset-0 refusal (`error:` entries, redirect, unknown users): its
/// enhanced code as routing gives it, `x.0.0` of the reply's class when
/// that is not one.
fn error_reply(code: u16, enhanced: &str, text: &str) -> Reply {
    let status = enhanced
        .parse::<EnhancedStatus>()
        .ok()
        .map_or(((code / 100) as u8, 0, 0), |s| (s.class(), s.subject(), s.detail()));
    reply(code, status, text)
}

fn reply_text(reply: &Reply) -> String {
    let status = reply.status().map(|s| format!(" {s}")).unwrap_or_default();
    format!("{}{status} {}", reply.code(), reply.lines().next().unwrap_or(""))
}
