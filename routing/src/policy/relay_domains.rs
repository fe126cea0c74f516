//! Class R: the domains (and address prefixes) this host relays for.

use std::collections::HashSet;
use std::io;
use std::path::{Path, PathBuf};

use crate::access::keys::is_operator;

/// sendmail's class R (RELAY_DOMAIN, the relay-domains file): mail to
/// these domains and their sub-domains is accepted from anyone, and
/// clients whose address begins with an entry (`10.1` for 10.1.x.y, not
/// 10.10.x.y; `IPv6:2001:db8:1`) or whose name is under one may relay.
///
/// ```
/// use smarthost_routing::RelayDomains;
/// let mut relay = RelayDomains::new();
/// relay.load_str("# partners\npartner.example 10.1\n");
/// assert_eq!(relay.domain_entry("x.Partner.example", false), Some("partner.example"));
/// assert_eq!(relay.domain_entry("notpartner.example", false), None);
/// assert_eq!(relay.addr_entry("10.1.2.3"), Some("10.1"));
/// assert_eq!(relay.addr_entry("10.10.2.3"), None);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RelayDomains {
    entries: HashSet<String>,
}

/// A relay-domains file that could not be read.
#[derive(Debug, thiserror::Error)]
#[error("{}: cannot read the relay domains: {source}", .path.display())]
pub struct RelayDomainsError {
    path: PathBuf,
    #[source]
    source: io::Error,
}

impl RelayDomains {
    /// No entries.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds an entry: a domain, or an address prefix (`10.1`,
    /// `IPv6:2001:db8:1`). Case and a trailing dot do not matter.
    pub fn add(&mut self, entry: &str) {
        let entry = entry.trim().trim_end_matches('.').to_ascii_lowercase();
        if !entry.is_empty() {
            self.entries.insert(entry);
        }
    }

    /// Reads a relay-domains file: entries separated by white space, `#`
    /// starts a comment line (sendmail's class file format).
    pub fn load_file(&mut self, path: &Path) -> Result<usize, RelayDomainsError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| RelayDomainsError { path: path.to_path_buf(), source })?;
        Ok(self.load_str(&text))
    }

    /// Like [`RelayDomains::load_file`], from text; returns how many entries it added.
    pub fn load_str(&mut self, text: &str) -> usize {
        let before = self.entries.len();
        for line in text.lines().filter(|line| !line.trim_start().starts_with('#')) {
            for entry in line.split_whitespace() {
                self.add(entry);
            }
        }
        self.entries.len() - before
    }

    /// Whether there are no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The entries, sorted.
    pub fn entries(&self) -> Vec<&str> {
        let mut entries: Vec<&str> = self.entries.iter().map(String::as_str).collect();
        entries.sort_unstable();
        entries
    }

    /// The entry that covers `name`: the name itself or, unless
    /// `hosts_only` (FEATURE(relay_hosts_only)), a parent domain.
    pub fn domain_entry(&self, name: &str, hosts_only: bool) -> Option<&str> {
        let name = name.trim_end_matches('.').to_ascii_lowercase();
        let mut rest = name.as_str();
        loop {
            if let Some(entry) = self.entries.get(rest) {
                return Some(entry);
            }
            if hosts_only {
                return None;
            }
            rest = &rest[rest.find('.')? + 1..];
        }
    }

    /// The entry that begins `client_addr` (as sendmail writes it, see
    /// [`crate::client_addr_text`]) token by token.
    pub fn addr_entry(&self, client_addr: &str) -> Option<&str> {
        let addr = client_addr.to_ascii_lowercase();
        let bytes = addr.as_bytes();
        (1..=bytes.len())
            .filter(|&end| end == bytes.len() || is_operator(bytes[end]) || is_operator(bytes[end - 1]))
            .find_map(|end| self.entries.get(&addr[..end]).map(String::as_str))
    }
}
