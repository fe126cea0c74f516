//! A resolver that answers from zone-file-like text, for tests and offline
//! route explanations.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use super::{BoxFuture, DnsError, Mx, Resolver, merge_ip_answers, normalize};

/// How many CNAMEs a lookup follows before it gives up (as SERVFAIL).
const MAX_CNAME_CHAIN: usize = 8;

/// A [`Resolver`] that answers from records given as text, one per line:
///
/// ```text
/// ; comments start with ; or #
/// example.org.      MX    10 mx1.example.org.
/// example.org. 3600 IN MX 20 mx2.example.org.   ; a TTL and class are ignored
/// mx1.example.org.  A     192.0.2.10
/// mx1.example.org.  AAAA  2001:db8::10
/// www.example.org.  CNAME mx1.example.org.
/// nomail.example.   MX    0 .
/// servfail.example. SERVFAIL          ; every lookup of the name fails
/// slow.example.     TIMEOUT AAAA      ; only AAAA lookups time out
/// refused.example.  REFUSED
/// ```
///
/// Names are compared case-insensitively and are all absolute, with or
/// without their trailing dot. A name with no records is NXDOMAIN, unless
/// it has records below it (an empty non-terminal, NODATA). `SERVFAIL`,
/// `TIMEOUT` and `REFUSED` make lookups of the name (optionally of one
/// type only) fail with [`DnsError::Temporary`] at once; nothing sleeps.
/// CNAMEs are followed, up to 8.
///
/// ```
/// use smarthost_routing::ZoneResolver;
///
/// let zone: ZoneResolver = "example.org. MX 10 mx1.example.org.\n\
///                           mx1.example.org. A 192.0.2.10\n".parse()?;
/// assert_eq!(zone.mx_records("example.org").unwrap()[0].exchange, "mx1.example.org.");
/// assert!(zone.addresses("nowhere.example").is_err());
/// # Ok::<(), smarthost_routing::ZoneError>(())
/// ```
#[derive(Clone, Debug, Default)]
pub struct ZoneResolver {
    nodes: HashMap<String, Node>,
}

/// A line of zone text that could not be parsed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "zone line {line}: {problem} in `{text}`; expected `NAME [TTL] [IN] TYPE DATA` with TYPE \
     MX (preference and name), A, AAAA, CNAME, or `NAME SERVFAIL|TIMEOUT|REFUSED [TYPE]`"
)]
pub struct ZoneError {
    /// The line number, from 1.
    pub line: usize,
    /// The line as written.
    pub text: String,
    /// What is wrong with it.
    pub problem: String,
}

impl ZoneResolver {
    /// Parses zone text; see the type's documentation for the format.
    pub fn parse_str(text: &str) -> Result<Self, ZoneError> {
        let mut zone = ZoneResolver::default();
        for (index, raw) in text.lines().enumerate() {
            let content = raw.split([';', '#']).next().unwrap_or_default();
            let fields: Vec<&str> = content.split_whitespace().collect();
            if fields.is_empty() {
                continue;
            }
            zone.add_line(&fields).map_err(|problem| ZoneError {
                line: index + 1,
                text: raw.trim().to_owned(),
                problem,
            })?;
        }
        Ok(zone)
    }

    /// The MX records of `name`, answered at once.
    pub fn mx_records(&self, name: &str) -> Result<Vec<Mx>, DnsError> {
        self.lookup(name, RecordType::Mx, |node| node.mx.to_vec())
    }

    /// The A then AAAA records of `name`, answered at once.
    pub fn addresses(&self, name: &str) -> Result<Vec<IpAddr>, DnsError> {
        let a = self.lookup(name, RecordType::A, |node| node.a.iter().map(|a| IpAddr::V4(*a)).collect());
        let aaaa =
            self.lookup(name, RecordType::Aaaa, |node| node.aaaa.iter().map(|a| IpAddr::V6(*a)).collect());
        merge_ip_answers(a, aaaa)
    }

