//! The bytes local delivery writes: the `Return-Path:` header, LF line ends,
//! mboxrd `From ` quoting and the mbox separator line.

use std::io::{self, Write};
use std::time::SystemTime;

use super::LocalMessage;

/// Whether lines matching `^>*From ` get one more `>` (mboxrd).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Quoting {
    /// Maildir and programs: the lines as they are.
    None,
    /// mbox: quoted, so that only separator lines start with `From `.
    Mboxrd,
}

/// Writes `Return-Path: <sender>` and then the message with LF line ends
/// (each CRLF becomes LF; a last line without one gets LF), quoted as asked.
pub(crate) fn write_message(
    out: &mut impl Write,
    msg: &LocalMessage<'_>,
    quoting: Quoting,
) -> io::Result<()> {
    writeln!(out, "Return-Path: <{}>", printable(msg.sender, false))?;
    let mut rest = msg.content;
    while !rest.is_empty() {
        let (line, next) = match rest.iter().position(|&b| b == b'\n') {
            Some(at) => (&rest[..at], &rest[at + 1..]),
            None => (rest, &rest[rest.len()..]),
        };
        rest = next;
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if quoting == Quoting::Mboxrd && needs_quoting(line) {
            out.write_all(b">")?;
        }
        out.write_all(line)?;
        out.write_all(b"\n")?;
    }
    Ok(())
}

/// Whether a line (without its end) matches `^>*From `.
pub(crate) fn needs_quoting(line: &[u8]) -> bool {
    let unquoted = line.iter().position(|&b| b != b'>').map_or(&[][..], |at| &line[at..]);
    unquoted.starts_with(b"From ")
}

/// The mbox separator: `From SENDER DATE\n`, the sender `MAILER-DAEMON` when
/// null, the date in `asctime` form (UTC), e.g. `Mon Nov 23 14:48:06 2026`.
pub(crate) fn from_line(sender: &str, arrival: SystemTime) -> String {
    let sender = if sender.is_empty() { "MAILER-DAEMON".to_string() } else { printable(sender, true) };
    format!("From {sender} {}\n", asctime(arrival))
}

/// `t` as C's `asctime(gmtime(&t))` without its newline. Times before 1970
/// are shown as the epoch (a clock that far wrong has bigger problems).
pub(crate) fn asctime(t: SystemTime) -> String {
    smarthost_smtp_core::date::UtcTime::from_system(t).asctime()
}

/// An address as it may stand on one line: control characters (and, in a
/// `From ` line, where a space ends the address, white space) become `_`.
/// SMTP never passes them; this only keeps a bad caller from breaking the
/// file's structure.
pub(crate) fn printable(address: &str, no_space: bool) -> String {
    address.chars().map(|c| if c.is_control() || (no_space && c.is_whitespace()) { '_' } else { c }).collect()
}
