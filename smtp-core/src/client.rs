//! The SMTP client session as a sans-IO state machine (smtp.md §9).
//!
//! [`ClientSession`] turns the server's reply bytes into the commands and
//! content to send next, per-recipient results and deadlines. It never
//! touches a socket or a clock: a driver (such as the one behind the
//! `tokio` feature) moves bytes and time in and out.

mod auth;
mod capabilities;
mod config;
mod content;
mod mapping;
mod message;
mod transaction;

#[cfg(test)]
mod tests;

use std::collections::VecDeque;
use std::time::{Duration, Instant};

pub use capabilities::Capabilities;
pub use config::{ClientAuth, ClientConfig, ClientConfigError, ClientLimits, ClientTimeouts, TlsPolicy};
pub use mapping::{CONNECTION_FAILURE, Phase, status_for};
pub use message::{ClientOutput, Envelope, FailureKind, MessageId, MessageResult, RecipientResult};

use crate::reply::{MAX_REPLY_LINE, ParsedReply, Reply, ReplyParseError, parse_reply};
use crate::status::EnhancedStatus;

use auth::AuthExchange;
use transaction::{Message, Transaction};

/// Longest command line the client sends, CR LF included (RFC 5321
/// §4.5.3.1.4); the server side accepts longer ones.
pub(crate) const MAX_COMMAND_LINE: usize = 512;

/// Longest line of an `AUTH` exchange the client sends, CR LF included (RFC 4954 §4).
pub(crate) const MAX_AUTH_LINE: usize = 12_288;

/// One SMTP client connection, from the greeting to `QUIT`, for any number
/// of messages.
///
/// # Calling order
///
/// 1. [`ClientSession::new`] once the TCP connection is open (or failed: then
///    call [`handle_connection_lost`](Self::handle_connection_lost) at once
///    to get every message's result).
/// 2. [`add_message`](Self::add_message) for each message, at any time, then
///    [`quit`](Self::quit) when there will be no more: the session sends
///    `QUIT` once the queued messages are done.
/// 3. Loop:
///    * drain [`poll_output`](Self::poll_output) after every call below:
///      write each [`ClientOutput::Send`] in order; on
///      [`ClientOutput::StartTls`] run the handshake, then call
///      [`handle_tls_established`](Self::handle_tls_established) or
///      [`handle_tls_failed`](Self::handle_tls_failed); hand each
///      [`ClientOutput::Result`] to the queue; stop at [`ClientOutput::Close`];
///    * bytes read from the server go to [`handle_input`](Self::handle_input);
///      end of stream or a read/write error to
///      [`handle_connection_lost`](Self::handle_connection_lost);
///    * sleep until [`poll_timeout`](Self::poll_timeout), then call
///      [`handle_timeout`](Self::handle_timeout);
///    * bound every write by [`write_timeout`](Self::write_timeout) and call
///      [`handle_written`](Self::handle_written) once a `Send` is fully
///      written, so that a reply deadline runs from then, not from when a
///      long message started to be written.
///
/// Every message gets exactly one [`MessageResult`], whatever happens.
///
/// ```
/// use std::time::Instant;
/// use smarthost_smtp_core::{ClientConfig, ClientOutput, ClientSession, Envelope, TlsPolicy};
///
/// let now = Instant::now();
/// let config = ClientConfig { tls: TlsPolicy::Disabled, ..ClientConfig::new("relay.example.org") };
/// let mut session = ClientSession::new(config, now)?;
/// session.add_message(Envelope::new("a@example.org", ["b@example.net"]), b"Subject: hi\r\n\r\nhello\r\n".to_vec(), now);
/// session.quit(now);
///
/// let mut sent = Vec::new();
/// let mut results = Vec::new();
/// for reply in [
///     "220 mx.example.net ESMTP\r\n",
///     "250-mx.example.net\r\n250 PIPELINING\r\n",
///     "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 Go ahead\r\n",
///     "250 2.0.0 Ok: queued as 123\r\n",
///     "221 2.0.0 Bye\r\n",
/// ] {
///     session.handle_input(reply.as_bytes(), now);
///     while let Some(output) = session.poll_output() {
///         match output {
///             ClientOutput::Send(bytes) => sent.extend(bytes),
///             ClientOutput::Result(result) => results.push(result),
///             ClientOutput::StartTls | ClientOutput::Close => {}
///         }
///     }
/// }
/// assert_eq!(
///     String::from_utf8(sent).unwrap(),
///     "EHLO relay.example.org\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\nDATA\r\n\
///      Subject: hi\r\n\r\nhello\r\n.\r\nQUIT\r\n"
/// );
/// assert!(results[0].is_delivered());
/// assert!(session.is_closed());
/// # Ok::<(), smarthost_smtp_core::ClientConfigError>(())
/// ```
#[derive(Debug)]
pub struct ClientSession {
    config: ClientConfig,
    state: State,
    /// Reply bytes not yet making up a whole reply.
    input: Vec<u8>,
    outputs: VecDeque<ClientOutput>,
    /// The replies we wait for, in the order the commands went out.
    expect: VecDeque<Expect>,
    deadline: Option<Instant>,
    /// The front of `expect` changed: the deadline is set again at the end of the call.
    rearm: bool,
    /// From the last `EHLO`; empty after `HELO`.
    caps: Capabilities,
    /// The server's name, from the greeting or EHLO, for reasons we write.
    peer: String,
    tls_active: bool,
    channel_binding: Option<Vec<u8>>,
    authenticated: bool,
    auth: Option<AuthExchange>,
    queue: VecDeque<Message>,
    current: Option<Message>,
    txn: Option<Transaction>,
    /// Send `RSET` before the next transaction.
    reset_needed: bool,
    quit_requested: bool,
    next_id: u64,
    /// Why the session ended early; messages added later get it too.
    failure: Option<Failure>,
}

