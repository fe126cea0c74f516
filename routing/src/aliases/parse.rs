//! The aliases(5) file format, read as sendmail 8.18's `readaliases` reads
//! it (spec maps.md §6.1):
//!
//! * a physical line ending in `\` continues on the next one (the backslash
//!   and the newline are removed, nothing is inserted);
//! * a line starting with a space or tab continues the entry before it (the
//!   newline is removed, the white space kept);
//! * `#` lines and empty lines are comments, and end the entry before them:
//!   a white-space line after one is an error;
//! * the name is everything before the first `:`, the value everything
//!   after it with leading white space skipped.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;

use smarthost_maps::Severity;

use crate::{Address, Domain, LocalNames, ParseOptions};

/// sendmail reads the aliases file with `fgets` into a buffer of `BUFSIZ`
/// bytes (8192 with glibc), so a logical line holds at most
/// `ALIAS_LINE_BUFFER - 2` bytes besides its newline.
pub const ALIAS_LINE_BUFFER: usize = 8192;

/// The longest logical line (continuations joined, newlines removed).
const MAX_LOGICAL: usize = ALIAS_LINE_BUFFER - 2;

/// A parsed aliases file: the entries to store and what was wrong with the
/// rest.
///
/// ```
/// use smarthost_routing::AliasFile;
///
/// let file = AliasFile::parse(b"list: alice, bob@example.net,\n  carol\ncont: dave, \\\neve\n", None);
/// assert!(file.diagnostics().is_empty());
/// assert_eq!(file.entries()[0].value, "alice, bob@example.net,  carol");
/// assert_eq!(file.entries()[1].value, "dave, eve");
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AliasFile {
    entries: Vec<AliasEntry>,
    diagnostics: Vec<AliasDiagnostic>,
}

/// One alias: `name: value`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AliasEntry {
    /// The 1-based line the entry starts on.
    pub line: usize,
    /// The name as an address: a local part, or `local@domain` with one of
    /// this host's names.
    pub name: Address,
    /// The database key: the name's local part, in lower case.
    pub key: String,
    /// The value as written, continuation lines joined (their leading white
    /// space kept, newlines removed). It is read into addresses only when
    /// used ([`AliasEntry::elements`]).
    pub value: String,
}

/// A problem with one entry or line of an aliases file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AliasDiagnostic {
    /// The 1-based line it concerns.
    pub line: usize,
    /// Whether the entry was rejected (an error) or stored (a warning).
    pub severity: Severity,
    /// What is wrong.
    pub problem: AliasProblem,
}

/// What is wrong with an aliases line.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum AliasProblem {
    /// The logical line does not fit sendmail's buffer.
    LineTooLong,
    /// A line starts with white space but there is no entry to continue
    /// (a comment, an empty line or a rejected line came before it).
    NonContinuation,
    /// No `:` on the line.
    MissingColon {
        /// The line's start.
        text: String,
    },
    /// The name is not an address.
    IllegalName {
        /// The name as written.
        name: String,
        /// Why it is not an address.
        reason: String,
    },
    /// The name has a domain that is not one of this host's names.
    NonLocalName {
        /// The name as written.
        name: String,
    },
    /// Nothing after the `:`.
    MissingValue {
        /// The name.
        name: String,
    },
    /// The line holds a NUL byte, which sendmail's C strings cannot carry.
    NulByte,
    /// The value is not UTF-8; the bad bytes were replaced by U+FFFD.
    NotUtf8,
    /// The name was defined before; this later entry replaces it, as in
    /// sendmail's `newaliases`.
    DuplicateName {
        /// The key.
        key: String,
        /// Where it was defined first.
        first_line: usize,
    },
}

/// One physical line: its content (no newline) and whether a newline
/// ended it.
#[derive(Clone, Copy)]
struct Physical<'a> {
    content: &'a [u8],
    newline: bool,
}

