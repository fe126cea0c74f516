//! The server's reply texts, as typed constants checked when compiled.
//!
//! Three shapes:
//!
//! * [`Reply`] constants for fixed replies (`250 2.0.0 OK`);
//! * [`HostReply`] for replies that name the server first, as RFC 5321 asks
//!   of `220`, `221` and `421` (`221 2.0.0 mx.example.org closing connection`);
//! * [`PathReply`] for replies that echo the path of a `MAIL` or `RCPT`
//!   command as sendmail does (`250 2.1.0 <a@example.org>... Sender ok`).
//!
//! Where sendmail uses other enhanced codes than the RFC 3463 ones the spec
//! prescribes (spec `smtp.md` §2 and §12.1), the sendmail form has the same
//! name with `SENDMAIL_` in front; [`ServerConfig::sendmail_status_codes`](crate::ServerConfig::sendmail_status_codes)
//! selects it.
//!
//! Enhanced status codes are written only after `EHLO` (RFC 2034); the
//! session decides that when it writes a reply.

use crate::reply::{MAX_REPLY_LINE, Reply};
use crate::status::EnhancedStatus as S;

const OK_200: Option<S> = Some(S::OK);

// ---- Connection and greeting ----------------------------------------------

/// `220 <host> ESMTP <text>`: the greeting's fixed part; the text comes from
/// [`ServerConfig::greeting_text`](crate::ServerConfig::greeting_text).
pub const GREETING: HostReply = HostReply::new(220, None, "ESMTP");
/// `554 <host> No SMTP service here`: a refused connection that stays open
/// (every command but `QUIT` then gets [`NO_SERVICE_COMMAND`]).
pub const NO_SERVICE: HostReply = HostReply::new(554, None, "No SMTP service here");
/// `503 5.5.1 No SMTP service here`: the reply to commands after [`NO_SERVICE`].
pub const NO_SERVICE_COMMAND: Reply =
    Reply::constant(503, Some(S::INVALID_COMMAND), "No SMTP service here; only QUIT is accepted");
/// `421 4.3.2 <host> Service not available, closing transmission channel`:
/// a policy closes the connection without a reply of its own.
pub const SERVICE_NOT_AVAILABLE: HostReply = HostReply::new(
    421,
    Some(S::NOT_ACCEPTING.with_class(4)),
    "Service not available, closing transmission channel",
);
/// `221 2.0.0 <host> closing connection` (sendmail's text, verified).
pub const CLOSING: HostReply = HostReply::new(221, OK_200, "closing connection");

// ---- HELO / EHLO ----------------------------------------------------------

/// `501 5.0.0 EHLO requires domain address` (sendmail, verified).
pub const EHLO_REQUIRES_DOMAIN: Reply = Reply::constant(501, Some(S::OTHER), "EHLO requires domain address");
/// `501 5.0.0 HELO requires domain address`.
pub const HELO_REQUIRES_DOMAIN: Reply = Reply::constant(501, Some(S::OTHER), "HELO requires domain address");
/// `501 5.5.2 Invalid domain name`: the `EHLO`/`HELO` argument is not a
/// domain or an address literal.
pub const INVALID_DOMAIN: Reply = Reply::constant(501, Some(S::SYNTAX_ERROR), "Invalid domain name");
/// The `250` text after the host name and the client's name:
/// `250-mx.example.org Hello client.example [192.0.2.1], pleased to meet you`.
pub const HELLO_SUFFIX: &str = ", pleased to meet you";

// ---- Generic --------------------------------------------------------------

/// `250 2.0.0 OK` (sendmail's `NOOP` reply, verified).
pub const OK: Reply = Reply::constant(250, OK_200, "OK");
/// `250 2.0.0 Reset state` (sendmail, verified).
pub const RESET: Reply = Reply::constant(250, OK_200, "Reset state");
/// `500 5.5.1 Command unrecognized` without the echo, when the command
/// cannot be shown.
pub const COMMAND_UNRECOGNIZED: Reply =
    Reply::constant(500, Some(S::INVALID_COMMAND), "Command unrecognized");
