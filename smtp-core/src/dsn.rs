//! RFC 3464 delivery status notifications (DSNs): the `multipart/report`
//! a relay sends back to a message's sender (RFC 6522), the rule that says
//! whether one is due for a recipient (RFC 3461 `NOTIFY`), and a reader
//! that takes a report apart again.
//!
//! Everything comes in as values: the recipients' fates, times as seconds
//! since the epoch, and the original message as bytes. What comes out is
//! the report's envelope and its bytes. Nothing here reads a clock, a file
//! or a socket; the queue runner stores and sends the report.
//!
//! The API lives in this module rather than at the crate root because
//! names such as [`Action`] would be ambiguous there. [`Notify`] is the
//! crate's own, re-exported for convenience.
//!
//! # Field values
//!
//! Caller text (addresses, diagnostics, host names, IDs) goes through one
//! normalisation before it is written, and [`parse_report`] gives back
//! exactly the normalised value:
//!
//! * every run of white space and control characters (CR and LF included)
//!   becomes one space, and spaces at either end are dropped, so no value
//!   can start a header line of its own;
//! * each non-ASCII character is written as RFC 6533's `\x{HEX}`, because
//!   `message/delivery-status` is 7-bit (RFC 3464 §2.1); the reader turns
//!   every `\x{HEX}` naming a non-ASCII, non-control character back into
//!   that character, including one the caller wrote literally;
//! * a word longer than [`MAX_FIELD_WORD`] octets once escaped is split
//!   with a space, the only way to keep a line under RFC 5322's 998 octets.
//!
//! Dates are read back with mail-parser, which knows the years 1900 to
//! 3000; a [`UnixTime`] after that is written but reads back as absent.
//!
//! Lines are folded before a space so that they stay within 76
//! characters where the words allow.

use std::fmt;

use mail_builder::MessageBuilder;
use mail_builder::headers::address::Address;
use mail_builder::headers::content_type::ContentType;
use mail_builder::headers::date::Date;
use mail_builder::headers::raw::Raw;
use mail_builder::mime::MimePart;

use crate::{EnhancedStatus, ParsedReply, Reply, parse_reply};

mod fields;
mod notify;
mod parse;
mod text;

pub use notify::{Notify, is_report_due};
pub use parse::{ParseError, ParsedReport, ReturnedMessage, parse_report};

/// Largest original message, in octets, that a failure report returns
/// whole unless [`ReportBuilder::return_limit`] says otherwise; a bigger
/// one comes back as its header section only.
///
/// Exim's `bounce_return_size_limit` has the same default; Postfix's
/// `bounce_size_limit` is 50 000.
pub const DEFAULT_RETURN_LIMIT: usize = 100_000;

/// Longest word, in octets after escaping, that a `message/delivery-status`
/// line carries unbroken (see the module docs).
pub const MAX_FIELD_WORD: usize = 900;

/// A point in time in a report: whole seconds since the Unix epoch, written
/// as an RFC 5322 date-time in UTC (`+0000`).
///
/// ```
/// use smarthost_smtp_core::dsn::UnixTime;
/// assert_eq!(UnixTime(1_715_682_067).to_string(), "Tue, 14 May 2024 10:21:07 +0000");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UnixTime(pub u64);

impl fmt::Display for UnixTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.date().to_rfc822())
    }
}

impl UnixTime {
    fn date(self) -> Date {
        Date::new(i64::try_from(self.0).unwrap_or(i64::MAX))
    }
}

/// What happened to a recipient: the RFC 3464 `Action` field.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    /// Could not be delivered and will not be tried again.
    Failed,
    /// Not delivered yet; still being tried.
    Delayed,
    /// Delivered to the recipient's mailbox.
    Delivered,
    /// Handed to a next hop that does not speak DSN, so no further report
    /// will come (dsn.md §7.2).
    Relayed,
    /// Delivered to an alias or list, which passed it on to its members.
    Expanded,
}

