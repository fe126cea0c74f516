//! The message a program hands to sendmail on standard input, made ready
//! for submission as sendmail makes it: the input ends at a lone `.` line
//! unless `-i`, a leading mbox `From ` line is dropped, `Bcc:` and
//! `Resent-Bcc:` fields are removed, `From:`, `Date:` and `Message-ID:` are
//! added when missing, and every line ends in CRLF.
//!
//! With `-t`, the recipients come from the header: the `To:`, `Cc:` and
//! `Bcc:` fields, or, when the message has any `Resent-To:`, `Resent-Cc:` or
//! `Resent-Bcc:` field, only those (sendmail's rule for resent messages).

use std::time::{SystemTime, UNIX_EPOCH};

/// The fields to add when the message has none of its own.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Additions {
    /// The `From:` value: `Full Name <sender>` or the sender alone.
    pub from: String,
    /// The `Date:` value, in RFC 5322 form.
    pub date: String,
    /// The `Message-ID:` value, with its angle brackets.
    pub message_id: String,
}

/// A message ready for submission.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    /// The header and body, each line ending in CRLF, Bcc fields removed.
    pub content: Vec<u8>,
    /// The addresses of the recipient fields (for `-t`), in order, without
    /// duplicates; unqualified names are left as they are.
    pub header_recipients: Vec<String>,
}

/// The part of `input` that is the message: all of it with `-i`
/// (`ignore_dots`), else what comes before the first line that is a lone `.`
/// (with or without a CR before its LF).
///
/// ```
/// use smarthost::sendmail::message::cut_at_dot;
/// assert_eq!(cut_at_dot(b"Subject: x\n\nhi\n.\nlost\n", false), b"Subject: x\n\nhi\n");
/// assert_eq!(cut_at_dot(b"hi\n.\nkept\n", true), b"hi\n.\nkept\n");
/// ```
pub fn cut_at_dot(input: &[u8], ignore_dots: bool) -> &[u8] {
    if ignore_dots {
        return input;
    }
    let mut start = 0;
    while start < input.len() {
        let end = input[start..].iter().position(|&b| b == b'\n').map_or(input.len(), |n| start + n);
        let line = &input[start..end];
        if line == b"." || line == b".\r" {
            return &input[..start];
        }
        start = end + 1;
    }
    input
}

/// Makes `input` (the message as cut by [`cut_at_dot`]) ready: see the
/// module documentation.
///
/// ```
/// use smarthost::sendmail::message::{Additions, prepare};
/// let additions = Additions {
///     from: "bob@example.org".into(),
///     date: "Mon, 23 Nov 2026 14:00:00 +0000".into(),
///     message_id: "<1.2@gw.example.org>".into(),
/// };
/// let message = prepare(b"To: alice@example.org\nBcc: carol@example.net\n\nhi\n", &additions);
/// assert_eq!(message.header_recipients, ["alice@example.org", "carol@example.net"]);
/// assert_eq!(
///     String::from_utf8(message.content).unwrap(),
///     "To: alice@example.org\r\nFrom: bob@example.org\r\nDate: Mon, 23 Nov 2026 14:00:00 +0000\r\n\
///      Message-ID: <1.2@gw.example.org>\r\n\r\nhi\r\n"
/// );
/// ```
pub fn prepare(input: &[u8], additions: &Additions) -> Message {
    let mut lines = split_lines(input);
    if lines.first().is_some_and(|line| line.starts_with(b"From ")) {
        lines.remove(0);
    }
    let (fields, body) = split_header(&lines);
    let header_recipients = recipients(&fields);
    let mut content = Vec::with_capacity(input.len() + 256);
    for field in fields.iter().filter(|field| !matches!(field.name().as_str(), "bcc" | "resent-bcc")) {
        for line in &field.lines {
            content.extend_from_slice(line);
            content.extend_from_slice(b"\r\n");
        }
    }
    let has = |name: &str| fields.iter().any(|field| field.name() == name);
    for (name, present, value) in [
        ("From", has("from"), &additions.from),
        ("Date", has("date"), &additions.date),
        ("Message-ID", has("message-id"), &additions.message_id),
    ] {
        if !present {
            content.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
        }
    }
    content.extend_from_slice(b"\r\n");
    for line in body {
        content.extend_from_slice(line);
        content.extend_from_slice(b"\r\n");
    }
    Message { content, header_recipients }
}

