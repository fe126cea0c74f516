//! The access and relay-policy vectors of spec access.md, read from
//! `tests/vectors/access/` (see its README): the key-search sequences, and
//! every scenario through a text map and a compiled map, each behind an
//! `AccessIndex` (the relay's way) and bare.

use std::fs;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use smarthost_maps::{CompiledMap, Error as MapError, Map, MapBuilder, Source, SourceOptions, TextMap};
use smarthost_routing::{
    AccessIndex, AccessMap, AccessOptions, Address, Authenticated, Client, ClientResolve, LocalNames, Mode,
    ParseOptions, Parts, Policy, PolicyOptions, RelayDomains, RequireRdns, Tag,
};

fn vectors() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors/access")
}

/// A map that holds nothing and remembers every key asked for.
#[derive(Default)]
struct Recorder(Mutex<Vec<String>>);

impl Map for Recorder {
    fn lookup(&self, key: &[u8]) -> Result<Option<&[u8]>, MapError> {
        self.0.lock().unwrap().push(String::from_utf8_lossy(key).into_owned());
        Ok(None)
    }
}

#[test]
fn key_sequences_are_sendmails() {
    let text = fs::read_to_string(vectors().join("key-sequences.tsv")).unwrap();
    let mut count = 0;
    for line in text.lines().filter(|l| !l.starts_with('#') && !l.is_empty()) {
        let [kind, tag, mode, features, input, keys] = line.split('\t').collect::<Vec<_>>()[..] else {
            panic!("six columns expected: {line}")
        };
        let tag = match tag {
            "Connect" => Tag::Connect,
            "From" => Tag::From,
            "To" => Tag::To,
            "Spam" => Tag::Spam,
            other => panic!("tag {other}"),
        };
        let mode = if mode == "+" { Mode::WithUntagged } else { Mode::TagOnly };
        let mut options = AccessOptions::default();
        for feature in features.split(',').filter(|f| *f != "-") {
            PolicyOptions::default().apply_feature(&mut options, feature).unwrap();
        }
        let recorder = Recorder::default();
        let access = AccessMap::new(&recorder, options);
        let found = match kind {
            "host" => access.lookup_host(input, tag, mode),
            "client" => access.lookup_client_addr(input.parse::<IpAddr>().unwrap(), tag, mode),
            "address" => {
                let address = Address::parse(input, ParseOptions::default()).unwrap();
                access.search_address(&address, tag, mode, Parts::ALL)
            }
            other => panic!("kind {other}"),
        };
        assert_eq!(found.unwrap(), None);
        let asked = recorder.0.lock().unwrap().join(" ");
        assert_eq!(asked, keys, "{line}");
        count += 1;
    }
    assert!(count >= 15, "only {count} key vectors");
}

struct Setup {
    local: LocalNames,
    relay_domains: RelayDomains,
    policy: PolicyOptions,
    access: AccessOptions,
}

fn setup(dir: &Path) -> Setup {
    let text = fs::read_to_string(dir.join("options")).unwrap();
    let mut setup = Setup {
        local: LocalNames::default(),
        relay_domains: RelayDomains::new(),
        policy: PolicyOptions::default(),
        access: AccessOptions::default(),
    };
    for line in text.lines() {
        let (name, value) = line.split_once(' ').unwrap();
        match name {
            "hostname" => {
                setup.local = LocalNames::new(value);
                setup.policy.hostname = value.to_string();
            }
            "local-host-name" => setup.local.add_name(value),
            "relay-domain" => setup.relay_domains.add(value),
            "feature" => setup.policy.apply_feature(&mut setup.access, value).unwrap(),
            "trust-auth-mech" => setup.policy.trust_auth_mechs.push(value.to_string()),
            "require-rdns" => {
                setup.policy.require_rdns = Some(RequireRdns { forward_confirm: value == "forward-confirm" })
            }
            other => panic!("unknown option {other}"),
        }
    }
    setup
}

/// The client a case's columns describe.
fn client<'a>(addr: &str, name: &'a str, auth: &'a str) -> Client<'a> {
    let addr = (addr != "-").then(|| addr.parse::<IpAddr>().unwrap());
    let (name, resolve) = match name {
        "-" => (None, ClientResolve::Fail),
        "!temp" => (None, ClientResolve::Temp),
        forged if forged.ends_with("!forged") => (Some(&forged[..forged.len() - 7]), ClientResolve::Forged),
        name => (Some(name), ClientResolve::Ok),
    };
    let auth = auth.split_once(':').map(|(user, mechanism)| Authenticated { user, mechanism });
    Client { addr, name, resolve, auth }
}

