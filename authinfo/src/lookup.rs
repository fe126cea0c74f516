//! Which keys are tried for a connection, in which order (spec
//! `authinfo.md` §1 and §1.1), and the lookup itself.
//!
//! # Modes
//!
//! * [`Mode::AuthInfoMap`], FEATURE(authinfo): `AuthInfo:<server_name>`,
//!   `AuthInfo:<server_addr>`, `AuthInfo:`; three exact lookups.
//! * [`Mode::AccessMap`], FEATURE(access_db) without FEATURE(authinfo):
//!   `AuthInfo:<server_name>` and each parent domain, then
//!   `AuthInfo:<server_addr>` and each shorter prefix, then `AuthInfo:`.
//!   A bracketed literal `server_name` such as `[192.0.2.25]` has no parents.
//!   IPv6 prefixes stop at `IPv6:<first group>`.
//!
//! `server_name` is the host connected to (an MX name, the canonical name of
//! a `[name]` route, or an address literal including its brackets);
//! `server_addr` is the peer address, IPv4 as a dotted quad and IPv6 as
//! `IPv6:` and eight uncompressed groups (`IPv6:2001:db8:0:0:0:0:0:25`)
//! unless [`LookupOptions::compressed_ipv6`] is set.
//!
//! # Extensions
//!
//! * **Route name** (spec §1.1 [EXT], on by default,
//!   [`LookupOptions::route_name`]): the next-hop name as written in the
//!   route, before canonicalisation, brackets and trailing dot removed, is
//!   tried right after the exact `server_name`, so a smart host
//!   `[smtp.isp.example]` that is a CNAME still finds
//!   `AuthInfo:smtp.isp.example`. In access-map mode the parents of
//!   `server_name` come next, then those of the route name.
//! * **Per-sender credentials** (smarthost's own, used only when the request
//!   names a sender): before any host key, these are tried for each host
//!   form `H` (the exact `server_name`, the route name if enabled, the
//!   formatted `server_addr`), in that order:
//!
//!   ```text
//!   AuthInfoFrom:alice@example.com:H     this sender
//!   AuthInfoFrom:@example.com:H          any sender in the domain
//!   ```
//!
//!   The value has the usual syntax. sendmail never looks up a key tagged
//!   `AuthInfoFrom:` (the tag differs from `AuthInfo:` before the colon), so
//!   such entries are inert in a map shared with sendmail and cannot change
//!   what any `AuthInfo:` entry means. The sender comes first and the host
//!   last; a host form never contains `@`, so the address part ends at the
//!   first `:` after the last `@`.
//!   There is no per-sender default for all hosts: credentials go only to
//!   hosts the key names.

use std::net::IpAddr;

use smarthost_maps::Map;

use crate::entry::{AuthEntry, AuthInfoError, Origin, parse_value};

/// The tag of sendmail's keys.
pub const AUTHINFO_TAG: &str = "AuthInfo:";
/// The tag of smarthost's per-sender keys (see the module docs).
pub const AUTHINFO_FROM_TAG: &str = "AuthInfoFrom:";

/// Which map layout the configuration uses.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Mode {
    /// FEATURE(authinfo): a separate map, exact keys only.
    #[default]
    AuthInfoMap,
    /// FEATURE(access_db): the access map, with parent domains and address
    /// prefixes.
    AccessMap,
}

/// How keys are built.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LookupOptions {
    /// The map layout.
    pub mode: Mode,
    /// Try the route's next-hop name after `server_name` (an extension; turn
    /// it off for strict sendmail compatibility).
    pub route_name: bool,
    /// Write IPv6 addresses with `::` compression, as sendmail does with the
    /// UseCompressedIPv6Addresses option.
    pub compressed_ipv6: bool,
}

impl Default for LookupOptions {
    fn default() -> Self {
        Self { mode: Mode::AuthInfoMap, route_name: true, compressed_ipv6: false }
    }
}

