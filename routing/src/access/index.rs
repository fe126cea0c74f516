//! An access map prepared at load time: IPv6 keys normalised and a key
//! filter in front of the map.

use std::collections::HashMap;
use std::net::Ipv6Addr;

use smarthost_maps::{Error as MapError, Map};

use super::AccessOptions;

/// Bits of filter per key: with four bits set in one 64-bit word, about
/// one absent key in a hundred gets past the filter to the map.
const BITS_PER_KEY: usize = 16;

/// An access map made ready for the relay: wraps the loaded map (compiled
/// or text) and is itself a [`Map`], to give to [`crate::AccessMap::new`].
///
/// Built from every key of the map, once per load (a pass over the map):
///
/// * **IPv6 keys normalised** (access.md §4.2 \[REC\]): a key written with
///   `::` or leading zeros (`Connect:IPv6:2001:0db8::5`,
///   `Connect:IPv6:2001:0DB8:0002`) also answers under the spelling the
///   search uses (`connect:ipv6:2001:db8:0:0:0:0:0:5`,
///   `connect:ipv6:2001:db8:2`). sendmail never matches such keys;
///   [`AccessOptions::normalise_ipv6_keys`] off keeps that.
/// * **A key filter**: a blocked Bloom filter of the keys answers most
///   absent keys (most of an access walk) without touching the map, so a
///   decision costs a few hashes rather than a dozen map probes. It never
///   hides a key the map holds.
///
/// The index must be built from the same map it wraps; the relay builds a
/// new one for each map generation.
///
/// ```
/// use smarthost_maps::{Map, SourceOptions, TextMap};
/// use smarthost_routing::{AccessIndex, AccessOptions};
///
/// let text = b"Connect:IPv6:2001:0DB8:0002 RELAY\nConnect:10.1 REJECT\n";
/// let (map, _) = TextMap::from_source(text, &SourceOptions::default());
/// let keys = smarthost_maps::Source::parse(text, &SourceOptions::default());
/// let pairs = keys.entries().iter().map(|e| (&e.key[..], &e.value[..]));
/// let index = AccessIndex::new(map, pairs, true, AccessOptions::default());
/// assert_eq!(index.lookup(b"connect:ipv6:2001:db8:2")?, Some(&b"RELAY"[..]));
/// assert_eq!(index.lookup(b"connect:10.1")?, Some(&b"REJECT"[..]));
/// assert_eq!(index.lookup(b"connect:10.2")?, None);
/// # Ok::<(), smarthost_maps::Error>(())
/// ```
#[derive(Debug)]
pub struct AccessIndex<M> {
    inner: M,
    filter: Vec<u64>,
    normalised: HashMap<Box<[u8]>, Box<[u8]>>,
    fold: bool,
}

impl<M: Map> AccessIndex<M> {
    /// Indexes `inner`, whose keys and values `entries` lists (a compiled
    /// map's records, or the entries of the source a text map was read
    /// from). `fold_case` says whether the map folds keys to lower case
    /// (makemap without `-f`, the default); `options` whether to normalise
    /// IPv6 keys, and to which spelling.
    pub fn new<'k>(
        inner: M,
        entries: impl IntoIterator<Item = (&'k [u8], &'k [u8])>,
        fold_case: bool,
        options: AccessOptions,
    ) -> Self {
        let mut keys = Vec::new();
        let mut normalised = HashMap::new();
        for (key, value) in entries {
            let key = key.strip_suffix(b"\0").unwrap_or(key);
            let value = value.strip_suffix(b"\0").unwrap_or(value);
            let key = fold(key, fold_case).into_owned();
            if options.normalise_ipv6_keys
                && let Some(canonical) = normalise_ipv6_key(&key, options.compressed_ipv6)
            {
                keys.push(canonical.clone());
                normalised.entry(canonical.into_boxed_slice()).or_insert_with(|| value.into());
            }
            keys.push(key);
        }
        let words = (keys.len() * BITS_PER_KEY / 64).max(1).next_power_of_two();
        let mut filter = vec![0u64; words];
        for key in &keys {
            let (word, mask) = slot(key, words);
            filter[word] |= mask;
        }
        Self { inner, filter, normalised, fold: fold_case }
    }

    /// The wrapped map.
    pub fn inner(&self) -> &M {
        &self.inner
    }

    /// Whether `key` gets past the filter to the map (tests count the
    /// filter's false positives with it).
    #[cfg(test)]
    pub(crate) fn filter_passes(&self, key: &[u8]) -> bool {
        let (word, mask) = slot(&fold(key, self.fold), self.filter.len());
        self.filter[word] & mask == mask
    }

    /// How many keys answer under a normalised IPv6 spelling.
    pub fn normalised_keys(&self) -> usize {
        self.normalised.len()
    }
}

