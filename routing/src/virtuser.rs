//! The virtusertable: virtual users of local and virtual domains (spec
//! maps.md §4): `user@domain`, `user+detail@domain`, `user++@domain`,
//! `user+*@domain`, `++@domain`, `+*@domain` and `@domain` keys, `%1`/`%2`/`%3`
//! in values, and sendmail's `error:` values with their exact replies.
//!
//! This module only looks keys up and reads values. Re-parsing a value (a
//! new address that may be virtual again, local or remote) is the
//! [`crate::RecipientResolver`]'s job.

mod error;
mod lint;

use std::collections::HashSet;
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use smarthost_maps::Map;

use crate::rhs::interpolate;
use crate::{Address, ErrorReply, ParseOptions, Probe};

pub use lint::lint_virtusertable;

/// A virtusertable over any [`Map`] (keys folded by the map, as makemap
/// builds it).
///
/// ```
/// use smarthost_maps::{SourceOptions, TextMap};
/// use smarthost_routing::{VirtuserTarget, Virtusertable};
///
/// let table = "\
/// info@virt.example.org   virt-info
/// joe@virt.example.org    error:nouser 550 No such user here
/// +*@virt.example.org     %1%3@catch.example.net
/// ";
/// let (map, _) = TextMap::from_source(table.as_bytes(), &SourceOptions::default());
/// let table = Virtusertable::new(&map);
///
/// let found = table.lookup("Info", "virt.example.org", None)?.expect("an entry");
/// assert_eq!(found.target.to_string(), "virt-info");
/// let found = table.lookup("other+x", "virt.example.org", None)?.expect("an entry");
/// assert_eq!((found.key.as_str(), found.target.to_string()), ("+*@virt.example.org", "other+x@catch.example.net".into()));
/// let found = table.lookup("joe", "virt.example.org", None)?.expect("an entry");
/// let VirtuserTarget::Error(reply) = &found.target else { unreachable!() };
/// // sendmail's quirk: the keyword `nouser` does not supply 5.1.1.
/// assert_eq!(reply.reply_for("joe@virt.example.org"), "550 5.0.0 <joe@virt.example.org>... No such user here");
/// # Ok::<(), smarthost_maps::Error>(())
/// ```
#[derive(Clone, Copy)]
pub struct Virtusertable<'m> {
    map: &'m dyn Map,
}

/// The entry that matched a recipient, and what it says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VirtuserMatch {
    /// The key that matched, e.g. `+*@virt.example.org`.
    pub key: String,
    /// The value as stored.
    pub value: String,
    /// The value after `%` interpolation.
    pub expanded: String,
    /// `%1`, `%2` and `%3` as this key supplies them (empty when it
    /// supplies none).
    pub args: [String; 3],
    /// What the value says.
    pub target: VirtuserTarget,
}

/// What a virtusertable value says to do with the recipient.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VirtuserTarget {
    /// A new address, parsed again from the start: unqualified for a local
    /// user (`virt-info`), qualified to forward (`u@remote.example`), or a
    /// `.REDIRECT` address under FEATURE(redirect).
    Address(Address),
    /// `error:` values: refuse the recipient with this reply.
    Error(ErrorReply),
    /// A value that is neither: the entry is broken. The resolver refuses
    /// the recipient with `554 5.3.5` and the reason.
    Invalid {
        /// What is wrong, for the operator.
        reason: String,
    },
}

/// VIRTUSER_DOMAIN and VIRTUSER_DOMAIN_FILE (sendmail's class VirtHost):
/// domains besides this host's own names (class w) whose recipients the
/// virtusertable rewrites.
///
/// ```
/// use smarthost_routing::VirtuserDomains;
///
/// let mut domains = VirtuserDomains::default();
/// domains.add("Virt.Example.ORG.");
/// assert!(domains.contains("virt.example.org"));
/// assert!(!domains.contains("a.virt.example.org"));
/// domains.entire_domain = true; // FEATURE(virtuser_entire_domain)
/// assert!(domains.contains("a.virt.example.org"));
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VirtuserDomains {
    names: HashSet<String>,
    /// FEATURE(`virtuser_entire_domain`): sub-domains of the listed domains
    /// qualify too.
    pub entire_domain: bool,
}

/// A VIRTUSER_DOMAIN_FILE that could not be read.
#[derive(Debug, thiserror::Error)]
#[error("{}: cannot read the virtual user domains: {source}", .path.display())]
pub struct VirtuserDomainsError {
    path: PathBuf,
    #[source]
    source: io::Error,
}

impl<'m> Virtusertable<'m> {
    /// A table over `map`.
    pub fn new(map: &'m dyn Map) -> Self {
        Self { map }
    }

    /// Finds the entry for `local@domain` in sendmail's order (spec §4.2):
    ///
    /// | step | key | when |
    /// | --- | --- | --- |
    /// | 1 | `local@domain` | always |
    /// | 2 | `user++@domain` | `+` and a non-empty detail |
    /// | 3 | `user+*@domain` | `+` |
    /// | 4 | `user@domain` | `+` |
    /// | 5 | `++@domain` | `+` and a non-empty detail |
    /// | 6 | `+*@domain` | `+` |
    /// | 7 | `@domain` | always |
    ///
    /// `user` is the local part before its first `+` (it must not be
    /// empty: `+x` has no user and only steps 1 and 7 apply, as in sendmail,
    /// whose rules need a token before the `+`), `detail` everything after it.
    /// `local` is the local part as written in SMTP (quoted when it needs
    /// to be), `domain` the normalised domain. `probes`, when given,
    /// receives every key tried.
    pub fn lookup(
        &self,
        local: &str,
        domain: &str,
        mut probes: Option<&mut Vec<Probe>>,
    ) -> Result<Option<VirtuserMatch>, smarthost_maps::Error> {
        for (key, args) in search_keys(local, domain) {
            let value = self.map.lookup(key.as_bytes())?.map(String::from_utf8_lossy);
            if let Some(probes) = probes.as_deref_mut() {
                probes.push(Probe {
                    key: key.clone(),
                    value: value.as_deref().map(str::to_string),
                    skipped: None,
                });
            }
            if let Some(value) = value {
                let expanded = interpolate(&value, &[&key, &args[0], &args[1], &args[2]]);
                let target = VirtuserTarget::parse(&expanded);
                return Ok(Some(VirtuserMatch { key, value: value.into_owned(), expanded, args, target }));
            }
        }
        Ok(None)
    }
}

