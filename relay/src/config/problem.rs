//! What is wrong with a configuration, said so that the operator can fix it:
//! the file, the position, the key, what was expected and what to do.

use std::fmt;
use std::path::{Path, PathBuf};

/// Whether a [`Problem`] stops the relay from using the configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// The configuration (or a file it names) cannot be used as it is.
    Error,
    /// Usable, but probably not what the operator meant, or unsafe.
    Warning,
}

/// A position in a file: 1-based line and column (in characters).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Location {
    /// The 1-based line.
    pub line: usize,
    /// The 1-based column, counted in characters; 0 when only the line is known.
    pub column: usize,
}

impl Location {
    /// The position of byte `offset` of `text` (clamped to the text).
    pub fn of_offset(text: &str, offset: usize) -> Self {
        let mut offset = offset.min(text.len());
        while !text.is_char_boundary(offset) {
            offset -= 1;
        }
        let before = &text[..offset];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        Self { line, column: before[line_start..].chars().count() + 1 }
    }
}

/// One thing wrong with a configuration or a file it names.
///
/// It displays as `FILE:LINE:COLUMN: error: `KEY`: MESSAGE`, leaving out
/// what is not known; the message says what was expected and how to fix it.
///
/// ```
/// let errors = smarthost_relay::Config::from_str("[spool]\ndri = \"spool\"\n", "/etc/smarthost").unwrap_err();
/// assert_eq!(
///     errors.to_string(),
///     "<string>:2:1: error: `spool.dri`: unknown key; did you mean `spool.dir`? (keys of [spool]: dir, sync)\n"
/// );
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Problem {
    /// Error or warning.
    pub severity: Severity,
    /// The file the problem is in: the configuration, or a file it names.
    pub file: PathBuf,
    /// Where in `file`, when known.
    pub location: Option<Location>,
    /// The configuration key, as a dotted path (`mailers.relay.tls`,
    /// `listen[1].addr`), when the problem belongs to one.
    pub key: Option<String>,
    /// What is wrong, what was expected and the fix.
    pub message: String,
}

impl Problem {
    /// An error in `file`.
    pub fn error(file: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Self {
            severity: Severity::Error,
            file: file.into(),
            location: None,
            key: None,
            message: message.into(),
        }
    }

    /// A warning about `file`.
    pub fn warning(file: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Self { severity: Severity::Warning, ..Self::error(file, message) }
    }

    /// The same problem, at `location`.
    pub fn at(mut self, location: Option<Location>) -> Self {
        self.location = location;
        self
    }

    /// The same problem, about `key`.
    pub fn key(mut self, key: impl Into<String>) -> Self {
        self.key = Some(key.into());
        self
    }

    /// Whether this is an error (not a warning).
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        match self.location {
            Some(Location { line, column: 0 }) => write!(f, ":{line}")?,
            Some(Location { line, column }) => write!(f, ":{line}:{column}")?,
            None => {}
        }
        let level = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(f, ": {level}: ")?;
        if let Some(key) = &self.key {
            write!(f, "`{key}`: ")?;
        }
        f.write_str(&self.message)
    }
}

/// Why a configuration could not be loaded: every error found (not only the
/// first), and the warnings found on the way, in file order.
///
/// It displays one problem a line, errors and warnings together.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigErrors {
    problems: Vec<Problem>,
}

impl ConfigErrors {
    pub(crate) fn new(problems: Vec<Problem>) -> Self {
        Self { problems }
    }

    /// Every problem, errors and warnings, in the order of the file.
    pub fn problems(&self) -> &[Problem] {
        &self.problems
    }

    /// The errors only.
    pub fn errors(&self) -> impl Iterator<Item = &Problem> {
        self.problems.iter().filter(|p| p.is_error())
    }

    /// Whether the configuration file itself could not be read (it is
    /// missing or unreadable), as opposed to read and found wrong.
    pub fn is_unreadable(&self) -> bool {
        self.problems.len() == 1 && self.problems[0].key.is_none() && self.problems[0].location.is_none()
    }

    /// The file these problems are about.
    pub fn file(&self) -> Option<&Path> {
        self.problems.first().map(|p| p.file.as_path())
    }
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for problem in &self.problems {
            writeln!(f, "{problem}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

/// The closest of `candidates` to `given`, if it is close enough to be a
/// likely typo: an edit distance (with adjacent swaps) of at most a third
/// of the length, and at least 1.
pub(crate) fn did_you_mean<'c>(given: &str, candidates: &[&'c str]) -> Option<&'c str> {
    let limit = (given.chars().count() / 3).max(1);
    candidates
        .iter()
        .map(|c| (edit_distance(&given.to_ascii_lowercase(), c), *c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Optimal string alignment distance: insertions, deletions, substitutions
/// and swaps of adjacent characters each cost 1.
pub(crate) fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut rows = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in rows.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in rows[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (rows[i - 1][j] + 1).min(rows[i][j - 1] + 1).min(rows[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(rows[i - 2][j - 2] + 1);
            }
            rows[i][j] = best;
        }
    }
    rows[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_count_lines_and_characters() {
        let text = "a = 1\nbé = 2\n";
        assert_eq!(Location::of_offset(text, 0), Location { line: 1, column: 1 });
        assert_eq!(Location::of_offset(text, 6), Location { line: 2, column: 1 });
        assert_eq!(Location::of_offset(text, 9), Location { line: 2, column: 3 });
        assert_eq!(Location::of_offset(text, 999), Location { line: 3, column: 1 });
    }

    #[test]
    fn suggestions_are_close_typos_only() {
        let keys = ["hostname", "relay_domains", "local_host_names"];
        assert_eq!(did_you_mean("hostnmae", &keys), Some("hostname"));
        assert_eq!(did_you_mean("relay_domain", &keys), Some("relay_domains"));
        assert_eq!(did_you_mean("HOSTNAME", &keys), Some("hostname"));
        assert_eq!(did_you_mean("colour", &keys), None);
        assert_eq!(edit_distance("ab", "ba"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
    }

    #[test]
    fn problems_display_what_is_known() {
        let p =
            Problem::error("relay.toml", "bad").key("spool.dir").at(Some(Location { line: 3, column: 7 }));
        assert_eq!(p.to_string(), "relay.toml:3:7: error: `spool.dir`: bad");
        let p = Problem::warning("aliases", "stale").at(Some(Location { line: 4, column: 0 }));
        assert_eq!(p.to_string(), "aliases:4: warning: stale");
    }
}
