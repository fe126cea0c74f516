//! Next hops through DNS: MX records, address records and the rules
//! sendmail applies to them (mailertable.md §6.1, §6.2, §8).
//!
//! The rules live in [`resolve_next_hops`]; the lookups behind them go
//! through the object-safe [`Resolver`] trait. [`ZoneResolver`] answers
//! from zone-file-like text (tests, the route explainer, offline use);
//! `HickoryResolver` (cargo feature `hickory`) asks real name servers.

use std::collections::hash_map::RandomState;
use std::future::Future;
use std::hash::{BuildHasher, Hasher};
use std::net::IpAddr;
use std::pin::Pin;

use crate::host::{Host, HostSpec};
use crate::local::LocalNames;

#[cfg(feature = "hickory")]
mod hickory;
mod zone;

#[cfg(feature = "hickory")]
pub use hickory::{HickoryResolver, HickorySetupError};
pub use zone::{ZoneError, ZoneResolver};

/// The future a [`Resolver`] returns: boxed so the trait stays object-safe.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// DNS lookups that next-hop resolution needs.
///
/// Names are passed as written in the route or as found in an MX record; a
/// trailing dot marks an absolute name. Implementations answer with the
/// records found, or with a [`DnsError`] that says whether the name does not
/// exist, has no records of that type, or could not be looked up right now.
pub trait Resolver: Send + Sync {
    /// The MX records of `name`, in any order.
    fn mx<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<Vec<Mx>, DnsError>>;

    /// The addresses of `name`: its A records, then its AAAA records.
    ///
    /// Succeeds when either type has records; fails with
    /// [`DnsError::NoRecords`] only when neither has any.
    fn ip<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<Vec<IpAddr>, DnsError>>;
}

/// One MX record.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Mx {
    /// The preference: lower is tried first.
    pub preference: u16,
    /// The mail exchanger's name; `.` (the root) in a null MX (RFC 7505).
    pub exchange: String,
}

/// Why a lookup found nothing.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DnsError {
    /// NXDOMAIN: the name does not exist. Permanent.
    #[error("host not found")]
    NoSuchDomain,
    /// NODATA: the name exists but has no records of the type asked for.
    #[error("no data known")]
    NoRecords,
    /// SERVFAIL, a timeout, a refusal, a network error: anything that may
    /// succeed later. The text says which.
    #[error("{0}")]
    Temporary(String),
}

/// Where to connect: one address of one host, in the order to try.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct NextHop {
    /// The name to verify the server's certificate against and to send as
    /// SNI: the MX target, the bracketed or implicit-MX name (without a
    /// trailing dot), or for an address literal the address as text.
    pub host_name: String,
    /// The address to connect to.
    pub addr: IpAddr,
    /// The TCP port: the route's port if it gave one, else the default.
    pub port: u16,
    /// The MX preference; 0 for address literals, bracketed names and
    /// implicit MX (RFC 5321 §5.1).
    pub preference: u32,
    /// The host-list preference group the hop came from ([`HostSpec::group`]).
    pub group: u16,
}

/// Why a host list yielded no next hop, as the SMTP reply to report.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{code} {}.{}.{} {text}", enhanced.0, enhanced.1, enhanced.2)]
pub struct RouteFailure {
    /// Whether the message stays queued (4xx) rather than bounces (5xx).
    pub temporary: bool,
    /// The SMTP reply code.
    pub code: u16,
    /// The enhanced status code (RFC 3463), as class, subject, detail.
    pub enhanced: (u8, u16, u16),
    /// The reply text.
    pub text: String,
}

/// What counts as "this host" for the rule that mail must not loop back
/// through an MX list (sendmail's class `w`). [`LocalNames`] is one.
pub trait ThisHost: Sync {
    /// Whether `name` (maybe with a trailing dot, any case) names this host.
    fn is_this_name(&self, name: &str) -> bool;
    /// Whether `addr` is one of this host's addresses.
    fn is_this_addr(&self, addr: IpAddr) -> bool;
}

