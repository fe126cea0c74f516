//! The virtusertable search against a naive reference: every key of the
//! table is judged on its own (which step of spec maps.md §4.2 it would
//! match at, if any) and the lowest step wins.

use proptest::prelude::*;
use smarthost_maps::{SourceOptions, TextMap};
use smarthost_routing::Virtusertable;

const DOMAIN: &str = "d.example";

/// Local parts from a small alphabet, so that `+` forms collide often.
fn local() -> impl Strategy<Value = String> {
    "[ab+]{1,5}"
}

/// Keys: every form of §4.2, with users drawn from the same alphabet.
fn key() -> impl Strategy<Value = String> {
    let user = "[ab]{1,2}";
    prop_oneof![
        "[ab+]{1,5}".prop_map(|l| format!("{l}@{DOMAIN}")),
        user.prop_map(|u| format!("{u}++@{DOMAIN}")),
        user.prop_map(|u| format!("{u}+*@{DOMAIN}")),
        Just(format!("++@{DOMAIN}")),
        Just(format!("+*@{DOMAIN}")),
        Just(format!("@{DOMAIN}")),
    ]
}

/// The step (1-7) at which `key` matches `local`, with the `%1 %2 %3` it
/// supplies, read straight off the spec's table.
fn step_of(key: &str, local: &str) -> Option<(u8, [String; 3])> {
    let key = key.strip_suffix(&format!("@{DOMAIN}"))?;
    let plus = local.find('+').filter(|&at| at > 0).map(|at| (&local[..at], &local[at + 1..]));
    let plain = [local.to_string(), String::new(), String::new()];
    if key == local {
        return Some((1, plain));
    }
    let Some((user, detail)) = plus else {
        return (key.is_empty()).then_some((7, plain));
    };
    let args = [user.to_string(), detail.to_string(), format!("+{detail}")];
    let step = if key == format!("{user}++") && !detail.is_empty() {
        2
    } else if key == format!("{user}+*") {
        3
    } else if key == user {
        4
    } else if key == "++" && !detail.is_empty() {
        5
    } else if key == "+*" {
        6
    } else if key.is_empty() {
        7
    } else {
        return None;
    };
    Some((step, args))
}

proptest! {
    #[test]
    fn lookups_agree_with_the_spec_table(keys in prop::collection::btree_set(key(), 0..10), local in local()) {
        let text: String = keys.iter().map(|k| format!("{k} %1|%2|%3\n")).collect();
        let (map, diagnostics) = TextMap::from_source(text.as_bytes(), &SourceOptions::default());
        prop_assert!(diagnostics.is_empty());
        let found = Virtusertable::new(&map).lookup(&local, DOMAIN, None).unwrap();
        let naive = keys
            .iter()
            .filter_map(|k| step_of(k, &local).map(|(step, args)| (step, k.clone(), args)))
            .min_by_key(|(step, _, _)| *step);
        let found = found.map(|m| (m.key, m.expanded));
        let naive = naive.map(|(_, key, [a, b, c])| (key, format!("{a}|{b}|{c}")));
        prop_assert_eq!(found, naive);
    }
}
