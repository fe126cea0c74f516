//! The test messages: headers that name the message (`X-Load-Id`), then a
//! body of plain lines up to the requested size.

use std::io::Write as _;

/// The envelope sender: a local name of the relay, so that no DNS is asked.
pub(crate) const SENDER: &str = "load@localhost";
/// The envelope recipient: not local, so the relay sends it to the smart host (the sink).
pub(crate) const RECIPIENT: &str = "sink@example.com";

const ID_HEADER: &[u8] = b"\nX-Load-Id: ";
/// Body line length without CRLF, under RFC 5322's 78.
const LINE: usize = 76;
const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";

/// Writes message `index` of session `session` into `buf` (cleared first):
/// exactly `size` bytes when `size` is at least the headers' length (120 to
/// 150 bytes), the headers alone otherwise. Every line ends in CRLF and none
/// starts with `.`, so it goes on the wire as is, followed by `.\r\n`.
pub(crate) fn write_message(buf: &mut Vec<u8>, session: u32, index: u32, size: usize) {
    write_headers(buf, session, index, "");
    if size.checked_sub(buf.len()) == Some(1) {
        // One byte cannot make a body line; a longer subject takes it.
        write_headers(buf, session, index, " ");
    }
    let mut line = 0;
    while buf.len() < size {
        let remaining = size - buf.len();
        let mut len = LINE.min(remaining.saturating_sub(2));
        if remaining - (len + 2) == 1 {
            // One byte cannot make a line; shorten this one to leave three.
            len -= 1;
        }
        let start = (session as usize + index as usize + line) % ALPHABET.len();
        buf.extend((0..len).map(|i| ALPHABET[(start + i) % ALPHABET.len()]));
        buf.extend_from_slice(b"\r\n");
        line += 1;
    }
}

fn write_headers(buf: &mut Vec<u8>, session: u32, index: u32, pad: &str) {
    buf.clear();
    // Writing to a Vec cannot fail.
    let _ = write!(
        buf,
        "From: <{SENDER}>\r\nTo: <{RECIPIENT}>\r\nSubject: load test{pad} {session}-{index}\r\n\
         Message-ID: <{session}.{index}@load.test>\r\nX-Load-Id: {session}-{index}\r\n\r\n"
    );
}

/// The `(session, index)` a message's `X-Load-Id` header names, as the
/// sink finds it after the relay has added its headers; `None` if it has none.
pub(crate) fn load_id(message: &[u8]) -> Option<(u32, u32)> {
    let at = memchr::memmem::find(message, ID_HEADER)? + ID_HEADER.len();
    let rest = &message[at..];
    let value = &rest[..memchr::memchr(b'\r', rest)?];
    let value = std::str::from_utf8(value).ok()?;
    let (session, index) = value.split_once('-')?;
    Some((session.parse().ok()?, index.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_size_with_whole_lines() {
        let mut buf = Vec::new();
        write_message(&mut buf, 3, 12_345, 0);
        let headers = buf.len();
        for size in (headers..400).chain([1024, 4096, 4097, 4098, 4099, 65_536]) {
            write_message(&mut buf, 3, 12_345, size);
            assert_eq!(buf.len(), size, "size {size}");
            assert!(buf.ends_with(b"\r\n"), "size {size}");
            for line in buf.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
                assert!(line.ends_with(b"\r"), "size {size}: bare LF");
                assert!(line.len() <= 78, "size {size}: line of {}", line.len());
                assert!(!line.starts_with(b"."), "size {size}: line needs dot-stuffing");
            }
        }
    }

    #[test]
    fn small_sizes_get_the_headers() {
        let mut buf = Vec::new();
        write_message(&mut buf, 0, 0, 0);
        assert!(buf.ends_with(b"\r\n\r\n"));
        assert_eq!(load_id(&buf), Some((0, 0)));
        // One byte over the headers: the subject grows by one.
        let headers = buf.len();
        write_message(&mut buf, 0, 0, headers + 1);
        assert_eq!(buf.len(), headers + 1);
        assert!(buf.ends_with(b"\r\n\r\n"));
    }

    #[test]
    fn the_id_survives_added_headers() {
        let mut buf = b"Received: from load.test by relay.test\r\n".to_vec();
        let mut message = Vec::new();
        write_message(&mut message, 19, 499, 4096);
        buf.extend_from_slice(&message);
        assert_eq!(load_id(&buf), Some((19, 499)));
        assert_eq!(load_id(b"Subject: other\r\n\r\nbody\r\n"), None);
        assert_eq!(load_id(b"X\r\nX-Load-Id: 1-x\r\n"), None);
    }
}
