//! Reading a delivery status notification back: the MIME structure with
//! mail-parser, the `message/delivery-status` fields by hand (mail-parser
//! treats that part as opaque bytes).

use std::borrow::Cow;

use mail_parser::{DateTime, Encoding, Message, MessageParser, MessagePart, MimeHeaders, PartType};

use super::fields::{normalize, unescape};
use super::{Action, Diagnostic, PerMessageFields, RecipientReport, UnixTime};
use crate::EnhancedStatus;

/// A delivery status notification taken apart by [`parse_report`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ParsedReport {
    /// The per-message fields.
    pub message: PerMessageFields,
    /// One entry per recipient block, in order.
    pub recipients: Vec<RecipientReport>,
    /// The original message or its headers, if the report returned them.
    pub returned: Option<ReturnedMessage>,
}

/// What a parsed report returned of the original message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReturnedMessage {
    /// A `message/rfc822` part: the whole message.
    Full(Vec<u8>),
    /// A `text/rfc822-headers` part: the header section.
    Headers(Vec<u8>),
}

/// Why bytes are not a delivery status notification we can read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    /// No header section could be read.
    #[error("not an Internet message: no header section found")]
    NotMessage,
    /// The top-level type is not a delivery report.
    #[error("top-level Content-Type is {0}, not multipart/report; report-type=delivery-status (RFC 6522)")]
    NotReport(String),
    /// There is not exactly one `message/delivery-status` part.
    #[error("the report has {0} message/delivery-status parts; RFC 3464 requires exactly one")]
    StatusParts(usize),
    /// The per-message block lacks `Reporting-MTA`.
    #[error("the per-message fields lack Reporting-MTA, which RFC 3464 requires")]
    NoReportingMta,
    /// There is no per-recipient block.
    #[error("the delivery-status part has no per-recipient block; RFC 3464 requires one or more")]
    NoRecipients,
    /// A recipient block lacks a required field.
    #[error("recipient block {block} lacks {field}, which RFC 3464 requires")]
    MissingField {
        /// The block's number, from 1.
        block: usize,
        /// The field's name.
        field: &'static str,
    },
    /// A required field's value is not valid.
    #[error("recipient block {block}: {field}: {value:?} is not valid; expected {expected}")]
    BadField {
        /// The block's number, from 1.
        block: usize,
        /// The field's name.
        field: &'static str,
        /// The value found.
        value: String,
        /// What the value should look like.
        expected: &'static str,
    },
}

/// Takes a delivery status notification (RFC 3464, RFC 6522) apart.
///
/// The top level must be `multipart/report; report-type=delivery-status`
/// with exactly one `message/delivery-status` part (or RFC 6533's
/// `message/global-delivery-status`). Values come back as the module docs
/// describe: unfolded, white space collapsed, `\x{HEX}` decoded. Comments
/// in parentheses are dropped from `Action` and `Status` (sendmail writes
/// `Action: delivered (to mailbox)`); the name type (`dns;`, `rfc822;`) is
/// dropped from host and address fields but kept in `Original-Recipient`
/// and `Diagnostic-Code`. Unknown fields such as `X-Actual-Recipient` are
/// ignored, and so are optional fields that do not parse (a date mail-parser
/// cannot read, a `Diagnostic-Code` without a type), so that a sloppy
/// report is still recognised.
///
/// ```
/// use smarthost_smtp_core::dsn::{Action, parse_report};
/// let report = b"Content-Type: multipart/report; report-type=delivery-status; boundary=b\r\n\r\n\
///     --b\r\nContent-Type: text/plain\r\n\r\nSorry.\r\n\
///     --b\r\nContent-Type: message/delivery-status\r\n\r\n\
///     Reporting-MTA: dns; mx.example.org\r\n\r\n\
///     Final-Recipient: rfc822; bob@example.net\r\nAction: delivered (to mailbox)\r\nStatus: 2.0.0\r\n\
///     --b--\r\n";
/// let parsed = parse_report(report)?;
/// assert_eq!(parsed.message.reporting_mta, "mx.example.org");
/// assert_eq!(parsed.recipients[0].action, Action::Delivered);
/// # Ok::<(), smarthost_smtp_core::dsn::ParseError>(())
/// ```
pub fn parse_report(message: &[u8]) -> Result<ParsedReport, ParseError> {
    let parsed = MessageParser::new().parse(message).ok_or(ParseError::NotMessage)?;
    check_report_type(&parsed)?;
    let children: Vec<&MessagePart<'_>> = parsed
        .parts
        .first()
        .and_then(|root| root.sub_parts())
        .unwrap_or_default()
        .iter()
        .filter_map(|&id| parsed.parts.get(id as usize))
        .collect();
    let status_parts: Vec<_> = children
        .iter()
        .filter(|part| {
            part.is_content_type("message", "delivery-status")
                || part.is_content_type("message", "global-delivery-status")
        })
        .collect();
    let [status_part] = status_parts[..] else {
        return Err(ParseError::StatusParts(status_parts.len()));
    };
    let body = String::from_utf8_lossy(status_part.contents());
    let mut blocks = blocks(&body).into_iter();
    let per_message = blocks.next().unwrap_or_default();
    let fields = per_message_fields(&per_message)?;
    let recipients =
        blocks.enumerate().map(|(i, block)| recipient(i + 1, &block)).collect::<Result<Vec<_>, _>>()?;
    if recipients.is_empty() {
        return Err(ParseError::NoRecipients);
    }
    let boundary = parsed.content_type().and_then(|ct| ct.attribute("boundary")).unwrap_or_default();
    let returned = children.iter().find_map(|part| returned(message, boundary, part));
    Ok(ParsedReport { message: fields, recipients, returned })
}