impl ThisHost for LocalNames {
    fn is_this_name(&self, name: &str) -> bool {
        self.contains_name(name)
    }

    fn is_this_addr(&self, addr: IpAddr) -> bool {
        self.contains_addr(addr)
    }
}

/// Resolves a route's host list into the addresses to try, in order.
///
/// Each element is resolved on its own (mailertable.md §6.1):
/// * an address literal is used as is;
/// * a bracketed name (`mx == false`) is looked up for A and AAAA only;
/// * any other name is looked up for MX records, tried by preference with
///   equal preferences in random order (`shuffle_seed` picks the order, so
///   tests can fix it; use [`random_seed`] otherwise). Without MX records the
///   name's own addresses are used (implicit MX). A null MX (a single MX
///   record `0 .`, RFC 7505) fails with `556 5.1.10`. If an MX target is
///   `this_host` (by name or by address), it and every MX with the same or
///   a worse preference are dropped; if none is left the element fails with
///   `554 5.4.6` (sendmail: "mail loops back to me").
///   Address literals and bracketed names are never dropped: pointing a
///   route at this host on purpose (a content filter on another port) is
///   allowed.
///
/// The results are ordered by preference group ([`HostSpec::group`]), then
/// MX preference, then host-list order; an address reached twice on the
/// same port is kept once, at its first place. The port is the element's
/// own port if it has one, else `default_port`.
///
/// Elements that fail are skipped; only when every element fails does the
/// list fail, with the first temporary failure if there was one (a DNS
/// problem never bounces mail while another element might work later),
/// else the first permanent one: `550 5.1.2` for a name that does not exist
/// or has no addresses, `451 4.4.3` for a lookup that may succeed later.
pub async fn resolve_next_hops(
    hosts: &[HostSpec],
    default_port: u16,
    resolver: &dyn Resolver,
    this_host: &dyn ThisHost,
    shuffle_seed: u64,
) -> Result<Vec<NextHop>, RouteFailure> {
    let mut rng = SplitMix64(shuffle_seed);
    let mut hops = Vec::new();
    let mut failures = Failures::default();
    for spec in hosts {
        let ctx = ElementContext {
            port: spec.port.unwrap_or(default_port),
            group: spec.group,
            resolver,
            this_host,
        };
        match ctx.resolve(spec, &mut rng).await {
            Ok(found) => hops.extend(found),
            Err(failure) => failures.add(failure),
        }
    }
    if hops.is_empty() {
        return Err(failures.into_failure());
    }
    // Stable: host-list order and the shuffled MX order survive within a
    // (group, preference) pair.
    hops.sort_by_key(|hop| (hop.group, hop.preference));
    let mut seen = Vec::new();
    hops.retain(|hop| {
        let key = (hop.addr, hop.port);
        let first = !seen.contains(&key);
        seen.push(key);
        first
    });
    Ok(hops)
}

/// A seed for [`resolve_next_hops`] that differs from call to call.
pub fn random_seed() -> u64 {
    RandomState::new().build_hasher().finish()
}

impl RouteFailure {
    /// `550 5.1.2 Host unknown (Name server: NAME: host not found)`.
    pub fn host_unknown(name: &str, error: &DnsError) -> Self {
        RouteFailure {
            temporary: false,
            code: 550,
            enhanced: (5, 1, 2),
            text: format!("Host unknown (Name server: {}: {error})", display_name(name)),
        }
    }

    /// `451 4.4.3 Host name lookup failure (Name server: NAME: DETAIL)`.
    pub fn lookup_failure(name: &str, detail: &str) -> Self {
        RouteFailure {
            temporary: true,
            code: 451,
            enhanced: (4, 4, 3),
            text: format!("Host name lookup failure (Name server: {}: {detail})", display_name(name)),
        }
    }

    /// `556 5.1.10 Recipient address has null MX (DOMAIN accepts no mail)`.
    pub fn null_mx(domain: &str) -> Self {
        RouteFailure {
            temporary: false,
            code: 556,
            enhanced: (5, 1, 10),
            text: format!("Recipient address has null MX ({} accepts no mail)", display_name(domain)),
        }
    }

