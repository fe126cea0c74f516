//! The server's DATA reader: dot-unstuffing and the smuggling-safe end of
//! data (spec `smtp.md` §4.1 and §5.3).

use memchr::memchr2;

use super::{CR, LF};

/// Reads the message content a client sends after the server's `354` reply,
/// up to and including the `CR LF . CR LF` that ends it.
///
/// It is a byte-level state machine without IO and without a line buffer:
/// content runs are copied straight from the input to the caller's buffer,
/// and a split anywhere in the input — even inside the terminator — gives
/// the same content and the same outcome.
///
/// The rules, and why:
///
/// - **Only `CR LF . CR LF` ends the data**, counting the CR LF that ended
///   the `DATA` command, so a lone `.` CR LF as the first line is an empty
///   message. `LF . LF`, `CR LF . LF`, `LF . CR LF`, `CR . CR`, `CR LF . CR`
///   and every other near miss is content. A server that took any of them as
///   the end would run the bytes after them as commands: the SMTP smuggling
///   of CVE-2023-51764, CVE-2023-51765 and CVE-2023-51766.
/// - **A bare CR or bare LF fails the message**
///   ([`DataOutcome::BareLineEnding`], answered with
///   `554 5.6.0 Message contains bare CR or LF`). The reader still reads on to
///   the real terminator, so that the rest of the message is not taken for
///   commands. Relays that forward such bytes untouched are what makes
///   smuggling possible downstream; refusing them stops it here. For trusted
///   networks [`BareLineEndings::Normalize`] turns each bare CR or LF into
///   CR LF instead — and never into end of data.
/// - **One leading dot is removed from every line that starts with one**,
///   the first line included (RFC 5321 §4.5.2, as sendmail does it: exactly
///   one dot, whatever follows it).
/// - **Size is counted as content**: octets after unstuffing, CR LF as two,
///   the terminator not at all (RFC 1870). Past `max_size` the reader stores
///   nothing more but reads on to the terminator and then reports
///   [`DataOutcome::TooBig`] (`552`), so memory stays bounded by the limit.
///
/// Calling order: [`handle_input`](Self::handle_input) with each piece of
/// input until it returns [`DataProgress::Done`]; the bytes after `consumed`
/// are the client's next commands. The content in `out` is the message only
/// when the outcome is [`DataOutcome::Complete`]; otherwise drop it.
///
/// ```
/// use smarthost_smtp_core::{DataOutcome, DataProgress, DataReceiver};
///
/// let mut receiver = DataReceiver::new(Some(10_000_000));
/// let mut content = Vec::new();
/// assert_eq!(receiver.handle_input(b"Subject: a\r\n\r\n..leading", &mut content), DataProgress::NeedMore);
/// let wire = b" dot\r\n.\r\nQUIT\r\n";
/// assert_eq!(
///     receiver.handle_input(wire, &mut content),
///     DataProgress::Done { consumed: wire.len() - 6, outcome: DataOutcome::Complete }
/// );
/// assert_eq!(content, b"Subject: a\r\n\r\n.leading dot\r\n");
/// ```
#[derive(Clone, Debug)]
pub struct DataReceiver {
    state: State,
    mode: BareLineEndings,
    /// `u64::MAX` for no limit: no message reaches it.
    max_size: u64,
    /// Content octets so far, stored or not.
    size: u64,
    /// Cleared once the content can no longer be delivered (too big, or a
    /// bare line ending under [`BareLineEndings::Reject`]).
    storing: bool,
    bare: bool,
}

/// What a [`DataReceiver`] does with a bare CR or bare LF in the content.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum BareLineEndings {
    /// Read on to the terminator, then fail the message with
    /// [`DataOutcome::BareLineEnding`]: the safe default (spec §5.3).
    #[default]
    Reject,
    /// Store each bare CR or bare LF as CR LF, and treat what follows as a
    /// new line (so a leading dot there is removed), but never as the end of
    /// data. For trusted networks whose clients send LF-only text; the
    /// stored message is clean, so relaying it onwards is safe.
    Normalize,
}