fn check_report_type(parsed: &Message<'_>) -> Result<(), ParseError> {
    let content_type = parsed.content_type();
    let is_report = content_type.is_some_and(|ct| {
        ct.ctype().eq_ignore_ascii_case("multipart")
            && ct.subtype().is_some_and(|s| s.eq_ignore_ascii_case("report"))
            && ct.attributes().unwrap_or_default().iter().any(|attribute| {
                attribute.name.eq_ignore_ascii_case("report-type")
                    && attribute.value.eq_ignore_ascii_case("delivery-status")
            })
    });
    if is_report {
        return Ok(());
    }
    let shown = content_type.map_or_else(
        || "absent".to_owned(),
        |ct| format!("{}/{}", ct.ctype(), ct.subtype().unwrap_or_default()),
    );
    Err(ParseError::NotReport(shown))
}

/// The fields of each block, names in lower case, values unfolded but
/// otherwise raw. Blocks are separated by lines that are empty or hold only
/// white space; a line starting with white space continues the field before.
fn blocks(body: &str) -> Vec<Vec<(String, String)>> {
    let mut blocks = Vec::new();
    let mut block: Vec<(String, String)> = Vec::new();
    for line in body.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.trim_ascii().is_empty() {
            if !block.is_empty() {
                blocks.push(std::mem::take(&mut block));
            }
        } else if line.starts_with([' ', '\t']) {
            if let Some((_, value)) = block.last_mut() {
                value.push_str(line);
            }
        } else if let Some((name, value)) = line.split_once(':') {
            block.push((name.trim_ascii().to_ascii_lowercase(), value.to_owned()));
        }
    }
    if !block.is_empty() {
        blocks.push(block);
    }
    blocks
}

/// The first value of field `name` (lower case), normalised but still
/// escaped: splitting on `;` happens before `\x{}` is decoded.
fn field<'a>(block: &'a [(String, String)], name: &str) -> Option<Cow<'a, str>> {
    block.iter().find(|(n, _)| n == name).map(|(_, value)| normalize(value))
}

fn text(block: &[(String, String)], name: &str) -> Option<String> {
    field(block, name).map(|value| unescape(&value).into_owned())
}

/// `TYPE; NAME` without the type; the whole value when there is no `;`.
fn name(block: &[(String, String)], field_name: &str) -> Option<String> {
    field(block, field_name).map(|value| {
        let name = value.split_once(';').map_or(&*value, |(_, name)| name);
        unescape(name.trim_ascii()).into_owned()
    })
}

/// `TYPE; TEXT` as its two halves.
fn typed(block: &[(String, String)], name: &str) -> Option<(String, String)> {
    let value = field(block, name)?;
    let (kind, text) = value.split_once(';')?;
    Some((unescape(kind.trim_ascii()).into_owned(), unescape(text.trim_ascii()).into_owned()))
}

fn date(block: &[(String, String)], name: &str) -> Option<UnixTime> {
    let value = field(block, name)?;
    let parsed = DateTime::parse_rfc822(&value).filter(DateTime::is_valid)?;
    u64::try_from(parsed.to_timestamp()).ok().map(UnixTime)
}

fn per_message_fields(block: &[(String, String)]) -> Result<PerMessageFields, ParseError> {
    Ok(PerMessageFields {
        reporting_mta: name(block, "reporting-mta").ok_or(ParseError::NoReportingMta)?,
        original_envelope_id: text(block, "original-envelope-id"),
        received_from_mta: name(block, "received-from-mta"),
        arrival_date: date(block, "arrival-date"),
    })
}

