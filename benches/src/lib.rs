//! criterion benchmarks for the smarthost crates live in `benches/`; this
//! library holds the test data they share with the example programs.

use std::fmt::Write as _;

/// Entries in the large map the benchmarks use: a big site's mailertable.
pub const ENTRIES: usize = 1_000_000;

const LABELS: [&str; 8] = ["host", "mail", "relay", "smtp", "mx", "shop", "web", "node"];
const TLDS: [&str; 8] = ["com", "net", "org", "de", "co.uk", "fr", "nl", "io"];
/// Digits in a key's number, and a multiplier coprime with its range, so that
/// `i -> i * SCRAMBLE mod 10^7` is a bijection: the numbers of present
/// (`i < ENTRIES`) and absent (`i >= ENTRIES`) keys never meet, and neighbours
/// in the file do not share a prefix the way `host000001`, `host000002` would.
const NUMBER_RANGE: u64 = 10_000_000;
const SCRAMBLE: u64 = 7_654_321;

/// splitmix64: a fixed, well-mixed stream, so every run sees the same data.
fn mix(i: u64) -> u64 {
    let mut z = i.wrapping_add(0x9e37_79b9_7f4a_7c15).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn write_key(out: &mut String, i: u64) {
    let r = mix(i);
    let label = LABELS[(r & 7) as usize];
    let number = i.wrapping_mul(SCRAMBLE) % NUMBER_RANGE;
    let org = (r >> 8) % 1000;
    let tld = TLDS[((r >> 20) & 7) as usize];
    let _ = write!(out, "{label}{number}.example-{org}.{tld}");
}

/// The key of entry `i`; for `i >= ENTRIES` a key of the same shape that the
/// map does not hold.
pub fn key(i: u64) -> String {
    let mut key = String::with_capacity(32);
    write_key(&mut key, i);
    key
}

/// The makemap source text of the first `n` entries: `KEY  esmtp:[HOST]` lines.
pub fn source_text(n: usize) -> Vec<u8> {
    let mut text = String::with_capacity(n * 60);
    for i in 0..n as u64 {
        write_key(&mut text, i);
        let r = mix(i ^ 0x5555);
        let _ = writeln!(text, "\tesmtp:[mx{}.provider-{}.net]", r % 10, (r >> 8) % 50);
    }
    text.into_bytes()
}

/// Parent-domain keys in [`routing_source_text`]: `.example-ORG.TLD` for
/// every organisation and top-level domain that [`key`] uses.
pub const PARENT_KEYS: usize = 1000 * TLDS.len();

/// A mailertable of `n` entries (`n >= PARENT_KEYS`): first every
/// `.example-ORG.TLD` parent key, routed to `esmtp:[%1.relay-ORG.net]`, then
/// the first `n - PARENT_KEYS` exact names of [`source_text`]. A recipient
/// in `a.b.c.example-42.com` tries four keys before `.example-42.com` matches.
pub fn routing_source_text(n: usize) -> Vec<u8> {
    assert!(n >= PARENT_KEYS, "a routing table holds at least the {PARENT_KEYS} parent keys");
    let mut text = String::with_capacity(n * 60);
    for j in 0..PARENT_KEYS {
        let (org, tld) = (j % 1000, TLDS[j / 1000]);
        let _ = writeln!(text, ".example-{org}.{tld}\tesmtp:[%1.relay-{org}.net]");
    }
    let mut exact = source_text(n - PARENT_KEYS);
    let mut text = text.into_bytes();
    text.append(&mut exact);
    text
}

/// The parent key `.example-ORG.TLD` that [`routing_source_text`] holds
/// for `i`, as a domain with `labels` more labels in front:
/// `a.b.c.example-42.com` for three.
pub fn routed_domain(i: u64, labels: usize) -> String {
    let j = (mix(i ^ 0x7777) % PARENT_KEYS as u64) as usize;
    let mut domain = String::new();
    for label in ["a", "b", "c", "d", "e", "f"].iter().take(labels) {
        domain.push_str(label);
        domain.push('.');
    }
    let _ = write!(domain, "example-{}.{}", j % 1000, TLDS[j / 1000]);
    domain
}

/// `count` indices below `n`, drawn at random but the same every run, so
/// that a lookup loop walks the whole map instead of hitting one cached key.
pub fn random_indices(n: usize, count: usize) -> Vec<u64> {
    (0..count as u64).map(|i| mix(i ^ 0xabcd) % n as u64).collect()
}

/// A process's resident set size from `/proc/self/status`, in KiB, by field
/// (`VmRSS`, `RssAnon`, `RssFile`).
pub fn status_kib(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line =
        status.lines().find(|line| line.strip_prefix(field).is_some_and(|rest| rest.starts_with(':')))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn present_and_absent_keys_are_distinct() {
        let n = 10_000;
        let present: std::collections::HashSet<String> = (0..n).map(key).collect();
        assert_eq!(present.len(), n as usize);
        assert!((ENTRIES as u64..ENTRIES as u64 + n).all(|i| !present.contains(&key(i))));
    }
}