/// Prefix of `500 5.5.1 Command unrecognized: "XYZZY"` (sendmail, verified).
pub const COMMAND_UNRECOGNIZED_PREFIX: &str = "Command unrecognized: \"";
/// `502 5.5.1 Command not implemented`: TURN, SEND, SOML, SAML, ETRN, ATRN, BURL.
pub const NOT_IMPLEMENTED: Reply = Reply::constant(502, Some(S::INVALID_COMMAND), "Command not implemented");
/// `500 5.5.2 Line too long` (spec §1: above 2048 octets).
pub const LINE_TOO_LONG: Reply = Reply::constant(500, Some(S::SYNTAX_ERROR), "Line too long");
/// `500 5.5.2 Bare CR or LF in command` (spec §5.3).
pub const BARE_LINE_ENDING_IN_COMMAND: Reply =
    Reply::constant(500, Some(S::SYNTAX_ERROR), "Bare CR or LF in command");
/// `421 4.5.0 <host> Bare CR or LF in command; closing connection`: the
/// second bare line ending.
pub const BARE_LINE_ENDING_CLOSE: HostReply = HostReply::new(
    421,
    Some(S::OTHER_PROTOCOL.with_class(4)),
    "Bare CR or LF in command; closing connection",
);
/// `421 4.7.0 <host> Too many bad commands; closing connection` (sendmail).
pub const TOO_MANY_BAD_COMMANDS: HostReply =
    HostReply::new(421, Some(S::OTHER_SECURITY.with_class(4)), "Too many bad commands; closing connection");
/// `421 4.7.0 <host> Too much pipelined input; closing connection`: the
/// client sent more than the session buffers while a decision is pending.
pub const TOO_MUCH_PIPELINED_INPUT: HostReply = HostReply::new(
    421,
    Some(S::OTHER_SECURITY.with_class(4)),
    "Too much pipelined input; closing connection",
);
/// `554 5.5.0 SMTP protocol error`: input before the `354` (transaction
/// stuffing, sendmail 8.18.1); the connection is closed after it.
pub const PROTOCOL_ERROR: Reply = Reply::constant(554, Some(S::OTHER_PROTOCOL), "SMTP protocol error");
/// `503 5.5.1 Send HELO/EHLO first` (strict mode; sendmail `needmailhelo`).
pub const HELO_FIRST: Reply = Reply::constant(503, Some(S::INVALID_COMMAND), "Send HELO/EHLO first");
/// `503 5.5.1 Send EHLO first`: AUTH needs EHLO (RFC 4954).
pub const EHLO_FIRST: Reply = Reply::constant(503, Some(S::INVALID_COMMAND), "Send EHLO first");

// ---- Timeouts (RFC 5321 §4.5.3.2, spec §6) ---------------------------------

/// `421 4.4.2 <host> Timeout waiting for command` (spec O1).
pub const TIMEOUT_COMMAND: HostReply =
    HostReply::new(421, Some(S::BAD_CONNECTION.with_class(4)), "Timeout waiting for command");
/// `421 4.4.2 <host> Timeout waiting for data`.
pub const TIMEOUT_DATA: HostReply =
    HostReply::new(421, Some(S::BAD_CONNECTION.with_class(4)), "Timeout waiting for data");
/// `421 4.4.2 <host> Timeout waiting for authentication response`.
pub const TIMEOUT_AUTH: HostReply =
    HostReply::new(421, Some(S::BAD_CONNECTION.with_class(4)), "Timeout waiting for authentication response");

// ---- MAIL / RCPT ----------------------------------------------------------

/// `250 2.1.0 <path>... Sender ok` (sendmail, verified).
pub const SENDER_OK: PathReply = PathReply::new(250, Some(S::SENDER_VALID), "Sender ok");
/// `250 2.1.5 <path>... Recipient ok` (sendmail, verified).
pub const RECIPIENT_OK: PathReply = PathReply::new(250, Some(S::DESTINATION_VALID), "Recipient ok");
/// `501 5.5.2 Syntax: MAIL FROM:<address> [parameters]`.
pub const MAIL_SYNTAX: Reply =
    Reply::constant(501, Some(S::SYNTAX_ERROR), "Syntax: MAIL FROM:<address> [parameters]");
/// `501 5.5.2 Syntax: RCPT TO:<address> [parameters]`.
pub const RCPT_SYNTAX: Reply =
    Reply::constant(501, Some(S::SYNTAX_ERROR), "Syntax: RCPT TO:<address> [parameters]");