impl AliasFile {
    /// Parses an aliases file. `local`, when given, is class w: a name with
    /// a domain must use one of its names (sendmail's `cannot alias
    /// non-local names`); without it every domain is accepted.
    pub fn parse(text: &[u8], local: Option<&LocalNames>) -> Self {
        let lines: Vec<Physical<'_>> = physical_lines(text).collect();
        let mut parser = Parser { lines: &lines, next: 0, skipping: false, local, file: Self::default() };
        while parser.next < lines.len() {
            parser.entry();
        }
        parser.file.mark_duplicates();
        parser.file.diagnostics.sort_by_key(|d| d.line);
        parser.file
    }

    /// The entries, in file order (a repeated name appears each time).
    pub fn entries(&self) -> &[AliasEntry] {
        &self.entries
    }

    /// Errors and warnings, in line order.
    pub fn diagnostics(&self) -> &[AliasDiagnostic] {
        &self.diagnostics
    }

    /// Whether any line was rejected.
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(|d| d.severity == Severity::Error)
    }

    /// The `(key, value)` pairs a database holds: keys in lower case, a
    /// repeated name's last value (as newaliases stores them), in file order
    /// of their last definition. No `@` sentinel: see
    /// [`AliasFile::map_entries`].
    pub fn pairs(&self) -> Vec<(&str, &str)> {
        let mut last: HashMap<&str, usize> = HashMap::new();
        for (n, entry) in self.entries.iter().enumerate() {
            last.insert(&entry.key, n);
        }
        self.entries
            .iter()
            .enumerate()
            .filter(|(n, entry)| last.get(entry.key.as_str()) == Some(n))
            .map(|(_, entry)| (entry.key.as_str(), entry.value.as_str()))
            .collect()
    }

    fn mark_duplicates(&mut self) {
        let mut first: HashMap<&str, usize> = HashMap::new();
        let mut found = Vec::new();
        for entry in &self.entries {
            match first.get(entry.key.as_str()) {
                Some(&first_line) => found.push(AliasDiagnostic {
                    line: entry.line,
                    severity: Severity::Warning,
                    problem: AliasProblem::DuplicateName { key: entry.key.clone(), first_line },
                }),
                None => {
                    first.insert(&entry.key, entry.line);
                }
            }
        }
        self.diagnostics.extend(found);
    }
}

struct Parser<'l, 'a, 'n> {
    lines: &'l [Physical<'a>],
    next: usize,
    /// sendmail's `skipping`: white-space lines after a rejected long line
    /// are dropped silently.
    skipping: bool,
    local: Option<&'n LocalNames>,
    file: AliasFile,
}

