//! The `smarthost` binary: `map lookup|dump|verify` and `makemap`.

mod common;

use std::fs;

use common::{Outcome, SMARTHOST, Scratch, Stdin, pairs, split_pairs};

fn smarthost(scratch: &Scratch, args: &[&str]) -> Outcome {
    scratch.run(SMARTHOST, args, Stdin::Null)
}

#[test]
fn lookup_in_a_text_source() {
    let scratch = Scratch::new();
    scratch.fixture("mailertable");
    let found = smarthost(&scratch, &["map", "lookup", "mailertable", "EXAMPLE.com"]);
    assert_eq!(
        (found.code, found.stdout_text().as_str()),
        (0, "relay:[mx.example.net]\n"),
        "{}",
        found.stderr
    );
    let absent = smarthost(&scratch, &["map", "lookup", "mailertable", "example.org"]);
    assert_eq!((absent.code, absent.stdout.as_slice()), (1, &b""[..]));
}

#[test]
fn lookup_in_a_compiled_map_by_file_or_by_source_name() {
    let scratch = Scratch::new();
    let source = scratch.fixture("mailertable");
    assert_eq!(scratch.makemap(&["hash", "mailertable"], Stdin::File(&source)).code, 0);
    // The text changes after the build: a lookup by the source name must
    // use the compiled map, as the relay does, and say it is out of date.
    fs::write(&source, ".lan  esmtp:[changed]\n").unwrap();
    for file in ["mailertable.db", "mailertable"] {
        let found = smarthost(&scratch, &["map", "lookup", file, ".lan"]);
        assert_eq!(
            (found.code, found.stdout_text().as_str()),
            (0, "esmtp:[%1.lan]\n"),
            "{file}: {}",
            found.stderr
        );
        let absent = smarthost(&scratch, &["map", "lookup", file, ".example"]);
        assert_eq!((absent.code, absent.stdout.as_slice()), (1, &b""[..]), "{file}");
    }
    let stale = smarthost(&scratch, &["map", "lookup", "mailertable", ".lan"]);
    assert!(stale.stderr.contains("makemap hash mailertable < mailertable"), "{}", stale.stderr);
}

#[test]
fn lookup_in_a_map_built_with_nul_bytes() {
    let scratch = Scratch::new();
    assert_eq!(
        scratch.makemap(&["-N", "hash", "access"], Stdin::Pipe(b"Connect:192.0.2.1 REJECT\n")).code,
        0
    );
    let found = smarthost(&scratch, &["map", "lookup", "access.db", "connect:192.0.2.1"]);
    assert_eq!((found.code, found.stdout.as_slice()), (0, &b"REJECT\n"[..]), "{}", found.stderr);
    assert_eq!(smarthost(&scratch, &["map", "lookup", "access.db", "connect:192.0.2.2"]).code, 1);
}

#[test]
fn lookup_errors_are_exit_2_with_a_message() {
    let scratch = Scratch::new();
    let missing = smarthost(&scratch, &["map", "lookup", "nowhere", "k"]);
    assert_eq!(missing.code, 2);
    assert!(
        missing.stderr.contains("nowhere: no such map (looked for nowhere, nowhere.db, nowhere.cdb)"),
        "{}",
        missing.stderr
    );
    scratch.write("junk.db", &[0x55; 4096]);
    let junk = smarthost(&scratch, &["map", "lookup", "junk.db", "k"]);
    assert_eq!(junk.code, 2);
    assert!(junk.stderr.contains("junk.db: not a smarthost map"), "{}", junk.stderr);
}

#[test]
fn dump_a_compiled_map_and_a_text_source() {
    let scratch = Scratch::new();
    let source = scratch.fixture("mailertable");
    let expected = pairs(&[(".lan", "esmtp:[%1.lan]"), ("example.com", "relay:[mx.example.net]")]);
    let text = smarthost(&scratch, &["map", "dump", "mailertable"]);
    assert_eq!(text.code, 0, "{}", text.stderr);
    assert_eq!(split_pairs(&text.stdout, b'\t'), expected);
    assert_eq!(scratch.makemap(&["cdb", "mailertable"], Stdin::File(&source)).code, 0);
    let compiled = smarthost(&scratch, &["map", "dump", "mailertable.cdb"]);
    assert_eq!(compiled.code, 0, "{}", compiled.stderr);
    assert_eq!(split_pairs(&compiled.stdout, b'\t'), expected);
}

#[test]
fn verify_reports_sound_maps_and_finds_damaged_ones() {
    let scratch = Scratch::new();
    let source = scratch.fixture("mailertable");
    assert_eq!(scratch.makemap(&["hash", "mailertable"], Stdin::File(&source)).code, 0);
    let sound = smarthost(&scratch, &["map", "verify", "mailertable.db"]);
    assert_eq!(sound.code, 0, "{}", sound.stderr);
    let line = sound.stdout_text();
    assert!(line.starts_with("mailertable.db: ok, 2 entries, content "), "{line}");
    assert_eq!(line.trim_end().rsplit(' ').next().unwrap().len(), 12, "{line}");

    let mut bytes = scratch.read("mailertable.db");
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    fs::write(scratch.path("mailertable.db"), bytes).unwrap();
    let damaged = smarthost(&scratch, &["map", "verify", "mailertable.db"]);
    assert_eq!(damaged.code, 1, "{}", damaged.stderr);
    assert!(damaged.stderr.contains("corrupt"), "{}", damaged.stderr);

    let access = scratch.fixture("access");
    let rejected = smarthost(&scratch, &["map", "verify", access.to_str().unwrap()]);
    assert_eq!(rejected.code, 1);
    assert!(rejected.stderr.contains("access:5: error"), "{}", rejected.stderr);
}

#[test]
fn the_makemap_subcommand_is_makemap() {
    let scratch = Scratch::new();
    let access = scratch.fixture("access");
    let standalone = scratch.makemap(&["-re", "-t", "\t", "hash", "one"], Stdin::File(&access));
    let sub = scratch.run(SMARTHOST, &["makemap", "-re", "-t", "\t", "hash", "two"], Stdin::File(&access));
    assert_eq!((sub.code, sub.stderr.as_str()), (standalone.code, standalone.stderr.as_str()));
    assert_eq!(scratch.read("one.db"), scratch.read("two.db"));

    let dump = scratch.run(SMARTHOST, &["makemap", "-u", "hash", "two"], Stdin::Null);
    assert_eq!(dump.stdout, scratch.makemap(&["-u", "hash", "one"], Stdin::Null).stdout);

    let strict = scratch.run(SMARTHOST, &["makemap", "--strict", "hash", "three"], Stdin::Pipe(b"a 1\r\n"));
    assert_eq!(strict.code, 65, "{}", strict.stderr);

    let usage = scratch.run(SMARTHOST, &["makemap", "-z"], Stdin::Null);
    assert_eq!(usage.code, 64);
    assert!(usage.stderr.contains("Usage: smarthost makemap [-C cffile]"), "{}", usage.stderr);
}