/// `553 5.1.7 Bad sender address syntax`.
pub const BAD_SENDER_SYNTAX: Reply =
    Reply::constant(553, Some(S::BAD_SENDER_SYNTAX), "Bad sender address syntax");
/// `553 5.1.3 Bad recipient address syntax`.
pub const BAD_RECIPIENT_SYNTAX: Reply =
    Reply::constant(553, Some(S::BAD_DESTINATION_SYNTAX), "Bad recipient address syntax");
/// `553 5.6.7 Non-ASCII address requires SMTPUTF8` (RFC 6531, spec §10.4).
pub const NON_ASCII_ADDRESS: Reply =
    Reply::constant(553, Some(S::NON_ASCII_ADDRESS), "Non-ASCII address requires SMTPUTF8");
/// `503 5.5.1 Sender already specified` (spec §2).
pub const SENDER_ALREADY_SPECIFIED: Reply =
    Reply::constant(503, Some(S::INVALID_COMMAND), "Sender already specified");
/// `503 5.5.0 Sender already specified` (sendmail, verified).
pub const SENDMAIL_SENDER_ALREADY_SPECIFIED: Reply =
    Reply::constant(503, Some(S::OTHER_PROTOCOL), "Sender already specified");
/// `503 5.5.1 Need MAIL before RCPT` (spec §2).
pub const NEED_MAIL_BEFORE_RCPT: Reply =
    Reply::constant(503, Some(S::INVALID_COMMAND), "Need MAIL before RCPT");
/// `503 5.0.0 Need MAIL before RCPT` (sendmail, verified).
pub const SENDMAIL_NEED_MAIL_BEFORE_RCPT: Reply =
    Reply::constant(503, Some(S::OTHER), "Need MAIL before RCPT");
/// `530 5.7.0 Authentication required` (submission, RFC 6409).
pub const AUTHENTICATION_REQUIRED: Reply =
    Reply::constant(530, Some(S::OTHER_SECURITY), "Authentication required");
/// `552 5.3.4 Message size exceeds fixed maximum message size` (RFC 1870).
pub const MESSAGE_TOO_BIG: Reply =
    Reply::constant(552, Some(S::MESSAGE_TOO_BIG), "Message size exceeds fixed maximum message size");
/// `452 4.5.3 Too many recipients`.
pub const TOO_MANY_RECIPIENTS: Reply =
    Reply::constant(452, Some(S::TOO_MANY_RECIPIENTS.with_class(4)), "Too many recipients");
/// `555 5.5.4 Parameters not permitted after HELO` (RFC 1869: no ESMTP
/// parameters in a session opened with HELO).
pub const PARAMETERS_AFTER_HELO: Reply =
    Reply::constant(555, Some(S::INVALID_ARGUMENTS), "Parameters not permitted after HELO");
/// `555 5.5.4 BODY=BINARYMIME requires CHUNKING`.
pub const BINARYMIME_NOT_OFFERED: Reply =
    Reply::constant(555, Some(S::INVALID_ARGUMENTS), "BODY=BINARYMIME requires CHUNKING");

// ---- DATA / BDAT ----------------------------------------------------------

/// `354 Enter mail, end with "." on a line by itself` (no enhanced code on 3xx).
pub const START_MAIL_INPUT: Reply =
    Reply::constant(354, None, "Enter mail, end with \".\" on a line by itself");
/// `503 5.5.1 Need MAIL command` (spec §2).
pub const NEED_MAIL: Reply = Reply::constant(503, Some(S::INVALID_COMMAND), "Need MAIL command");
/// `503 5.0.0 Need MAIL command` (sendmail, verified).
pub const SENDMAIL_NEED_MAIL: Reply = Reply::constant(503, Some(S::OTHER), "Need MAIL command");
/// `503 5.5.1 Need RCPT (recipient)` (spec §2).
pub const NEED_RCPT: Reply = Reply::constant(503, Some(S::INVALID_COMMAND), "Need RCPT (recipient)");
/// `503 5.0.0 Need RCPT (recipient)` (sendmail).
pub const SENDMAIL_NEED_RCPT: Reply = Reply::constant(503, Some(S::OTHER), "Need RCPT (recipient)");
/// `503 5.5.1 DATA and BDAT cannot be mixed in one transaction` (RFC 3030).
pub const DATA_BDAT_MIXED: Reply =
    Reply::constant(503, Some(S::INVALID_COMMAND), "DATA and BDAT cannot be mixed in one transaction");