/// The keys of §4.2 for `local@domain`, in order, each with the `%1`, `%2`
/// and `%3` it supplies.
fn search_keys(local: &str, domain: &str) -> Vec<(String, [String; 3])> {
    let mut keys = vec![(format!("{local}@{domain}"), [local.to_string(), String::new(), String::new()])];
    let plus = local.split_once('+').filter(|(user, _)| !user.is_empty());
    if let Some((user, detail)) = plus {
        let args = [user.to_string(), detail.to_string(), format!("+{detail}")];
        let with_detail = !detail.is_empty();
        if with_detail {
            keys.push((format!("{user}++@{domain}"), args.clone()));
        }
        keys.push((format!("{user}+*@{domain}"), args.clone()));
        keys.push((format!("{user}@{domain}"), args.clone()));
        if with_detail {
            keys.push((format!("++@{domain}"), args.clone()));
        }
        keys.push((format!("+*@{domain}"), args.clone()));
        keys.push((format!("@{domain}"), args));
    } else {
        keys.push((format!("@{domain}"), [local.to_string(), String::new(), String::new()]));
    }
    keys
}

impl VirtuserTarget {
    /// Reads an interpolated value: `error:` forms (spec §4.3, with the
    /// keyword separated from the text by a space, not a colon), else one
    /// address.
    ///
    /// ```
    /// use smarthost_routing::VirtuserTarget;
    /// let reply = |value| match VirtuserTarget::parse(value) {
    ///     VirtuserTarget::Error(reply) => reply.reply_for("u@virt.example"),
    ///     other => panic!("{other:?}"),
    /// };
    /// assert_eq!(reply("error:5.7.0:550 Address invalid"), "550 5.7.0 <u@virt.example>... Address invalid");
    /// assert_eq!(reply("error:nouser 550 No such user here"), "550 5.0.0 <u@virt.example>... No such user here");
    /// // `550` is taken as the keyword, so the text carries no reply code.
    /// assert_eq!(reply("error:550 Not here"), "553 5.3.0 <u@virt.example>... Not here");
    /// ```
    pub fn parse(value: &str) -> Self {
        let value = value.trim();
        if let Some(rest) = strip_error_prefix(value) {
            return Self::Error(error::parse_virtuser_error(rest));
        }
        if value.is_empty() {
            return Self::Invalid { reason: "the value is empty".into() };
        }
        if value.contains(',') {
            return Self::Invalid {
                reason: format!(
                    "`{value}` lists several addresses; sendmail's virtusertable takes one \
                     (point the entry at a local alias that lists them)"
                ),
            };
        }
        match Address::parse(value, ParseOptions { smtputf8: true }) {
            Ok(address) => Self::Address(address),
            Err(error) => Self::Invalid { reason: format!("`{value}` is not an address: {error}") },
        }
    }
}

/// `error:` in any case, as sendmail's rules match tokens.
fn strip_error_prefix(value: &str) -> Option<&str> {
    let head = value.get(..6)?;
    head.eq_ignore_ascii_case("error:").then(|| &value[6..])
}

impl fmt::Display for VirtuserTarget {
    /// The address; `error:` replies as `CODE D.S.N TEXT`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Address(address) => write!(f, "{address}"),
            Self::Error(reply) => write!(f, "{} {} {}", reply.code, reply.enhanced, reply.text),
            Self::Invalid { reason } => write!(f, "invalid: {reason}"),
        }
    }
}

impl VirtuserDomains {
    /// Adds a domain (case and a trailing dot do not matter).
    pub fn add(&mut self, domain: &str) {
        let name = domain.trim().trim_end_matches('.').to_ascii_lowercase();
        if !name.is_empty() {
            self.names.insert(name);
        }
    }

    /// Reads a VIRTUSER_DOMAIN_FILE: names separated by white space, `#`
    /// comment lines, as sendmail's class files. Returns how many it added.
    pub fn load_file(&mut self, path: &Path) -> Result<usize, VirtuserDomainsError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| VirtuserDomainsError { path: path.to_path_buf(), source })?;
        Ok(self.load_str(&text))
    }

    /// Like [`VirtuserDomains::load_file`], from text.
    pub fn load_str(&mut self, text: &str) -> usize {
        let before = self.names.len();
        for line in text.lines().filter(|line| !line.trim_start().starts_with('#')) {
            for name in line.split_whitespace() {
                self.add(name);
            }
        }
        self.names.len() - before
    }

    /// Whether `domain` (normalised: lower case, no trailing dot) is one of
    /// them, or with `entire_domain` a sub-domain of one.
    pub fn contains(&self, domain: &str) -> bool {
        let domain = domain.strip_suffix('.').unwrap_or(domain);
        if self.names.contains(domain) {
            return true;
        }
        self.entire_domain
            && domain.match_indices('.').any(|(dot, _)| self.names.contains(&domain[dot + 1..]))
    }

    /// Whether no domain was added.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// The domains, sorted.
    pub fn names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.names.iter().map(String::as_str).collect();
        names.sort_unstable();
        names
    }
}

#[cfg(test)]
mod tests;
