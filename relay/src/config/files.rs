//! `Config::check_files`: the files the configuration names, opened the way
//! the relay will open them.

use std::fs;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use smarthost_authinfo::server::ServerCredentials;
use smarthost_authinfo::{AuthInfoFile, LoadOptions};
use smarthost_maps::{Error as MapError, MapGeneration, MapType, Source, SourceOptions, open_map};
use smarthost_routing::{AliasDb, LocalNames, MailertableOptions, lint_mailertable, lint_virtusertable};

use super::Config;
use super::problem::{Location, Problem, Severity};

pub(crate) fn check(config: &Config) -> Vec<Problem> {
    let mut files = Files { config, problems: Vec::new() };
    files.plain_file("local_host_names_file", config.local_host_names_file.as_deref());
    files.plain_file("virtuser_domain_file", config.virtuser_domain_file.as_deref());
    files.spool();
    files.tls();
    files.mailers();
    files.maps();
    files.logins();
    files.problems
}

struct Files<'c> {
    config: &'c Config,
    problems: Vec<Problem>,
}

/// Which PEM blocks a file must hold.
#[derive(Clone, Copy)]
enum Pem {
    Certificates,
    PrivateKey,
}

impl Files<'_> {
    fn error(&mut self, key: &str, message: impl Into<String>) {
        self.problems.push(self.config.problem(Severity::Error, key, message));
    }

    fn warning(&mut self, key: &str, message: impl Into<String>) {
        self.problems.push(self.config.problem(Severity::Warning, key, message));
    }

    /// A problem inside a named file, at a line of it.
    fn in_file(&mut self, severity: Severity, file: &Path, line: usize, message: String) {
        let problem = match severity {
            Severity::Error => Problem::error(file, message),
            Severity::Warning => Problem::warning(file, message),
        };
        self.problems.push(problem.at((line > 0).then_some(Location { line, column: 0 })));
    }

    fn plain_file(&mut self, key: &str, path: Option<&Path>) {
        if let Some(path) = path
            && let Err(error) = fs::read(path)
        {
            self.error(key, cannot_read(path, &error));
        }
    }

    fn spool(&mut self) {
        let dir = &self.config.spool.dir;
        match fs::metadata(dir) {
            Ok(meta) if meta.is_dir() => {}
            Ok(_) => self.error(
                "spool.dir",
                format!(
                    "{} is not a directory; name a directory (the relay creates it if it is missing)",
                    dir.display()
                ),
            ),
            Err(error) if error.kind() == io::ErrorKind::NotFound => {
                let parent = parent_dir(dir);
                if !parent.is_dir() {
                    self.error(
                        "spool.dir",
                        format!(
                            "{} does not exist, nor does {}, so the relay cannot create it; create it with \
                             `mkdir -p {}`",
                            dir.display(),
                            parent.display(),
                            dir.display()
                        ),
                    );
                }
            }
            Err(error) => self.error("spool.dir", cannot_read(dir, &error)),
        }
    }

    fn tls(&mut self) {
        let Some(tls) = &self.config.tls else { return };
        let (cert_exists, key_exists) = (tls.cert.exists(), tls.key.exists());
        if !cert_exists && !key_exists && tls.generate_self_signed {
            for (key, path) in [("tls.cert", &tls.cert), ("tls.key", &tls.key)] {
                let parent = parent_dir(path);
                if !parent.is_dir() {
                    self.error(
                        key,
                        format!(
                            "{} is to be generated at first start, but {} does not exist; create it",
                            path.display(),
                            parent.display()
                        ),
                    );
                }
            }
            return;
        }
        if tls.generate_self_signed && cert_exists != key_exists {
            let (missing, key) = if cert_exists { (&tls.key, "tls.key") } else { (&tls.cert, "tls.cert") };
            self.error(
                key,
                format!(
                    "{} is missing but the other file exists, so the relay will not generate a pair over it; \
                     restore it, or remove both to have a new self-signed pair made",
                    missing.display()
                ),
            );
            return;
        }
        let certs = self.pem("tls.cert", &tls.cert, Pem::Certificates);
        let key = self.pem("tls.key", &tls.key, Pem::PrivateKey);
        if let (Some(Parsed::Certificates(certs)), Some(Parsed::Key(key))) = (certs, key) {
            self.key_matches(certs, &key);
        }
    }

    fn key_matches(&mut self, certs: Vec<CertificateDer<'static>>, key: &PrivateKeyDer<'static>) {
        let Some(tls) = &self.config.tls else { return };
        let signing_key = match rustls::crypto::ring::sign::any_supported_type(key) {
            Ok(signing_key) => signing_key,
            Err(error) => {
                let message = format!(
                    "{}: the private key cannot be used ({error}); use an RSA, ECDSA (P-256, P-384) or \
                     Ed25519 key",
                    tls.key.display()
                );
                self.error("tls.key", message);
                return;
            }
        };
        let certified = rustls::sign::CertifiedKey::new(certs, signing_key);
        if let Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::KeyMismatch)) =
            certified.keys_match()
        {
            let message = format!(
                "{} is not the key of the certificate in {}; give the key the certificate was issued for",
                tls.key.display(),
                tls.cert.display()
            );
            self.error("tls.key", message);
        }
    }

    /// Reads PEM blocks of `kind` from `path`, reporting what is wrong.
    fn pem(&mut self, key: &str, path: &Path, kind: Pem) -> Option<Parsed> {
        let text = match fs::read(path) {
            Ok(text) => text,
            Err(error) => {
                let mut message = cannot_read(path, &error);
                if error.kind() == io::ErrorKind::NotFound && key.starts_with("tls.") {
                    message.push_str(
                        "; or set [tls] generate_self_signed = true to have a pair made at first start",
                    );
                }
                self.error(key, message);
                return None;
            }
        };
        let parsed = match kind {
            Pem::Certificates => CertificateDer::pem_slice_iter(&text)
                .collect::<Result<Vec<_>, _>>()
                .and_then(|certs| if certs.is_empty() { Err(pem::Error::NoItemsFound) } else { Ok(certs) })
                .map(Parsed::Certificates),
            Pem::PrivateKey => PrivateKeyDer::from_pem_slice(&text).map(Parsed::Key),
        };
        match parsed {
            Ok(parsed) => Some(parsed),
            Err(error) => {
                let (what, block) = match kind {
                    Pem::Certificates => ("certificates", "-----BEGIN CERTIFICATE-----"),
                    Pem::PrivateKey => {
                        ("a private key", "-----BEGIN PRIVATE KEY----- (or RSA/EC PRIVATE KEY)")
                    }
                };
                let why = match error {
                    pem::Error::NoItemsFound => "no PEM block of that kind found".to_string(),
                    other => other.to_string(),
                };
                self.error(
                    key,
                    format!("{}: expected {what} in PEM form ({block} blocks): {why}", path.display()),
                );
                None
            }
        }
    }

    fn mailers(&mut self) {
        for (name, mailer) in &self.config.mailers {
            if let Some(ca_file) = &mailer.ca_file {
                self.pem(&format!("mailers.{name}.ca_file"), ca_file, Pem::Certificates);
            }
            if let Some(program) = &mailer.program {
                let key = format!("mailers.{name}.program");
                match fs::metadata(program) {
                    Ok(meta) if meta.is_file() && meta.permissions().mode() & 0o111 != 0 => {}
                    Ok(_) => self.error(
                        &key,
                        format!(
                            "{} is not an executable file; name the program (`chmod +x` it)",
                            program.display()
                        ),
                    ),
                    Err(error) => self.error(&key, cannot_read(program, &error)),
                }
            }
        }
    }

    fn maps(&mut self) {
        let maps = &self.config.maps;
        if let Some(path) = &maps.mailertable
            && let Some(map) = self.map("maps.mailertable", path)
        {
            let mailers = self.config.routing_mailers();
            let lints = source_entries(&map, |entries| {
                lint_mailertable(entries, MailertableOptions::default(), Some(&mailers))
            });
            for lint in lints {
                self.in_file(
                    Severity::Warning,
                    map.path(),
                    lint.line,
                    format!("key `{}`: {}", lint.key, lint.message),
                );
            }
        }
        if let Some(path) = &maps.virtusertable
            && let Some(map) = self.map("maps.virtusertable", path)
        {
            for lint in source_entries(&map, lint_virtusertable) {
                self.in_file(
                    Severity::Warning,
                    map.path(),
                    lint.line,
                    format!("key `{}`: {}", lint.key, lint.message),
                );
            }
        }
        for (key, path) in [("maps.access", &maps.access), ("maps.genericstable", &maps.genericstable)] {
            if let Some(path) = path {
                self.map(key, path);
            }
        }
        if let Some(path) = &maps.aliases {
            self.aliases(path);
        }
        if let Some(path) = &maps.authinfo {
            match AuthInfoFile::load(path, LoadOptions::default()) {
                Ok(file) if file.has_default_entry() => self.warning(
                    "maps.authinfo",
                    format!(
                        "{}: a default `AuthInfo:` entry sends its password to every server that offers AUTH; \
                         name the hosts instead (AuthInfo:smtp.isp.example)",
                        file.path().display()
                    ),
                ),
                Ok(_) => {}
                Err(error) => self.error("maps.authinfo", error.to_string()),
            }
        }
    }

    /// Opens a map as the relay does; reports makemap's diagnostics and a stale source.
    fn map(&mut self, key: &str, path: &Path) -> Option<MapGeneration> {
        let map = match open_map(path, &SourceOptions::default()) {
            Ok(map) => map,
            Err(MapError::Io { source, .. }) if source.kind() == io::ErrorKind::NotFound => {
                let tried = [path.to_path_buf(), MapType::Hash.file_name(path), MapType::Cdb.file_name(path)];
                let tried: Vec<String> = tried.iter().map(|p| p.display().to_string()).collect();
                self.error(
                    key,
                    format!(
                        "no such map (looked for {}); check the name, or create the text file (and build it \
                         with `makemap hash {} < {}` if you want it compiled)",
                        tried.join(", "),
                        path.display(),
                        path.display()
                    ),
                );
                return None;
            }
            Err(error) => {
                self.error(key, error.to_string());
                return None;
            }
        };
        for diagnostic in map.diagnostics() {
            let severity = match diagnostic.severity {
                smarthost_maps::Severity::Error => Severity::Error,
                smarthost_maps::Severity::Warning => Severity::Warning,
            };
            self.in_file(severity, map.path(), diagnostic.line, diagnostic.kind.to_string());
        }
        if let Some(source) = map.stale_source() {
            let map_type =
                if map.path().extension().is_some_and(|ext| ext == "cdb") { "cdb" } else { "hash" };
            self.warning(
                key,
                format!(
                    "{source} was changed after {} was built, so the relay reads old entries; run \
                     `makemap {map_type} {source} < {source}`",
                    map.path().display(),
                    source = source.display()
                ),
            );
        }
        Some(map)
    }

    fn aliases(&mut self, path: &Path) {
        let mut local = LocalNames::new(self.config.hostname.as_deref().unwrap_or("localhost"));
        for name in &self.config.local_host_names {
            local.add_name(name);
        }
        match AliasDb::open(path, Some(&local)) {
            Ok(aliases) => {
                for diagnostic in aliases.diagnostics() {
                    let severity = match diagnostic.severity {
                        smarthost_maps::Severity::Error => Severity::Error,
                        smarthost_maps::Severity::Warning => Severity::Warning,
                    };
                    self.in_file(severity, aliases.path(), diagnostic.line, diagnostic.problem.to_string());
                }
                if let Some(source) = aliases.stale_source() {
                    self.warning(
                        "maps.aliases",
                        format!(
                            "{} is newer than {}: run `smarthost newaliases {}`",
                            source.display(),
                            aliases.path().display(),
                            source.display()
                        ),
                    );
                }
            }
            Err(error) => self.error("maps.aliases", error.to_string()),
        }
    }

    fn logins(&mut self) {
        let Some(path) = &self.config.auth.logins else { return };
        if !path.exists() {
            self.warning(
                "auth.logins",
                format!(
                    "{} does not exist, so no submission client can log in; create it with `install -m 600 \
                     /dev/null {}` and add `login password` lines",
                    path.display(),
                    path.display()
                ),
            );
            return;
        }
        if let Err(error) = ServerCredentials::load(path) {
            self.error("auth.logins", error.to_string());
        }
    }
}

/// What [`Files::pem`] read.
enum Parsed {
    Certificates(Vec<CertificateDer<'static>>),
    Key(PrivateKeyDer<'static>),
}

/// The lints of a text map's entries; none for a compiled map.
fn source_entries<L>(map: &MapGeneration, lint: impl Fn(&[smarthost_maps::Entry<'_>]) -> Vec<L>) -> Vec<L> {
    if map.text().is_none() {
        return Vec::new();
    }
    match fs::read(map.path()) {
        Ok(text) => lint(Source::parse(&text, &SourceOptions::default()).entries()),
        Err(_) => Vec::new(), // it was just read; a race with an editor shows up on the next check
    }
}

/// The directory `path` is in; `.` for a bare name.
fn parent_dir(path: &Path) -> &Path {
    path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."))
}

fn cannot_read(path: &Path, error: &io::Error) -> String {
    let fix = match error.kind() {
        io::ErrorKind::NotFound => "check the name, or create the file",
        io::ErrorKind::PermissionDenied => "let the relay's user read it",
        _ => "check the file",
    };
    format!("{}: cannot read: {error}; {fix}", path.display())
}
