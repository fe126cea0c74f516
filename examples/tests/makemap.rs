//! The `makemap` binary against sendmail's behaviour (spec `maps.md` §1).

mod common;

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};

use common::{Scratch, Stdin, pairs, running_as_root};

/// The source of spec §1.4: `→` TAB, `·` trailing space, `␍` CR.
const VECTORS: &[u8] = b"Key1\tvalue one  \n\
    # comment\n\
    \n\
    \x20  \n\
    key2   value two # not a comment\n\
    key3\n\
    \x20Key4 leading\n\
    key1\tdup value\n\
    KEY5\t\t\tmulti  tab\r\n\
    k6:v6\n\
    example.com.\tsmtp:x\n";

fn sorted(mut list: Vec<(String, String)>) -> Vec<(String, String)> {
    list.sort();
    list
}

#[test]
fn spec_vector_plain_build() {
    let scratch = Scratch::new();
    let source = scratch.write("vectors", VECTORS);
    let outcome = scratch.makemap(&["hash", "m"], Stdin::File(&source));
    assert_eq!(outcome.code, 65, "{}", outcome.stderr);
    assert_eq!(outcome.error_lines("vectors"), [4, 6, 7, 8, 10], "{}", outcome.stderr);
    assert!(outcome.stderr.contains("vectors:4: error: syntax error (leading space)"));
    assert!(outcome.stderr.contains("vectors:6: error: no RHS for LHS `key3`"));
    assert!(outcome.stderr.contains("vectors:8: error: key `key1`: duplicate key"));
    assert!(outcome.stderr.contains("vectors:10: error: no RHS for LHS `k6:v6`"));
    assert_eq!(
        sorted(scratch.dump(&[], "hash", "m", b'\t')),
        sorted(pairs(&[
            ("key1", "value one  "),
            ("key2", "value two # not a comment"),
            ("key5", "multi  tab\r"),
            ("example.com.", "smtp:x"),
        ]))
    );
}

#[test]
fn spec_vector_replace_and_empty_values() {
    let scratch = Scratch::new();
    let source = scratch.write("vectors", VECTORS);
    let outcome = scratch.makemap(&["-r", "-e", "hash", "m"], Stdin::File(&source));
    assert_eq!(outcome.code, 65, "{}", outcome.stderr);
    assert_eq!(outcome.error_lines("vectors"), [4, 7], "{}", outcome.stderr);
    assert_eq!(
        sorted(scratch.dump(&[], "hash", "m", b'\t')),
        sorted(pairs(&[
            ("key1", "dup value"),
            ("key2", "value two # not a comment"),
            ("key3", ""),
            ("key5", "multi  tab\r"),
            ("k6:v6", ""),
            ("example.com.", "smtp:x"),
        ]))
    );
}

#[test]
fn spec_vector_delimiter() {
    let scratch = Scratch::new();
    let source = scratch.write("colon", b"a:b c\nx::y\n:z\nq:\n");
    let outcome = scratch.makemap(&["-t:", "hash", "m"], Stdin::File(&source));
    assert_eq!(outcome.code, 65, "{}", outcome.stderr);
    assert_eq!(outcome.error_lines("colon"), [4]);
    assert!(outcome.stderr.contains("no RHS for LHS `q`"), "{}", outcome.stderr);
    let expected = pairs(&[("a", "b c"), ("x", "y"), ("", "z")]);
    // -u separates with the -t character, or a TAB without it.
    assert_eq!(sorted(scratch.dump(&["-t:"], "hash", "m", b':')), sorted(expected.clone()));
    assert_eq!(sorted(scratch.dump(&[], "hash", "m", b'\t')), sorted(expected));
}

#[test]
fn spec_vector_no_case_folding() {
    let scratch = Scratch::new();
    let source = scratch.write("mixed", b"MixedCase\tV\n");
    let outcome = scratch.makemap(&["-f", "hash", "m"], Stdin::File(&source));
    assert_eq!((outcome.code, outcome.stderr.as_str()), (0, ""));
    assert_eq!(scratch.dump(&[], "hash", "m", b'\t'), pairs(&[("MixedCase", "V")]));
}

