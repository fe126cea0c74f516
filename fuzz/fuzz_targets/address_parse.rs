//! `Address::parse`, `ReversePath::parse` and `ForwardPath::parse` on any
//! bytes (as lossy UTF-8), with and without SMTPUTF8: they never panic, and
//! whatever they accept renders to text that parses to the same value.

#![no_main]

use libfuzzer_sys::fuzz_target;
use smarthost_routing::{Address, ForwardPath, ParseOptions, ReversePath};

fuzz_target!(|input: &[u8]| {
    let text = String::from_utf8_lossy(input);
    for smtputf8 in [false, true] {
        let options = ParseOptions { smtputf8 };
        if let Ok(address) = Address::parse(&text, options) {
            let rendered = address.to_string();
            let again = Address::parse(&rendered, options).expect("a rendered address parses");
            assert_eq!(again, address, "round trip changed {rendered:?}");
            assert_eq!(again.to_string(), rendered, "rendering is not idempotent");
        }
        if let Ok(parsed) = ReversePath::parse(&text, options) {
            let rendered = parsed.path.to_string();
            let again = ReversePath::parse(&rendered, options).expect("a rendered path parses");
            assert_eq!(again.path, parsed.path, "round trip changed {rendered:?}");
            assert!(!again.source_route, "rendering kept a source route");
        }
        if let Ok(parsed) = ForwardPath::parse(&text, options) {
            let rendered = parsed.path.to_string();
            let again = ForwardPath::parse(&rendered, options).expect("a rendered path parses");
            assert_eq!(again.path, parsed.path, "round trip changed {rendered:?}");
            let _ = parsed.relay_tricks().count();
        }
    }
});
