//! Routing a recipient through a 1,000,000-entry compiled mailertable with
//! `Router::route`, against a naive reference on the same data (every
//! candidate key built as a `String`, each looked up in a `HashMap`), and the
//! per-address path of `smarthost route --format tsv -` over 100,000
//! addresses read from a file.
//!
//! Under `cargo bench -- --test` the table has 10,000 entries and the file
//! 1,000 addresses, so that CI's single pass stays quick.

use std::collections::HashMap;
use std::hint::black_box;
use std::io::{BufRead, BufReader};
use std::time::Duration;

use criterion::{Criterion, Throughput};
use smarthost_benches::{ENTRIES, PARENT_KEYS, key, random_indices, routed_domain, routing_source_text};
use smarthost_maps::{CompiledMap, MapBuilder, Source, SourceOptions};
use smarthost_routing::{
    Address, Decision, LocalNames, Mailers, Mailertable, MailertableOptions, ParseOptions, RhsOptions, Route,
    RouteCache, Router, SmartHost, TableRoute, Via, interpolate, parse_rhs,
};

/// Domains the cycling benchmarks route through: more than the caches hold.
const DOMAINS: usize = 1 << 14;

/// Addresses in the file of the throughput benchmark.
const FILE_ADDRESSES: usize = 100_000;

struct Data {
    _dir: tempfile::TempDir,
    map: CompiledMap,
    hash: HashMap<String, String>,
    addresses_file: std::path::PathBuf,
    file_addresses: usize,
}

impl Data {
    fn new(quick: bool) -> Self {
        let entries = if quick { 10_000 } else { ENTRIES };
        let dir = tempfile::tempdir().expect("a temporary directory");
        let text = routing_source_text(entries);
        let options = SourceOptions::default();
        let source = Source::parse(&text, &options);
        assert!(source.diagnostics().is_empty(), "the generated source is clean");
        let path = dir.path().join("mailertable.db");
        MapBuilder::new(&path, &options).write(source.entries()).expect("build the map");
        let map = CompiledMap::open(&path).expect("open the map");
        let hash = source
            .entries()
            .iter()
            .map(|e| {
                (String::from_utf8_lossy(&e.key).into_owned(), String::from_utf8_lossy(&e.value).into_owned())
            })
            .collect();
        let file_addresses = if quick { 1_000 } else { FILE_ADDRESSES };
        let addresses_file = dir.path().join("addresses");
        std::fs::write(&addresses_file, address_file(entries, file_addresses)).expect("write the addresses");
        Self { _dir: dir, map, hash, addresses_file, file_addresses }
    }
}

/// A mix as a relay sees it: a third exact names, a third in parent
/// domains, a sixth to the smart host, a sixth not parseable or local.
fn address_file(entries: usize, count: usize) -> String {
    let exact = entries - PARENT_KEYS;
    let mut text = String::with_capacity(count * 40);
    for (n, i) in random_indices(exact, count).into_iter().enumerate() {
        let line = match n % 6 {
            0 | 1 => format!("user{n}@{}", key(i)),
            2 | 3 => format!("user+{n}@{}", routed_domain(i, 1 + n % 4)),
            4 => format!("someone@unrouted-{i}.example.org"),
            _ if n % 12 == 5 => format!("root@{}", "gw.example.net"),
            _ => format!("bad address {n}@"),
        };
        text.push_str(&line);
        text.push('\n');
    }
    text
}

/// The naive reference: every candidate key as a `String`, each looked up
/// in a `HashMap`, then the same interpolation and parsing.
fn naive(table: &HashMap<String, String>, domain: &str) -> Option<TableRoute> {
    let mut candidates: Vec<(String, Vec<String>)> = vec![(domain.to_string(), vec![domain.to_string()])];
    let labels: Vec<&str> = domain.split('.').collect();
    for i in 1..labels.len() {
        let key = format!(".{}", labels[i..].join("."));
        candidates.push((key.clone(), vec![key, labels[..i].join("."), labels[i - 1].to_string()]));
    }
    candidates.push((".".into(), vec![".".into(), domain.to_string()]));
    for (key, args) in &candidates {
        if let Some(value) = table.get(key) {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            return parse_rhs(&interpolate(value, &args), RhsOptions::default()).ok();
        }
    }
    None
}

/// The table route the router's match names, for comparison with `naive`.
fn table_route(route: &Route) -> Option<TableRoute> {
    match &route.via {
        Via::Mailertable(found) => parse_rhs(&found.expanded, RhsOptions::default()).ok(),
        _ => None,
    }
}

