//! `smarthost authinfo`: check an AuthInfo file and show which credentials
//! and which SASL mechanism the relay would use for a server (spec
//! `authinfo.md` §1–§3).
//!
//! FILE is read the way the relay reads it ([`AuthInfoFile::load`]): its
//! permissions (and those of a compiled `.db` or `.cdb` beside it) are
//! checked first, then the map is opened, text or compiled. Passwords are
//! never printed, not even their length: every output shows `<redacted>`.

use std::fs;
use std::io::{self, BufWriter, Write};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use smarthost_authinfo::{
    AUTHINFO_FROM_TAG, AUTHINFO_TAG, AuthEntry, AuthInfoFile, AuthPolicy, Choice, DEFAULT_MECHANISMS,
    LoadOptions, LookupOptions, LookupRequest, Mechanism, Mode, Transport, choose_mechanism,
};
use smarthost_maps::{Map, MapGeneration, Severity, Source, SourceOptions, open_map};

use crate::exit::{Status, finish};
use crate::host::system_hostname;
use crate::records::reader_went_away;

/// What every output shows instead of a password.
const REDACTED: &str = "<redacted>";

/// The settings of `smarthost authinfo lookup`.
#[derive(Clone, Debug, Default)]
pub struct LookupSettings {
    /// The AuthInfo map: a text source, a compiled map, or a source whose
    /// compiled map exists.
    pub file: PathBuf,
    /// The server connected to (sendmail's `${server_name}`).
    pub host: String,
    /// The server's address (`${server_addr}`).
    pub ip: Option<IpAddr>,
    /// The envelope sender, for the `AuthInfoFrom:` keys.
    pub sender: Option<String>,
    /// The mechanisms on the server's `AUTH` line; `None`: all of them.
    pub server_mechs: Option<String>,
    /// Whether the connection is TLS-protected (STARTTLS or SMTPS).
    pub tls: bool,
    /// The access-map layout (parent domains, address prefixes) instead of
    /// a separate authinfo map.
    pub access_map: bool,
    /// This host's name, the default realm; `None`: the system's host name.
    pub hostname: Option<String>,
}

/// Checks the AuthInfo file `file`: its permissions, then every `AuthInfo:`
/// and `AuthInfoFrom:` entry, which it lists with the password redacted.
/// Warns when a default entry (`AuthInfo:`) exists.
///
/// Exit status 0 when everything is in order, 1 when entries (or source
/// lines) have problems, 2 when the file is unsafe or cannot be read.
pub fn check(file: &Path) -> ExitCode {
    finish(check_file(file))
}

fn check_file(file: &Path) -> Result<Status, String> {
    let load_error = match AuthInfoFile::load(file, LoadOptions::default()) {
        Ok(_) => None,
        // The permissions passed (they are checked before any entry), so the
        // entries can be listed to show which ones are wrong.
        Err(error) if error.is_entry_error() => Some(error),
        Err(error) => return Err(error.to_string()),
    };
    let map = open_map(file, &SourceOptions::default()).map_err(|error| error.to_string())?;
    let name = map.path().display().to_string();
    let mut problems = 0;
    for diagnostic in map.diagnostics() {
        eprintln!("smarthost: {}", diagnostic.display_in(&name));
        problems += usize::from(diagnostic.severity == Severity::Error);
    }

    let records = records(&map)?;
    let mut out = BufWriter::new(io::stdout().lock());
    let mut entries = 0;
    let mut has_default = false;
    for (key, value, line) in &records {
        if !is_authinfo_key(key) {
            continue;
        }
        entries += 1;
        let key = String::from_utf8_lossy(key);
        let at = match line {
            Some(line) => format!("{name}:{line}"),
            None => format!("{name}: key `{key}`"),
        };
        match AuthEntry::parse_strict(value) {
            Ok(entry) => {
                has_default |= key.eq_ignore_ascii_case(AUTHINFO_TAG);
                let mut text = format!("{key}\t({at})\n");
                text.push_str(&describe(&entry, None));
                print(out.write_all(text.as_bytes()))?;
            }
            Err(error) => {
                problems += 1;
                let message = error.to_string();
                let reason = message.strip_prefix("AuthInfo value: ").unwrap_or(&message);
                eprintln!("smarthost: {at}: key `{key}`: {reason}");
                print(
                    out.write_all(format!("{key}\t({at})\n    invalid: see the error message\n").as_bytes()),
                )?;
            }
        }
    }
    print(out.flush())?;
    drop(out);

    if has_default {
        eprintln!("smarthost: warning: {}", default_warning(&name));
    }
    if entries == 0 {
        eprintln!(
            "smarthost: warning: {name}: no AuthInfo: or AuthInfoFrom: entries, so no server gets credentials"
        );
    }
    // The loader stops at the first bad entry; the listing above counted
    // every one, but make sure the loader's verdict is never lost.
    if problems == 0 && load_error.is_some() {
        if let Some(error) = load_error {
            eprintln!("smarthost: {error}");
        }
        problems = 1;
    }
    if problems > 0 {
        eprintln!(
            "smarthost: {name}: {problems} problem(s); the relay refuses to load the file until they are fixed"
        );
        return Ok(Status::Negative);
    }
    let mut out = io::stdout().lock();
    print(writeln!(out, "{name}: ok, {entries} AuthInfo entries, mode and owner safe"))
}

