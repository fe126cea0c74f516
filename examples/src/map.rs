//! `smarthost map`: look up, dump and verify a map the way the relay opens it.
//!
//! FILE may be a compiled map, a makemap text source, or the name of a source
//! whose compiled `.db` (or `.cdb`) exists: see [`smarthost_maps::open_map`].
//! Messages about the map (rejected source lines, a source newer than its
//! compiled map) go to standard error; the answer goes to standard output.

use std::fs;
use std::io::{self, BufWriter, Write};
use std::path::Path;
use std::process::ExitCode;

use smarthost_maps::{
    Error, Map, MapGeneration, MapType, Severity, Source, SourceOptions, TextMap, open_map,
};

use crate::exit::{Status, finish};
use crate::records::{reader_went_away, write_pair};

/// Prints the value stored for `key` in the map `file` and a newline, like
/// sendmail's `/map` test command and `postmap -q`.
///
/// Exit status 0 when the key is present, 1 (printing nothing) when it is
/// absent, 2 when the map cannot be read.
pub fn lookup(file: &Path, key: &[u8]) -> ExitCode {
    finish(open(file).and_then(|map| {
        let Some(value) = map.lookup(key).map_err(|error| error.to_string())? else {
            return Ok(Status::Negative);
        };
        let mut out = io::stdout().lock();
        print(out.write_all(value).and_then(|()| out.write_all(b"\n")).and_then(|()| out.flush()))
    }))
}

/// Prints every pair of the map `file` as `key<TAB>value` lines: in file order
/// for a compiled map, in source order for a text source.
///
/// Exit status 0, or 2 when the map cannot be read.
pub fn dump(file: &Path) -> ExitCode {
    finish(open(file).and_then(|map| {
        let mut out = BufWriter::new(io::stdout().lock());
        if let Some(compiled) = map.compiled() {
            // Checked first, so that a damaged map prints nothing rather
            // than half its records.
            compiled.verify().map_err(|error| error.to_string())?;
            for record in compiled.iter() {
                let (key, value) = record.map_err(|error| error.to_string())?;
                print(write_pair(&mut out, key, b'\t', value))?;
            }
        } else {
            let text = read_source(&map)?;
            for entry in Source::parse(&text, &SourceOptions::default()).entries() {
                print(write_pair(&mut out, &entry.key, b'\t', &entry.value))?;
            }
        }
        print(out.flush())
    }))
}

/// Checks the map `file` completely (a compiled map's checksum and every
/// record; a source's every line) and prints `FILE: ok, N entries, content HASH`.
///
/// Exit status 0 when it is sound, 1 when it is damaged or the source has
/// rejected lines, 2 when it cannot be read at all.
pub fn verify(file: &Path) -> ExitCode {
    finish(open(file).and_then(|map| {
        let entries = if let Some(compiled) = map.compiled() {
            if let Err(error) = compiled.verify() {
                eprintln!("smarthost: {error}");
                return Ok(Status::Negative);
            }
            compiled.len().map_or_else(|| compiled.iter().count(), |len| len as usize)
        } else {
            let rejected = map.diagnostics().iter().filter(|d| d.severity == Severity::Error).count();
            if rejected > 0 {
                eprintln!(
                    "smarthost: {}: {rejected} line(s) rejected (listed above); the relay does not see \
                     them until they are fixed",
                    map.path().display()
                );
                return Ok(Status::Negative);
            }
            map.text().map_or(0, TextMap::len)
        };
        let mut out = io::stdout().lock();
        let line =
            format!("{}: ok, {entries} entries, content {}\n", map.path().display(), map.content_hash());
        print(out.write_all(line.as_bytes()).and_then(|()| out.flush()))
    }))
}

/// Opens the map as the relay would, reporting what is wrong with it.
pub(crate) fn open(file: &Path) -> Result<MapGeneration, String> {
    let map = open_map(file, &SourceOptions::default()).map_err(|error| match error {
        Error::Io { source, .. } if source.kind() == io::ErrorKind::NotFound => no_such_map(file),
        error => error.to_string(),
    })?;
    let name = map.path().display().to_string();
    for diagnostic in map.diagnostics() {
        eprintln!("smarthost: {}", diagnostic.display_in(&name));
    }
    if let Some(source) = map.stale_source() {
        let map_type = if map.path().extension().is_some_and(|ext| ext == "cdb") { "cdb" } else { "hash" };
        eprintln!(
            "smarthost: warning: {source} was changed after {name} was built, so the map may be out of \
             date: run `makemap {map_type} {source} < {source}`",
            source = source.display()
        );
    }
    Ok(map)
}

/// The message for a map that is nowhere: name every file that was tried.
fn no_such_map(file: &Path) -> String {
    let mut tried = vec![file.to_path_buf()];
    for map_type in [MapType::Hash, MapType::Cdb] {
        let candidate = map_type.file_name(file);
        if !tried.contains(&candidate) {
            tried.push(candidate);
        }
    }
    let tried: Vec<String> = tried.iter().map(|path| path.display().to_string()).collect();
    format!(
        "{}: no such map (looked for {}); check the name, or build the map with makemap",
        file.display(),
        tried.join(", ")
    )
}

/// The text behind a source map, read again to list its entries.
fn read_source(map: &MapGeneration) -> Result<Vec<u8>, String> {
    fs::read(map.path()).map_err(|error| format!("{}: cannot read: {error}", map.path().display()))
}

/// The outcome of printing: done, or a write error (a closed pipe is not one).
fn print(written: io::Result<()>) -> Result<Status, String> {
    match written {
        Err(error) if !reader_went_away(&error) => Err(format!("cannot write to standard output: {error}")),
        _ => Ok(Status::Ok),
    }
}
