//! Class w: the names and addresses this host treats as its own.

use std::collections::HashSet;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};

/// The names and address literals that mean "this host": mail to them is
/// delivered locally, before the mailertable is consulted.
///
/// ```
/// use smarthost_routing::LocalNames;
///
/// let mut local = LocalNames::new("relay.example.net");
/// local.add_name("Example.NET.");
/// assert!(local.contains_name("example.net"));
/// assert!(local.contains_name("LOCALHOST"));
/// assert!(local.contains_addr("127.0.0.1".parse().unwrap()));
/// assert!(!local.contains_name("other.example"));
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LocalNames {
    names: HashSet<String>,
    addrs: HashSet<IpAddr>,
}

/// A `local-host-names` file that could not be read.
#[derive(Debug, thiserror::Error)]
#[error("{}: cannot read the local host names: {source}", .path.display())]
pub struct LocalNamesError {
    path: PathBuf,
    #[source]
    source: io::Error,
}

impl LocalNames {
    /// This host's canonical name (sendmail's `$j`), `localhost`, and the
    /// loopback addresses.
    pub fn new(hostname: &str) -> Self {
        let mut local = Self::default();
        local.add_name(hostname);
        local.add_name("localhost");
        local.add_address(IpAddr::V4(Ipv4Addr::LOCALHOST));
        local.add_address(IpAddr::V6(Ipv6Addr::LOCALHOST));
        local
    }

    /// Adds a name (case and a trailing dot do not matter).
    pub fn add_name(&mut self, name: &str) {
        let name = normalise(name);
        if !name.is_empty() {
            self.names.insert(name);
        }
    }

    /// Adds a name, or the address of a literal such as `[192.0.2.1]` or
    /// `[IPv6:2001:db8::1]`, as an operator writes either on a command line.
    pub fn add(&mut self, name_or_literal: &str) {
        match crate::Domain::parse(name_or_literal, crate::ParseOptions::default()) {
            Ok(crate::Domain::Ipv4(addr)) => self.add_address(addr.into()),
            Ok(crate::Domain::Ipv6(addr)) => self.add_address(addr.into()),
            _ => self.add_name(name_or_literal),
        }
    }

    /// Adds an address, as the literal `[192.0.2.1]` or `[IPv6:...]` names it.
    pub fn add_address(&mut self, addr: IpAddr) {
        self.addrs.insert(addr);
    }

    /// Reads a `local-host-names` file: names separated by white space, any
    /// number a line; `#` starts a comment line, as in sendmail's class files.
    pub fn load_file(&mut self, path: &Path) -> Result<usize, LocalNamesError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| LocalNamesError { path: path.to_path_buf(), source })?;
        Ok(self.load_str(&text))
    }

    /// Like [`LocalNames::load_file`], from text; returns how many names it added.
    pub fn load_str(&mut self, text: &str) -> usize {
        let before = self.names.len();
        for line in text.lines().filter(|line| !line.trim_start().starts_with('#')) {
            for name in line.split_whitespace() {
                self.add_name(name);
            }
        }
        self.names.len() - before
    }

    /// Adds the addresses of this machine's network interfaces, which
    /// sendmail puts in class w as literals. Returns how many it found.
    pub fn add_interface_addresses(&mut self) -> io::Result<usize> {
        let interfaces = if_addrs::get_if_addrs()?;
        for interface in &interfaces {
            self.add_address(interface.ip());
        }
        Ok(interfaces.len())
    }

    /// Whether `name` is one of this host's names.
    pub fn contains_name(&self, name: &str) -> bool {
        let trimmed = name.strip_suffix('.').unwrap_or(name);
        if trimmed.bytes().any(|b| b.is_ascii_uppercase()) {
            self.names.contains(&trimmed.to_ascii_lowercase())
        } else {
            self.names.contains(trimmed)
        }
    }

    /// Whether `addr` is one of this host's addresses.
    pub fn contains_addr(&self, addr: IpAddr) -> bool {
        self.addrs.contains(&addr)
    }

    /// The names, sorted (for `config dump` and `--explain`).
    pub fn names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.names.iter().map(String::as_str).collect();
        names.sort_unstable();
        names
    }
}

fn normalise(name: &str) -> String {
    name.trim().trim_end_matches('.').to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    #[test]
    fn add_takes_names_and_address_literals() {
        let mut local = LocalNames::new("mail.example.net");
        local.add("Example.NET");
        local.add("[192.0.2.1]");
        local.add("[IPv6:2001:db8::1]");
        assert!(local.contains_name("example.net"));
        assert!(local.contains_addr("192.0.2.1".parse().unwrap()));
        assert!(local.contains_addr("2001:db8::1".parse().unwrap()));
        assert!(!local.contains_name("[192.0.2.1]"));
    }

    use super::*;

    #[test]
    fn a_local_host_names_file_has_comments_and_several_names_a_line() {
        let mut local = LocalNames::new("mail.example.com");
        let added = local
            .load_str("# our names\nexample.com  www.example.com\n\n  # indented comment\nEXAMPLE.org.\n");
        assert_eq!(added, 3);
        assert_eq!(
            local.names(),
            ["example.com", "example.org", "localhost", "mail.example.com", "www.example.com"]
        );
    }

    #[test]
    fn interface_addresses_include_loopback() {
        let mut local = LocalNames::default();
        assert!(local.add_interface_addresses().unwrap() >= 1);
        assert!(local.contains_addr(IpAddr::V4(Ipv4Addr::LOCALHOST)));
    }

    #[test]
    fn a_missing_file_is_named() {
        let error = LocalNames::default().load_file(Path::new("/nonexistent/local-host-names")).unwrap_err();
        assert!(error.to_string().starts_with("/nonexistent/local-host-names: cannot read"));
    }
}
