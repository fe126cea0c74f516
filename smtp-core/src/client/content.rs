//! Content on the wire: what the session sends after `354` or `BDAT`, and
//! the facts about the content that decide the `MAIL` parameters.
//!
//! PRIVATE STAND-IN for `crate::data` (branch `smtp-data`): replaced by
//! `dot_stuff`, `has_8bit`, `max_line_len` and `normalized_size` from there
//! once that branch is merged.

/// Appends `message` with bare CR and bare LF made CR LF (smtp.md §5.3
/// client rule 1). No dot-stuffing: this is the `BDAT` form.
pub(crate) fn normalize(message: &[u8], out: &mut Vec<u8>) {
    out.reserve(message.len() + message.len() / 50);
    let mut i = 0;
    while i < message.len() {
        match message[i] {
            b'\r' => {
                out.extend_from_slice(b"\r\n");
                if message.get(i + 1) == Some(&b'\n') {
                    i += 1;
                }
            }
            b'\n' => out.extend_from_slice(b"\r\n"),
            b => out.push(b),
        }
        i += 1;
    }
}

/// Appends the `DATA` form of `message`: normalised, every line starting
/// with `.` given one more, a final CR LF if missing, then `.` CR LF.
pub(crate) fn dot_stuff(message: &[u8], out: &mut Vec<u8>) {
    let mut normal = Vec::new();
    normalize(message, &mut normal);
    let mut line_start = true;
    for &b in &normal {
        if line_start && b == b'.' {
            out.push(b'.');
        }
        out.push(b);
        line_start = b == b'\n';
    }
    if !normal.is_empty() && !normal.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b".\r\n");
}

/// Whether any octet is above 127.
pub(crate) fn has_8bit(message: &[u8]) -> bool {
    message.iter().any(|&b| b >= 0x80)
}

/// The longest line as sent, CR LF included, bare CR and LF counted as line ends.
pub(crate) fn max_line_len(message: &[u8]) -> usize {
    let mut longest = 0;
    let mut current = 0;
    let mut i = 0;
    while i < message.len() {
        match message[i] {
            b'\r' | b'\n' => {
                if message[i] == b'\r' && message.get(i + 1) == Some(&b'\n') {
                    i += 1;
                }
                longest = longest.max(current + 2);
                current = 0;
            }
            _ => current += 1,
        }
        i += 1;
    }
    if current > 0 { longest.max(current + 2) } else { longest }
}

/// The size of the normalised message, as `SIZE=` announces it.
pub(crate) fn normalized_size(message: &[u8]) -> u64 {
    let mut out = Vec::new();
    normalize(message, &mut out);
    out.len() as u64
}

/// Whether the header section (up to the first empty line) holds an octet
/// above 127: a UTF-8 header (RFC 6532) needs `SMTPUTF8`.
pub(crate) fn has_8bit_header(message: &[u8]) -> bool {
    let end = memchr::memmem::find(message, b"\n\n")
        .into_iter()
        .chain(memchr::memmem::find(message, b"\r\n\r\n"))
        .min()
        .unwrap_or(message.len());
    has_8bit(&message[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_and_stuffs() {
        let mut out = Vec::new();
        dot_stuff(b".a\nb\rc\r\n.\r\n..x", &mut out);
        assert_eq!(out, b"..a\r\nb\r\nc\r\n..\r\n...x\r\n.\r\n");
        let mut out = Vec::new();
        dot_stuff(b"", &mut out);
        assert_eq!(out, b".\r\n");
        let mut out = Vec::new();
        normalize(b"a\n\r\nb\r", &mut out);
        assert_eq!(out, b"a\r\n\r\nb\r\n");
    }

    #[test]
    fn measures() {
        assert_eq!(max_line_len(b"ab\r\nabcd\nx"), 6);
        assert_eq!(max_line_len(b""), 0);
        assert_eq!(normalized_size(b"a\nb"), 4);
        assert!(has_8bit_header("Subject: é\r\n\r\nx".as_bytes()));
        assert!(!has_8bit_header("Subject: e\r\n\r\né".as_bytes()));
        assert!(!has_8bit_header("Subject: e\n\né\r\n\r\n".as_bytes()));
    }
}