/// The connection credentials are looked up for.
///
/// ```
/// use smarthost_authinfo::{LookupOptions, LookupRequest};
///
/// let request = LookupRequest {
///     route_name: Some("[smtp.isp.example]"),
///     server_addr: Some("192.0.2.25".parse().unwrap()),
///     ..LookupRequest::new("smtp-pool.provider.example")
/// };
/// assert_eq!(
///     request.keys(&LookupOptions::default()),
///     [
///         "AuthInfo:smtp-pool.provider.example",
///         "AuthInfo:smtp.isp.example",
///         "AuthInfo:192.0.2.25",
///         "AuthInfo:",
///     ]
/// );
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LookupRequest<'a> {
    /// The host connected to; a trailing dot is ignored.
    pub server_name: &'a str,
    /// The peer's address.
    pub server_addr: Option<IpAddr>,
    /// The next-hop name as written in the route (`[smtp.isp.example]`).
    pub route_name: Option<&'a str>,
    /// The envelope sender, for per-sender credentials; `None` or empty for
    /// none.
    pub sender: Option<&'a str>,
}

/// A successful lookup.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Found {
    /// The key that matched, as tried.
    pub key: String,
    /// Its parsed value.
    pub entry: AuthEntry,
}

impl<'a> LookupRequest<'a> {
    /// A request for `server_name` with nothing else known.
    pub fn new(server_name: &'a str) -> Self {
        Self { server_name, ..Self::default() }
    }

    /// The keys to try, in order, without repeats.
    pub fn keys(&self, options: &LookupOptions) -> Vec<String> {
        let name = trim_name(self.server_name);
        let route = self.route_name.filter(|_| options.route_name).map(trim_route).filter(|r| !r.is_empty());
        let addr = self.server_addr.map(|a| format_addr(a, options.compressed_ipv6));

        let mut keys = Vec::new();
        let mut push = |key: String| {
            if !keys.contains(&key) {
                keys.push(key);
            }
        };
        if let Some(sender) = self.sender.filter(|s| !s.is_empty()) {
            let hosts = [Some(name), route, addr.as_deref()];
            let domain = sender.rfind('@').map(|at| &sender[at..]).filter(|d| d.len() > 1);
            for host in hosts.into_iter().flatten().filter(|h| !h.is_empty()) {
                push(format!("{AUTHINFO_FROM_TAG}{sender}:{host}"));
                if let Some(domain) = domain {
                    push(format!("{AUTHINFO_FROM_TAG}{domain}:{host}"));
                }
            }
        }
        let host_key = |host: &str| format!("{AUTHINFO_TAG}{host}");
        match options.mode {
            Mode::AuthInfoMap => {
                [Some(name), route, addr.as_deref()]
                    .into_iter()
                    .flatten()
                    .filter(|h| !h.is_empty())
                    .for_each(|h| push(host_key(h)));
            }
            Mode::AccessMap => {
                if !name.is_empty() {
                    push(host_key(name));
                }
                route.into_iter().for_each(|r| push(host_key(r)));
                domain_parents(name)
                    .chain(route.into_iter().flat_map(domain_parents))
                    .for_each(|h| push(host_key(h)));
                if let Some(addr) = &addr {
                    addr_prefixes(addr).for_each(|h| push(host_key(h)));
                }
            }
        }
        push(AUTHINFO_TAG.to_owned());
        keys
    }
}

