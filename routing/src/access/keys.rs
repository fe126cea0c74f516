//! The key-search walks of access.md §4 on a stack buffer: each key is a
//! slice of one buffer that holds the lower-cased body once, with the tag
//! written just in front of it, so a whole walk allocates nothing.
//!
//! The walks follow the token rules of sendmail's rulesets `D`
//! (LookUpDomain) and `A` (LookUpAddress): sendmail splits a key into
//! tokens, where each of the operator characters `.:%@!^/[]+` is a token on
//! its own and every other run of characters is one token, and then strips
//! a token at a time. [`strip_last`] and [`first_dot`] are those rules on
//! bytes.

use std::net::IpAddr;

use smarthost_maps::{Error as MapError, Map};

use super::Tag;
use super::index::{Folded, Shapes};

/// Room before the body for the longest tag (`connect:`).
const TAG_ROOM: usize = 8;
/// The usual buffer: bodies up to 440 bytes (any address) on the stack,
/// longer ones on the heap.
pub(crate) const LARGE: usize = TAG_ROOM + 440;
/// A buffer for a client address: `IPv6:` and eight groups fit.
pub(crate) const SMALL: usize = TAG_ROOM + 56;

/// sendmail's default operator characters (`OperatorChars`, `.:%@!^/[]+`):
/// each is a token of its own.
pub(crate) fn is_operator(b: u8) -> bool {
    matches!(b, b'.' | b':' | b'%' | b'@' | b'!' | b'^' | b'/' | b'[' | b']' | b'+')
}

/// A key under construction: `[tag room][body]`, body lower-cased.
pub(crate) struct KeyBuf<const N: usize = LARGE> {
    storage: Storage<N>,
    /// Where the current body starts (the tag goes just before it).
    start: usize,
    /// Where the current body ends.
    end: usize,
    /// The tag now written in front of `start`, if any.
    written: Option<(Tag, usize)>,
}

/// The inline buffer is the point (a key walk allocates nothing); only
/// a body longer than any address goes to the heap.
enum Storage<const N: usize> {
    Inline([u8; N]),
    Heap(Vec<u8>),
}

impl<const N: usize> KeyBuf<N> {
    /// A buffer holding `parts` concatenated and lower-cased as the body.
    pub(crate) fn new(parts: &[&[u8]]) -> Self {
        let len: usize = parts.iter().map(|p| p.len()).sum();
        let storage = if TAG_ROOM + len <= N {
            Storage::Inline([0; N])
        } else {
            Storage::Heap(vec![0; TAG_ROOM + len])
        };
        let mut key = Self { storage, start: TAG_ROOM, end: TAG_ROOM, written: None };
        key.set_body(parts);
        key
    }

    /// Replaces the body, growing the buffer when it is too small.
    pub(crate) fn set_body(&mut self, parts: &[&[u8]]) {
        let len: usize = parts.iter().map(|p| p.len()).sum();
        let needed = TAG_ROOM + len;
        match &mut self.storage {
            Storage::Inline(_) if needed > N => self.storage = Storage::Heap(vec![0; needed]),
            Storage::Heap(vec) if vec.len() < needed => vec.resize(needed, 0),
            _ => {}
        }
        let bytes = self.bytes_mut();
        let mut at = TAG_ROOM;
        for part in parts {
            let dest = &mut bytes[at..at + part.len()];
            dest.copy_from_slice(part);
            dest.make_ascii_lowercase();
            at += part.len();
        }
        self.start = TAG_ROOM;
        self.end = at;
        self.written = None;
    }

    fn bytes(&self) -> &[u8] {
        match &self.storage {
            Storage::Inline(array) => array,
            Storage::Heap(vec) => vec,
        }
    }

    fn bytes_mut(&mut self) -> &mut [u8] {
        match &mut self.storage {
            Storage::Inline(array) => array,
            Storage::Heap(vec) => vec,
        }
    }

    /// The current body (the untagged key).
    pub(crate) fn body(&self) -> &[u8] {
        &self.bytes()[self.start..self.end]
    }

    /// The key with `tag` in front, or the body alone.
    pub(crate) fn key(&mut self, tag: Option<Tag>) -> &[u8] {
        let start = match tag {
            Some(tag) => {
                let prefix = tag.key_prefix().as_bytes();
                let at = self.start - prefix.len();
                if self.written != Some((tag, self.start)) {
                    self.bytes_mut()[at..at + prefix.len()].copy_from_slice(prefix);
                    self.written = Some((tag, self.start));
                }
                at
            }
            None => self.start,
        };
        &self.bytes()[start..self.end]
    }

    /// Drops the first `n` bytes of the body. The dropped bytes are lost:
    /// the next tag is written over them.
    pub(crate) fn drop_front(&mut self, n: usize) {
        // The start only grows from TAG_ROOM, so the tag always fits.
        self.start = (self.start + n).min(self.end);
    }

    /// Keeps the first `n` bytes of the body.
    pub(crate) fn truncate(&mut self, n: usize) {
        self.end = self.start + n;
    }

