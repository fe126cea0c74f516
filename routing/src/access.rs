//! The access database (spec access.md): tags, values and sendmail's exact
//! key-search sequences, over any [`Map`].
//!
//! [`AccessMap`] answers one question at a time — "which entry, if any,
//! decides this host name / client address / address for this tag?" — and
//! [`crate::Policy`] turns the answers into SMTP decisions. Keys are built
//! lower-case in a stack buffer, each walk allocating only for the key that
//! hits. [`AccessIndex`] prepares a loaded map for heavy use: IPv6 keys
//! normalised (the spec's \[REC\]) and a filter that answers most absent
//! keys without touching the map.

mod index;
pub(crate) mod keys;
mod lint;
mod value;

use std::net::IpAddr;

use smarthost_maps::{Error as MapError, Map};

use crate::{Address, Domain};
use keys::{AddrText, Db, KeyBuf, SMALL, first_dot, probe, strip_last};

pub use index::AccessIndex;
pub use keys::client_addr_text;
pub use lint::{AccessLint, lint_access};
pub use value::{AccessValue, ValueReply};

/// The tag in front of a key (`Connect:192.0.2.1`), naming what it is
/// checked against (access.md §2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Tag {
    /// The client's host name and address (check_relay, Relay_ok).
    Connect,
    /// The envelope sender (check_mail).
    From,
    /// The envelope recipient (check_rcpt).
    To,
    /// The recipient under `delay_checks` with `friend` or `hater`.
    Spam,
}

impl Tag {
    /// The tag as sendmail spells it: `Connect`, `From`, `To`, `Spam`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Connect => "Connect",
            Self::From => "From",
            Self::To => "To",
            Self::Spam => "Spam",
        }
    }

    /// The tag and its colon as looked up: lower case, because sendmail
    /// folds every access key before the lookup (maps.md §2).
    pub(crate) fn key_prefix(self) -> &'static str {
        match self {
            Self::Connect => "connect:",
            Self::From => "from:",
            Self::To => "to:",
            Self::Spam => "spam:",
        }
    }
}

/// Whether a lookup also tries the key without its tag (sendmail's `+` and
/// `!` marks).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// `+`: the tagged key, then the untagged key, at each step.
    WithUntagged,
    /// `!`: the tagged key only.
    TagOnly,
}

/// How keys are searched; each field is a sendmail FEATURE argument or option.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AccessOptions {
    /// `SKIP` values are understood (sendmail: `FEATURE(access_db, skip)`).
    ///
    /// On by default, unlike sendmail: a file that works in sendmail
    /// without the option has no `SKIP` values (each one would refuse mail
    /// with `553 5.3.0 SKIP`), so turning it on changes no working file.
    /// [`AccessOptions::sendmail`] turns it off.
    pub skip: bool,
    /// Also try `.parent` keys, which match sub-domains only
    /// (`FEATURE(access_db, lookupdotdomain)`). Off, as in sendmail.
    pub lookup_dot_domain: bool,
    /// Client addresses and IPv6 literals are written compressed
    /// (`IPv6:2001:db8::5`) rather than as eight groups (sendmail's
    /// `UseCompressedIPv6Addresses`). Off, as in sendmail.
    pub compressed_ipv6: bool,
    /// An [`AccessIndex`] normalises IPv6 keys written with `::` or leading
    /// zeros to the spelling the search uses (access.md §4.2 \[REC\]). On by
    /// default; sendmail never matches such keys.
    pub normalise_ipv6_keys: bool,
}

impl Default for AccessOptions {
    fn default() -> Self {
        Self { skip: true, lookup_dot_domain: false, compressed_ipv6: false, normalise_ipv6_keys: true }
    }
}

impl AccessOptions {
    /// sendmail's behaviour for `FEATURE(access_db)` without arguments:
    /// no `SKIP`, IPv6 keys only as written.
    pub fn sendmail() -> Self {
        Self { skip: false, normalise_ipv6_keys: false, ..Self::default() }
    }
}

/// The entry that decided a lookup: the key as looked up (lower case, with
/// its tag if it had one) and the value as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccessHit<'m> {
    /// The key that was found, e.g. `connect:192.168.1`.
    pub key: String,
    /// The value as stored.
    pub raw: &'m [u8],
    /// The value, read.
    pub value: AccessValue<'m>,
}

