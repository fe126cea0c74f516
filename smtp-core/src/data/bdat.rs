//! The server's side of CHUNKING (RFC 3030): the octets of `BDAT n [LAST]`.

use memchr::memchr2;

use super::{CR, LF};

/// Takes the content of `BDAT` chunks: exactly the announced number of
/// octets each, with no dot-stuffing and no terminator, and counts the
/// message's size across all of them.
///
/// A chunk is delimited by its length alone, so there is nothing for SMTP
/// smuggling to confuse and binary content passes untouched. A bare CR or
/// bare LF is therefore no threat here; the receiver only records it
/// ([`has_bare_line_ending`](Self::has_bare_line_ending)) for a server that
/// wants to log or refuse it (for example for `BODY=7BIT` or `8BITMIME`
/// content, which RFC 3030 still wants in CR LF lines).
///
/// Past `max_size` the receiver stores nothing more, but still consumes every
/// announced octet (RFC 3030 §2: the server must read them, or it would take
/// content for commands) and reports [`BdatOutcome::TooBig`] for that chunk
/// and every later one.
///
/// Calling order, once per chunk: the session parses `BDAT n [LAST]` and
/// calls [`start_chunk`](Self::start_chunk), then passes input to
/// [`handle_input`](Self::handle_input) until it returns
/// [`BdatProgress::ChunkDone`]; the bytes after `consumed` are the next
/// command. Use a new receiver for each transaction.
///
/// ```
/// use smarthost_smtp_core::{BdatOutcome, BdatProgress, BdatReceiver};
///
/// let mut receiver = BdatReceiver::new(Some(1_000));
/// let mut content = Vec::new();
/// receiver.start_chunk(5, false);
/// assert_eq!(
///     receiver.handle_input(b"hello BDAT 3 LAST\r\n", &mut content),
///     BdatProgress::ChunkDone { consumed: 5, outcome: BdatOutcome::ChunkReceived { chunk_size: 5 } }
/// );
/// receiver.start_chunk(3, true);
/// assert_eq!(
///     receiver.handle_input(b"\r\n.", &mut content),
///     BdatProgress::ChunkDone { consumed: 3, outcome: BdatOutcome::Complete { size: 8 } }
/// );
/// assert_eq!(content, b"hello\r\n.");
/// ```
#[derive(Clone, Debug)]
pub struct BdatReceiver {
    /// `u64::MAX` for no limit.
    max_size: u64,
    /// Octets of all chunks so far.
    size: u64,
    /// Octets still to come in the open chunk.
    remaining: u64,
    chunk_size: u64,
    last: bool,
    open: bool,
    /// The last octet so far was a CR: whether it is bare depends on the
    /// next one, which may come in another call or another chunk.
    after_cr: bool,
    bare: bool,
}

/// How far [`BdatReceiver::handle_input`] got.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BdatProgress {
    /// No chunk is open: nothing was consumed. The session should be
    /// reading commands.
    Idle,
    /// The chunk goes on: all of the input was consumed.
    NeedMore,
    /// The chunk's last octet was read.
    ChunkDone {
        /// Bytes of this input that belonged to the chunk; what follows is
        /// the next command.
        consumed: usize,
        /// The reply the chunk gets.
        outcome: BdatOutcome,
    },
}

/// The verdict on a finished chunk.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BdatOutcome {
    /// A chunk without `LAST`, within the limit so far
    /// (`250 2.0.0 <chunk_size> octets received`).
    ChunkReceived {
        /// Octets in this chunk.
        chunk_size: u64,
    },
    /// The `LAST` chunk, and the message is within the limit: the content
    /// in the caller's buffer is the message.
    Complete {
        /// Octets in the whole message.
        size: u64,
    },
    /// The message so far exceeds the limit (`552`). The transaction has
    /// failed, whether or not this chunk was the last.
    TooBig {
        /// Octets received so far in the whole message.
        size: u64,
        /// Whether this was the `LAST` chunk.
        last: bool,
    },
}

impl BdatReceiver {
    /// A receiver for one transaction's chunks. `max_size` is the SIZE
    /// limit in octets; `None` means none.
    pub fn new(max_size: Option<u64>) -> Self {
        BdatReceiver {
            max_size: max_size.unwrap_or(u64::MAX),
            size: 0,
            remaining: 0,
            chunk_size: 0,
            last: false,
            open: false,
            after_cr: false,
            bare: false,
        }
    }

    /// Opens a chunk of `size` octets, `last` when the command said `LAST`.
    ///
    /// A chunk of 0 octets is valid (`BDAT 0 LAST` ends a message); the next
    /// [`handle_input`](Self::handle_input) reports it done at once. Opening
    /// a chunk while one is open discards what was left of the old one; the
    /// session does not do that, as it reads no command inside a chunk.
    pub fn start_chunk(&mut self, size: u64, last: bool) {
        self.remaining = size;
        self.chunk_size = size;
        self.last = last;
        self.open = true;
    }