/// The addresses in a header field's value (an RFC 5322 address list,
/// unfolded): display names, comments and group names are dropped, the
/// address inside `<…>` is taken (without a source route), and empty
/// groups (`undisclosed-recipients:;`) and `<>` give nothing.
///
/// ```
/// use smarthost::sendmail::message::header_addresses;
/// assert_eq!(
///     header_addresses(r#""Smith, Al" <al@example.org>, team: b@example.net (Bea), c@example.net;"#),
///     ["al@example.org", "b@example.net", "c@example.net"]
/// );
/// ```
pub fn header_addresses(value: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut item = Item::default();
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                item.plain.push('"');
                item.plain.push_str(&quoted(&mut chars));
                item.plain.push('"');
            }
            '(' => skip_comment(&mut chars),
            '<' => item.angle = Some(angle(&mut chars)),
            ',' | ';' => item.finish(&mut found),
            // Outside `<…>` and quotes a colon only starts a group: what
            // came before it is the group's name.
            ':' => item = Item::default(),
            c if c.is_whitespace() => {}
            c => item.plain.push(c),
        }
    }
    item.finish(&mut found);
    found
}

/// The `Date:` value for `now`, in UTC: `Mon, 23 Nov 2026 14:55:00 +0000`.
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// let date = smarthost::sendmail::message::date(UNIX_EPOCH + Duration::from_secs(1_700_000_000));
/// assert_eq!(date, "Tue, 14 Nov 2023 22:13:20 +0000");
/// ```
pub fn date(now: SystemTime) -> String {
    smarthost_smtp_core::date::UtcTime::from_system(now).rfc5322()
}

/// A new `Message-ID:` value: `<YYYYMMDDhhmmss.RANDOM@hostname>`, the
/// shape sendmail's IDs have (a time, then something unique).
pub fn message_id(now: SystemTime, hostname: &str) -> String {
    use std::hash::BuildHasher;
    let t = smarthost_smtp_core::date::UtcTime::from_system(now);
    // RandomState is seeded from the OS's random source once per process;
    // the time and the process ID make two IDs of one process differ.
    let nanos = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    let unique = std::collections::hash_map::RandomState::new().hash_one((nanos, std::process::id()));
    format!(
        "<{:04}{:02}{:02}{:02}{:02}{:02}.{unique:016x}@{hostname}>",
        t.year, t.month, t.day, t.hour, t.minute, t.second
    )
}

/// The `From:` value sendmail writes (`$?x$x <$g>$|$g$.`): the full name and
/// the address in angle brackets, or the address alone. A name with
/// characters that RFC 5322 does not allow in a phrase is quoted.
///
/// ```
/// use smarthost::sendmail::message::from_value;
/// assert_eq!(from_value("bob@example.org", Some("Bob Smith")), "Bob Smith <bob@example.org>");
/// assert_eq!(from_value("bob@example.org", Some("Smith, Bob")), "\"Smith, Bob\" <bob@example.org>");
/// assert_eq!(from_value("bob@example.org", None), "bob@example.org");
/// ```
pub fn from_value(sender: &str, full_name: Option<&str>) -> String {
    let name = full_name.map(|name| name.replace(['\r', '\n'], " ")).filter(|name| !name.trim().is_empty());
    match name {
        None => sender.to_string(),
        Some(name) if name.chars().any(|c| "()<>[]:;@\\,.\"".contains(c)) => {
            format!("\"{}\" <{sender}>", name.replace('\\', "\\\\").replace('"', "\\\""))
        }
        Some(name) => format!("{name} <{sender}>"),
    }
}

/// One header field: its lines as given (the first and the continuations).
struct Field<'a> {
    lines: Vec<&'a [u8]>,
}

impl Field<'_> {
    /// The field name, lower case.
    fn name(&self) -> String {
        let first = self.lines[0];
        let colon = first.iter().position(|&b| b == b':').unwrap_or(first.len());
        String::from_utf8_lossy(&first[..colon]).trim_end().to_ascii_lowercase()
    }

    /// The value, unfolded.
    fn value(&self) -> String {
        let first = self.lines[0];
        let colon = first.iter().position(|&b| b == b':').map_or(first.len(), |n| n + 1);
        let mut value = String::from_utf8_lossy(&first[colon..]).into_owned();
        for line in &self.lines[1..] {
            value.push_str(&String::from_utf8_lossy(line));
        }
        value
    }
}