impl<M: Map> Map for AccessIndex<M> {
    fn lookup(&self, key: &[u8]) -> Result<Option<&[u8]>, MapError> {
        let folded = fold(key, self.fold);
        let (word, mask) = slot(&folded, self.filter.len());
        if self.filter[word] & mask != mask {
            return Ok(None);
        }
        if let Some(value) = self.inner.lookup(key)? {
            return Ok(Some(value));
        }
        Ok(self.normalised.get(&*folded).map(|v| &**v))
    }
}

fn fold(key: &[u8], fold: bool) -> std::borrow::Cow<'_, [u8]> {
    if fold && key.iter().any(u8::is_ascii_uppercase) {
        std::borrow::Cow::Owned(key.to_ascii_lowercase())
    } else {
        std::borrow::Cow::Borrowed(key)
    }
}

/// The filter word of `key` and the four bits it sets there.
fn slot(key: &[u8], words: usize) -> (usize, u64) {
    let h = xxhash_rust::xxh3::xxh3_64(key);
    let word = (h as usize) & (words - 1);
    let mask = (1u64 << ((h >> 40) & 63))
        | (1u64 << ((h >> 46) & 63))
        | (1u64 << ((h >> 52) & 63))
        | (1u64 << ((h >> 58) & 63));
    (word, mask)
}

/// The spelling the search uses for an IPv6 key written another way, or
/// `None` when the key is not an IPv6 key or is already spelled so. Keys
/// are `[tag:]ipv6:ADDRESS-OR-PREFIX`, or a bracketed `[ipv6:...]` literal
/// after an optional tag; lower case.
pub(crate) fn normalise_ipv6_key(key: &[u8], compressed: bool) -> Option<Vec<u8>> {
    let text = std::str::from_utf8(key).ok()?;
    let lower = text.to_ascii_lowercase();
    let (tag, body) = match lower.split_once(':') {
        Some((tag, _))
            if tag != "ipv6"
                && !tag.starts_with('[')
                && tag.bytes().all(|b| b.is_ascii_alphabetic() || b == b'_') =>
        {
            (&text[..tag.len() + 1], &lower[tag.len() + 1..])
        }
        _ => ("", lower.as_str()),
    };
    let (open, inner, close) = match body.strip_prefix('[').and_then(|b| b.strip_suffix(']')) {
        Some(inner) => ("[", inner, "]"),
        None => ("", body, ""),
    };
    let groups = inner.strip_prefix("ipv6:")?;
    let canonical = canonical_groups(groups, compressed)?;
    let normal = format!("{}{open}ipv6:{canonical}{close}", tag.to_ascii_lowercase());
    (normal.as_bytes() != lower.as_bytes() || lower.as_bytes() != key).then(|| normal.into_bytes())
}

/// A whole address in the search's spelling, or a prefix of one to seven
/// groups with leading zeros removed.
fn canonical_groups(groups: &str, compressed: bool) -> Option<String> {
    if let Ok(addr) = groups.parse::<Ipv6Addr>() {
        return Some(if compressed {
            addr.to_string()
        } else {
            addr.segments().iter().map(|g| format!("{g:x}")).collect::<Vec<_>>().join(":")
        });
    }
    let parts: Vec<&str> = groups.split(':').collect();
    let valid = (1..=7).contains(&parts.len())
        && parts.iter().all(|p| (1..=4).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_hexdigit()));
    if !valid {
        return None;
    }
    let trimmed: Vec<String> =
        parts.iter().map(|p| format!("{:x}", u16::from_str_radix(p, 16).unwrap_or_default())).collect();
    Some(trimmed.join(":"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(key: &str) -> Option<String> {
        normalise_ipv6_key(key.as_bytes(), false).map(|k| String::from_utf8(k).unwrap())
    }

    #[test]
    fn ipv6_keys_take_the_searched_spelling() {
        assert_eq!(norm("connect:ipv6:2001:0db8:0002").as_deref(), Some("connect:ipv6:2001:db8:2"));
        assert_eq!(norm("Connect:IPv6:2001:DB8::5").as_deref(), Some("connect:ipv6:2001:db8:0:0:0:0:0:5"));
        assert_eq!(norm("ipv6:2001:db8::5").as_deref(), Some("ipv6:2001:db8:0:0:0:0:0:5"));
        assert_eq!(norm("to:[ipv6:2001:db8::5]").as_deref(), Some("to:[ipv6:2001:db8:0:0:0:0:0:5]"));
        assert_eq!(norm("connect:ipv6:2001:db8:2"), None);
        assert_eq!(norm("connect:192.0.2.1"), None);
        assert_eq!(norm("connect:2001:db8::1"), None);
        assert_eq!(
            normalise_ipv6_key(b"connect:ipv6:2001:db8:0:0:0:0:0:5", true).as_deref(),
            Some(&b"connect:ipv6:2001:db8::5"[..])
        );
    }
}
