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
    AccessIndex, AccessMap, AccessOptions, AccessValue, Address, Client, ClientResolve, Domain, LocalNames, Mode,
    ParseOptions, Parts, Policy, PolicyOptions, Tag, client_addr_text,
};

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
const VALUES: &[&str] = &["OK", "RELAY", "REJECT", "SKIP", "DISCARD", "ERROR:5.7.1:550 no", "QUARANTINE:q", "huh"];

/// A map that folds keys, as a makemap map does.
struct Plain(HashMap<Vec<u8>, Vec<u8>>);

impl Map for Plain {
    fn lookup(&self, key: &[u8]) -> Result<Option<&[u8]>, MapError> {
        Ok(self.0.get(&key.to_ascii_lowercase()).map(Vec::as_slice))
    }
}

fn is_operator(c: char) -> bool {
    ".:%@!^/[]+".contains(c)
}

fn tokens(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut word = String::new();
    for c in text.chars() {
        if is_operator(c) {
            if !word.is_empty() {
                out.push(std::mem::take(&mut word));
            }
            out.push(c.to_string());
        } else {
            word.push(c);
        }
    }
    if !word.is_empty() {
        out.push(word);
    }
    out
}

fn push(keys: &mut Vec<String>, body: &str, tag: &str, untagged: bool) {
    keys.push(format!("{tag}{body}"));
    if untagged {
        keys.push(body.to_string());
    }
}

fn naive_host(host: &str, tag: &str, untagged: bool, dot: bool) -> Vec<String> {
    let host = host.to_ascii_lowercase();
    let host = host.strip_suffix('.').unwrap_or(&host);
    let mut cur = tokens(host);
    let mut keys = Vec::new();
    while !cur.is_empty() {
        push(&mut keys, &cur.concat(), tag, untagged);
        let first_dot = (1..cur.len().saturating_sub(1)).find(|&i| cur[i] == ".");
        if dot && let Some(i) = first_dot {
            push(&mut keys, &cur[i..].concat(), tag, untagged);
        }
        let n = cur.len();
        if n >= 2 && cur[0] == "[" && cur[n - 1] == "]" {
            let inner = &cur[1..n - 1];
            let m = inner.len();
            let cut = if m >= 3 && inner[m - 2] == "." {
                Some(2)
            } else if m >= 4 && inner[m - 2] == ":" && inner[m - 3] == ":" {
                Some(3)
            } else if m >= 3 && inner[m - 2] == ":" {
                Some(2)
            } else {
                None
            };
            if let Some(cut) = cut {
                let mut next = vec!["[".to_string()];
                next.extend_from_slice(&inner[..m - cut]);
                next.push("]".into());
                cur = next;
                continue;
            }
        }
        match first_dot {
            Some(i) => cur = cur[i + 1..].to_vec(),
            None => break,
        }
    }
    keys
}

fn naive_addr(text: &str, tag: &str, untagged: bool) -> Vec<String> {
    let mut cur = tokens(&text.to_ascii_lowercase());
    let mut keys = Vec::new();
    while !cur.is_empty() {
        push(&mut keys, &cur.concat(), tag, untagged);
        let n = cur.len();
        let cut = if n >= 4 && cur[n - 2] == ":" && cur[n - 3] == ":" {
            3
        } else if n >= 3 && (cur[n - 2] == ":" || cur[n - 2] == ".") {
            2
        } else {
            break;
        };
        cur.truncate(n - cut);
    }
    keys
}

fn domain_text(domain: &Domain) -> String {
    match domain {
        Domain::Name(name) => name.clone(),
        Domain::Ipv4(v4) => format!("[{v4}]"),
        Domain::Ipv6(v6) => format!("[{}]", client_addr_text(IpAddr::V6(*v6), false)),
    }
}

fn naive_items(address: &Address, tag: &str, untagged: bool, dot: bool) -> Vec<Vec<String>> {
    let local = address.quoted_local_part().to_ascii_lowercase();
    let plus = if address.is_quoted() { None } else { local.char_indices().skip(1).find(|&(_, c)| c == '+') };
    let mut items = Vec::new();
    let variants = |suffix: &str| {
        let mut keys = Vec::new();
        push(&mut keys, &format!("{local}@{suffix}"), tag, untagged);
        if let Some((i, _)) = plus {
            push(&mut keys, &format!("{}+*@{suffix}", &local[..i]), tag, untagged);
            push(&mut keys, &format!("{}@{suffix}", &local[..i]), tag, untagged);
        }
        keys
    };
    if let Some(domain) = address.domain() {
        items.push(variants(&domain_text(domain).to_ascii_lowercase()));
    }
    items.push(variants(""));
    if let Some(domain) = address.domain() {
        items.push(naive_host(&domain_text(domain), tag, untagged, dot));
    }
    items
}

fn first_hit(map: &HashMap<Vec<u8>, Vec<u8>>, keys: &[String]) -> Option<(String, Vec<u8>)> {
    let key = keys.iter().find(|k| map.contains_key(k.as_bytes()))?;
    let value = map[key.as_bytes()].clone();
    (!value.eq_ignore_ascii_case(b"skip")).then(|| (key.clone(), value))
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
    let reference = entries.clone();
    let pairs: Vec<(Vec<u8>, Vec<u8>)> = entries.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    let plain = Plain(entries);
    let index = AccessIndex::new(
        Plain(reference.clone()),
        pairs.iter().map(|(k, v)| (&k[..], &v[..])),
        true,
        AccessOptions { normalise_ipv6_keys: false, ..options },
    );
    let accesses = [AccessMap::new(&plain, options), AccessMap::new(&index, options), AccessMap::indexed(&index, options)];

    let expected = first_hit(&reference, &naive_host(&host, prefix, untagged, dot));
    for access in &accesses {
        assert_eq!(simple(access.lookup_host(&host, tag, mode).unwrap()), expected, "host {host:?}");
    }
    let expected = first_hit(&reference, &naive_addr(&addr_text, prefix, untagged));
    for access in &accesses {
        assert_eq!(simple(access.lookup_addr_text(&addr_text, tag, mode).unwrap()), expected, "addr {addr_text:?}");
    }
    let ip = match ip_bytes.len() {
        16.. => IpAddr::V6(Ipv6Addr::from(<[u8; 16]>::try_from(&ip_bytes[..16]).expect("16 bytes"))),
        4.. => IpAddr::V4(Ipv4Addr::from(<[u8; 4]>::try_from(&ip_bytes[..4]).expect("4 bytes"))),
        _ => IpAddr::V4(Ipv4Addr::new(192, 168, 1, ip_bytes.first().copied().unwrap_or(7))),
    };
    let expected = first_hit(&reference, &naive_addr(&client_addr_text(ip, false), prefix, untagged));
    for access in &accesses {
        assert_eq!(simple(access.lookup_client_addr(ip, tag, mode).unwrap()), expected, "client {ip}");
    }
    if let Ok(address) = Address::parse(&envelope, ParseOptions { smtputf8: true }) {
        let items = naive_items(&address, prefix, untagged, dot);
        let expected = items.iter().find_map(|keys| first_hit(&reference, keys));
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
        for checked in std::iter::once(&evaluation.connect).chain(&evaluation.sender).chain(&evaluation.recipients) {
            let reply = &checked.reply;
            assert!((200..600).contains(&reply.code), "{reply}");
            assert!(u16::from(reply.enhanced.0) == reply.code / 100 || checked.reason.name() == "access", "{reply}");
        }
    }
});