impl AccessHit<'_> {
    /// Whether the entry is `SKIP`: the item's search stops and the
    /// default applies.
    pub fn is_skip(&self) -> bool {
        self.value == AccessValue::Skip
    }
}

/// Which parts of an address a search tries (sendmail's SearchList items),
/// in this order: the full address (`F`), the local part (`U`, keys ending
/// in `@`), the domain (`D`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Parts {
    /// `user+detail@domain`, `user+*@domain`, `user@domain`.
    pub full: bool,
    /// `user+detail@`, `user+*@`, `user@`.
    pub user: bool,
    /// The domain and its parents (or a literal's prefixes).
    pub domain: bool,
}

impl Parts {
    /// Full address, user part and domain: the sender check's search.
    pub const ALL: Self = Self { full: true, user: true, domain: true };
    /// Full address and domain: the search for a non-local recipient.
    pub const FULL_AND_DOMAIN: Self = Self { full: true, user: false, domain: true };
}

/// Lookups in an access map with sendmail's key-search sequences
/// (access.md §4). Cheap to copy.
///
/// ```
/// use smarthost_maps::{SourceOptions, TextMap};
/// use smarthost_routing::{AccessMap, AccessOptions, AccessValue, Mode, Tag};
///
/// let (map, _) = TextMap::from_source(b"Connect:192.168.1 RELAY\nexample.com REJECT\n", &SourceOptions::default());
/// let access = AccessMap::new(&map, AccessOptions::default());
/// let hit = access.lookup_client_addr("192.168.1.77".parse()?, Tag::Connect, Mode::WithUntagged)?.unwrap();
/// assert_eq!((hit.key.as_str(), hit.value), ("connect:192.168.1", AccessValue::Relay));
/// assert!(access.lookup_client_addr("192.168.10.5".parse()?, Tag::Connect, Mode::WithUntagged)?.is_none());
/// let hit = access.lookup_host("mx.Example.COM", Tag::Connect, Mode::WithUntagged)?.unwrap();
/// assert_eq!(hit.key, "example.com");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy)]
pub struct AccessMap<'m> {
    db: Db<'m>,
    options: AccessOptions,
}

impl std::fmt::Debug for AccessMap<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessMap").field("options", &self.options).finish_non_exhaustive()
    }
}

impl<'m> AccessMap<'m> {
    /// Access lookups in `map` (compiled, text, or an [`AccessIndex`]).
    pub fn new(map: &'m dyn Map, options: AccessOptions) -> Self {
        Self { db: Db { map, shapes: index::Shapes::ALL, folded: None }, options }
    }

    /// Access lookups through an [`AccessIndex`], which also tells which
    /// kinds of key the map holds: a search skips the kinds it has none of
    /// (no bracketed keys, no untagged addresses, ...), so most of a walk
    /// costs nothing. The answers are those of [`AccessMap::new`].
    pub fn indexed<M: Map>(index: &'m AccessIndex<M>, options: AccessOptions) -> Self {
        Self { db: Db { map: index, shapes: index.shapes(), folded: Some(index.folded()) }, options }
    }

    /// The options the lookups follow.
    pub fn options(&self) -> AccessOptions {
        self.options
    }

