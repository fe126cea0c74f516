//! `newaliases` (`smarthost newaliases`): compiles the aliases(5) text file
//! into the database the relay reads, as sendmail's `newaliases` (`sendmail
//! -bi`) does.
//!
//! `newaliases [--config FILE] [ALIASES]` reads `ALIASES` (default: the
//! configuration's `[maps] aliases`, else `/etc/mail/aliases`) and replaces
//! `ALIASES.db` atomically, with keys folded to lower case and sendmail's
//! `@` → `@` sentinel written last (spec maps.md §6.6). Bad lines are
//! reported as `FILE:LINE: error: ...` and left out; the rest is stored.
//! Alias loops (`a: b`, `b: a`) are reported as warnings, naming the loop.
//!
//! Exit status: 0 when every line was accepted, 65 when some were rejected
//! (the database holds the rest), 66 when the file or the configuration
//! cannot be read, 73 when the database cannot be created, 74 on a write
//! error.

use std::collections::BTreeSet;
use std::fs;
use std::path::PathBuf;
use std::process::ExitCode;

use smarthost_maps::{MapBuilder, MapType, SourceOptions};
use smarthost_routing::{
    Address, AliasFile, AliasTable, Aliases, LocalNames, Mailers, ParseOptions, RecipientResolver, Router,
    Step,
};

use crate::exit::{Failure, Sysexit};
use crate::host::system_hostname;
use crate::route::config::Config;

/// Where sendmail keeps the aliases by default (`O AliasFile`).
pub const DEFAULT_ALIASES: &str = "/etc/mail/aliases";

/// The most aliases checked for loops; a larger file is compiled unchecked.
const LOOP_CHECK_LIMIT: usize = 10_000;

/// What `newaliases` takes.
#[derive(Clone, Debug, Default)]
pub struct Settings {
    /// The relay's TOML configuration: `[maps] aliases`, and `hostname`,
    /// `local_host_names`, `local_host_names_file` for the names an alias
    /// may carry (`root@this.host:`).
    pub config: Option<PathBuf>,
    /// The aliases text file; overrides the configuration.
    pub file: Option<PathBuf>,
}

/// Runs `newaliases`; `program` prefixes the messages on standard error.
pub fn run(program: &str, settings: &Settings) -> ExitCode {
    match compile(program, settings) {
        Ok(status) => status.into(),
        Err(failure) => {
            eprintln!("{program}: {}", failure.message);
            failure.status.into()
        }
    }
}

fn compile(program: &str, settings: &Settings) -> Result<Sysexit, Failure> {
    let config = match &settings.config {
        Some(path) => Config::load(path).map_err(|message| Failure::new(Sysexit::NoInput, message))?,
        None => Config::default(),
    };
    let source = settings.file.clone().or(config.aliases.clone()).unwrap_or_else(|| DEFAULT_ALIASES.into());
    if source.extension().is_some_and(|ext| ext == "db" || ext == "cdb") {
        return Err(Failure::new(
            Sysexit::Usage,
            format!("{}: give the aliases text file; the database is written beside it", source.display()),
        ));
    }
    let local = local_names(&config)?;
    let text = fs::read(&source).map_err(|e| {
        Failure::new(Sysexit::NoInput, format!("{}: cannot read the aliases: {e}", source.display()))
    })?;
    let file = AliasFile::parse(&text, Some(&local));
    let shown = source.display().to_string();
    for diagnostic in file.diagnostics() {
        eprintln!("{program}: {}", diagnostic.display_in(&shown));
    }
    if file.entries().len() <= LOOP_CHECK_LIMIT {
        for chain in loops(&file, &local) {
            eprintln!(
                "{program}: {shown}: warning: alias loop {}: its members are dropped at delivery, and a \
                 recipient that reaches nothing else is refused",
                chain.join(" -> ")
            );
        }
    }
    let db = MapType::Hash.file_name(&source);
    let entries = file.map_entries();
    MapBuilder::new(&db, &SourceOptions::default()).write(&entries).map_err(|error| {
        let status = match &error {
            smarthost_maps::Error::Io { action, .. } if !action.is_before_writing() => Sysexit::IoErr,
            _ => Sysexit::CantCreat,
        };
        Failure::new(status, error)
    })?;
    println!("{shown}: {}", file.summary());
    Ok(if file.has_errors() { Sysexit::DataErr } else { Sysexit::Ok })
}

/// Class w, from the configuration (or this machine's name).
fn local_names(config: &Config) -> Result<LocalNames, Failure> {
    let hostname = match &config.hostname {
        Some(name) => name.clone(),
        // An unknown name only narrows class w; the aliases still compile.
        None => system_hostname().unwrap_or_default(),
    };
    let mut local = LocalNames::new(&hostname);
    for name in config.local_host_names.iter().flatten() {
        local.add(name);
    }
    if let Some(file) = &config.local_host_names_file {
        local.load_file(file).map_err(|e| Failure::new(Sysexit::NoInput, e))?;
    }
    Ok(local)
}

/// Every alias loop, each once (smallest rotation first), found by
/// expanding every alias as the relay would.
fn loops(file: &AliasFile, local: &LocalNames) -> Vec<Vec<String>> {
    let table = AliasTable::from_file(file);
    let mailers = Mailers::standard();
    let resolver = RecipientResolver::new(local, Router::new(local, &mailers)).aliases(Aliases::new(&table));
    let mut seen = BTreeSet::new();
    let mut found = Vec::new();
    for (key, _) in file.pairs() {
        let Ok(address) = Address::parse(key, ParseOptions { smtputf8: true }) else { continue };
        let Ok(resolution) = resolver.resolve(&address) else { continue };
        for step in &resolution.steps {
            let Step::Loop { chain } = step else { continue };
            let cycle = &chain[..chain.len() - 1];
            if cycle.len() < 2 {
                continue;
            }
            let start = cycle.iter().enumerate().min_by_key(|(_, name)| *name).map_or(0, |(n, _)| n);
            let mut rotated: Vec<String> = cycle[start..].iter().chain(&cycle[..start]).cloned().collect();
            if seen.insert(rotated.clone()) {
                rotated.push(rotated[0].clone());
                found.push(rotated);
            }
        }
    }
    found
}
