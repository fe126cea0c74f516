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
    seed: u64,
    normalised: HashMap<Box<[u8]>, Box<[u8]>>,
    fold: bool,
    shapes: Shapes,
}

/// Which kinds of key a map holds: a bit per (tag, shape of the rest),
/// where names and IPv4 prefixes also count their dots (up to three). A
/// search skips the keys of a kind the map has none of, so a map of tagged
/// full addresses and `/24` prefixes costs an IPv4 client two filter
/// probes, not sixteen map lookups.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Shapes(u128);

impl Shapes {
    /// Every kind: nothing can be skipped.
    pub(crate) const ALL: Self = Self(u128::MAX);

    fn add(&mut self, key: &[u8]) {
        self.0 |= 1 << kind(key);
    }

    fn has(self, kind: u32) -> bool {
        self.0 & (1 << kind) != 0
    }

    /// Whether the map may hold a key of digits and `dots` dots (an IPv4
    /// address or prefix) with `tag`, or untagged.
    pub(crate) fn may_hold_digits(self, tag: Option<super::Tag>, dots: usize) -> bool {
        self.has(tag.map_or(0, tag_number) * SHAPES + DIGITS + dots.min(3) as u32)
    }

    /// Whether the map may hold `tag:` followed by `body`, and `body`
    /// alone: the answers of [`Shapes::may_hold`] on both keys, from one
    /// pass over `body` unless it has a colon.
    pub(crate) fn may_hold_both(self, tag: super::Tag, body: &[u8]) -> (bool, bool) {
        let (shape, colon) = shape_and_colon(body);
        let plain = if colon { kind(body) } else { shape };
        (self.has(tag_number(tag) * SHAPES + shape), self.has(plain))
    }

    /// Whether the map may hold any `tag:[...]` key, or (with `untagged`)
    /// any `[...]` key.
    pub(crate) fn may_hold_bracketed(self, tag: super::Tag, untagged: bool) -> bool {
        self.has(tag_number(tag) * SHAPES + BRACKETED) || (untagged && self.has(BRACKETED))
    }
}

/// Shapes: a bracketed literal, `ipv6:...`, an address (with `@`), a name
/// of one to four or more labels, digits and dots with none to three or
/// more dots.
const SHAPES: u32 = 11;
const BRACKETED: u32 = 0;
const IPV6: u32 = 1;
const ADDRESS: u32 = 2;
const NAME: u32 = 3;
const DIGITS: u32 = 7;

/// The tag's number in [`kind`]: 1 to 4.
fn tag_number(tag: super::Tag) -> u32 {
    match tag {
        super::Tag::Connect => 1,
        super::Tag::From => 2,
        super::Tag::To => 3,
        super::Tag::Spam => 4,
    }
}

/// The kind of a lower-case key: its tag (none, `connect:`, `from:`,
/// `to:`, `spam:`, another) times the shape of the rest.
fn kind(key: &[u8]) -> u32 {
    let tag = match key.iter().position(|&b| b == b':') {
        Some(colon) => match &key[..colon] {
            b"connect" => Some((1, colon)),
            b"from" => Some((2, colon)),
            b"to" => Some((3, colon)),
            b"spam" => Some((4, colon)),
            b"ipv6" => None,
            word if !word.is_empty() && word.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'_') => {
                Some((5, colon))
            }
            _ => None,
        },
        None => None,
    };
    match tag {
        Some((tag, colon)) => tag * SHAPES + shape(&key[colon + 1..]),
        None => shape(key),
    }
}

/// The shape of a key without its tag.
fn shape(body: &[u8]) -> u32 {
    shape_and_colon(body).0
}

