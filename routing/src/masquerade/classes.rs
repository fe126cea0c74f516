//! sendmail's domain classes (M, N, G): a set of names matched exactly or,
//! with the "entire domain" features, together with their sub-domains.

use std::collections::HashSet;

use crate::{Domain, ParseOptions};

/// A set of domain names, normalised as address domains are (lower case,
/// A-labels, no trailing dot).
#[derive(Clone, Debug, Default)]
pub(crate) struct DomainSet {
    names: HashSet<String>,
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
    pub(crate) fn matches(&self, domain: &Domain, entire: bool) -> bool {
        if self.names.is_empty() {
            return false;
        }
        let Domain::Name(name) = domain else {
            return self.names.contains(&domain.to_string());
        };
        if self.names.contains(name.as_str()) {
            return true;
        }
        entire && name.match_indices('.').any(|(dot, _)| self.names.contains(&name[dot + 1..]))
    }

    pub(crate) fn sorted(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.names.iter().map(String::as_str).collect();
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

    fn domain(name: &str) -> Domain {
        Domain::parse(name, ParseOptions::default()).unwrap()
    }

    #[test]
    fn exact_or_entire_domain() {
        let mut set = DomainSet::default();
        set.insert("Internal.Example.COM.");
        assert!(set.matches(&domain("internal.example.com"), false));
        assert!(!set.matches(&domain("host.internal.example.com"), false));
        assert!(set.matches(&domain("a.b.internal.example.com"), true));
        assert!(!set.matches(&domain("xinternal.example.com"), true));
        assert!(!set.matches(&domain("example.com"), true));
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
        assert!(set.matches(&domain("[192.0.2.1]"), true));
    }
}