/// How far [`DataReceiver::handle_input`] got.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DataProgress {
    /// The data goes on: all of the input was consumed.
    NeedMore,
    /// The terminator was read.
    Done {
        /// Bytes of this input up to and including the terminator's final
        /// LF. What follows belongs to the next command.
        consumed: usize,
        /// Whether the message can be accepted.
        outcome: DataOutcome,
    },
}

/// The verdict on a received message, once its terminator was read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DataOutcome {
    /// The content in the caller's buffer is the message.
    Complete,
    /// The content exceeded the size limit (`552`); the caller's buffer
    /// holds its first `max_size` octets.
    TooBig {
        /// Content octets received, CR LF counted as two.
        size: u64,
    },
    /// The content held a bare CR or bare LF and the receiver rejects them
    /// (`554 5.6.0`). Takes precedence over [`TooBig`](Self::TooBig): the
    /// message is malformed whatever its size.
    BareLineEnding,
}

/// Where the reader stands. Every state is a position relative to the
/// terminator pattern; none holds bytes, because a byte whose fate is still
/// open is either the stuffing dot (dropped in any case) or a CR (written
/// once we know whether it is CR LF, a bare CR, or the terminator's).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Inside a line.
    Text,
    /// After a CR inside a line; the CR is already written.
    Cr,
    /// After CR LF (or at the very start): a `.` here may begin the
    /// terminator.
    LineStart,
    /// After a bare CR or LF made into a line break: a `.` here is
    /// unstuffed, but can never begin the terminator.
    SoftLineStart,
    /// After CR LF `.`; the dot is dropped.
    Dot,
    /// After CR LF `.` CR; the CR is not written yet.
    DotCr,
    /// The terminator was read.
    Finished,
}

impl DataReceiver {
    /// A receiver for one message, in [`BareLineEndings::Reject`] mode.
    /// `max_size` is the SIZE limit in content octets; `None` means none.
    pub fn new(max_size: Option<u64>) -> Self {
        DataReceiver {
            state: State::LineStart,
            mode: BareLineEndings::Reject,
            max_size: max_size.unwrap_or(u64::MAX),
            size: 0,
            storing: true,
            bare: false,
        }
    }

    /// The same receiver with another bare line ending policy.
    pub fn with_bare_line_endings(self, mode: BareLineEndings) -> Self {
        DataReceiver { mode, ..self }
    }

    /// Consumes bytes from `input`, appending the unstuffed content to `out`.
    ///
    /// Returns [`DataProgress::NeedMore`] when all of `input` was content,
    /// and [`DataProgress::Done`] when the terminator was found in it. Once
    /// done, further calls consume nothing and repeat the outcome.
    pub fn handle_input(&mut self, input: &[u8], out: &mut Vec<u8>) -> DataProgress {
        // `input[run..pos]` is content examined but not yet written: runs
        // are written in one piece when a byte has to be dropped or added.
        let mut run = 0;
        let mut pos = 0;
        while pos < input.len() {
            match self.state {
                State::Text => pos = self.scan_text(input, pos, &mut run, out),
                State::Cr => {
                    if input[pos] == LF {
                        pos += 1;
                        self.state = State::LineStart;
                    } else {
                        // The CR was written (this run, or a previous call's).
                        self.emit(&input[run..pos], out);
                        run = pos;
                        self.bare_line_ending(b"\n", out);
                    }
                }
                State::LineStart | State::SoftLineStart => {
                    if input[pos] == b'.' {
                        self.emit(&input[run..pos], out);
                        pos += 1;
                        run = pos;
                        self.state = if self.state == State::LineStart { State::Dot } else { State::Text };
                    } else {
                        self.state = State::Text;
                    }
                }
                State::Dot => {
                    if input[pos] == CR {
                        // Held back: it is the terminator's if LF follows.
                        pos += 1;
                        run = pos;
                        self.state = State::DotCr;
                    } else {
                        // A stuffed line: the dot stays dropped, and this
                        // byte is read as the line's first.
                        self.state = State::Text;
                    }
                }
                State::DotCr => {
                    if input[pos] == LF {
                        self.state = State::Finished;
                        return DataProgress::Done { consumed: pos + 1, outcome: self.outcome() };
                    }
                    // `CR LF . CR x`: a stuffed line holding a bare CR.
                    self.emit(b"\r", out);
                    self.bare_line_ending(b"\n", out);
                }
                State::Finished => return DataProgress::Done { consumed: 0, outcome: self.outcome() },
            }
        }
        if self.state == State::Finished {
            return DataProgress::Done { consumed: 0, outcome: self.outcome() };
        }
        self.emit(&input[run..], out);
        DataProgress::NeedMore
    }

