//! AuthInfo values and whole AuthInfo sources: parsing never panics, and
//! whatever parses renders back to text that parses (strictly) to the same
//! entry.
//!
//! Input: a mode byte, then the rest. Bit 0 picks a whole makemap source
//! (every `AuthInfo:` entry is looked up through the public lookup, keyed by
//! its own host) over a single value; bit 7 steers the bytes onto an
//! item-like alphabet so the fuzzer builds quoted items sooner.

#![no_main]

use libfuzzer_sys::fuzz_target;
use smarthost_authinfo::{AuthEntry, LookupOptions, LookupRequest, Mode, lookup};
use smarthost_maps::{Source, SourceOptions, TextMap};

/// What AuthInfo values are made of.
const ALPHABET: &[u8] = b"\"\"\"\"UIPRMuipXx:=:=  \tab09+/=AuthInfo\n";

fuzz_target!(|input: &[u8]| {
    let Some((&mode, rest)) = input.split_first() else {
        return;
    };
    let bytes: Vec<u8> = if mode & 0x80 != 0 {
        rest.iter().map(|&b| ALPHABET[usize::from(b) % ALPHABET.len()]).collect()
    } else {
        rest.to_vec()
    };
    if mode & 1 == 0 {
        check_value(&bytes);
        return;
    }
    let options = SourceOptions::default();
    let source = Source::parse(&bytes, &options);
    let (map, _) = TextMap::from_source(&bytes, &options);
    for entry in source.entries() {
        check_value(&entry.value);
        let Some(host) = entry.key.strip_prefix(b"authinfo:") else { continue };
        let Ok(host) = std::str::from_utf8(host) else { continue };
        for mode in [Mode::AuthInfoMap, Mode::AccessMap] {
            let lookup_options = LookupOptions { mode, ..LookupOptions::default() };
            let request = LookupRequest::new(host);
            let keys = request.keys(&lookup_options);
            assert_eq!(keys.last().map(String::as_str), Some("AuthInfo:"));
            if let Ok(Some(found)) = lookup(&map, &request, &lookup_options) {
                assert!(keys.contains(&found.key), "matched a key not tried: {}", found.key);
            }
        }
    }
});

/// Parses `value` both ways; a parsed entry must survive render → parse.
fn check_value(value: &[u8]) {
    let lenient = AuthEntry::parse(value);
    let strict = AuthEntry::parse_strict(value);
    if let Ok(entry) = &strict {
        assert_eq!(lenient.as_ref().ok(), Some(entry), "strict accepted what lenient did not");
    }
    if let Ok(entry) = lenient {
        let rendered = entry.render();
        let again = AuthEntry::parse_strict(rendered.as_bytes()).expect("a rendered entry parses");
        assert_eq!(again, entry, "render changed the entry: {rendered}");
    }
}
