//! sendmail's domain classes (M, N, G): a set of names matched exactly or,
//! with the "entire domain" features, together with their sub-domains.

use std::collections::HashSet;
use std::hash::{BuildHasherDefault, Hasher};

use super::DomainRef;
use crate::{Domain, ParseOptions};

/// A set of domain names, normalised as address domains are (lower case,
/// A-labels, no trailing dot).
#[derive(Clone, Debug, Default)]
pub(crate) struct DomainSet {
    names: NameSet,
}

/// A set of names: a few are compared one by one (faster than hashing
/// them), more go in a hash set.
#[derive(Clone, Debug, Default)]
pub(crate) struct NameSet {
    few: Vec<String>,
    many: HashSet<String, BuildHasherDefault<NameHasher>>,
}

/// Up to this many names are kept in a list.
const FEW: usize = 8;

impl NameSet {
    /// Adds a name; whether it was new.
    pub(crate) fn insert(&mut self, name: String) -> bool {
        if self.contains(&name) {
            return false;
        }
        if self.few.len() < FEW && self.many.is_empty() {
            self.few.push(name);
        } else {
            self.many.extend(self.few.drain(..));
            self.many.insert(name);
        }
        true
    }

    pub(crate) fn contains(&self, name: &str) -> bool {
        if self.many.is_empty() { self.few.iter().any(|n| n == name) } else { self.many.contains(name) }
    }

    /// Whether `name` is in the set, compared without regard to case (the
    /// set holds lower-case names).
    pub(crate) fn contains_folded(&self, name: &str) -> bool {
        if !name.is_ascii() {
            return self.contains(&name.to_lowercase());
        }
        if self.many.is_empty() {
            return self.few.iter().any(|n| n.eq_ignore_ascii_case(name));
        }
        match name.bytes().any(|b| b.is_ascii_uppercase()) {
            true => self.many.contains(&name.to_ascii_lowercase()),
            false => self.many.contains(name),
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.few.is_empty() && self.many.is_empty()
    }

    pub(crate) fn len(&self) -> usize {
        self.few.len() + self.many.len()
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &str> {
        self.few.iter().chain(&self.many).map(String::as_str)
    }
}

/// FNV-1a: a few nanoseconds for a short name, where SipHash takes tens.
/// The sets hold the operator's names, fixed at configuration time; a
/// sender can choose what is looked up but not what collides in the set,
/// so hash flooding has nothing to grow.
#[derive(Clone, Copy, Debug)]
pub(crate) struct NameHasher(u64);

impl Default for NameHasher {
    fn default() -> Self {
        Self(0xcbf2_9ce4_8422_2325)
    }
}

impl Hasher for NameHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

impl DomainSet {
    /// Adds a name; an empty one is ignored.
    pub(crate) fn insert(&mut self, name: &str) {
        let name = name.trim();
        let normalised = match Domain::parse(name, ParseOptions { smtputf8: true }) {
            Ok(domain) => domain.to_string(),
            // Kept as written (folded), so that `masquerade_domains()` shows
            // it; it can never equal a parsed address's domain.
            Err(_) => name.trim_end_matches('.').to_lowercase(),
        };
        if !normalised.is_empty() {
            self.names.insert(normalised);
        }
    }

    /// Adds the names of a sendmail class file; returns how many were new.
    pub(crate) fn load(&mut self, text: &str) -> usize {
        let before = self.names.len();
        for name in words(text) {
            self.insert(name);
        }
        self.names.len() - before
    }

    /// Whether `domain` is in the set, or, with `entire`, under one of its
    /// names (`a.b.example` is under `example` and `b.example`).
    pub(crate) fn matches(&self, domain: DomainRef<'_>, entire: bool) -> bool {
        if self.names.is_empty() {
            return false;
        }
        let DomainRef::Name(name) = domain else {
            return self.names.contains(&domain.text());
        };
        if self.names.contains(name) {
            return true;
        }
        entire && name.match_indices('.').any(|(dot, _)| self.names.contains(&name[dot + 1..]))
    }

    pub(crate) fn sorted(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.names.iter().collect();
        names.sort_unstable();
        names
    }
}

/// The words of a class file: separated by white space, lines starting
/// with `#` (after white space) are comments, as in `local-host-names`.
pub(crate) fn words(text: &str) -> impl Iterator<Item = &str> {
    text.lines().filter(|line| !line.trim_start().starts_with('#')).flat_map(str::split_whitespace)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn domain(name: &str) -> DomainRef<'static> {
        DomainRef::of(Box::leak(Box::new(Domain::parse(name, ParseOptions::default()).unwrap())))
    }

    #[test]
    fn exact_or_entire_domain() {
        let mut set = DomainSet::default();
        set.insert("Internal.Example.COM.");
        assert!(set.matches(domain("internal.example.com"), false));
        assert!(!set.matches(domain("host.internal.example.com"), false));
        assert!(set.matches(domain("a.b.internal.example.com"), true));
        assert!(!set.matches(domain("xinternal.example.com"), true));
        assert!(!set.matches(domain("example.com"), true));
    }

    #[test]
    fn class_files_have_comments_and_several_names_a_line() {
        let mut set = DomainSet::default();
        assert_eq!(set.load("# masquerade these\na.example b.example\n  # more\nc.example\n"), 3);
        assert_eq!(set.sorted(), ["a.example", "b.example", "c.example"]);
    }

    #[test]
    fn literals_match_their_canonical_form() {
        let mut set = DomainSet::default();
        set.insert("[192.0.2.1]");
        assert!(set.matches(domain("[192.0.2.1]"), true));
    }
}