    /// Sets the last byte of the body (used to put `]` back after a strip).
    pub(crate) fn set_last(&mut self, b: u8) {
        let end = self.end;
        self.bytes_mut()[end - 1] = b;
    }

    /// The body as `192.0.2.1`, written in place (IPv4 client addresses
    /// are the hot path of the connection check).
    pub(crate) fn for_ipv4(v4: std::net::Ipv4Addr) -> Self {
        let mut key = Self::new(&[]);
        let mut at = TAG_ROOM;
        let bytes = key.bytes_mut();
        for (n, octet) in v4.octets().into_iter().enumerate() {
            if n > 0 {
                bytes[at] = b'.';
                at += 1;
            }
            if octet >= 100 {
                bytes[at] = b'0' + octet / 100;
                at += 1;
            }
            if octet >= 10 {
                bytes[at] = b'0' + octet / 10 % 10;
                at += 1;
            }
            bytes[at] = b'0' + octet % 10;
            at += 1;
        }
        key.end = at;
        key
    }
}

/// The key that was found, and its value.
pub(crate) type Found<'m> = (Vec<u8>, &'m [u8]);

/// The map a search reads, and which kinds of key it can hold.
#[derive(Clone, Copy)]
pub(crate) struct Db<'m> {
    pub(crate) map: &'m dyn Map,
    pub(crate) shapes: Shapes,
    /// An index's own lookup for folded keys, when the map is one.
    pub(crate) folded: Option<Folded<'m>>,
}

impl<'m> Db<'m> {
    fn lookup(&self, key: &[u8]) -> Result<Option<&'m [u8]>, MapError> {
        match &self.folded {
            Some(folded) => folded.lookup(key),
            None => self.map.lookup(key),
        }
    }
}

/// One lookup: the key with its tag, then (in `+` mode) without; a kind
/// of key the map holds none of is not looked up. `digits` says that the
/// body is all digits and dots (an IPv4 walk), which spares working out
/// its kind again.
pub(crate) fn probe<'m, const N: usize>(
    db: &Db<'m>,
    key: &mut KeyBuf<N>,
    tag: Tag,
    untagged: bool,
    digits: bool,
) -> Result<Option<Found<'m>>, MapError> {
    // One pass over the body gives the kind of both keys (the untagged
    // key's own `word:` prefix, if it has one, is read as a tag, as the
    // index read it).
    let (tagged_held, plain_held) = if digits {
        let dots = key.body().iter().filter(|&&b| b == b'.').count();
        (db.shapes.may_hold_digits(Some(tag), dots), untagged && db.shapes.may_hold_digits(None, dots))
    } else {
        let (tagged, plain) = db.shapes.may_hold_both(tag, key.body());
        (tagged, untagged && plain)
    };
    if tagged_held {
        let tagged = key.key(Some(tag));
        if let Some(value) = db.lookup(tagged)? {
            return Ok(Some((tagged.to_vec(), value)));
        }
    }
    if plain_held {
        let plain = key.key(None);
        if let Some(value) = db.lookup(plain)? {
            return Ok(Some((plain.to_vec(), value)));
        }
    }
    Ok(None)
}

/// Where the last token starts: the last byte if it is an operator,
/// else the start of the trailing run of other bytes.
fn last_token_start(s: &[u8]) -> usize {
    match s.last() {
        None => 0,
        Some(&b) if is_operator(b) => s.len() - 1,
        Some(_) => s.iter().rposition(|&b| is_operator(b)).map_or(0, |i| i + 1),
    }
}

/// LookUpAddress's next key: the length to keep after removing a trailing
/// `::token` (IPv6 compressed form), else `:token`, else `.token` — each
/// only with at least one token left in front (`$+::$-`, `$+:$-`, `$+.$-`).
/// `None` when no rule applies and the walk ends.
pub(crate) fn strip_last(s: &[u8], dot_first: bool) -> Option<usize> {
    let t = last_token_start(s);
    if t == 0 {
        return None;
    }
    let head = &s[..t];
    let double = head.len() >= 3 && head.ends_with(b"::");
    let single = |sep: u8| head.len() >= 2 && head.ends_with(&[sep]);
    // LookUpDomain tries the IPv4 rule (`[$+.$-]`) before the IPv6 ones;
    // LookUpAddress the IPv6 ones first.
    if dot_first && single(b'.') {
        return Some(t - 1);
    }
    if double {
        return Some(t - 2);
    }
    if single(b':') {
        return Some(t - 1);
    }
    if !dot_first && single(b'.') {
        return Some(t - 1);
    }
    None
}

/// LookUpDomain's `$+.$+`: the first `.` with something on both sides.
pub(crate) fn first_dot(s: &[u8]) -> Option<usize> {
    let i = s.iter().skip(1).position(|&b| b == b'.')? + 1;
    (i + 1 < s.len()).then_some(i)
}

/// The text sendmail puts in `{client_addr}`: dotted quad for IPv4 (an
/// IPv4-mapped IPv6 address counts as IPv4), `IPv6:` and eight groups
/// without leading zeros for IPv6, or the compressed (`inet_ntop`) form
/// when `compressed` (sendmail's UseCompressedIPv6Addresses).
pub fn client_addr_text(addr: IpAddr, compressed: bool) -> String {
    AddrText::new(addr, compressed).as_str().to_string()
}