    /// Consumes up to the rest of the open chunk from `input`, appending it
    /// to `out` unchanged while the message is within the limit.
    pub fn handle_input(&mut self, input: &[u8], out: &mut Vec<u8>) -> BdatProgress {
        if !self.open {
            return BdatProgress::Idle;
        }
        // Whatever fits in `remaining` also fits in a usize here.
        let take = usize::try_from(self.remaining).map_or(input.len(), |r| r.min(input.len()));
        let chunk = &input[..take];
        self.note_line_endings(chunk);
        let before = self.size;
        self.size += take as u64;
        if self.size <= self.max_size {
            out.extend_from_slice(chunk);
        } else if before < self.max_size {
            // Keep exactly the limit's worth, as DataReceiver keeps at most it.
            let room = usize::try_from(self.max_size - before).unwrap_or(take);
            out.extend_from_slice(&chunk[..room]);
        }
        self.remaining -= take as u64;
        if self.remaining > 0 {
            return BdatProgress::NeedMore;
        }
        self.open = false;
        if self.last && self.after_cr {
            // The message ends in a CR that no LF will follow.
            self.bare = true;
        }
        BdatProgress::ChunkDone { consumed: take, outcome: self.outcome() }
    }

    /// Octets received so far in all chunks.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Whether the content so far holds a bare CR or bare LF. A CR at the
    /// very end of a chunk counts only once the next octet (or the end of
    /// the message) shows it is bare.
    pub fn has_bare_line_ending(&self) -> bool {
        self.bare
    }

    /// Whether a chunk is open, that is, the session must pass input here
    /// rather than read commands.
    pub fn is_in_chunk(&self) -> bool {
        self.open
    }

    fn outcome(&self) -> BdatOutcome {
        if self.size > self.max_size {
            BdatOutcome::TooBig { size: self.size, last: self.last }
        } else if self.last {
            BdatOutcome::Complete { size: self.size }
        } else {
            BdatOutcome::ChunkReceived { chunk_size: self.chunk_size }
        }
    }