impl Action {
    /// The field value: `failed`, `delayed`, `delivered`, `relayed` or
    /// `expanded`.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Failed => "failed",
            Action::Delayed => "delayed",
            Action::Delivered => "delivered",
            Action::Relayed => "relayed",
            Action::Expanded => "expanded",
        }
    }

    fn is_success(self) -> bool {
        matches!(self, Action::Delivered | Action::Relayed | Action::Expanded)
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The `Diagnostic-Code` of a recipient: what the server (or the local
/// delivery agent) said.
///
/// ```
/// use smarthost_smtp_core::{EnhancedStatus, Reply, dsn::Diagnostic};
/// let reply = Reply::new(550, Some(EnhancedStatus::BAD_DESTINATION_MAILBOX), "User unknown")?;
/// let diagnostic = Diagnostic::from(&reply);
/// assert_eq!((diagnostic.diagnostic_type.as_str(), diagnostic.text.as_str()), ("smtp", "550 5.1.1 User unknown"));
/// assert_eq!(diagnostic.reply(), Some(reply));
/// # Ok::<(), smarthost_smtp_core::ReplyError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Diagnostic {
    /// The diagnostic type, an atom: `smtp` for an SMTP reply, or e.g.
    /// `x-unix` for a local delivery agent.
    pub diagnostic_type: String,
    /// The text, e.g. `550 5.1.1 <bob@example.net>... User unknown`.
    pub text: String,
}

impl Diagnostic {
    /// A diagnostic of any type.
    pub fn new(diagnostic_type: impl Into<String>, text: impl Into<String>) -> Self {
        Diagnostic { diagnostic_type: diagnostic_type.into(), text: text.into() }
    }

    /// The SMTP reply the diagnostic holds, when its type is `smtp` and its
    /// text starts with a reply code. A multi-line reply comes back as one
    /// line (the lines are joined with spaces when written).
    pub fn reply(&self) -> Option<Reply> {
        if !self.diagnostic_type.eq_ignore_ascii_case("smtp") {
            return None;
        }
        let line = format!("{}\r\n", self.text);
        match parse_reply(line.as_bytes()) {
            Ok(ParsedReply::Complete(reply, _)) => Some(reply),
            _ => None,
        }
    }
}

impl From<&Reply> for Diagnostic {
    /// `smtp; CODE STATUS TEXT`, the lines of a multi-line reply joined by
    /// spaces.
    fn from(reply: &Reply) -> Self {
        let mut text = reply.code().to_string();
        if let Some(status) = reply.status() {
            text.push(' ');
            text.push_str(&status.to_string());
        }
        let rest = reply.text();
        if !rest.is_empty() {
            text.push(' ');
            text.push_str(&rest);
        }
        Diagnostic::new("smtp", text)
    }
}

impl From<Reply> for Diagnostic {
    fn from(reply: Reply) -> Self {
        Diagnostic::from(&reply)
    }
}

/// The per-message fields of a report (RFC 3464 §2.2).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct PerMessageFields {
    /// The host that writes the report, written `Reporting-MTA: dns; HOST`.
    pub reporting_mta: String,
    /// The sender's `ENVID`, decoded from xtext.
    pub original_envelope_id: Option<String>,
    /// The host the message came from, written `Received-From-MTA: dns; HOST`.
    pub received_from_mta: Option<String>,
    /// When the message arrived.
    pub arrival_date: Option<UnixTime>,
}

impl PerMessageFields {
    /// Fields with only the reporting MTA set.
    pub fn new(reporting_mta: impl Into<String>) -> Self {
        PerMessageFields {
            reporting_mta: reporting_mta.into(),
            original_envelope_id: None,
            received_from_mta: None,
            arrival_date: None,
        }
    }
}

