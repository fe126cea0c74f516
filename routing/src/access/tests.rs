use smarthost_maps::{SourceOptions, TextMap};

use super::*;

fn text_map(source: &str) -> TextMap {
    let (map, diagnostics) = TextMap::from_source(source.as_bytes(), &SourceOptions::default());
    assert!(diagnostics.is_empty(), "{diagnostics:?}");
    map
}

#[test]
fn the_most_specific_host_key_wins() {
    let map = text_map("example.com OK\nConnect:b.example.com REJECT\nConnect:a.b.example.com RELAY\n");
    let access = AccessMap::new(&map, AccessOptions::default());
    let found = |host| access.lookup_host(host, Tag::Connect, Mode::WithUntagged).unwrap().map(|h| h.key);
    assert_eq!(found("a.b.example.com").as_deref(), Some("connect:a.b.example.com"));
    assert_eq!(found("x.b.example.com").as_deref(), Some("connect:b.example.com"));
    assert_eq!(found("www.example.com").as_deref(), Some("example.com"));
    assert_eq!(found("example.org"), None);
    // A tag-only search does not see the untagged entry.
    assert_eq!(access.lookup_host("www.example.com", Tag::Connect, Mode::TagOnly).unwrap(), None);
}

#[test]
fn a_tagged_key_beats_the_untagged_key_of_the_same_level_only() {
    let map = text_map("a.example REJECT\nConnect:example RELAY\n");
    let access = AccessMap::new(&map, AccessOptions::default());
    let hit = access.lookup_host("a.example", Tag::Connect, Mode::WithUntagged).unwrap().unwrap();
    assert_eq!((hit.key.as_str(), hit.value), ("a.example", AccessValue::Reject));
}

#[test]
fn dot_domain_keys_match_sub_domains_only() {
    let map = text_map(".example.com RELAY\n");
    let plain = AccessMap::new(&map, AccessOptions::default());
    let dotted = AccessMap::new(&map, AccessOptions { lookup_dot_domain: true, ..AccessOptions::default() });
    assert!(plain.lookup_host("a.example.com", Tag::To, Mode::WithUntagged).unwrap().is_none());
    assert!(dotted.lookup_host("a.example.com", Tag::To, Mode::WithUntagged).unwrap().is_some());
    assert!(dotted.lookup_host("example.com", Tag::To, Mode::WithUntagged).unwrap().is_none());
}

#[test]
fn skip_is_a_keyword_only_with_the_option() {
    let map = text_map("Connect:10.1.2 SKIP\nConnect:10.1 RELAY\n");
    let with_skip = AccessMap::new(&map, AccessOptions::default());
    let hit =
        with_skip.lookup_client_addr("10.1.2.3".parse().unwrap(), Tag::Connect, Mode::WithUntagged).unwrap();
    assert!(hit.unwrap().is_skip());
    let sendmail = AccessMap::new(&map, AccessOptions::sendmail());
    let hit =
        sendmail.lookup_client_addr("10.1.2.3".parse().unwrap(), Tag::Connect, Mode::WithUntagged).unwrap();
    assert_eq!(hit.unwrap().value, AccessValue::Other("SKIP".into()));
}

#[test]
fn a_skip_ends_only_its_own_search_list_item() {
    let map = text_map("From:user@example.com SKIP\nFrom:user@ REJECT\n");
    let access = AccessMap::new(&map, AccessOptions::default());
    let address = Address::parse("user@example.com", crate::ParseOptions::default()).unwrap();
    let hit = access.search_address(&address, Tag::From, Mode::WithUntagged, Parts::ALL).unwrap().unwrap();
    assert_eq!(hit.key, "from:user@");
}

#[test]
fn quoted_local_parts_have_no_detail() {
    let map = text_map("\"u+x@y\"@example.com REJECT\nu@example.com OK\n");
    let access = AccessMap::new(&map, AccessOptions::default());
    let quoted = Address::parse("\"u+x@y\"@example.com", crate::ParseOptions::default()).unwrap();
    let hit = access.search_address(&quoted, Tag::From, Mode::WithUntagged, Parts::ALL).unwrap().unwrap();
    assert_eq!(hit.value, AccessValue::Reject);
    let plussed = Address::parse("u+x@example.com", crate::ParseOptions::default()).unwrap();
    let hit = access.search_address(&plussed, Tag::From, Mode::WithUntagged, Parts::ALL).unwrap().unwrap();
    assert_eq!(hit.key, "u@example.com");
    assert_eq!(
        detail_split(&Address::parse("+x@example.com", crate::ParseOptions::default()).unwrap()),
        None
    );
}

