//! The mailertable walk against a naive scan of every entry.

use proptest::prelude::*;
use smarthost_maps::{SourceOptions, TextMap};
use smarthost_routing::{Mailertable, MailertableOptions};

/// Keys drawn from few labels, so that suffixes overlap often.
fn key() -> impl Strategy<Value = String> {
    let name = prop::collection::vec(prop::sample::select(vec!["a", "b", "c", "lan", "example"]), 1..4)
        .prop_map(|labels| labels.join("."));
    prop_oneof![name.clone(), name.prop_map(|n| format!(".{n}")), Just(".".to_string())]
}

fn domain() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(vec!["a", "b", "c", "lan", "example", "x"]), 1..6)
        .prop_map(|labels| labels.join("."))
}

/// sendmail's rule, read off the spec: the exact name; else the longest
/// `.suffix` with at least one label in front; else `.`.
fn naive(keys: &[String], domain: &str) -> Option<String> {
    if keys.iter().any(|k| k == domain) {
        return Some(domain.to_string());
    }
    let parent = keys
        .iter()
        .filter(|k| {
            k.len() > 1 && k.starts_with('.') && domain.ends_with(k.as_str()) && domain.len() > k.len()
        })
        .max_by_key(|k| k.len());
    parent.cloned().or_else(|| keys.iter().find(|k| *k == ".").cloned())
}

proptest! {
    #[test]
    fn the_walk_agrees_with_a_naive_scan(keys in prop::collection::vec(key(), 0..12), domain in domain()) {
        let mut unique = keys.clone();
        unique.sort();
        unique.dedup();
        let text: String = unique.iter().map(|k| format!("{k} esmtp:[{}]\n", k.replace('.', "-"))).collect();
        let (map, _) = TextMap::from_source(text.as_bytes(), &SourceOptions::default());
        let table = Mailertable::new(&map, MailertableOptions::default());
        let found = table.lookup("user", &domain, None).unwrap().map(|m| m.key);
        prop_assert_eq!(found, naive(&unique, &domain));
    }
}
