//! What the caller gives the session (an envelope and content) and what it
//! gets back (per-recipient and per-message results).

use crate::params::{MailParams, RcptParams};
use crate::reply::Reply;
use crate::status::EnhancedStatus;

use super::mapping::Phase;

/// The envelope of one message to send.
///
/// Parameters are passed on as received where the server supports them
/// (dsn.md §7.2): `RET`, `ENVID`, `NOTIFY` and `ORCPT` only when it
/// advertises `DSN`, with `ORCPT=rfc822;<recipient>` added when absent;
/// `AUTH=` only after we authenticated. `SIZE`, `BODY` and `SMTPUTF8` are
/// worked out again from the content and the server's capabilities, so the
/// received values of those three are not used.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Envelope {
    /// The reverse-path without angle brackets; empty for the null sender `<>`.
    pub reverse_path: String,
    /// `MAIL FROM` parameters as received.
    pub mail_params: MailParams,
    /// Forward-paths without angle brackets, each with its `RCPT TO` parameters.
    pub recipients: Vec<(String, RcptParams)>,
}

impl Envelope {
    /// An envelope without parameters.
    ///
    /// ```
    /// let envelope = smarthost_smtp_core::Envelope::new("a@example.org", ["b@example.net", "c@example.net"]);
    /// assert_eq!(envelope.recipients.len(), 2);
    /// ```
    pub fn new<I, S>(reverse_path: impl Into<String>, recipients: I) -> Envelope
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Envelope {
            reverse_path: reverse_path.into(),
            mail_params: MailParams::default(),
            recipients: recipients.into_iter().map(|r| (r.into(), RcptParams::default())).collect(),
        }
    }
}

/// Names a message given to [`ClientSession::add_message`](super::ClientSession::add_message).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MessageId(pub(crate) u64);

impl MessageId {
    /// The number: 0 for the first message of the session, then 1, 2, …
    pub fn index(self) -> u64 {
        self.0
    }
}

/// Why a recipient was not delivered, grouped by what the queue does next.
///
/// The first four are failures of the *host*: the caller moves on to the
/// next host for the destination at once. When no host is left, the
/// recipient's [`status`](RecipientResult::status) class decides: 4 keeps
/// the message queued, 5 returns it. The last two are the server's answer
/// to this message and are final for this delivery attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FailureKind {
    /// No connection, a lost connection, a timeout, a `421`, or a greeting
    /// or `EHLO`/`HELO` that was refused.
    Connection,
    /// TLS required but not offered or refused, or a failed handshake.
    Tls,
    /// AUTH failed or could not be attempted with the credentials we have
    /// (authinfo.md §3–4); always class 4 (`4.7.0`).
    Auth,
    /// The server broke the protocol (a malformed or unexpected reply).
    Protocol,
    /// A `4xx` for this recipient or message: retry later.
    Temporary,
    /// A `5xx` for this recipient or message, or a local refusal that no
    /// other host would change (size, 8BITMIME, SMTPUTF8, line length).
    Permanent,
}

impl FailureKind {
    /// Connection, TLS, AUTH or protocol: try the next host now.
    pub fn is_host_failure(self) -> bool {
        !matches!(self, FailureKind::Temporary | FailureKind::Permanent)
    }
}

/// The outcome for one recipient.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecipientResult {
    /// The forward-path, as in the envelope.
    pub forward_path: String,
    /// `None`: the server took responsibility for the message (a `2xx`
    /// after the content). Otherwise why not.
    pub failure: Option<FailureKind>,
    /// The reply that decided: the server's (see [`remote`](Self::remote)),
    /// or one made up here with the reason (`552 5.3.4 …` for SIZE,
    /// `451 4.4.2 …` for a lost connection).
    pub reply: Reply,
    /// The status for the DSN and the queue (dsn.md §5, [`status_for`](super::status_for)).
    pub status: EnhancedStatus,
    /// The command the reply answered.
    pub phase: Phase,
    /// Whether `reply` came from the server (`Diagnostic-Code: smtp; …`).
    pub remote: bool,
}

impl RecipientResult {
    /// Whether the server accepted the message for this recipient.
    pub fn is_delivered(&self) -> bool {
        self.failure.is_none()
    }

    /// Whether the recipient stays queued (a class 4 status).
    pub fn is_temporary(&self) -> bool {
        self.failure.is_some() && self.status.is_transient()
    }

    /// Whether the recipient failed for good (a class 5 status).
    pub fn is_permanent(&self) -> bool {
        self.failure.is_some() && self.status.is_permanent()
    }
}

/// The outcome for one message: every recipient, and what is known about
/// the message as a whole.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MessageResult {
    /// The message.
    pub id: MessageId,
    /// One result per recipient of the envelope, in its order.
    pub recipients: Vec<RecipientResult>,
    /// The content was sent, but no reply came after it (a timeout or a
    /// lost connection): the server may have the message, so a retry may
    /// deliver it twice (spec O2). Log it.
    pub possible_duplicate: bool,
    /// The server refused the size (`552` to `MAIL` with SIZE, or our SIZE
    /// check): a failure DSN should return the headers only (dsn.md D14).
    pub return_headers_only: bool,
    /// The server advertised `DSN`, so the DSN parameters were passed on.
    /// When `false`, a recipient with `NOTIFY=SUCCESS` that was delivered
    /// gets a DSN with `Action: relayed` from us (dsn.md §7.2).
    pub next_hop_dsn: bool,
}

impl MessageResult {
    /// Whether every recipient was delivered.
    pub fn is_delivered(&self) -> bool {
        self.recipients.iter().all(RecipientResult::is_delivered)
    }

    /// The message-level failure: a host failure if any recipient had one,
    /// else [`FailureKind::Temporary`] if any recipient stays queued, else
    /// [`FailureKind::Permanent`] if any failed; `None` when all were delivered.
    pub fn failure(&self) -> Option<FailureKind> {
        let kinds = || self.recipients.iter().filter_map(|r| r.failure);
        kinds()
            .find(|k| k.is_host_failure())
            .or_else(|| {
                self.recipients.iter().any(RecipientResult::is_temporary).then_some(FailureKind::Temporary)
            })
            .or_else(|| kinds().next().map(|_| FailureKind::Permanent))
    }
}

/// What the session asks its driver to do; see [`ClientSession`](super::ClientSession).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClientOutput {
    /// Write these bytes to the server. Commands that may be pipelined come
    /// as one `Send`, so one write. May carry `AUTH` responses: never log
    /// these bytes.
    Send(Vec<u8>),
    /// Run the TLS handshake now (after `STARTTLS`'s `220`, or at once for
    /// implicit TLS), then call
    /// [`handle_tls_established`](super::ClientSession::handle_tls_established)
    /// or [`handle_tls_failed`](super::ClientSession::handle_tls_failed).
    StartTls,
    /// The outcome of one message, once every recipient has one.
    Result(MessageResult),
    /// Close the connection. The session is finished.
    Close,
}
