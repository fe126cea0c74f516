//! Properties of the access-map lookups: they agree with a naive reference
//! (every key of sendmail's sequence built as a `String` from a token list,
//! looked up in a `HashMap`), with and without an `AccessIndex` in front;
//! and nothing panics on arbitrary input.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use proptest::prelude::*;
use smarthost_maps::{SourceOptions, TextMap};
use smarthost_routing::{
    AccessIndex, AccessMap, AccessOptions, AccessValue, Address, Client, ClientResolve, LocalNames, Mode,
    ParseOptions, Parts, Policy, PolicyOptions, RelayDomains, Tag, client_addr_text,
};

#[path = "support/access_reference.rs"]
mod reference;

// ---- the data ----

const LABELS: &[&str] = &["a", "b", "ex", "com"];
const USERS: &[&str] = &["u", "v", "u+x", "u+", "v+x+y"];
const VALUES: &[&str] = &["OK", "RELAY", "REJECT", "SKIP", "DISCARD", "ERROR:550 no"];

fn name() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(LABELS), 1..4).prop_map(|l| l.join("."))
}

fn ipv4() -> impl Strategy<Value = Ipv4Addr> {
    (0u8..3, 0u8..3, 0u8..3, 0u8..3).prop_map(|(a, b, c, d)| Ipv4Addr::new(10 + a, b, c, d))
}

fn ipv6() -> impl Strategy<Value = Ipv6Addr> {
    prop::collection::vec(0u16..3, 8)
        .prop_map(|g| Ipv6Addr::new(0x2001, 0xdb8, g[2], g[3], g[4], g[5], g[6], g[7]))
}

fn ip() -> impl Strategy<Value = IpAddr> {
    prop_oneof![ipv4().prop_map(IpAddr::V4), ipv6().prop_map(IpAddr::V6)]
}

/// Key bodies that the searches reach: names and parents, address
/// prefixes, bracketed literals, addresses and user parts.
fn body() -> impl Strategy<Value = String> {
    prop_oneof![
        name(),
        name().prop_map(|n| format!(".{n}")),
        ip().prop_map(|ip| client_addr_text(ip, false)),
        ip().prop_map(|ip| {
            let text = client_addr_text(ip, false);
            let cut = text.rfind(['.', ':']).unwrap_or(text.len());
            text[..cut].to_string()
        }),
        ipv4().prop_map(|ip| format!("[{ip}]")),
        ip().prop_map(|ip| format!("[{}]", client_addr_text(ip, false))),
        ipv4().prop_map(|ip| {
            let text = ip.to_string();
            format!("[{}]", &text[..text.rfind('.').unwrap()])
        }),
        (prop::sample::select(USERS), name()).prop_map(|(u, d)| format!("{u}@{d}")),
        prop::sample::select(USERS).prop_map(|u| format!("{u}@")),
        prop::sample::select(&["u+*@", "v+*@ex.com", "u+*@a.ex"][..]).prop_map(str::to_string),
    ]
}

fn entries() -> impl Strategy<Value = Vec<(String, String)>> {
    let tag = prop::sample::select(&["", "connect:", "from:", "to:"][..]);
    prop::collection::vec((tag, body(), prop::sample::select(VALUES)), 0..40)
        .prop_map(|v| v.into_iter().map(|(t, b, value)| (format!("{t}{b}"), value.to_string())).collect())
}

/// The entries as a makemap source, a text map and the reference map
/// (first entry of a key wins, as makemap keeps the first).
fn maps(entries: &[(String, String)]) -> (TextMap, HashMap<String, String>, Vec<u8>) {
    let mut source = Vec::new();
    let mut reference = HashMap::new();
    for (key, value) in entries {
        if reference.contains_key(&key.to_ascii_lowercase()) {
            continue;
        }
        source.extend_from_slice(format!("{key}\t{value}\n").as_bytes());
        reference.insert(key.to_ascii_lowercase(), value.clone());
    }
    let (map, diagnostics) = TextMap::from_source(&source, &SourceOptions::default());
    assert!(diagnostics.iter().all(|d| d.severity != smarthost_maps::Severity::Error), "{diagnostics:?}");
    (map, reference, source)
}