    /// Content octets received so far (after unstuffing, CR LF as two).
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Whether a bare CR or bare LF was seen, in either mode: worth logging
    /// even when normalised.
    pub fn has_bare_line_ending(&self) -> bool {
        self.bare
    }

    /// Whether the terminator has been read.
    pub fn is_done(&self) -> bool {
        self.state == State::Finished
    }

    /// Scans content from `pos` for the next line ending; returns where
    /// scanning stops. Stays in this loop for as long as lines end in CR LF
    /// and the next one does not start with a dot: the hot path, with one
    /// `memchr2` per line and no copying until the run ends.
    fn scan_text(&mut self, input: &[u8], mut pos: usize, run: &mut usize, out: &mut Vec<u8>) -> usize {
        loop {
            let Some(offset) = memchr2(CR, LF, &input[pos..]) else {
                return input.len();
            };
            let at = pos + offset;
            if input[at] == LF {
                // `memchr2` stops at a CR first, so this LF follows no CR.
                self.emit(&input[*run..at], out);
                *run = at;
                self.bare_line_ending(b"\r", out);
                return at + 1;
            }
            match input.get(at + 1) {
                None => {
                    self.state = State::Cr;
                    return input.len();
                }
                Some(&LF) => {
                    pos = at + 2;
                    if input.get(pos).is_none_or(|&b| b == b'.') {
                        self.state = State::LineStart;
                        return pos;
                    }
                }
                Some(_) => {
                    self.emit(&input[*run..=at], out);
                    *run = at + 1;
                    self.bare_line_ending(b"\n", out);
                    return at + 1;
                }
            }
        }
    }

    /// Records a bare CR or LF and writes `fill`, the other half of the
    /// CR LF it becomes; what follows starts a line that cannot end the data.
    fn bare_line_ending(&mut self, fill: &'static [u8], out: &mut Vec<u8>) {
        self.bare = true;
        if self.mode == BareLineEndings::Reject {
            self.storing = false;
        }
        // Counted in both modes, so that the size is the same either way.
        self.emit(fill, out);
        self.state = State::SoftLineStart;
    }

    /// Counts content and stores it while the message can still be
    /// delivered: up to exactly `max_size` octets, so that what is stored
    /// does not depend on how the input was split.
    fn emit(&mut self, bytes: &[u8], out: &mut Vec<u8>) {
        let before = self.size;
        self.size += bytes.len() as u64;
        if !self.storing {
            return;
        }
        if self.size <= self.max_size {
            out.extend_from_slice(bytes);
        } else {
            // While storing, `before <= max_size`: the first excess stops it.
            let room = usize::try_from(self.max_size.saturating_sub(before)).unwrap_or(usize::MAX);
            out.extend_from_slice(&bytes[..room.min(bytes.len())]);
            self.storing = false;
        }
    }

    fn outcome(&self) -> DataOutcome {
        if self.bare && self.mode == BareLineEndings::Reject {
            DataOutcome::BareLineEnding
        } else if self.size > self.max_size {
            DataOutcome::TooBig { size: self.size }
        } else {
            DataOutcome::Complete
        }
    }
}

#[cfg(test)]
mod tests;