fn recipient(block_number: usize, block: &[(String, String)]) -> Result<RecipientReport, ParseError> {
    let required = |field_name: &'static str| {
        field(block, &field_name.to_ascii_lowercase())
            .ok_or(ParseError::MissingField { block: block_number, field: field_name })
    };
    let bad = |field_name: &'static str, value: &str, expected: &'static str| ParseError::BadField {
        block: block_number,
        field: field_name,
        value: value.to_owned(),
        expected,
    };
    let final_recipient = name(block, "final-recipient")
        .ok_or(ParseError::MissingField { block: block_number, field: "Final-Recipient" })?;
    let action_value = required("Action")?;
    let action = parse_action(&strip_comments(&action_value))
        .ok_or_else(|| bad("Action", &action_value, "failed, delayed, delivered, relayed or expanded"))?;
    let status_value = required("Status")?;
    let status = strip_comments(&status_value)
        .parse::<EnhancedStatus>()
        .map_err(|_| bad("Status", &status_value, "an enhanced status code such as 5.1.1"))?;
    Ok(RecipientReport {
        original_recipient: typed(block, "original-recipient"),
        final_recipient,
        action,
        status,
        remote_mta: name(block, "remote-mta"),
        diagnostic: typed(block, "diagnostic-code").map(|(kind, text)| Diagnostic::new(kind, text)),
        last_attempt: date(block, "last-attempt-date"),
        final_log_id: text(block, "final-log-id"),
        will_retry_until: date(block, "will-retry-until"),
    })
}

fn parse_action(value: &str) -> Option<Action> {
    let action = match value.to_ascii_lowercase().as_str() {
        "failed" => Action::Failed,
        "delayed" => Action::Delayed,
        "delivered" => Action::Delivered,
        "relayed" => Action::Relayed,
        "expanded" => Action::Expanded,
        _ => return None,
    };
    Some(action)
}

/// `value` without RFC 5322 comments (nested parentheses, `\` quoting
/// inside them), trimmed.
fn strip_comments(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut depth = 0usize;
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        match (c, depth) {
            ('(', _) => depth += 1,
            (')', 1..) => depth -= 1,
            ('\\', 1..) => {
                chars.next();
            }
            (_, 0) => out.push(c),
            _ => {}
        }
    }
    out.trim_ascii().to_owned()
}

/// The returned message, if `part` is one: the raw bytes of a part without
/// transfer encoding (so a returned message comes back byte for byte), the
/// decoded contents otherwise.
fn returned(message: &[u8], boundary: &str, part: &MessagePart<'_>) -> Option<ReturnedMessage> {
    let full = part.is_content_type("message", "rfc822") || part.is_content_type("message", "global");
    if !full && !part.is_content_type("text", "rfc822-headers") {
        return None;
    }
    let raw = raw_body(message, part.offset_body as usize, boundary);
    let content = match (part.encoding, raw, &part.body) {
        (Encoding::None, Some(raw), _) => raw.to_vec(),
        (_, _, PartType::Message(nested)) => nested.raw_message().to_vec(),
        _ => part.contents().to_vec(),
    };
    Some(if full { ReturnedMessage::Full(content) } else { ReturnedMessage::Headers(content) })
}

