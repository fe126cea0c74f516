//! The access-map key searches on any client name, client address and
//! envelope address: they never panic, and `AccessMap` (on the bare map, on
//! an `AccessIndex`, and with the index's key kinds) finds the entry a
//! naive reference finds (every key of sendmail's sequence built from a
//! token list, looked up in a `HashMap`). Then the whole policy decides on
//! the same input without panicking and with a well-formed reply.
//!
//! Input: byte 0 picks the tag, `+`/`!` mode, lookupdotdomain and the
//! value of the entries; the rest, split at 0xff bytes, is (1) a host
//! name, (2) an address text for LookUpAddress, (3) an envelope address,
//! (4) 16 bytes of IP address, (5) the map's own keys, one per `\n`, added
//! to a fixed set, each as lossy UTF-8.

#![no_main]

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use libfuzzer_sys::fuzz_target;
use smarthost_maps::{Error as MapError, Map};
use smarthost_routing::{
    AccessIndex, AccessMap, AccessOptions, AccessValue, Address, Client, ClientResolve, LocalNames, Mode,
    ParseOptions, Parts, Policy, PolicyOptions, Tag, client_addr_text,
};

/// The naive reference, shared with routing's proptests.
#[path = "../../routing/tests/support/access_reference.rs"]
mod reference;

const FIXED: &[&str] = &[
    "connect:192.168.1",
    "connect:10",
    "connect:ipv6:2001:db8",
    "connect:[192.0.2]",
    "connect:example.com",
    "connect:.example.org",
    "example.net",
    "from:user@",
    "from:user+*@example.com",
    "to:a@b.example",
    "[10.1]",
    "ipv6:2001:db8:0:0:0:0:0:1",
    "u@",
    "spam:x@y",
];
const VALUES: &[&str] =
    &["OK", "RELAY", "REJECT", "SKIP", "DISCARD", "ERROR:5.7.1:550 no", "QUARANTINE:q", "huh"];

/// A map that folds keys, as a makemap map does.
struct Plain(HashMap<Vec<u8>, Vec<u8>>);

impl Map for Plain {
    fn lookup(&self, key: &[u8]) -> Result<Option<&[u8]>, MapError> {
        Ok(self.0.get(&key.to_ascii_lowercase()).map(Vec::as_slice))
    }
}

fn simple(hit: Option<smarthost_routing::AccessHit<'_>>) -> Option<(String, Vec<u8>)> {
    hit.filter(|h| h.value != AccessValue::Skip).map(|h| (h.key, h.raw.to_vec()))
}

fuzz_target!(|input: &[u8]| {
    let Some((&flags, rest)) = input.split_first() else { return };
    let mut fields = rest.split(|&b| b == 0xff);
    let host = String::from_utf8_lossy(fields.next().unwrap_or_default()).into_owned();
    let addr_text = String::from_utf8_lossy(fields.next().unwrap_or_default()).into_owned();
    let envelope = String::from_utf8_lossy(fields.next().unwrap_or_default()).into_owned();
    let ip_bytes = fields.next().unwrap_or_default();
    let map_keys = fields.next().unwrap_or_default();

    let (tag, prefix) = match flags % 3 {
        0 => (Tag::Connect, "connect:"),
        1 => (Tag::From, "from:"),
        _ => (Tag::To, "to:"),
    };
    let untagged = flags & 4 != 0;
    let mode = if untagged { Mode::WithUntagged } else { Mode::TagOnly };
    let dot = flags & 8 != 0;
    let options = AccessOptions { lookup_dot_domain: dot, ..AccessOptions::default() };

    let mut entries: HashMap<Vec<u8>, Vec<u8>> = HashMap::new();
    let extra = map_keys.split(|&b| b == b'\n').filter(|k| !k.is_empty()).take(16);
    for (n, key) in FIXED.iter().map(|k| k.as_bytes()).chain(extra).enumerate() {
        let value = VALUES[(n + usize::from(flags >> 4)) % VALUES.len()];
        entries.entry(key.to_ascii_lowercase()).or_insert_with(|| value.as_bytes().to_vec());
    }
    let reference_map = entries.clone();
    let pairs: Vec<(Vec<u8>, Vec<u8>)> = entries.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    let plain = Plain(entries);
    let index = AccessIndex::new(
        Plain(reference_map.clone()),
        pairs.iter().map(|(k, v)| (&k[..], &v[..])),
        true,
        AccessOptions { normalise_ipv6_keys: false, ..options },
    );
    let accesses = [
        AccessMap::new(&plain, options),
        AccessMap::new(&index, options),
        AccessMap::indexed(&index, options),
    ];

    let lookup = |key: &str| reference_map.get(key.as_bytes()).cloned();
    let expected = reference::first_hit(lookup, &reference::host_keys(&host, prefix, untagged, dot));
    for access in &accesses {
        assert_eq!(simple(access.lookup_host(&host, tag, mode).unwrap()), expected, "host {host:?}");
    }
    let expected = reference::first_hit(lookup, &reference::addr_keys(&addr_text, prefix, untagged));
    for access in &accesses {
        assert_eq!(
            simple(access.lookup_addr_text(&addr_text, tag, mode).unwrap()),
            expected,
            "addr {addr_text:?}"
        );
    }
    let ip = match ip_bytes.len() {
        16.. => IpAddr::V6(Ipv6Addr::from(<[u8; 16]>::try_from(&ip_bytes[..16]).expect("16 bytes"))),
        4.. => IpAddr::V4(Ipv4Addr::from(<[u8; 4]>::try_from(&ip_bytes[..4]).expect("4 bytes"))),
        _ => IpAddr::V4(Ipv4Addr::new(192, 168, 1, ip_bytes.first().copied().unwrap_or(7))),
    };
    let expected =
        reference::first_hit(lookup, &reference::addr_keys(&client_addr_text(ip, false), prefix, untagged));
    for access in &accesses {
        assert_eq!(simple(access.lookup_client_addr(ip, tag, mode).unwrap()), expected, "client {ip}");
    }
    if let Ok(address) = Address::parse(&envelope, ParseOptions { smtputf8: true }) {
        let items = reference::address_items(&address, prefix, untagged, dot);
        let expected = reference::search(lookup, &items);
        for access in &accesses {
            let got = access.search_address(&address, tag, mode, Parts::ALL).unwrap();
            assert_eq!(simple(got), expected, "address {envelope:?}");
        }
    }

    // The whole policy on the same input.
    let local = LocalNames::new("mail.example.com");
    let policy_options = PolicyOptions {
        hostname: "mail.example.com".into(),
        blocklist_recipients: flags & 0x10 != 0,
        trust_auth_mechs: vec!["PLAIN".into()],
        ..PolicyOptions::default()
    };
    let client = Client {
        addr: Some(ip),
        name: (!host.is_empty()).then_some(host.as_str()),
        resolve: if host.is_empty() { ClientResolve::Fail } else { ClientResolve::Ok },
        auth: None,
    };
    for access in accesses {
        let policy = Policy::new(&local, &policy_options).access(access);
        let evaluation = policy.evaluate(&client, &addr_text, &[&envelope]);
        for checked in
            std::iter::once(&evaluation.connect).chain(&evaluation.sender).chain(&evaluation.recipients)
        {
            let reply = &checked.reply;
            assert!((200..600).contains(&reply.code), "{reply}");
            assert!(
                u16::from(reply.enhanced.0) == reply.code / 100 || checked.reason.name() == "access",
                "{reply}"
            );
        }
    }
});
