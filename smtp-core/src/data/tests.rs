//! Client and server together: what the client stuffs, the server reads
//! back as the normalised message.

use proptest::prelude::*;

use super::*;

/// The message with every line ending (CR LF, bare CR, bare LF) made CR LF
/// and a CR LF added after a last line that lacks one: what the receiver
/// should store.
fn normalized(message: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut rest = message;
    while !rest.is_empty() {
        let end = rest.iter().position(|&b| b == CR || b == LF).unwrap_or(rest.len());
        out.extend_from_slice(&rest[..end]);
        out.extend_from_slice(b"\r\n");
        let ending = if rest[end..].starts_with(b"\r\n") { 2 } else { 1 };
        rest = &rest[(end + ending).min(rest.len())..];
    }
    out
}

/// Stuffs `message` in pieces cut at `cuts` and receives the wire bytes
/// cut at the same offsets, followed by a pipelined command.
fn round_trip(message: &[u8], cuts: &[usize]) -> (Vec<u8>, DataProgress, usize) {
    let mut wire = Vec::new();
    let mut stuffer = DotStuffer::new();
    let mut start = 0;
    for end in cuts.iter().copied().chain([message.len()]) {
        let end = end.clamp(start, message.len());
        stuffer.handle_input(&message[start..end], &mut wire);
        start = end;
    }
    stuffer.finish(&mut wire);
    let wire_len = wire.len();
    wire.extend_from_slice(b"QUIT\r\n");

    let mut receiver = DataReceiver::new(None);
    let mut content = Vec::new();
    let mut start = 0;
    for end in cuts.iter().copied().chain([wire.len()]) {
        let end = end.clamp(start, wire.len());
        match receiver.handle_input(&wire[start..end], &mut content) {
            DataProgress::Done { consumed, outcome } => {
                return (content, DataProgress::Done { consumed: start + consumed, outcome }, wire_len);
            }
            DataProgress::NeedMore => start = end,
        }
    }
    (content, DataProgress::NeedMore, wire_len)
}

#[test]
fn smuggling_attempts_relayed_by_us_arrive_as_one_message() {
    let message = b"Subject: hi\r\n\r\nx\n.\nMAIL FROM:<evil@example.com>\r\n\r.\r\n.\r\n.";
    let (content, progress, wire_len) = round_trip(message, &[]);
    assert_eq!(progress, DataProgress::Done { consumed: wire_len, outcome: DataOutcome::Complete });
    assert_eq!(content, normalized(message));
    assert_eq!(
        content.escape_ascii().to_string(),
        "Subject: hi\\r\\n\\r\\nx\\r\\n.\\r\\nMAIL FROM:<evil@example.com>\\r\\n\\r\\n.\\r\\n.\\r\\n.\\r\\n"
    );
}

proptest! {
    #[test]
    fn dot_stuff_then_receive_gives_the_normalised_message(
        message in prop::collection::vec(prop::sample::select(b"a.\r\n\0\xff".to_vec()), 0..80),
    ) {
        let (content, progress, wire_len) = round_trip(&message, &[]);
        prop_assert_eq!(progress, DataProgress::Done { consumed: wire_len, outcome: DataOutcome::Complete });
        prop_assert_eq!(&content, &normalized(&message));
        prop_assert_eq!(content.len() as u64, normalized_size(&message));
        prop_assert_eq!(max_line_len(&message), content.split(|&b| b == LF).map(|l| l.len() + 1).max().filter(|_| !content.is_empty()).unwrap_or(0));
    }

    #[test]
    fn round_trip_holds_for_any_bytes_in_any_pieces(
        message in prop::collection::vec(any::<u8>(), 0..300),
        mut cuts in prop::collection::vec(0usize..320, 0..5),
    ) {
        cuts.sort_unstable();
        let (content, progress, wire_len) = round_trip(&message, &cuts);
        prop_assert_eq!(progress, DataProgress::Done { consumed: wire_len, outcome: DataOutcome::Complete });
        prop_assert_eq!(content, normalized(&message));
    }
}
