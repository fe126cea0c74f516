use std::fs;

use smarthost_maps::{MapBuilder, SourceOptions};

use super::*;

#[test]
fn a_repeated_name_keeps_its_last_value_with_a_warning() {
    let file = AliasFile::parse(b"a: one\nb: two\nA: three\n", None);
    assert_eq!(file.pairs(), [("b", "two"), ("a", "three")]);
    assert!(!file.has_errors());
    assert_eq!(file.diagnostics().len(), 1);
    assert!(
        file.diagnostics()[0]
            .to_string()
            .starts_with("line 3: duplicate alias name `a`, first defined on line 1")
    );
    let table = AliasTable::from_file(&file);
    assert_eq!(table.lookup(b"A").unwrap(), Some(&b"three"[..]));
    assert_eq!(table.len(), 2);
    assert_eq!(file.summary().to_string(), "2 aliases, longest 5 bytes, 10 bytes total");
    let entries = file.map_entries();
    assert_eq!(&*entries.last().unwrap().key, b"@");
}

#[test]
fn names_are_checked_against_class_w_when_given() {
    let local = crate::LocalNames::new("mail.example.org");
    let text = b"Root@Mail.Example.ORG: admin\nx@other.example: y\n";
    let file = AliasFile::parse(text, Some(&local));
    assert_eq!(file.entries().len(), 1);
    assert_eq!(file.entries()[0].key, "root");
    assert!(file.has_errors());
    // Without class w every domain is accepted.
    assert_eq!(AliasFile::parse(text, None).entries().len(), 2);
}

#[test]
fn entries_render_back_to_text_that_reads_the_same() {
    let text = b"a: x\nb:\n  leading\nc: ends with\n \\\nd: tab\tsep\\ x\n\tz\\\n\"#hash\": h\nj: one \\\ntwo\ne: ok\\";
    let file = AliasFile::parse(text, None);
    assert!(file.diagnostics().is_empty(), "{:?}", file.diagnostics());
    let values: Vec<&str> = file.entries().iter().map(|e| e.value.as_str()).collect();
    assert_eq!(values, ["x", "  leading", "ends with \\", "tab\tsep\\ x\tz\\", "h", "one two", "ok\\"]);
    for entry in file.entries() {
        match entry.to_source() {
            Some(source) => {
                let again = AliasFile::parse(source.as_bytes(), None);
                assert_eq!(again.entries().len(), 1, "{source:?}");
                let back = &again.entries()[0];
                assert_eq!(
                    (&back.name, &back.key, &back.value),
                    (&entry.name, &entry.key, &entry.value),
                    "{source:?}"
                );
            }
            // Only a value ending in `\` with no white space to break at.
            None => assert_eq!(entry.value, "ok\\"),
        }
    }
}

#[test]
fn long_lines_and_nul_bytes_are_refused() {
    let mut text = b"long: ".to_vec();
    text.extend(std::iter::repeat_n(b'x', ALIAS_LINE_BUFFER));
    text.extend_from_slice(b"\n  continuation, silently skipped\nok: y\nnul: a\0b\n");
    let file = AliasFile::parse(&text, None);
    let problems: Vec<&AliasProblem> = file.diagnostics().iter().map(|d| &d.problem).collect();
    assert_eq!(problems, [&AliasProblem::LineTooLong, &AliasProblem::NulByte]);
    assert_eq!(file.entries().len(), 1);
    let latin1 = AliasFile::parse(b"x: caf\xe9\n", None);
    assert_eq!(latin1.entries()[0].value, "caf\u{fffd}");
    assert_eq!(latin1.diagnostics()[0].problem, AliasProblem::NotUtf8);
}

#[test]
fn the_database_is_preferred_and_must_hold_the_sentinel() {
    let dir = tempfile::tempdir().unwrap();
    let text_path = dir.path().join("aliases");
    fs::write(&text_path, "root: admin\nbad line\n").unwrap();
    let text = AliasDb::open(&text_path, None).unwrap();
    assert!(!text.is_compiled());
    assert_eq!(text.lookup(b"ROOT").unwrap(), Some(&b"admin"[..]));
    assert_eq!(text.diagnostics().len(), 1);

    let file = AliasFile::parse(b"root: compiled\n", None);
    let db = dir.path().join("aliases.db");
    MapBuilder::new(&db, &SourceOptions::default()).write(&file.map_entries()).unwrap();
    let compiled = AliasDb::open(&text_path, None).unwrap();
    assert!(compiled.is_compiled());
    assert_eq!(compiled.path(), db);
    assert_eq!(compiled.lookup(b"root").unwrap(), Some(&b"compiled"[..]));
    assert_eq!(AliasDb::open(&db, None).unwrap().lookup(b"root").unwrap(), Some(&b"compiled"[..]));

    // Edited after the build: reported as stale.
    let later = std::time::SystemTime::now() + std::time::Duration::from_secs(60);
    fs::File::options().write(true).open(&text_path).unwrap().set_modified(later).unwrap();
    assert_eq!(AliasDb::open(&text_path, None).unwrap().stale_source(), Some(text_path.as_path()));

    // makemap's build of the same file has no sentinel.
    let source = smarthost_maps::Source::parse(b"root: admin\n", &SourceOptions::default());
    MapBuilder::new(&db, &SourceOptions::default()).write(source.entries()).unwrap();
    let error = AliasDb::open(&text_path, None).unwrap_err();
    assert!(error.to_string().contains("smarthost newaliases"), "{error}");

    let missing = AliasDb::open(dir.path().join("none"), None).unwrap_err();
    assert!(missing.to_string().contains("cannot read the aliases"), "{missing}");
}

#[test]
fn owner_lookups_are_exact() {
    let table = AliasTable::from_file(&AliasFile::parse(b"owner-list: boss\nlist: a\n", None));
    let aliases = Aliases::new(&table);
    assert_eq!(aliases.exact("Owner-List").unwrap().as_deref(), Some("boss"));
    assert_eq!(aliases.exact("owner-list+x").unwrap(), None);
    let mut probes = Vec::new();
    aliases.lookup("nobody+x", false, Some(&mut probes)).unwrap();
    assert_eq!(probes.iter().map(|p| p.key.as_str()).collect::<Vec<_>>(), ["nobody+x", "nobody+*", "nobody"]);
}