/// The body of the part starting at `start`: up to the next delimiter line
/// `--BOUNDARY`, whose preceding line end belongs to it (RFC 2046 §5.1.1).
///
/// mail-parser's own end offset for a `message/rfc822` part comes from
/// parsing the returned message, which a malformed header in it (found by
/// fuzzing: `Date:-t`) can carry past the delimiter.
fn raw_body<'a>(message: &'a [u8], start: usize, boundary: &str) -> Option<&'a [u8]> {
    let rest = message.get(start..)?;
    if boundary.is_empty() {
        return None;
    }
    let delimiter = format!("\n--{boundary}");
    // The part may be empty, its delimiter right after the part's header.
    let at = if rest.starts_with(&delimiter.as_bytes()[1..]) {
        0
    } else {
        memchr::memmem::find(rest, delimiter.as_bytes())?
    };
    let end = if at > 0 && rest[at - 1] == b'\r' { at - 1 } else { at };
    Some(&rest[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A report with `status` as its delivery-status body.
    fn report(status: &str) -> Vec<u8> {
        format!(
            "Content-Type: multipart/report; report-type=delivery-status; boundary=b\r\n\r\n\
             --b\r\nContent-Type: text/plain\r\n\r\nx\r\n\
             --b\r\nContent-Type: message/delivery-status\r\n\r\n{status}\r\n--b--\r\n"
        )
        .into_bytes()
    }

    const PER_MESSAGE: &str = "Reporting-MTA: dns; mx.example.org\r\n\r\n";

    #[test]
    fn sendmail_style_fields_are_read() {
        let status = format!(
            "{PER_MESSAGE}Final-Recipient: RFC822; list@example.net\r\n\
             X-Actual-Recipient: rfc822; bob@example.net\r\n\
             action: Expanded (to multi-recipient alias)\r\nStatus: 2.0.0 (ok)\r\n\
             Last-Attempt-Date: not a date\r\nDiagnostic-Code: no type here\r\n"
        );
        let parsed = parse_report(&report(&status)).unwrap();
        let [list] = &parsed.recipients[..] else { panic!("{parsed:?}") };
        assert_eq!(list.final_recipient, "list@example.net");
        assert_eq!((list.action, list.status), (Action::Expanded, EnhancedStatus::OK));
        assert_eq!((list.last_attempt, &list.diagnostic), (None, &None));
        assert_eq!(parsed.returned, None);
    }

    #[test]
    fn malformed_reports_are_refused_with_a_reason() {
        let ok = format!("{PER_MESSAGE}Final-Recipient: rfc822; b@x\r\nAction: failed\r\nStatus: 5.0.0\r\n");
        assert!(parse_report(&report(&ok)).is_ok());
        assert_eq!(parse_report(b""), Err(ParseError::NotMessage));
        assert_eq!(parse_report(b"Subject: hi\r\n\r\nbody\r\n"), Err(ParseError::NotReport("absent".into())));
        let mixed = report(&ok).into_iter().skip(b"Content-Type: multipart/report".len()).collect::<Vec<_>>();
        let mixed = [&b"Content-Type: multipart/mixed"[..], &mixed].concat();
        assert_eq!(parse_report(&mixed), Err(ParseError::NotReport("multipart/mixed".into())));
        let twice = String::from_utf8(report(&ok)).unwrap().replacen(
            "--b--",
            &format!("--b\r\nContent-Type: message/delivery-status\r\n\r\n{ok}\r\n--b--"),
            1,
        );
        assert_eq!(parse_report(twice.as_bytes()), Err(ParseError::StatusParts(2)));
        assert_eq!(parse_report(&report("Arrival-Date: x\r\n\r\n")), Err(ParseError::NoReportingMta));
        assert_eq!(parse_report(&report(PER_MESSAGE)), Err(ParseError::NoRecipients));
        let cases = [
            (
                "Action: failed\r\nStatus: 5.0.0",
                ParseError::MissingField { block: 1, field: "Final-Recipient" },
            ),
            (
                "Final-Recipient: rfc822; b@x\r\nStatus: 5.0.0",
                ParseError::MissingField { block: 1, field: "Action" },
            ),
            (
                "Final-Recipient: rfc822; b@x\r\nAction: failed",
                ParseError::MissingField { block: 1, field: "Status" },
            ),
        ];
        for (block, error) in cases {
            assert_eq!(parse_report(&report(&format!("{PER_MESSAGE}{block}"))), Err(error), "{block}");
        }
        let bad = format!("{ok}\r\nFinal-Recipient: rfc822; c@x\r\nAction: bounced\r\nStatus: 5.0.0\r\n");
        assert!(matches!(
            parse_report(&report(&bad)),
            Err(ParseError::BadField { block: 2, field: "Action", .. })
        ));
        let bad = format!("{PER_MESSAGE}Final-Recipient: rfc822; b@x\r\nAction: failed\r\nStatus: 550\r\n");
        assert!(matches!(
            parse_report(&report(&bad)),
            Err(ParseError::BadField { block: 1, field: "Status", .. })
        ));
    }

    #[test]
    fn comments_are_stripped() {
        assert_eq!(strip_comments("delivered (to mailbox)"), "delivered");
        assert_eq!(strip_comments("(x) relayed (to (non-DSN) \\) mailer)"), "relayed");
        assert_eq!(strip_comments("5.1.1"), "5.1.1");
    }

    #[test]
    fn blocks_unfold_and_split_on_blank_lines() {
        let body = "\r\nA: 1\r\n\r\nB: x\r\n  y\r\nc : 2\r\n \t\r\nD: 3\r\nno colon\r\n";
        let blocks = blocks(body);
        let expected: Vec<Vec<(String, String)>> = vec![
            vec![("a".into(), " 1".into())],
            vec![("b".into(), " x  y".into()), ("c".into(), " 2".into())],
            vec![("d".into(), " 3".into())],
        ];
        assert_eq!(blocks, expected);
    }
}
