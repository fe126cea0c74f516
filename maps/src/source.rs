//! sendmail's makemap text format: one `key value` pair a line.
//!
//! The parser reproduces makemap 8.18 byte for byte (spec `maps.md` §1.3);
//! the only deliberate difference is the wording of its messages, which name
//! the line, say what is wrong and how to fix it.

use std::borrow::Cow;
use std::collections::HashMap;
use std::collections::hash_map;
use std::fmt;

use crate::map::KeyHashBuilder;

/// sendmail's makemap reads its input with `fgets` into a buffer of this many
/// bytes, so a line holds at most `LINE_BUFFER - 1` bytes, newline included.
pub const LINE_BUFFER: usize = 1024;

/// What happens when a key appears on more than one line.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Duplicates {
    /// Keep the first value and report every later line (makemap's default).
    #[default]
    KeepFirst,
    /// A later line silently replaces the earlier value (`makemap -r`).
    Replace,
    /// Store every copy (`makemap -d`); a lookup returns the first one and a
    /// dump lists them all. Wins over [`Duplicates::Replace`], as in sendmail.
    KeepAll,
}

/// How a source is read; the defaults are makemap's with no flags.
///
/// Each field names the makemap flag that sets it.
///
/// ```
/// use smarthost_maps::{Duplicates, SourceOptions};
///
/// // makemap -r -f
/// let options = SourceOptions { duplicates: Duplicates::Replace, fold_case: false, ..SourceOptions::default() };
/// # assert!(!options.fold_case);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceOptions {
    /// Fold ASCII upper-case letters in keys to lower case (on unless `-f`).
    pub fold_case: bool,
    /// Store a terminating NUL byte in every key and value (`-N`). It only
    /// changes the compiled file; lookups hide it.
    pub include_nul: bool,
    /// The comment character, recognised only as a line's first byte (`-D`).
    pub comment: u8,
    /// The key/value delimiter instead of white space (`-t`).
    pub delimiter: Option<u8>,
    /// Accept a key with an empty value (`-e`).
    pub allow_empty: bool,
    /// What a repeated key does (`-r`, `-d`).
    pub duplicates: Duplicates,
    /// smarthost's `--strict` extension: refuse lines that end in CR and warn
    /// about trailing white space and `#` inside values.
    pub strict: bool,
}

impl Default for SourceOptions {
    fn default() -> Self {
        Self {
            fold_case: true,
            include_nul: false,
            comment: b'#',
            delimiter: None,
            allow_empty: false,
            duplicates: Duplicates::KeepFirst,
            strict: false,
        }
    }
}

/// One accepted `key value` pair.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry<'a> {
    /// The 1-based source line, or 0 for an entry that did not come from the
    /// source text (`makemap -o` seeds the existing map's entries that way).
    pub line: usize,
    /// The key, folded to lower case unless the options say otherwise.
    pub key: Cow<'a, [u8]>,
    /// The value, exactly as written, trailing white space included.
    pub value: Cow<'a, [u8]>,
}

/// A parsed source: the entries to store and what was wrong with the rest.
#[derive(Clone, Debug, Default)]
pub struct Source<'a> {
    entries: Vec<Entry<'a>>,
    diagnostics: Vec<Diagnostic>,
}

impl<'a> Source<'a> {
    /// Parses makemap source text with sendmail's rules.
    ///
    /// ```
    /// use smarthost_maps::{Source, SourceOptions};
    ///
    /// let source = Source::parse(b"Example.COM  esmtp:[mx.example.net]\n", &SourceOptions::default());
    /// assert_eq!(&*source.entries()[0].key, b"example.com");
    /// assert!(!source.has_errors());
    /// ```
    pub fn parse(text: &'a [u8], options: &SourceOptions) -> Self {
        Self::parse_onto(Vec::new(), text, options)
    }

    /// Parses `text` as if its lines followed `existing`, which is how
    /// `makemap -o` adds to a map: a key already present counts as a
    /// duplicate of the existing entry.
    pub fn parse_onto(existing: Vec<Entry<'a>>, text: &'a [u8], options: &SourceOptions) -> Self {
        let mut diagnostics = Vec::new();
        let mut entries = existing;
        parse_lines(text, options, &mut entries, &mut diagnostics);
        let entries = remove_duplicates(entries, options.duplicates, &mut diagnostics);
        // Stable: each line's messages stay in the order they were found.
        diagnostics.sort_by_key(|d| d.line);
        Self { entries, diagnostics }
    }

    /// The accepted entries, in source order.
    pub fn entries(&self) -> &[Entry<'a>] {
        &self.entries
    }

    /// Takes the accepted entries.
    pub fn into_entries(self) -> Vec<Entry<'a>> {
        self.entries
    }

    /// Errors and warnings, in line order.
    pub fn diagnostics(&self) -> &[Diagnostic] {
        &self.diagnostics
    }

    /// Whether any line was rejected (makemap then exits with status 65).
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(|d| d.severity == Severity::Error)
    }
}