fn route(c: &mut Criterion, data: &Data) {
    let local = LocalNames::new("gw.example.net");
    let cache = RouteCache::new();
    let mailers = Mailers::standard();
    let router = Router::new(&local, &mailers)
        .mailertable(Mailertable::new(&data.map, MailertableOptions::default()).with_cache(&cache));
    let parse =
        |domain: &str| Address::parse(&format!("user@{domain}"), ParseOptions::default()).expect("parses");

    let mut group = c.benchmark_group("route");
    group.throughput(Throughput::Elements(1));
    // `user@a.b.c.example-42.com`: four keys tried, `.example-42.com` matches.
    let address = parse("a.b.c.example-42.com");
    let routed = router.route(&address).expect("a sound map");
    assert!(matches!(routed.decision, Decision::Deliver { .. }));
    assert_eq!(table_route(&routed), naive(&data.hash, "a.b.c.example-42.com"), "router and naive agree");
    group.bench_function("router/5_labels", |b| b.iter(|| router.route(black_box(&address))));
    group.bench_function("naive/5_labels", |b| {
        b.iter(|| naive(&data.hash, black_box("a.b.c.example-42.com")))
    });

    // An exact-name entry with a value without `%`: one key tried, and the
    // parsed value comes from the route cache.
    let exact = key(7);
    let address = parse(&exact);
    let routed = router.route(&address).expect("a sound map");
    assert_eq!(table_route(&routed), naive(&data.hash, &exact), "router and naive agree");
    group.bench_function("router/exact_cached", |b| b.iter(|| router.route(black_box(&address))));
    group.bench_function("naive/exact", |b| b.iter(|| naive(&data.hash, black_box(&exact))));

    // The same over many domains of 3 to 6 labels, so the lookups miss the caches.
    let domains: Vec<String> = (0..DOMAINS as u64).map(|i| routed_domain(i, 1 + i as usize % 4)).collect();
    let addresses: Vec<Address> = domains.iter().map(|d| parse(d)).collect();
    for (domain, address) in domains.iter().zip(&addresses).take(200) {
        let routed = router.route(address).expect("a sound map");
        assert_eq!(table_route(&routed), naive(&data.hash, domain), "{domain}");
    }
    let mut next = 0;
    group.bench_function("router/cycle", |b| {
        b.iter(|| {
            next = if next + 1 == addresses.len() { 0 } else { next + 1 };
            router.route(black_box(&addresses[next]))
        })
    });
    let mut next = 0;
    group.bench_function("naive/cycle", |b| {
        b.iter(|| {
            next = if next + 1 == domains.len() { 0 } else { next + 1 };
            naive(&data.hash, black_box(&domains[next]))
        })
    });
    group.finish();
}

/// `smarthost route --format tsv -`: each line read from a file, parsed,
/// routed and written as a TSV row, through the CLI's own function.
fn explainer(c: &mut Criterion, data: &Data) {
    let local = LocalNames::new("gw.example.net");
    let cache = RouteCache::new();
    let mailers = Mailers::standard();
    let smart_host = SmartHost::parse("[smtp.isp.example]").expect("a smart host");
    let router = Router::new(&local, &mailers)
        .mailertable(Mailertable::new(&data.map, MailertableOptions::default()).with_cache(&cache))
        .smart_host(&smart_host);

    let mut group = c.benchmark_group("explainer");
    group.sample_size(10).measurement_time(Duration::from_secs(10));
    group.throughput(Throughput::Elements(data.file_addresses as u64));
    let mut out = Vec::with_capacity(data.file_addresses * 100);
    group.bench_function("tsv_from_file", |b| {
        b.iter(|| {
            out.clear();
            let file = std::fs::File::open(&data.addresses_file).expect("open the addresses");
            let mut lines = 0;
            for line in BufReader::new(file).lines() {
                let line = line.expect("read a line");
                smarthost::route::route_tsv(&router, &line, &mut out).expect("write to memory");
                lines += 1;
            }
            assert_eq!(lines, data.file_addresses);
            out.len()
        })
    });
    group.finish();
}

fn main() {
    let quick = std::env::args().any(|arg| arg == "--test");
    let data = Data::new(quick);
    let mut c = Criterion::default().configure_from_args();
    route(&mut c, &data);
    explainer(&mut c, &data);
    c.final_summary();
}