/// Shows which entry, identities and mechanism the relay would use for the
/// server in `settings`, and the keys it tries on the way.
///
/// Exit status 0 when an entry applies and a mechanism would be used, 1
/// when no entry applies or no mechanism can be used (no common mechanism,
/// or only PLAIN/LOGIN without TLS), 2 when the file is unsafe, unreadable
/// or has invalid entries.
pub fn lookup(settings: &LookupSettings) -> ExitCode {
    finish(lookup_file(settings))
}

fn lookup_file(settings: &LookupSettings) -> Result<Status, String> {
    let mode = if settings.access_map { Mode::AccessMap } else { Mode::AuthInfoMap };
    let options =
        LoadOptions { lookup: LookupOptions { mode, ..LookupOptions::default() }, ..LoadOptions::default() };
    let file = AuthInfoFile::load(&settings.file, options).map_err(|error| match error {
        error if error.is_entry_error() => {
            format!(
                "{error}\n(run `smarthost authinfo check {}` to list every problem)",
                settings.file.display()
            )
        }
        error => error.to_string(),
    })?;
    let request = LookupRequest {
        server_addr: settings.ip,
        sender: settings.sender.as_deref(),
        ..LookupRequest::new(&settings.host)
    };

    let mut text = String::new();
    let mut matched = None;
    for key in file.keys(&request) {
        let present = file.map().lookup(key.as_bytes()).map_err(|error| error.to_string())?.is_some();
        text.push_str(&format!("key `{key}`: {}\n", if present { "found, matched" } else { "not found" }));
        if present {
            matched = Some(key);
            break;
        }
    }
    let found = file.lookup(&request).map_err(|error| error.to_string())?;
    let Some(found) = found else {
        text.push_str(&format!("no entry applies to {}: the relay would not authenticate\n", settings.host));
        print(io::stdout().lock().write_all(text.as_bytes()))?;
        return Ok(Status::Negative);
    };
    debug_assert_eq!(matched.as_deref(), Some(found.key.as_str()));

    let hostname = match &settings.hostname {
        Some(name) => name.clone(),
        None => system_hostname()?,
    };
    text.push_str(&format!("entry: {}\n", found.key));
    text.push_str(&describe(&found.entry, Some(&hostname)));
    let is_default = found.key.eq_ignore_ascii_case(AUTHINFO_TAG);
    if is_default {
        eprintln!("smarthost: warning: {}", default_warning(&file.path().display().to_string()));
    }

    let (candidates, from) = match &found.entry.mechanisms {
        Some(list) if !list.is_empty() => (list.clone(), "the entry's M:"),
        _ => (DEFAULT_MECHANISMS.iter().map(|m| (*m).to_owned()).collect(), "the default"),
    };
    let offered: Vec<String> = match &settings.server_mechs {
        Some(list) => list
            .split(|c: char| c.is_whitespace() || c == ',')
            .filter(|m| !m.is_empty())
            .map(str::to_owned)
            .collect(),
        None => Mechanism::ALL.iter().map(|m| m.name().to_owned()).collect(),
    };
    let transport = if settings.tls { Transport::Tls } else { Transport::Cleartext };
    text.push_str(&format!("candidates: {} ({from})\n", candidates.join(" ")));
    let offered_note = if settings.server_mechs.is_some() { "" } else { " (no --server-mechs: assumed all)" };
    text.push_str(&format!("server offers: {}{offered_note}\n", offered.join(" ")));
    text.push_str(&format!(
        "transport: {}\n",
        if settings.tls { "TLS (--tls)" } else { "cleartext (no --tls)" }
    ));

    let status = match choose_mechanism(&candidates, &offered, &transport, &AuthPolicy::default()) {
        Choice::Chosen(selected) => {
            text.push_str(&format!("mechanism: {}\n", selected.mechanism()));
            Status::Ok
        }
        Choice::NoCommonMechanism { .. } => {
            text.push_str(
                "mechanism: none: no candidate is offered by the server (or implemented here); the \
                 relay would defer the message (temporary failure)\n",
            );
            Status::Negative
        }
        Choice::RefusedWithoutTls { mechanisms } => {
            let names: Vec<&str> = mechanisms.iter().map(|m| m.name()).collect();
            text.push_str(&format!(
                "mechanism: none: {} would send the password in clear without TLS, so it is refused; \
                 the relay would defer the message (use STARTTLS and check with --tls)\n",
                names.join(", ")
            ));
            Status::Negative
        }
    };
    print(io::stdout().lock().write_all(text.as_bytes()))?;
    Ok(status)
}