/// `503 5.5.1 BODY=BINARYMIME requires BDAT` (RFC 3030).
pub const BINARYMIME_NEEDS_BDAT: Reply =
    Reply::constant(503, Some(S::INVALID_COMMAND), "BODY=BINARYMIME requires BDAT");
/// `501 5.5.4 Syntax: BDAT chunk-size [LAST]`; the stream cannot be framed
/// after it, so the connection is closed.
pub const BDAT_SYNTAX: Reply =
    Reply::constant(501, Some(S::INVALID_ARGUMENTS), "Syntax: BDAT chunk-size [LAST]");
/// `502 5.5.1 BDAT not available` (CHUNKING not offered; the chunk is read and dropped).
pub const BDAT_NOT_OFFERED: Reply = Reply::constant(502, Some(S::INVALID_COMMAND), "BDAT not available");
/// `250 2.0.0 <n> octets received`: the text after the number.
pub const CHUNK_RECEIVED_SUFFIX: &str = " octets received";
/// `250 2.0.0 Message accepted for delivery`: the default reply to the end
/// of a message (callers usually answer with [`Verdict::queued`](crate::Verdict::queued)).
pub const MESSAGE_ACCEPTED: Reply = Reply::constant(250, OK_200, "Message accepted for delivery");
/// `250 2.0.0 Ok: queued as ID`: the text before the id
/// ([`Verdict::queued`](crate::Verdict::queued)).
pub const QUEUED_AS: &str = "Ok: queued as ";
/// `554 5.6.0 Message contains bare CR or LF` (spec §5.3).
pub const BARE_LINE_ENDING_IN_DATA: Reply =
    Reply::constant(554, Some(S::OTHER_MEDIA), "Message contains bare CR or LF");
/// `554 5.4.6 Too many hops` (spec §4.1).
pub const TOO_MANY_HOPS: Reply = Reply::constant(554, Some(S::ROUTING_LOOP), "Too many hops");
/// `451 4.3.0 Local error in processing`: a policy answered a decision
/// with a reply that does not fit it.
pub const LOCAL_ERROR: Reply =
    Reply::constant(451, Some(S::OTHER_SYSTEM.with_class(4)), "Local error in processing");

// ---- VRFY / EXPN / HELP ---------------------------------------------------

/// `252 2.5.2 Cannot VRFY user; try RCPT to attempt delivery` (VRFY off, the default).
pub const CANNOT_VRFY: Reply = Reply::constant(
    252,
    Some(S::SYNTAX_ERROR.with_class(2)),
    "Cannot VRFY user; try RCPT to attempt delivery",
);
/// `502 5.7.0 Sorry, we do not allow this operation` (EXPN off, the default).
pub const EXPN_DISABLED: Reply =
    Reply::constant(502, Some(S::OTHER_SECURITY), "Sorry, we do not allow this operation");
/// `501 5.5.2 Argument required`: VRFY or EXPN without one.
pub const ARGUMENT_REQUIRED: Reply = Reply::constant(501, Some(S::SYNTAX_ERROR), "Argument required");
/// `502 5.3.0 HELP not implemented` (sendmail without a help file, verified).
pub const HELP_NOT_IMPLEMENTED: Reply = Reply::constant(502, Some(S::OTHER_SYSTEM), "HELP not implemented");
/// The lines of `214-2.0.0 ...` HELP; the last is `214 2.0.0 End of HELP info`.
pub const HELP_LINES: [&str; 4] = [
    "This is smarthost, a sendmail-compatible relay",
    "Commands: HELO EHLO MAIL RCPT DATA BDAT RSET NOOP QUIT HELP VRFY EXPN STARTTLS AUTH",
    "For local information send email to Postmaster at your site.",
    "End of HELP info",
];

// ---- STARTTLS (RFC 3207, spec §7) -----------------------------------------