    /// sendmail's LookUpDomain (`D`, access.md §4.1) for a host name: at
    /// each level the tagged then (in [`Mode::WithUntagged`]) the untagged
    /// key, with `lookupdotdomain` also `.parent`, from the whole name to
    /// its last label. A bracketed name (`[192.0.2.7]`, `[IPv6:...]`) walks
    /// its address prefixes inside the brackets instead.
    ///
    /// The first key found decides, even a `SKIP` (which the caller takes
    /// as "nothing found").
    pub fn lookup_host(&self, host: &str, tag: Tag, mode: Mode) -> Result<Option<AccessHit<'m>>, MapError> {
        let host = host.strip_suffix('.').unwrap_or(host);
        self.walk_host(&mut KeyBuf::<{ keys::LARGE }>::new(&[host.as_bytes()]), tag, mode)
    }

    /// LookUpDomain of `[address]`, the name of a client without one.
    pub(crate) fn lookup_bracketed_addr(
        &self,
        addr: IpAddr,
        tag: Tag,
        mode: Mode,
    ) -> Result<Option<AccessHit<'m>>, MapError> {
        // Every key of this walk is bracketed (but for `.parent` keys):
        // a map without bracketed keys answers nothing.
        let untagged = mode == Mode::WithUntagged;
        if !self.options.lookup_dot_domain && !self.db.shapes.may_hold_bracketed(tag, untagged) {
            return Ok(None);
        }
        let text = AddrText::new(addr, self.options.compressed_ipv6);
        self.walk_host(&mut KeyBuf::<SMALL>::new(&[b"[", text.as_bytes(), b"]"]), tag, mode)
    }

    /// LookUpDomain for an address's domain: a name as in
    /// [`AccessMap::lookup_host`], a literal in brackets (IPv6 written as a
    /// client address is, see [`client_addr_text`]).
    pub fn lookup_domain(
        &self,
        domain: &Domain,
        tag: Tag,
        mode: Mode,
    ) -> Result<Option<AccessHit<'m>>, MapError> {
        match domain {
            Domain::Name(name) => self.lookup_host(name, tag, mode),
            Domain::Ipv4(_) | Domain::Ipv6(_) => self.lookup_host(&self.domain_text(domain), tag, mode),
        }
    }

    /// sendmail's LookUpAddress (`A`, access.md §4.2) for a client address:
    /// `192.168.1.77`, `192.168.1`, `192.168`, `192`, tagged then untagged;
    /// IPv6 as `IPv6:` and its groups, one group fewer at each step.
    pub fn lookup_client_addr(
        &self,
        addr: IpAddr,
        tag: Tag,
        mode: Mode,
    ) -> Result<Option<AccessHit<'m>>, MapError> {
        let mut key = match addr.to_canonical() {
            IpAddr::V4(v4) => KeyBuf::<SMALL>::for_ipv4(v4),
            IpAddr::V6(_) => KeyBuf::new(&[AddrText::new(addr, self.options.compressed_ipv6).as_bytes()]),
        };
        self.walk_addr(&mut key, tag, mode)
    }

    /// LookUpAddress on any text, by sendmail's token rules: remove a
    /// trailing `::group`, else `:group`, else `.part`, until none is left.
    pub fn lookup_addr_text(
        &self,
        text: &str,
        tag: Tag,
        mode: Mode,
    ) -> Result<Option<AccessHit<'m>>, MapError> {
        self.walk_addr(&mut KeyBuf::<{ keys::LARGE }>::new(&[text.as_bytes()]), tag, mode)
    }

    fn walk_addr<const N: usize>(
        &self,
        key: &mut KeyBuf<N>,
        tag: Tag,
        mode: Mode,
    ) -> Result<Option<AccessHit<'m>>, MapError> {
        let untagged = mode == Mode::WithUntagged;
        // Every prefix of digits and dots is digits and dots.
        let digits = key.body().iter().all(|b| b.is_ascii_digit() || *b == b'.');
        loop {
            if let Some(hit) = probe(&self.db, key, tag, untagged, digits)? {
                return Ok(Some(self.hit(hit)));
            }
            match strip_last(key.body(), false) {
                Some(keep) => key.truncate(keep),
                None => return Ok(None),
            }
        }
    }

    /// The exact key only, tagged then untagged (sendmail's `E`; also
    /// what `relay_hosts_only` uses instead of LookUpDomain).
    pub fn lookup_exact(&self, text: &str, tag: Tag, mode: Mode) -> Result<Option<AccessHit<'m>>, MapError> {
        let mut key: KeyBuf = KeyBuf::new(&[text.as_bytes()]);
        Ok(probe(&self.db, &mut key, tag, mode == Mode::WithUntagged, false)?.map(|hit| self.hit(hit)))
    }

    /// sendmail's SearchList over an address (access.md §4.3): the full
    /// address (`F`), the local part (`U`), the domain (`D`), in that order,
    /// as `parts` selects; an unqualified address has only its local part.
    /// The first entry found decides; a `SKIP` ends only its own item.
    pub fn search_address(
        &self,
        address: &Address,
        tag: Tag,
        mode: Mode,
        parts: Parts,
    ) -> Result<Option<AccessHit<'m>>, MapError> {
        let domain = address.domain();
        let local = address.quoted_local_part();
        let split = detail_split(address);
        let mut found = None;
        if parts.full
            && let Some(domain) = domain
        {
            let domain = self.domain_text(domain);
            found = self.lookup_local(&local, split, &domain, tag, mode)?;
        }
        if found.as_ref().is_none_or(AccessHit::is_skip) && (parts.user || domain.is_none()) {
            found = self.lookup_local(&local, split, "", tag, mode)?;
        }
        if found.as_ref().is_none_or(AccessHit::is_skip)
            && parts.domain
            && let Some(domain) = domain
        {
            found = self.lookup_domain(domain, tag, mode)?;
        }
        Ok(found.filter(|hit| !hit.is_skip()))
    }

    /// The domain as its keys spell it: the name, `[192.0.2.1]`, or
    /// `[IPv6:...]` in the client-address form.
    pub(crate) fn domain_text(&self, domain: &Domain) -> String {
        match domain {
            Domain::Name(name) => name.clone(),
            Domain::Ipv4(v4) => format!("[{v4}]"),
            Domain::Ipv6(v6) => {
                format!("[{}]", client_addr_text(IpAddr::V6(*v6), self.options.compressed_ipv6))
            }
        }
    }

    /// `F` (`domain` given): `local@domain`, then with a `+detail`,
    /// `user+*@domain` and `user@domain`; `U` (no domain): `local@`,
    /// `user+*@`, `user@`.
    fn lookup_local(
        &self,
        local: &str,
        split: Option<usize>,
        domain: &str,
        tag: Tag,
        mode: Mode,
    ) -> Result<Option<AccessHit<'m>>, MapError> {
        let untagged = mode == Mode::WithUntagged;
        let (local, domain) = (local.as_bytes(), domain.as_bytes());
        let mut key: KeyBuf = KeyBuf::new(&[local, b"@", domain]);
        if let Some(hit) = probe(&self.db, &mut key, tag, untagged, false)? {
            return Ok(Some(self.hit(hit)));
        }
        if let Some(user_end) = split {
            let user = &local[..user_end];
            for parts in [[user, b"+*@", domain], [user, b"@", domain]] {
                key.set_body(&parts);
                if let Some(hit) = probe(&self.db, &mut key, tag, untagged, false)? {
                    return Ok(Some(self.hit(hit)));
                }
            }
        }
        Ok(None)
    }

    fn walk_host<const N: usize>(
        &self,
        key: &mut KeyBuf<N>,
        tag: Tag,
        mode: Mode,
    ) -> Result<Option<AccessHit<'m>>, MapError> {
        let untagged = mode == Mode::WithUntagged;
        loop {
            if let Some(hit) = probe(&self.db, key, tag, untagged, false)? {
                return Ok(Some(self.hit(hit)));
            }
            if self.options.lookup_dot_domain
                && let Some(dot) = first_dot(key.body())
            {
                // A key of its own: writing a tag in front of `.parent` in
                // `key` would overwrite the label before it.
                let mut parent: KeyBuf = KeyBuf::new(&[&key.body()[dot..]]);
                if let Some(hit) = probe(&self.db, &mut parent, tag, untagged, false)? {
                    return Ok(Some(self.hit(hit)));
                }
            }
            let body = key.body();
            if body.len() >= 2
                && body[0] == b'['
                && body[body.len() - 1] == b']'
                && let Some(keep) = strip_last(&body[1..body.len() - 1], true)
            {
                key.truncate(keep + 2);
                key.set_last(b']');
                continue;
            }
            match first_dot(key.body()) {
                Some(dot) => key.drop_front(dot + 1),
                None => return Ok(None),
            }
        }
    }

    fn hit(&self, (key, raw): keys::Found<'m>) -> AccessHit<'m> {
        let key =
            String::from_utf8(key).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
        AccessHit { key, raw, value: AccessValue::parse(raw, self.options.skip) }
    }
}

/// Where the user part ends when the local part has a `+detail`: the first
/// `+` after at least one character (sendmail's `$+ + $*`), and only in an
/// unquoted local part (in a quoted one the `+` is not a token).
pub(crate) fn detail_split(address: &Address) -> Option<usize> {
    if address.is_quoted() {
        return None;
    }
    let local = address.local_part();
    local.bytes().skip(1).position(|b| b == b'+').map(|i| i + 1)
}

#[cfg(test)]
mod tests;
