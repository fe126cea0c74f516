//! The client's side of DATA: line ending normalisation, dot-stuffing and
//! the terminator (spec `smtp.md` §4.2 and §5.3), and the facts about a
//! message the client needs before it sends `MAIL FROM`.

use memchr::memchr2;

use super::{CR, LF};

/// Turns message content into what goes on the wire after `354`, in pieces.
///
/// - Every bare CR and bare LF becomes CR LF. A relay that passed them on
///   untouched is what made SMTP smuggling work (CVE-2023-51764,
///   CVE-2023-51765, CVE-2023-51766): a lenient server downstream could take
///   `LF . LF` for the end of data and run the rest as commands.
/// - Every line that begins with `.` gets one more, the first line
///   included, so that no line of content reads as the terminator
///   (RFC 5321 §4.5.2).
/// - [`finish`](Self::finish) adds CR LF if the content does not end with a
///   line ending, then the terminator `.` CR LF.
///
/// Stuffing the pieces of a message one by one gives the same bytes as
/// stuffing it whole, so a spooled message can be streamed.
///
/// ```
/// use smarthost_smtp_core::DotStuffer;
///
/// let mut wire = Vec::new();
/// let mut stuffer = DotStuffer::new();
/// stuffer.handle_input(b".hidden\nline\r", &mut wire);
/// stuffer.handle_input(b"\n.", &mut wire);
/// stuffer.finish(&mut wire);
/// assert_eq!(wire, b"..hidden\r\nline\r\n..\r\n.\r\n");
/// ```
#[derive(Clone, Debug)]
pub struct DotStuffer {
    /// The next byte begins a line.
    line_start: bool,
    /// The last byte was a CR, already written as CR LF, so an LF right
    /// after it is the rest of that line ending.
    after_cr: bool,
}

impl Default for DotStuffer {
    fn default() -> Self {
        Self::new()
    }
}

impl DotStuffer {
    /// A stuffer at the start of a message.
    pub fn new() -> Self {
        DotStuffer { line_start: true, after_cr: false }
    }

    /// Appends the wire form of the next piece of content to `out`.
    pub fn handle_input(&mut self, input: &[u8], out: &mut Vec<u8>) {
        // `input[run..pos]` is written as it is when the run ends.
        let mut run = 0;
        let mut pos = 0;
        if self.after_cr && !input.is_empty() {
            self.after_cr = false;
            if input[0] == LF {
                // The CR that ended the previous piece was written as CR LF.
                run = 1;
                pos = 1;
            }
        }
        while pos < input.len() {
            if self.line_start {
                self.line_start = false;
                // Only a CR as the very last byte leaves `after_cr` set.
                self.after_cr = false;
                if input[pos] == b'.' {
                    out.extend_from_slice(&input[run..pos]);
                    out.push(b'.');
                    run = pos;
                }
            }
            let Some(offset) = memchr2(CR, LF, &input[pos..]) else { break };
            let at = pos + offset;
            self.line_start = true;
            if input[at] == LF {
                // Not after a CR: `memchr2` stops at a CR first.
                out.extend_from_slice(&input[run..at]);
                out.push(CR);
                run = at;
                pos = at + 1;
            } else if input.get(at + 1) == Some(&LF) {
                pos = at + 2;
            } else {
                // A bare CR, or a CR whose LF may open the next piece.
                out.extend_from_slice(&input[run..=at]);
                out.push(LF);
                run = at + 1;
                pos = at + 1;
                self.after_cr = true;
            }
        }
        out.extend_from_slice(&input[run..]);
    }

    /// Ends the content with a line ending if it lacks one, and appends the
    /// terminator `.` CR LF.
    pub fn finish(self, out: &mut Vec<u8>) {
        if !self.line_start {
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b".\r\n");
    }
}

/// Appends the wire form of a whole `message` to `out`: bare CR and LF
/// made CR LF, leading dots doubled, a final CR LF if missing, and the
/// terminator. See [`DotStuffer`] for why.
///
/// ```
/// let mut wire = Vec::new();
/// smarthost_smtp_core::dot_stuff(b"Subject: x\n\n.\nbye", &mut wire);
/// assert_eq!(wire, b"Subject: x\r\n\r\n..\r\nbye\r\n.\r\n");
/// ```
pub fn dot_stuff(message: &[u8], out: &mut Vec<u8>) {
    out.reserve(message.len() + message.len() / 64 + 5);
    let mut stuffer = DotStuffer::new();
    stuffer.handle_input(message, out);
    stuffer.finish(out);
}

/// Whether `message` holds any octet above 127, so that it needs
/// `BODY=8BITMIME` (RFC 6152) — or conversion, when the server does not
/// offer 8BITMIME.
pub fn has_8bit(message: &[u8]) -> bool {
    !message.is_ascii()
}

/// The longest line of `message` as it would be sent, CR LF included and
/// the stuffing dot not (RFC 5321 §4.5.3.1.6), with bare CR and LF counted
/// as line endings. RFC 5321 allows 1000; a client must re-encode or refuse
/// a message with longer lines rather than send them.
///
/// ```
/// assert_eq!(smarthost_smtp_core::max_line_len(b"ab\r\nabcd\nx"), 6);
/// assert_eq!(smarthost_smtp_core::max_line_len(b""), 0);
/// ```
pub fn max_line_len(message: &[u8]) -> usize {
    let mut longest = 0;
    for (line, _) in Lines(message) {
        longest = longest.max(line.len() + 2);
    }
    longest
}