#[test]
fn clustered_attached_and_separate_flags_agree() {
    let scratch = Scratch::new();
    let source = scratch.write("vectors", VECTORS);
    let mut builds = Vec::new();
    for (name, flags) in [("a", &["-ret:"][..]), ("b", &["-r", "-e", "-t", ":"]), ("c", &["-ret", ":"])] {
        let args: Vec<&str> = flags.iter().copied().chain(["hash", name]).collect();
        let outcome = scratch.makemap(&args, Stdin::File(&source));
        builds.push((outcome.code, scratch.read(&format!("{name}.db"))));
    }
    // With -t every line of the vectors has a key, and -e -r accept the rest.
    assert_eq!(builds[0].0, 0);
    assert_eq!(builds[0], builds[1]);
    assert_eq!(builds[0], builds[2]);
}

#[test]
fn a_rejected_line_is_named_by_file_and_line_and_the_rest_is_stored() {
    let scratch = Scratch::new();
    let access = scratch.fixture("access");
    let outcome = scratch.makemap(&["hash", "access"], Stdin::File(&access));
    assert_eq!(outcome.code, 65, "{}", outcome.stderr);
    assert!(outcome.stderr.contains("access:5: error: syntax error (leading space)"), "{}", outcome.stderr);
    assert_eq!(outcome.error_lines("access"), [5]);
    assert_eq!(
        scratch.dump(&[], "hash", "access", b'\t'),
        pairs(&[
            ("connect:192.0.2.1", "REJECT"),
            ("connect:localhost", "RELAY"),
            ("to:example.net", "RELAY"),
            ("connect:10", "RELAY"),
        ])
    );
}

#[test]
fn diagnostics_name_the_map_when_the_source_is_a_pipe() {
    let scratch = Scratch::new();
    let outcome = scratch.makemap(&["hash", "piped"], Stdin::Pipe(b"ok value\nlonely\n"));
    assert_eq!(outcome.code, 65);
    assert!(outcome.stderr.contains("makemap: piped:2: error: no RHS"), "{}", outcome.stderr);
}

#[test]
fn a_directory_that_cannot_exist_is_exit_73_and_nothing_is_created() {
    // Permission bits do not stop root, but no one can create a file under
    // a regular file.
    let scratch = Scratch::new();
    scratch.write("plain-file", b"");
    let outcome = scratch.makemap(&["hash", "plain-file/access"], Stdin::Pipe(b"a b\n"));
    assert_eq!(outcome.code, 73, "{}", outcome.stderr);
    assert!(outcome.stderr.starts_with("makemap: plain-file/access.db: cannot"), "{}", outcome.stderr);
    assert_eq!(fs::read_dir(scratch.dir.path()).unwrap().count(), 1, "only plain-file is there");
}

#[test]
fn a_build_refused_for_an_unsafe_directory_leaves_the_old_map_byte_for_byte() {
    let scratch = Scratch::new();
    fs::create_dir(scratch.path("maps")).unwrap();
    assert_eq!(scratch.makemap(&["hash", "maps/m"], Stdin::Pipe(b"old value\n")).code, 0);
    let before = scratch.read("maps/m.db");
    fs::set_permissions(scratch.path("maps"), fs::Permissions::from_mode(0o777)).unwrap();

    let outcome = scratch.makemap(&["hash", "maps/m"], Stdin::Pipe(b"old changed\nnew value\n"));
    assert_eq!(outcome.code, 73, "{}", outcome.stderr);
    assert!(outcome.stderr.contains("writable by everyone"), "{}", outcome.stderr);
    assert!(outcome.stderr.contains("pass -s"), "{}", outcome.stderr);
    assert_eq!(scratch.read("maps/m.db"), before);
    assert_eq!(fs::read_dir(scratch.path("maps")).unwrap().count(), 1, "no temporary file is left");

    let outcome = scratch.makemap(&["-s", "hash", "maps/m"], Stdin::Pipe(b"old changed\n"));
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    assert_eq!(scratch.dump(&[], "hash", "maps/m", b'\t'), pairs(&[("old", "changed")]));
}

#[test]
fn a_write_error_is_exit_74_and_leaves_the_old_map_byte_for_byte() {
    let scratch = Scratch::new();
    assert_eq!(scratch.makemap(&["hash", "m"], Stdin::Pipe(b"old value\n")).code, 0);
    let before = scratch.read("m.db");
    // A file size limit makes every write past the first block fail with
    // EFBIG (the signal it would raise is ignored), even for root.
    let script = r#"trap "" XFSZ; ulimit -f 1; exec "$0" "$@""#;
    let outcome =
        scratch.run("sh", &["-c", script, common::MAKEMAP, "hash", "m"], Stdin::Pipe(b"new value\n"));
    assert_eq!(outcome.code, 74, "{}", outcome.stderr);
    assert!(outcome.stderr.contains("cannot write"), "{}", outcome.stderr);
    assert_eq!(scratch.read("m.db"), before);
    assert_eq!(fs::read_dir(scratch.dir.path()).unwrap().count(), 1, "no temporary file is left");
}

