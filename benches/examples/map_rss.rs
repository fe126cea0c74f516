//! How much memory an open 1,000,000-entry compiled map costs a process.
//!
//! `cargo run --release -p smarthost-benches --example map_rss` builds the map
//! in a temporary directory, then measures in a fresh process, so that the
//! builder's memory does not blur the figures: resident memory before and
//! after `CompiledMap::open` and 1,000 lookups, against the pages of the map
//! those lookups touched.

use std::process::{Command, ExitCode};

use smarthost_benches::{ENTRIES, key, random_indices, source_text, status_kib};
use smarthost_maps::{CompiledMap, Map, MapBuilder, Source, SourceOptions};

const LOOKUPS: usize = 1000;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    match args.as_slice() {
        [_] => build_and_measure(),
        [_, mode, path] if mode == "measure" => measure(path),
        _ => {
            eprintln!("usage: map_rss");
            ExitCode::from(2)
        }
    }
}

fn build_and_measure() -> ExitCode {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("mailertable.db");
    let options = SourceOptions::default();
    let text = source_text(ENTRIES);
    let source = Source::parse(&text, &options);
    let report = MapBuilder::new(&path, &options).write(source.entries()).expect("build the map");
    println!("source text:    {} bytes ({:.1} MiB)", text.len(), mib(text.len() as u64));
    println!(
        "map file:       {} entries, {} bytes ({:.1} MiB)",
        report.entries,
        report.bytes,
        mib(report.bytes)
    );
    let status = Command::new(std::env::current_exe().expect("this program's path"))
        .arg("measure")
        .arg(&path)
        .status()
        .expect("run the measurement");
    if status.success() { ExitCode::SUCCESS } else { ExitCode::FAILURE }
}

fn measure(path: &str) -> ExitCode {
    // Made before the first reading, so they are not counted against the map.
    let keys: Vec<Vec<u8>> =
        random_indices(ENTRIES, LOOKUPS).into_iter().map(|i| key(i).into_bytes()).collect();
    let before = Rss::now();
    let map = CompiledMap::open(path).expect("open the map");
    let found = keys.iter().filter(|k| map.lookup(k).expect("a sound map").is_some()).count();
    let after = Rss::now();
    let touched = mapping_rss_kib(path).unwrap_or(0);
    assert_eq!(found, LOOKUPS, "every generated key is in the map");

    let delta = after.total.saturating_sub(before.total);
    println!("lookups:        {LOOKUPS}, all found");
    println!("VmRSS:          {} KiB before, {} KiB after: +{delta} KiB", before.total, after.total);
    println!("RssAnon:        +{} KiB", after.anon.saturating_sub(before.anon));
    println!("RssFile:        +{} KiB", after.file.saturating_sub(before.file));
    println!("map pages in RSS (smaps Rss of the mapping): {touched} KiB");
    let beyond = delta.saturating_sub(touched);
    println!("RSS beyond the map's own pages: {beyond} KiB (target <= 2048 KiB)");
    if beyond <= 2048 { ExitCode::SUCCESS } else { ExitCode::FAILURE }
}

struct Rss {
    total: u64,
    anon: u64,
    file: u64,
}

impl Rss {
    fn now() -> Self {
        let field = |name| status_kib(name).expect("/proc/self/status has the RSS fields");
        Self { total: field("VmRSS"), anon: field("RssAnon"), file: field("RssFile") }
    }
}

/// The resident KiB of the mappings of `path` in `/proc/self/smaps`: the
/// pages of the map this process has faulted in (the kernel maps a few
/// neighbours of each page it faults in, so more than the lookups read).
fn mapping_rss_kib(path: &str) -> Option<u64> {
    let smaps = std::fs::read_to_string("/proc/self/smaps").ok()?;
    let mut in_map = false;
    let mut total = 0;
    for line in smaps.lines() {
        let mut fields = line.split_whitespace();
        let first = fields.next().unwrap_or("");
        if !first.ends_with(':') {
            // A mapping's header: `START-END PERMS OFFSET DEV INODE [PATH]`.
            in_map = line.ends_with(path);
        } else if in_map && first == "Rss:" {
            total += fields.next()?.parse::<u64>().ok()?;
        }
    }
    Some(total)
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}