/// The fields of `entry`, one an indented line, with the password redacted.
/// `hostname` is the default realm (`None`: say "this host's name").
fn describe(entry: &AuthEntry, hostname: Option<&str>) -> String {
    let realm = match (&entry.realm, hostname) {
        (Some(realm), _) if realm.is_empty() => "(empty)".to_owned(),
        (Some(realm), _) => realm.clone(),
        (None, Some(hostname)) => format!("{hostname} (default: this host's name)"),
        (None, None) => "(default: this host's name)".to_owned(),
    };
    let mechanisms = match &entry.mechanisms {
        Some(list) if !list.is_empty() => list.join(" "),
        _ => format!("(default: {})", DEFAULT_MECHANISMS.join(" ")),
    };
    format!(
        "    authorization id (U): {}\n    authentication id (I): {}\n    password (P): {REDACTED}\n    \
         realm (R): {realm}\n    mechanisms (M): {mechanisms}\n",
        entry.authz.escape_debug(),
        entry.authn.escape_debug(),
    )
}

/// The warning spec `authinfo.md` §2 asks for when a default entry exists.
fn default_warning(name: &str) -> String {
    format!(
        "{name}: the default entry `{AUTHINFO_TAG}` sends its password to every server that offers AUTH \
         and has no entry of its own (any MX host); prefer one entry per server"
    )
}

/// Every pair of the map, with its source line for a text source.
type Record = (Vec<u8>, Vec<u8>, Option<usize>);

fn records(map: &MapGeneration) -> Result<Vec<Record>, String> {
    if let Some(compiled) = map.compiled() {
        compiled
            .iter()
            .map(|record| {
                record
                    .map(|(key, value)| (key.to_vec(), value.to_vec(), None))
                    .map_err(|error| error.to_string())
            })
            .collect()
    } else {
        let text = fs::read(map.path())
            .map_err(|error| format!("{}: cannot read: {error}", map.path().display()))?;
        Ok(Source::parse(&text, &SourceOptions::default())
            .entries()
            .iter()
            .map(|entry| (entry.key.to_vec(), entry.value.to_vec(), Some(entry.line)))
            .collect())
    }
}

/// Whether `key` is an `AuthInfo:` or `AuthInfoFrom:` key (any case).
fn is_authinfo_key(key: &[u8]) -> bool {
    [AUTHINFO_TAG, AUTHINFO_FROM_TAG]
        .iter()
        .any(|tag| key.len() >= tag.len() && key[..tag.len()].eq_ignore_ascii_case(tag.as_bytes()))
}

/// The outcome of printing: done, or a write error (a closed pipe is not one).
fn print(written: io::Result<()>) -> Result<Status, String> {
    match written {
        Err(error) if !reader_went_away(&error) => Err(format!("cannot write to standard output: {error}")),
        _ => Ok(Status::Ok),
    }
}
