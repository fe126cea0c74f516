//! Opening maps by their configured name, and reloading them in use.

use std::fs::{self, File};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use smarthost_maps::{Map, MapBuilder, MapType, ReloadingMap, Source, SourceOptions, open_map};

fn makemap(source: &Path) {
    let options = SourceOptions::default();
    let text = fs::read(source).unwrap();
    let parsed = Source::parse(&text, &options);
    MapBuilder::new(MapType::Hash.file_name(source), &options).write(parsed.entries()).unwrap();
}

fn set_mtime(path: &Path, time: SystemTime) {
    File::options().write(true).open(path).unwrap().set_modified(time).unwrap();
}

#[test]
fn a_text_source_is_loaded_with_its_diagnostics() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("access");
    fs::write(&path, "Connect:192.0.2 REJECT\n lead\n").unwrap();
    let map = open_map(&path, &SourceOptions::default()).unwrap();
    assert!(!map.is_compiled());
    assert_eq!(map.path(), path);
    assert_eq!(map.lookup(b"Connect:192.0.2").unwrap(), Some(&b"REJECT"[..]));
    assert_eq!(map.diagnostics().len(), 1);
    assert_eq!(map.diagnostics()[0].line, 2);
}

#[test]
fn the_compiled_map_beside_a_source_wins_and_staleness_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("mailertable");
    fs::write(&source, "example.com smtp:[text]\n").unwrap();
    makemap(&source);
    fs::write(&source, "example.com smtp:[edited]\n").unwrap();
    let old = SystemTime::now() - Duration::from_secs(60);
    set_mtime(&source, old);

    let map = open_map(&source, &SourceOptions::default()).unwrap();
    assert!(map.is_compiled());
    assert_eq!(map.path(), dir.path().join("mailertable.db"));
    assert_eq!(map.lookup(b"example.com").unwrap(), Some(&b"smtp:[text]"[..]));
    assert_eq!(map.stale_source(), None);

    set_mtime(&source, SystemTime::now() + Duration::from_secs(60));
    let map = open_map(&source, &SourceOptions::default()).unwrap();
    assert_eq!(map.stale_source(), Some(source.as_path()));
}

#[test]
fn a_compiled_map_can_be_named_directly_and_a_cdb_file_is_found() {
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("virtusertable");
    fs::write(&source, "info@example.com info-team\n").unwrap();
    let options = SourceOptions::default();
    let parsed = Source::parse(b"info@example.com info-team\n", &options);
    MapBuilder::new(MapType::Cdb.file_name(&source), &options).write(parsed.entries()).unwrap();
    let by_source = open_map(&source, &options).unwrap();
    assert_eq!(by_source.path(), dir.path().join("virtusertable.cdb"));
    let direct = open_map(dir.path().join("virtusertable.cdb"), &options).unwrap();
    assert!(direct.is_compiled());
    assert_eq!(direct.content_hash(), by_source.content_hash());
}

#[test]
fn refresh_picks_up_a_rebuilt_map_and_old_generations_keep_answering() {
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("mailertable");
    fs::write(&source, "example.com smtp:[one]\n").unwrap();
    makemap(&source);
    let map = ReloadingMap::open(&source, SourceOptions::default()).unwrap();
    let first = map.current();
    assert_eq!(first.number(), 1);
    assert!(map.refresh().unwrap().is_none(), "nothing changed");

    fs::write(&source, "example.com smtp:[two]\n").unwrap();
    makemap(&source);
    let second = map.refresh().unwrap().expect("the rebuilt map is picked up");
    assert_eq!(second.number(), 2);
    assert_ne!(second.content_hash(), first.content_hash());
    assert_eq!(first.lookup(b"example.com").unwrap(), Some(&b"smtp:[one]"[..]));
    assert_eq!(map.current().lookup(b"example.com").unwrap(), Some(&b"smtp:[two]"[..]));
    assert!(map.refresh().unwrap().is_none());
}

#[test]
fn a_failed_reload_keeps_the_working_map() {
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("access");
    fs::write(&source, "Connect:192.0.2.1 REJECT\n").unwrap();
    makemap(&source);
    let map = ReloadingMap::open(&source, SourceOptions::default()).unwrap();
    // A bad "rebuild" that replaces the map by rename, as every builder
    // must (copying over a mapped file in place changes it under readers).
    let bad = dir.path().join("access.db.new");
    fs::write(&bad, "not a map at all").unwrap();
    fs::rename(&bad, dir.path().join("access.db")).unwrap();
    let error = map.reload().unwrap_err();
    assert!(error.to_string().contains("access.db"), "{error}");
    assert!(map.refresh().is_err());
    assert_eq!(map.current().number(), 1);
    assert_eq!(map.current().lookup(b"connect:192.0.2.1").unwrap(), Some(&b"REJECT"[..]));
}

#[test]
fn lookups_during_reloads_see_one_generation_or_the_other() {
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("mailertable");
    let write = |n: u32| {
        let text: String = (0..200).map(|i| format!("host{i}.example v{n}\n")).collect();
        fs::write(&source, text).unwrap();
        makemap(&source);
    };
    write(0);
    let map = Arc::new(ReloadingMap::open(&source, SourceOptions::default()).unwrap());
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let map = Arc::clone(&map);
            std::thread::spawn(move || {
                for round in 0..2_000 {
                    let generation = map.current();
                    let first = generation.lookup(b"host0.example").unwrap().unwrap().to_vec();
                    let last = generation.lookup(format!("host{}.example", round % 200).as_bytes()).unwrap();
                    assert_eq!(last, Some(&first[..]), "one generation, one answer");
                }
            })
        })
        .collect();
    for n in 1..20 {
        write(n);
        map.reload().unwrap();
    }
    for reader in readers {
        reader.join().unwrap();
    }
}