impl Parser<'_, '_, '_> {
    /// Reads the logical line at `self.next` and the continuation lines
    /// that follow it.
    fn entry(&mut self) {
        let line = self.next + 1;
        let logical = self.joined();
        if logical.len() > MAX_LOGICAL {
            self.error(line, AliasProblem::LineTooLong);
            self.skipping = true;
            return;
        }
        match logical.first() {
            None | Some(b'#') => {
                self.skipping = false;
                return;
            }
            Some(b' ' | b'\t') => {
                if !self.skipping {
                    self.error(line, AliasProblem::NonContinuation);
                }
                self.skipping = true;
                return;
            }
            Some(_) => self.skipping = false,
        }
        let Some(colon) = logical.iter().position(|&b| b == b':') else {
            let text = String::from_utf8_lossy(&logical[..logical.len().min(40)]).into_owned();
            self.error(line, AliasProblem::MissingColon { text });
            return;
        };
        let name_text = String::from_utf8_lossy(trim_c_space(&logical[..colon])).into_owned();
        // sendmail parses the name before it reads the continuation lines,
        // so those of a bad name are then reported as non-continuations.
        let name = match parse_name(&logical[..colon]) {
            Ok(name) => name,
            Err(reason) => {
                self.error(line, AliasProblem::IllegalName { name: name_text, reason });
                return;
            }
        };
        let start = colon + 1 + logical[colon + 1..].iter().take_while(|&&b| is_c_space(b)).count();
        let mut value = logical[start..].to_vec();
        let mut total = logical.len();
        while let Some(next) =
            self.lines.get(self.next).filter(|l| matches!(l.content.first(), Some(b' ' | b'\t')))
        {
            self.next += 1;
            total += next.content.len();
            value.extend_from_slice(next.content);
            if total > MAX_LOGICAL {
                self.error(line, AliasProblem::LineTooLong);
                self.skipping = true;
                return;
            }
        }
        if value.contains(&0) || logical.contains(&0) {
            self.error(line, AliasProblem::NulByte);
            return;
        }
        if let (Some(local), Some(domain)) = (self.local, name.domain())
            && !is_local(local, domain)
        {
            self.error(line, AliasProblem::NonLocalName { name: name_text });
            return;
        }
        if value.iter().all(|&b| is_c_space(b)) {
            self.error(line, AliasProblem::MissingValue { name: name_text });
            return;
        }
        let value = match String::from_utf8_lossy(&value) {
            Cow::Borrowed(text) => text.to_string(),
            Cow::Owned(text) => {
                self.file.diagnostics.push(AliasDiagnostic {
                    line,
                    severity: Severity::Warning,
                    problem: AliasProblem::NotUtf8,
                });
                text
            }
        };
        let key = name.local_part().to_ascii_lowercase();
        self.file.entries.push(AliasEntry { line, name, key, value });
    }

    /// The physical line at `self.next` with its `\`-newline continuations
    /// joined; moves past them.
    fn joined(&mut self) -> Vec<u8> {
        let mut line = self.lines[self.next];
        self.next += 1;
        let mut logical = line.content.to_vec();
        while line.newline && logical.last() == Some(&b'\\') {
            logical.pop();
            match self.lines.get(self.next) {
                Some(&next) => {
                    self.next += 1;
                    logical.extend_from_slice(next.content);
                    line = next;
                }
                // sendmail drops the backslash at the end of the file too.
                None => break,
            }
            if logical.len() > MAX_LOGICAL {
                break;
            }
        }
        logical
    }

    fn error(&mut self, line: usize, problem: AliasProblem) {
        self.file.diagnostics.push(AliasDiagnostic { line, severity: Severity::Error, problem });
    }
}

/// Splits `text` into physical lines.
fn physical_lines(text: &[u8]) -> impl Iterator<Item = Physical<'_>> {
    let mut rest = text;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let (content, newline, consumed) = match memchr_newline(rest) {
            Some(at) => (&rest[..at], true, at + 1),
            None => (rest, false, rest.len()),
        };
        rest = &rest[consumed..];
        Some(Physical { content, newline })
    })
}

fn memchr_newline(bytes: &[u8]) -> Option<usize> {
    bytes.iter().position(|&b| b == b'\n')
}

/// The name before the colon: an address whose local part is the key.
fn parse_name(raw: &[u8]) -> Result<Address, String> {
    let text = std::str::from_utf8(trim_c_space(raw)).map_err(|_| "the name is not UTF-8".to_string())?;
    if text.is_empty() {
        return Err("the name is empty".into());
    }
    Address::parse(text, ParseOptions { smtputf8: true }).map_err(|error| error.to_string())
}

fn is_local(local: &LocalNames, domain: &Domain) -> bool {
    match domain {
        Domain::Name(name) => local.contains_name(name),
        Domain::Ipv4(addr) => local.contains_addr((*addr).into()),
        Domain::Ipv6(addr) => local.contains_addr((*addr).into()),
    }
}