/// Where the session is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Implicit TLS: waiting for the handshake before the greeting.
    ImplicitTls,
    /// Waiting for the greeting.
    Greeting,
    /// `EHLO` or `HELO` sent.
    Hello,
    /// `STARTTLS` sent.
    StartTls,
    /// The driver runs the handshake.
    Handshake,
    /// Inside an `AUTH` exchange.
    Auth,
    /// Greeted (and TLS and AUTH done): transactions.
    Ready,
    /// `QUIT` sent.
    Quitting,
    /// `Close` given; nothing more happens.
    Closed,
}

/// A reply the session waits for, and what it answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Expect {
    Greeting,
    Ehlo,
    Helo,
    StartTls,
    Auth,
    Rset,
    Mail,
    /// The index of the recipient in the envelope.
    Rcpt(usize),
    Data,
    /// The reply after the final `.`; `dot_only` when no recipient was
    /// accepted and only `.` was sent (P4, P5).
    Content {
        dot_only: bool,
    },
    Bdat {
        last: bool,
    },
    Quit,
}

impl Expect {
    fn phase(self) -> Phase {
        match self {
            Expect::Greeting => Phase::Greeting,
            Expect::Ehlo | Expect::Helo => Phase::Hello,
            Expect::StartTls => Phase::StartTls,
            Expect::Auth => Phase::Auth,
            Expect::Rset => Phase::Rset,
            Expect::Mail => Phase::Mail,
            Expect::Rcpt(_) => Phase::Rcpt,
            Expect::Data => Phase::Data,
            Expect::Content { .. } | Expect::Bdat { .. } => Phase::Content,
            Expect::Quit => Phase::Quit,
        }
    }
}

/// A failure that ends a transaction or the session, and what every
/// recipient it touches gets.
#[derive(Clone, Debug)]
struct Failure {
    kind: FailureKind,
    reply: Reply,
    status: EnhancedStatus,
    phase: Phase,
    remote: bool,
}

impl Failure {
    /// A failure decided by the server's `reply` to a command in `phase`.
    fn remote(kind: FailureKind, reply: &Reply, phase: Phase) -> Failure {
        let status = match kind {
            FailureKind::Connection | FailureKind::Temporary | FailureKind::Permanent => {
                status_for(reply, phase)
            }
            // Host failures that must not return the message: class 4.
            FailureKind::Tls | FailureKind::Auth => transient_or(reply, EnhancedStatus::OTHER_SECURITY),
            FailureKind::Protocol => transient_or(reply, EnhancedStatus::OTHER_PROTOCOL),
        };
        Failure { kind, reply: reply.clone(), status, phase, remote: true }
    }