    /// `554 5.4.6 MX list for DOMAIN points back to HOST (config error: mail
    /// loops back to me)`, where HOST is the MX target that is this host.
    pub fn loops_back(domain: &str, this_host: &str) -> Self {
        RouteFailure {
            temporary: false,
            code: 554,
            enhanced: (5, 4, 6),
            text: format!(
                "MX list for {} points back to {this_host} (config error: mail loops back to me)",
                display_name(domain)
            ),
        }
    }

    fn from_dns(name: &str, error: &DnsError) -> Self {
        match error {
            DnsError::Temporary(detail) => Self::lookup_failure(name, detail),
            DnsError::NoSuchDomain | DnsError::NoRecords => Self::host_unknown(name, error),
        }
    }
}

/// The per-element inputs of [`resolve_next_hops`].
struct ElementContext<'a> {
    port: u16,
    group: u16,
    resolver: &'a dyn Resolver,
    this_host: &'a dyn ThisHost,
}

impl ElementContext<'_> {
    async fn resolve(&self, spec: &HostSpec, rng: &mut SplitMix64) -> Result<Vec<NextHop>, RouteFailure> {
        match (&spec.host, spec.mx) {
            (Host::Ip(addr), _) => Ok(vec![self.hop(&addr.to_string(), *addr, 0)]),
            (Host::Name(name), false) => self.addresses(name, 0).await,
            (Host::Name(name), true) => self.mx_hosts(name, rng).await,
        }
    }

    /// The hops for the addresses of `name`.
    async fn addresses(&self, name: &str, preference: u32) -> Result<Vec<NextHop>, RouteFailure> {
        let addrs = self.resolver.ip(name).await.map_err(|e| RouteFailure::from_dns(name, &e))?;
        let host_name = display_name(name);
        Ok(addrs.into_iter().map(|addr| self.hop(host_name, addr, preference)).collect())
    }

    /// The hops for the MX records of `domain`, or its implicit MX.
    async fn mx_hosts(&self, domain: &str, rng: &mut SplitMix64) -> Result<Vec<NextHop>, RouteFailure> {
        let mut records = match self.resolver.mx(domain).await {
            Ok(records) if !records.is_empty() => records,
            Ok(_) | Err(DnsError::NoRecords) => return self.addresses(domain, 0).await,
            Err(e) => return Err(RouteFailure::from_dns(domain, &e)),
        };
        let usable = records.iter().filter(|mx| !is_root(&mx.exchange)).count();
        if usable == 0 {
            return Err(RouteFailure::null_mx(domain));
        }
        // RFC 7505 §3: a "." among other MX records is just unusable.
        records.retain(|mx| !is_root(&mx.exchange));
        records.sort_by_key(|mx| mx.preference);
        shuffle_equal_preferences(&mut records, rng);

        let mut targets = Vec::with_capacity(records.len());
        for mx in records {
            let addrs = self.resolver.ip(&mx.exchange).await;
            targets.push((mx, addrs));
        }
        // Sorted, so the first one of ours has the best preference of ours.
        let ours = targets
            .iter()
            .find(|(mx, addrs)| self.is_this_host(&mx.exchange, addrs))
            .map(|(mx, _)| (mx.preference, display_name(&mx.exchange).to_owned()));
        if let Some((cutoff, ours)) = ours {
            targets.retain(|(mx, _)| mx.preference < cutoff);
            if targets.is_empty() {
                return Err(RouteFailure::loops_back(domain, &ours));
            }
        }

        let mut hops = Vec::new();
        let mut failures = Failures::default();
        for (mx, addrs) in targets {
            match addrs {
                Ok(addrs) => {
                    let name = display_name(&mx.exchange);
                    let pref = u32::from(mx.preference);
                    hops.extend(addrs.into_iter().map(|addr| self.hop(name, addr, pref)));
                }
                Err(e) => failures.add(RouteFailure::from_dns(&mx.exchange, &e)),
            }
        }
        if hops.is_empty() {
            return Err(failures.into_failure());
        }
        Ok(hops)
    }

    fn is_this_host(&self, name: &str, addrs: &Result<Vec<IpAddr>, DnsError>) -> bool {
        self.this_host.is_this_name(name)
            || addrs.as_ref().is_ok_and(|addrs| addrs.iter().any(|addr| self.this_host.is_this_addr(*addr)))
    }

    fn hop(&self, host_name: &str, addr: IpAddr, preference: u32) -> NextHop {
        NextHop { host_name: host_name.to_owned(), addr, port: self.port, preference, group: self.group }
    }
}

