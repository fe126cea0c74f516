//! The session: input framing, the phase machine, outputs and deadlines.
//! Command handlers live in the sibling modules.

use std::mem;
use std::sync::Arc;
use std::time::Instant;

use crate::MailParams;
use crate::data::{BdatReceiver, DataReceiver};
use crate::replies::{self, HostReply};
use crate::reply::Reply;
use crate::server::auth::AuthExchange;
use crate::server::command::{self, Command};
use crate::server::config::{
    MAX_AUTH_LINE, MAX_COMMAND_LINE, MAX_PIPELINED_INPUT, ServerConfig, TimeoutPhase,
};
use crate::server::path::ReversePath;
use crate::server::types::{
    DecisionId, Output, Peer, Question, Recipient, TlsInfo, Transaction, UnexpectedDecision, Verdict,
    VerdictKind,
};

/// A buffer whose capacity grew past this is dropped once it is empty, so
/// an idle session holds little memory.
const KEEP_CAPACITY: usize = 1024;

/// What the output buffer starts with: an EHLO reply and a few more.
const OUT_CAPACITY: usize = 512;

/// One SMTP server connection as a sans-IO state machine.
///
/// Bytes and `now` go in; replies, policy questions, TLS and close requests
/// and deadlines come out. The session never blocks, reads no clock and
/// touches no socket.
///
/// # Calling order
///
/// 1. [`ServerSession::new`] — the greeting (or a [`Question::Connect`]) is
///    ready at once.
/// 2. Drain [`ServerSession::poll_output`] until it returns `None`, after
///    `new` and after **every** `handle_*` call:
///    * [`Output::Send`]: write the bytes;
///    * [`Output::Decide`]: ask the policy, then call
///      [`ServerSession::handle_decision`] with the same id (at once or
///      later; nothing else is processed meanwhile, and input that arrives
///      is buffered, up to [`MAX_PIPELINED_INPUT`](crate::MAX_PIPELINED_INPUT));
///    * [`Output::StartTls`]: do the TLS handshake, then call
///      [`ServerSession::handle_tls_established`] (or just close on failure);
///    * [`Output::Close`]: close the connection; the session is finished.
/// 3. Feed bytes read from the client to [`ServerSession::handle_input`].
///    Drivers should stop reading while [`ServerSession::is_waiting`] is
///    true (backpressure); input is never lost either way.
/// 4. Sleep until [`ServerSession::poll_timeout`] and then call
///    [`ServerSession::handle_timeout`] (a stale deadline is ignored).
///
/// Replies come out strictly in command order, also when commands are
/// pipelined and decisions are answered late.
///
/// ```
/// use std::sync::Arc;
/// use std::time::Instant;
/// use smarthost_smtp_core::{Output, Peer, ServerConfig, ServerSession, Verdict};
///
/// let mut config = ServerConfig::new("mx.example.org").unwrap();
/// config.ask.connect = false;
/// config.ask.helo = false;
/// let peer = Peer::new("192.0.2.1:40000".parse().unwrap(), "192.0.2.25:25".parse().unwrap(), 1_700_000_000);
/// let now = Instant::now();
/// let mut session = ServerSession::new(Arc::new(config), peer, now);
/// session.handle_input(b"HELO client.example\r\nMAIL FROM:<a@example.org>\r\n", now);
/// let mut wire = Vec::new();
/// while let Some(output) = session.poll_output() {
///     match output {
///         Output::Send(bytes) => wire.extend_from_slice(bytes),
///         Output::Decide(id, _question) => session.handle_decision(id, Verdict::accept(), now).unwrap(),
///         _ => {}
///     }
/// }
/// assert_eq!(
///     String::from_utf8(wire).unwrap(),
///     "220 mx.example.org ESMTP smarthost ready\r\n\
///      250 mx.example.org Hello client.example [192.0.2.1], pleased to meet you\r\n\
///      250 <a@example.org>... Sender ok\r\n"
/// );
/// ```
#[derive(Debug)]
pub struct ServerSession {
    pub(super) config: Arc<ServerConfig>,
    pub(super) peer: Peer,
    started: Instant,
    pub(super) phase: Phase,
    /// The decision being waited for.
    waiting: Option<Waiting>,
    next_id: u64,
    pub(super) helo: Option<Box<str>>,
    /// EHLO was accepted: enhanced status codes on replies.
    pub(super) extended: bool,
    pub(super) auth: Option<Box<str>>,
    pub(super) txn: Option<Box<Txn>>,
    pub(super) out: Vec<u8>,
    /// `out` went out through `poll_output`; clear it before writing.
    out_given: bool,
    /// A command line split across inputs.
    line: Vec<u8>,
    /// Dropping an over-long line up to its LF.
    discarding_line: bool,
    /// Input that arrived while waiting for a decision, from `pending_at`.
    pending: Vec<u8>,
    pending_at: usize,
    start_tls: bool,
    /// The driver cannot do TLS for now: STARTTLS gets 454.
    pub(super) tls_suspended: bool,
    close: bool,
    deadline: Option<Instant>,
    bad_commands: u32,
    bare_line_endings: u8,
    /// Commands since the greeting or the TLS handshake.
    commands: u32,
}

