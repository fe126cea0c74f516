//! Map lookups against a `HashMap` baseline on the same data, and what it
//! costs to compile, open and load a 1,000,000-entry mailertable.

use std::cell::OnceCell;
use std::collections::HashMap;
use std::hint::black_box;
use std::path::PathBuf;
use std::time::Duration;

use criterion::{Bencher, Criterion, SamplingMode, Throughput};
use smarthost_benches::{ENTRIES, key, random_indices, source_text};
use smarthost_maps::{CompiledMap, Map, MapBuilder, Source, SourceOptions, TextMap};

/// Keys each lookup benchmark cycles through: far more than the CPU caches
/// hold, so the figures include the cache misses a busy relay sees.
const LOOKUP_KEYS: usize = 1 << 16;

/// Keys the "hot" lookup benchmarks cycle through: few enough to stay cached.
const HOT_KEYS: usize = 1 << 10;

/// Built on first use, so that a filtered run (`cargo bench -- open`) builds
/// only what it needs, and once per process whatever runs.
struct Data {
    dir: tempfile::TempDir,
    text: OnceCell<Vec<u8>>,
    compiled: OnceCell<CompiledMap>,
    text_map: OnceCell<TextMap>,
    hash_map: OnceCell<HashMap<Vec<u8>, Vec<u8>>>,
    present: OnceCell<Vec<Vec<u8>>>,
    absent: OnceCell<Vec<Vec<u8>>>,
}

impl Data {
    fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("a temporary directory"),
            text: OnceCell::new(),
            compiled: OnceCell::new(),
            text_map: OnceCell::new(),
            hash_map: OnceCell::new(),
            present: OnceCell::new(),
            absent: OnceCell::new(),
        }
    }

    fn text(&self) -> &[u8] {
        self.text.get_or_init(|| source_text(ENTRIES))
    }

    fn compiled_path(&self) -> PathBuf {
        let path = self.dir.path().join("mailertable.db");
        if !path.exists() {
            let options = SourceOptions::default();
            let source = Source::parse(self.text(), &options);
            assert!(source.diagnostics().is_empty(), "the generated source is clean");
            MapBuilder::new(&path, &options).write(source.entries()).expect("build the map");
        }
        path
    }

    fn compiled(&self) -> &CompiledMap {
        self.compiled.get_or_init(|| CompiledMap::open(self.compiled_path()).expect("open the map"))
    }

    fn text_map(&self) -> &TextMap {
        self.text_map.get_or_init(|| TextMap::from_source(self.text(), &SourceOptions::default()).0)
    }

    fn hash_map(&self) -> &HashMap<Vec<u8>, Vec<u8>> {
        self.hash_map.get_or_init(|| {
            let source = Source::parse(self.text(), &SourceOptions::default());
            source.entries().iter().map(|e| (e.key.to_vec(), e.value.to_vec())).collect()
        })
    }

    fn present(&self) -> &[Vec<u8>] {
        self.present.get_or_init(|| {
            random_indices(ENTRIES, LOOKUP_KEYS).into_iter().map(|i| key(i).into_bytes()).collect()
        })
    }

    fn absent(&self) -> &[Vec<u8>] {
        self.absent.get_or_init(|| {
            random_indices(ENTRIES, LOOKUP_KEYS)
                .into_iter()
                .map(|i| key(ENTRIES as u64 + i).into_bytes())
                .collect()
        })
    }
}

fn compile(c: &mut Criterion, data: &Data) {
    let mut group = c.benchmark_group("compile");
    // One iteration parses 55 MB of text and writes and syncs a 77 MB file.
    group.sample_size(10).sampling_mode(SamplingMode::Flat).measurement_time(Duration::from_secs(20));
    group.throughput(Throughput::Elements(ENTRIES as u64));
    group.bench_function("parse_and_write_1m", |b| {
        let text = data.text();
        let path = data.dir.path().join("compile.db");
        let options = SourceOptions::default();
        b.iter(|| {
            let source = Source::parse(text, &options);
            MapBuilder::new(&path, &options).write(source.entries()).expect("build the map")
        });
    });
    group.finish();
}

/// Looks up each key of `keys` in turn, checking once beforehand that
/// `lookup` answers as `expect_found` says, so a broken map cannot pass for a fast one.
fn cycle<'m>(
    b: &mut Bencher<'_>,
    keys: &[Vec<u8>],
    expect_found: bool,
    lookup: impl Fn(&[u8]) -> Option<&'m [u8]>,
) {
    assert!(keys.iter().take(100).all(|k| lookup(k).is_some() == expect_found));
    let mut next = 0;
    b.iter(|| {
        // Not `%`: a division costs as much as a short lookup.
        next = if next + 1 == keys.len() { 0 } else { next + 1 };
        lookup(black_box(&keys[next]))
    });
}

fn lookup(c: &mut Criterion, data: &Data) {
    let mut group = c.benchmark_group("lookup");
    group.throughput(Throughput::Elements(1));
    let compiled = |key: &[u8]| data.compiled().lookup(key).expect("a sound map");
    group.bench_function("compiled/present", |b| cycle(b, data.present(), true, compiled));
    group.bench_function("compiled/absent", |b| cycle(b, data.absent(), false, compiled));
    let text = |key: &[u8]| data.text_map().lookup(key).expect("an in-memory map");
    group.bench_function("text/present", |b| cycle(b, data.present(), true, text));
    group.bench_function("text/absent", |b| cycle(b, data.absent(), false, text));
    let hash = |key: &[u8]| data.hash_map().get(key).map(Vec::as_slice);
    group.bench_function("hashmap/present", |b| cycle(b, data.present(), true, hash));
    group.bench_function("hashmap/absent", |b| cycle(b, data.absent(), false, hash));

    // The same lookups over a working set that stays in the CPU caches, as
    // a relay's lookups of the few domains it routes most mail to do.
    let (hot_present, hot_absent) = (&data.present()[..HOT_KEYS], &data.absent()[..HOT_KEYS]);
    group.bench_function("compiled/present_hot", |b| cycle(b, hot_present, true, compiled));
    group.bench_function("compiled/absent_hot", |b| cycle(b, hot_absent, false, compiled));
    group.bench_function("text/present_hot", |b| cycle(b, hot_present, true, text));
    group.bench_function("hashmap/present_hot", |b| cycle(b, hot_present, true, hash));
    group.finish();
}

fn open(c: &mut Criterion, data: &Data) {
    let mut group = c.benchmark_group("open");
    group.bench_function("compiled_1m", |b| {
        let path = data.compiled_path();
        b.iter(|| CompiledMap::open(&path).expect("open the map"));
    });
    group.finish();
}

fn load_text(c: &mut Criterion, data: &Data) {
    let mut group = c.benchmark_group("load_text");
    group.sample_size(10).sampling_mode(SamplingMode::Flat).measurement_time(Duration::from_secs(15));
    group.throughput(Throughput::Elements(ENTRIES as u64));
    group.bench_function("from_source_1m", |b| {
        let text = data.text();
        // Freeing a million entries is the caller's business, not loading's.
        b.iter_with_large_drop(|| TextMap::from_source(text, &SourceOptions::default()));
    });
    group.finish();
}

fn main() {
    let data = Data::new();
    let mut c = Criterion::default().configure_from_args();
    compile(&mut c, &data);
    lookup(&mut c, &data);
    open(&mut c, &data);
    load_text(&mut c, &data);
    c.final_summary();
}