/// What a report says about one recipient (RFC 3464 §2.3).
///
/// Build one with [`new`](Self::new) and the `with_` methods; the fields
/// are public for reading and for adjusting.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct RecipientReport {
    /// The sender's `ORCPT` as `(addr-type, address)`, the address decoded
    /// from xtext, e.g. `("rfc822", "bob@example.net")`. Written unchanged
    /// as `Original-Recipient: rfc822;bob@example.net`.
    pub original_recipient: Option<(String, String)>,
    /// The recipient this MTA handled, without angle brackets. Written with
    /// address type `rfc822`, or `utf-8` when it is not ASCII (RFC 6533).
    pub final_recipient: String,
    /// What happened.
    pub action: Action,
    /// The enhanced status code; for a remote reply, the reply's own.
    pub status: EnhancedStatus,
    /// The server that gave the diagnostic, written `Remote-MTA: dns; HOST`.
    pub remote_mta: Option<String>,
    /// What that server said.
    pub diagnostic: Option<Diagnostic>,
    /// When delivery was last tried.
    pub last_attempt: Option<UnixTime>,
    /// The local queue ID, written as `Final-Log-ID`.
    pub final_log_id: Option<String>,
    /// For [`Action::Delayed`]: when the MTA gives up.
    pub will_retry_until: Option<UnixTime>,
}

impl RecipientReport {
    /// A recipient report with only the required fields.
    pub fn new(final_recipient: impl Into<String>, action: Action, status: EnhancedStatus) -> Self {
        RecipientReport {
            original_recipient: None,
            final_recipient: final_recipient.into(),
            action,
            status,
            remote_mta: None,
            diagnostic: None,
            last_attempt: None,
            final_log_id: None,
            will_retry_until: None,
        }
    }

    /// Sets the original recipient (`ORCPT`, decoded): an address type such
    /// as `rfc822` and the address.
    pub fn with_original_recipient(mut self, addr_type: impl Into<String>, addr: impl Into<String>) -> Self {
        self.original_recipient = Some((addr_type.into(), addr.into()));
        self
    }

    /// Sets the remote MTA's host name.
    pub fn with_remote_mta(mut self, host: impl Into<String>) -> Self {
        self.remote_mta = Some(host.into());
        self
    }

    /// Sets the diagnostic: a [`Reply`] or a [`Diagnostic`].
    pub fn with_diagnostic(mut self, diagnostic: impl Into<Diagnostic>) -> Self {
        self.diagnostic = Some(diagnostic.into());
        self
    }

    /// Sets the time of the last delivery attempt.
    pub fn with_last_attempt(mut self, time: UnixTime) -> Self {
        self.last_attempt = Some(time);
        self
    }

    /// Sets the local queue ID.
    pub fn with_final_log_id(mut self, id: impl Into<String>) -> Self {
        self.final_log_id = Some(id.into());
        self
    }

    /// Sets when the MTA stops retrying (for a delayed recipient).
    pub fn with_will_retry_until(mut self, time: UnixTime) -> Self {
        self.will_retry_until = Some(time);
        self
    }
}

