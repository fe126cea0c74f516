//! Runs the makemap conformance vectors in `tests/vectors/` (see its README)
//! against the parser, a compiled map and a text map built from them.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use smarthost_maps::{
    CompiledMap, DiagnosticKind, Duplicates, Map, MapBuilder, Source, SourceOptions, TextMap,
};

struct Vector {
    name: String,
    options: SourceOptions,
    source: Vec<u8>,
    stored: Vec<(Vec<u8>, Vec<u8>)>,
    diagnostics: Vec<String>,
    status: i32,
}

#[test]
fn every_vector_passes() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors");
    let mut names: Vec<_> = fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "vec"))
        .collect();
    names.sort();
    assert!(names.len() >= 6, "vectors missing from {}", dir.display());
    for path in names {
        let vector = read_vector(&path);
        check(&vector);
    }
}

fn check(vector: &Vector) {
    let name = &vector.name;
    let source = Source::parse(&vector.source, &vector.options);
    let stored: Vec<(Vec<u8>, Vec<u8>)> =
        source.entries().iter().map(|e| (e.key.to_vec(), e.value.to_vec())).collect();
    assert_eq!(sorted(&stored), sorted(&vector.stored), "{name}: stored pairs");
    let diagnostics: Vec<String> =
        source.diagnostics().iter().map(|d| format!("{} {}", d.line, tag(&d.kind))).collect();
    assert_eq!(diagnostics, vector.diagnostics, "{name}: diagnostics");
    assert_eq!(if source.has_errors() { 65 } else { 0 }, vector.status, "{name}: status");

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.db");
    MapBuilder::new(&path, &vector.options).write(source.entries()).unwrap();
    let compiled = CompiledMap::open(&path).unwrap();
    compiled.verify().unwrap();
    let dumped: Vec<(Vec<u8>, Vec<u8>)> =
        compiled.iter().map(|r| r.map(|(k, v)| (k.to_vec(), v.to_vec())).unwrap()).collect();
    assert_eq!(sorted(&dumped), sorted(&vector.stored), "{name}: compiled dump");

    let (text, _) = TextMap::from_source(&vector.source, &vector.options);
    for (key, value) in first_values(&vector.stored) {
        assert_eq!(compiled.lookup(&key).unwrap(), Some(&value[..]), "{name}: compiled lookup");
        assert_eq!(text.lookup(&key).unwrap(), Some(&value[..]), "{name}: text lookup");
    }
}

fn first_values(pairs: &[(Vec<u8>, Vec<u8>)]) -> BTreeMap<Vec<u8>, Vec<u8>> {
    let mut first = BTreeMap::new();
    for (key, value) in pairs {
        first.entry(key.clone()).or_insert_with(|| value.clone());
    }
    first
}

fn sorted(pairs: &[(Vec<u8>, Vec<u8>)]) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut pairs = pairs.to_vec();
    pairs.sort();
    pairs
}

fn tag(kind: &DiagnosticKind) -> &'static str {
    match kind {
        DiagnosticKind::LineTooLong => "too-long",
        DiagnosticKind::LeadingSpace => "leading-space",
        DiagnosticKind::NulByte => "nul",
        DiagnosticKind::NoValue { .. } => "no-rhs",
        DiagnosticKind::DuplicateKey { .. } => "duplicate",
        DiagnosticKind::CarriageReturn => "cr",
        DiagnosticKind::CrLfLines { .. } => "crlf",
        DiagnosticKind::TrailingWhitespace => "trailing-space",
        DiagnosticKind::CommentInValue => "comment-in-value",
        other => panic!("no tag for {other:?}"),
    }
}

fn read_vector(path: &Path) -> Vector {
    let text = fs::read_to_string(path).unwrap();
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    let mut options = SourceOptions::default();
    let mut section = "";
    let mut source = Vec::new();
    let mut stored = Vec::new();
    let mut diagnostics = Vec::new();
    let mut status = None;
    for line in text.lines() {
        if let Some(header) = line.strip_prefix("--- ") {
            section = header.split(' ').next().unwrap();
            if let Some(code) = header.strip_prefix("status ") {
                status = Some(code.parse().unwrap());
            }
            continue;
        }
        match section {
            "" if line.starts_with("flags:") => options = parse_flags(&line["flags:".len()..]),
            "" => {}
            "source" => {
                source.extend_from_slice(&unescape(line));
                source.push(b'\n');
            }
            "stored" => {
                let line = unescape(line);
                let tab = line.iter().position(|&b| b == b'\t').expect("stored line without →");
                stored.push((line[..tab].to_vec(), line[tab + 1..].to_vec()));
            }
            "diagnostics" => diagnostics.push(line.to_string()),
            other => panic!("{name}: unknown section {other}"),
        }
    }
    Vector { name, options, source, stored, diagnostics, status: status.expect("no status") }
}

fn parse_flags(flags: &str) -> SourceOptions {
    let mut options = SourceOptions::default();
    let mut words = flags.split_whitespace();
    while let Some(flag) = words.next() {
        match flag {
            "-r" if options.duplicates != Duplicates::KeepAll => options.duplicates = Duplicates::Replace,
            "-r" => {}
            "-d" => options.duplicates = Duplicates::KeepAll,
            "-e" => options.allow_empty = true,
            "-f" => options.fold_case = false,
            "-N" => options.include_nul = true,
            "-t" => options.delimiter = Some(words.next().unwrap().as_bytes()[0]),
            "-D" => options.comment = words.next().unwrap().as_bytes()[0],
            "--strict" => options.strict = true,
            other => panic!("unknown flag {other}"),
        }
    }
    options
}

fn unescape(line: &str) -> Vec<u8> {
    line.replace('→', "\t").replace('·', " ").replace('␍', "\r").into_bytes()
}
