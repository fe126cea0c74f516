use proptest::prelude::*;

use super::*;

/// What a receiver made of some input: where it stopped (`None` when it
/// needs more), the outcome, and the content it stored.
#[derive(Debug, PartialEq, Eq)]
struct Run {
    consumed: Option<usize>,
    outcome: Option<DataOutcome>,
    content: Vec<u8>,
    size: u64,
    bare: bool,
}

/// Feeds `input` in pieces ending at each of `cuts` (sorted), then the
/// rest; stops at `Done`.
fn feed(mut receiver: DataReceiver, input: &[u8], cuts: &[usize]) -> Run {
    let mut content = Vec::new();
    let mut start = 0;
    for end in cuts.iter().copied().chain([input.len()]) {
        let end = end.clamp(start, input.len());
        if let DataProgress::Done { consumed, outcome } =
            receiver.handle_input(&input[start..end], &mut content)
        {
            assert!(consumed <= end - start, "consumed {consumed} of {} bytes", end - start);
            assert!(receiver.is_done());
            return Run {
                consumed: Some(start + consumed),
                outcome: Some(outcome),
                content,
                size: receiver.size(),
                bare: receiver.has_bare_line_ending(),
            };
        }
        start = end;
    }
    Run {
        consumed: None,
        outcome: None,
        content,
        size: receiver.size(),
        bare: receiver.has_bare_line_ending(),
    }
}

fn strict(input: &[u8]) -> Run {
    feed(DataReceiver::new(None), input, &[])
}

fn lenient(input: &[u8]) -> Run {
    feed(DataReceiver::new(None).with_bare_line_endings(BareLineEndings::Normalize), input, &[])
}

/// Asserts that every split of `input` into two pieces, and into three
/// around each position, gives what the whole input gives.
fn assert_split_invariant(make: impl Fn() -> DataReceiver, input: &[u8]) {
    let whole = feed(make(), input, &[]);
    for cut in 0..=input.len() {
        assert_eq!(feed(make(), input, &[cut]), whole, "{}: split at {cut}", input.escape_ascii());
        assert_eq!(feed(make(), input, &[cut, cut + 1]), whole, "{}: byte {cut} alone", input.escape_ascii());
    }
}

/// The naive reading of spec §4.1 and §5.3, written for clarity rather
/// than speed: find the first CR LF . CR LF (counting the CR LF before the
/// first line), cut the content into lines at CR LF, bare CR and bare LF,
/// remove one leading dot from each, and end each with CR LF. Returns the
/// consumed length, the normalised content, and whether an ending was bare.
fn naive(input: &[u8]) -> Option<(usize, Vec<u8>, bool)> {
    let wire = [b"\r\n", input].concat();
    let at = memchr::memmem::find(&wire, b"\r\n.\r\n")?;
    let mut raw = &input[..at];
    let mut content = Vec::new();
    let mut bare = false;
    while !raw.is_empty() {
        let end = raw.iter().position(|&b| b == CR || b == LF).unwrap_or(raw.len());
        let line = raw[..end].strip_prefix(b".").unwrap_or(&raw[..end]);
        content.extend_from_slice(line);
        content.extend_from_slice(b"\r\n");
        let ending = if raw[end..].starts_with(b"\r\n") { 2 } else { 1 };
        bare |= ending == 1;
        raw = &raw[(end + ending).min(raw.len())..];
    }
    Some((at + 3, content, bare))
}

/// Bytes that make DATA interesting: line endings of every kind, dots and
/// whole terminators, NUL and 8-bit octets.
fn wire_tokens() -> impl Strategy<Value = Vec<u8>> {
    let tokens: Vec<&[u8]> =
        vec![b"\r\n", b"\r", b"\n", b".", b"a", b"xyz", b"\r\n.\r\n", b"\r\n.", b".\r\n", b"\0", b"\xff"];
    prop::collection::vec(prop::sample::select(tokens), 0..40).prop_map(|parts| parts.concat())
}

