//! The vectors of spec masquerade.md §6 and maps.md §5.4, read from
//! `tests/vectors/masquerade/` (see its README): every case in sendmail's
//! `/tryflags` + `/try` style, every four-column row that `smarthost
//! rewrite --format tsv` prints, and the spec's whole messages.
//!
//! `UPDATE_VECTORS=1 cargo test --test masquerade_vectors` rewrites the
//! `rewrite.tsv` files from the library; review the diff before committing.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};

use smarthost_maps::{SourceOptions, TextMap};
use smarthost_routing::{
    Address, AddressKind, Feature, LocalNames, MailerRules, Masquerade, ParseOptions, ReversePath, Rewriter,
};

const CONFIGS: [&str; 6] = ["a", "b", "c", "d", "e", "f"];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors/masquerade")
}

/// One configuration folder, read.
struct Config {
    local: LocalNames,
    masquerade: Masquerade,
    genericstable: Option<TextMap>,
    mailer: MailerRules,
    skip: HashMap<String, String>,
}

impl Config {
    fn load(dir: &Path) -> Self {
        let text = fs::read_to_string(dir.join("options")).unwrap();
        let mut options = Vec::new();
        for line in text.lines() {
            let (name, value) = line.split_once(' ').unwrap();
            options.push((name.to_string(), value.to_string()));
        }
        let hostname = &options.iter().find(|(n, _)| n == "hostname").expect("a hostname option").1;
        let mut local = LocalNames::new(hostname);
        let mut masquerade = Masquerade::new(hostname).unwrap();
        let mut genericstable = None;
        let mut mailer = MailerRules::Smtp;
        for (name, value) in &options {
            match name.as_str() {
                "hostname" => {}
                "local-host-name" => local.add_name(value),
                "masquerade-as" => {
                    masquerade.masquerade_as(value).unwrap();
                }
                "masquerade-domain" => {
                    masquerade.add_masquerade_domain(value);
                }
                "masquerade-exception" => {
                    masquerade.add_exception(value);
                }
                "exposed-user" => {
                    masquerade.add_exposed_user(value);
                }
                "generics-domain" => {
                    masquerade.add_generics_domain(value);
                }
                "feature" => {
                    masquerade.enable(value.parse::<Feature>().unwrap());
                }
                "genericstable" => {
                    let source = fs::read(dir.join(value)).unwrap();
                    let (map, diagnostics) = TextMap::from_source(&source, &SourceOptions::default());
                    assert!(diagnostics.is_empty(), "{}: {diagnostics:?}", dir.display());
                    genericstable = Some(map);
                }
                "mailer" => mailer = MailerRules::from_name(value).unwrap(),
                other => panic!("{}: unknown option {other}", dir.display()),
            }
        }
        let skip = fs::read_to_string(dir.join("skip.tsv"))
            .map(|text| {
                text.lines()
                    .filter(|l| !l.starts_with('#'))
                    .map(|l| {
                        let (id, why) = l.split_once('\t').unwrap();
                        (id.to_string(), why.to_string())
                    })
                    .collect()
            })
            .unwrap_or_default();
        Self { local, masquerade, genericstable, mailer, skip }
    }

    fn rewriter(&self) -> Rewriter<'_> {
        let rewriter = Rewriter::new(&self.local, &self.masquerade);
        match &self.genericstable {
            Some(map) => rewriter.genericstable(map),
            None => rewriter,
        }
    }
}

/// `/try`: the input read as a header value, every address in it rewritten.
fn try_address(rewriter: &Rewriter<'_>, input: &str, kind: AddressKind, mailer: MailerRules) -> String {
    let edits = rewriter.rewrite_header_value(input.as_bytes(), kind, mailer).unwrap();
    String::from_utf8(edits.apply(input.as_bytes())).unwrap()
}

fn cases(dir: &Path) -> Vec<[String; 5]> {
    let text = fs::read_to_string(dir.join("cases.tsv")).unwrap();
    text.lines()
        .filter(|line| !line.starts_with('#') && !line.is_empty())
        .map(|line| {
            let columns: Vec<String> = line.split('\t').map(str::to_string).collect();
            columns.try_into().unwrap_or_else(|c| panic!("{}: five columns in {c:?}", dir.display()))
        })
        .collect()
}

#[test]
fn every_case_rewrites_as_the_spec_says() {
    let mut count = 0;
    for name in CONFIGS {
        let dir = root().join(name);
        let config = Config::load(&dir);
        let rewriter = config.rewriter();
        for [id, flags, mailer, before, after] in cases(&dir) {
            let kind: AddressKind = flags.parse().unwrap();
            let mailer = MailerRules::from_name(&mailer).unwrap();
            let actual = try_address(&rewriter, &before, kind, mailer);
            match config.skip.get(&id) {
                Some(why) => assert_ne!(actual, after, "{id} is on the skip list ({why}) but passes"),
                None => assert_eq!(actual, after, "{name}/{id}: /tryflags {flags} /try {before}"),
            }
            count += 1;
        }
    }
    assert_eq!(count, 63, "every vector of masquerade.md §6 and maps.md §5.4");
}

