//! `parse_reply` on any bytes, taken one reply at a time as a client reads
//! pipelined replies.
//!
//! Input: byte 0 holds flags (bit 0 maps the rest onto an alphabet of reply
//! pieces: codes, `-` and space separators, enhanced status codes, CR LF,
//! bare LF and CR, text, 8-bit octets, so that well-formed and nearly
//! well-formed replies turn up often); the rest is what the server sent.
//!
//! Checked, for every reply (also the one a mixed-code reply yields): it
//! took between 1 byte and what was left; rendered with `Reply::write_to`
//! every line is `ddd-text` CR LF but the last, which is `ddd text` CR LF,
//! with the reply's code and no CR or LF inside. For every complete reply
//! the rendering parses back to an equal reply, taking all of it. The one
//! exception is a rendering with a line over `MAX_PARSED_LINE`: rendering
//! adds the status to every line and lossy decoding makes an invalid octet
//! three bytes, so a line near the cap can grow past it; the parser must
//! then say `TooLong`, not misparse it.

#![no_main]

use libfuzzer_sys::fuzz_target;
use smarthost_smtp_core::{MAX_PARSED_LINE, MAX_PARSED_LINES, ParsedReply, Reply, ReplyParseError, parse_reply};

/// Pieces the steered input is built from.
const TOKENS: [&[u8]; 24] = [
    b"250", b"220", b"354", b"421", b"452", b"550", b"599", b"2500", b"-", b" ", b"\r\n", b"\n", b"\r",
    b"2.0.0", b"5.1.1", b"4.7.0", b"5.01.1", b"2.1.5 ", b"ok", b"PIPELINING", b"\xff", b"\xc3\xa9", b"\x00",
    b"\x1b",
];

fuzz_target!(|input: &[u8]| {
    let Some((&flags, rest)) = input.split_first() else { return };
    let data: Vec<u8> = if flags & 1 == 1 {
        rest.iter().flat_map(|b| TOKENS[usize::from(*b) % TOKENS.len()].iter().copied()).collect()
    } else {
        rest.to_vec()
    };
    let mut at = 0;
    while at < data.len() {
        let (reply, used, complete) = match parse_reply(&data[at..]) {
            Ok(ParsedReply::Partial) => break,
            Ok(ParsedReply::Complete(reply, used)) => (reply, used, true),
            Err(ReplyParseError::InconsistentCodes { reply, consumed, .. }) => (reply, consumed, false),
            Err(_) => break,
        };
        assert!(used >= 1 && used <= data.len() - at, "took {used} of {}", data.len() - at);
        check(&reply, complete);
        at += used;
    }
});

/// `complete`: a well-formed reply, which must round-trip. The reply a
/// mixed-code error carries (D3) is a best guess: its lines were read
/// against the first line's code, so only its rendering is checked.
fn check(reply: &Reply, complete: bool) {
    for enhanced in [true, false] {
        let mut wire = Vec::new();
        reply.write_to(&mut wire, enhanced);
        check_lines(reply, &wire);
        if !enhanced || !complete {
            // Without the status the text may read as one: only the lines are checked.
            continue;
        }
        let fits = wire.split_inclusive(|b| *b == b'\n').all(|line| line.len() <= MAX_PARSED_LINE)
            && wire.split_inclusive(|b| *b == b'\n').count() <= MAX_PARSED_LINES;
        match parse_reply(&wire) {
            Ok(ParsedReply::Complete(again, used)) => {
                assert!(fits, "an over-long rendering parsed");
                assert_eq!(used, wire.len(), "the rendering parsed only in part");
                assert_eq!(&again, reply, "rendered as {:?}", String::from_utf8_lossy(&wire));
            }
            Err(ReplyParseError::TooLong) if !fits => {}
            other => panic!("rendering {:?} of {reply:?} parsed as {other:?}", String::from_utf8_lossy(&wire)),
        }
    }
}

/// Every line is `ddd-…` CR LF, the last `ddd …` CR LF, with the reply's code.
fn check_lines(reply: &Reply, wire: &[u8]) {
    assert!(wire.ends_with(b"\r\n"), "{wire:?}");
    let lines: Vec<&[u8]> = wire[..wire.len() - 2].split(|b| *b == b'\n').collect();
    let code = reply.code().to_string();
    for (i, line) in lines.iter().enumerate() {
        let line = if i + 1 < lines.len() {
            line.strip_suffix(b"\r").unwrap_or_else(|| panic!("line {i} lacks CR: {line:?}"))
        } else {
            line
        };
        assert!(line.len() >= 4 && line[..3] == *code.as_bytes(), "line {i}: {line:?}");
        let separator = if i + 1 < lines.len() { b'-' } else { b' ' };
        assert_eq!(line[3], separator, "line {i}: {line:?}");
        assert!(!line.contains(&b'\r') && !line.contains(&b'\n'), "line {i}: {line:?}");
    }
}
