//! Recipient normalisation before the relay decision (access.md §7.1):
//! sendmail's canonify (ruleset 3) on an unqualified string, Parse0's
//! stripping of local domains from routed addresses, and ParseRecipient's
//! stripping of relay domains.

use crate::{Address, Domain, ParseOptions};

use super::{Policy, RoutingChar};

/// The most routing layers peeled off one address: sendmail's recursion
/// ends on its own too, since each layer is shorter.
const MAX_LAYERS: usize = 32;

/// An address as the relay checks see it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Canon {
    /// The local part, decoded (no quotes).
    pub(crate) local: String,
    /// The domain; `None` for an unqualified address.
    pub(crate) domain: Option<Domain>,
}

/// Why an address has no canonical form.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CanonError {
    /// `@domain` or an empty local part.
    UserRequired,
    /// `a@b@c` once quotes and routing are undone.
    InvalidRoute,
    /// A host part that is not a host name.
    BadHost,
}

impl Canon {
    pub(crate) fn from_address(address: &Address) -> Self {
        Self { local: address.local_part().to_string(), domain: address.domain().cloned() }
    }

    /// As an [`Address`], for access lookups. The local part is written
    /// quoted, which the parser reads back to the same decoded local part
    /// (and drops the quotes where they are not needed).
    pub(crate) fn to_address(&self) -> Option<Address> {
        let mut text = String::with_capacity(self.local.len() + 3);
        text.push('"');
        for c in self.local.chars() {
            if c == '"' || c == '\\' {
                text.push('\\');
            }
            text.push(c);
        }
        text.push('"');
        if let Some(domain) = &self.domain {
            text.push('@');
            text.push_str(&domain.to_string());
        }
        Address::parse(&text, ParseOptions { smtputf8: true }).ok()
    }
}