#[test]
fn a_symlinked_map_is_refused_without_s_and_accepted_with_it() {
    let scratch = Scratch::new();
    assert_eq!(scratch.makemap(&["hash", "real"], Stdin::Pipe(b"k real\n")).code, 0);
    let real = scratch.read("real.db");
    std::os::unix::fs::symlink("real.db", scratch.path("link.db")).unwrap();

    let outcome = scratch.makemap(&["hash", "link"], Stdin::Pipe(b"k linked\n"));
    assert_eq!(outcome.code, 73, "{}", outcome.stderr);
    assert!(outcome.stderr.contains("symbolic link"), "{}", outcome.stderr);
    assert_eq!(scratch.read("real.db"), real);
    assert!(fs::symlink_metadata(scratch.path("link.db")).unwrap().file_type().is_symlink());

    let outcome = scratch.makemap(&["-s", "hash", "link"], Stdin::Pipe(b"k linked\n"));
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    assert_eq!(scratch.dump(&[], "hash", "link", b'\t'), pairs(&[("k", "linked")]));
}

#[test]
fn append_adds_to_the_existing_map() {
    let scratch = Scratch::new();
    assert_eq!(scratch.makemap(&["hash", "m"], Stdin::Pipe(b"a 1\nb 2\n")).code, 0);

    let outcome = scratch.makemap(&["-o", "hash", "m"], Stdin::Pipe(b"c 3\nA x\n"));
    assert_eq!(outcome.code, 65, "{}", outcome.stderr);
    assert!(
        outcome.stderr.contains("m:2: error: key `a`: duplicate key, already in the map"),
        "{}",
        outcome.stderr
    );
    assert_eq!(sorted(scratch.dump(&[], "hash", "m", b'\t')), pairs(&[("a", "1"), ("b", "2"), ("c", "3")]));

    let outcome = scratch.makemap(&["-or", "hash", "m"], Stdin::Pipe(b"a x\n"));
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    assert_eq!(sorted(scratch.dump(&[], "hash", "m", b'\t')), pairs(&[("a", "x"), ("b", "2"), ("c", "3")]));

    // With no map yet, -o starts from an empty one.
    assert_eq!(scratch.makemap(&["-o", "btree", "fresh"], Stdin::Pipe(b"k v\n")).code, 0);
    assert_eq!(scratch.dump(&[], "btree", "fresh", b'\t'), pairs(&[("k", "v")]));
}

#[test]
fn append_to_a_cdb_map_is_refused() {
    let scratch = Scratch::new();
    let outcome = scratch.makemap(&["-o", "cdb", "m"], Stdin::Pipe(b"k v\n"));
    assert_eq!(outcome.code, 64);
    assert!(
        outcome.stderr.contains(
            "makemap: -o is not supported for cdb maps (a constant database cannot be appended to)"
        ),
        "{}",
        outcome.stderr
    );
    assert!(!scratch.exists("m.cdb"));
}

#[test]
fn map_file_names_follow_sendmail() {
    let scratch = Scratch::new();
    for (map_type, name, file) in [
        ("hash", "a", "a.db"),
        ("hash", "b.db", "b.db"),
        ("btree", "c", "c.db"),
        ("implicit", "d", "d.db"),
        ("cdb", "e", "e.cdb"),
        ("cdb", "f.db", "f.db.cdb"),
    ] {
        let outcome = scratch.makemap(&[map_type, name], Stdin::Pipe(b"k v\n"));
        assert_eq!(outcome.code, 0, "{map_type} {name}: {}", outcome.stderr);
        assert!(scratch.exists(file), "{map_type} {name} should write {file}");
    }
    assert!(!scratch.exists("b.db.db"));
}

