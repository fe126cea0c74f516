//! The lookup interface that the other crates use.

use std::fmt;

use crate::Error;

/// A key/value map with sendmail's lookup rules.
///
/// `lookup` folds the key to lower case when the map was built that way and
/// hides the NUL bytes that `makemap -N` stores; values come back exactly as
/// stored. Table-specific rules (the mailertable's `.parent` search, the
/// access map's tags, virtusertable's `%1`) belong to the caller.
pub trait Map: Send + Sync {
    /// Looks `key` up; `Ok(None)` when it is absent.
    ///
    /// An error means the map could not be read (a corrupt file): the caller
    /// should treat it as a temporary failure, as sendmail's `-T<TMPF>` does.
    fn lookup(&self, key: &[u8]) -> Result<Option<&[u8]>, Error>;
}

/// A short hash of a map's content, for log lines that say which version of
/// a map made a decision.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ContentHash(pub(crate) u64);

impl ContentHash {
    /// The full 64-bit value.
    pub fn value(self) -> u64 {
        self.0
    }
}

impl fmt::Display for ContentHash {
    /// Twelve hex digits, like a short git commit id.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:012x}", self.0 >> 16)
    }
}

/// The hasher for in-memory maps keyed by byte strings: one-shot xxh3 per
/// key, several times faster than the standard SipHash on the short keys
/// maps hold, which is what keeps loading a million-line text map under a
/// second. The seed is random per process, so hash flooding stays impractical.
#[derive(Clone, Debug)]
pub(crate) struct KeyHashBuilder(u64);

impl Default for KeyHashBuilder {
    fn default() -> Self {
        use std::hash::BuildHasher;
        Self(std::collections::hash_map::RandomState::new().hash_one(0x5eed_u64))
    }
}

impl std::hash::BuildHasher for KeyHashBuilder {
    type Hasher = KeyHasher;

    fn build_hasher(&self) -> KeyHasher {
        KeyHasher(self.0)
    }
}

/// See [`KeyHashBuilder`].
#[derive(Clone, Debug)]
pub(crate) struct KeyHasher(u64);

impl std::hash::Hasher for KeyHasher {
    fn write(&mut self, bytes: &[u8]) {
        self.0 = xxhash_rust::xxh3::xxh3_64_with_seed(bytes, self.0);
    }

    fn write_usize(&mut self, len: usize) {
        // `[u8]` hashes its length before its bytes; the bytes' hash already
        // depends on their length, so folding it in cheaply is enough.
        self.0 = self.0.rotate_left(5) ^ len as u64;
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// Calls `f` with `key` as the map stores it: folded to lower case if `fold`,
/// with a NUL byte appended if `nul`. Short keys use a stack buffer, so the
/// common lookup allocates nothing.
pub(crate) fn with_stored_key<R>(key: &[u8], fold: bool, nul: bool, f: impl FnOnce(&[u8]) -> R) -> R {
    let fold = fold && key.iter().any(u8::is_ascii_uppercase);
    if !fold && !nul {
        return f(key);
    }
    let len = key.len() + usize::from(nul);
    let mut stack = [0u8; 256];
    let mut heap = Vec::new();
    let buffer = if len <= stack.len() {
        &mut stack[..len]
    } else {
        heap.resize(len, 0);
        &mut heap[..]
    };
    buffer[..key.len()].copy_from_slice(key);
    if fold {
        buffer[..key.len()].make_ascii_lowercase();
    }
    if nul {
        buffer[key.len()] = 0;
    }
    f(buffer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_key_folds_and_appends_nul() {
        with_stored_key(b"Ex.COM", true, true, |k| assert_eq!(k, b"ex.com\0"));
        with_stored_key(b"Ex.COM", false, false, |k| assert_eq!(k, b"Ex.COM"));
        let long = vec![b'A'; 300];
        with_stored_key(&long, true, false, |k| assert_eq!(k, vec![b'a'; 300].as_slice()));
    }

    #[test]
    fn content_hash_shows_twelve_hex_digits() {
        assert_eq!(ContentHash(0x0123_4567_89ab_cdef).to_string(), "0123456789ab");
    }
}