/// A client address written on the stack (at most `IPv6:` and 39 characters).
pub(crate) struct AddrText {
    buf: [u8; 64],
    len: usize,
}

impl AddrText {
    pub(crate) fn new(addr: IpAddr, compressed: bool) -> Self {
        let mut text = Self { buf: [0; 64], len: 0 };
        write_client_addr(&mut text, addr, compressed);
        text
    }

    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    pub(crate) fn as_str(&self) -> &str {
        std::str::from_utf8(self.as_bytes()).unwrap_or_default()
    }
}

impl std::fmt::Write for AddrText {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        for &b in s.as_bytes() {
            *self.buf.get_mut(self.len).ok_or(std::fmt::Error)? = b;
            self.len += 1;
        }
        Ok(())
    }
}

pub(crate) fn write_client_addr(out: &mut impl std::fmt::Write, addr: IpAddr, compressed: bool) {
    match addr.to_canonical() {
        IpAddr::V4(v4) => {
            // By hand: the Display of Ipv4Addr pads, and cost more than
            // the rest of an access walk.
            const DIGITS: &str = "0123456789";
            for (n, octet) in v4.octets().into_iter().enumerate() {
                if n > 0 {
                    let _ = out.write_str(".");
                }
                let octet = usize::from(octet);
                if octet >= 100 {
                    let _ = out.write_str(&DIGITS[octet / 100..=octet / 100]);
                }
                if octet >= 10 {
                    let _ = out.write_str(&DIGITS[octet / 10 % 10..=octet / 10 % 10]);
                }
                let _ = out.write_str(&DIGITS[octet % 10..=octet % 10]);
            }
        }
        IpAddr::V6(v6) if compressed => {
            let _ = write!(out, "IPv6:{v6}");
        }
        IpAddr::V6(v6) => {
            let _ = out.write_str("IPv6");
            for group in v6.segments() {
                let _ = write!(out, ":{group:x}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn walk(s: &str, dot_first: bool) -> Vec<String> {
        let mut out = vec![s.to_string()];
        let mut cur = s.as_bytes().to_vec();
        while let Some(n) = strip_last(&cur, dot_first) {
            cur.truncate(n);
            out.push(String::from_utf8(cur.clone()).unwrap());
        }
        out
    }

    #[test]
    fn ipv4_walks_whole_octets() {
        assert_eq!(walk("192.168.1.77", false), ["192.168.1.77", "192.168.1", "192.168", "192"]);
    }

    #[test]
    fn ipv6_walks_groups_down_to_the_tag() {
        let walked = walk("IPv6:2001:db8:2:0:0:0:0:5", false);
        assert_eq!(walked[1], "IPv6:2001:db8:2:0:0:0:0");
        assert_eq!(walked.last().unwrap(), "IPv6");
        assert_eq!(walked.len(), 9);
        assert_eq!(
            walk("IPv6:2001:db8:2::5", false),
            ["IPv6:2001:db8:2::5", "IPv6:2001:db8:2", "IPv6:2001:db8", "IPv6:2001", "IPv6"]
        );
        assert_eq!(walk("IPv6:::1", false), ["IPv6:::1", "IPv6:"]);
    }

    #[test]
    fn the_first_dot_needs_a_label_on_each_side() {
        assert_eq!(first_dot(b"a.b.c"), Some(1));
        assert_eq!(first_dot(b".b"), None);
        assert_eq!(first_dot(b"a."), None);
        assert_eq!(first_dot(b"a..b"), Some(1));
    }

    #[test]
    fn client_addresses_are_rendered_as_sendmail_does() {
        let v6: IpAddr = "2001:db8:2::5".parse().unwrap();
        assert_eq!(client_addr_text(v6, false), "IPv6:2001:db8:2:0:0:0:0:5");
        assert_eq!(client_addr_text(v6, true), "IPv6:2001:db8:2::5");
        assert_eq!(client_addr_text("::ffff:192.0.2.1".parse().unwrap(), false), "192.0.2.1");
        assert_eq!(client_addr_text("::1".parse().unwrap(), false), "IPv6:0:0:0:0:0:0:0:1");
    }

    #[test]
    fn a_key_carries_its_tag_in_front() {
        let mut key: KeyBuf = KeyBuf::new(&[b"A.B", b".Example"]);
        assert_eq!(key.key(Some(Tag::Connect)), b"connect:a.b.example");
        assert_eq!(key.key(None), b"a.b.example");
        key.drop_front(2);
        assert_eq!(key.key(Some(Tag::To)), b"to:b.example");
        key.truncate(1);
        assert_eq!(key.key(Some(Tag::From)), b"from:b");
        let long = vec![b'X'; 1000];
        let mut key: KeyBuf<SMALL> = KeyBuf::new(&[&long]);
        assert_eq!(key.key(Some(Tag::Connect)).len(), 1008);
    }
}
