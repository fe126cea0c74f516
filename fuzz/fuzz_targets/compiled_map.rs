//! `CompiledMap` on any file: opened as `x.cdb` (where plain CDB files are
//! accepted) and as `x.db`, a damaged map must give errors, never a panic or
//! an out-of-bounds read. Seeds are real maps, so mutations reach the tables
//! and records behind the header.

#![no_main]

use libfuzzer_sys::fuzz_target;
use smarthost_maps::{CompiledMap, Map};

/// Where the first record's key starts in a plain CDB file (after the 2,048
/// byte pointer table and the record's two lengths).
const FIRST_KEY: usize = 2048 + 8;

fuzz_target!(|input: &[u8]| {
    let dir = smarthost_fuzz::scratch_dir();
    for name in ["x.cdb", "x.db"] {
        let path = dir.path().join(name);
        std::fs::write(&path, input).expect("write the map file");
        let Ok(map) = CompiledMap::open(&path) else {
            continue;
        };
        let _ = (map.len(), map.content_hash(), map.is_case_folded(), map.has_header());
        // Keys that may well be in the file: its first record's, with and
        // without a trailing NUL and upper-cased, and the input's tail.
        let mut keys: Vec<&[u8]> = Vec::new();
        if let Some(&len) = input.get(FIRST_KEY - 8) {
            let first = &input[FIRST_KEY.min(input.len())..];
            keys.push(&first[..first.len().min(usize::from(len))]);
        }
        keys.push(&input[input.len().saturating_sub(16)..]);
        let mut records = Vec::new();
        for record in map.iter().take(16) {
            match record {
                Ok((key, _)) => records.push(key.to_vec()),
                Err(_) => break,
            }
        }
        for key in keys.into_iter().map(<[u8]>::to_vec).chain(records) {
            let _ = map.lookup(&key);
            let _ = map.lookup(&key.to_ascii_uppercase());
            let _ = map.lookup(&[&key[..], b"\0"].concat());
        }
        // Every record, to its end or its first error.
        for record in map.iter() {
            if record.is_err() {
                break;
            }
        }
        if map.verify().is_ok() && map.has_header() {
            for record in map.iter() {
                let (key, _) = record.expect("a verified map reads");
                assert!(map.lookup(key).expect("a verified map reads").is_some(), "lost record {key:?}");
            }
        }
    }
});
