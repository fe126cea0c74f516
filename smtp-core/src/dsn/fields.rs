//! Writing `message/delivery-status` fields: the value normalisation and
//! escaping the module docs describe, folding, and the MIME odds and ends
//! (boundary, line endings, header section) the builder needs.

use std::borrow::Cow;
use std::collections::HashSet;
use std::fmt::Write as _;

use memchr::memmem;

use super::{MAX_FIELD_WORD, PerMessageFields, RecipientReport, UnixTime};

/// Lines are folded before they pass this many characters: within RFC
/// 5322's 78, and the width mail-builder gives its own folded headers (and
/// the example in dsn.md §8.5 folds at).
const FOLD_AT: usize = 76;

/// Longest unique part of the boundary taken from the message ID, so that
/// the boundary stays within RFC 2046's 70 characters.
const BOUNDARY_ID_LEN: usize = 40;

/// The `message/delivery-status` body: the per-message block, then one
/// block per recipient, each ending in a blank line but the last.
pub(super) fn delivery_status(fields: &PerMessageFields, recipients: &[RecipientReport]) -> String {
    let mut out = String::new();
    if let Some(envid) = &fields.original_envelope_id {
        push_field(&mut out, "Original-Envelope-Id", "", envid);
    }
    push_field(&mut out, "Reporting-MTA", "dns; ", &fields.reporting_mta);
    if let Some(host) = &fields.received_from_mta {
        push_field(&mut out, "Received-From-MTA", "dns; ", host);
    }
    push_date(&mut out, "Arrival-Date", fields.arrival_date);
    for recipient in recipients {
        out.push_str("\r\n");
        push_recipient(&mut out, recipient);
    }
    out
}

fn push_recipient(out: &mut String, recipient: &RecipientReport) {
    if let Some((addr_type, addr)) = &recipient.original_recipient {
        push_field(out, "Original-Recipient", &format!("{addr_type};"), addr);
    }
    let final_type = if recipient.final_recipient.is_ascii() { "rfc822; " } else { "utf-8; " };
    push_field(out, "Final-Recipient", final_type, &recipient.final_recipient);
    push_field(out, "Action", "", recipient.action.as_str());
    push_field(out, "Status", "", &recipient.status.to_string());
    if let Some(host) = &recipient.remote_mta {
        push_field(out, "Remote-MTA", "dns; ", host);
    }
    if let Some(diagnostic) = &recipient.diagnostic {
        push_field(out, "Diagnostic-Code", &format!("{}; ", diagnostic.diagnostic_type), &diagnostic.text);
    }
    push_date(out, "Last-Attempt-Date", recipient.last_attempt);
    if let Some(id) = &recipient.final_log_id {
        push_field(out, "Final-Log-ID", "", id);
    }
    push_date(out, "Will-Retry-Until", recipient.will_retry_until);
}

fn push_date(out: &mut String, name: &str, time: Option<UnixTime>) {
    if let Some(time) = time {
        push_field(out, name, "", &time.to_string());
    }
}

/// Writes `Name: PREFIXvalue` with `value` normalised and escaped, folded
/// before a space once a line passes [`FOLD_AT`]. `prefix` is ours and
/// already well-formed (`dns; `, `rfc822;`).
fn push_field(out: &mut String, name: &str, prefix: &str, value: &str) {
    let value = normalize(value);
    let full = format!("{prefix}{value}");
    out.push_str(name);
    out.push(':');
    let first_column = name.len() + 1;
    let mut column = first_column;
    for word in full.split(' ').filter(|w| !w.is_empty()) {
        for chunk in escaped_chunks(word) {
            if column > first_column && column + 1 + chunk.len() > FOLD_AT {
                out.push_str("\r\n");
                column = 0;
            }
            out.push(' ');
            out.push_str(&chunk);
            column += 1 + chunk.len();
        }
    }
    out.push_str("\r\n");
}

/// `word` escaped, in pieces of at most [`MAX_FIELD_WORD`] octets that
/// never split an escape.
fn escaped_chunks(word: &str) -> Vec<String> {
    let mut chunks = vec![String::new()];
    let mut escape = String::new();
    for c in word.chars() {
        escape.clear();
        if c.is_ascii() {
            escape.push(c);
        } else {
            // Writing to a String cannot fail.
            let _ = write!(escape, "\\x{{{:X}}}", u32::from(c));
        }
        let last = chunks.last_mut().expect("chunks starts with one element and only grows");
        if !last.is_empty() && last.len() + escape.len() > MAX_FIELD_WORD {
            chunks.push(escape.clone());
        } else {
            last.push_str(&escape);
        }
    }
    chunks
}