/// How much of the original message a report returns, from the sender's
/// `RET` parameter.
///
/// Map `RET=FULL` and an absent `RET` to [`Full`](Returned::Full) and
/// `RET=HDRS` to [`Headers`](Returned::Headers). The builder still returns
/// only the header section when the message is larger than the
/// [return limit](ReportBuilder::return_limit); when no recipient
/// [failed](Action::Failed), because `RET` governs failure reports (RFC
/// 3461 §4.3) and a delay warning or receipt has no need of the body; and
/// when a failed recipient's status says the message was too big (`X.3.4`,
/// `X.2.3`: a SIZE refusal, dsn.md D14), as sendmail does.
///
/// Line ends in the returned content become CR LF, and content that does
/// not end with a line end gets one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Returned<'a> {
    /// The whole original message, returned as a `message/rfc822` part.
    Full(&'a [u8]),
    /// The original message, or just its header section, of which a
    /// `text/rfc822-headers` part returns the header section.
    Headers(&'a [u8]),
    /// No third part.
    None,
}

/// Why a report could not be built: each one is a mistake in the caller's
/// data or configuration.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// The original sender is the null reverse path.
    #[error(
        "the original sender is the null reverse path <>; a delivery report is never sent to it \
         (DSNs never cause DSNs, RFC 3461 §6.2): drop the report instead"
    )]
    NullSender,
    /// The original sender holds a control character or angle bracket.
    #[error(
        "original sender {0:?} contains a control character or an angle bracket inside the \
         address; pass the envelope sender as stored, e.g. alice@example.com"
    )]
    BadSender(String),
    /// The reporting MTA's name is not a host name or address literal.
    #[error(
        "reporting MTA {0:?} is not a host name; expected letters, digits, `-` and `.`, or an \
         address literal such as [192.0.2.1], at most 255 characters"
    )]
    BadHost(String),
    /// The unique part of the Message-Id is not a dot-atom.
    #[error(
        "message ID part {0:?} is not a dot-atom of at most 100 characters (letters, digits, \
         `.` and !#$%&'*+-/=?^_`{{|}}~); the queue ID is a good choice"
    )]
    BadMessageId(String),
    /// An address type or diagnostic type is not an atom.
    #[error("{field} type {value:?} is not an atom of letters, digits and `-` (such as rfc822 or smtp)")]
    BadType {
        /// `Original-Recipient` or `Diagnostic-Code`.
        field: &'static str,
        /// The type given.
        value: String,
    },
    /// A report must cover at least one recipient.
    #[error("a delivery report covers at least one recipient; add one with ReportBuilder::recipient")]
    NoRecipients,
}

/// Builds a delivery status notification (RFC 3464) for the queue runner
/// to send.
///
/// The report goes from the null reverse path to the original sender; a
/// report about a message from the null sender is refused when the
/// builder is made. Subject and human-readable text follow the most
/// serious action among the recipients (failed, then delayed, then
/// success), in sendmail's wording so operators recognise them.
///
/// ```
/// use smarthost_smtp_core::{EnhancedStatus, Reply};
/// use smarthost_smtp_core::dsn::{Action, RecipientReport, ReportBuilder, Returned, UnixTime, parse_report};
///
/// let original = b"From: Alice <alice@example.com>\r\nSubject: Hi\r\n\r\nHello Bob\r\n";
/// let reply = Reply::new(550, Some(EnhancedStatus::BAD_DESTINATION_MAILBOX), "<bob@example.net>... User unknown")?;
/// let report = ReportBuilder::new("alice@example.com", "relay.example.org", "4f2a9c", UnixTime(1_715_682_067))?
///     .arrival_date(UnixTime(1_715_682_055))
///     .recipient(
///         RecipientReport::new("bob@example.net", Action::Failed, EnhancedStatus::BAD_DESTINATION_MAILBOX)
///             .with_remote_mta("mx1.example.net")
///             .with_diagnostic(&reply),
///     )
///     .returned(Returned::Full(original))
///     .build()?;
///
/// assert_eq!((report.reverse_path(), report.recipient.as_str()), ("", "alice@example.com"));
/// let parsed = parse_report(&report.message)?;
/// assert_eq!(parsed.recipients[0].diagnostic.as_ref().and_then(|d| d.reply()), Some(reply));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct ReportBuilder<'a> {
    sender: String,
    fields: PerMessageFields,
    unique_id: String,
    date: UnixTime,
    recipients: Vec<RecipientReport>,
    returned: Returned<'a>,
    return_limit: usize,
    subject: Option<String>,
}

/// A report ready to queue: its envelope and its bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Report {
    /// The envelope recipient: the original sender, without angle brackets.
    pub recipient: String,
    /// The message, header and body, lines ending in CR LF, not dot-stuffed.
    pub message: Vec<u8>,
}