/// Whether a diagnostic rejected a line or only warns about it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Severity {
    /// The line was not stored.
    Error,
    /// The line was stored, but probably not as the operator meant.
    Warning,
}

/// A problem with one line of a source.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// The 1-based line it concerns.
    pub line: usize,
    /// Whether the line was rejected.
    pub severity: Severity,
    /// What is wrong.
    pub kind: DiagnosticKind,
}

/// What is wrong with a line.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DiagnosticKind {
    /// The line does not fit makemap's buffer; the rest of the physical line
    /// is read as the next line, exactly as sendmail does.
    LineTooLong,
    /// The line starts with white space.
    LeadingSpace,
    /// The line holds a NUL byte, which sendmail's C strings cannot carry.
    NulByte,
    /// A key with no value.
    NoValue {
        /// The key.
        key: Vec<u8>,
    },
    /// A key that an earlier line (or the existing map) already defines.
    DuplicateKey {
        /// The key.
        key: Vec<u8>,
        /// Where it was first defined; 0 for the existing map.
        first_line: usize,
    },
    /// `--strict`: the line ends in CR.
    CarriageReturn,
    /// Lines end in CR LF; reported once, on the first such line.
    CrLfLines {
        /// How many lines end in CR LF.
        count: usize,
    },
    /// `--strict`: the value ends in white space.
    TrailingWhitespace,
    /// `--strict`: the value holds the comment character.
    CommentInValue,
}

impl Diagnostic {
    /// Formats the diagnostic as `FILE:LINE: error: message`.
    pub fn display_in<'d>(&'d self, file: &'d str) -> impl fmt::Display + 'd {
        InFile { file, diagnostic: self }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.kind)
    }
}

struct InFile<'d> {
    file: &'d str,
    diagnostic: &'d Diagnostic,
}

impl fmt::Display for InFile<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let level = match self.diagnostic.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(f, "{}:{}: {level}: {}", self.file, self.diagnostic.line, self.diagnostic.kind)
    }
}

impl fmt::Display for DiagnosticKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::LineTooLong => write!(
                f,
                "line too long ({} bytes max, as in sendmail's makemap); the rest of it is read \
                 as the next line: shorten the entry",
                LINE_BUFFER - 1
            ),
            Self::LeadingSpace => f.write_str(
                "syntax error (leading space): makemap has no continuation lines; remove the \
                 white space at the start of the line",
            ),
            Self::NulByte => f.write_str("the line contains a NUL byte, which a map cannot store; remove it"),
            Self::NoValue { key } => write!(
                f,
                "no RHS for LHS `{}`: write a value after the key, or pass -e to allow empty values",
                key.escape_ascii()
            ),
            Self::DuplicateKey { key, first_line: 0 } => write!(
                f,
                "key `{}`: duplicate key, already in the map (kept); pass -r to let this line replace it",
                key.escape_ascii()
            ),
            Self::DuplicateKey { key, first_line } => write!(
                f,
                "key `{}`: duplicate key, first defined on line {first_line} (kept); remove one of \
                 the lines, or pass -r to let the later one win",
                key.escape_ascii()
            ),
            Self::CarriageReturn => f.write_str(
                "the line ends in CR (a CR LF file): convert the file to LF line ends, e.g. with dos2unix",
            ),
            Self::CrLfLines { count } => write!(
                f,
                "{count} line(s) end in CR LF, starting here; as in sendmail, each CR is kept at the \
                 end of its value, where it breaks exact matches: convert the file with dos2unix \
                 (or sed -i 's/\\r$//'), or pass --strict to refuse such lines"
            ),
            Self::TrailingWhitespace => {
                f.write_str("the value ends in white space, which is stored as part of the value")
            }
            Self::CommentInValue => f.write_str(
                "the comment character inside a value is stored as text: makemap recognises \
                 comments only at the start of a line",
            ),
        }
    }
}

/// sendmail's `isascii(c) && isspace(c)` in the C locale.
pub(crate) fn is_c_space(byte: u8) -> bool {
    matches!(byte, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// Splits `text` the way makemap's `fgets` loop does and parses each line.
fn parse_lines<'a>(
    text: &'a [u8],
    options: &SourceOptions,
    entries: &mut Vec<Entry<'a>>,
    diagnostics: &mut Vec<Diagnostic>,
) {
    let mut crlf = CrLfTally::default();
    let mut rest = text;
    let mut line = 0;
    while !rest.is_empty() {
        line += 1;
        let window = &rest[..rest.len().min(LINE_BUFFER - 1)];
        let (content, consumed) = match memchr::memchr(b'\n', window) {
            Some(newline) => (&window[..newline], newline + 1),
            None if window.len() == LINE_BUFFER - 1 => {
                diagnostics.push(error(line, DiagnosticKind::LineTooLong));
                rest = &rest[window.len()..];
                continue;
            }
            None => (window, window.len()),
        };
        rest = &rest[consumed..];
        let ends_in_cr = content.last() == Some(&b'\r');
        if ends_in_cr && !options.strict {
            crlf.see(line);
        }
        match parse_line(content, options) {
            Line::Skip => {}
            Line::Entry { .. } if ends_in_cr && options.strict => {
                diagnostics.push(error(line, DiagnosticKind::CarriageReturn));
            }
            Line::Entry { key, value } => {
                if options.strict {
                    strict_warnings(line, value, options, diagnostics);
                }
                entries.push(Entry { line, key, value: Cow::Borrowed(value) });
            }
            Line::Problem(kind) => diagnostics.push(error(line, kind)),
        }
    }
    if let Some(first) = crlf.first {
        diagnostics.push(Diagnostic {
            line: first,
            severity: Severity::Warning,
            kind: DiagnosticKind::CrLfLines { count: crlf.count },
        });
    }
}

enum Line<'a> {
    Skip,
    Entry { key: Cow<'a, [u8]>, value: &'a [u8] },
    Problem(DiagnosticKind),
}