/// Collects the failures of host-list elements and picks the one to report.
#[derive(Default)]
struct Failures {
    first_temporary: Option<RouteFailure>,
    first_permanent: Option<RouteFailure>,
}

impl Failures {
    fn add(&mut self, failure: RouteFailure) {
        let slot = if failure.temporary { &mut self.first_temporary } else { &mut self.first_permanent };
        slot.get_or_insert(failure);
    }

    fn into_failure(self) -> RouteFailure {
        self.first_temporary.or(self.first_permanent).unwrap_or_else(|| RouteFailure {
            temporary: false,
            code: 554,
            enhanced: (5, 3, 5),
            text: "Empty host list".to_owned(),
        })
    }
}

/// Randomises the order within each run of equal preferences of a list
/// sorted by preference (RFC 5321 §5.1).
fn shuffle_equal_preferences(records: &mut [Mx], rng: &mut SplitMix64) {
    let mut start = 0;
    while start < records.len() {
        let pref = records[start].preference;
        let len = records[start..].iter().take_while(|mx| mx.preference == pref).count();
        let run = &mut records[start..start + len];
        // Fisher–Yates.
        for i in (1..run.len()).rev() {
            let j = rng.below(i as u64 + 1) as usize;
            run.swap(i, j);
        }
        start += len;
    }
}

/// SplitMix64: small, seedable, good enough to spread load over MX hosts.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..bound` (`bound > 0`); the modulo bias is negligible
    /// for MX lists.
    fn below(&mut self, bound: u64) -> u64 {
        self.next() % bound
    }
}

/// Merges the A and AAAA answers for one name into [`Resolver::ip`]'s
/// answer: any address wins, then a temporary failure (the other type might
/// have had addresses), then NXDOMAIN, then NODATA.
pub(crate) fn merge_ip_answers(
    a: Result<Vec<IpAddr>, DnsError>,
    aaaa: Result<Vec<IpAddr>, DnsError>,
) -> Result<Vec<IpAddr>, DnsError> {
    match (a, aaaa) {
        (Ok(mut v4), Ok(v6)) => {
            v4.extend(v6);
            if v4.is_empty() { Err(DnsError::NoRecords) } else { Ok(v4) }
        }
        (Ok(found), Err(e)) | (Err(e), Ok(found)) => match e {
            _ if !found.is_empty() => Ok(found),
            DnsError::Temporary(_) => Err(e),
            // One type answered, so the name exists.
            _ => Err(DnsError::NoRecords),
        },
        (Err(e @ DnsError::Temporary(_)), Err(_)) | (Err(_), Err(e @ DnsError::Temporary(_))) => Err(e),
        (Err(DnsError::NoSuchDomain), Err(_)) | (Err(_), Err(DnsError::NoSuchDomain)) => {
            Err(DnsError::NoSuchDomain)
        }
        (Err(_), Err(_)) => Err(DnsError::NoRecords),
    }
}

/// The root name `.`, the target of a null MX.
fn is_root(name: &str) -> bool {
    name.is_empty() || name == "."
}

/// `name` without its trailing dot, for messages and TLS names.
fn display_name(name: &str) -> &str {
    name.strip_suffix('.').unwrap_or(name)
}

/// Lower case without a trailing dot, for comparing names.
fn normalize(name: &str) -> String {
    display_name(name).to_ascii_lowercase()
}

#[cfg(test)]
mod tests;
