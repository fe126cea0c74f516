//! Property tests: text → compiled → dump keeps every pair under the
//! documented duplicate and folding rules, and lookups agree with a HashMap.

use std::collections::HashMap;

use proptest::prelude::*;
use smarthost_maps::{CompiledMap, Duplicates, Map, MapBuilder, Source, SourceOptions, TextMap};

fn duplicates() -> impl Strategy<Value = Duplicates> {
    prop_oneof![Just(Duplicates::KeepFirst), Just(Duplicates::Replace), Just(Duplicates::KeepAll)]
}

/// Keys never start with the comment character and hold no white space;
/// values never start with white space (the separator run would eat it).
fn pairs() -> impl Strategy<Value = Vec<(String, String)>> {
    let key = "[A-Za-z0-9.@:+_-][A-Za-z0-9.@:+_#-]{0,11}";
    let value = "[!-~][ -~]{0,20}";
    // Few distinct keys, so that duplicates are common.
    prop::collection::vec((key, value), 0..40)
        .prop_flat_map(|pairs| {
            let n = pairs.len();
            (Just(pairs), prop::collection::vec(any::<prop::sample::Index>(), n))
        })
        .prop_map(|(pairs, picks)| {
            pairs
                .iter()
                .zip(&picks)
                .map(|((_, value), pick)| (pairs[pick.index(pairs.len())].0.clone(), value.clone()))
                .collect()
        })
}

/// What makemap should store, worked out the naive way.
fn reference(pairs: &[(String, String)], fold: bool, duplicates: Duplicates) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut stored: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
    for (key, value) in pairs {
        let key = if fold { key.to_ascii_lowercase() } else { key.clone() }.into_bytes();
        let value = value.clone().into_bytes();
        match (duplicates, stored.iter().position(|(k, _)| *k == key)) {
            (Duplicates::KeepAll, _) | (_, None) => stored.push((key, value)),
            (Duplicates::KeepFirst, Some(_)) => {}
            (Duplicates::Replace, Some(at)) => {
                stored.remove(at);
                stored.push((key, value));
            }
        }
    }
    stored
}

fn render(pairs: &[(String, String)]) -> String {
    pairs.iter().map(|(k, v)| format!("{k}\t{v}\n")).collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn text_compiled_dump_round_trip(pairs in pairs(), fold in any::<bool>(), nul in any::<bool>(), duplicates in duplicates()) {
        let options = SourceOptions { fold_case: fold, include_nul: nul, duplicates, ..SourceOptions::default() };
        let text = render(&pairs);
        let source = Source::parse(text.as_bytes(), &options);
        let expected = reference(&pairs, fold, duplicates);
        // Only KeepFirst reports the lines it drops.
        let dropped = if duplicates == Duplicates::KeepFirst { pairs.len() - expected.len() } else { 0 };
        prop_assert_eq!(source.diagnostics().len(), dropped);

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.db");
        MapBuilder::new(&path, &options).write(source.entries()).unwrap();
        let map = CompiledMap::open(&path).unwrap();
        map.verify().unwrap();
        let mut dumped: Vec<(Vec<u8>, Vec<u8>)> = map.iter().map(|r| r.map(|(k, v)| (k.to_vec(), v.to_vec())).unwrap()).collect();
        let mut want = expected.clone();
        dumped.sort();
        want.sort();
        prop_assert_eq!(dumped, want);

        let mut first: HashMap<Vec<u8>, Vec<u8>> = HashMap::new();
        for (key, value) in &expected {
            first.entry(key.clone()).or_insert_with(|| value.clone());
        }
        let (text_map, _) = TextMap::from_source(text.as_bytes(), &options);
        for (key, _) in &pairs {
            for probe in [key.clone(), key.to_ascii_uppercase(), format!("{key}x")] {
                let folded = if fold { probe.to_ascii_lowercase() } else { probe.clone() };
                let want = first.get(folded.as_bytes()).map(Vec::as_slice);
                prop_assert_eq!(map.lookup(probe.as_bytes()).unwrap(), want, "compiled {}", probe);
                prop_assert_eq!(text_map.lookup(probe.as_bytes()).unwrap(), want, "text {}", probe);
            }
        }
    }

    #[test]
    fn parsing_arbitrary_bytes_never_panics_and_keeps_keys_clean(text in prop::collection::vec(any::<u8>(), 0..4096)) {
        let source = Source::parse(&text, &SourceOptions::default());
        for entry in source.entries() {
            prop_assert!(!entry.key.is_empty());
            prop_assert!(!entry.key.iter().any(|b| b" \t\n\r\x0b\x0c".contains(b) || b.is_ascii_uppercase()));
            prop_assert!(!entry.value.contains(&b'\n'));
        }
    }

    #[test]
    fn opening_arbitrary_bytes_never_panics(mut bytes in prop::collection::vec(any::<u8>(), 0..6000), header in any::<bool>()) {
        if header && bytes.len() > 2104 {
            // Give the fuzzed bytes a plausible header so that more of them
            // get past the first check.
            bytes[2048..2056].copy_from_slice(&[16, 0, 0, 0, 32, 0, 0, 0]);
            bytes[2056..2072].copy_from_slice(b"\0smarthost-map\0\0");
            bytes[2072..2084].copy_from_slice(b"SMHMAP\r\n\x01\0\0\0");
        }
        let dir = tempfile::tempdir().unwrap();
        for name in ["x.db", "x.cdb"] {
            let path = dir.path().join(name);
            std::fs::write(&path, &bytes).unwrap();
            if let Ok(map) = CompiledMap::open(&path) {
                for key in [&b"a"[..], b"", &bytes[..bytes.len().min(5)]] {
                    let _ = map.lookup(key);
                }
                let _ = map.iter().take(10_000).count();
                let _ = map.verify();
            }
        }
    }
}
