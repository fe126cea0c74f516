//! `AliasFile::parse` and `parse_alias_value` on any bytes: they never
//! panic; every entry that can be written as text (`AliasEntry::to_source`)
//! reads back as the same entry, alone and as part of the whole rendered
//! file; and every value's elements render (`render_alias_value`) to text
//! that reads back as the same elements.
//!
//! Seeds: the aliases files of `routing/tests/vectors/aliases/`.

#![no_main]

use libfuzzer_sys::fuzz_target;
use smarthost_routing::{AliasFile, parse_alias_value, render_alias_value};

fuzz_target!(|input: &[u8]| {
    let file = AliasFile::parse(input, None);
    let mut rendered = String::new();
    let mut expected = Vec::new();
    for entry in file.entries() {
        let elements = entry.elements();
        let text = render_alias_value(&elements);
        assert_eq!(parse_alias_value(&text), elements, "elements of {:?} rendered as {text:?}", entry.value);
        let Some(source) = entry.to_source() else {
            assert!(entry.value.ends_with('\\'), "no source text for {entry:?}");
            continue;
        };
        let again = AliasFile::parse(source.as_bytes(), None);
        assert_eq!(again.entries().len(), 1, "{source:?} reads as {:?}", again.entries());
        let back = &again.entries()[0];
        assert_eq!((&back.name, &back.key, &back.value), (&entry.name, &entry.key, &entry.value), "{source:?}");
        rendered.push_str(&source);
        expected.push((entry.key.clone(), entry.value.clone()));
    }
    let again = AliasFile::parse(rendered.as_bytes(), None);
    let pairs: Vec<(String, String)> = again.entries().iter().map(|e| (e.key.clone(), e.value.clone())).collect();
    assert_eq!(pairs, expected, "the rendered file {rendered:?}");
    // A value on its own, as `:include:` lines are read.
    let _ = parse_alias_value(&String::from_utf8_lossy(input));
});