/// Looks the request's keys up in `map` in order; the first key present wins
/// and is never merged with later ones.
///
/// A value that does not parse is an error with the key as its origin; the
/// caller then delivers without authenticating, as sendmail does ("authinfo
/// failed"), or defers. Map errors are temporary failures.
///
/// ```
/// use smarthost_authinfo::{LookupOptions, LookupRequest, lookup};
/// use smarthost_maps::{SourceOptions, TextMap};
///
/// let (map, _) = TextMap::from_source(b"AuthInfo:smtp.isp.example \"U:relay\" \"P:secret\"\n", &SourceOptions::default());
/// let found = lookup(&map, &LookupRequest::new("smtp.isp.example"), &LookupOptions::default())?.unwrap();
/// assert_eq!((found.key.as_str(), found.entry.authn.as_str()), ("AuthInfo:smtp.isp.example", "relay"));
/// # Ok::<(), smarthost_authinfo::AuthInfoError>(())
/// ```
pub fn lookup(
    map: &dyn Map,
    request: &LookupRequest<'_>,
    options: &LookupOptions,
) -> Result<Option<Found>, AuthInfoError> {
    lookup_in(map, request, options, &Origin::default())
}

/// [`lookup`], with `file` naming the map in error messages.
pub(crate) fn lookup_in(
    map: &dyn Map,
    request: &LookupRequest<'_>,
    options: &LookupOptions,
    file: &Origin,
) -> Result<Option<Found>, AuthInfoError> {
    for key in request.keys(options) {
        if let Some(value) = map.lookup(key.as_bytes())? {
            let origin = Origin { key: Some(key.clone()), ..file.clone() };
            let entry = parse_value(value, false, &origin)?;
            return Ok(Some(Found { key, entry }));
        }
    }
    Ok(None)
}

/// Formats a peer address the way sendmail's `${server_addr}` shows it.
///
/// ```
/// use smarthost_authinfo::format_addr;
///
/// assert_eq!(format_addr("2001:db8::25".parse().unwrap(), false), "IPv6:2001:db8:0:0:0:0:0:25");
/// assert_eq!(format_addr("2001:db8::25".parse().unwrap(), true), "IPv6:2001:db8::25");
/// assert_eq!(format_addr("192.0.2.25".parse().unwrap(), false), "192.0.2.25");
/// ```
pub fn format_addr(addr: IpAddr, compressed_ipv6: bool) -> String {
    match addr {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) if compressed_ipv6 => format!("IPv6:{v6}"),
        IpAddr::V6(v6) => {
            let groups: Vec<String> = v6.segments().iter().map(|g| format!("{g:x}")).collect();
            format!("IPv6:{}", groups.join(":"))
        }
    }
}

/// `server_name` without a trailing dot.
fn trim_name(name: &str) -> &str {
    name.strip_suffix('.').unwrap_or(name)
}

/// A route's next-hop name without brackets around a host name and without
/// a trailing dot; an address literal keeps its brackets, like `server_name`.
fn trim_route(route: &str) -> &str {
    let inner = route.strip_prefix('[').and_then(|r| r.strip_suffix(']'));
    match inner {
        Some(inner) if inner.parse::<IpAddr>().is_err() && !inner.starts_with("IPv6:") => trim_name(inner),
        _ => trim_name(route),
    }
}

/// The parent domains of `name`, nearest first; none for an address literal.
fn domain_parents(name: &str) -> impl Iterator<Item = &str> {
    let literal = name.starts_with('[');
    name.match_indices('.')
        .map(move |(at, _)| &name[at + 1..])
        .filter(move |parent| !literal && !parent.is_empty())
}

