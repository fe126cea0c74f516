//! `DataReceiver` and `dot_stuff` on any bytes, whole and split in two at a
//! fuzzer-chosen point.
//!
//! Input: byte 0 holds flags (bit 0 maps the data onto an alphabet of CR,
//! LF, dots, whole terminators, NUL and 8-bit octets, so near misses of
//! `CR LF . CR LF` turn up often; bit 1 normalises bare CR and LF instead
//! of rejecting them; bit 2 sets a size limit of 8 × bits 3–7 octets);
//! bytes 1–2 (little-endian) pick the split point modulo the data's length
//! plus one; the rest is the data after `354`.
//!
//! Checked: the receiver stops exactly after the first `CR LF . CR LF`
//! (counting the CR LF before the first line) and nowhere else, as a naive
//! search finds it; its content, size and outcome agree with a naive
//! line-by-line reading, and what it stores is the content's first
//! `max_size` octets; the split changes nothing; and the data, stuffed by
//! `dot_stuff`, reads back whole as the normalised data.

#![no_main]

use libfuzzer_sys::fuzz_target;
use smarthost_smtp_core::{
    BareLineEndings, DataOutcome, DataProgress, DataReceiver, dot_stuff, normalized_size,
};

/// Pieces the steered data is built from: every kind of line ending, the
/// terminator and its near misses, and octets that must pass untouched.
const TOKENS: [&[u8]; 16] = [
    b"\r\n",
    b"\r",
    b"\n",
    b".",
    b"\r\n.\r\n",
    b"\r\n.",
    b".\r\n",
    b"\n.\n",
    b"\r.\r",
    b"a",
    b"MAIL",
    b" ",
    b"\0",
    b"\xff",
    b"\r\n\r\n",
    b"..",
];

#[derive(Debug, PartialEq, Eq)]
struct Run {
    consumed: Option<usize>,
    outcome: Option<DataOutcome>,
    content: Vec<u8>,
    size: u64,
}

fn receive(receiver: DataReceiver, data: &[u8], cut: usize) -> Run {
    let mut receiver = receiver;
    let mut content = Vec::new();
    let mut start = 0;
    for end in [cut, data.len()] {
        let piece = &data[start..end];
        if let DataProgress::Done { consumed, outcome } = receiver.handle_input(piece, &mut content) {
            assert!(consumed <= piece.len(), "consumed {consumed} of a {}-byte piece", piece.len());
            return Run {
                consumed: Some(start + consumed),
                outcome: Some(outcome),
                content,
                size: receiver.size(),
            };
        }
        start = end;
    }
    Run { consumed: None, outcome: None, content, size: receiver.size() }
}

/// Spec §4.1 and §5.3 read naively: the end is the first CR LF . CR LF;
/// lines end at CR LF, bare CR or bare LF; one leading dot goes; every
/// ending becomes CR LF. Returns the consumed length, the content and
/// whether an ending was bare.
fn naive(data: &[u8]) -> Option<(usize, Vec<u8>, bool)> {
    let wire = [b"\r\n", data].concat();
    let at = find(&wire, b"\r\n.\r\n")?;
    let (content, bare) = normalize(&data[..at], true);
    Some((at + 3, content, bare))
}

/// Cuts `raw` into lines at CR LF, bare CR and bare LF, removes one leading
/// dot from each when `unstuff`, and ends each with CR LF.
fn normalize(mut raw: &[u8], unstuff: bool) -> (Vec<u8>, bool) {
    let mut out = Vec::new();
    let mut bare = false;
    while !raw.is_empty() {
        let end = raw.iter().position(|&b| b == b'\r' || b == b'\n').unwrap_or(raw.len());
        let line = &raw[..end];
        out.extend_from_slice(if unstuff { line.strip_prefix(b".").unwrap_or(line) } else { line });
        out.extend_from_slice(b"\r\n");
        let ending = if raw[end..].starts_with(b"\r\n") { 2 } else { 1 };
        bare |= end < raw.len() && ending == 1;
        raw = &raw[(end + ending).min(raw.len())..];
    }
    (out, bare)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fuzz_target!(|input: &[u8]| {
    let [flags, cut_lo, cut_hi, rest @ ..] = input else { return };
    let data: Vec<u8> = if flags & 1 != 0 {
        rest.iter().flat_map(|&b| TOKENS[usize::from(b) % TOKENS.len()]).copied().collect()
    } else {
        rest.to_vec()
    };
    let mode = if flags & 2 != 0 { BareLineEndings::Normalize } else { BareLineEndings::Reject };
    let limit = (flags & 4 != 0).then_some(u64::from(flags >> 3) * 8);
    let cut = usize::from(u16::from_le_bytes([*cut_lo, *cut_hi])) % (data.len() + 1);
    let make = || DataReceiver::new(limit).with_bare_line_endings(mode);

    let whole = receive(make(), &data, data.len());
    assert_eq!(receive(make(), &data, cut), whole, "split at {cut} changed the result");
    assert!(whole.content.len() as u64 <= limit.unwrap_or(u64::MAX), "stored past the limit");

    match naive(&data) {
        None => assert_eq!(whole.consumed, None, "ended without CR LF . CR LF"),
        Some((consumed, content, bare)) => {
            assert_eq!(whole.consumed, Some(consumed), "ended somewhere else than the first CR LF . CR LF");
            let size = content.len() as u64;
            assert_eq!(whole.size, size);
            let expected = if bare && mode == BareLineEndings::Reject {
                DataOutcome::BareLineEnding
            } else if size > limit.unwrap_or(u64::MAX) {
                DataOutcome::TooBig { size }
            } else {
                DataOutcome::Complete
            };
            assert_eq!(whole.outcome, Some(expected));
            // Stored: the content up to the limit, or (strict) up to the
            // first bare line ending.
            assert!(content.starts_with(&whole.content), "stored something else than the content");
            if expected != DataOutcome::BareLineEnding {
                assert_eq!(whole.content.len() as u64, size.min(limit.unwrap_or(u64::MAX)));
            }
        }
    }

    // What our client sends reads back as exactly the normalised data.
    let mut wire = Vec::new();
    dot_stuff(&data, &mut wire);
    let cut = cut.min(wire.len());
    let back = receive(DataReceiver::new(None), &wire, cut);
    assert_eq!(back.consumed, Some(wire.len()), "the stuffed data ended early or not at all");
    assert_eq!(back.outcome, Some(DataOutcome::Complete), "the stuffed data is not clean");
    assert_eq!(back.content, normalize(&data, false).0);
    assert_eq!(back.size, normalized_size(&data));
});