/// Every run of white space and control characters becomes one space;
/// spaces at either end go. What no field value may hold is gone: CR, LF
/// and every other control character.
pub(super) fn normalize(text: &str) -> Cow<'_, str> {
    let is_gap = |c: char| c.is_ascii_whitespace() || c.is_control();
    let clean = !text.starts_with(is_gap)
        && !text.ends_with(is_gap)
        && !text.contains(|c: char| is_gap(c) && c != ' ')
        && !text.contains("  ");
    if clean {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    for word in text.split(is_gap).filter(|w| !w.is_empty()) {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    Cow::Owned(out)
}

/// Replaces each `\x{HEX}` (one to six hex digits) that names a non-ASCII,
/// non-control character with that character (RFC 6533 §3). Anything else
/// stays as written.
pub(super) fn unescape(text: &str) -> Cow<'_, str> {
    if !text.contains("\\x{") {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("\\x{") {
        out.push_str(&rest[..at]);
        let after = &rest[at + 3..];
        let digits = after.bytes().take_while(u8::is_ascii_hexdigit).count();
        let decoded = (1..=6)
            .contains(&digits)
            .then(|| after[digits..].starts_with('}'))
            .filter(|&closed| closed)
            .and_then(|_| u32::from_str_radix(&after[..digits], 16).ok())
            .and_then(char::from_u32)
            .filter(|c| !c.is_ascii() && !c.is_control());
        match decoded {
            Some(c) => {
                out.push(c);
                rest = &after[digits + 1..];
            }
            None => {
                out.push_str("\\x{");
                rest = after;
            }
        }
    }
    out.push_str(rest);
    Cow::Owned(out)
}

/// A host name or address literal for `MAILER-DAEMON@HOST`.
pub(super) fn is_host(host: &str) -> bool {
    let literal = host.starts_with('[') && host.ends_with(']') && host.len() > 2;
    let allowed = |b: u8| {
        b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || (literal && matches!(b, b'[' | b']' | b':'))
    };
    !host.is_empty() && host.len() <= 255 && host.bytes().all(allowed)
}

/// RFC 5322 dot-atom-text of at most 100 characters.
pub(super) fn is_dot_atom(text: &str) -> bool {
    let atext = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-/=?^_`{|}~".contains(&b);
    !text.is_empty()
        && text.len() <= 100
        && text.split('.').all(|atom| !atom.is_empty() && atom.bytes().all(atext))
}

/// An address or diagnostic type: letters, digits and `-`.
pub(super) fn is_atom(text: &str) -> bool {
    !text.is_empty() && text.len() <= 64 && text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// A boundary that occurs in none of `bodies`, derived from the message's
/// unique ID so that reports are reproducible.
///
/// The returned message is the sender's and may hold our base boundary on
/// purpose. If it does, each occurrence of `BASE_N=` rules out one `N`, so
/// one of `1..=occurrences + 1` is free; scanning once keeps a hostile
/// message from making this slow.
pub(super) fn boundary(unique_id: &str, bodies: &[&[u8]]) -> String {
    let id: String = unique_id
        .chars()
        .take(BOUNDARY_ID_LEN)
        .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') { c } else { '_' })
        .collect();
    let base = format!("=_dsn_{id}");
    let finder = memmem::Finder::new(base.as_bytes());
    let mut occurrences = 0usize;
    let mut taken = HashSet::new();
    for body in bodies {
        for at in finder.find_iter(body) {
            occurrences += 1;
            let tail = &body[at + base.len()..];
            if let Some(digits) = tail.strip_prefix(b"_") {
                let len = digits.iter().take_while(|b| b.is_ascii_digit()).count().min(19);
                let n = digits[..len].iter().fold(0u64, |n, d| n * 10 + u64::from(d - b'0'));
                taken.insert(n);
            }
        }
    }
    if occurrences == 0 {
        return base;
    }
    let free = (1..).find(|n| !taken.contains(n)).expect("at most `occurrences` numbers are taken");
    format!("{base}_{free}=")
}

/// `bytes` with every line ending as CR LF: a bare LF gets a CR, a bare CR
/// an LF.
pub(super) fn crlf(bytes: &[u8]) -> Cow<'_, [u8]> {
    let bare = bytes.iter().enumerate().any(|(i, &b)| match b {
        b'\n' => i == 0 || bytes[i - 1] != b'\r',
        b'\r' => bytes.get(i + 1) != Some(&b'\n'),
        _ => false,
    });
    if !bare {
        return Cow::Borrowed(bytes);
    }
    let mut out = Vec::with_capacity(bytes.len() + bytes.len() / 32);
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b'\n' if i == 0 || bytes[i - 1] != b'\r' => out.extend_from_slice(b"\r\n"),
            b'\r' if bytes.get(i + 1) != Some(&b'\n') => out.extend_from_slice(b"\r\n"),
            _ => out.push(b),
        }
    }
    Cow::Owned(out)
}

/// The header section of `message`: everything up to and including the
/// line end before the first empty line (all of it if there is none).
pub(super) fn header_section(message: &[u8]) -> &[u8] {
    let mut start = 0;
    while start < message.len() {
        let end = memchr::memchr(b'\n', &message[start..]).map_or(message.len(), |at| start + at + 1);
        let line = &message[start..end];
        if line == b"\n" || line == b"\r\n" {
            return &message[..start];
        }
        start = end;
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_removes_line_breaks_and_collapses_gaps() {
        assert_eq!(normalize("a b"), "a b");
        assert!(matches!(normalize("a b"), Cow::Borrowed(_)));
        assert_eq!(normalize(" a\r\nBcc: x\t\t y \0"), "a Bcc: x y");
        assert_eq!(normalize("\r\n"), "");
        assert_eq!(normalize("a\u{85}b"), "a b");
    }

    #[test]
    fn unescape_reads_rfc6533_escapes_only() {
        assert_eq!(unescape("j\\x{F6}e"), "jöe");
        assert_eq!(unescape("\\x{1F600}!"), "😀!");
        assert_eq!(unescape("\\x{41}"), "\\x{41}", "ASCII is never escaped");
        assert_eq!(unescape("\\x{85}"), "\\x{85}", "nor are control characters");
        assert_eq!(unescape("\\x{D800}"), "\\x{D800}");
        assert_eq!(unescape("\\x{1234567}"), "\\x{1234567}");
        assert_eq!(unescape("\\x{E9"), "\\x{E9");
        assert_eq!(unescape("\\x{\\x{E9}}"), "\\x{é}");
    }

    #[test]
    fn long_values_fold_before_a_space() {
        let mut out = String::new();
        push_field(
            &mut out,
            "Diagnostic-Code",
            "smtp; ",
            "550 5.1.1 <bob@example.net>: Recipient address rejected",
        );
        assert_eq!(
            out,
            "Diagnostic-Code: smtp; 550 5.1.1 <bob@example.net>: Recipient address\r\n rejected\r\n"
        );
    }

    #[test]
    fn long_words_are_split_between_escapes() {
        let word = "é".repeat(MAX_FIELD_WORD);
        let chunks = escaped_chunks(&word);
        assert!(chunks.iter().all(|c| c.len() <= MAX_FIELD_WORD && c.ends_with('}')));
        assert_eq!(unescape(&chunks.concat()), word);
    }

    #[test]
    fn boundary_avoids_what_the_bodies_hold() {
        assert_eq!(boundary("Q1.x/y", &[b"hello"]), "=_dsn_Q1.x_y");
        let hostile = b"--=_dsn_Q1\r\n--=_dsn_Q1_1=\r\n--=_dsn_Q1_3\r\n";
        let chosen = boundary("Q1", &[hostile]);
        assert_eq!(chosen, "=_dsn_Q1_2=");
        assert!(memmem::find(hostile, chosen.as_bytes()).is_none());
    }

    #[test]
    fn line_endings_become_crlf() {
        assert_eq!(crlf(b"a\r\nb"), &b"a\r\nb"[..]);
        assert_eq!(crlf(b"a\nb\rc\r\n"), &b"a\r\nb\r\nc\r\n"[..]);
        assert_eq!(crlf(b"\n"), &b"\r\n"[..]);
    }

    #[test]
    fn header_section_stops_at_the_empty_line() {
        assert_eq!(header_section(b"A: 1\r\nB: 2\r\n\r\nbody\r\n\r\n"), b"A: 1\r\nB: 2\r\n");
        assert_eq!(header_section(b"A: 1\nB: 2\n\nbody"), b"A: 1\nB: 2\n");
        assert_eq!(header_section(b"A: 1\r\n"), b"A: 1\r\n");
        assert_eq!(header_section(b"\r\nbody"), b"");
    }
}
