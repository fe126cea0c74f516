//! `dsn::ReportBuilder` -> `dsn::parse_report`: every report built from
//! fuzzed fields parses back to the same fields after the normalisation the
//! `dsn` module documents (gaps collapse to one space, `\x{HEX}` is read as
//! its character), and returns the original, or its header section, as the
//! rules of `Returned` say (line ends made CR LF, a final one added).
//!
//! Input: a flags byte, then fields separated by 0xff bytes: the envelope
//! ID, the received-from host and the original message, then six fields a
//! recipient (control bytes, address, ORCPT, remote MTA, diagnostic, queue
//! ID). The flags byte says which optional fields are set (bits 0-2), what
//! to return (bits 3-4: none, headers, full), whether a small return limit
//! applies (bit 5), and whether text maps onto an alphabet of the bytes
//! that matter to the format (bit 7): white space, CR, LF, `;`, `(`, the
//! pieces of `\x{E9}` and non-ASCII.

#![no_main]

use std::borrow::Cow;

use libfuzzer_sys::fuzz_target;
use smarthost_smtp_core::EnhancedStatus;
use smarthost_smtp_core::dsn::{
    Action, Diagnostic, PerMessageFields, RecipientReport, ReportBuilder, Returned, ReturnedMessage,
    UnixTime, parse_report,
};

/// Characters longer than this many per field could make an escaped word
/// longer than `MAX_FIELD_WORD`, which the builder splits on purpose.
const MAX_FIELD_CHARS: usize = 80;
const MAX_RECIPIENTS: usize = 8;

const ALPHABET: &[&str] = &[
    "a", "B", "0", "@", ".", ";", ":", " ", " ", "\t", "\r", "\n", "\r\n", "\0", "(", ")", "<", ">", "\"",
    "\\", "x", "{", "}", "E9", "\\x{E9}", "é", "日", "😀", "\u{85}", "\u{a0}", "\u{2028}", "=", "-", "_",
    "\u{7f}",
];

const ACTIONS: [Action; 5] =
    [Action::Failed, Action::Delayed, Action::Delivered, Action::Relayed, Action::Expanded];

fuzz_target!(|input: &[u8]| {
    let Some((&flags, rest)) = input.split_first() else {
        return;
    };
    let steer = flags & 0x80 != 0;
    let mut fields = rest.split(|&b| b == 0xff);
    let mut next = || fields.next().unwrap_or_default();
    let (envid, received_from, original) = (next(), next(), next().to_vec());
    let envid = (flags & 1 != 0).then(|| text(envid, steer));
    let received_from = (flags & 2 != 0).then(|| text(received_from, steer));
    let arrival = (flags & 4 != 0).then_some(UnixTime(1_715_682_055));
    let limit = if flags & 0x20 != 0 { 64 } else { 100_000 };

    let mut recipients = Vec::new();
    while recipients.len() < MAX_RECIPIENTS {
        let Some(control) = fields.next() else { break };
        let mut more = || fields.next().unwrap_or_default();
        recipients.push(recipient(control, [more(), more(), more(), more(), more()], steer));
    }
    if recipients.is_empty() {
        return;
    }

    let returned = match (flags >> 3) & 3 {
        0 => Returned::None,
        1 => Returned::Headers(&original),
        _ => Returned::Full(&original),
    };
    let mut builder =
        ReportBuilder::new("alice@example.com", "relay.example.org", "Q1", UnixTime(1_715_682_067))
            .expect("a valid sender and host")
            .returned(returned)
            .return_limit(limit);
    if let Some(envid) = &envid {
        builder = builder.original_envelope_id(envid);
    }
    if let Some(host) = &received_from {
        builder = builder.received_from_mta(host);
    }
    if let Some(arrival) = arrival {
        builder = builder.arrival_date(arrival);
    }
    for recipient in &recipients {
        builder = builder.recipient(recipient.clone());
    }
    let report = builder.build().expect("valid types and at least one recipient");
    assert_eq!((report.reverse_path(), report.recipient.as_str()), ("", "alice@example.com"));

    let parsed = parse_report(&report.message).expect("a built report parses");
    let mut expected_fields = PerMessageFields::new("relay.example.org");
    expected_fields.original_envelope_id = envid.as_deref().map(normalized);
    expected_fields.received_from_mta = received_from.as_deref().map(normalized);
    expected_fields.arrival_date = arrival;
    assert_eq!(parsed.message, expected_fields);
    let expected_recipients: Vec<_> = recipients.iter().map(expected).collect();
    assert_eq!(parsed.recipients, expected_recipients);

    let mut failed = recipients.iter().filter(|r| r.action == Action::Failed).peekable();
    let any_failed = failed.peek().is_some();
    let too_big = failed.any(|r| matches!((r.status.subject(), r.status.detail()), (3, 4) | (2, 3)));
    let expected_returned = match returned {
        Returned::None => None,
        Returned::Full(original) if any_failed && !too_big && crlf(original).len() <= limit => {
            Some(ReturnedMessage::Full(line_ended(crlf(original))))
        }
        Returned::Full(original) | Returned::Headers(original) => {
            Some(ReturnedMessage::Headers(line_ended(header_section(&crlf(original)).to_vec())))
        }
    };
    assert_eq!(parsed.returned, expected_returned);
});

