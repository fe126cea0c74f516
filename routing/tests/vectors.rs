//! The vectors of spec mailertable.md §12 (tables A, B and C), read from
//! `tests/vectors/` (see its README), through a text map and a compiled map.

use std::fs;
use std::path::Path;

use smarthost_maps::{CompiledMap, Map, MapBuilder, Source, SourceOptions, TextMap};
use smarthost_routing::{
    Address, LocalNames, Mailers, Mailertable, MailertableOptions, ParseOptions, RhsOptions, RouteCache,
    Router, SmartHost,
};

struct Options {
    local: LocalNames,
    smart_host: Option<SmartHost>,
    table: MailertableOptions,
}

fn options(dir: &Path) -> Options {
    let text = fs::read_to_string(dir.join("options")).unwrap();
    let mut local = LocalNames::default();
    let mut smart_host = None;
    let mut table = MailertableOptions::default();
    for line in text.lines() {
        let (name, value) = line.split_once(' ').unwrap();
        match name {
            "hostname" => local = LocalNames::new(value),
            "local-host-name" => local.add_name(value),
            "smart-host" => {
                smart_host = Some(SmartHost::parse_with(value, RhsOptions { ports: table.ports }).unwrap())
            }
            "extensions" => table = MailertableOptions::extensions(),
            other => panic!("unknown option {other}"),
        }
    }
    Options { local, smart_host, table }
}

/// Routes each address of `expected.tsv` and returns the TSV the router
/// gives; with a cache, each address twice, so the second answer comes from it.
fn route_all(dir: &Path, map: &dyn Map, cache: Option<&RouteCache>) -> (String, String) {
    let options = options(dir);
    let mailers = Mailers::standard();
    let mut table = Mailertable::new(map, options.table);
    if let Some(cache) = cache {
        table = table.with_cache(cache);
    }
    let mut router = Router::new(&options.local, &mailers).mailertable(table);
    if let Some(smart_host) = &options.smart_host {
        router = router.smart_host(smart_host);
    }
    let expected = fs::read_to_string(dir.join("expected.tsv")).unwrap();
    let mut actual = String::new();
    for line in expected.lines() {
        let given = line.split('\t').next().unwrap();
        let address = Address::parse(given, ParseOptions::default()).unwrap();
        let route = router.route(&address).unwrap();
        if cache.is_some() {
            assert_eq!(router.route(&address).unwrap(), route, "{given}: a cached answer differs");
        }
        let [mailer, host, user] = route.columns();
        actual.push_str(&format!("{given}\t{mailer}\t{host}\t{user}\n"));
    }
    (expected, actual)
}

#[test]
fn every_table_routes_as_the_spec_says() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors");
    for table in ["table-a", "table-b", "table-c"] {
        let dir = root.join(table);
        let source = fs::read(dir.join("mailertable")).unwrap();
        let (text_map, diagnostics) = TextMap::from_source(&source, &SourceOptions::default());
        assert!(diagnostics.is_empty(), "{table}: {diagnostics:?}");
        let (expected, actual) = route_all(&dir, &text_map, None);
        assert_eq!(actual, expected, "{table} through a text map");
        let cache = RouteCache::new();
        let (_, actual) = route_all(&dir, &text_map, Some(&cache));
        assert_eq!(actual, expected, "{table} through a text map and a route cache");

        let temp = tempfile::tempdir().unwrap();
        let path = temp.path().join("mailertable.db");
        let options = SourceOptions::default();
        MapBuilder::new(&path, &options).write(Source::parse(&source, &options).entries()).unwrap();
        let compiled = CompiledMap::open(&path).unwrap();
        let (_, actual) = route_all(&dir, &compiled, None);
        assert_eq!(actual, expected, "{table} through a compiled map");
    }
}