impl Policy<'_> {
    /// Whether `c` routes (sendmail's class O): `@` always, `%` and `!`
    /// unless nopercenthack / nouucp.
    pub(crate) fn is_routing_char(&self, c: char) -> bool {
        match c {
            '@' => true,
            '%' => self.options.percent_hack == RoutingChar::Route,
            '!' => self.options.bang_path == RoutingChar::Route,
            _ => false,
        }
    }

    fn has_routing_char(&self, local: &str) -> bool {
        local.chars().any(|c| self.is_routing_char(c))
    }

    /// Whether `domain` is this host (class w), including the names
    /// canonify turns into `$j`: `localhost.$m` and `localhost.UUCP`.
    pub(crate) fn is_local_domain(&self, domain: &Domain) -> bool {
        match domain {
            Domain::Name(name) => {
                self.local.contains_name(name)
                    || name.strip_prefix("localhost.").is_some_and(|rest| {
                        Some(rest) == self.class_m()
                            || (rest == "uucp" && self.options.bang_path == RoutingChar::Route)
                    })
            }
            Domain::Ipv4(v4) => self.local.contains_addr((*v4).into()),
            Domain::Ipv6(v6) => self.local.contains_addr((*v6).into()),
        }
    }

    /// Class m: the domain part of `$j`.
    pub(crate) fn class_m(&self) -> Option<&str> {
        let (_, domain) = self.options.hostname.split_once('.')?;
        (!domain.is_empty()).then_some(domain)
    }

    /// Whether `name` is class m or under it (`$* $=m`).
    pub(crate) fn in_class_m(&self, name: &str) -> bool {
        let Some(m) = self.class_m() else { return false };
        let name = name.trim_end_matches('.');
        name.eq_ignore_ascii_case(m)
            || (name.len() > m.len()
                && name.as_bytes()[name.len() - m.len() - 1] == b'.'
                && name[name.len() - m.len()..].eq_ignore_ascii_case(m))
    }

    /// sendmail's canonify of a string without a domain: the last `@`
    /// splits it; else a UUCP bang path `host!user`; else the rightmost `%`.
    pub(crate) fn canonify_bare(&self, text: &str) -> Result<Canon, CanonError> {
        if text.is_empty() {
            return Err(CanonError::UserRequired);
        }
        if let Some(at) = text.rfind('@') {
            let (local, host) = (&text[..at], &text[at + 1..]);
            if local.is_empty() {
                return Err(CanonError::UserRequired);
            }
            if local.contains('@') {
                return Err(CanonError::InvalidRoute);
            }
            return Ok(Canon { local: local.to_string(), domain: Some(parse_host(host)?) });
        }
        if self.options.bang_path == RoutingChar::Route
            && let Some((host, user)) = text.split_once('!')
            && !host.is_empty()
            && !user.is_empty()
        {
            let host = if host.contains('.') { host.to_string() } else { format!("{host}.UUCP") };
            return Ok(Canon { local: user.to_string(), domain: Some(parse_host(&host)?) });
        }
        if self.options.percent_hack == RoutingChar::Route
            && let Some(percent) = text.rfind('%')
        {
            let (local, host) = (&text[..percent], &text[percent + 1..]);
            if local.is_empty() {
                return Err(CanonError::UserRequired);
            }
            if host.is_empty() {
                return Ok(Canon { local: local.to_string(), domain: None });
            }
            return Ok(Canon { local: local.to_string(), domain: Some(parse_host(host)?) });
        }
        Ok(Canon { local: text.to_string(), domain: None })
    }

    /// sendmail's CanonAddr: canonify, then Parse0's "...@here -> ...":
    /// while the domain is local and the local part routes, the local part
    /// is parsed again as an address.
    pub(crate) fn canon_addr(&self, address: &Address) -> Result<Canon, CanonError> {
        let canon = match address.domain() {
            Some(_) => Canon::from_address(address),
            None => self.canonify_bare(address.local_part())?,
        };
        self.strip_local(canon)
    }

    fn strip_local(&self, mut canon: Canon) -> Result<Canon, CanonError> {
        for _ in 0..MAX_LAYERS {
            let local_domain = canon.domain.as_ref().is_some_and(|d| self.is_local_domain(d));
            if !local_domain || !self.has_routing_char(&canon.local) {
                return Ok(canon);
            }
            canon = self.canonify_bare(&canon.local)?;
        }
        Err(CanonError::InvalidRoute)
    }

    /// sendmail's ParseRecipient: CanonAddr, then, while the local part
    /// still routes and the domain is one we relay to (class R, a `To:`
    /// RELAY entry, class m with relay_entire_domain), the domain is
    /// stripped and the rest checked again. An access map that cannot be
    /// read strips nothing (the later lookup reports the failure).
    pub(crate) fn parse_recipient(&self, address: &Address) -> Result<Canon, CanonError> {
        let mut canon = self.canon_addr(address)?;
        for _ in 0..MAX_LAYERS {
            let Some(domain) = &canon.domain else { return Ok(canon) };
            if !self.has_routing_char(&canon.local) || !self.strips_relay_domain(domain) {
                return Ok(canon);
            }
            let stripped = self.canonify_bare(&canon.local)?;
            canon = self.strip_local(stripped)?;
        }
        Err(CanonError::InvalidRoute)
    }

    fn strips_relay_domain(&self, domain: &Domain) -> bool {
        let Some(name) = domain.as_name() else {
            // A literal: class R holds names and address prefixes, and
            // a `To:` lookup of a literal walks its brackets.
            return self.access_to_relay(domain);
        };
        if self.options.relay_entire_domain && self.in_class_m(name) {
            return true;
        }
        if self.relay_domains.is_some_and(|r| r.domain_entry(name, self.options.relay_hosts_only).is_some()) {
            return true;
        }
        self.access_to_relay(domain)
    }

    fn access_to_relay(&self, domain: &Domain) -> bool {
        let Some(access) = self.access else { return false };
        let found = if self.options.relay_hosts_only {
            access.lookup_exact(&access.domain_text(domain), crate::Tag::To, crate::Mode::WithUntagged)
        } else {
            access.lookup_domain(domain, crate::Tag::To, crate::Mode::WithUntagged)
        };
        matches!(found, Ok(Some(hit)) if hit.value == crate::AccessValue::Relay)
    }
}

/// A host part from inside an address: a name or a literal.
fn parse_host(host: &str) -> Result<Domain, CanonError> {
    Domain::parse(host, ParseOptions { smtputf8: true }).map_err(|_| CanonError::BadHost)
}