    /// A failure decided here, with a reply made up to say why.
    fn local(kind: FailureKind, code: u16, status: EnhancedStatus, phase: Phase, reason: &str) -> Failure {
        Failure { kind, reply: local_reply(code, status, reason), status, phase, remote: false }
    }
}

/// The reply's own status if it is class 4, else `fallback` in class 4.
fn transient_or(reply: &Reply, fallback: EnhancedStatus) -> EnhancedStatus {
    reply.status().filter(|s| s.is_transient()).unwrap_or(fallback.with_class(4))
}

/// A reply for a reason of ours: control characters become spaces and the
/// text is cut to fit one line.
fn local_reply(code: u16, status: EnhancedStatus, reason: &str) -> Reply {
    let mut text: String = reason.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    let room = MAX_REPLY_LINE - 20;
    if text.len() > room {
        let mut cut = room;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
    }
    // The code and status are ours and valid, and the text was cleaned above.
    Reply::new(code, Some(status), text).unwrap_or_else(|_| Reply::constant(451, None, "local error"))
}

impl ClientSession {
    /// A session on a connection that has just been opened.
    ///
    /// With [`TlsPolicy::Implicit`] the first output is
    /// [`ClientOutput::StartTls`]; otherwise the session waits for the
    /// greeting, for [`ClientTimeouts::initial`].
    pub fn new(config: ClientConfig, now: Instant) -> Result<ClientSession, ClientConfigError> {
        config.check()?;
        let implicit = config.tls == TlsPolicy::Implicit;
        let mut session = ClientSession {
            state: if implicit { State::ImplicitTls } else { State::Greeting },
            input: Vec::new(),
            outputs: VecDeque::new(),
            expect: VecDeque::new(),
            deadline: None,
            rearm: false,
            caps: Capabilities::default(),
            peer: String::new(),
            tls_active: false,
            channel_binding: None,
            authenticated: false,
            auth: None,
            queue: VecDeque::new(),
            current: None,
            txn: None,
            reset_needed: false,
            quit_requested: false,
            next_id: 0,
            failure: None,
            config,
        };
        if implicit {
            session.outputs.push_back(ClientOutput::StartTls);
        } else {
            session.expect.push_back(Expect::Greeting);
        }
        session.rearm = true;
        session.finish_call(now);
        Ok(session)
    }

    /// Queues a message. `content` is the message as stored (header and
    /// body; line ends CR LF, or bare LF, which is converted). It is sent
    /// when the connection is ready and the messages before it are done.
    ///
    /// A message added after [`quit`](Self::quit), or after the session
    /// closed, is not sent: its result (a connection failure, or the
    /// failure that ended the session) is ready in
    /// [`poll_output`](Self::poll_output) at once, even after `Close`.
    pub fn add_message(&mut self, envelope: Envelope, content: Vec<u8>, now: Instant) -> MessageId {
        let id = MessageId(self.next_id);
        self.next_id += 1;
        let message = Message::new(id, envelope, content);
        if self.state == State::Closed || self.state == State::Quitting || self.quit_requested {
            let failure = self.failure.clone().unwrap_or_else(|| {
                Failure::local(
                    FailureKind::Connection,
                    451,
                    CONNECTION_FAILURE,
                    Phase::Mail,
                    "message added after the session was told to quit",
                )
            });
            self.finish_message(message, Some(&failure));
        } else {
            self.queue.push_back(message);
            self.start_next();
        }
        self.finish_call(now);
        id
    }

    /// No more messages: send `QUIT` as soon as the queued ones are done.
    pub fn quit(&mut self, now: Instant) {
        self.quit_requested = true;
        self.start_next();
        self.finish_call(now);
    }

    /// Takes bytes read from the server. Pipelined replies may come in one
    /// call, and a reply may be split over several.
    pub fn handle_input(&mut self, bytes: &[u8], now: Instant) {
        if matches!(self.state, State::Closed | State::Handshake | State::ImplicitTls) {
            // Plaintext bytes while TLS is being set up are discarded (a
            // man in the middle could have appended them).
            self.finish_call(now);
            return;
        }
        let newline = memchr::memchr(b'\n', bytes).is_some();
        self.input.extend_from_slice(bytes);
        if newline || self.input.len() > crate::reply::MAX_PARSED_LINE {
            self.parse_input();
        }
        self.finish_call(now);
    }