/// Runs every case of `dir` with `access` as the access map (or none);
/// returns the failures.
fn run_cases(dir: &Path, setup: &Setup, access: Option<AccessMap<'_>>) -> (usize, Vec<String>) {
    let mut policy = Policy::new(&setup.local, &setup.policy).relay_domains(&setup.relay_domains);
    if let Some(access) = access {
        policy = policy.access(access);
    }
    let text = fs::read_to_string(dir.join("cases.tsv")).unwrap();
    let mut failures = Vec::new();
    let mut count = 0;
    for line in text.lines().filter(|l| !l.starts_with('#') && !l.is_empty()) {
        let columns: Vec<&str> = line.split('\t').collect();
        assert!(columns.len() == 11 || columns.len() == 12, "{}: bad case {line}", dir.display());
        let client = client(columns[1], columns[2], columns[3]);
        let evaluation = policy.evaluate(&client, columns[4], &[columns[5]]);
        let checked = &evaluation.recipients[0];
        let got = [
            checked.stage.as_str().to_string(),
            checked.verdict.as_str().to_string(),
            checked.reply.code.to_string(),
            checked.reply.enhanced_text(),
            checked.reply.text.to_string(),
        ]
        .join("\t");
        let quarantine = checked.quarantine.as_deref().unwrap_or("");
        let expected = columns[6..11].join("\t");
        let expected_quarantine = columns.get(11).copied().unwrap_or("");
        if got != expected || quarantine != expected_quarantine {
            failures.push(format!(
                "{} {}:\n  expected {expected} {expected_quarantine}\n  got      {got} {quarantine}\n  reason   {:?}",
                dir.file_name().unwrap().to_string_lossy(),
                columns[0],
                checked.reason
            ));
        }
        count += 1;
    }
    (count, failures)
}

fn scenario_dirs() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> =
        fs::read_dir(vectors()).unwrap().map(|e| e.unwrap().path()).filter(|p| p.is_dir()).collect();
    dirs.sort();
    dirs
}

#[test]
fn every_scenario_decides_as_the_spec_says() {
    let scratch = tempfile::tempdir().unwrap();
    let source_options = SourceOptions::default();
    let mut total = 0;
    let mut failures = Vec::new();
    for dir in scenario_dirs() {
        let setup = setup(&dir);
        let access_file = dir.join("access");
        if !access_file.exists() {
            let (count, failed) = run_cases(&dir, &setup, None);
            total += count;
            failures.extend(failed);
            continue;
        }
        let text = fs::read(&access_file).unwrap();
        let source = Source::parse(&text, &source_options);
        assert!(source.diagnostics().is_empty(), "{}: {:?}", dir.display(), source.diagnostics());
        let pairs = || source.entries().iter().map(|e| (&e.key[..], &e.value[..]));
        let compiled_path = scratch.path().join(format!("{}.db", dir.file_name().unwrap().to_string_lossy()));
        MapBuilder::new(&compiled_path, &source_options).write(source.entries()).unwrap();

        let (text_map, _) = TextMap::from_source(&text, &source_options);
        let indexed = AccessIndex::new(text_map, pairs(), true, setup.access);
        let (count, failed) = run_cases(&dir, &setup, Some(AccessMap::indexed(&indexed, setup.access)));
        total += count;
        failures.extend(failed);

        let compiled = CompiledMap::open(&compiled_path).unwrap();
        let records: Vec<(Vec<u8>, Vec<u8>)> = compiled
            .iter()
            .map(|r| r.map(|(k, v)| (k.to_vec(), v.to_vec())))
            .collect::<Result<_, _>>()
            .unwrap();
        let indexed =
            AccessIndex::new(compiled, records.iter().map(|(k, v)| (&k[..], &v[..])), true, setup.access);
        let (_, failed) = run_cases(&dir, &setup, Some(AccessMap::indexed(&indexed, setup.access)));
        failures.extend(failed.into_iter().map(|f| format!("(compiled, indexed) {f}")));
        let (_, failed) = run_cases(&dir, &setup, Some(AccessMap::new(&indexed, setup.access)));
        failures.extend(failed.into_iter().map(|f| format!("(compiled, index as a map) {f}")));

        // Bare maps have no IPv6 normalisation: only folders that do not
        // rely on it must agree.
        if indexed.normalised_keys() == 0 {
            let (text_map, _) = TextMap::from_source(&text, &source_options);
            let (_, failed) = run_cases(&dir, &setup, Some(AccessMap::new(&text_map, setup.access)));
            failures.extend(failed.into_iter().map(|f| format!("(text, bare) {f}")));
            let compiled = CompiledMap::open(&compiled_path).unwrap();
            let (_, failed) = run_cases(&dir, &setup, Some(AccessMap::new(&compiled, setup.access)));
            failures.extend(failed.into_iter().map(|f| format!("(compiled, bare) {f}")));
        }
    }
    assert!(failures.is_empty(), "{} of {total} cases failed:\n{}", failures.len(), failures.join("\n"));
    assert!(total >= 150, "only {total} cases");
}