/// The same cases through the address API (`Rewriter::rewrite`), for the
/// ones that are a bare address.
#[test]
fn bare_addresses_rewrite_the_same_through_the_address_api() {
    for name in CONFIGS {
        let dir = root().join(name);
        let config = Config::load(&dir);
        let rewriter = config.rewriter();
        for [id, flags, mailer, before, after] in cases(&dir) {
            let Ok(address) = Address::parse(&before, ParseOptions::default()) else { continue };
            let mailer = MailerRules::from_name(&mailer).unwrap();
            let rewritten = rewriter.rewrite(&address, flags.parse().unwrap(), mailer).unwrap();
            assert_eq!(rewritten.address.to_string(), after, "{name}/{id}: {before} ({})", rewritten.reason);
        }
    }
}

/// `rewrite.tsv` holds what `smarthost rewrite --format tsv` prints for
/// each input of the cases: ES, HS, ER and HR. Each case's own column must
/// say what the case says.
#[test]
fn every_tsv_row_agrees_with_the_cases() {
    let update = std::env::var_os("UPDATE_VECTORS").is_some();
    for name in CONFIGS {
        let dir = root().join(name);
        let config = Config::load(&dir);
        let rewriter = config.rewriter();
        let mut inputs: Vec<String> = Vec::new();
        for [_, _, mailer, before, _] in cases(&dir) {
            if MailerRules::from_name(&mailer) == Some(config.mailer) && !inputs.contains(&before) {
                inputs.push(before);
            }
        }
        let mut actual = String::new();
        for input in &inputs {
            actual.push_str(input);
            for kind in AddressKind::ALL {
                actual.push('\t');
                actual.push_str(&try_address(&rewriter, input, kind, config.mailer));
            }
            actual.push('\n');
        }
        let file = dir.join("rewrite.tsv");
        if update {
            fs::write(&file, &actual).unwrap();
        }
        let expected = fs::read_to_string(&file).unwrap();
        assert_eq!(actual, expected, "{name}/rewrite.tsv");
        for [id, flags, mailer, before, after] in cases(&dir) {
            if MailerRules::from_name(&mailer) != Some(config.mailer) || config.skip.contains_key(&id) {
                continue;
            }
            let column = 1 + AddressKind::ALL.iter().position(|k| k.tryflags() == flags).unwrap();
            let row = expected.lines().find(|l| l.split('\t').next() == Some(&before)).unwrap();
            assert_eq!(row.split('\t').nth(column), Some(after.as_str()), "{name}/{id} in rewrite.tsv");
        }
    }
}

/// The spec's whole message through configurations A and B, with LF and
/// with CRLF line ends; and its envelope.
#[test]
fn the_spec_messages_rewrite_only_their_addresses() {
    for name in ["a", "b"] {
        let dir = root().join(name);
        let config = Config::load(&dir);
        let rewriter = config.rewriter();
        let input = fs::read(dir.join("message.in")).unwrap();
        let expected = fs::read_to_string(dir.join("message.out")).unwrap();
        let edits = rewriter.rewrite_headers(&input, MailerRules::Smtp).unwrap();
        assert_eq!(String::from_utf8(edits.apply(&input)).unwrap(), expected, "{name}");
        let crlf = String::from_utf8(input).unwrap().replace('\n', "\r\n");
        let edits = rewriter.rewrite_headers(crlf.as_bytes(), MailerRules::Smtp).unwrap();
        assert_eq!(String::from_utf8(edits.apply(crlf.as_bytes())).unwrap(), expected.replace('\n', "\r\n"));

        for line in fs::read_to_string(dir.join("envelope.tsv")).unwrap().lines() {
            let [command, before, after]: [&str; 3] =
                line.split('\t').collect::<Vec<_>>().try_into().unwrap();
            let address = Address::parse(before, ParseOptions::default()).unwrap();
            let rewritten = match command {
                "MAIL" => match rewriter
                    .rewrite_reverse_path(&ReversePath::Address(address), MailerRules::Smtp)
                    .unwrap()
                    .0
                {
                    ReversePath::Address(address) => address,
                    ReversePath::Null => panic!("an address stays an address"),
                },
                _ => {
                    rewriter
                        .rewrite(&address, AddressKind::EnvelopeRecipient, MailerRules::Smtp)
                        .unwrap()
                        .address
                }
            };
            assert_eq!(rewritten.to_string(), after, "{name}: {command} {before}");
        }
    }
}