/// `220 2.0.0 Ready to start TLS`.
pub const READY_TO_START_TLS: Reply = Reply::constant(220, OK_200, "Ready to start TLS");
/// `501 5.5.2 Syntax error (no parameters allowed)`.
pub const STARTTLS_PARAMETERS: Reply =
    Reply::constant(501, Some(S::SYNTAX_ERROR), "Syntax error (no parameters allowed)");
/// `503 5.5.0 TLS not permitted during a mail transaction`.
pub const STARTTLS_IN_TRANSACTION: Reply =
    Reply::constant(503, Some(S::OTHER_PROTOCOL), "TLS not permitted during a mail transaction");
/// `503 5.5.0 TLS not available`: not configured, or already active.
pub const TLS_NOT_AVAILABLE: Reply = Reply::constant(503, Some(S::OTHER_PROTOCOL), "TLS not available");
/// `454 4.3.3 TLS not available due to temporary reason`.
pub const TLS_TEMPORARILY_UNAVAILABLE: Reply =
    Reply::constant(454, Some(S::NOT_CAPABLE.with_class(4)), "TLS not available due to temporary reason");

// ---- AUTH (RFC 4954, authinfo.md §5) ---------------------------------------

/// `235 2.7.0 Authentication successful`.
pub const AUTH_SUCCEEDED: Reply =
    Reply::constant(235, Some(S::OTHER_SECURITY.with_class(2)), "Authentication successful");
/// `235 2.0.0 OK Authenticated` (sendmail).
pub const SENDMAIL_AUTH_SUCCEEDED: Reply = Reply::constant(235, OK_200, "OK Authenticated");
/// `535 5.7.8 Authentication credentials invalid`.
pub const AUTH_FAILED: Reply =
    Reply::constant(535, Some(S::AUTH_INVALID), "Authentication credentials invalid");
/// `535 5.7.0 authentication failed` (sendmail).
pub const SENDMAIL_AUTH_FAILED: Reply =
    Reply::constant(535, Some(S::OTHER_SECURITY), "authentication failed");
/// `501 5.5.2 Malformed authentication response`.
pub const AUTH_MALFORMED: Reply =
    Reply::constant(501, Some(S::SYNTAX_ERROR), "Malformed authentication response");
/// `501 5.5.2 Invalid base64 data`.
pub const AUTH_BAD_BASE64: Reply = Reply::constant(501, Some(S::SYNTAX_ERROR), "Invalid base64 data");
/// `501 5.0.0 AUTH aborted`: the client answered a challenge with `*`.
pub const AUTH_ABORTED: Reply = Reply::constant(501, Some(S::OTHER), "AUTH aborted");
/// `501 5.5.2 AUTH mechanism must be specified`.
pub const AUTH_MECHANISM_REQUIRED: Reply =
    Reply::constant(501, Some(S::SYNTAX_ERROR), "AUTH mechanism must be specified");
/// `504 5.5.4 Unrecognized authentication type`.
pub const AUTH_MECHANISM_UNAVAILABLE: Reply =
    Reply::constant(504, Some(S::INVALID_ARGUMENTS), "Unrecognized authentication type");
/// `504 5.3.3 AUTH mechanism not available` (sendmail).
pub const SENDMAIL_AUTH_MECHANISM_UNAVAILABLE: Reply =
    Reply::constant(504, Some(S::NOT_CAPABLE), "AUTH mechanism not available");
/// `538 5.7.11 Encryption required for requested authentication mechanism`.
pub const AUTH_ENCRYPTION_REQUIRED: Reply = Reply::constant(
    538,
    Some(S::ENCRYPTION_REQUIRED_FOR_AUTH),
    "Encryption required for requested authentication mechanism",
);
/// `503 5.5.1 Already authenticated`.
pub const AUTH_ALREADY: Reply = Reply::constant(503, Some(S::INVALID_COMMAND), "Already authenticated");
/// `503 5.5.0 Already Authenticated` (sendmail).
pub const SENDMAIL_AUTH_ALREADY: Reply =
    Reply::constant(503, Some(S::OTHER_PROTOCOL), "Already Authenticated");
/// `503 5.5.1 AUTH not permitted during a mail transaction`.
pub const AUTH_IN_TRANSACTION: Reply =
    Reply::constant(503, Some(S::INVALID_COMMAND), "AUTH not permitted during a mail transaction");