#[test]
fn dbm_is_unavailable_and_unknown_types_are_usage_errors() {
    let scratch = Scratch::new();
    let outcome = scratch.makemap(&["dbm", "m"], Stdin::Pipe(b"k v\n"));
    assert_eq!(outcome.code, 69);
    assert!(outcome.stderr.contains("Type dbm not supported in this version"), "{}", outcome.stderr);
    let outcome = scratch.makemap(&["nis", "m"], Stdin::Pipe(b"k v\n"));
    assert_eq!(outcome.code, 64);
    assert!(outcome.stderr.contains("Unknown database type nis"), "{}", outcome.stderr);
    // -i names the type to use when the one asked for is not available.
    assert_eq!(scratch.makemap(&["-i", "cdb", "dbm", "m"], Stdin::Pipe(b"k v\n")).code, 0);
    assert!(scratch.exists("m.cdb"));
}

#[test]
fn listing_the_types() {
    let scratch = Scratch::new();
    for (flag, expected) in
        [("-l", "hash\nbtree\ncdb\n"), ("-x", "hash\nbtree\ncdb\n"), ("-L", "hash\nbtree\ncdb\ncf\nCF\n")]
    {
        let outcome = scratch.makemap(&[flag], Stdin::Null);
        assert_eq!((outcome.code, outcome.stdout_text().as_str()), (0, expected), "{flag}");
    }
}

#[test]
fn usage_errors_print_sendmails_usage_text() {
    let scratch = Scratch::new();
    for args in
        [&[][..], &["hash"], &["hash", "m", "extra"], &["hash", "m", "-r"], &["-z", "hash", "m"], &["-t"]]
    {
        let outcome = scratch.makemap(args, Stdin::Pipe(b"k v\n"));
        assert_eq!(outcome.code, 64, "{args:?}");
        assert!(
            outcome.stderr.contains("Usage: makemap [-C cffile] [-N] [-c cachesize]"),
            "{args:?}: {}",
            outcome.stderr
        );
        assert!(outcome.stderr.contains("[-u] [-v] type mapname"), "{args:?}");
    }
    assert!(
        scratch
            .makemap(&["-z", "hash", "m"], Stdin::Null)
            .stderr
            .starts_with("makemap: invalid option -- 'z'")
    );
    assert!(!scratch.exists("m.db"));
}

#[test]
fn the_type_can_come_from_sendmail_cf() {
    let scratch = Scratch::new();
    scratch.fixture("sendmail.cf");
    // CF compares base names without extension.
    let outcome = scratch.makemap(&["-C", "sendmail.cf", "CF", "mailertable"], Stdin::Pipe(b"k v\n"));
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    assert!(scratch.exists("mailertable.db"));
    assert_eq!(scratch.makemap(&["-Csendmail.cf", "CF", "virtusertable"], Stdin::Pipe(b"k v\n")).code, 0);
    assert!(scratch.exists("virtusertable.cdb"));

    // cf compares full paths, as written on the K line.
    let generics = scratch.path("genericstable");
    let cf = format!("Kgenerics btree {}\n", generics.display());
    scratch.write("full.cf", cf.as_bytes());
    let outcome =
        scratch.makemap(&["-C", "full.cf", "cf", generics.to_str().unwrap()], Stdin::Pipe(b"k v\n"));
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    assert!(scratch.exists("genericstable.db"));

    let outcome = scratch.makemap(&["-C", "full.cf", "cf", "genericstable"], Stdin::Pipe(b"k v\n"));
    assert_eq!(outcome.code, 65);
    assert_eq!(outcome.stderr, "makemap: mapfile genericstable: not found in full.cf\n");
    let outcome =
        scratch.makemap(&["-C", "full.cf", "-i", "cdb", "cf", "genericstable"], Stdin::Pipe(b"k v\n"));
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    assert!(scratch.exists("genericstable.cdb"));

    let outcome = scratch.makemap(&["-C", "missing.cf", "CF", "access"], Stdin::Pipe(b"k v\n"));
    assert_eq!(outcome.code, 66, "{}", outcome.stderr);
    assert!(outcome.stderr.contains("missing.cf"), "{}", outcome.stderr);
}

#[test]
fn root_hands_the_map_to_trusted_user() {
    let scratch = Scratch::new();
    scratch.fixture("sendmail.cf");
    let outcome = scratch.makemap(&["-C", "sendmail.cf", "hash", "m"], Stdin::Pipe(b"k v\n"));
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    let owner = fs::metadata(scratch.path("m.db")).unwrap().uid();
    if running_as_root(&scratch) {
        assert_eq!(owner, 4242, "sendmail.cf says O TrustedUser=4242");
    } else {
        assert_ne!(owner, 4242, "only root hands maps over");
    }
}

