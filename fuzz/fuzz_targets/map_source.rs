//! `Source::parse` on any text with any options: checks what every accepted
//! entry and every diagnostic must satisfy, and that each duplicate policy
//! keeps exactly the entries it promises out of those `-d` keeps.
//!
//! Input: a flags byte (see `smarthost_fuzz::options`; bit 7 steers the text
//! onto a map-like alphabet), the `-t` delimiter byte, then the text.

#![no_main]

use std::collections::{HashMap, HashSet};

use libfuzzer_sys::fuzz_target;
use smarthost_maps::{DiagnosticKind, Duplicates, Entry, LINE_BUFFER, Severity, Source};

fuzz_target!(|input: &[u8]| {
    let Some((&[flags, delimiter], text)) = input.split_first_chunk::<2>() else {
        return;
    };
    let options = smarthost_fuzz::options(flags, delimiter);
    let text = smarthost_fuzz::steer(text, flags & 0x80 != 0);
    let source = Source::parse(&text, &options);
    let lines = fgets_lines(&text);

    let is_separator = |b: u8| match options.delimiter {
        Some(d) => b == d,
        None => matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r'),
    };
    // makemap folds while it scans for the delimiter, so `-t a` turns a
    // key's `A` into an `a` that is not a separator.
    let folded_delimiter = options.fold_case && options.delimiter.is_some_and(|d| d.is_ascii_lowercase());
    let mut previous_line = 0;
    for entry in source.entries() {
        let (key, value) = (&*entry.key, &*entry.value);
        assert!(entry.line > previous_line && entry.line <= lines, "entry lines: {entry:?}");
        previous_line = entry.line;
        assert!(folded_delimiter || !key.iter().any(|&b| is_separator(b)), "separator in key: {entry:?}");
        assert!(!options.fold_case || !key.iter().any(u8::is_ascii_uppercase), "unfolded key: {entry:?}");
        assert!(!key.contains(&b'\n') && !value.contains(&b'\n'), "newline in entry: {entry:?}");
        assert!(!key.contains(&0) && !value.contains(&0), "NUL in entry: {entry:?}");
        assert!(options.allow_empty || !value.is_empty(), "empty value without -e: {entry:?}");
        assert!(value.first().is_none_or(|&b| !is_separator(b)), "value starts with a separator: {entry:?}");
        assert!(!options.strict || value.last() != Some(&b'\r'), "--strict kept a CR: {entry:?}");
    }

    if options.duplicates != Duplicates::KeepAll {
        let keys: HashSet<&[u8]> = source.entries().iter().map(|e| &*e.key).collect();
        assert_eq!(keys.len(), source.entries().len(), "a key stored twice");
    }

    let entry_lines: HashSet<usize> = source.entries().iter().map(|e| e.line).collect();
    let mut previous_line = 1;
    for diagnostic in source.diagnostics() {
        assert!(
            diagnostic.line >= previous_line && diagnostic.line <= lines,
            "diagnostic lines: {diagnostic:?}"
        );
        previous_line = diagnostic.line;
        if diagnostic.severity == Severity::Error {
            assert!(!entry_lines.contains(&diagnostic.line), "a rejected line was stored: {diagnostic:?}");
        }
        if let DiagnosticKind::DuplicateKey { key, first_line } = &diagnostic.kind {
            assert_eq!(options.duplicates, Duplicates::KeepFirst);
            let first = source.entries().iter().find(|e| e.line == *first_line);
            assert!(first.is_some_and(|e| *e.key == **key), "duplicate of nothing: {diagnostic:?}");
        }
    }
    assert_eq!(source.has_errors(), source.diagnostics().iter().any(|d| d.severity == Severity::Error));

    let mut keep_all = options.clone();
    keep_all.duplicates = Duplicates::KeepAll;
    let all = Source::parse(&text, &keep_all).into_entries();
    let expected = match options.duplicates {
        Duplicates::KeepAll => all,
        Duplicates::KeepFirst => {
            let mut seen = HashSet::new();
            all.into_iter().filter(|e| seen.insert(e.key.clone())).collect()
        }
        Duplicates::Replace => {
            let last: HashMap<_, _> = all.iter().map(|e| (e.key.clone(), e.line)).collect();
            all.iter().filter(|e| last[&e.key] == e.line).cloned().collect::<Vec<Entry<'_>>>()
        }
    };
    assert_eq!(source.entries(), expected.as_slice());
});

/// How many lines makemap's `fgets` loop reads: each ends after a newline
/// or after `LINE_BUFFER - 1` bytes, whichever comes first.
fn fgets_lines(text: &[u8]) -> usize {
    let mut lines = 0;
    let mut rest = text;
    while !rest.is_empty() {
        lines += 1;
        let window = &rest[..rest.len().min(LINE_BUFFER - 1)];
        let take = window.iter().position(|&b| b == b'\n').map_or(window.len(), |at| at + 1);
        rest = &rest[take..];
    }
    lines
}
