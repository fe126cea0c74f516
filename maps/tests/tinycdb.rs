//! Interoperability with tinycdb's `cdb` tool (Debian package `tinycdb`),
//! a real CDB implementation: it reads our maps, and we read its files.
//!
//! Where the tool is missing the tests say so and pass, except in CI
//! (`CI` set), whose script installs it: there a missing tool fails.

use std::fs;
use std::io::Write;
use std::process::{Command, Stdio};

use smarthost_maps::{CompiledMap, Map, MapBuilder, Source, SourceOptions};

fn tinycdb_present() -> bool {
    let present = Command::new("cdb").arg("-h").output().is_ok();
    assert!(
        present || std::env::var_os("CI").is_none(),
        "CI must install tinycdb (`apt-get install tinycdb`)"
    );
    if !present {
        eprintln!("tinycdb's `cdb` is not installed; skipping the interoperability check");
    }
    present
}

#[test]
fn tinycdb_reads_our_maps() {
    if !tinycdb_present() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mailertable.db");
    let options = SourceOptions::default();
    let text: String = (0..500).map(|i| format!("host{i}.Example.com esmtp:[mx{i}.example.net]\n")).collect();
    let source = Source::parse(text.as_bytes(), &options);
    MapBuilder::new(&path, &options).write(source.entries()).unwrap();
    for i in [0, 1, 250, 499] {
        let output =
            Command::new("cdb").arg("-q").arg(&path).arg(format!("host{i}.example.com")).output().unwrap();
        assert!(output.status.success(), "cdb -q failed for host{i}: {output:?}");
        assert_eq!(String::from_utf8(output.stdout).unwrap(), format!("esmtp:[mx{i}.example.net]"));
    }
    let absent = Command::new("cdb").arg("-q").arg(&path).arg("absent.example").output().unwrap();
    assert_eq!(absent.status.code(), Some(100), "tinycdb's exit status for a missing key");
}

#[test]
fn we_read_tinycdb_files_learning_their_nul_convention() {
    if !tinycdb_present() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // cdbmake input: +klen,dlen:key->data, ending with an empty line. The
    // second file stores keys and values with a trailing NUL, as
    // `makemap -N` and Postfix do.
    for (name, suffix) in [("plain.cdb", ""), ("nul.cdb", "\0")] {
        let path = dir.path().join(name);
        let mut input = Vec::new();
        for (key, value) in [("example.com", "esmtp:[mx.example.net]"), (".lan", "esmtp:[%1.lan]")] {
            let (key, value) = (format!("{key}{suffix}"), format!("{value}{suffix}"));
            writeln!(input, "+{},{}:{key}->{value}", key.len(), value.len()).unwrap();
        }
        input.push(b'\n');
        let mut child = Command::new("cdb").arg("-c").arg(&path).stdin(Stdio::piped()).spawn().unwrap();
        child.stdin.take().unwrap().write_all(&input).unwrap();
        assert!(child.wait().unwrap().success());

        let map = CompiledMap::open(&path).unwrap();
        assert!(!map.has_header());
        assert_eq!(map.len(), None);
        assert_eq!(map.lookup(b"Example.COM").unwrap(), Some(&b"esmtp:[mx.example.net]"[..]), "{name}");
        assert_eq!(map.lookup(b".lan").unwrap(), Some(&b"esmtp:[%1.lan]"[..]), "{name}");
        assert_eq!(map.lookup(b"absent").unwrap(), None);
        map.verify().unwrap();
        assert_eq!(map.iter().count(), 2);
    }
    // Without the .cdb name, a file with no smarthost header is refused.
    fs::rename(dir.path().join("plain.cdb"), dir.path().join("plain.db")).unwrap();
    assert!(CompiledMap::open(dir.path().join("plain.db")).is_err());
}