    /// Looks for bare CR and LF once none was found yet: after the first
    /// one there is nothing more to learn.
    fn note_line_endings(&mut self, bytes: &[u8]) {
        let mut pos = 0;
        while !self.bare && pos < bytes.len() {
            if self.after_cr {
                self.after_cr = false;
                if bytes[pos] != LF {
                    self.bare = true;
                    break;
                }
                pos += 1;
                continue;
            }
            let Some(offset) = memchr2(CR, LF, &bytes[pos..]) else { break };
            let at = pos + offset;
            if bytes[at] == LF {
                self.bare = true;
            } else {
                self.after_cr = true;
            }
            pos = at + 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// Feeds `input` to chunks of `sizes` (the last one `LAST`), the input
    /// split at `cuts` as well, and returns each chunk's outcome, the content
    /// and the leftover bytes.
    fn feed(
        receiver: &mut BdatReceiver,
        sizes: &[u64],
        input: &[u8],
        cuts: &[usize],
    ) -> (Vec<BdatOutcome>, Vec<u8>, usize) {
        let mut out = Vec::new();
        let mut outcomes = Vec::new();
        let mut pos = 0;
        let mut pieces = cuts.iter().copied().chain([input.len()]);
        let mut end = pieces.next().unwrap_or(input.len()).min(input.len());
        for (i, &size) in sizes.iter().enumerate() {
            receiver.start_chunk(size, i + 1 == sizes.len());
            loop {
                match receiver.handle_input(&input[pos..end], &mut out) {
                    BdatProgress::ChunkDone { consumed, outcome } => {
                        pos += consumed;
                        outcomes.push(outcome);
                        break;
                    }
                    BdatProgress::NeedMore => {
                        pos = end;
                        if end == input.len() {
                            return (outcomes, out, pos);
                        }
                        end = pieces.next().unwrap_or(input.len()).clamp(pos, input.len());
                    }
                    BdatProgress::Idle => panic!("idle with a chunk open"),
                }
            }
        }
        (outcomes, out, pos)
    }

    #[test]
    fn chunks_take_exactly_their_size_and_pass_binary_untouched() {
        let input = b"\r\n.\r\n\0\xffBDAT 2 LAST\r\nab\r\nQUIT\r\n";
        let mut receiver = BdatReceiver::new(None);
        let (outcomes, out, used) = feed(&mut receiver, &[7], input, &[]);
        assert_eq!(outcomes, [BdatOutcome::Complete { size: 7 }]);
        assert_eq!(out, b"\r\n.\r\n\0\xff");
        assert_eq!(&input[used..], b"BDAT 2 LAST\r\nab\r\nQUIT\r\n");
        assert_eq!(receiver.handle_input(b"BDAT", &mut Vec::new()), BdatProgress::Idle);
        assert!(!receiver.has_bare_line_ending());
    }

    #[test]
    fn every_chunk_is_answered_and_last_completes_the_message() {
        let mut receiver = BdatReceiver::new(Some(100));
        let (outcomes, out, used) = feed(&mut receiver, &[3, 4, 0], b"abcdefgXYZ", &[]);
        assert_eq!(
            outcomes,
            [
                BdatOutcome::ChunkReceived { chunk_size: 3 },
                BdatOutcome::ChunkReceived { chunk_size: 4 },
                BdatOutcome::Complete { size: 7 },
            ]
        );
        assert_eq!((out.as_slice(), used), (&b"abcdefg"[..], 7));
    }

    #[test]
    fn empty_last_chunk_completes_without_input() {
        let mut receiver = BdatReceiver::new(Some(0));
        receiver.start_chunk(0, true);
        assert!(receiver.is_in_chunk());
        assert_eq!(
            receiver.handle_input(&[], &mut Vec::new()),
            BdatProgress::ChunkDone { consumed: 0, outcome: BdatOutcome::Complete { size: 0 } }
        );
        assert!(!receiver.is_in_chunk());
    }

    #[test]
    fn oversize_consumes_every_announced_octet_and_fails_each_later_chunk() {
        let mut receiver = BdatReceiver::new(Some(5));
        let input = [b'x'; 20];
        let (outcomes, out, used) = feed(&mut receiver, &[4, 4, 4], &input, &[1, 6, 9]);
        assert_eq!(
            outcomes,
            [
                BdatOutcome::ChunkReceived { chunk_size: 4 },
                BdatOutcome::TooBig { size: 8, last: false },
                BdatOutcome::TooBig { size: 12, last: true },
            ]
        );
        assert_eq!((out.len(), used, receiver.size()), (5, 12, 12));
    }

    #[test]
    fn chunk_exactly_at_the_limit_is_complete() {
        let mut receiver = BdatReceiver::new(Some(6));
        let (outcomes, _, _) = feed(&mut receiver, &[3, 3], b"abcdef", &[]);
        assert_eq!(outcomes.last(), Some(&BdatOutcome::Complete { size: 6 }));
    }

    #[test]
    fn huge_announced_chunk_on_a_small_input_needs_more() {
        let mut receiver = BdatReceiver::new(None);
        receiver.start_chunk(u64::MAX, true);
        let mut out = Vec::new();
        assert_eq!(receiver.handle_input(b"abc", &mut out), BdatProgress::NeedMore);
        assert_eq!(receiver.size(), 3);
    }

    #[test]
    fn bare_line_endings_are_recorded_across_calls_and_chunks() {
        let cases: [(&[u64], &[u8], bool); 7] = [
            (&[4], b"a\r\nb", false),
            (&[2, 2], b"a\r\nb", false),
            (&[2, 2], b"a\rxb", true),
            (&[2, 2], b"a\nxb", true),
            (&[2], b"a\r", true),
            (&[1, 1], b"\r\r", true),
            (&[3, 0], b"ab\r", true),
        ];
        for (sizes, input, bare) in cases {
            for cut in 0..=input.len() {
                let mut receiver = BdatReceiver::new(None);
                let (_, out, used) = feed(&mut receiver, sizes, input, &[cut]);
                assert_eq!(receiver.has_bare_line_ending(), bare, "{input:?} in {sizes:?}, cut at {cut}");
                assert_eq!((out.as_slice(), used), (input, input.len()));
            }
        }
    }

    proptest! {
        #[test]
        fn any_split_gives_the_same_chunks(
            input in prop::collection::vec(prop::sample::select(b"ab\r\n.".to_vec()), 0..64),
            sizes in prop::collection::vec(0u64..20, 1..5),
            mut cuts in prop::collection::vec(0usize..64, 0..4),
            limit in prop::option::of(0u64..40),
        ) {
            cuts.sort_unstable();
            let mut whole = BdatReceiver::new(limit);
            let expected = feed(&mut whole, &sizes, &input, &[]);
            let mut split = BdatReceiver::new(limit);
            prop_assert_eq!(feed(&mut split, &sizes, &input, &cuts), expected.clone());
            prop_assert_eq!(split.has_bare_line_ending(), whole.has_bare_line_ending());
            let total: u64 = sizes.iter().sum();
            prop_assert_eq!(expected.2 as u64, total.min(input.len() as u64));
            prop_assert!(expected.1.len() as u64 <= limit.unwrap_or(u64::MAX));
        }
    }
}
