//! The aliases parser on arbitrary input (never panics, and what it reads
//! renders back to text that reads the same), and alias expansion on
//! random alias graphs (it ends, loops are cut and named, and it delivers
//! to exactly the users a naive walk of the graph reaches).

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;
use smarthost_routing::{
    Action, Address, AliasFile, AliasTable, Aliases, Cause, LocalNames, Mailers, ParseOptions,
    RecipientResolver, Router, parse_alias_value, render_alias_value,
};

/// Text close to real aliases files: names, separators, quotes, escapes,
/// continuation white space, comments, CR.
fn aliases_text() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        Just("a".to_string()),
        Just("list".to_string()),
        Just(": ".to_string()),
        Just(":".to_string()),
        Just(", ".to_string()),
        Just("\n".to_string()),
        Just("\n  ".to_string()),
        Just("\n\t".to_string()),
        Just("\\\n".to_string()),
        Just("\\".to_string()),
        Just("#".to_string()),
        Just("\"".to_string()),
        Just("|/bin/x".to_string()),
        Just("/var/f".to_string()),
        Just(":include:/l".to_string()),
        Just("@example.org".to_string()),
        Just(" ".to_string()),
        Just("\r".to_string()),
        Just("(c)".to_string()),
        Just("<b@c>".to_string()),
        Just("+*".to_string()),
        "[a-z]{1,3}",
    ];
    prop::collection::vec(piece, 0..40).prop_map(|pieces| pieces.concat().into_bytes())
}

fn check_round_trip(text: &[u8]) -> Result<(), TestCaseError> {
    let file = AliasFile::parse(text, None);
    let mut rendered = String::new();
    for entry in file.entries() {
        let _ = entry.elements();
        let Some(source) = entry.to_source() else {
            prop_assert!(entry.value.ends_with('\\'), "unrenderable {entry:?}");
            continue;
        };
        let again = AliasFile::parse(source.as_bytes(), None);
        prop_assert_eq!(again.entries().len(), 1, "{:?}", source);
        let back = &again.entries()[0];
        prop_assert_eq!((&back.name, &back.key, &back.value), (&entry.name, &entry.key, &entry.value));
        rendered.push_str(&source);
    }
    // The whole file too, duplicates and all.
    let again = AliasFile::parse(rendered.as_bytes(), None);
    let pairs = |entries: Vec<&smarthost_routing::AliasEntry>| {
        entries.into_iter().map(|e| (e.key.clone(), e.value.clone())).collect::<Vec<_>>()
    };
    let renderable = file.entries().iter().filter(|e| e.to_source().is_some()).collect();
    prop_assert_eq!(pairs(again.entries().iter().collect()), pairs(renderable));
    Ok(())
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        check_round_trip(&bytes)?;
    }

    #[test]
    fn aliases_files_read_back_the_same(text in aliases_text()) {
        check_round_trip(&text)?;
    }

    #[test]
    fn values_read_back_the_same(text in aliases_text()) {
        let value = String::from_utf8_lossy(&text).replace('\n', " ");
        let elements = parse_alias_value(&value);
        let rendered = render_alias_value(&elements);
        prop_assert_eq!(parse_alias_value(&rendered), elements, "{:?} -> {:?}", value, rendered);
    }
}

/// A member of a random alias: another name, the same with `\`, or a
/// remote address.
#[derive(Clone, Debug)]
enum Member {
    Name(usize),
    NoAlias(usize),
    Remote,
}

fn member() -> impl Strategy<Value = Member> {
    prop_oneof![
        4 => (0..8usize).prop_map(Member::Name),
        1 => (0..8usize).prop_map(Member::NoAlias),
        1 => Just(Member::Remote),
    ]
}

/// Aliases for some of the names n0..n7 (never n6 and n7, which stay users).
fn graph() -> impl Strategy<Value = BTreeMap<usize, Vec<Member>>> {
    prop::collection::btree_map(0..6usize, prop::collection::vec(member(), 1..4), 0..6)
}

/// The local users (and the remote address) a walk of the graph reaches: a name with an alias is
/// replaced by its members unless it is the alias being expanded (then it
/// is delivered: sendmail's self-reference) or an alias further up (a loop,
/// dropped).
fn naive(
    graph: &BTreeMap<usize, Vec<Member>>,
    name: usize,
    path: &mut Vec<usize>,
    out: &mut BTreeSet<String>,
) {
    let Some(members) = graph.get(&name) else {
        out.insert(format!("n{name}"));
        return;
    };
    path.push(name);
    for member in members {
        match member {
            Member::NoAlias(n) => {
                out.insert(format!("n{n}"));
            }
            Member::Remote => {
                out.insert("r@remote.example".into());
            }
            Member::Name(n) if path.last() == Some(n) => {
                out.insert(format!("n{n}"));
            }
            Member::Name(n) if path.contains(n) => {}
            Member::Name(n) => naive(graph, *n, path, out),
        }
    }
    path.pop();
}

proptest! {
    #[test]
    fn expansion_ends_and_reaches_what_a_naive_walk_reaches(graph in graph(), start in 0..8usize) {
        let text: String = graph
            .iter()
            .map(|(name, members)| {
                let members: Vec<String> = members
                    .iter()
                    .map(|m| match m {
                        Member::Name(n) => format!("n{n}"),
                        Member::NoAlias(n) => format!("\\n{n}"),
                        Member::Remote => "r@remote.example".into(),
                    })
                    .collect();
                format!("n{name}: {}\n", members.join(", "))
            })
            .collect();
        let file = AliasFile::parse(text.as_bytes(), None);
        prop_assert!(file.diagnostics().is_empty());
        let table = AliasTable::from_file(&file);
        let local = LocalNames::new("mail.example.org");
        let mailers = Mailers::standard();
        let resolver = RecipientResolver::new(&local, Router::new(&local, &mailers)).aliases(Aliases::new(&table));
        let resolution = resolver.resolve(&Address::parse(&format!("n{start}"), ParseOptions::default()).unwrap()).unwrap();

        let mut expected = BTreeSet::new();
        naive(&graph, start, &mut Vec::new(), &mut expected);
        let reached: BTreeSet<String> = resolution
            .targets
            .iter()
            .filter_map(|t| match &t.action {
                Action::Local { user, .. } => Some(user.clone()),
                Action::Deliver(route) => Some(route.columns()[2].clone()),
                _ => None,
            })
            .collect();
        prop_assert_eq!(&reached, &expected, "{}", text);
        let delivered = resolution.deliveries().count();
        prop_assert_eq!(delivered, reached.len(), "duplicates in {:?}", resolution.targets);
        let only_loop = resolution.targets.len() == 1
            && matches!(&resolution.targets[0].action, Action::Refuse(r) if matches!(r.cause, Cause::AliasLoop { .. }));
        prop_assert_eq!(expected.is_empty(), only_loop, "{:?}\n{}", resolution.targets, text);
    }
}