fn indexed(map: TextMap, source: &[u8]) -> AccessIndex<TextMap> {
    let parsed = smarthost_maps::Source::parse(source, &SourceOptions::default());
    let pairs: Vec<(Vec<u8>, Vec<u8>)> =
        parsed.entries().iter().map(|e| (e.key.to_vec(), e.value.to_vec())).collect();
    AccessIndex::new(map, pairs.iter().map(|(k, v)| (&k[..], &v[..])), true, AccessOptions::default())
}

/// The map bare, the index as a plain map, and the index with its shapes.
fn accesses<'m>(map: &'m TextMap, index: &'m AccessIndex<TextMap>) -> [AccessMap<'m>; 3] {
    let options = AccessOptions::default();
    [AccessMap::new(map, options), AccessMap::new(index, options), AccessMap::indexed(index, options)]
}

fn simplify(hit: Option<smarthost_routing::AccessHit<'_>>) -> Option<(String, Vec<u8>)> {
    hit.filter(|h| h.value != AccessValue::Skip).map(|h| (h.key, h.raw.to_vec()))
}

/// The reference map as the reference's lookup.
fn lookup(map: &HashMap<String, String>) -> impl Fn(&str) -> Option<Vec<u8>> + '_ {
    |key| map.get(key).map(|v| v.as_bytes().to_vec())
}

