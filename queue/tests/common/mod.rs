//! What `spool-writer` writes, reconstructed from a message's index, and
//! checks shared by the tests that run it.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read};

use smarthost_queue::{QueueId, Spool};

/// The body `spool-writer --size size` gives message `index`.
pub(crate) fn body(index: u64, size: usize) -> Vec<u8> {
    let mut body = format!("Subject: {index}\r\n\r\n").into_bytes();
    body.extend((0..size).map(|i| b'a' + ((index as usize).wrapping_add(i) % 26) as u8));
    body
}

/// The `ID INDEX` lines the writer printed; a line cut off by the kill
/// (no newline yet) was never a promise and is left out.
pub(crate) fn printed(output: impl Read) -> Vec<(QueueId, u64)> {
    let mut reader = BufReader::new(output);
    let mut lines = Vec::new();
    let mut line = Vec::new();
    loop {
        line.clear();
        match reader.read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => return lines,
            Ok(_) if line.last() != Some(&b'\n') => return lines,
            Ok(_) => {
                let text = std::str::from_utf8(&line).expect("the writer prints text");
                let (id, index) = text.trim_end().split_once(' ').expect("lines are `ID INDEX`");
                lines.push((id.parse().expect("a queue ID"), index.parse().expect("an index")));
            }
        }
    }
}

/// Checks that every message in `spool` is one the writer made, whole (its
/// envelope and body match its index), that no index appears twice, and
/// that every printed ID is there. Returns how many messages are queued.
pub(crate) fn check_whole(spool: &Spool, printed: &[(QueueId, u64)], size: usize, context: &str) -> usize {
    let mut indices = HashMap::new();
    for queued in spool.list() {
        let envelope = &queued.envelope;
        let index: u64 = envelope
            .sender
            .strip_prefix('s')
            .and_then(|s| s.strip_suffix("@example.com"))
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("{context}: {} has a foreign sender {:?}", queued.id, envelope.sender));
        assert_eq!(envelope.recipients.len(), 1, "{context}: {} recipients", queued.id);
        assert_eq!(
            envelope.recipients[0].address,
            format!("r{index}@example.org"),
            "{context}: {}",
            queued.id
        );
        let expected = body(index, size);
        assert_eq!(queued.size, expected.len() as u64, "{context}: size of {} (message {index})", queued.id);
        let stored =
            spool.body(queued.id).unwrap_or_else(|e| panic!("{context}: body of {}: {e}", queued.id));
        assert!(stored == expected, "{context}: the body of {} (message {index}) differs", queued.id);
        if let Some(other) = indices.insert(index, queued.id) {
            panic!("{context}: message {index} is queued twice, as {other} and {}", queued.id);
        }
    }
    for (id, index) in printed {
        assert_eq!(indices.get(index), Some(id), "{context}: acknowledged message {index} ({id}) is missing");
    }
    indices.len()
}