#[test]
fn a_new_map_is_no_more_readable_than_its_source_and_a_rebuilt_one_keeps_its_mode() {
    let scratch = Scratch::new();
    let mode = |name: &str| fs::metadata(scratch.path(name)).unwrap().permissions().mode() & 0o7777;
    let private = scratch.write("client-info", b"AuthInfo:example.net \"P:secret\"\n");
    fs::set_permissions(&private, fs::Permissions::from_mode(0o600)).unwrap();
    assert_eq!(scratch.makemap(&["hash", "client-info"], Stdin::File(&private)).code, 0);
    assert_eq!(mode("client-info.db"), 0o600);

    let public = scratch.write("mailertable", b".lan esmtp:[%1.lan]\n");
    fs::set_permissions(&public, fs::Permissions::from_mode(0o644)).unwrap();
    assert_eq!(scratch.makemap(&["hash", "mailertable"], Stdin::File(&public)).code, 0);
    assert_eq!(mode("mailertable.db"), 0o640);

    fs::set_permissions(scratch.path("mailertable.db"), fs::Permissions::from_mode(0o644)).unwrap();
    fs::set_permissions(&public, fs::Permissions::from_mode(0o600)).unwrap();
    assert_eq!(scratch.makemap(&["hash", "mailertable"], Stdin::File(&public)).code, 0);
    assert_eq!(mode("mailertable.db"), 0o644);
}

#[test]
fn verbose_prints_each_pair_from_the_source() {
    let scratch = Scratch::new();
    let outcome = scratch.makemap(&["-v", "hash", "m"], Stdin::Pipe(b"Key value one\nother 2\n"));
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    assert_eq!(outcome.stdout_text(), "key=`key', val=`value one'\nkey=`other', val=`2'\n");
}

#[test]
fn nul_bytes_are_stored_with_n_and_hidden_from_dumps() {
    let scratch = Scratch::new();
    assert_eq!(scratch.makemap(&["-N", "hash", "m"], Stdin::Pipe(b"Key value\n")).code, 0);
    let raw = scratch.read("m.db");
    assert!(raw.windows(10).any(|w| w == b"key\0value\0"), "the file holds NUL-terminated strings");
    assert_eq!(scratch.dump(&[], "hash", "m", b'\t'), pairs(&[("key", "value")]));
}

#[test]
fn duplicates_are_all_kept_with_d_even_with_r() {
    let scratch = Scratch::new();
    for flags in ["-d", "-rd"] {
        let outcome = scratch.makemap(&[flags, "btree", "m"], Stdin::Pipe(b"k 1\nk 2\n"));
        assert_eq!(outcome.code, 0, "{flags}: {}", outcome.stderr);
        assert_eq!(scratch.dump(&[], "btree", "m", b'\t'), pairs(&[("k", "1"), ("k", "2")]), "{flags}");
    }
}

#[test]
fn comment_character_and_cache_size() {
    let scratch = Scratch::new();
    let outcome =
        scratch.makemap(&["-D", ";", "-c", "1024", "hash", "m"], Stdin::Pipe(b"; note\n#key value\n"));
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    assert_eq!(scratch.dump(&[], "hash", "m", b'\t'), pairs(&[("#key", "value")]));
}

#[test]
fn strict_refuses_lines_ending_in_cr() {
    let scratch = Scratch::new();
    let outcome = scratch.makemap(&["--strict", "hash", "m"], Stdin::Pipe(b"a 1\r\nb 2\n"));
    assert_eq!(outcome.code, 65);
    assert_eq!(outcome.error_lines("m"), [1], "{}", outcome.stderr);
    assert_eq!(scratch.dump(&[], "hash", "m", b'\t'), pairs(&[("b", "2")]));
}

#[test]
fn a_long_source_builds_silently_when_stderr_is_not_a_terminal() {
    let scratch = Scratch::new();
    let text: String = (0..100_001).map(|i| format!("key{i} value{i}\n")).collect();
    let source = scratch.write("big", text.as_bytes());
    let outcome = scratch.makemap(&["hash", "big"], Stdin::File(&source));
    assert_eq!((outcome.code, outcome.stderr.as_str()), (0, ""));
    let outcome = scratch.run(common::SMARTHOST, &["map", "lookup", "big", "KEY99999"], Stdin::Null);
    assert_eq!(outcome.stdout_text(), "value99999\n");
}
