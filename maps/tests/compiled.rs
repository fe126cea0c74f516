//! Compiled maps: building, opening, damage, and the atomic-replace contract.

use std::fs;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::Path;

use smarthost_maps::{CompiledMap, Error, Map, MapBuilder, Source, SourceOptions};

fn build(path: &Path, text: &str) -> smarthost_maps::BuildReport {
    let options = SourceOptions::default();
    let source = Source::parse(text.as_bytes(), &options);
    MapBuilder::new(path, &options).write(source.entries()).unwrap()
}

const TABLE: &str = "example.com esmtp:[mx.example.net]\n.lan esmtp:[%1.lan]\n. relay:[smart.example.org]\n";

#[test]
fn lookups_fold_the_key_and_return_the_value_as_stored() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mailertable.db");
    let report = build(&path, TABLE);
    assert_eq!(report.entries, 3);
    let map = CompiledMap::open(&path).unwrap();
    assert_eq!(map.len(), Some(3));
    assert_eq!(map.lookup(b"Example.COM").unwrap(), Some(&b"esmtp:[mx.example.net]"[..]));
    assert_eq!(map.lookup(b".").unwrap(), Some(&b"relay:[smart.example.org]"[..]));
    assert_eq!(map.lookup(b"example.org").unwrap(), None);
    assert_eq!(map.lookup(b"").unwrap(), None);
    assert_eq!(map.content_hash(), report.content_hash);
    map.verify().unwrap();
}

#[test]
fn an_unfolded_map_is_case_sensitive() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.db");
    let options = SourceOptions { fold_case: false, ..SourceOptions::default() };
    let source = Source::parse(b"MixedCase V\n", &options);
    MapBuilder::new(&path, &options).write(source.entries()).unwrap();
    let map = CompiledMap::open(&path).unwrap();
    assert!(!map.is_case_folded());
    assert_eq!(map.lookup(b"MixedCase").unwrap(), Some(&b"V"[..]));
    assert_eq!(map.lookup(b"mixedcase").unwrap(), None);
}

#[test]
fn long_keys_and_empty_maps_work() {
    let dir = tempfile::tempdir().unwrap();
    let long_key = "K".repeat(600);
    let path = dir.path().join("long.db");
    build(&path, &format!("{long_key} v\n"));
    let map = CompiledMap::open(&path).unwrap();
    assert_eq!(map.lookup(long_key.as_bytes()).unwrap(), Some(&b"v"[..]));

    let empty = dir.path().join("empty.db");
    build(&empty, "# nothing\n");
    let map = CompiledMap::open(&empty).unwrap();
    assert!(map.is_empty());
    assert_eq!(map.lookup(b"x").unwrap(), None);
    assert_eq!(map.iter().count(), 0);
    map.verify().unwrap();
}

#[test]
fn every_changed_byte_is_noticed_and_nothing_panics() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.db");
    build(&good, TABLE);
    let bytes = fs::read(&good).unwrap();
    let damaged = dir.path().join("damaged.db");
    for at in 0..bytes.len() {
        let mut copy = bytes.clone();
        copy[at] ^= 0x41;
        fs::write(&damaged, &copy).unwrap();
        let Ok(map) = CompiledMap::open(&damaged) else { continue };
        for key in [&b"example.com"[..], b".lan", b".", b"absent"] {
            let _ = map.lookup(key);
        }
        let _ = map.iter().count();
        assert!(map.verify().is_err(), "a change at byte {at} went unnoticed");
    }
}

#[test]
fn truncated_files_give_errors_not_panics() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.db");
    build(&good, TABLE);
    let bytes = fs::read(&good).unwrap();
    let cut = dir.path().join("cut.db");
    for len in (0..bytes.len()).step_by(7) {
        fs::write(&cut, &bytes[..len]).unwrap();
        if let Ok(map) = CompiledMap::open(&cut) {
            let _ = map.lookup(b"example.com");
            assert!(map.verify().is_err(), "truncation to {len} bytes went unnoticed");
        }
    }
}