    /// The TLS handshake asked for by [`ClientOutput::StartTls`] succeeded.
    /// The session forgets the server's capabilities and sends `EHLO` again
    /// (or, for implicit TLS, waits for the greeting).
    pub fn handle_tls_established(&mut self, now: Instant) {
        match self.state {
            State::ImplicitTls => {
                self.tls_active = true;
                self.state = State::Greeting;
                self.expect.push_back(Expect::Greeting);
                self.rearm = true;
            }
            State::Handshake => {
                self.tls_active = true;
                self.caps = Capabilities::default();
                self.send_hello();
            }
            _ => {}
        }
        self.finish_call(now);
    }

    /// Records the TLS 1.3 `tls-exporter` value (RFC 9266; 32 bytes, label
    /// `EXPORTER-Channel-Binding`, no context), which lets `AUTH` use
    /// SCRAM-SHA-256-PLUS. Call it before
    /// [`handle_tls_established`](Self::handle_tls_established), and only
    /// for TLS 1.3.
    pub fn handle_tls_channel_binding(&mut self, exporter: Vec<u8>) {
        self.channel_binding = Some(exporter);
    }

    /// The TLS handshake failed. The connection is unusable: every message
    /// fails with [`FailureKind::Tls`] (`4.7.0`) and the session closes.
    pub fn handle_tls_failed(&mut self, reason: &str, now: Instant) {
        if matches!(self.state, State::Handshake | State::ImplicitTls) {
            let text = format!("TLS handshake with {} failed: {reason}", self.peer_label());
            let failure = Failure::local(
                FailureKind::Tls,
                454,
                EnhancedStatus::OTHER_SECURITY.with_class(4),
                Phase::StartTls,
                &text,
            );
            self.abort(failure, false);
        }
        self.finish_call(now);
    }

    /// The connection was closed by the server, could not be opened, or a
    /// read or write failed. Outstanding recipients are deferred with
    /// [`FailureKind::Connection`] (`4.4.2`); a message whose content was
    /// sent without a reply yet is marked as a possible duplicate.
    pub fn handle_connection_lost(&mut self, reason: &str, now: Instant) {
        match self.state {
            State::Closed => {}
            State::Quitting => self.close(),
            _ => {
                let before_greeting =
                    matches!(self.state, State::Greeting | State::ImplicitTls) && self.peer.is_empty();
                let phase = match self.expect.front() {
                    _ if before_greeting => Phase::Connect,
                    Some(expect) => expect.phase(),
                    None => Phase::Connect,
                };
                let text = if before_greeting {
                    format!("connection failed before the greeting: {reason}")
                } else {
                    format!("connection to {} lost during {}: {reason}", self.peer_label(), phase.name())
                };
                let failure = Failure::local(FailureKind::Connection, 451, CONNECTION_FAILURE, phase, &text);
                self.abort(failure, false);
            }
        }
        self.finish_call(now);
    }

