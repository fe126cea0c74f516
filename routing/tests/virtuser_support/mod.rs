//! Shared by the virtusertable, aliases and redirect vector runners: a
//! vector folder (see `tests/vectors/README.md`) read into a resolver.

#![allow(dead_code)] // each runner uses its own subset

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};

use smarthost_maps::{SourceOptions, TextMap};
use smarthost_routing::{
    Address, AliasErrors, AliasFile, AliasTable, Aliases, LocalNames, Mailers, ParseOptions,
    RecipientResolver, Resolution, ResolveOptions, Router, SmartHost, VirtuserDomains, Virtusertable,
};

/// The vector folders of one table.
pub(crate) fn folders(table: &str) -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors").join(table);
    let mut dirs: Vec<PathBuf> =
        fs::read_dir(&root).unwrap().map(|e| e.unwrap().path()).filter(|p| p.is_dir()).collect();
    dirs.sort();
    assert!(!dirs.is_empty(), "no vectors in {}", root.display());
    dirs
}

/// Everything a folder's files configure.
pub(crate) struct Fixture {
    pub(crate) dir: PathBuf,
    pub(crate) local: LocalNames,
    pub(crate) domains: VirtuserDomains,
    pub(crate) mailers: Mailers,
    pub(crate) smart_host: Option<SmartHost>,
    pub(crate) virtusertable: Option<TextMap>,
    pub(crate) aliases: Option<AliasTable>,
    pub(crate) includes: HashMap<String, String>,
    pub(crate) options: ResolveOptions,
}

impl Fixture {
    pub(crate) fn load(dir: &Path) -> Self {
        let mut fixture = Fixture {
            dir: dir.to_path_buf(),
            local: LocalNames::default(),
            domains: VirtuserDomains::default(),
            mailers: Mailers::standard(),
            smart_host: None,
            virtusertable: None,
            aliases: None,
            includes: HashMap::new(),
            options: ResolveOptions::default(),
        };
        let mut table = dir.join("virtusertable");
        for line in fs::read_to_string(dir.join("options")).unwrap().lines() {
            let (name, value) = line.split_once(' ').unwrap();
            match name {
                "hostname" => fixture.local = LocalNames::new(value),
                "local-host-name" => fixture.local.add_name(value),
                "virtuser-domain" => fixture.domains.add(value),
                "smart-host" => fixture.smart_host = Some(SmartHost::parse(value).unwrap()),
                "feature" => match value {
                    "redirect" => fixture.options.redirect = true,
                    "preserve_local_plus_detail" => fixture.options.preserve_local_plus_detail = true,
                    "virtuser_entire_domain" => fixture.domains.entire_domain = true,
                    other => panic!("unknown feature {other}"),
                },
                "compat" => {
                    assert_eq!(value, "sendmail");
                    fixture.options =
                        ResolveOptions { redirect: fixture.options.redirect, ..ResolveOptions::sendmail() };
                }
                "table" => table = dir.join(value),
                "include" => {
                    let (path, file) = value.split_once(' ').unwrap();
                    fixture.includes.insert(path.into(), fs::read_to_string(dir.join(file)).unwrap());
                }
                other => panic!("unknown option {other}"),
            }
        }
        if table.exists() {
            let (map, diagnostics) = TextMap::load(&table, &SourceOptions::default()).unwrap();
            assert!(diagnostics.is_empty(), "{}: {diagnostics:?}", table.display());
            fixture.virtusertable = Some(map);
        }
        let aliases = dir.join("aliases");
        if aliases.exists() && !dir.ends_with("format") {
            let file = AliasFile::parse(&fs::read(&aliases).unwrap(), Some(&fixture.local));
            assert!(!file.has_errors(), "{}: {:?}", aliases.display(), file.diagnostics());
            fixture.aliases = Some(AliasTable::from_file(&file));
        }
        fixture
    }

    /// The flags `smarthost route` takes for this folder's options, or
    /// `None` when it has some that the command cannot express.
    pub(crate) fn route_flags(dir: &Path) -> Option<Vec<String>> {
        let mut flags = Vec::new();
        let mut table = dir.join("virtusertable");
        for line in fs::read_to_string(dir.join("options")).unwrap().lines() {
            let (name, value) = line.split_once(' ').unwrap();
            match name {
                "hostname" | "local-host-name" | "virtuser-domain" | "smart-host" | "feature" | "compat" => {
                    flags.extend([format!("--{name}"), value.to_string()]);
                }
                "table" => table = dir.join(value),
                _ => return None,
            }
        }
        if table.exists() {
            flags.extend(["--virtusertable".into(), table.display().to_string()]);
        }
        if dir.join("aliases").exists() {
            flags.extend(["--aliases".into(), dir.join("aliases").display().to_string()]);
        }
        Some(flags)
    }

