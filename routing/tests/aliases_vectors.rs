//! The aliases vectors of spec maps.md §6: the file format (§6.1, folder
//! `format`: diagnostics and stored entries), the expansions of §6.7 and
//! the expansion rules of §6.3 (loops, duplicates, `owner-`, `:include:`,
//! depth): `tests/vectors/aliases/`.

mod virtuser_support;

use std::fs;

use smarthost_maps::Severity;
use smarthost_routing::{AliasFile, LocalNames};
use virtuser_support::{Fixture, check_expected, check_rcpt, folders};

#[test]
fn every_alias_vector_expands_as_expected() {
    for dir in folders("aliases") {
        check_expected(&dir);
    }
}

#[test]
fn every_alias_vector_gets_its_rcpt_reply() {
    for dir in folders("aliases") {
        check_rcpt(&dir);
    }
}

#[test]
fn owners_become_the_envelope_sender_of_their_lists() {
    for dir in folders("aliases") {
        let Ok(text) = fs::read_to_string(dir.join("owners.tsv")) else { continue };
        let fixture = Fixture::load(&dir);
        for line in text.lines() {
            let [given, member, owner]: [&str; 3] = line.split('\t').collect::<Vec<_>>().try_into().unwrap();
            let resolution = fixture.resolve(given, None, false);
            let target = resolution
                .targets
                .iter()
                .find(|t| t.address == member)
                .unwrap_or_else(|| panic!("{given}: no target from {member}: {:?}", resolution.targets));
            assert_eq!(target.owner.as_deref().unwrap_or("-"), owner, "{given} -> {member}");
        }
    }
}

fn escape(value: &str) -> String {
    value.replace('\\', "\\\\").replace('\t', "\\t").replace('\r', "\\r")
}

#[test]
fn the_file_format_folder_gives_its_diagnostics_and_entries() {
    let dir = folders("aliases").into_iter().find(|d| d.ends_with("format")).unwrap();
    let text = fs::read(dir.join("aliases")).unwrap();
    let file = AliasFile::parse(&text, Some(&LocalNames::new("mail.example.org")));
    let diagnostics: String = file
        .diagnostics()
        .iter()
        .map(|d| {
            let severity = if d.severity == Severity::Error { "error" } else { "warning" };
            let kind = format!("{:?}", d.problem);
            let kind = kind.split([' ', '{', '(']).next().unwrap().to_string();
            format!("{}\t{severity}\t{kind}\n", d.line)
        })
        .collect();
    assert_eq!(diagnostics, fs::read_to_string(dir.join("diagnostics.tsv")).unwrap());
    let entries: String =
        file.entries().iter().map(|e| format!("{}\t{}\n", e.key, escape(&e.value))).collect();
    assert_eq!(entries, fs::read_to_string(dir.join("entries.tsv")).unwrap());
    // Every message names the line and says what to do.
    for diagnostic in file.diagnostics() {
        let shown = diagnostic.display_in("aliases").to_string();
        assert!(shown.starts_with(&format!("aliases:{}: ", diagnostic.line)), "{shown}");
    }
}
