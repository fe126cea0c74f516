//! Queue IDs: unique across restarts, and sorting by arrival time.

use std::fmt;
use std::str::FromStr;

/// A message's queue ID, as in `250 2.0.0 Ok: queued as 01JD3X4Q7ZK2M9TA`.
///
/// Sixteen Crockford base32 characters encoding 80 bits: the arrival time in
/// milliseconds since the Unix epoch (48 bits), a sequence number within
/// that millisecond (16 bits) and a random salt chosen when the generator
/// starts (16 bits). IDs from one generator strictly increase, even if the
/// clock steps back; the salt keeps two runs of the relay that start in the
/// same millisecond after a clock step apart. Sorting IDs as strings sorts
/// messages by arrival.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct QueueId(u128);

const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
const LEN: usize = 16;

impl QueueId {
    /// The arrival time it records, in milliseconds since the Unix epoch.
    pub fn millis(self) -> u64 {
        (self.0 >> 32) as u64
    }

    /// The 80-bit value, for storage.
    pub(crate) fn to_bits(self) -> u128 {
        self.0
    }

    /// Rebuilds an ID from storage; `None` for a value wider than 80 bits.
    pub(crate) fn from_bits(bits: u128) -> Option<Self> {
        (bits >> 80 == 0).then_some(Self(bits))
    }
}

impl fmt::Display for QueueId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut text = [0u8; LEN];
        for (i, byte) in text.iter_mut().enumerate() {
            let shift = 5 * (LEN - 1 - i);
            *byte = ALPHABET[((self.0 >> shift) & 31) as usize];
        }
        f.write_str(std::str::from_utf8(&text).expect("the alphabet is ASCII"))
    }
}

/// Text that is not a queue ID.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a queue ID: expected 16 characters of 0-9 and A-Z (without I, L, O, U)")]
pub struct BadQueueId(String);

impl FromStr for QueueId {
    type Err = BadQueueId;

    /// Parses an ID, accepting lower case as Crockford base32 does.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = || BadQueueId(text.to_string());
        if text.len() != LEN {
            return Err(bad());
        }
        let mut bits = 0u128;
        for byte in text.bytes() {
            let digit = ALPHABET.iter().position(|&a| a == byte.to_ascii_uppercase()).ok_or_else(bad)?;
            bits = bits << 5 | digit as u128;
        }
        Ok(Self(bits))
    }
}

/// Hands out queue IDs. Time is passed in, so tests choose it.
#[derive(Debug)]
pub struct IdGenerator {
    salt: u16,
    last_millis: u64,
    sequence: u32,
}

impl IdGenerator {
    /// A generator with the given salt (use [`IdGenerator::new`] outside tests).
    pub fn with_salt(salt: u16) -> Self {
        Self { salt, last_millis: 0, sequence: 0 }
    }

    /// A generator with a random salt.
    pub fn new() -> Self {
        use std::hash::BuildHasher;
        let random = std::collections::hash_map::RandomState::new().hash_one(std::process::id());
        Self::with_salt(random as u16)
    }

    /// Makes every later ID greater than `last`, the newest ID already in
    /// the queue: a restart within the same millisecond (or after the clock
    /// stepped back) must neither reorder nor reuse IDs.
    pub fn resume_after(&mut self, last: QueueId) {
        while self.next_id(last.millis()) <= last {}
    }

    /// The next ID for a message arriving at `now_millis`.
    pub fn next_id(&mut self, now_millis: u64) -> QueueId {
        if now_millis > self.last_millis {
            self.last_millis = now_millis;
            self.sequence = 0;
        } else {
            // Same millisecond, or the clock stepped back: stay monotonic.
            self.sequence += 1;
            if self.sequence > u32::from(u16::MAX) {
                self.last_millis += 1;
                self.sequence = 0;
            }
        }
        let millis = u128::from(self.last_millis & ((1 << 48) - 1));
        QueueId(millis << 32 | u128::from(self.sequence) << 16 | u128::from(self.salt))
    }
}

impl Default for IdGenerator {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_through_text_and_sort_by_time() {
        let mut ids = IdGenerator::with_salt(0xbeef);
        let a = ids.next_id(1_700_000_000_000);
        let b = ids.next_id(1_700_000_000_000);
        let c = ids.next_id(1_700_000_000_001);
        assert!(a < b && b < c);
        assert!(a.to_string() < b.to_string() && b.to_string() < c.to_string());
        for id in [a, b, c] {
            assert_eq!(id.to_string().len(), 16);
            assert_eq!(id.to_string().parse::<QueueId>().unwrap(), id);
            assert_eq!(id.to_string().to_lowercase().parse::<QueueId>().unwrap(), id);
        }
        assert_eq!(a.millis(), 1_700_000_000_000);
    }

    #[test]
    fn a_clock_that_steps_back_still_gives_increasing_ids() {
        let mut ids = IdGenerator::with_salt(1);
        let a = ids.next_id(5_000);
        let b = ids.next_id(4_000);
        assert!(b > a);
    }

    #[test]
    fn a_restarted_generator_resumes_after_the_newest_id() {
        let mut before = IdGenerator::with_salt(u16::MAX);
        let last = (0..5).map(|_| before.next_id(9_000)).last().unwrap();
        // Same millisecond, and a salt that would sort below the old IDs.
        let mut after = IdGenerator::with_salt(0);
        after.resume_after(last);
        assert!(after.next_id(9_000) > last);
        assert!(after.next_id(8_000) > last, "even with the clock behind");
    }

    #[test]
    fn bad_ids_are_refused_with_the_rule() {
        let error = "01JD3X4Q7ZK2M9TI".parse::<QueueId>().unwrap_err();
        assert!(error.to_string().contains("without I, L, O, U"));
        assert!("short".parse::<QueueId>().is_err());
    }
}
