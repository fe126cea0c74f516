//! `interpolate` and `parse_rhs` on any value and `%` arguments, with and
//! without the ports extension: they never panic, and the host list of
//! every `Deliver` route renders (each `HostSpec`'s Display, joined with `:`
//! between preference groups and `,` within one) to `esmtp:HOSTS`, which
//! parses to the same hosts.
//!
//! Input: the first byte's bit 0 picks the ports mode for the first parse
//! (both are always tried); the rest, split at 0xff bytes, is the value and
//! then up to three arguments (`%0`, `%1`, `%2`), each as lossy UTF-8.

#![no_main]

use libfuzzer_sys::fuzz_target;
use smarthost_routing::{HostSpec, RhsOptions, TableRoute, has_mailer, interpolate, parse_rhs};

fuzz_target!(|input: &[u8]| {
    let Some((&flags, rest)) = input.split_first() else { return };
    let mut fields = rest.split(|&b| b == 0xff).map(String::from_utf8_lossy);
    let value = fields.next().unwrap_or_default();
    let args: Vec<_> = fields.take(3).collect();
    let args: Vec<&str> = args.iter().map(|a| a.as_ref()).collect();
    let expanded = interpolate(&value, &args);
    let first = flags & 1 != 0;
    for ports in [first, !first] {
        let options = RhsOptions { ports };
        let Ok(route) = parse_rhs(&expanded, options) else { continue };
        assert!(has_mailer(expanded.trim()), "parsed without a mailer: {expanded:?}");
        let _ = route.to_string();
        if let TableRoute::Deliver { hosts, .. } = route {
            assert!(!hosts.is_empty(), "a Deliver route without hosts from {expanded:?}");
            let rendered = format!("esmtp:{}", render(&hosts));
            match parse_rhs(&rendered, options) {
                Ok(TableRoute::Deliver { hosts: again, .. }) => {
                    assert_eq!(again, hosts, "{expanded:?} rendered as {rendered:?} (ports {ports})")
                }
                other => panic!("{expanded:?} rendered as {rendered:?} gave {other:?} (ports {ports})"),
            }
        }
    }
});

/// The host list as a route writes it: `:` moves to the next preference
/// group, `,` stays in the same one.
fn render(hosts: &[HostSpec]) -> String {
    let mut out = String::new();
    for (n, host) in hosts.iter().enumerate() {
        if n > 0 {
            out.push(if host.group == hosts[n - 1].group { ',' } else { ':' });
        }
        out.push_str(&host.to_string());
    }
    out
}