/// The shape of a key without its tag, and whether it holds a colon (so
/// that, standing alone, its start may read as a tag), in one pass.
fn shape_and_colon(body: &[u8]) -> (u32, bool) {
    match body.first() {
        Some(b'[') => return (BRACKETED, body.contains(&b':')),
        Some(b'i') if body.starts_with(b"ipv6:") => return (IPV6, true),
        _ => {}
    }
    let mut digits_and_dots = true;
    let mut dots = 0u32;
    let mut colon = false;
    for &b in body {
        if b == b'@' {
            return (ADDRESS, colon || body.contains(&b':'));
        }
        dots += u32::from(b == b'.');
        colon |= b == b':';
        digits_and_dots &= b.is_ascii_digit() || b == b'.';
    }
    (if digits_and_dots { DIGITS + dots.min(3) } else { NAME + dots.min(3) }, colon)
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
            // A plain CDB file may store keys with a trailing NUL, which its
            // lookups find without it (sendmail's rule): the filter takes
            // both forms, so it hides neither.
            let bare = key.strip_suffix(b"\0");
            if let Some(bare) = bare {
                keys.push(fold(bare, fold_case).into_owned());
            }
            let value = value.strip_suffix(b"\0").unwrap_or(value);
            if options.normalise_ipv6_keys
                && let Some(canonical) =
                    normalise_ipv6_key(&fold(bare.unwrap_or(key), fold_case), options.compressed_ipv6)
            {
                keys.push(canonical.clone());
                normalised.entry(canonical.into_boxed_slice()).or_insert_with(|| value.into());
            }
            keys.push(fold(key, fold_case).into_owned());
        }
        let words = (keys.len() * BITS_PER_KEY / 64).max(1).next_power_of_two();
        let mut filter = vec![0u64; words];
        let mut shapes = Shapes(0);
        let seed = {
            use std::hash::BuildHasher;
            std::collections::hash_map::RandomState::new().hash_one(0x5eed_u64)
        };
        for key in &keys {
            let (word, mask) = slot(key, words, seed);
            filter[word] |= mask;
            shapes.add(&key.to_ascii_lowercase());
        }
        Self { inner, filter, seed, normalised, fold: fold_case, shapes }
    }

    /// The wrapped map.
    pub fn inner(&self) -> &M {
        &self.inner
    }

    /// Whether `key` gets past the filter to the map (tests count the
    /// filter's false positives with it).
    #[cfg(test)]
    pub(crate) fn filter_passes(&self, key: &[u8]) -> bool {
        let (word, mask) = slot(&fold(key, self.fold), self.filter.len(), self.seed);
        self.filter[word] & mask == mask
    }

    /// The lookup for keys that are already folded, as an access search's
    /// keys are.
    pub(crate) fn folded(&self) -> Folded<'_> {
        Folded { filter: &self.filter, seed: self.seed, inner: &self.inner, normalised: &self.normalised }
    }

    /// The kinds of key the map holds.
    pub(crate) fn shapes(&self) -> Shapes {
        self.shapes
    }

    /// How many keys answer under a normalised IPv6 spelling.
    pub fn normalised_keys(&self) -> usize {
        self.normalised.len()
    }
}

impl<M: Map> Map for AccessIndex<M> {
    fn lookup(&self, key: &[u8]) -> Result<Option<&[u8]>, MapError> {
        let folded = fold(key, self.fold);
        let (word, mask) = slot(&folded, self.filter.len(), self.seed);
        if self.filter[word] & mask != mask {
            return Ok(None);
        }
        if let Some(value) = self.inner.lookup(key)? {
            return Ok(Some(value));
        }
        Ok(self.normalised.get(&*folded).map(|v| &**v))
    }
}

/// [`AccessIndex`]'s lookup for keys that are already folded: the filter,
/// then the map, then the normalised keys; no folding and no `dyn` call
/// for the keys the filter turns away.
#[derive(Clone, Copy)]
pub(crate) struct Folded<'m> {
    filter: &'m [u64],
    seed: u64,
    inner: &'m dyn Map,
    normalised: &'m HashMap<Box<[u8]>, Box<[u8]>>,
}

impl<'m> Folded<'m> {
    pub(crate) fn lookup(&self, key: &[u8]) -> Result<Option<&'m [u8]>, MapError> {
        let (word, mask) = slot(key, self.filter.len(), self.seed);
        if self.filter[word] & mask != mask {
            return Ok(None);
        }
        if let Some(value) = self.inner.lookup(key)? {
            return Ok(Some(value));
        }
        Ok(self.normalised.get(key).map(|v| &**v))
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
fn slot(key: &[u8], words: usize, seed: u64) -> (usize, u64) {
    let h = filter_hash(key, seed);
    let word = (h as usize) & (words - 1);
    let mask = (1u64 << ((h >> 40) & 63))
        | (1u64 << ((h >> 46) & 63))
        | (1u64 << ((h >> 52) & 63))
        | (1u64 << ((h >> 58) & 63));
    (word, mask)
}

/// A fast keyed hash for the filter: a multiply-rotate round per eight
/// bytes and MurmurHash3's finaliser. Keys are short (20 bytes or so);
/// the seed is random per index, and keys chosen to collide could only
/// make the filter pass more keys on to the map, never hide one.
fn filter_hash(key: &[u8], seed: u64) -> u64 {
    const K: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut h = seed ^ (key.len() as u64).wrapping_mul(K);
    let mut chunks = key.chunks_exact(8);
    for chunk in &mut chunks {
        let word = u64::from_le_bytes(chunk.try_into().expect("chunks of eight bytes"));
        h = (h ^ word).wrapping_mul(K).rotate_left(29);
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let word = rest.iter().rev().fold(0u64, |w, &b| (w << 8) | u64::from(b));
        h = (h ^ word).wrapping_mul(K).rotate_left(29);
    }
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
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