/// `503 5.5.0 AUTH not permitted during a mail transaction` (sendmail).
pub const SENDMAIL_AUTH_IN_TRANSACTION: Reply =
    Reply::constant(503, Some(S::OTHER_PROTOCOL), "AUTH not permitted during a mail transaction");
/// `503 5.3.3 AUTH not available` (sendmail's text; AUTH is not configured).
pub const AUTH_NOT_AVAILABLE: Reply = Reply::constant(503, Some(S::NOT_CAPABLE), "AUTH not available");
/// `500 5.5.6 Authentication exchange line is too long`.
pub const AUTH_LINE_TOO_LONG: Reply =
    Reply::constant(500, Some(S::AUTH_LINE_TOO_LONG), "Authentication exchange line is too long");

/// A reply that names the server's host right after the code (and enhanced
/// status): `421 4.4.2 mx.example.org Timeout waiting for command`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HostReply {
    code: u16,
    status: Option<S>,
    text: &'static str,
}

impl HostReply {
    /// A template, checked when compiled as [`Reply::constant`] checks.
    pub const fn new(code: u16, status: Option<S>, text: &'static str) -> Self {
        // Reuse Reply::constant's checks; the value borrows only `text`,
        // so forgetting it leaks nothing (a const fn cannot run its drop).
        std::mem::forget(Reply::constant(code, status, text));
        HostReply { code, status, text }
    }

    /// The reply code.
    pub const fn code(&self) -> u16 {
        self.code
    }

    /// The text after the host name.
    pub const fn text(&self) -> &'static str {
        self.text
    }

    /// The reply for `host`. `host` comes from the configuration, which
    /// refuses control characters, so this fails only on a host name too
    /// long for one line.
    pub fn to_reply(&self, host: &str) -> Reply {
        Reply::new(self.code, self.status, format!("{host} {}", self.text))
            .unwrap_or_else(|_| Reply::constant(self.code, self.status, self.text))
    }

    /// Appends the reply for `host` to `out`, with the enhanced status when
    /// `enhanced`.
    pub fn write_to(&self, out: &mut Vec<u8>, host: &str, enhanced: bool) {
        write_parts(out, self.code, self.status, enhanced, &[host, " ", self.text]);
    }
}

/// A reply that echoes a `MAIL`/`RCPT` path first:
/// `250 2.1.5 <bob@example.net>... Recipient ok`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PathReply {
    code: u16,
    status: Option<S>,
    text: &'static str,
}

impl PathReply {
    /// A template, checked when compiled.
    pub const fn new(code: u16, status: Option<S>, text: &'static str) -> Self {
        std::mem::forget(Reply::constant(code, status, text));
        PathReply { code, status, text }
    }