// Spec §12.2, T1–T7 and T9.

#[test]
fn t1_plain_message() {
    let run = strict(b"Subject: a\r\n\r\nhello\r\n.\r\n");
    assert_eq!(run.consumed, Some(24));
    assert_eq!(run.outcome, Some(DataOutcome::Complete));
    assert_eq!(run.content, b"Subject: a\r\n\r\nhello\r\n");
}

#[test]
fn t2_first_line_is_unstuffed() {
    let run = strict(b"..leading\r\n.\r\n");
    assert_eq!((run.outcome, run.content.as_slice()), (Some(DataOutcome::Complete), &b".leading\r\n"[..]));
}

#[test]
fn t3_lone_dot_first_is_an_empty_message() {
    let run = strict(b".\r\nQUIT\r\n");
    assert_eq!(run.consumed, Some(3));
    assert_eq!((run.outcome, run.content.len(), run.size), (Some(DataOutcome::Complete), 0, 0));
}

#[test]
fn t4_to_t7_one_message_rejected_for_bare_line_endings() {
    let cases: [&[u8]; 4] = [
        b"x\n.\nMAIL FROM:<e@x>\r\n.\r\n",
        b"x\r\n.\nRSET\r\n.\r\n",
        b"x\n.\r\nRSET\r\n.\r\n",
        b"x\r.\r\n.\r\n",
    ];
    for input in cases {
        let run = strict(&[input, b"QUIT\r\n"].concat());
        assert_eq!(run.consumed, Some(input.len()), "{}", input.escape_ascii());
        assert_eq!(run.outcome, Some(DataOutcome::BareLineEnding), "{}", input.escape_ascii());
        assert!(run.bare);
        assert_split_invariant(|| DataReceiver::new(None), input);
    }
}

#[test]
fn t9_too_big_reads_on_to_the_terminator() {
    // T9 scaled down: a 50,000-octet limit and 60,000 octets in 1,000-octet reads.
    let limit = 50_000;
    let mut receiver = DataReceiver::new(Some(limit));
    let mut content = Vec::new();
    assert_eq!(receiver.handle_input(b"a\r\n", &mut content), DataProgress::NeedMore);
    let line = [[b'y'; 98].as_slice(), b"\r\n"].concat();
    for _ in 0..60 {
        let read = line.repeat(10);
        assert_eq!(receiver.handle_input(&read, &mut content), DataProgress::NeedMore);
        assert!(content.len() as u64 <= limit);
    }
    assert_eq!(content.len() as u64, limit, "the first 50,000 octets are kept");
    let size = 3 + 60_000;
    assert_eq!(
        receiver.handle_input(b".\r\nQUIT\r\n", &mut content),
        DataProgress::Done { consumed: 3, outcome: DataOutcome::TooBig { size } }
    );
    assert_eq!(receiver.size(), size);
}

// Smuggling: no near miss ends the data.

#[test]
fn no_smuggling_variant_ends_the_data() {
    let variants: [&[u8]; 16] = [
        b"\n.\n",
        b"\r.\r",
        b"\r\n.\n",
        b"\n.\r\n",
        b"\r\n.\r",
        b"\r.\r\n",
        b"\n.\r",
        b"\r.\n",
        b"\r\n.\r\r\n",
        b"\r\n.\n\r\n",
        b"\n\n.\n\n",
        b"\r\n.\0\r\n",
        b"\r\n\0.\r\n",
        b"\r\n.\xff\r\n",
        b"\r\n.\x80\r\n",
        b"\r\n. \r\n",
    ];
    let smuggled = b"MAIL FROM:<evil@example.com>\r\nRCPT TO:<victim@example.net>\r\nDATA\r\n";
    for variant in variants {
        let message = [b"Subject: hi\r\n\r\nx", variant, smuggled, b"\r\n.\r\n"].concat();
        let input = [message.as_slice(), b"QUIT\r\n"].concat();
        for make in [
            || DataReceiver::new(None),
            || DataReceiver::new(None).with_bare_line_endings(BareLineEndings::Normalize),
        ] {
            let run = feed(make(), &input, &[]);
            assert_eq!(run.consumed, Some(message.len()), "{}", variant.escape_ascii());
            assert_split_invariant(make, &message);
        }
    }
}