/// Where the input goes.
#[derive(Debug)]
pub(super) enum Phase {
    /// Waiting for the Connect decision; no greeting yet.
    Connecting,
    /// Refused with 554: only QUIT is served.
    NoService,
    /// Reading command lines.
    Command,
    /// Reading DATA content.
    Data(DataReceiver),
    /// Reading a BDAT chunk (into the transaction's `BdatReceiver`).
    Bdat,
    /// Dropping a refused BDAT chunk.
    Discard { remaining: u64 },
    /// Reading the client's line in an AUTH exchange.
    Auth(Box<AuthExchange>),
    /// The TLS handshake is the driver's; plaintext input is dropped.
    TlsHandshake,
    /// Finished.
    Closed,
}

/// A question put out, waiting for its answer.
#[derive(Debug)]
struct Waiting {
    id: DecisionId,
    /// The question went out through `poll_output`.
    asked: bool,
    pending: Pending,
}

/// What a pending decision is about: what the question is built from when
/// it goes out, and what an accept needs.
#[derive(Debug)]
pub(super) enum Pending {
    Connect,
    Helo {
        extended: bool,
        name: Box<str>,
    },
    /// The transaction is in `txn` already; a refusal removes it.
    Mail,
    /// The recipient is the last of `txn`'s; a refusal removes it.
    Rcpt,
    Vrfy(String),
    Expn(String),
    /// The transaction, until the question takes it.
    Message(Option<Box<Transaction>>),
}

/// The transaction being built.
#[derive(Debug)]
pub(super) struct Txn {
    pub(super) reverse_path: ReversePath,
    pub(super) params: MailParams,
    pub(super) recipients: Vec<Recipient>,
    pub(super) queue_id: Option<String>,
    pub(super) content: Vec<u8>,
    pub(super) received_len: usize,
    /// Set once BDAT started the content.
    pub(super) bdat: Option<BdatReceiver>,
}

impl ServerSession {
    /// A session for a client that just connected. The greeting, or a
    /// [`Question::Connect`] when [`Ask::connect`](crate::Ask::connect) is
    /// set, is ready in [`ServerSession::poll_output`].
    pub fn new(config: Arc<ServerConfig>, peer: Peer, now: Instant) -> Self {
        let mut session = ServerSession {
            config,
            peer,
            started: now,
            phase: Phase::Connecting,
            waiting: None,
            next_id: 0,
            helo: None,
            extended: false,
            auth: None,
            txn: None,
            out: Vec::new(),
            out_given: false,
            line: Vec::new(),
            discarding_line: false,
            pending: Vec::new(),
            pending_at: 0,
            start_tls: false,
            tls_suspended: false,
            close: false,
            deadline: None,
            bad_commands: 0,
            bare_line_endings: 0,
            commands: 0,
        };
        session.reclaim_out();
        if session.config.ask.connect {
            session.ask(Pending::Connect);
        } else {
            session.greet(None);
        }
        session.arm(now);
        session
    }

    /// Takes bytes read from the client.
    pub fn handle_input(&mut self, input: &[u8], now: Instant) {
        self.reclaim_out();
        if matches!(self.phase, Phase::Closed | Phase::TlsHandshake) {
            return;
        }
        if self.waiting.is_some() {
            self.buffer(input);
        } else {
            let used = self.process(input, now);
            if self.waiting.is_some() {
                self.buffer(&input[used..]);
            }
        }
        self.arm(now);
    }