/// The size of `message` as [`dot_stuff`] sends it without the stuffing
/// dots and the terminator, CR LF counted as two: the value of `SIZE=` on
/// `MAIL FROM` (RFC 1870), and what [`DataReceiver::size`] counts at the
/// other end.
///
/// [`DataReceiver::size`]: super::DataReceiver::size
pub fn normalized_size(message: &[u8]) -> u64 {
    Lines(message).map(|(line, _)| line.len() as u64 + 2).sum()
}

/// The lines of a message, each without its line ending (CR LF, bare CR or
/// bare LF), and the length of that ending in the source. A last line
/// without an ending is a line too; an empty message has none.
struct Lines<'a>(&'a [u8]);

impl<'a> Iterator for Lines<'a> {
    type Item = (&'a [u8], usize);

    fn next(&mut self) -> Option<Self::Item> {
        if self.0.is_empty() {
            return None;
        }
        let (line, ending) = match memchr2(CR, LF, self.0) {
            None => (self.0, 0),
            Some(at) if self.0[at] == CR && self.0.get(at + 1) == Some(&LF) => (&self.0[..at], 2),
            Some(at) => (&self.0[..at], 1),
        };
        self.0 = &self.0[line.len() + ending..];
        Some((line, ending))
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn stuffed(message: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        dot_stuff(message, &mut out);
        out
    }

    #[test]
    fn client_rules_of_spec_4_2() {
        let cases: [(&[u8], &[u8]); 13] = [
            (b"", b".\r\n"),
            (b"a", b"a\r\n.\r\n"),
            (b"a\r\n", b"a\r\n.\r\n"),
            (b".", b"..\r\n.\r\n"),
            (b".\r\n", b"..\r\n.\r\n"),
            (b"..x\r\n.y", b"...x\r\n..y\r\n.\r\n"),
            (b"a\n.\nb", b"a\r\n..\r\nb\r\n.\r\n"),
            (b"a\r.\rb", b"a\r\n..\r\nb\r\n.\r\n"),
            (b"a\r\n.\nb", b"a\r\n..\r\nb\r\n.\r\n"),
            (b"a\n.\r\nb", b"a\r\n..\r\nb\r\n.\r\n"),
            (b"a\r\r\n\n\r", b"a\r\n\r\n\r\n\r\n.\r\n"),
            (b"x.y\r\n \r\n.", b"x.y\r\n \r\n..\r\n.\r\n"),
            (b"\0\xff.\r\n", b"\0\xff.\r\n.\r\n"),
        ];
        for (message, wire) in cases {
            assert_eq!(stuffed(message).escape_ascii().to_string(), wire.escape_ascii().to_string());
        }
    }

    #[test]
    fn pieces_give_the_same_wire_bytes_at_every_split() {
        let message = b".a\r\n\r.\n.\r\r\n..\rb\n\r";
        let whole = stuffed(message);
        for cut in 0..=message.len() {
            for cut2 in cut..=message.len() {
                let mut out = Vec::new();
                let mut stuffer = DotStuffer::new();
                stuffer.handle_input(&message[..cut], &mut out);
                stuffer.handle_input(&message[cut..cut2], &mut out);
                stuffer.handle_input(&message[cut2..], &mut out);
                stuffer.finish(&mut out);
                assert_eq!(out, whole, "cut at {cut} and {cut2}");
            }
        }
    }

    #[test]
    fn line_lengths_count_crlf_but_not_stuffing() {
        assert_eq!(max_line_len(b"abc"), 5);
        assert_eq!(max_line_len(b"abc\r"), 5);
        assert_eq!(max_line_len(b"\r\n\r\n"), 2);
        assert_eq!(max_line_len(b"...\n"), 5);
        let long = [b"x".repeat(998), b"\r\n".to_vec(), b"y".repeat(999)].concat();
        assert_eq!(max_line_len(&long), 1001);
        assert_eq!(max_line_len(&long[..1000]), 1000);
    }

    #[test]
    fn eight_bit_is_any_octet_above_127() {
        assert!(!has_8bit(b"plain \0\x7f text\r\n"));
        assert!(has_8bit("Grüße".as_bytes()));
        assert!(has_8bit(&[b'a'; 100].iter().copied().chain([0x80]).collect::<Vec<_>>()));
    }

    proptest! {
        #[test]
        fn stuffed_wire_never_holds_bare_line_endings_or_an_early_terminator(
            message in prop::collection::vec(prop::sample::select(b"a.\r\n\0".to_vec()), 0..64),
        ) {
            let wire = stuffed(&message);
            let content = &wire[..wire.len() - 3];
            prop_assert!(wire.ends_with(b".\r\n"));
            prop_assert!(content.is_empty() || content.ends_with(b"\r\n"));
            for (i, &b) in content.iter().enumerate() {
                match b {
                    CR => prop_assert_eq!(content.get(i + 1), Some(&LF)),
                    LF => prop_assert_eq!(content[i - 1], CR),
                    _ => {}
                }
            }
            let with_start = [b"\r\n", content].concat();
            prop_assert!(memchr::memmem::find(&with_start, b"\r\n.\r\n").is_none());
            prop_assert_eq!(normalized_size(&message), content.len() as u64 - dots(content));
        }
    }

    /// The stuffing dots of wire content: a dot at the start of a line.
    fn dots(content: &[u8]) -> u64 {
        let starts = std::iter::once(0).chain(memchr::memmem::find_iter(content, b"\r\n").map(|i| i + 2));
        starts.filter(|&i| content.get(i) == Some(&b'.')).count() as u64
    }
}