    /// Checks the deadline. When it has passed, the outstanding recipients
    /// are deferred with `4.4.2` and the session closes; after the final
    /// `.` that is a possible duplicate (spec O2).
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.deadline.is_some_and(|d| now >= d) {
            self.deadline = None;
            match self.state {
                State::Closed => {}
                State::Quitting => self.close(),
                State::Handshake | State::ImplicitTls => {
                    let secs = self.config.timeouts.starttls.as_secs();
                    self.handle_tls_failed(&format!("no handshake within {secs}s"), now);
                }
                _ => {
                    let expect = self.expect.front().copied().unwrap_or(Expect::Greeting);
                    let secs = self.timeout_for(expect).as_secs();
                    let text = format!(
                        "timeout waiting for the reply of {} to {} after {secs}s",
                        self.peer_label(),
                        expect.phase().name()
                    );
                    let failure = Failure::local(
                        FailureKind::Connection,
                        451,
                        CONNECTION_FAILURE,
                        expect.phase(),
                        &text,
                    );
                    self.abort(failure, false);
                }
            }
        }
        self.finish_call(now);
    }

    /// Everything written so far has reached the socket: the reply deadline
    /// runs from `now`.
    pub fn handle_written(&mut self, now: Instant) {
        if let Some(&front) = self.expect.front() {
            self.deadline = Some(now + self.timeout_for(front));
        }
    }

    /// The next thing for the driver to do, if any. Drain it after every
    /// `handle_*`, [`add_message`](Self::add_message) and [`quit`](Self::quit) call.
    pub fn poll_output(&mut self) -> Option<ClientOutput> {
        self.outputs.pop_front()
    }

    /// When [`handle_timeout`](Self::handle_timeout) must be called next;
    /// `None` while idle or closed.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.deadline
    }

    /// How long one write may take ([`ClientTimeouts::data_block`]).
    pub fn write_timeout(&self) -> Duration {
        self.config.timeouts.data_block
    }

    /// What the server advertised in its last `EHLO` reply (empty after `HELO`).
    pub fn capabilities(&self) -> &Capabilities {
        &self.caps
    }

    /// Whether TLS is active (after `STARTTLS`, or implicit).
    pub fn is_tls(&self) -> bool {
        self.tls_active
    }

    /// Whether `AUTH` succeeded.
    pub fn is_authenticated(&self) -> bool {
        self.authenticated
    }

    /// Whether the session has asked to close; nothing more will happen.
    pub fn is_closed(&self) -> bool {
        self.state == State::Closed
    }
}

// ---- Replies ---------------------------------------------------------------

impl ClientSession {
    fn parse_input(&mut self) {
        let mut at = 0;
        while at < self.input.len() && !matches!(self.state, State::Closed | State::Handshake) {
            let (reply, used) = match parse_reply(&self.input[at..]) {
                Ok(ParsedReply::Partial) => break,
                Ok(ParsedReply::Complete(reply, used)) => (reply, used),
                // D3: lines with different codes; go on with the last one, as
                // a lenient client does.
                Err(ReplyParseError::InconsistentCodes { reply, consumed, .. }) => (reply, consumed),
                Err(error) => {
                    let text = format!("{} sent a malformed reply: {error}", self.peer_label());
                    let phase = self.expect.front().map_or(Phase::Connect, |e| e.phase());
                    let status = EnhancedStatus::OTHER_PROTOCOL.with_class(4);
                    self.abort(Failure::local(FailureKind::Protocol, 451, status, phase, &text), false);
                    break;
                }
            };
            at += used;
            self.handle_reply(reply);
        }
        self.input.drain(..at.min(self.input.len()));
        if matches!(self.state, State::Closed | State::Handshake) {
            // After STARTTLS's 220 anything else read in clear is discarded.
            self.input.clear();
        }
    }

    fn handle_reply(&mut self, reply: Reply) {
        let Some(expect) = self.expect.pop_front() else {
            let failure = if reply.code() == 421 {
                Failure::remote(FailureKind::Connection, &reply, Phase::Connect)
            } else {
                let text = format!("{} sent a reply nobody asked for: {}", self.peer_label(), reply.text());
                let status = EnhancedStatus::OTHER_PROTOCOL.with_class(4);
                Failure::local(FailureKind::Protocol, 451, status, Phase::Connect, &text)
            };
            self.abort(failure, false);
            return;
        };
        self.rearm = true;
        if reply.code() == 421 && expect != Expect::Quit {
            // 421 anywhere: stop, close, defer everything outstanding.
            self.abort(Failure::remote(FailureKind::Connection, &reply, expect.phase()), false);
            return;
        }
        match expect {
            Expect::Greeting => self.handle_greeting(&reply),
            Expect::Ehlo => self.handle_ehlo(&reply),
            Expect::Helo => self.handle_helo(&reply),
            Expect::StartTls => self.handle_starttls(&reply),
            Expect::Auth => self.handle_auth(&reply),
            Expect::Quit => self.close(),
            Expect::Rset
            | Expect::Mail
            | Expect::Rcpt(_)
            | Expect::Data
            | Expect::Content { .. }
            | Expect::Bdat { .. } => self.handle_transaction_reply(expect, &reply),
        }
    }