fn recipient(
    control: &[u8],
    [address, orcpt, remote, diagnostic, log_id]: [&[u8]; 5],
    steer: bool,
) -> RecipientReport {
    let byte = |i: usize| control.get(i).copied().unwrap_or(0);
    let time =
        |i: usize| UnixTime(u64::from(u32::from_le_bytes([byte(i), byte(i + 1), byte(i + 2), byte(i + 3)])));
    let class = [2, 4, 5][usize::from(byte(1)) % 3];
    let status =
        EnhancedStatus::new(class, u16::from(byte(2)) % 12, u16::from(byte(3)) % 12).expect("in range");
    let present = byte(4);
    let mut recipient = RecipientReport::new(text(address, steer), ACTIONS[usize::from(byte(0)) % 5], status);
    let kind = if present & 0x40 != 0 { "utf-8" } else { "rfc822" };
    recipient.original_recipient = (present & 1 != 0).then(|| (kind.to_owned(), text(orcpt, steer)));
    recipient.remote_mta = (present & 2 != 0).then(|| text(remote, steer));
    let kind = if present & 0x80 != 0 { "x-unix" } else { "smtp" };
    recipient.diagnostic = (present & 4 != 0).then(|| Diagnostic::new(kind, text(diagnostic, steer)));
    recipient.final_log_id = (present & 8 != 0).then(|| text(log_id, steer));
    recipient.last_attempt = (present & 0x10 != 0).then(|| time(5));
    recipient.will_retry_until = (present & 0x20 != 0).then(|| time(9));
    recipient
}

/// Field text from bytes: mapped onto [`ALPHABET`] when steering, lossy
/// UTF-8 otherwise; at most [`MAX_FIELD_CHARS`] characters either way.
fn text(bytes: &[u8], steer: bool) -> String {
    let text: Cow<'_, str> = if steer {
        bytes.iter().map(|&b| ALPHABET[usize::from(b) % ALPHABET.len()]).collect::<String>().into()
    } else {
        String::from_utf8_lossy(bytes)
    };
    text.chars().take(MAX_FIELD_CHARS).collect()
}

/// What `parse_report` should give back for `recipient`.
fn expected(recipient: &RecipientReport) -> RecipientReport {
    let mut out = recipient.clone();
    out.final_recipient = normalized(&recipient.final_recipient);
    out.original_recipient = recipient.original_recipient.as_ref().map(|(t, a)| (t.clone(), normalized(a)));
    out.remote_mta = recipient.remote_mta.as_deref().map(normalized);
    out.diagnostic = recipient
        .diagnostic
        .as_ref()
        .map(|d| Diagnostic::new(d.diagnostic_type.clone(), normalized(&d.text)));
    out.final_log_id = recipient.final_log_id.as_deref().map(normalized);
    out
}

/// The `dsn` module's normalisation, written out independently: gaps
/// (ASCII white space, control characters) collapse to one space and leave
/// the ends; `\x{HEX}` (1-6 digits) naming a non-ASCII, non-control
/// character becomes it.
fn normalized(text: &str) -> String {
    let collapsed = text
        .split(|c: char| c.is_ascii_whitespace() || c.is_control())
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    let mut out = String::new();
    let mut rest = collapsed.as_str();
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix("\\x{")
            && let Some(close) = after.find('}')
            && let Some(c) = Some(&after[..close])
                .filter(|d| (1..=6).contains(&d.len()) && d.bytes().all(|b| b.is_ascii_hexdigit()))
                .and_then(|d| u32::from_str_radix(d, 16).ok())
                .and_then(char::from_u32)
                .filter(|c| !c.is_ascii() && !c.is_control())
        {
            out.push(c);
            rest = &after[close + 1..];
            continue;
        }
        let c = rest.chars().next().expect("rest is not empty");
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

/// Every line end as CR LF.
fn crlf(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b'\n' if i == 0 || bytes[i - 1] != b'\r' => out.extend_from_slice(b"\r\n"),
            b'\r' if bytes.get(i + 1) != Some(&b'\n') => out.extend_from_slice(b"\r\n"),
            _ => out.push(b),
        }
    }
    out
}

/// With CR LF at the end, unless empty.
fn line_ended(mut bytes: Vec<u8>) -> Vec<u8> {
    if !bytes.is_empty() && !bytes.ends_with(b"\r\n") {
        bytes.extend_from_slice(b"\r\n");
    }
    bytes
}

/// Up to the line before the first empty line.
fn header_section(bytes: &[u8]) -> &[u8] {
    let mut start = 0;
    for line in bytes.split_inclusive(|&b| b == b'\n') {
        if line == b"\n" || line == b"\r\n" {
            return &bytes[..start];
        }
        start += line.len();
    }
    bytes
}