/// sendmail's `isascii(c) && isspace(c)`.
pub(crate) fn is_c_space(byte: u8) -> bool {
    matches!(byte, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

fn trim_c_space(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|&b| !is_c_space(b)).unwrap_or(bytes.len());
    let end = bytes.iter().rposition(|&b| !is_c_space(b)).map_or(start, |i| i + 1);
    &bytes[start..end.max(start)]
}

impl AliasEntry {
    /// The entry as aliases-file text, newline included, such that parsing
    /// it gives this entry back; `None` when no text does (a value ending in
    /// `\` with no white space to break the line at, or one too long for
    /// sendmail's buffer).
    ///
    /// ```
    /// use smarthost_routing::AliasFile;
    /// let file = AliasFile::parse(b"List: a,\n\tb\n", None);
    /// let entry = &file.entries()[0];
    /// assert_eq!(entry.to_source().as_deref(), Some("List: a,\tb\n"));
    /// ```
    pub fn to_source(&self) -> Option<String> {
        let name = render_name(&self.name);
        let value = &self.value;
        let text = if value.starts_with([' ', '\t']) {
            // Only a continuation line keeps leading white space.
            format!("{name}:\n{value}\n")
        } else if value.ends_with('\\') {
            // A first line ending in `\` would join the next line; move the
            // end of the value to a continuation line, which is read raw.
            let bytes = value.as_bytes();
            let cut =
                (1..bytes.len()).find(|&i| matches!(bytes[i], b' ' | b'\t') && bytes[i - 1] != b'\\')?;
            format!("{name}: {}\n{}\n", &value[..cut], &value[cut..])
        } else {
            format!("{name}: {value}\n")
        };
        let fits = text.lines().all(|line| line.len() <= MAX_LOGICAL) && text.len() <= MAX_LOGICAL;
        fits.then_some(text)
    }

    /// The value read into its elements (spec §6.2).
    pub fn elements(&self) -> Vec<super::AliasElement> {
        super::parse_alias_value(&self.value)
    }
}

/// The name as written in a file: quoted when it would otherwise start a
/// comment.
fn render_name(name: &Address) -> String {
    let text = name.to_string();
    if !text.starts_with('#') {
        return text;
    }
    let mut quoted = String::from("\"");
    for ch in name.local_part().chars() {
        if matches!(ch, '"' | '\\') {
            quoted.push('\\');
        }
        quoted.push(ch);
    }
    quoted.push('"');
    if let Some(domain) = name.domain() {
        quoted.push('@');
        quoted.push_str(&domain.to_string());
    }
    quoted
}

impl AliasDiagnostic {
    /// Formats the diagnostic as `FILE:LINE: error: message`.
    pub fn display_in<'d>(&'d self, file: &'d str) -> impl fmt::Display + 'd {
        InFile { file, diagnostic: self }
    }
}

impl fmt::Display for AliasDiagnostic {
    /// `line N: message`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.problem)
    }
}

struct InFile<'d> {
    file: &'d str,
    diagnostic: &'d AliasDiagnostic,
}

impl fmt::Display for InFile<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let level = match self.diagnostic.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(f, "{}:{}: {level}: {}", self.file, self.diagnostic.line, self.diagnostic.problem)
    }
}

impl fmt::Display for AliasProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::LineTooLong => write!(
                f,
                "alias line too long ({MAX_LOGICAL} bytes max with its continuation lines, as in \
                 sendmail); the entry is skipped: move the members to an :include: file"
            ),
            Self::NonContinuation => f.write_str(
                "Non-continuation line starts with space: a line starting with white space continues \
                 the entry before it, but a comment, an empty line or a rejected line came first; \
                 remove the white space or the line in between",
            ),
            Self::MissingColon { text } => write!(
                f,
                "`{}`... missing colon: write `name: value`{}",
                text.escape_debug(),
                if text.ends_with('\r') {
                    " (the line ends in CR: convert the file with dos2unix)"
                } else {
                    ""
                }
            ),
            Self::IllegalName { name, reason } => {
                write!(f, "`{name}`... illegal alias name: {reason}")
            }
            Self::NonLocalName { name } => write!(
                f,
                "`{name}`... cannot alias non-local names: the domain is not one of this host's names \
                 (class w); write the local part alone, or use the virtusertable for other domains"
            ),
            Self::MissingValue { name } => {
                write!(f, "`{name}`... missing value for alias: list the recipients after the colon")
            }
            Self::NulByte => {
                f.write_str("the entry contains a NUL byte, which sendmail cannot read; remove it")
            }
            Self::NotUtf8 => f.write_str(
                "the value is not UTF-8; the bad bytes were replaced by U+FFFD: save the file as UTF-8",
            ),
            Self::DuplicateName { key, first_line } => write!(
                f,
                "duplicate alias name `{key}`, first defined on line {first_line}: this later entry \
                 replaces it, as in sendmail; remove one of them"
            ),
        }
    }
}