    /// Appends the reply for `path` (the text between the angle brackets,
    /// free of control characters) to `out`. A path too long for one reply
    /// line is left out.
    pub fn write_to(&self, out: &mut Vec<u8>, path: &str, enhanced: bool) {
        if path.len() + self.text.len() + 4 + 12 + 7 > MAX_REPLY_LINE {
            return write_parts(out, self.code, self.status, enhanced, &[self.text]);
        }
        // The common case, written directly: one reservation, no slice of parts.
        out.reserve(path.len() + self.text.len() + 24);
        push_head(out, self.code, self.status, enhanced);
        out.push(b'<');
        out.extend_from_slice(path.as_bytes());
        out.extend_from_slice(b">... ");
        out.extend_from_slice(self.text.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
}

/// Writes `code [status] part part ...CRLF` as one reply line. Callers pass
/// a valid code and status (from a checked constant or [`Reply`]) and parts
/// free of CR, LF and other control characters. When the line would exceed
/// [`MAX_REPLY_LINE`], only the last part is written, which the constant
/// constructors have checked.
pub(crate) fn write_parts(out: &mut Vec<u8>, code: u16, status: Option<S>, enhanced: bool, parts: &[&str]) {
    let len: usize = parts.iter().map(|p| p.len()).sum();
    // "ddd " + "x.yyy.zzz " + text + CRLF
    let parts = if len + 4 + 12 + 2 > MAX_REPLY_LINE { &parts[parts.len() - 1..] } else { parts };
    push_head(out, code, status, enhanced);
    for part in parts {
        out.extend_from_slice(part.as_bytes());
    }
    out.extend_from_slice(b"\r\n");
}

/// Writes a reply through [`write_parts`] when it is one line (all of our
/// constants), and through [`Reply::write_to`] otherwise.
pub(crate) fn write_reply(out: &mut Vec<u8>, reply: &Reply, enhanced: bool) {
    match reply.text() {
        std::borrow::Cow::Borrowed(line) if !line.is_empty() => {
            write_parts(out, reply.code(), reply.status(), enhanced, &[line]);
        }
        _ => reply.write_to(out, enhanced),
    }
}

/// `ddd ` or `ddd x.y.z ` (a single-line reply's start).
fn push_head(out: &mut Vec<u8>, code: u16, status: Option<S>, enhanced: bool) {
    out.extend_from_slice(&[
        b'0' + (code / 100) as u8,
        b'0' + (code / 10 % 10) as u8,
        b'0' + (code % 10) as u8,
        b' ',
    ]);
    if let (Some(status), true) = (status, enhanced) {
        out.push(b'0' + status.class());
        for number in [status.subject(), status.detail()] {
            out.push(b'.');
            match number {
                0..=9 => out.push(b'0' + number as u8),
                10..=99 => out.extend_from_slice(&[b'0' + (number / 10) as u8, b'0' + (number % 10) as u8]),
                _ => push_decimal(out, u64::from(number)),
            }
        }
        out.push(b' ');
    }
}

/// Appends `n` in decimal, without the formatting machinery.
pub(crate) fn push_decimal(out: &mut Vec<u8>, n: u64) {
    let mut buffer = [0u8; 20];
    out.extend_from_slice(decimal(n, &mut buffer).as_bytes());
}

/// `n` in decimal, written into `buffer`.
pub(crate) fn decimal(mut n: u64, buffer: &mut [u8; 20]) -> &str {
    let mut at = buffer.len();
    loop {
        at -= 1;
        buffer[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    // Only ASCII digits were written.
    std::str::from_utf8(&buffer[at..]).unwrap_or("0")
}

/// Appends an IP address: IPv4 by hand (the common case on a hot path),
/// IPv6 through `Display`.
pub(crate) fn push_ip(out: &mut Vec<u8>, ip: std::net::IpAddr) {
    match ip {
        std::net::IpAddr::V4(v4) => {
            for (i, octet) in v4.octets().into_iter().enumerate() {
                if i > 0 {
                    out.push(b'.');
                }
                push_decimal(out, u64::from(octet));
            }
        }
        std::net::IpAddr::V6(v6) => {
            use std::io::Write as _;
            // Writing to a Vec cannot fail.
            let _ = write!(out, "{v6}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_addresses() {
        let mut out = Vec::new();
        push_decimal(&mut out, 0);
        out.push(b' ');
        push_decimal(&mut out, u64::MAX);
        out.push(b' ');
        push_ip(&mut out, "192.0.2.255".parse().unwrap());
        out.push(b' ');
        push_ip(&mut out, "2001:db8::1".parse().unwrap());
        assert_eq!(out, b"0 18446744073709551615 192.0.2.255 2001:db8::1");
    }

    fn render(f: impl FnOnce(&mut Vec<u8>)) -> String {
        let mut out = Vec::new();
        f(&mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn host_and_path_replies() {
        assert_eq!(
            render(|o| CLOSING.write_to(o, "mx.example.org", true)),
            "221 2.0.0 mx.example.org closing connection\r\n"
        );
        assert_eq!(
            render(|o| CLOSING.write_to(o, "mx.example.org", false)),
            "221 mx.example.org closing connection\r\n"
        );
        assert_eq!(render(|o| GREETING.write_to(o, "mx", true)), "220 mx ESMTP\r\n");
        assert_eq!(
            render(|o| SENDER_OK.write_to(o, "a@example.com", true)),
            "250 2.1.0 <a@example.com>... Sender ok\r\n"
        );
        let long = "x".repeat(600);
        assert_eq!(render(|o| RECIPIENT_OK.write_to(o, &long, false)), "250 Recipient ok\r\n");
        assert_eq!(
            TIMEOUT_COMMAND.to_reply("mx").to_string(),
            "421 4.4.2 mx Timeout waiting for command\r\n"
        );
    }
}