    /// Answers the question `id` of an [`Output::Decide`].
    ///
    /// Errors when `id` is not the pending question (an answer given twice,
    /// or to another session); the session is unchanged then. After the
    /// session closed (a timeout, say) answers are accepted and ignored.
    pub fn handle_decision(
        &mut self,
        id: DecisionId,
        verdict: Verdict,
        now: Instant,
    ) -> Result<(), UnexpectedDecision> {
        self.reclaim_out();
        if matches!(self.phase, Phase::Closed) {
            return Ok(());
        }
        let pending = match self.waiting.take() {
            Some(waiting) if waiting.id == id => waiting.pending,
            other => {
                let pending = other.as_ref().map(|waiting| waiting.id);
                self.waiting = other;
                return Err(UnexpectedDecision { got: id, pending });
            }
        };
        self.apply(pending, verdict);
        self.drain_pending(now);
        self.arm(now);
        Ok(())
    }

    /// The TLS handshake after [`Output::StartTls`] succeeded. The session
    /// is back in the state after the greeting: the client must send EHLO
    /// again, and any AUTH is forgotten (RFC 3207 §4.2).
    pub fn handle_tls_established(&mut self, tls: TlsInfo, now: Instant) {
        self.reclaim_out();
        if !matches!(self.phase, Phase::TlsHandshake) {
            return;
        }
        self.peer.tls = Some(tls);
        self.helo = None;
        self.extended = false;
        self.auth = None;
        self.txn = None;
        self.commands = 0;
        self.phase = Phase::Command;
        self.arm(now);
    }

    /// The driver cannot run a TLS handshake for now (say its certificate
    /// can no longer be loaded): STARTTLS, still advertised when
    /// configured, is answered `454 4.3.3 TLS not available due to
    /// temporary reason` (RFC 3207) for the rest of the session.
    pub fn handle_tls_unavailable(&mut self) {
        self.tls_suspended = true;
    }

