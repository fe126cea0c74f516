//! A smuggling-safe DATA reader with the API `smtp-core/src/data.rs` will
//! export (branch `smtp-data`); the session uses this one until that lands.
//!
//! Only CR LF `.` CR LF ends the data (spec §5.3); the reader starts at a
//! line start (the `354` ended a line), so a first line `.` ends an empty
//! message and a first line `..x` is unstuffed.

/// How far a [`DataReceiver`] got with its input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum DataProgress {
    /// All input was taken; the terminator has not been seen.
    NeedMore,
    /// The terminator ended the data after `consumed` bytes of this input.
    Done {
        /// Bytes of the input up to and including the terminator.
        consumed: usize,
        /// How the message fared.
        outcome: DataOutcome,
    },
}

/// What the data held, once the terminator is seen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum DataOutcome {
    /// A well-formed message.
    Complete,
    /// More than the size limit; storing stopped at the limit.
    TooBig {
        /// Octets received (after unstuffing).
        size: u64,
    },
    /// A bare CR or LF somewhere in the content.
    BareLineEnding,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum At {
    /// At the start of a line.
    LineStart,
    /// Inside a line.
    Middle,
    /// After a CR inside a line.
    Cr,
    /// After `.` at a line start.
    Dot,
    /// After `.` CR at a line start.
    DotCr,
}

/// Reads DATA content after the `354`.
#[derive(Debug)]
pub(crate) struct DataReceiver {
    at: At,
    max_size: Option<u64>,
    size: u64,
    bare: bool,
}

impl DataReceiver {
    /// A reader storing at most `max_size` octets.
    pub(crate) fn new(max_size: Option<u64>) -> Self {
        DataReceiver { at: At::LineStart, max_size, size: 0, bare: false }
    }

    /// Unstuffs `input` into `out` up to the terminator.
    pub(crate) fn handle_input(&mut self, input: &[u8], out: &mut Vec<u8>) -> DataProgress {
        let mut i = 0;
        while i < input.len() {
            match self.at {
                At::Middle => {
                    // Copy up to the next CR or LF in one go.
                    let run = memchr::memchr2(b'\r', b'\n', &input[i..]).unwrap_or(input.len() - i);
                    self.store(out, &input[i..i + run]);
                    i += run;
                    if let Some(&b) = input.get(i) {
                        if b == b'\n' {
                            self.bare = true;
                            self.store(out, b"\n");
                        } else {
                            self.at = At::Cr;
                        }
                        i += 1;
                    }
                }
                At::Cr => {
                    self.store(out, b"\r");
                    if input[i] == b'\n' {
                        self.store(out, b"\n");
                        self.at = At::LineStart;
                        i += 1;
                    } else {
                        self.bare = true;
                        self.at = At::Middle;
                    }
                }
                At::LineStart => {
                    if input[i] == b'.' {
                        self.at = At::Dot;
                        i += 1;
                    } else {
                        self.at = At::Middle;
                    }
                }
                At::Dot => {
                    if input[i] == b'\r' {
                        self.at = At::DotCr;
                        i += 1;
                    } else {
                        // A stuffed dot: dropped, the line goes on.
                        self.at = At::Middle;
                    }
                }
                At::DotCr => {
                    if input[i] == b'\n' {
                        let outcome = match (self.bare, self.max_size) {
                            (_, Some(max)) if self.size > max => DataOutcome::TooBig { size: self.size },
                            (true, _) => DataOutcome::BareLineEnding,
                            _ => DataOutcome::Complete,
                        };
                        self.at = At::LineStart;
                        return DataProgress::Done { consumed: i + 1, outcome };
                    }
                    // `.` CR x: the dot was stuffing; the CR is bare.
                    self.at = At::Cr;
                }
            }
        }
        DataProgress::NeedMore
    }

    fn store(&mut self, out: &mut Vec<u8>, bytes: &[u8]) {
        let new_size = self.size + bytes.len() as u64;
        match self.max_size {
            Some(max) if new_size > max => {
                let room = max.saturating_sub(self.size) as usize;
                out.extend_from_slice(&bytes[..room.min(bytes.len())]);
            }
            _ => out.extend_from_slice(bytes),
        }
        self.size = new_size;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(input: &[u8]) -> (Vec<u8>, DataProgress) {
        let mut r = DataReceiver::new(Some(100));
        let mut out = Vec::new();
        let progress = r.handle_input(input, &mut out);
        (out, progress)
    }

    #[test]
    fn terminators() {
        let done = |consumed, outcome| DataProgress::Done { consumed, outcome };
        assert_eq!(run(b".\r\n"), (vec![], done(3, DataOutcome::Complete)));
        assert_eq!(run(b"..a\r\n.\r\nX"), (b".a\r\n".to_vec(), done(8, DataOutcome::Complete)));
        assert_eq!(run(b"x\n.\nM\r\n.\r\n").1, done(10, DataOutcome::BareLineEnding));
        assert_eq!(run(b"x\r.\r\n.\r\n").1, done(8, DataOutcome::BareLineEnding));
        assert_eq!(run(b"x\r\n.\nR\r\n.\r\n").1, done(11, DataOutcome::BareLineEnding));
        assert_eq!(
            run(b"x\r\n.\rR\r\n.\r\n"),
            (b"x\r\n\rR\r\n".to_vec(), done(11, DataOutcome::BareLineEnding))
        );
        assert_eq!(run(b"x\r\n"), (b"x\r\n".to_vec(), DataProgress::NeedMore));
        let (out, progress) = run(&[b'a'; 150].iter().chain(b"\r\n.\r\n").copied().collect::<Vec<_>>());
        assert_eq!((out.len(), progress), (100, done(155, DataOutcome::TooBig { size: 152 })));
    }

    #[test]
    fn split_anywhere() {
        let input = b"a\r\n..b\r\nc\rd\n\r\n.\r\n";
        let (whole, _) = run(input);
        for cut in 0..input.len() {
            let mut r = DataReceiver::new(None);
            let mut out = Vec::new();
            assert_eq!(r.handle_input(&input[..cut], &mut out), DataProgress::NeedMore);
            assert!(matches!(r.handle_input(&input[cut..], &mut out), DataProgress::Done { .. }));
            assert_eq!(out, whole, "cut {cut}");
        }
    }
}