#[test]
fn normalize_mode_makes_bare_endings_crlf_and_never_ends_on_them() {
    let input = b"x\n.\nMAIL FROM:<e@x>\r\n.\r\n";
    let run = lenient(input);
    assert_eq!((run.consumed, run.outcome), (Some(input.len()), Some(DataOutcome::Complete)));
    assert_eq!(run.content, b"x\r\n\r\nMAIL FROM:<e@x>\r\n");
    assert!(run.bare, "normalised, but still reported for the log");

    let run = lenient(b"a\rb\n..c\r\r\n.\r.\r\n.\r\n");
    assert_eq!(run.content.escape_ascii().to_string(), "a\\r\\nb\\r\\n.c\\r\\n\\r\\n\\r\\n\\r\\n");
    assert_eq!(run.size, run.content.len() as u64);
}

#[test]
fn strict_and_lenient_count_the_same_size() {
    let input = b"a\nb\r.\r\n.\r\n";
    assert_eq!(strict(input).size, lenient(input).size);
    assert_eq!(strict(input).content.len(), 1, "nothing is stored after the bare LF");
}

#[test]
fn exactly_one_leading_dot_is_removed_from_each_line() {
    let run = strict(b"...\r\n.x\r\na.b\r\n.. \r\n\r\n..\r\n.\r\n");
    assert_eq!(run.content, b"..\r\nx\r\na.b\r\n. \r\n\r\n.\r\n");
    assert_eq!(run.size, run.content.len() as u64);
}

#[test]
fn size_counts_content_and_the_limit_is_inclusive() {
    // `.ab` CR LF `c` CR LF: 8 octets once the stuffing dot is gone.
    let input = b"..ab\r\nc\r\n.\r\n";
    assert_eq!(feed(DataReceiver::new(Some(8)), input, &[]).outcome, Some(DataOutcome::Complete));
    let run = feed(DataReceiver::new(Some(7)), input, &[]);
    assert_eq!(run.outcome, Some(DataOutcome::TooBig { size: 8 }));
    assert_eq!(run.content, b".ab\r\nc\r");
    assert_eq!(feed(DataReceiver::new(Some(0)), b".\r\n", &[]).outcome, Some(DataOutcome::Complete));
}

#[test]
fn bare_line_ending_wins_over_too_big() {
    let run = feed(DataReceiver::new(Some(1)), b"abc\ndef\r\n.\r\n", &[]);
    assert_eq!(run.outcome, Some(DataOutcome::BareLineEnding));
}

#[test]
fn after_the_terminator_nothing_more_is_consumed() {
    let mut receiver = DataReceiver::new(None);
    let mut content = Vec::new();
    let done = DataProgress::Done { consumed: 0, outcome: DataOutcome::Complete };
    assert_eq!(
        receiver.handle_input(b".\r\n", &mut content),
        DataProgress::Done { consumed: 3, outcome: DataOutcome::Complete }
    );
    assert_eq!(receiver.handle_input(b"MAIL FROM:<a@b>\r\n", &mut content), done);
    assert_eq!(receiver.handle_input(b"", &mut content), done);
    assert!(content.is_empty());
}

#[test]
fn terminator_split_byte_by_byte() {
    let input = b"a\r\n.\r\n";
    let mut receiver = DataReceiver::new(None);
    let mut content = Vec::new();
    for &b in &input[..input.len() - 1] {
        assert_eq!(receiver.handle_input(&[b], &mut content), DataProgress::NeedMore);
    }
    assert_eq!(
        receiver.handle_input(b"\nQUIT", &mut content),
        DataProgress::Done { consumed: 1, outcome: DataOutcome::Complete }
    );
    assert_eq!(content, b"a\r\n");
}

