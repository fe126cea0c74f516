//! What goes between the session and its caller: the peer, questions,
//! verdicts, the finished transaction and the outputs.

use std::fmt;
use std::net::SocketAddr;

use crate::params::{MailParams, RcptParams};
use crate::reply::Reply;
use crate::server::path::{ForwardPath, ReversePath};
use crate::server::received::Protocol;

/// The negotiated TLS parameters, for `Received:` and the policy.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TlsInfo {
    /// The protocol version as OpenSSL names it (`TLSv1.3`).
    pub version: String,
    /// The cipher suite's IANA name (`TLS_AES_256_GCM_SHA384`).
    pub cipher: String,
}

impl TlsInfo {
    /// TLS parameters from their names.
    pub fn new(version: impl Into<String>, cipher: impl Into<String>) -> Self {
        TlsInfo { version: version.into(), cipher: cipher.into() }
    }
}

/// The other end of the connection, as the driver knows it at accept time.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Peer {
    /// The client's address.
    pub remote: SocketAddr,
    /// Our address the client connected to.
    pub local: SocketAddr,
    /// The client's verified reverse-DNS name, if the caller looked it up
    /// (`Received: from helo (name [ip])`; `unknown` when absent).
    pub remote_name: Option<String>,
    /// Set for implicit TLS (RFC 8314): the handshake happened before the
    /// session started, so STARTTLS is not offered.
    pub tls: Option<TlsInfo>,
    /// Wall-clock time at connect, in seconds since the Unix epoch. The
    /// session reads no clock: later wall-clock times (the `Received:`
    /// date, the CRAM-MD5 challenge) are this plus the monotonic time
    /// passed since [`ServerSession::new`](crate::ServerSession::new).
    pub unix_time: u64,
}

impl Peer {
    /// A plain-text connection from `remote` to `local` at `unix_time`.
    pub fn new(remote: SocketAddr, local: SocketAddr, unix_time: u64) -> Self {
        Peer { remote, local, remote_name: None, tls: None, unix_time }
    }

    /// With the client's reverse-DNS name.
    pub fn with_remote_name(mut self, name: impl Into<String>) -> Self {
        self.remote_name = Some(name.into());
        self
    }

    /// On a connection that is TLS from the start.
    pub fn with_implicit_tls(mut self, tls: TlsInfo) -> Self {
        self.tls = Some(tls);
        self
    }
}

/// Names one question so its answer can be matched to it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct DecisionId(pub(crate) u64);

impl fmt::Display for DecisionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "decision #{}", self.0)
    }
}

/// A policy question; answer each with [`ServerSession::handle_decision`](crate::ServerSession::handle_decision).
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Question {
    /// A client connected (only when [`Ask::connect`](crate::Ask::connect)).
    /// Accept to greet, reject for `554 No SMTP service here` (the session
    /// stays open for QUIT), or close with `421`.
    Connect(Peer),
    /// EHLO or HELO (only when [`Ask::helo`](crate::Ask::helo)). A reply on
    /// accept is ignored: the session writes the greeting and capabilities.
    Helo {
        /// The client's name, a domain or an address literal.
        name: String,
        /// EHLO rather than HELO.
        extended: bool,
    },
    /// MAIL FROM; the syntax, the parameters and the SIZE limit are already
    /// checked. Accept with [`Verdict::with_queue_id`] to name the
    /// transaction in `Received:`.
    Mail {
        /// The reverse path as received.
        reverse_path: ReversePath,
        /// Its parameters.
        params: MailParams,
        /// The login of a successful AUTH on this connection.
        auth: Option<String>,
        /// Whether TLS is active.
        tls: bool,
    },
    /// RCPT TO, within the transaction of the last accepted `Mail`.
    Rcpt {
        /// The forward path as received.
        forward_path: ForwardPath,
        /// Its parameters.
        params: RcptParams,
    },
    /// VRFY (only when [`ServerConfig::vrfy`](crate::ServerConfig::vrfy)); accept with the `250` reply.
    Vrfy(String),
    /// EXPN (only when [`ServerConfig::expn`](crate::ServerConfig::expn)); accept with the `250` reply.
    Expn(String),
    /// The end of a message: store it durably, then accept (usually with
    /// [`Verdict::queued`]). The size, bare line endings and hop count are
    /// already checked.
    Message(Box<Transaction>),
}