impl Report {
    /// The envelope sender: always the null reverse path (`MAIL FROM:<>`),
    /// so that a report that cannot be delivered causes no report.
    pub fn reverse_path(&self) -> &'static str {
        ""
    }
}

impl<'a> ReportBuilder<'a> {
    /// Starts a report to `original_sender` (the envelope sender, with or
    /// without angle brackets) from the MTA `reporting_mta`, dated `date`,
    /// with Message-Id `<unique_id@reporting_mta>`.
    ///
    /// Fails with [`BuildError::NullSender`] for the null sender (`""` or
    /// `<>`): DSNs never cause DSNs.
    pub fn new(
        original_sender: &str,
        reporting_mta: &str,
        unique_id: &str,
        date: UnixTime,
    ) -> Result<Self, BuildError> {
        let sender =
            original_sender.strip_prefix('<').and_then(|s| s.strip_suffix('>')).unwrap_or(original_sender);
        if sender.is_empty() {
            return Err(BuildError::NullSender);
        }
        if sender.chars().any(|c| c.is_control() || c == '<' || c == '>') {
            return Err(BuildError::BadSender(original_sender.to_owned()));
        }
        if !fields::is_host(reporting_mta) {
            return Err(BuildError::BadHost(reporting_mta.to_owned()));
        }
        if !fields::is_dot_atom(unique_id) {
            return Err(BuildError::BadMessageId(unique_id.to_owned()));
        }
        Ok(ReportBuilder {
            sender: sender.to_owned(),
            fields: PerMessageFields::new(reporting_mta),
            unique_id: unique_id.to_owned(),
            date,
            recipients: Vec::new(),
            returned: Returned::None,
            return_limit: DEFAULT_RETURN_LIMIT,
            subject: None,
        })
    }

    /// Sets `Original-Envelope-Id`: the sender's `ENVID`, decoded.
    pub fn original_envelope_id(mut self, envid: impl Into<String>) -> Self {
        self.fields.original_envelope_id = Some(envid.into());
        self
    }

    /// Sets `Received-From-MTA`: the host the message came from.
    pub fn received_from_mta(mut self, host: impl Into<String>) -> Self {
        self.fields.received_from_mta = Some(host.into());
        self
    }

    /// Sets `Arrival-Date`; it also dates the delay warning's subject.
    pub fn arrival_date(mut self, time: UnixTime) -> Self {
        self.fields.arrival_date = Some(time);
        self
    }

    /// Adds a recipient. Recipients are reported in the order added.
    pub fn recipient(mut self, recipient: RecipientReport) -> Self {
        self.recipients.push(recipient);
        self
    }

    /// Sets what to return of the original message (default: nothing).
    pub fn returned(mut self, returned: Returned<'a>) -> Self {
        self.returned = returned;
        self
    }

    /// Sets the largest message, in octets, returned whole (default
    /// [`DEFAULT_RETURN_LIMIT`]).
    pub fn return_limit(mut self, octets: usize) -> Self {
        self.return_limit = octets;
        self
    }

    /// Replaces the subject chosen from the recipients' actions.
    pub fn subject(mut self, subject: impl Into<String>) -> Self {
        self.subject = Some(subject.into());
        self
    }

    /// Writes the report.
    pub fn build(self) -> Result<Report, BuildError> {
        if self.recipients.is_empty() {
            return Err(BuildError::NoRecipients);
        }
        for recipient in &self.recipients {
            check_types(recipient)?;
        }
        let host = &self.fields.reporting_mta;
        let subject = match &self.subject {
            Some(subject) => fields::normalize(subject).into_owned(),
            None => text::subject(self.date, self.fields.arrival_date, &self.recipients),
        };
        let message = MessageBuilder::new()
            // Raw, to read exactly as sendmail's does: the host is checked, the rest is ours.
            .header("From", Raw::new(format!("Mail Delivery Subsystem <MAILER-DAEMON@{host}>")))
            .to(Address::new_address(None::<&str>, self.sender.as_str()))
            .date(self.date.date())
            .message_id(format!("{}@{host}", self.unique_id))
            .subject(subject)
            .header("Auto-Submitted", Raw::new("auto-replied"))
            .header("MIME-Version", Raw::new("1.0"))
            .body(self.body());
        let mut bytes = Vec::new();
        message.serialize(&mut bytes);
        Ok(Report { recipient: self.sender, message: bytes })
    }