#[test]
fn foreign_files_get_errors_that_name_them_and_say_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let text = dir.path().join("access.db");
    fs::write(&text, "Connect:192.0.2.1 REJECT\n".repeat(200)).unwrap();
    let message = CompiledMap::open(&text).unwrap_err().to_string();
    assert!(message.contains("access.db: not a smarthost map"), "{message}");
    assert!(message.contains("makemap hash"), "{message}");

    let mut berkeley = vec![0u8; 4096];
    berkeley[12..16].copy_from_slice(&0x0006_1561u32.to_le_bytes());
    fs::write(&text, &berkeley).unwrap();
    let error = CompiledMap::open(&text).unwrap_err();
    assert!(matches!(error, Error::BerkeleyDb { .. }), "{error}");
    assert!(error.to_string().contains("Berkeley DB"));

    fs::write(&text, b"short").unwrap();
    assert!(CompiledMap::open(&text).unwrap_err().to_string().contains("only 5 bytes long"));

    let missing = CompiledMap::open(dir.path().join("missing.db")).unwrap_err().to_string();
    assert!(missing.contains("missing.db: cannot open"), "{missing}");
}

#[test]
fn a_newer_format_version_is_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.db");
    build(&path, TABLE);
    let mut bytes = fs::read(&path).unwrap();
    // The version follows the 8-byte magic in the header record's value.
    let version_at = 2048 + 8 + 16 + 8;
    bytes[version_at..version_at + 4].copy_from_slice(&7u32.to_le_bytes());
    fs::write(&path, &bytes).unwrap();
    let message = CompiledMap::open(&path).unwrap_err().to_string();
    assert!(message.contains("newer smarthost (map format version 7"), "{message}");
}

#[test]
fn an_open_map_keeps_reading_the_generation_it_opened() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.db");
    build(&path, "key old\n");
    let old = CompiledMap::open(&path).unwrap();
    build(&path, "key new\n");
    assert_eq!(old.lookup(b"key").unwrap(), Some(&b"old"[..]));
    assert_eq!(CompiledMap::open(&path).unwrap().lookup(b"key").unwrap(), Some(&b"new"[..]));
}

#[test]
fn a_failed_build_leaves_the_old_map_and_no_temporary_file() {
    let dir = tempfile::tempdir().unwrap();
    // The target is a directory, so the final rename must fail.
    let target = dir.path().join("m.db");
    fs::create_dir(&target).unwrap();
    let options = SourceOptions::default();
    let source = Source::parse(b"a b\n", &options);
    let error = MapBuilder::new(&target, &options).skip_path_checks().write(source.entries()).unwrap_err();
    assert!(error.to_string().contains("cannot rename the new map into place"), "{error}");
    let left: Vec<_> = fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(left, ["m.db"]);

    // A directory that does not exist: nothing is created anywhere.
    let nowhere = dir.path().join("no/such/dir/m.db");
    let error = MapBuilder::new(&nowhere, &options).write(source.entries()).unwrap_err();
    assert!(error.to_string().contains("cannot"), "{error}");
}

#[test]
fn a_rebuilt_map_keeps_its_mode_and_a_new_one_gets_0640() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.db");
    build(&path, "a b\n");
    assert_eq!(fs::metadata(&path).unwrap().permissions().mode() & 0o7777, 0o640);
    fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
    build(&path, "a c\n");
    assert_eq!(fs::metadata(&path).unwrap().permissions().mode() & 0o7777, 0o600);

    let other = dir.path().join("n.db");
    let options = SourceOptions::default();
    MapBuilder::new(&other, &options).mode(0o604).write(&[]).unwrap();
    assert_eq!(fs::metadata(&other).unwrap().permissions().mode() & 0o7777, 0o604);
}

#[test]
fn unsafe_output_paths_are_refused_unless_checks_are_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let real = dir.path().join("real.db");
    build(&real, "a b\n");
    let link = dir.path().join("link.db");
    symlink(&real, &link).unwrap();
    let options = SourceOptions::default();
    let error = MapBuilder::new(&link, &options).write(&[]).unwrap_err();
    assert!(error.to_string().contains("symbolic link"), "{error}");
    assert!(error.to_string().contains("-s"), "{error}");
    MapBuilder::new(&link, &options).skip_path_checks().write(&[]).unwrap();
    // Written through the link, as sendmail's makemap -s does.
    assert!(fs::symlink_metadata(&link).unwrap().file_type().is_symlink());
    assert!(CompiledMap::open(&real).unwrap().is_empty());

    let open_dir = dir.path().join("open");
    fs::create_dir(&open_dir).unwrap();
    fs::set_permissions(&open_dir, fs::Permissions::from_mode(0o777)).unwrap();
    let error = MapBuilder::new(open_dir.join("m.db"), &options).write(&[]).unwrap_err();
    assert!(error.to_string().contains("writable by everyone"), "{error}");
    fs::set_permissions(&open_dir, fs::Permissions::from_mode(0o1777)).unwrap();
    MapBuilder::new(open_dir.join("m.db"), &options).write(&[]).unwrap();
}
