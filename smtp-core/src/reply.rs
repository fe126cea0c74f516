//! SMTP replies: the [`Reply`] type, its rendering, and parsing replies
//! read from a server.

use std::borrow::Cow;
use std::fmt;

use crate::status::EnhancedStatus;

/// Longest reply line we render, CR LF included (RFC 5321 §4.5.3.1.5).
pub const MAX_REPLY_LINE: usize = 512;

/// Longest reply line we accept from a peer. RFC 5321 asks clients to
/// tolerate lines longer than 512; this bounds memory.
pub const MAX_PARSED_LINE: usize = 8192;

/// Most lines we accept in one parsed reply (a long EHLO list has ~20).
pub const MAX_PARSED_LINES: usize = 256;

/// An SMTP reply: a three-digit code, an optional enhanced status code,
/// and one or more lines of text.
///
/// Text never holds CR or LF; the constructors refuse them, so a reply can
/// never smuggle a line of its own into the stream.
///
/// ```
/// use smarthost_smtp_core::{EnhancedStatus, Reply};
/// let reply = Reply::new(550, Some(EnhancedStatus::BAD_DESTINATION_MAILBOX), "<bob@example.net>... User unknown")?;
/// assert_eq!(reply.to_string(), "550 5.1.1 <bob@example.net>... User unknown\r\n");
///
/// let multi = Reply::multiline(250, None, ["mx.example.net", "PIPELINING", "SIZE 10240000"])?;
/// assert_eq!(multi.to_string(), "250-mx.example.net\r\n250-PIPELINING\r\n250 SIZE 10240000\r\n");
/// # Ok::<(), smarthost_smtp_core::ReplyError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Reply {
    code: u16,
    status: Option<EnhancedStatus>,
    /// The lines, separated by `\n` (which no line may contain).
    text: Cow<'static, str>,
}

/// Why a [`Reply`] could not be built.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReplyError {
    /// The code is outside 200–559 or its second digit is above 5.
    #[error("reply code {0} is not an SMTP reply code (200–559, second digit 0–5)")]
    BadCode(u16),
    /// The enhanced status's class differs from the code's first digit.
    #[error(
        "enhanced status {status} does not belong to reply code {code}; the class must equal the first digit"
    )]
    ClassMismatch {
        /// The reply code.
        code: u16,
        /// The status given with it.
        status: EnhancedStatus,
    },
    /// A line of text contains CR, LF or another control character.
    #[error("reply text contains a control character (CR, LF or NUL); write each line separately")]
    ControlCharacter,
    /// A rendered line would be longer than [`MAX_REPLY_LINE`].
    #[error("reply line of {0} bytes would exceed the 512-byte limit of RFC 5321; split it into lines")]
    LineTooLong(usize),
    /// A reply needs at least one line (it may be empty).
    #[error("a reply needs at least one line")]
    NoLines,
}

impl Reply {
    /// A one-line reply.
    pub fn new(
        code: u16,
        status: Option<EnhancedStatus>,
        text: impl Into<Cow<'static, str>>,
    ) -> Result<Self, ReplyError> {
        let text = text.into();
        check_head(code, status)?;
        check_line(&text, status)?;
        Ok(Reply { code, status, text })
    }