    pub(crate) fn resolve(
        &self,
        given: &str,
        alias_errors: Option<AliasErrors>,
        explain: bool,
    ) -> Resolution {
        let router = match &self.smart_host {
            Some(smart_host) => Router::new(&self.local, &self.mailers).smart_host(smart_host),
            None => Router::new(&self.local, &self.mailers),
        };
        let mut options = self.options;
        if let Some(alias_errors) = alias_errors {
            options.alias_errors = alias_errors;
        }
        let mut resolver =
            RecipientResolver::new(&self.local, router).options(options).includes(&self.includes);
        if let Some(map) = &self.virtusertable {
            resolver = resolver.virtusertable(Virtusertable::new(map), &self.domains);
        }
        if let Some(aliases) = &self.aliases {
            resolver = resolver.aliases(Aliases::new(aliases));
        }
        let address = Address::parse(given, ParseOptions { smtputf8: true }).unwrap();
        if explain { resolver.resolve_explained(&address) } else { resolver.resolve(&address) }.unwrap()
    }
}

/// The TSV rows `smarthost route --format tsv` prints for a resolution.
pub(crate) fn rows(given: &str, resolution: &Resolution) -> String {
    resolution
        .targets
        .iter()
        .map(|target| {
            let [mailer, host, user] = target.columns();
            format!("{given}\t{mailer}\t{host}\t{user}\n")
        })
        .collect()
}

/// The distinct first columns of a TSV file, in order.
pub(crate) fn recipients(tsv: &str) -> Vec<String> {
    let mut seen = Vec::new();
    for line in tsv.lines() {
        let given = line.split('\t').next().unwrap().to_string();
        if seen.last() != Some(&given) {
            seen.push(given);
        }
    }
    seen
}

/// Checks a folder's `expected.tsv` through the library.
pub(crate) fn check_expected(dir: &Path) {
    let Ok(expected) = fs::read_to_string(dir.join("expected.tsv")) else { return };
    let fixture = Fixture::load(dir);
    let mut actual = String::new();
    for given in recipients(&expected) {
        let resolution = fixture.resolve(&given, None, false);
        // Explaining must not change the answer.
        assert_eq!(fixture.resolve(&given, None, true).targets, resolution.targets, "{given}");
        actual.push_str(&rows(&given, &resolution));
    }
    assert_eq!(actual, expected, "{}", dir.display());
}

/// Checks a folder's `rcpt.tsv`: `recipient, reply` (or `accept`), or
/// `recipient, rcpt|delivery, reply, failures left for delivery`.
pub(crate) fn check_rcpt(dir: &Path) {
    let Ok(text) = fs::read_to_string(dir.join("rcpt.tsv")) else { return };
    let fixture = Fixture::load(dir);
    for line in text.lines() {
        let columns: Vec<&str> = line.split('\t').collect();
        let (given, mode, reply, left) = match columns.as_slice() {
            [given, reply] => (*given, None, *reply, None),
            [given, mode, reply, left] => {
                let mode = match *mode {
                    "rcpt" => AliasErrors::AtRcpt,
                    "delivery" => AliasErrors::AtDelivery,
                    other => panic!("unknown mode {other}"),
                };
                (*given, Some(mode), *reply, Some(*left))
            }
            other => panic!("bad rcpt.tsv line {other:?}"),
        };
        let resolution = fixture.resolve(given, mode, false);
        let actual = resolution.rcpt_reply().unwrap_or_else(|| "accept".into());
        assert_eq!(actual, reply, "{}: {given} ({mode:?})", dir.display());
        if let Some(left) = left {
            let rcpt = resolution.rcpt_refusal().map(|(target, _)| target.clone());
            let later: Vec<String> = resolution
                .refusals()
                .filter(|(target, _)| Some(*target) != rcpt.as_ref())
                .map(|(target, refusal)| refusal.reply.reply_for(&target.address))
                .collect();
            let later = if later.is_empty() { "-".to_string() } else { later.join(" | ") };
            assert_eq!(later, left, "{}: {given} ({mode:?}): failures left for delivery", dir.display());
        }
    }
}