#[test]
fn binary_and_long_lines_pass_through() {
    let line = (0u8..=255).filter(|&b| b != CR && b != LF).collect::<Vec<u8>>().repeat(40);
    let input = [line.as_slice(), b"\r\n.\r\n"].concat();
    let run = strict(&input);
    assert_eq!(run.outcome, Some(DataOutcome::Complete));
    assert_eq!(run.content, &input[..input.len() - 3]);
}

proptest! {
    #[test]
    fn agrees_with_the_naive_reading(input in wire_tokens(), limit in prop::option::of(0u64..64)) {
        let run = feed(DataReceiver::new(limit), &input, &[]);
        let normal = feed(DataReceiver::new(limit).with_bare_line_endings(BareLineEndings::Normalize), &input, &[]);
        match naive(&input) {
            None => {
                prop_assert_eq!(run.consumed, None);
                prop_assert_eq!(normal.consumed, None);
            }
            Some((consumed, content, bare)) => {
                let size = content.len() as u64;
                let too_big = size > limit.unwrap_or(u64::MAX);
                prop_assert_eq!(run.consumed, Some(consumed));
                prop_assert_eq!((run.size, run.bare), (size, bare));
                let expected = match (bare, too_big) {
                    (true, _) => DataOutcome::BareLineEnding,
                    (false, true) => DataOutcome::TooBig { size },
                    (false, false) => DataOutcome::Complete,
                };
                prop_assert_eq!(run.outcome, Some(expected));
                // Stored: the content up to the limit, or (strict) up to the
                // first bare line ending.
                prop_assert!(content.starts_with(&run.content));
                if !bare {
                    prop_assert_eq!(run.content.len() as u64, size.min(limit.unwrap_or(u64::MAX)));
                }
                prop_assert_eq!(normal.consumed, Some(consumed));
                if too_big {
                    prop_assert_eq!(normal.outcome, Some(DataOutcome::TooBig { size }));
                } else {
                    prop_assert_eq!(normal.outcome, Some(DataOutcome::Complete));
                }
                prop_assert_eq!(&normal.content[..], &content[..normal.content.len()]);
                prop_assert_eq!(normal.content.len() as u64, size.min(limit.unwrap_or(u64::MAX)));
            }
        }
        // Whatever is stored is a prefix of the content, within the limit.
        prop_assert!(run.content.len() as u64 <= limit.unwrap_or(u64::MAX));
        prop_assert!(normal.content.len() as u64 <= limit.unwrap_or(u64::MAX));
    }

    #[test]
    fn never_ends_before_the_first_crlf_dot_crlf(input in wire_tokens()) {
        let wire = [b"\r\n", input.as_slice()].concat();
        let first = memchr::memmem::find(&wire, b"\r\n.\r\n").map(|at| at + 3);
        prop_assert_eq!(strict(&input).consumed, first);
        prop_assert_eq!(lenient(&input).consumed, first);
    }

    #[test]
    fn any_split_gives_the_same_result(
        input in wire_tokens(),
        mut cuts in prop::collection::vec(0usize..400, 0..6),
        limit in prop::option::of(0u64..64),
        normalize in any::<bool>(),
    ) {
        cuts.sort_unstable();
        let mode = if normalize { BareLineEndings::Normalize } else { BareLineEndings::Reject };
        let make = || DataReceiver::new(limit).with_bare_line_endings(mode);
        prop_assert_eq!(feed(make(), &input, &cuts), feed(make(), &input, &[]));
    }

    #[test]
    fn arbitrary_bytes_never_panic(
        input in prop::collection::vec(any::<u8>(), 0..512),
        cut in 0usize..512,
    ) {
        let run = feed(DataReceiver::new(Some(100)), &input, &[cut]);
        prop_assert!(run.consumed.is_none_or(|c| c <= input.len()));
        prop_assert_eq!(run.consumed, naive(&input).map(|(consumed, _, _)| consumed));
    }
}