/// The input's lines without their line ends (LF or CRLF); a last line
/// without an end counts.
///
/// A CR that is not before an LF ends a line too: sent on as it is, it
/// would be a bare CR, which SMTP servers (this relay included) refuse as a
/// smuggling risk (found by the `sendmail_message` fuzz target).
fn split_lines(input: &[u8]) -> Vec<&[u8]> {
    let mut lines: Vec<&[u8]> = input
        .split(|&b| b == b'\n')
        .flat_map(|line| line.strip_suffix(b"\r").unwrap_or(line).split(|&b| b == b'\r'))
        .collect();
    if input.is_empty() || input.ends_with(b"\n") {
        lines.pop();
    }
    lines
}

/// The header fields and the body lines. The header ends at the first
/// empty line, or at the first line that is neither a field nor a
/// continuation (that line starts the body, as sendmail's collect() does).
fn split_header<'a>(lines: &[&'a [u8]]) -> (Vec<Field<'a>>, Vec<&'a [u8]>) {
    let mut fields: Vec<Field<'a>> = Vec::new();
    for (n, line) in lines.iter().enumerate() {
        if line.is_empty() {
            return (fields, lines[n + 1..].to_vec());
        }
        if line[0] == b' ' || line[0] == b'\t' {
            if let Some(field) = fields.last_mut() {
                field.lines.push(line);
                continue;
            }
        } else if is_field_start(line) {
            fields.push(Field { lines: vec![line] });
            continue;
        }
        return (fields, lines[n..].to_vec());
    }
    (fields, Vec::new())
}

/// `name:` with a name of printable characters (RFC 5322 ftext), allowing
/// the obsolete white space before the colon.
fn is_field_start(line: &[u8]) -> bool {
    let Some(colon) = line.iter().position(|&b| b == b':') else { return false };
    let name = line[..colon].trim_ascii_end();
    !name.is_empty() && name.iter().all(|&b| (33..=126).contains(&b) && b != b':')
}

/// The recipients of the header, resent fields first (sendmail's rule).
fn recipients(fields: &[Field<'_>]) -> Vec<String> {
    const RESENT: [&str; 3] = ["resent-to", "resent-cc", "resent-bcc"];
    const PLAIN: [&str; 3] = ["to", "cc", "bcc"];
    let resent = fields.iter().any(|field| RESENT.contains(&field.name().as_str()));
    let names = if resent { RESENT } else { PLAIN };
    let mut found: Vec<String> = Vec::new();
    for field in fields.iter().filter(|field| names.contains(&field.name().as_str())) {
        for address in header_addresses(&field.value()) {
            if !found.iter().any(|seen| seen.eq_ignore_ascii_case(&address)) {
                found.push(address);
            }
        }
    }
    found
}

/// One address of a list, while it is read.
#[derive(Default)]
struct Item {
    /// The text outside comments and angle brackets, white space removed.
    plain: String,
    /// What was inside `<…>`, if there were angle brackets.
    angle: Option<String>,
}

impl Item {
    fn finish(&mut self, found: &mut Vec<String>) {
        let item = std::mem::take(self);
        let address = match item.angle {
            // `<@a,@b:user@host>`: the source route is dropped (RFC 5321 §C).
            Some(inside) if inside.starts_with('@') => {
                inside.rsplit_once(':').map_or(String::new(), |(_, rest)| rest.to_string())
            }
            Some(inside) => inside,
            None => item.plain,
        };
        if !address.is_empty() {
            found.push(address);
        }
    }
}

/// The rest of a quoted string (after its opening quote), escapes kept.
fn quoted(chars: &mut std::str::Chars<'_>) -> String {
    let mut text = String::new();
    while let Some(c) = chars.next() {
        match c {
            '"' => break,
            '\\' => {
                text.push('\\');
                if let Some(next) = chars.next() {
                    text.push(next);
                }
            }
            c => text.push(c),
        }
    }
    text
}

/// Skips the rest of a comment (after its opening parenthesis); comments nest.
fn skip_comment(chars: &mut std::str::Chars<'_>) {
    let mut depth = 1;
    while let Some(c) = chars.next() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    return;
                }
            }
            '\\' => {
                chars.next();
            }
            _ => {}
        }
    }
}