fn tag_of(n: u8) -> (Tag, &'static str) {
    match n % 3 {
        0 => (Tag::Connect, "connect:"),
        1 => (Tag::From, "from:"),
        _ => (Tag::To, "to:"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn host_lookups_match_the_naive_walk(
        entries in entries(), host in prop_oneof![name(), ipv4().prop_map(|ip| format!("[{ip}]"))],
        t in 0u8..3, untagged: bool, dot: bool,
    ) {
        let (map, reference, source) = maps(&entries);
        let index = indexed(TextMap::from_source(&source, &SourceOptions::default()).0, &source);
        let (tag, prefix) = tag_of(t);
        let mode = if untagged { Mode::WithUntagged } else { Mode::TagOnly };
        let options = AccessOptions { lookup_dot_domain: dot, ..AccessOptions::default() };
        let expected = reference::first_hit(lookup(&reference), &reference::host_keys(&host, prefix, untagged, dot));
        for access in [AccessMap::new(&map, options), AccessMap::new(&index, options), AccessMap::indexed(&index, options)] {
            let got = access.lookup_host(&host, tag, mode).unwrap();
            prop_assert_eq!(simplify(got), expected.clone(), "host {}", host);
        }
    }

    #[test]
    fn client_lookups_match_the_naive_walk(entries in entries(), ip in ip(), t in 0u8..3, untagged: bool) {
        let (map, reference, source) = maps(&entries);
        let index = indexed(TextMap::from_source(&source, &SourceOptions::default()).0, &source);
        let (tag, prefix) = tag_of(t);
        let mode = if untagged { Mode::WithUntagged } else { Mode::TagOnly };
        let expected = reference::first_hit(lookup(&reference), &reference::addr_keys(&client_addr_text(ip, false), prefix, untagged));
        for access in accesses(&map, &index) {
            let got = access.lookup_client_addr(ip, tag, mode).unwrap();
            prop_assert_eq!(simplify(got), expected.clone(), "client {}", ip);
        }
    }

    #[test]
    fn address_searches_match_the_naive_search_list(
        entries in entries(),
        user in prop::sample::select(USERS),
        domain in prop_oneof![name().prop_map(Some), ipv4().prop_map(|ip| Some(format!("[{ip}]"))), Just(None)],
        t in 0u8..3, untagged: bool,
    ) {
        let (map, reference, source) = maps(&entries);
        let index = indexed(TextMap::from_source(&source, &SourceOptions::default()).0, &source);
        let text = match &domain { Some(d) => format!("{user}@{d}"), None => user.to_string() };
        let address = Address::parse(&text, ParseOptions::default()).unwrap();
        let (tag, prefix) = tag_of(t);
        let mode = if untagged { Mode::WithUntagged } else { Mode::TagOnly };
        let expected = reference::search(lookup(&reference), &reference::address_items(&address, prefix, untagged, false));
        for access in accesses(&map, &index) {
            let got = access.search_address(&address, tag, mode, Parts::ALL).unwrap();
            prop_assert_eq!(simplify(got), expected.clone(), "address {}", text);
        }
    }

    #[test]
    fn policy_decisions_are_the_same_through_the_index(
        entries in entries(), ip in ip(), named: bool, name in name(), dot: bool,
        user in prop::sample::select(USERS), domain in name(), bracket in prop::option::of(0usize..6),
    ) {
        // Often a bracketed entry for the client itself, so that the walk
        // on `[address]` finds something.
        let mut entries = entries;
        if let Some(cut) = bracket {
            let text = client_addr_text(ip, false);
            let ends: Vec<usize> = text.match_indices(['.', ':']).map(|(i, _)| i).chain([text.len()]).collect();
            let end = ends[cut.min(ends.len() - 1)];
            entries.insert(0, (format!("connect:[{}]", &text[..end]), "REJECT".to_string()));
        }
        let (map, _, source) = maps(&entries);
        let index = indexed(TextMap::from_source(&source, &SourceOptions::default()).0, &source);
        let local = LocalNames::new("mail.example.com");
        let options = PolicyOptions { hostname: "mail.example.com".into(), ..PolicyOptions::default() };
        let access_options = AccessOptions { lookup_dot_domain: dot, ..AccessOptions::default() };
        let client = Client {
            addr: Some(ip),
            name: named.then_some(name.as_str()),
            resolve: if named { ClientResolve::Ok } else { ClientResolve::Fail },
            auth: None,
        };
        let sender = format!("<{user}@{domain}>");
        let rcpt = format!("<{user}@{domain}>");
        let decide = |access| Policy::new(&local, &options).access(access).evaluate(&client, &sender, &[&rcpt]);
        let bare = decide(AccessMap::new(&map, access_options));
        prop_assert_eq!(&decide(AccessMap::indexed(&index, access_options)), &bare);
        prop_assert_eq!(&decide(AccessMap::new(&index, access_options)), &bare);
    }

    #[test]
    fn arbitrary_text_never_panics(text in ".{0,80}", bytes in prop::collection::vec(any::<u8>(), 0..80)) {
        let (map, _, _) = maps(&[("connect:a.b".into(), "OK".into()), ("a@".into(), "REJECT".into())]);
        let access = AccessMap::new(&map, AccessOptions { lookup_dot_domain: true, ..AccessOptions::default() });
        let _ = access.lookup_host(&text, Tag::Connect, Mode::WithUntagged).unwrap();
        let _ = access.lookup_addr_text(&text, Tag::Connect, Mode::WithUntagged).unwrap();
        let _ = access.lookup_exact(&text, Tag::To, Mode::TagOnly).unwrap();
        let _ = AccessValue::parse(&bytes, true).error_reply();
        if let Ok(address) = Address::parse(&text, ParseOptions { smtputf8: true }) {
            let _ = access.search_address(&address, Tag::From, Mode::WithUntagged, Parts::ALL).unwrap();
        }
        let local = LocalNames::new("mail.example.com");
        let options = PolicyOptions { hostname: "mail.example.com".into(), ..PolicyOptions::default() };
        let relay = RelayDomains::new();
        let policy = Policy::new(&local, &options).relay_domains(&relay).access(access);
        let client = Client { addr: Some("203.0.113.5".parse().unwrap()), name: Some(&text), resolve: ClientResolve::Ok, auth: None };
        let evaluation = policy.evaluate(&client, &text, &[&text]);
        prop_assert_eq!(evaluation.recipients.len(), 1);
        let reply = &evaluation.recipients[0].reply;
        prop_assert!((200..600).contains(&reply.code));
        prop_assert!(!reply.text.contains(['\r', '\n']) || text.contains(['\r', '\n']));
    }
}
