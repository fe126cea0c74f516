//! `smarthost newaliases` and the `newaliases` binary: compiling the
//! aliases file, the `@` sentinel, diagnostics, loops, exit statuses.

mod common;

use std::path::Path;

use common::{SMARTHOST, Scratch, Stdin, split_pairs};

const NEWALIASES: &str = env!("CARGO_BIN_EXE_newaliases");

fn spec_aliases() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../routing/tests/vectors/aliases/spec-6.7/aliases")
}

#[test]
fn the_spec_file_compiles_with_the_sentinel_last() {
    let scratch = Scratch::new();
    std::fs::copy(spec_aliases(), scratch.path("aliases")).unwrap();
    let outcome = scratch.run(SMARTHOST, &["newaliases", "aliases"], Stdin::Null);
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    assert_eq!(outcome.stdout_text(), "aliases: 10 aliases, longest 30 bytes, 200 bytes total\n");
    assert!(outcome.stderr.is_empty(), "{}", outcome.stderr);
    let dump = scratch.run(SMARTHOST, &["map", "dump", "aliases.db"], Stdin::Null);
    let pairs = split_pairs(&dump.stdout, b'\t');
    assert_eq!(pairs.last().unwrap(), &("@".to_string(), "@".to_string()));
    assert!(pairs.contains(&("mixedcase".to_string(), "mixed".to_string())), "{pairs:?}");
    assert!(pairs.contains(&("list".to_string(), "alice, bob@example.net,  carol".to_string())), "{pairs:?}");
    let lookup = scratch.run(SMARTHOST, &["map", "lookup", "aliases.db", "CONT"], Stdin::Null);
    assert_eq!(lookup.stdout_text(), "dave, eve\n");
}

#[test]
fn bad_lines_are_reported_and_left_out() {
    let scratch = Scratch::new();
    scratch.write("aliases", b"ok: alice\n  orphan? no: the entry before continues\n# x\n  orphan\nnocolon\nempty:\nr@other.example: x\n");
    scratch.write("relay.toml", b"hostname = \"mail.example.org\"\n[maps]\naliases = \"aliases\"\n");
    let outcome = scratch.run(SMARTHOST, &["newaliases", "--config", "relay.toml"], Stdin::Null);
    assert_eq!(outcome.code, 65, "{}", outcome.stderr);
    let lines: Vec<&str> = outcome
        .stderr
        .lines()
        .filter_map(|line| line.strip_prefix("smarthost newaliases: aliases:"))
        .filter_map(|rest| rest.split_once(": error:").map(|(n, _)| n))
        .collect();
    assert_eq!(lines, ["4", "5", "6", "7"], "{}", outcome.stderr);
    assert!(outcome.stderr.contains("cannot alias non-local names"), "{}", outcome.stderr);
    let lookup = scratch.run(SMARTHOST, &["map", "lookup", "aliases.db", "ok"], Stdin::Null);
    assert_eq!(lookup.stdout_text(), "alice  orphan? no: the entry before continues\n");
}

#[test]
fn loops_are_named() {
    let scratch = Scratch::new();
    scratch.write("aliases", b"a: b\nb: c, keep\nc: a\nself: self, copy\n");
    let outcome = scratch.run(NEWALIASES, &["aliases"], Stdin::Null);
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    assert_eq!(outcome.stderr.matches("alias loop").count(), 1, "{}", outcome.stderr);
    assert!(
        outcome.stderr.contains("newaliases: aliases: warning: alias loop a -> b -> c -> a"),
        "{}",
        outcome.stderr
    );
    let route = scratch.run(
        SMARTHOST,
        &["route", "--hostname", "h.example", "--aliases", "aliases", "--format", "tsv", "a", "c"],
        Stdin::Null,
    );
    assert_eq!(route.stdout_text(), "a\tlocal\t\tkeep\nc\tlocal\t\tkeep\n");
}

#[test]
fn missing_input_and_a_database_operand_are_refused() {
    let scratch = Scratch::new();
    let missing = scratch.run(NEWALIASES, &["nonexistent"], Stdin::Null);
    assert_eq!(missing.code, 66);
    assert!(
        missing.stderr.starts_with("newaliases: nonexistent: cannot read the aliases"),
        "{}",
        missing.stderr
    );
    let db = scratch.run(NEWALIASES, &["aliases.db"], Stdin::Null);
    assert_eq!(db.code, 64);
    assert!(db.stderr.contains("give the aliases text file"), "{}", db.stderr);
    let config = scratch.run(NEWALIASES, &["--config", "none.toml", "x"], Stdin::Null);
    assert_eq!(config.code, 66);
}