/// `addr` and its shorter prefixes, longest first: octets or groups removed
/// from the end, down to the first one (never the bare `IPv6` tag).
fn addr_prefixes(addr: &str) -> impl Iterator<Item = &str> {
    let (tag, body, separator) = match addr.strip_prefix("IPv6:") {
        Some(body) => ("IPv6:".len(), body, ':'),
        None => (0, addr, '.'),
    };
    let cuts = body.rmatch_indices(separator).map(move |(at, _)| tag + at);
    std::iter::once(addr)
        .chain(cuts.map(move |end| &addr[..end]))
        .filter(move |prefix| prefix.len() > tag && !prefix.ends_with(separator))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(request: LookupRequest<'_>, mode: Mode) -> Vec<String> {
        request.keys(&LookupOptions { mode, ..LookupOptions::default() })
    }

    #[test]
    fn access_mode_walks_parents_and_prefixes() {
        let request = LookupRequest {
            server_addr: Some("192.0.2.25".parse().unwrap()),
            ..LookupRequest::new("smtp.isp.example.")
        };
        assert_eq!(
            keys(request, Mode::AccessMap),
            [
                "AuthInfo:smtp.isp.example",
                "AuthInfo:isp.example",
                "AuthInfo:example",
                "AuthInfo:192.0.2.25",
                "AuthInfo:192.0.2",
                "AuthInfo:192.0",
                "AuthInfo:192",
                "AuthInfo:",
            ]
        );
    }

    #[test]
    fn ipv6_prefixes_uncompressed_and_compressed() {
        let addr: IpAddr = "2001:db8::25".parse().unwrap();
        let long: Vec<&str> = addr_prefixes("IPv6:2001:db8:0:0:0:0:0:25").collect();
        assert_eq!(long.len(), 8);
        assert_eq!(long[7], "IPv6:2001");
        let request = LookupRequest { server_addr: Some(addr), ..LookupRequest::new("[IPv6:2001:db8::25]") };
        let options =
            LookupOptions { mode: Mode::AccessMap, compressed_ipv6: true, ..LookupOptions::default() };
        assert_eq!(
            request.keys(&options),
            [
                "AuthInfo:[IPv6:2001:db8::25]",
                "AuthInfo:IPv6:2001:db8::25",
                "AuthInfo:IPv6:2001:db8",
                "AuthInfo:IPv6:2001",
                "AuthInfo:",
            ]
        );
    }

    #[test]
    fn literal_server_name_has_no_parents() {
        assert_eq!(
            keys(LookupRequest::new("[192.0.2.25]"), Mode::AccessMap),
            ["AuthInfo:[192.0.2.25]", "AuthInfo:"]
        );
    }

    #[test]
    fn route_name_comes_right_after_server_name_and_can_be_switched_off() {
        let request = LookupRequest {
            route_name: Some("[smtp.isp.example]"),
            ..LookupRequest::new("pool.provider.example")
        };
        assert_eq!(
            keys(request, Mode::AccessMap),
            [
                "AuthInfo:pool.provider.example",
                "AuthInfo:smtp.isp.example",
                "AuthInfo:provider.example",
                "AuthInfo:example",
                "AuthInfo:isp.example",
                "AuthInfo:",
            ]
        );
        let strict = LookupOptions { route_name: false, ..LookupOptions::default() };
        assert_eq!(request.keys(&strict), ["AuthInfo:pool.provider.example", "AuthInfo:"]);
        // A literal route keeps its brackets, like server_name does.
        assert_eq!(trim_route("[192.0.2.25]"), "[192.0.2.25]");
        assert_eq!(trim_route("[smtp.isp.example.]"), "smtp.isp.example");
    }

    #[test]
    fn sender_keys_come_first_for_each_host_form() {
        let request = LookupRequest {
            sender: Some("alice@example.com"),
            server_addr: Some("192.0.2.25".parse().unwrap()),
            ..LookupRequest::new("smtp.isp.example")
        };
        assert_eq!(
            keys(request, Mode::AuthInfoMap),
            [
                "AuthInfoFrom:alice@example.com:smtp.isp.example",
                "AuthInfoFrom:@example.com:smtp.isp.example",
                "AuthInfoFrom:alice@example.com:192.0.2.25",
                "AuthInfoFrom:@example.com:192.0.2.25",
                "AuthInfo:smtp.isp.example",
                "AuthInfo:192.0.2.25",
                "AuthInfo:",
            ]
        );
        let null_sender = LookupRequest { sender: Some(""), ..LookupRequest::new("smtp.isp.example") };
        assert_eq!(keys(null_sender, Mode::AuthInfoMap), ["AuthInfo:smtp.isp.example", "AuthInfo:"]);
    }
}