    /// The `multipart/report`: human-readable text, delivery status, and
    /// the returned message if any, under a boundary none of them holds.
    fn body(&self) -> MimePart<'static> {
        let human = text::human_readable(&self.fields, &self.recipients);
        let status = fields::delivery_status(&self.fields, &self.recipients);
        let returned = self.returned_part();
        let mut bodies: Vec<&[u8]> = vec![human.as_bytes(), status.as_bytes()];
        if let Some((_, content)) = &returned {
            bodies.push(content);
        }
        let boundary = fields::boundary(&self.unique_id, &bodies);

        let charset = if human.is_ascii() { "us-ascii" } else { "utf-8" };
        let mut parts = vec![
            MimePart::new(ContentType::new("text/plain").attribute("charset", charset), human),
            // Binary with an explicit encoding: written as is, without the
            // charset mail-builder gives text bodies.
            MimePart::new("message/delivery-status", status.into_bytes()).transfer_encoding("7bit"),
        ];
        if let Some((content_type, content)) = returned {
            let encoding = if content.iter().all(|&b| b != 0 && b < 0x80) { "7bit" } else { "8bit" };
            parts.push(MimePart::new(content_type, content).transfer_encoding(encoding));
        }
        MimePart::new(
            ContentType::new("multipart/report")
                .attribute("report-type", "delivery-status")
                .attribute("boundary", boundary),
            parts,
        )
    }

    /// The third part's content type and content, after the rules of
    /// [`Returned`].
    fn returned_part(&self) -> Option<(&'static str, Vec<u8>)> {
        let (original, full) = match self.returned {
            Returned::None => return None,
            Returned::Headers(original) => (original, false),
            Returned::Full(original) => (original, true),
        };
        let failed = self.recipients.iter().filter(|r| r.action == Action::Failed);
        let too_big = failed.clone().any(|r| is_size_refusal(r.status));
        let original = fields::crlf(original);
        let (content_type, content) =
            if full && original.len() <= self.return_limit && failed.count() > 0 && !too_big {
                ("message/rfc822", &original[..])
            } else {
                ("text/rfc822-headers", fields::header_section(&original))
            };
        // The delimiter's CR LF belongs to the delimiter, so content that
        // stops mid-line would run into it: a reader parsing the returned
        // message then takes the closing boundary for a header line.
        let mut content = content.to_vec();
        if !content.is_empty() && !content.ends_with(b"\r\n") {
            content.extend_from_slice(b"\r\n");
        }
        Some((content_type, content))
    }
}

/// `X.3.4` (message too big for system) and `X.2.3` (message length
/// exceeds administrative limit): returning the message could fail again.
fn is_size_refusal(status: EnhancedStatus) -> bool {
    matches!((status.subject(), status.detail()), (3, 4) | (2, 3))
}

fn check_types(recipient: &RecipientReport) -> Result<(), BuildError> {
    if let Some((addr_type, _)) = &recipient.original_recipient
        && !fields::is_atom(addr_type)
    {
        return Err(BuildError::BadType { field: "Original-Recipient", value: addr_type.clone() });
    }
    if let Some(diagnostic) = &recipient.diagnostic
        && !fields::is_atom(&diagnostic.diagnostic_type)
    {
        return Err(BuildError::BadType {
            field: "Diagnostic-Code",
            value: diagnostic.diagnostic_type.clone(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests;