    /// Call when [`ServerSession::poll_timeout`] has passed: the session
    /// says `421 4.4.2 ... Timeout ...` (no reply during a TLS handshake)
    /// and asks to close. A call before the deadline does nothing.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.reclaim_out();
        let Some(deadline) = self.deadline else { return };
        if now < deadline {
            return;
        }
        let reply = match self.phase {
            Phase::Command | Phase::NoService => Some(replies::TIMEOUT_COMMAND),
            Phase::Data(_) | Phase::Bdat | Phase::Discard { .. } => Some(replies::TIMEOUT_DATA),
            Phase::Auth(_) => Some(replies::TIMEOUT_AUTH),
            Phase::TlsHandshake => None,
            Phase::Connecting | Phase::Closed => return,
        };
        match reply {
            Some(reply) => self.close_with(&reply),
            None => self.close_silently(),
        }
    }

    /// The next thing to do; call until `None` after every `handle_*` call.
    ///
    /// Bytes to send come before questions, and `StartTls`/`Close` after
    /// the bytes that precede them.
    pub fn poll_output(&mut self) -> Option<Output<'_>> {
        self.reclaim_out();
        if !self.out.is_empty() {
            self.out_given = true;
            return Some(Output::Send(&self.out));
        }
        if let Some(waiting) = self.waiting.as_mut().filter(|w| !w.asked) {
            waiting.asked = true;
            let question = match &mut waiting.pending {
                Pending::Connect => Question::Connect(self.peer.clone()),
                Pending::Helo { extended, name } => {
                    Question::Helo { name: name.to_string(), extended: *extended }
                }
                Pending::Mail => {
                    let txn = self.txn.as_ref()?;
                    Question::Mail {
                        reverse_path: txn.reverse_path.clone(),
                        params: txn.params.clone(),
                        auth: self.auth.as_deref().map(str::to_owned),
                        tls: self.peer.tls.is_some(),
                    }
                }
                Pending::Rcpt => {
                    let recipient = self.txn.as_ref()?.recipients.last()?;
                    Question::Rcpt {
                        forward_path: recipient.forward_path.clone(),
                        params: recipient.params.clone(),
                    }
                }
                Pending::Vrfy(value) => Question::Vrfy(mem::take(value)),
                Pending::Expn(value) => Question::Expn(mem::take(value)),
                // Put out once (`asked`), so the transaction is still there.
                Pending::Message(transaction) => Question::Message(transaction.take()?),
            };
            return Some(Output::Decide(waiting.id, question));
        }
        if mem::take(&mut self.start_tls) {
            return Some(Output::StartTls);
        }
        if mem::take(&mut self.close) {
            return Some(Output::Close);
        }
        None
    }

    /// When [`ServerSession::handle_timeout`] should be called; `None`
    /// while a decision is pending or after the session closed.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.deadline
    }

    /// Whether a question is waiting for its answer (drivers stop reading
    /// meanwhile).
    pub fn is_waiting(&self) -> bool {
        self.waiting.is_some()
    }

    /// Whether the session has finished (after QUIT, a `421`, or a refused
    /// connection).
    pub fn is_closed(&self) -> bool {
        matches!(self.phase, Phase::Closed)
    }

    /// The AUTH login, once authenticated.
    pub fn authenticated(&self) -> Option<&str> {
        self.auth.as_deref()
    }

    /// The negotiated TLS parameters, if TLS is active.
    pub fn tls(&self) -> Option<&TlsInfo> {
        self.peer.tls.as_ref()
    }

    /// Bytes of heap the session holds now (its buffers and strings), for
    /// memory accounting; the configuration, shared by all sessions, is
    /// not counted.
    pub fn heap_size(&self) -> usize {
        let txn = self.txn.as_ref().map_or(0, |t| {
            mem::size_of::<Txn>()
                + t.content.capacity()
                + t.recipients.capacity() * mem::size_of::<Recipient>()
                + t.recipients.iter().map(|r| r.forward_path.raw().len()).sum::<usize>()
                + t.reverse_path.raw().len()
        });
        let auth_exchange = match &self.phase {
            Phase::Auth(_) => mem::size_of::<AuthExchange>(),
            _ => 0,
        };
        self.out.capacity()
            + self.line.capacity()
            + self.pending.capacity()
            + self.helo.as_ref().map_or(0, |h| h.len())
            + self.auth.as_ref().map_or(0, |a| a.len())
            + self.peer.remote_name.as_ref().map_or(0, String::capacity)
            + self.peer.tls.as_ref().map_or(0, |t| t.version.capacity() + t.cipher.capacity())
            + txn
            + auth_exchange
    }

    // ---- replies and outputs ------------------------------------------

    /// Empties the output buffer once its bytes went out through
    /// `poll_output` (they stay readable until the next call on the
    /// session, which is where this runs). The first write reserves room
    /// for a few replies, so replies do not grow the buffer step by step.
    fn reclaim_out(&mut self) {
        if self.out_given {
            self.out.clear();
            self.out_given = false;
            if self.out.capacity() > KEEP_CAPACITY {
                self.out = Vec::new();
            }
        }
        if self.out.capacity() == 0 {
            self.out.reserve(OUT_CAPACITY);
        }
    }

    /// Writes `reply` with enhanced codes after EHLO.
    pub(super) fn reply(&mut self, reply: &Reply) {
        replies::write_reply(&mut self.out, reply, self.extended);
    }

    /// Writes `reply` for a refused or malformed command, or `421 Too many
    /// bad commands` and close once the limit is passed.
    pub(super) fn reply_bad(&mut self, reply: &Reply) {
        self.bad_commands += 1;
        if self.bad_commands > self.config.max_bad_commands {
            self.close_with(&replies::TOO_MANY_BAD_COMMANDS);
        } else {
            self.reply(reply);
        }
    }

    /// Writes a reply that names the host.
    pub(super) fn reply_host(&mut self, reply: &HostReply) {
        let enhanced = self.extended;
        let config = Arc::clone(&self.config);
        reply.write_to(&mut self.out, config.hostname(), enhanced);
    }

    /// Writes `reply` and closes.
    pub(super) fn close_with(&mut self, reply: &HostReply) {
        self.reply_host(reply);
        self.close_silently();
    }

    /// Writes `reply` (a `Reply`) and closes.
    pub(super) fn close_with_reply(&mut self, reply: &Reply) {
        self.reply(reply);
        self.close_silently();
    }

    /// Closes without a reply.
    pub(super) fn close_silently(&mut self) {
        self.phase = Phase::Closed;
        self.close = true;
        self.waiting = None;
        self.deadline = None;
        self.txn = None;
        self.line = Vec::new();
        self.pending = Vec::new();
        self.pending_at = 0;
    }

    /// Starts the TLS handshake: everything buffered is dropped (RFC 3207 §4.2).
    pub(super) fn begin_tls(&mut self) {
        self.phase = Phase::TlsHandshake;
        self.start_tls = true;
        self.line = Vec::new();
        self.discarding_line = false;
        self.pending = Vec::new();
        self.pending_at = 0;
    }

    /// Puts a question out and waits for its answer.
    pub(super) fn ask(&mut self, pending: Pending) {
        let id = DecisionId(self.next_id);
        self.next_id += 1;
        self.waiting = Some(Waiting { id, asked: false, pending });
    }

    /// Wall-clock seconds at `now`.
    pub(super) fn unix_time(&self, now: Instant) -> u64 {
        self.peer.unix_time + now.saturating_duration_since(self.started).as_secs()
    }

    fn greet(&mut self, reply: Option<Reply>) {
        self.phase = Phase::Command;
        if let Some(reply) = reply {
            self.reply(&reply);
            return;
        }
        let config = Arc::clone(&self.config);
        let text = config.greeting_text.as_str();
        let text = if text.bytes().all(|b| (0x20..0x7f).contains(&b)) { text } else { "" };
        let sep = if text.is_empty() { "" } else { " " };
        replies::write_parts(
            &mut self.out,
            replies::GREETING.code(),
            None,
            false,
            &[config.hostname(), " ", replies::GREETING.text(), sep, text],
        );
    }

    // ---- decisions ------------------------------------------------------

    fn apply(&mut self, pending: Pending, verdict: Verdict) {
        let (kind, reply, queue_id) = verdict.into_parts();
        // A reply that contradicts the verdict is a policy bug; the client
        // gets a temporary local error instead of a misleading code.
        let (kind, reply) = match (kind, reply) {
            (VerdictKind::Accept, Some(r)) if !r.is_positive() => {
                (VerdictKind::Reject, Some(replies::LOCAL_ERROR))
            }
            (VerdictKind::Reject, r)
                if r.as_ref().is_none_or(|r| !(r.is_transient() || r.is_permanent())) =>
            {
                (VerdictKind::Reject, Some(replies::LOCAL_ERROR))
            }
            (VerdictKind::Close, r) => {
                (VerdictKind::Close, r.filter(|r| r.is_transient() || r.is_permanent()))
            }
            other => other,
        };
        if kind == VerdictKind::Close {
            match reply {
                Some(reply) => self.close_with_reply(&reply),
                None => self.close_with(&replies::SERVICE_NOT_AVAILABLE),
            }
            return;
        }
        let accept = kind == VerdictKind::Accept;
        match pending {
            Pending::Connect if accept => self.greet(reply),
            Pending::Connect => {
                self.phase = Phase::NoService;
                match reply {
                    Some(reply) => self.reply(&reply),
                    None => self.reply_host(&replies::NO_SERVICE),
                }
            }
            Pending::Helo { extended, name } if accept => self.accept_hello(extended, name),
            Pending::Mail if accept => self.accept_mail(queue_id, reply.as_ref()),
            Pending::Rcpt if accept => self.accept_rcpt(reply.as_ref()),
            Pending::Mail => {
                self.txn = None;
                self.reply(reply.as_ref().unwrap_or(&replies::LOCAL_ERROR));
            }
            Pending::Rcpt => {
                if let Some(txn) = &mut self.txn {
                    txn.recipients.pop();
                }
                self.reply(reply.as_ref().unwrap_or(&replies::LOCAL_ERROR));
            }
            Pending::Vrfy(_) if accept => self.reply(reply.as_ref().unwrap_or(&replies::CANNOT_VRFY)),
            Pending::Expn(_) if accept => self.reply(reply.as_ref().unwrap_or(&replies::EXPN_DISABLED)),
            Pending::Message(_) if accept => match (reply, queue_id) {
                (Some(reply), _) => self.reply(&reply),
                (None, Some(id)) if id.len() <= 64 && id.bytes().all(|b| b.is_ascii_graphic()) => {
                    let status = replies::MESSAGE_ACCEPTED.status();
                    replies::write_parts(
                        &mut self.out,
                        250,
                        status,
                        self.extended,
                        &[replies::QUEUED_AS, &id],
                    );
                }
                (None, _) => self.reply(&replies::MESSAGE_ACCEPTED),
            },
            _ => self.reply(reply.as_ref().unwrap_or(&replies::LOCAL_ERROR)),
        }
    }

    // ---- input ----------------------------------------------------------

    /// Buffers input that arrived while waiting for a decision.
    fn buffer(&mut self, input: &[u8]) {
        if input.is_empty() {
            return;
        }
        if self.pending.len() - self.pending_at + input.len() > MAX_PIPELINED_INPUT {
            self.close_with(&replies::TOO_MUCH_PIPELINED_INPUT);
            return;
        }
        if self.pending_at == self.pending.len() {
            self.pending.clear();
            self.pending_at = 0;
        }
        self.pending.extend_from_slice(input);
    }

    /// Processes buffered input after a decision, until it is used up or
    /// the session waits again.
    fn drain_pending(&mut self, now: Instant) {
        if self.pending_at < self.pending.len() && self.waiting.is_none() {
            let buffer = mem::take(&mut self.pending);
            let used = self.process(&buffer[self.pending_at..], now);
            if self.waiting.is_some() && !matches!(self.phase, Phase::Closed | Phase::TlsHandshake) {
                self.pending = buffer;
                self.pending_at += used;
                return;
            }
            self.pending = buffer;
        }
        self.pending.clear();
        self.pending_at = 0;
        if self.pending.capacity() > KEEP_CAPACITY {
            self.pending = Vec::new();
        }
    }

    /// Processes `input` until it is used up, a decision is needed, or the
    /// session stops reading. Returns the bytes used.
    fn process(&mut self, input: &[u8], now: Instant) -> usize {
        let mut at = 0;
        while at < input.len() && self.waiting.is_none() {
            let rest = &input[at..];
            at += match self.phase {
                Phase::Command | Phase::NoService | Phase::Auth(_) => self.read_line(rest, now),
                Phase::Data(_) => self.read_data(rest),
                Phase::Bdat | Phase::Discard { .. } => self.read_chunk(rest),
                Phase::Connecting | Phase::TlsHandshake | Phase::Closed => break,
            };
        }
        at
    }

    /// Frames one command (or AUTH) line; returns the bytes used (at least one).
    fn read_line(&mut self, rest: &[u8], now: Instant) -> usize {
        if self.discarding_line {
            return match memchr::memchr(b'\n', rest) {
                Some(lf) => {
                    self.discarding_line = false;
                    lf + 1
                }
                None => rest.len(),
            };
        }
        let cap = self.line_cap(rest);
        let Some(lf) = memchr::memchr(b'\n', rest) else {
            if self.line.len() + rest.len() + 1 > cap {
                self.line_too_long();
                self.line.clear();
                self.discarding_line = true;
            } else {
                self.line.extend_from_slice(rest);
            }
            return rest.len();
        };
        let more = lf + 1 < rest.len();
        if self.line.len() + lf + 1 > cap {
            self.line_too_long();
            self.line.clear();
        } else if self.line.is_empty() {
            self.handle_line(&rest[..=lf], more, now);
        } else {
            self.line.extend_from_slice(&rest[..=lf]);
            let line = mem::take(&mut self.line);
            self.handle_line(&line, more, now);
            self.line = line;
            self.line.clear();
            if self.line.capacity() > KEEP_CAPACITY {
                self.line = Vec::new();
            }
        }
        lf + 1
    }

    /// 12288 for AUTH lines and AUTH commands, 2048 otherwise.
    fn line_cap(&self, rest: &[u8]) -> usize {
        if matches!(self.phase, Phase::Auth(_)) {
            return MAX_AUTH_LINE;
        }
        let mut head = [0u8; 5];
        for (slot, b) in head.iter_mut().zip(self.line.iter().chain(rest)) {
            *slot = b.to_ascii_uppercase();
        }
        if &head == b"AUTH " { MAX_AUTH_LINE } else { MAX_COMMAND_LINE }
    }

    fn line_too_long(&mut self) {
        if matches!(self.phase, Phase::Auth(_)) {
            self.phase = Phase::Command;
            self.reply_bad(&replies::AUTH_LINE_TOO_LONG);
        } else {
            self.reply_bad(&replies::LINE_TOO_LONG);
        }
    }

    /// One line, CR LF (or a bare LF) included; `more` says whether input
    /// follows it already.
    fn handle_line(&mut self, line: &[u8], more: bool, now: Instant) {
        let body = &line[..line.len() - 1];
        let bare = body.last() != Some(&b'\r') || memchr::memchr(b'\r', &body[..body.len() - 1]).is_some();
        if bare {
            self.bare_line_endings = self.bare_line_endings.saturating_add(1);
            if matches!(self.phase, Phase::Auth(_)) {
                self.phase = Phase::Command;
            }
            if self.bare_line_endings > 1 {
                self.close_with(&replies::BARE_LINE_ENDING_CLOSE);
            } else {
                self.reply_bad(&replies::BARE_LINE_ENDING_IN_COMMAND);
            }
            return;
        }
        if matches!(self.phase, Phase::Auth(_)) {
            self.handle_auth_line(&line[..line.len() - 2]);
            return;
        }
        let command = command::parse(line);
        self.commands += 1;
        if matches!(self.phase, Phase::NoService) {
            match command {
                Command::Quit => self.close_with(&replies::CLOSING),
                _ => self.reply_bad(&replies::NO_SERVICE_COMMAND),
            }
            return;
        }
        self.handle_command(command, line, more, now);
    }

    fn handle_command(&mut self, command: Command<'_>, line: &[u8], more: bool, now: Instant) {
        match command {
            Command::Hello { extended, name } => self.handle_hello(extended, name),
            Command::Mail(args) => self.handle_mail(args),
            Command::Rcpt(args) => self.handle_rcpt(args),
            Command::Data => self.handle_data(more, now),
            Command::Bdat(chunk) => self.handle_bdat(chunk, now),
            Command::Rset => {
                self.txn = None;
                self.reply(&replies::RESET);
            }
            Command::Noop => self.reply(&replies::OK),
            Command::Quit => self.close_with(&replies::CLOSING),
            Command::Vrfy(None) | Command::Expn(None) => self.reply_bad(&replies::ARGUMENT_REQUIRED),
            Command::Vrfy(Some(value)) if self.config.vrfy => {
                self.ask(Pending::Vrfy(value.into_owned()));
            }
            Command::Vrfy(Some(_)) => self.reply(&replies::CANNOT_VRFY),
            Command::Expn(Some(value)) if self.config.expn => {
                self.ask(Pending::Expn(value.into_owned()));
            }
            Command::Expn(Some(_)) => self.reply_bad(&replies::EXPN_DISABLED),
            Command::Help => self.handle_help(),
            Command::StartTls { has_parameters } => self.handle_starttls(has_parameters),
            Command::Auth(args) => self.handle_auth(args, now),
            Command::NotImplemented => self.reply_bad(&replies::NOT_IMPLEMENTED),
            // sendmail closes at once on HTTP and proxy verbs as the first command.
            Command::Http if self.commands == 1 => self.close_silently(),
            Command::Http | Command::Unknown => self.unrecognized(line),
        }
    }

    /// `500 5.5.1 Command unrecognized: "XYZZY"`.
    fn unrecognized(&mut self, line: &[u8]) {
        let mut echo = [0u8; 60];
        let mut len = 0;
        for (slot, b) in echo.iter_mut().zip(command::echo(line)) {
            *slot = b;
            len += 1;
        }
        // `command::echo` yields printable ASCII only.
        let echo = std::str::from_utf8(&echo[..len]).unwrap_or("");
        self.bad_commands += 1;
        if self.bad_commands > self.config.max_bad_commands {
            self.close_with(&replies::TOO_MANY_BAD_COMMANDS);
            return;
        }
        let status = replies::COMMAND_UNRECOGNIZED.status();
        let enhanced = self.extended;
        replies::write_parts(
            &mut self.out,
            replies::COMMAND_UNRECOGNIZED.code(),
            status,
            enhanced,
            &[replies::COMMAND_UNRECOGNIZED_PREFIX, echo, "\""],
        );
    }

    /// Recomputes the deadline for the current phase.
    fn arm(&mut self, now: Instant) {
        let phase = match self.phase {
            _ if self.waiting.is_some() => None,
            Phase::Command | Phase::NoService => Some(TimeoutPhase::Command),
            Phase::Data(_) | Phase::Bdat | Phase::Discard { .. } => Some(TimeoutPhase::DataBlock),
            Phase::Auth(_) => Some(TimeoutPhase::Auth),
            Phase::TlsHandshake => Some(TimeoutPhase::StartTls),
            Phase::Connecting | Phase::Closed => None,
        };
        self.deadline = phase.map(|phase| now + self.config.timeouts.get(phase));
    }
}