    fn handle_greeting(&mut self, reply: &Reply) {
        self.peer =
            reply.lines().next().and_then(|l| l.split_ascii_whitespace().next()).unwrap_or("").to_owned();
        if reply.is_positive() {
            self.send_hello();
        } else {
            // 554 / 521 "no service here" and 4xx: this host will not do; QUIT.
            self.abort(Failure::remote(FailureKind::Connection, reply, Phase::Greeting), true);
        }
    }

    fn send_hello(&mut self) {
        self.state = State::Hello;
        let line = format!("EHLO {}", self.config.ehlo_name);
        self.command(&line, Expect::Ehlo);
    }

    fn handle_ehlo(&mut self, reply: &Reply) {
        if reply.is_positive() {
            self.caps = Capabilities::from_ehlo(reply);
            if !self.caps.domain().is_empty() {
                self.peer = self.caps.domain().to_owned();
            }
            self.after_hello();
        } else if reply.is_permanent() {
            // 500, 501, 502, 504, 550: no ESMTP here; plain SMTP.
            let line = format!("HELO {}", self.config.ehlo_name);
            self.command(&line, Expect::Helo);
        } else {
            self.refuse_reply(FailureKind::Connection, reply, Phase::Hello);
        }
    }

    fn handle_helo(&mut self, reply: &Reply) {
        if reply.is_positive() {
            self.caps = Capabilities::default();
            self.after_hello();
        } else {
            self.refuse_reply(FailureKind::Connection, reply, Phase::Hello);
        }
    }

    /// A refusal (`4xx`/`5xx`, QUIT politely) or nonsense (`3xx`, close).
    fn refuse_reply(&mut self, kind: FailureKind, reply: &Reply, phase: Phase) {
        if reply.is_intermediate() || reply.is_positive() {
            self.protocol_error(reply, phase);
        } else {
            self.abort(Failure::remote(kind, reply, phase), true);
        }
    }

    fn protocol_error(&mut self, reply: &Reply, phase: Phase) {
        self.abort(Failure::remote(FailureKind::Protocol, reply, phase), false);
    }

    /// EHLO or HELO done: STARTTLS, then AUTH, then transactions.
    fn after_hello(&mut self) {
        let tls_wanted = matches!(self.config.tls, TlsPolicy::Opportunistic | TlsPolicy::Required);
        if !self.tls_active && tls_wanted {
            if self.caps.has_starttls() {
                self.state = State::StartTls;
                self.command("STARTTLS", Expect::StartTls);
                return;
            }
            if self.config.tls == TlsPolicy::Required {
                let text =
                    format!("TLS is required for {} but it does not offer STARTTLS", self.peer_label());
                let status = EnhancedStatus::OTHER_SECURITY.with_class(4);
                self.abort(Failure::local(FailureKind::Tls, 454, status, Phase::StartTls, &text), true);
                return;
            }
        }
        self.after_tls();
    }

    fn handle_starttls(&mut self, reply: &Reply) {
        if reply.code() == 220 {
            self.state = State::Handshake;
            self.outputs.push_back(ClientOutput::StartTls);
        } else if reply.is_positive() || reply.is_intermediate() {
            self.protocol_error(reply, Phase::StartTls);
        } else if self.config.tls == TlsPolicy::Required {
            self.abort(Failure::remote(FailureKind::Tls, reply, Phase::StartTls), true);
        } else {
            // Opportunistic: go on in clear with what EHLO said.
            self.after_tls();
        }
    }

    fn after_tls(&mut self) {
        match &self.config.auth {
            Some(_) if !self.authenticated && !self.caps.auth_mechanisms().is_empty() => self.start_auth(),
            Some(auth) if auth.required && !self.authenticated => {
                let text = format!("{} does not offer AUTH, and this route requires it", self.peer_label());
                self.abort(auth::required_but_not_offered(&text), true);
            }
            _ => self.ready(),
        }
    }

    fn ready(&mut self) {
        self.state = State::Ready;
        self.start_next();
    }