/// A whole transaction, content included.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Transaction {
    /// The sender.
    pub reverse_path: ReversePath,
    /// MAIL's parameters.
    pub mail_params: MailParams,
    /// The accepted recipients, in order.
    pub recipients: Vec<Recipient>,
    /// Our `Received:` header followed by the message as received
    /// (unstuffed; CR LF line endings for DATA).
    pub content: Vec<u8>,
    /// How many bytes at the start of `content` are our `Received:` header.
    pub received_len: usize,
    /// The client's EHLO/HELO name (none if it sent MAIL without one).
    pub helo: Option<String>,
    /// The `with` keyword written in `Received:`.
    pub protocol: Protocol,
    /// The AUTH login.
    pub auth: Option<String>,
    /// TLS parameters, if TLS was active.
    pub tls: Option<TlsInfo>,
    /// The client's address.
    pub remote: SocketAddr,
    /// The id the `Mail` verdict gave, if any.
    pub queue_id: Option<String>,
    /// Whether the content came by BDAT.
    pub chunked: bool,
}

impl Transaction {
    /// The message as the client sent it, without our `Received:` header.
    pub fn message(&self) -> &[u8] {
        &self.content[self.received_len..]
    }
}

/// One accepted recipient.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Recipient {
    /// The forward path as received.
    pub forward_path: ForwardPath,
    /// Its parameters.
    pub params: RcptParams,
}

/// The answer to a [`Question`].
///
/// ```
/// use smarthost_smtp_core::{EnhancedStatus, Reply, Verdict};
/// let deny = Verdict::reject(Reply::new(550, Some(EnhancedStatus::NOT_AUTHORIZED), "Relaying denied")?);
/// assert!(!deny.is_accept());
/// assert_eq!(Verdict::queued("4AB12").queue_id(), Some("4AB12"));
/// # Ok::<(), smarthost_smtp_core::ReplyError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    kind: VerdictKind,
    reply: Option<Reply>,
    queue_id: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum VerdictKind {
    Accept,
    Reject,
    Close,
}

impl Verdict {
    /// Accept with the session's default reply.
    pub fn accept() -> Self {
        Verdict { kind: VerdictKind::Accept, reply: None, queue_id: None }
    }

    /// Accept with this `2xx` reply (any other code is taken as a local
    /// error: `451 4.3.0`).
    pub fn accept_with(reply: Reply) -> Self {
        Verdict { kind: VerdictKind::Accept, reply: Some(reply), queue_id: None }
    }

    /// Accept a message: `250 2.0.0 Ok: queued as ID` (an id that is not
    /// printable ASCII without spaces, or longer than 64, gives
    /// `250 2.0.0 Message accepted for delivery` instead).
    pub fn queued(id: &str) -> Self {
        Verdict { kind: VerdictKind::Accept, reply: None, queue_id: Some(id.to_owned()) }
    }

    /// Refuse with this `4xx`/`5xx` reply; the session goes on.
    pub fn reject(reply: Reply) -> Self {
        Verdict { kind: VerdictKind::Reject, reply: Some(reply), queue_id: None }
    }

    /// Refuse and close the connection, with this reply or
    /// `421 4.3.2 <host> Service not available, closing transmission channel`.
    pub fn reject_and_close(reply: Option<Reply>) -> Self {
        Verdict { kind: VerdictKind::Close, reply, queue_id: None }
    }

    /// Names the transaction. On an accepted `Mail` the id appears in
    /// `Received: ... id ID` and in [`Transaction::queue_id`]; on an
    /// accepted `Message` without a reply of its own, in
    /// `250 2.0.0 Ok: queued as ID`.
    pub fn with_queue_id(mut self, id: impl Into<String>) -> Self {
        self.queue_id = Some(id.into());
        self
    }

    /// Whether this accepts.
    pub fn is_accept(&self) -> bool {
        self.kind == VerdictKind::Accept
    }

    /// The reply given, if any.
    pub fn reply(&self) -> Option<&Reply> {
        self.reply.as_ref()
    }

    /// The queue id given, if any.
    pub fn queue_id(&self) -> Option<&str> {
        self.queue_id.as_deref()
    }

    pub(crate) fn into_parts(self) -> (VerdictKind, Option<Reply>, Option<String>) {
        (self.kind, self.reply, self.queue_id)
    }
}

/// What the session wants done next; see [`ServerSession::poll_output`](crate::ServerSession::poll_output).
#[derive(Debug)]
pub enum Output<'a> {
    /// Write these bytes to the client. They stay valid until the next call
    /// on the session.
    Send(&'a [u8]),
    /// Answer this question with [`ServerSession::handle_decision`](crate::ServerSession::handle_decision).
    Decide(DecisionId, Question),
    /// Start the TLS handshake (after the `220` went out), then call
    /// [`ServerSession::handle_tls_established`](crate::ServerSession::handle_tls_established).
    StartTls,
    /// Close the connection (after the bytes before it went out).
    Close,
}

/// [`ServerSession::handle_decision`](crate::ServerSession::handle_decision) got an id that is not the pending one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{got} is not the pending decision (pending: {pending:?}); answer each Decide output once")]
pub struct UnexpectedDecision {
    /// The id given.
    pub got: DecisionId,
    /// The pending one, if any.
    pub pending: Option<DecisionId>,
}
