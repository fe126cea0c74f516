//! Text -> `Source::parse` -> `MapBuilder` -> `CompiledMap`: every accepted
//! entry is found with its value (the first one for a repeated key), `iter`
//! gives back exactly the entries in order, the header agrees, and a
//! `TextMap` of the same text answers every lookup the same.
//!
//! Input: a flags byte (see `smarthost_fuzz::options`; bit 7 steers the
//! pairs onto a map-like alphabet), the `-t` delimiter byte, then keys and
//! values separated by 0xff bytes, written out one pair a line.

#![no_main]

use std::collections::HashMap;

use libfuzzer_sys::fuzz_target;
use smarthost_maps::{CompiledMap, Map, MapBuilder, Source, TextMap};

fuzz_target!(|input: &[u8]| {
    let Some((&[flags, delimiter], body)) = input.split_first_chunk::<2>() else {
        return;
    };
    let options = smarthost_fuzz::options(flags, delimiter);
    let separator = options.delimiter.unwrap_or(b'\t');
    let fields: Vec<_> =
        body.split(|&b| b == 0xff).map(|f| smarthost_fuzz::steer(f, flags & 0x80 != 0)).collect();
    let mut text = Vec::new();
    for pair in fields.chunks(2) {
        text.extend_from_slice(&pair[0]);
        text.push(separator);
        text.extend_from_slice(pair.get(1).map_or(&[][..], |v| v));
        text.push(b'\n');
    }

    let source = Source::parse(&text, &options);
    let dir = smarthost_fuzz::scratch_dir();
    let path = dir.path().join("roundtrip.db");
    let report = MapBuilder::new(&path, &options).write(source.entries()).expect("build the map");
    assert_eq!(report.entries, source.entries().len() as u64);
    let map = CompiledMap::open(&path).expect("open the map just built");
    map.verify().expect("the map just built verifies");
    assert_eq!(map.len(), Some(report.entries));
    assert_eq!(map.is_case_folded(), options.fold_case);
    assert_eq!(map.content_hash(), report.content_hash);

    let stored: Vec<(&[u8], &[u8])> =
        map.iter().map(|r| r.expect("a record of the map just built")).collect();
    let accepted: Vec<(&[u8], &[u8])> = source.entries().iter().map(|e| (&*e.key, &*e.value)).collect();
    assert_eq!(stored, accepted, "iter() differs from the source");

    let (text_map, _) = TextMap::from_source(&text, &options);
    let mut first: HashMap<&[u8], &[u8]> = HashMap::new();
    for &(key, value) in &accepted {
        first.entry(key).or_insert(value);
    }
    assert_eq!(text_map.len(), first.len());
    for (&key, &value) in &first {
        assert_eq!(map.lookup(key).expect("a sound map"), Some(value), "compiled lookup of {key:?}");
        assert_eq!(text_map.lookup(key).expect("a text map"), Some(value), "text lookup of {key:?}");
        if options.fold_case {
            let upper = key.to_ascii_uppercase();
            assert_eq!(map.lookup(&upper).expect("a sound map"), Some(value), "folded lookup of {key:?}");
        }
    }
    // Absent keys too: both maps fold and miss alike on every input field.
    for field in &fields {
        assert_eq!(map.lookup(field).expect("a sound map"), text_map.lookup(field).expect("a text map"));
    }
    // The header record is left out of the hash tables, whatever the flags.
    for key in [&b"\0smarthost-map\0\0"[..], b"\0smarthost-map\0"] {
        assert_eq!(map.lookup(key).expect("a sound map"), None);
    }
});