/// Steps 3 to 8 of spec §1.3 for one line, newline already removed.
fn parse_line<'a>(content: &'a [u8], options: &SourceOptions) -> Line<'a> {
    let Some(&first) = content.first() else {
        return Line::Skip;
    };
    if first == options.comment {
        return Line::Skip;
    }
    if memchr::memchr(0, content).is_some() {
        return Line::Problem(DiagnosticKind::NulByte);
    }
    let is_separator = |byte: u8| match options.delimiter {
        Some(delimiter) => byte == delimiter,
        None => is_c_space(byte),
    };
    if options.delimiter.is_none() && is_c_space(first) {
        return Line::Problem(DiagnosticKind::LeadingSpace);
    }
    let key_end = content.iter().position(|&b| is_separator(b)).unwrap_or(content.len());
    let value_start = content[key_end..]
        .iter()
        .position(|&b| !is_separator(b))
        .map_or(content.len(), |offset| key_end + offset);
    let key = fold_key(&content[..key_end], options.fold_case);
    let value = &content[value_start..];
    if value.is_empty() && !options.allow_empty {
        return Line::Problem(DiagnosticKind::NoValue { key: key.into_owned() });
    }
    Line::Entry { key, value }
}

/// Lower-cases ASCII letters, borrowing when there is nothing to fold.
pub(crate) fn fold_key(key: &[u8], fold_case: bool) -> Cow<'_, [u8]> {
    if fold_case && key.iter().any(u8::is_ascii_uppercase) {
        Cow::Owned(key.to_ascii_lowercase())
    } else {
        Cow::Borrowed(key)
    }
}

fn strict_warnings(line: usize, value: &[u8], options: &SourceOptions, diagnostics: &mut Vec<Diagnostic>) {
    let warn = |kind| Diagnostic { line, severity: Severity::Warning, kind };
    if value.last().is_some_and(|&b| is_c_space(b)) {
        diagnostics.push(warn(DiagnosticKind::TrailingWhitespace));
    }
    if memchr::memchr(options.comment, value).is_some() {
        diagnostics.push(warn(DiagnosticKind::CommentInValue));
    }
}

fn error(line: usize, kind: DiagnosticKind) -> Diagnostic {
    Diagnostic { line, severity: Severity::Error, kind }
}

#[derive(Default)]
struct CrLfTally {
    first: Option<usize>,
    count: usize,
}

impl CrLfTally {
    fn see(&mut self, line: usize) {
        self.first.get_or_insert(line);
        self.count += 1;
    }
}

/// Step 9 of spec §1.3: applies the duplicate-key policy.
fn remove_duplicates<'a>(
    entries: Vec<Entry<'a>>,
    policy: Duplicates,
    diagnostics: &mut Vec<Diagnostic>,
) -> Vec<Entry<'a>> {
    if policy == Duplicates::KeepAll {
        return entries;
    }
    let mut keep = vec![true; entries.len()];
    let mut seen: HashMap<&[u8], usize, KeyHashBuilder> =
        HashMap::with_capacity_and_hasher(entries.len(), KeyHashBuilder::default());
    for (index, entry) in entries.iter().enumerate() {
        match seen.entry(&entry.key) {
            hash_map::Entry::Vacant(slot) => {
                slot.insert(index);
            }
            hash_map::Entry::Occupied(mut slot) => match policy {
                Duplicates::Replace => {
                    keep[*slot.get()] = false;
                    slot.insert(index);
                }
                Duplicates::KeepFirst | Duplicates::KeepAll => {
                    keep[index] = false;
                    diagnostics.push(error(
                        entry.line,
                        DiagnosticKind::DuplicateKey {
                            key: entry.key.to_vec(),
                            first_line: entries[*slot.get()].line,
                        },
                    ));
                }
            },
        }
    }
    drop(seen);
    entries.into_iter().zip(keep).filter_map(|(entry, keep)| keep.then_some(entry)).collect()
}

#[cfg(test)]
mod tests;