/// The inside of `<…>` (after the `<`), without comments or white space
/// outside quotes.
fn angle(chars: &mut std::str::Chars<'_>) -> String {
    let mut inside = String::new();
    while let Some(c) = chars.next() {
        match c {
            '>' => break,
            '"' => {
                inside.push('"');
                inside.push_str(&quoted(chars));
                inside.push('"');
            }
            '(' => skip_comment(chars),
            c if c.is_whitespace() => {}
            c => inside.push(c),
        }
    }
    inside
}

#[cfg(test)]
mod tests {
    use super::*;

    fn additions() -> Additions {
        Additions { from: "me@h.example".into(), date: "D".into(), message_id: "<m@h.example>".into() }
    }

    #[test]
    fn a_bare_cr_ends_a_line() {
        let message = prepare(b"Subject: a\r\tb\n\nx\ry\r\n", &additions());
        let text = String::from_utf8(message.content).unwrap();
        assert!(text.starts_with("Subject: a\r\n\tb\r\n"), "{text}");
        assert!(text.ends_with("\r\n\r\nx\r\ny\r\n"), "{text}");
    }

    #[test]
    fn folded_fields_groups_and_comments() {
        let input = b"To: Alice (the boss)\n <alice@example.org>,\n\tbob@example.org\n\
            Cc: undisclosed-recipients:;\nBcc: friends: carol@example.net, \"d, e\"@example.net;\n\
            Subject: hi\n\nbody\n";
        let message = prepare(input, &additions());
        assert_eq!(
            message.header_recipients,
            ["alice@example.org", "bob@example.org", "carol@example.net", "\"d, e\"@example.net"]
        );
        let text = String::from_utf8(message.content).unwrap();
        assert!(!text.contains("Bcc"), "{text}");
        assert!(text.starts_with("To: Alice (the boss)\r\n <alice@example.org>,\r\n\tbob@example.org\r\n"));
    }

    #[test]
    fn resent_fields_take_over() {
        let input = b"To: a@example.org\nResent-To: b@example.org\nResent-Bcc: c@example.org\n\nx\n";
        let message = prepare(input, &additions());
        assert_eq!(message.header_recipients, ["b@example.org", "c@example.org"]);
        assert!(!String::from_utf8(message.content).unwrap().contains("Resent-Bcc"));
    }

    #[test]
    fn present_fields_are_not_added_twice() {
        let input = b"from: x@example.org\nDATE: today\nMessage-Id: <x@y>\n\nbody";
        let text = String::from_utf8(prepare(input, &additions()).content).unwrap();
        assert_eq!(text, "from: x@example.org\r\nDATE: today\r\nMessage-Id: <x@y>\r\n\r\nbody\r\n");
    }

    #[test]
    fn a_line_that_is_not_a_field_starts_the_body() {
        let text = String::from_utf8(prepare(b"just text\nmore\n", &additions()).content).unwrap();
        assert_eq!(
            text,
            "From: me@h.example\r\nDate: D\r\nMessage-ID: <m@h.example>\r\n\r\njust text\r\nmore\r\n"
        );
        let text =
            String::from_utf8(prepare(b"From bob Mon Nov 23\nTo: a@b\n\nx", &additions()).content).unwrap();
        assert!(text.starts_with("To: a@b\r\nFrom: me@h.example\r\n"), "{text}");
    }

    #[test]
    fn dot_line_ends_input_without_i() {
        assert_eq!(cut_at_dot(b".\n", false), b"");
        assert_eq!(cut_at_dot(b"a\r\n.\r\nb", false), b"a\r\n");
        assert_eq!(cut_at_dot(b"a\n..\nb\n.", false), b"a\n..\nb\n");
        assert_eq!(cut_at_dot(b"a\n. \n", false), b"a\n. \n");
    }

    #[test]
    fn dates() {
        let at = |s: u64| date(UNIX_EPOCH + std::time::Duration::from_secs(s));
        assert_eq!(at(0), "Thu, 1 Jan 1970 00:00:00 +0000");
        assert_eq!(at(951_782_400), "Tue, 29 Feb 2000 00:00:00 +0000");
        let id = message_id(UNIX_EPOCH + std::time::Duration::from_secs(0), "h.example");
        assert!(id.starts_with("<19700101000000.") && id.ends_with("@h.example>"), "{id}");
    }
}