    fn add_line(&mut self, fields: &[&str]) -> Result<(), String> {
        let (name, rest) = fields.split_first().ok_or("empty line")?;
        let rest = skip_ttl_and_class(rest);
        let (kind, data) = rest.split_first().ok_or_else(|| format!("no record type after `{name}`"))?;
        let node = self.nodes.entry(normalize(name)).or_default();
        match kind.to_ascii_uppercase().as_str() {
            "MX" => {
                let [preference, exchange] = data else {
                    return Err("MX needs a preference and a name".to_owned());
                };
                let preference =
                    preference.parse().map_err(|_| format!("MX preference `{preference}` is not 0-65535"))?;
                node.mx.push(Mx { preference, exchange: (*exchange).to_owned() });
            }
            "A" => node.a.push(one_value::<Ipv4Addr>(data, "A", "an IPv4 address")?),
            "AAAA" => node.aaaa.push(one_value::<Ipv6Addr>(data, "AAAA", "an IPv6 address")?),
            "CNAME" => node.cname = Some(one_value::<String>(data, "CNAME", "a name")?),
            directive @ ("SERVFAIL" | "TIMEOUT" | "REFUSED") => {
                let only = match data {
                    [] => None,
                    [kind] => Some(
                        RecordType::parse(kind)
                            .ok_or_else(|| format!("{directive} applies to MX, A or AAAA, not `{kind}`"))?,
                    ),
                    _ => return Err(format!("{directive} takes at most one record type")),
                };
                let reason = match directive {
                    "TIMEOUT" => "timeout",
                    other => other,
                };
                node.failures.push((only, reason.to_owned()));
            }
            other => return Err(format!("unknown record type `{other}`")),
        }
        Ok(())
    }

    fn lookup<T>(
        &self,
        name: &str,
        kind: RecordType,
        records: impl Fn(&Node) -> Vec<T>,
    ) -> Result<Vec<T>, DnsError> {
        let mut name = normalize(name);
        for _ in 0..=MAX_CNAME_CHAIN {
            let Some(node) = self.nodes.get(&name) else {
                return Err(if self.has_names_below(&name) {
                    DnsError::NoRecords
                } else {
                    DnsError::NoSuchDomain
                });
            };
            if let Some((_, what)) =
                node.failures.iter().find(|(only, _)| only.is_none_or(|only| only == kind))
            {
                return Err(DnsError::Temporary(what.clone()));
            }
            let found = records(node);
            if !found.is_empty() {
                return Ok(found);
            }
            match &node.cname {
                Some(target) => name = normalize(target),
                None => return Err(DnsError::NoRecords),
            }
        }
        Err(DnsError::Temporary(format!("CNAME chain longer than {MAX_CNAME_CHAIN}")))
    }

    fn has_names_below(&self, name: &str) -> bool {
        let suffix = format!(".{name}");
        self.nodes.keys().any(|known| known.ends_with(&suffix))
    }
}

impl FromStr for ZoneResolver {
    type Err = ZoneError;

    fn from_str(text: &str) -> Result<Self, ZoneError> {
        Self::parse_str(text)
    }
}

impl Resolver for ZoneResolver {
    fn mx<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<Vec<Mx>, DnsError>> {
        let answer = self.mx_records(name);
        Box::pin(async move { answer })
    }

    fn ip<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<Vec<IpAddr>, DnsError>> {
        let answer = self.addresses(name);
        Box::pin(async move { answer })
    }
}

/// The records of one name.
#[derive(Clone, Debug, Default)]
struct Node {
    mx: Vec<Mx>,
    a: Vec<Ipv4Addr>,
    aaaa: Vec<Ipv6Addr>,
    cname: Option<String>,
    /// Injected failures: the record type they apply to (all if `None`)
    /// and the reason given.
    failures: Vec<(Option<RecordType>, String)>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum RecordType {
    Mx,
    A,
    Aaaa,
}

impl RecordType {
    fn parse(text: &str) -> Option<Self> {
        match text.to_ascii_uppercase().as_str() {
            "MX" => Some(RecordType::Mx),
            "A" => Some(RecordType::A),
            "AAAA" => Some(RecordType::Aaaa),
            _ => None,
        }
    }
}

/// Skips an optional TTL and an optional `IN` class, in either order.
fn skip_ttl_and_class<'a, 'b>(mut fields: &'a [&'b str]) -> &'a [&'b str] {
    for _ in 0..2 {
        match fields.first() {
            Some(f) if f.eq_ignore_ascii_case("IN") || f.bytes().all(|b| b.is_ascii_digit()) => {
                fields = &fields[1..];
            }
            _ => break,
        }
    }
    fields
}

fn one_value<T: FromStr>(data: &[&str], kind: &str, expected: &str) -> Result<T, String> {
    match data {
        [value] => value.parse().map_err(|_| format!("{kind} data `{value}` is not {expected}")),
        _ => Err(format!("{kind} needs exactly one value, {expected}")),
    }
}