    /// Starts the next transaction, or QUIT when there is nothing left and
    /// the caller said so.
    fn start_next(&mut self) {
        // With PIPELINING the next transaction may follow an RSET at once.
        let only_rset = self.expect.iter().all(|e| *e == Expect::Rset);
        let idle = self.expect.is_empty() || (only_rset && self.caps.has_pipelining());
        if self.state != State::Ready || self.txn.is_some() || !idle {
            return;
        }
        loop {
            if self.current.is_none() {
                self.current = self.queue.pop_front();
            }
            let Some(message) = self.current.as_ref() else { break };
            if message.is_done() {
                let message = self.current.take().expect("checked just above");
                self.finish_message(message, None);
                continue;
            }
            if self.start_transaction() {
                return;
            }
        }
        if self.quit_requested {
            self.state = State::Quitting;
            self.command("QUIT", Expect::Quit);
        }
    }

    /// Ends the session because of `failure`: every recipient without a
    /// result gets it. `polite`: send QUIT and wait for its reply (only
    /// when no other reply is outstanding); else close at once.
    fn abort(&mut self, failure: Failure, polite: bool) {
        let awaiting_final = self.txn.as_ref().is_some_and(Transaction::is_awaiting_final_reply);
        if let Some(mut message) = self.current.take() {
            message.possible_duplicate |= awaiting_final && !failure.remote;
            self.finish_message(message, Some(&failure));
        }
        self.txn = None;
        while let Some(message) = self.queue.pop_front() {
            self.finish_message(message, Some(&failure));
        }
        self.auth = None;
        self.failure = Some(failure);
        if polite && self.expect.is_empty() && self.state != State::Handshake {
            self.state = State::Quitting;
            self.send_line("QUIT");
            self.expect.push_back(Expect::Quit);
            self.rearm = true;
        } else {
            self.close();
        }
    }

    fn close(&mut self) {
        if self.state != State::Closed {
            self.state = State::Closed;
            self.expect.clear();
            self.deadline = None;
            self.rearm = false;
            self.outputs.push_back(ClientOutput::Close);
        }
    }

    /// Gives every recipient without a result `failure` (if any) and emits
    /// the message's result.
    fn finish_message(&mut self, message: Message, failure: Option<&Failure>) {
        let result = message.into_result(failure, self.caps.has_dsn());
        self.outputs.push_back(ClientOutput::Result(result));
    }

    // ---- Sending -----------------------------------------------------------

    /// Sends `line` (without CR LF) and waits for `expect`.
    fn command(&mut self, line: &str, expect: Expect) {
        self.send_line(line);
        if self.expect.is_empty() {
            self.rearm = true;
        }
        self.expect.push_back(expect);
    }

    fn send_line(&mut self, line: &str) {
        self.send_bytes(line.as_bytes());
        self.send_bytes(b"\r\n");
    }

    /// Appends to the last output when it is a `Send`, so that pipelined
    /// commands go out in one write.
    fn send_bytes(&mut self, bytes: &[u8]) {
        if let Some(ClientOutput::Send(pending)) = self.outputs.back_mut() {
            pending.extend_from_slice(bytes);
        } else {
            self.outputs.push_back(ClientOutput::Send(bytes.to_vec()));
        }
    }

    /// Ends every public call: when what the session waits for changed,
    /// the deadline is set from `now` (internal steps take no time, so they
    /// only set `rearm`).
    fn finish_call(&mut self, now: Instant) {
        if self.rearm {
            self.rearm = false;
            self.deadline = match self.state {
                State::Handshake | State::ImplicitTls => Some(now + self.config.timeouts.starttls),
                State::Closed => None,
                _ => self.expect.front().map(|&e| now + self.timeout_for(e)),
            };
        }
    }

    fn timeout_for(&self, expect: Expect) -> Duration {
        let t = &self.config.timeouts;
        match expect {
            Expect::Greeting => t.initial,
            Expect::Ehlo | Expect::Helo => t.hello,
            Expect::StartTls => t.starttls,
            Expect::Auth => t.auth,
            Expect::Rset => t.rset,
            Expect::Mail => t.mail,
            Expect::Rcpt(_) => t.rcpt,
            Expect::Data => t.data_init,
            Expect::Content { .. } | Expect::Bdat { last: true } => t.data_final,
            Expect::Bdat { last: false } => t.data_block,
            Expect::Quit => t.quit,
        }
    }

    /// The server's name for messages, or a placeholder before the greeting.
    fn peer_label(&self) -> &str {
        if self.peer.is_empty() { "the server" } else { &self.peer }
    }
}