    /// A reply of several lines, all with the same code and status.
    pub fn multiline<I, S>(code: u16, status: Option<EnhancedStatus>, lines: I) -> Result<Self, ReplyError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        check_head(code, status)?;
        let mut text = String::new();
        let mut count = 0;
        for line in lines {
            let line = line.as_ref();
            check_line(line, status)?;
            if count > 0 {
                text.push('\n');
            }
            text.push_str(line);
            count += 1;
        }
        if count == 0 {
            return Err(ReplyError::NoLines);
        }
        Ok(Reply { code, status, text: Cow::Owned(text) })
    }

    /// A reply from constant parts, checked when the constant is compiled:
    /// a bad code, a class mismatch or a control character fails the build.
    pub const fn constant(code: u16, status: Option<EnhancedStatus>, text: &'static str) -> Self {
        assert!(code_is_valid(code), "reply code out of range");
        if let Some(status) = status {
            assert!(status.class() as u16 == code / 100, "enhanced status class differs from the code");
        }
        let bytes = text.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            assert!(bytes[i] >= 0x20 && bytes[i] != 0x7f, "control character in reply text");
            i += 1;
        }
        assert!(bytes.len() <= MAX_REPLY_LINE - 18, "reply line too long");
        Reply { code, status, text: Cow::Borrowed(text) }
    }

    /// The three-digit code.
    pub fn code(&self) -> u16 {
        self.code
    }

    /// The enhanced status code, if the reply has one.
    pub fn status(&self) -> Option<EnhancedStatus> {
        self.status
    }

    /// The lines of text, without code and status.
    pub fn lines(&self) -> impl Iterator<Item = &str> + '_ {
        self.text.split('\n')
    }

    /// The text of all lines joined by a space: what a log line or a
    /// `Diagnostic-Code` shows.
    pub fn text(&self) -> Cow<'_, str> {
        if self.text.contains('\n') {
            Cow::Owned(self.text.replace('\n', " "))
        } else {
            Cow::Borrowed(&self.text)
        }
    }

    /// 2xx.
    pub fn is_positive(&self) -> bool {
        self.code / 100 == 2
    }

    /// 3xx: the peer expects more input (354, 334).
    pub fn is_intermediate(&self) -> bool {
        self.code / 100 == 3
    }

    /// 4xx.
    pub fn is_transient(&self) -> bool {
        self.code / 100 == 4
    }

    /// 5xx.
    pub fn is_permanent(&self) -> bool {
        self.code / 100 == 5
    }

    /// The same reply with another enhanced status (or none).
    pub fn with_status(self, status: Option<EnhancedStatus>) -> Result<Self, ReplyError> {
        check_head(self.code, status)?;
        Ok(Reply { status, ..self })
    }

    /// Appends the reply to `out` as it goes on the wire. With `enhanced`
    /// false the enhanced status is left out (the peer greeted with HELO,
    /// or the reply precedes EHLO), as RFC 2034 asks.
    pub fn write_to(&self, out: &mut Vec<u8>, enhanced: bool) {
        let mut lines = self.lines().peekable();
        while let Some(line) = lines.next() {
            let separator = if lines.peek().is_some() { b'-' } else { b' ' };
            push_code(out, self.code);
            out.push(separator);
            if let (Some(status), true) = (self.status, enhanced) {
                push_status(out, status);
                if !line.is_empty() {
                    out.push(b' ');
                }
            }
            out.extend_from_slice(line.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
    }

    /// The wire form with the enhanced status, as a string.
    pub fn to_wire(&self, enhanced: bool) -> String {
        let mut out = Vec::with_capacity(self.text.len() + 20);
        self.write_to(&mut out, enhanced);
        // Only ASCII digits, separators and our UTF-8 text were written.
        String::from_utf8(out).unwrap_or_default()
    }
}

impl fmt::Display for Reply {
    /// The wire form, enhanced status included, each line ending in CR LF.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_wire(true))
    }
}

const fn code_is_valid(code: u16) -> bool {
    code >= 200 && code <= 559 && (code / 10) % 10 <= 5
}

fn check_head(code: u16, status: Option<EnhancedStatus>) -> Result<(), ReplyError> {
    if !code_is_valid(code) {
        return Err(ReplyError::BadCode(code));
    }
    match status {
        Some(status) if u16::from(status.class()) != code / 100 => {
            Err(ReplyError::ClassMismatch { code, status })
        }
        _ => Ok(()),
    }
}

fn check_line(line: &str, status: Option<EnhancedStatus>) -> Result<(), ReplyError> {
    if line.bytes().any(|b| b < 0x20 || b == 0x7f) {
        return Err(ReplyError::ControlCharacter);
    }
    // "ddd-" + "x.yyy.zzz " + text + CR LF
    let rendered = 4 + status.map_or(0, |s| s.to_string().len() + 1) + line.len() + 2;
    if rendered > MAX_REPLY_LINE {
        return Err(ReplyError::LineTooLong(rendered));
    }
    Ok(())
}

fn push_code(out: &mut Vec<u8>, code: u16) {
    out.extend_from_slice(&[
        b'0' + (code / 100) as u8,
        b'0' + (code / 10 % 10) as u8,
        b'0' + (code % 10) as u8,
    ]);
}

fn push_status(out: &mut Vec<u8>, status: EnhancedStatus) {
    out.push(b'0' + status.class());
    for number in [status.subject(), status.detail()] {
        out.push(b'.');
        if number >= 100 {
            out.push(b'0' + (number / 100) as u8);
        }
        if number >= 10 {
            out.push(b'0' + (number / 10 % 10) as u8);
        }
        out.push(b'0' + (number % 10) as u8);
    }
}

/// The result of [`parse_reply`] on the bytes received so far.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ParsedReply {
    /// The reply is not complete yet; read more bytes.
    Partial,
    /// A whole reply, and how many bytes of the input it took.
    Complete(Reply, usize),
}

/// Why bytes from a server are not a valid reply.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReplyParseError {
    /// A line does not start with three digits followed by space, `-` or
    /// the end of the line (`2500 x`, `hello`).
    #[error("malformed reply line: expected three digits 200–559 then a space, `-` or end of line")]
    Malformed,
    /// The lines of one multi-line reply carry different codes (dsn.md D3).
    /// The reply built from them uses the last line's code, as a lenient
    /// client would; `consumed` bytes make it up.
    #[error("multi-line reply mixes codes {first} and {last}; RFC 5321 requires one code")]
    InconsistentCodes {
        /// The code of the first line.
        first: u16,
        /// The code of the last line, which the reply carries.
        last: u16,
        /// The reply with the last line's code.
        reply: Reply,
        /// Bytes of input the reply took.
        consumed: usize,
    },
    /// A line is longer than [`MAX_PARSED_LINE`] or the reply has more than
    /// [`MAX_PARSED_LINES`] lines.
    #[error("reply longer than {MAX_PARSED_LINE} bytes per line or {MAX_PARSED_LINES} lines")]
    TooLong,
}