#[test]
fn the_index_never_hides_a_key_and_answers_normalised_ipv6_keys() {
    let mut source = String::new();
    for i in 0..2000 {
        source.push_str(&format!("Connect:10.{}.{} RELAY\n", i / 256, i % 256));
    }
    source.push_str("Connect:IPv6:2001:0DB8::7 REJECT\n");
    let map = text_map(&source);
    let parsed = smarthost_maps::Source::parse(source.as_bytes(), &SourceOptions::default());
    let pairs = parsed.entries().iter().map(|e| (&e.key[..], &e.value[..]));
    let index = AccessIndex::new(text_map(&source), pairs, true, AccessOptions::default());
    assert_eq!(index.normalised_keys(), 1);
    for i in 0..2000 {
        let key = format!("Connect:10.{}.{}", i / 256, i % 256);
        assert_eq!(index.lookup(key.as_bytes()).unwrap(), map.lookup(key.as_bytes()).unwrap(), "{key}");
    }
    let mut passed = 0;
    for i in 0..10_000 {
        let key = format!("connect:172.16.{}.{}", i / 256, i % 256);
        assert_eq!(index.lookup(key.as_bytes()).unwrap(), None);
        passed += usize::from(index.filter_passes(key.as_bytes()));
    }
    assert!(passed < 300, "{passed} of 10,000 absent keys got past the filter");
    let access = AccessMap::new(&index, AccessOptions::default());
    let hit = access.lookup_client_addr("2001:db8::7".parse().unwrap(), Tag::Connect, Mode::TagOnly).unwrap();
    assert_eq!(hit.unwrap().key, "connect:ipv6:2001:db8:0:0:0:0:0:7");
}

#[test]
fn lints_name_what_sendmail_would_do() {
    let entries: Vec<(&[u8], &[u8])> = vec![
        (b"Connect:2001:db8:2", b"RELAY"),
        (b"Connect:IPv6:2001:0db8:2", b"RELAY"),
        (b"TLS_Clt:host.example", b"VERIFY"),
        (b"Bogus:host.example", b"OK"),
        (b"example.com.", b"OK"),
        (b"From:a.example", b"ERROR:go away"),
        (b"From:b.example", b"550 go away"),
        (b"Connect:192.0.2.1", b"RELAY # our lan"),
        (b"Connect:192.0.2.2", b"RELAY"),
    ];
    let lints = lint_access(entries, AccessOptions::default());
    let text: Vec<String> = lints.iter().map(ToString::to_string).collect();
    assert_eq!(text.len(), 8, "{text:#?}");
    assert!(text[0].contains("write `Connect:IPv6:2001:db8:2`"), "{}", text[0]);
    assert!(text[1].contains("read as `connect:ipv6:2001:db8:2`"), "{}", text[1]);
    assert!(text[2].contains("does not use"), "{}", text[2]);
    assert!(text[3].contains("unknown tag `bogus:`"), "{}", text[3]);
    assert!(text[4].contains("ending in `.`"), "{}", text[4]);
    assert!(text[5].contains("553 5.3.0 go away"), "{}", text[5]);
    assert!(text[6].contains("deprecated"), "{}", text[6]);
    assert!(text[7].contains("553 5.3.0 RELAY # our lan"), "{}", text[7]);
}

#[test]
fn a_client_without_a_name_is_searched_as_a_bracketed_literal() {
    let source = "Connect:[10.1.2] REJECT\nConnect:10.9 RELAY\n";
    let map = text_map(source);
    let parsed = smarthost_maps::Source::parse(source.as_bytes(), &SourceOptions::default());
    let pairs = parsed.entries().iter().map(|e| (&e.key[..], &e.value[..]));
    let index = AccessIndex::new(text_map(source), pairs, true, AccessOptions::default());
    for access in
        [AccessMap::new(&map, AccessOptions::default()), AccessMap::indexed(&index, AccessOptions::default())]
    {
        let addr = "10.1.2.3".parse().unwrap();
        let hit = access.lookup_bracketed_addr(addr, Tag::Connect, Mode::WithUntagged).unwrap().unwrap();
        assert_eq!(hit.key, "connect:[10.1.2]");
        assert!(
            access
                .lookup_bracketed_addr("10.9.0.1".parse().unwrap(), Tag::Connect, Mode::WithUntagged)
                .unwrap()
                .is_none()
        );
    }
}

#[test]
fn the_index_finds_keys_stored_with_a_nul_either_way() {
    struct Nul;
    impl Map for Nul {
        fn lookup(&self, key: &[u8]) -> Result<Option<&[u8]>, smarthost_maps::Error> {
            Ok(matches!(key, b"connect:10.1" | b"connect:10.1\0" | b"\0").then_some(&b"RELAY"[..]))
        }
    }
    let entries: [(&[u8], &[u8]); 2] = [(b"connect:10.1\0", b"RELAY\0"), (b"\0", b"RELAY")];
    let index = AccessIndex::new(Nul, entries, true, AccessOptions::default());
    for key in [&b"connect:10.1"[..], b"connect:10.1\0", b"\0"] {
        assert_eq!(index.lookup(key).unwrap(), Some(&b"RELAY"[..]), "{key:?}");
    }
}