/// Parses one reply from the start of `input`, which may hold a partial
/// reply or several pipelined ones.
///
/// Lines may end in CR LF or a lone LF (we are liberal in what we accept
/// from servers). The enhanced status code is recognised when its class
/// equals the reply's first digit; it must then be on every line, as
/// RFC 2034 asks, and is taken from the first line. Text that is not
/// UTF-8 is kept with replacement characters.
///
/// ```
/// use smarthost_smtp_core::{parse_reply, ParsedReply};
/// let ParsedReply::Complete(reply, used) = parse_reply(b"550 5.1.1 User unknown\r\n")? else { panic!() };
/// assert_eq!((reply.code(), reply.status().unwrap().to_string().as_str(), used), (550, "5.1.1", 24));
/// # Ok::<(), smarthost_smtp_core::ReplyParseError>(())
/// ```
pub fn parse_reply(input: &[u8]) -> Result<ParsedReply, ReplyParseError> {
    let mut at = 0;
    let mut first_code = None;
    let mut status = None;
    let mut text = String::new();
    for line_number in 0.. {
        if line_number == MAX_PARSED_LINES {
            return Err(ReplyParseError::TooLong);
        }
        let Some(end) = memchr::memchr(b'\n', &input[at..]) else {
            if input.len() - at > MAX_PARSED_LINE {
                return Err(ReplyParseError::TooLong);
            }
            // Reject a bad start early so garbage is not buffered up to the cap.
            return match check_partial_line(&input[at..]) {
                true => Ok(ParsedReply::Partial),
                false => Err(ReplyParseError::Malformed),
            };
        };
        if end + 1 > MAX_PARSED_LINE {
            return Err(ReplyParseError::TooLong);
        }
        let raw = &input[at..at + end];
        let line = raw.strip_suffix(b"\r").unwrap_or(raw);
        at += end + 1;
        let (code, last, rest) = split_line(line)?;
        let first = *first_code.get_or_insert(code);
        // Control characters would break our own rendering; servers do not
        // send them. They become spaces before the status is looked for, so
        // that `5.1.1<TAB>text` has its status and the text renders back
        // exactly as parsed (found by the `smtp_reply` fuzz target).
        let rest: String =
            String::from_utf8_lossy(rest).chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
        let mut rest: &str = &rest;
        let line_status =
            EnhancedStatus::split_prefix(rest).filter(|(s, _)| u16::from(s.class()) == code / 100);
        if line_number == 0 {
            status = line_status.map(|(s, _)| s);
        }
        // Strip the line's own status when it is the reply's, or when the
        // code changed (D3) and the reply takes the last line's status.
        if let Some((s, r)) = line_status.filter(|(s, _)| Some(*s) == status || code != first) {
            rest = r;
            if last && code != first {
                status = Some(s);
            }
        }
        if line_number > 0 {
            text.push('\n');
        }
        text.push_str(rest);
        if last {
            let status = status.filter(|s| u16::from(s.class()) == code / 100);
            let reply = Reply { code, status, text: Cow::Owned(text) };
            if first != code {
                return Err(ReplyParseError::InconsistentCodes { first, last: code, reply, consumed: at });
            }
            return Ok(ParsedReply::Complete(reply, at));
        }
    }
    unreachable!("the loop returns by MAX_PARSED_LINES")
}

/// Code, whether this is the last line, and the text after the separator.
fn split_line(line: &[u8]) -> Result<(u16, bool, &[u8]), ReplyParseError> {
    let digits = line.get(..3).ok_or(ReplyParseError::Malformed)?;
    if !digits.iter().all(u8::is_ascii_digit) {
        return Err(ReplyParseError::Malformed);
    }
    let code = digits.iter().fold(0u16, |n, d| n * 10 + u16::from(d - b'0'));
    if !code_is_valid(code) {
        return Err(ReplyParseError::Malformed);
    }
    match line.get(3) {
        None => Ok((code, true, &[])),
        Some(b' ') => Ok((code, true, &line[4..])),
        Some(b'-') => Ok((code, false, &line[4..])),
        Some(_) => Err(ReplyParseError::Malformed),
    }
}

fn check_partial_line(partial: &[u8]) -> bool {
    partial.iter().take(3).all(u8::is_ascii_digit)
        && partial.get(3).is_none_or(|b| matches!(b, b' ' | b'-' | b'\r'))
}

#[cfg(test)]
mod tests;
