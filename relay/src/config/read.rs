//! Walking the parsed TOML: every key is either known (and its value typed)
//! or reported with a suggestion; every problem is collected.

use std::collections::BTreeMap;
use std::fmt::Display;
use std::net::SocketAddr;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use smarthost_queue::{MAX_RECIPIENTS, SyncMode};
use smarthost_routing::{AuthPolicy, MailerKind, Mailers, SmartHost, TlsPolicy};
use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::problem::{Location, Problem, did_you_mean};
use super::values::{ByteSize, DURATION_EXPECTED, SIZE_EXPECTED, parse_duration};
use super::{
    AuthConfig, Config, ListenMode, Listener, LocalConfig, LocalDelivery, LogConfig, LogFormat, MailerConfig,
    MapsConfig, MasqueradeConfig, PolicyConfig, QueueConfig, RoutingConfig, SpoolConfig, TlsConfig,
};

/// The keys of each table; `""` is the top level. The contract keys of
/// issue 8 and the additions.
pub(crate) const SECTIONS: &[(&str, &[&str])] = &[
    (
        "",
        &[
            "hostname",
            "local_host_names",
            "local_host_names_file",
            "relay_domains",
            "virtuser_domains",
            "virtuser_domain_file",
            "spool",
            "listen",
            "tls",
            "maps",
            "routing",
            "mailers",
            "masquerade",
            "auth",
            "policy",
            "queue",
            "local",
            "log",
        ],
    ),
    ("spool", &["dir", "sync"]),
    ("listen", &["addr", "mode", "require_rdns"]),
    ("tls", &["cert", "key", "generate_self_signed"]),
    ("maps", &["mailertable", "access", "virtusertable", "genericstable", "aliases", "authinfo"]),
    ("routing", &["smart_host", "relay_mailer", "features"]),
    ("mailers", &["port", "tls", "auth", "ca_file", "dangerous_accept_invalid_certs", "program", "args"]),
    ("masquerade", &["as", "domains", "envelope", "all", "entire_domain", "exposed_users"]),
    ("auth", &["logins", "sender_must_match"]),
    (
        "policy",
        &[
            "require_rdns",
            "max_message_size",
            "max_recipients",
            "max_connections",
            "max_connections_per_client",
        ],
    ),
    ("queue", &["retry", "warn_after", "return_after"]),
    ("local", &["delivery", "path"]),
    ("log", &["format"]),
];

/// The defaults that are not obvious zero values (documented in the README).
pub(crate) const DEFAULT_SPOOL_DIR: &str = "/var/spool/smarthost";
pub(crate) const DEFAULT_LISTEN: &str = "127.0.0.1:25";
pub(crate) const DEFAULT_RELAY_MAILER: &str = "relay";
pub(crate) const DEFAULT_MAX_MESSAGE_SIZE: u64 = 25_000_000;
pub(crate) const DEFAULT_MAX_RECIPIENTS: usize = 100;
pub(crate) const DEFAULT_MAX_CONNECTIONS: usize = 100;
pub(crate) const DEFAULT_MAX_CONNECTIONS_PER_CLIENT: usize = 10;
pub(crate) const DEFAULT_RETRY: &[u64] = &[60, 300, 900, 1_800, 3_600, 7_200, 14_400];
pub(crate) const DEFAULT_WARN_AFTER: u64 = 4 * 3_600;
pub(crate) const DEFAULT_RETURN_AFTER: u64 = 5 * 86_400;
pub(crate) const DEFAULT_MAILDIR_PATH: &str = "/var/mail/{user}/Maildir";
pub(crate) const DEFAULT_MBOX_PATH: &str = "/var/mail/{user}";

/// The standard SMTP mailers, which `[mailers.NAME]` may change.
pub(crate) const STANDARD_SMTP_MAILERS: &[&str] =
    &["dsmtp", "esmtp", "relay", "smtp", "smtp8", "smtps", "submission"];

/// Reads `text`; `None` when it is not TOML at all. Problems go to `problems`.
pub(crate) fn read(text: &str, file: &Path, base: &Path, problems: &mut Vec<Problem>) -> Option<Config> {
    let (document, syntax_errors) = DeTable::parse_recoverable(text);
    let syntax = !syntax_errors.is_empty();
    for error in syntax_errors {
        let location = error.span().map(|span| Location::of_offset(text, span.start));
        let message = error.message().trim_end().replace('\n', "; ");
        problems.push(
            Problem::error(file, format!("not valid TOML: {message}; see https://toml.io for the syntax"))
                .at(location),
        );
    }
    let mut reader = Reader { text, file, base, problems, spans: BTreeMap::new() };
    let config = reader.config(document.get_ref());
    (!syntax).then_some(config)
}

/// A table's entries with the dotted path of the table.
type Table<'i> = DeTable<'i>;
type Value<'i> = Spanned<DeValue<'i>>;

struct Reader<'r> {
    text: &'r str,
    file: &'r Path,
    base: &'r Path,
    problems: &'r mut Vec<Problem>,
    spans: BTreeMap<String, Location>,
}

/// `prefix.key`, or `key` at the top level.
fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() { key.to_string() } else { format!("{prefix}.{key}") }
}

fn type_name(value: &DeValue<'_>) -> &'static str {
    match value {
        DeValue::String(_) => "a string",
        DeValue::Integer(_) => "an integer",
        DeValue::Float(_) => "a float",
        DeValue::Boolean(_) => "a boolean",
        DeValue::Datetime(_) => "a date-time",
        DeValue::Array(_) => "an array",
        DeValue::Table(_) => "a table",
    }
}

fn section_keys(section: &str) -> &'static [&'static str] {
    SECTIONS.iter().find(|(name, _)| *name == section).map_or(&[], |(_, keys)| keys)
}

impl Reader<'_> {
    fn location(&self, span: Range<usize>) -> Option<Location> {
        Some(Location::of_offset(self.text, span.start))
    }

    fn error(&mut self, key: &str, span: Range<usize>, message: impl Into<String>) {
        let location = self.location(span);
        self.problems.push(Problem::error(self.file, message).key(key).at(location));
    }

    fn warning(&mut self, key: &str, span: Range<usize>, message: impl Into<String>) {
        let location = self.location(span);
        self.problems.push(Problem::warning(self.file, message).key(key).at(location));
    }

    /// Reports every key of `table` that `section` does not know.
    fn unknown_keys(&mut self, table: &Table<'_>, prefix: &str, section: &str) {
        let known = section_keys(section);
        for (key, _) in table.iter() {
            let name = key.get_ref().as_ref();
            if known.contains(&name) {
                continue;
            }
            let mut message = String::from("unknown key");
            if let Some(close) = did_you_mean(name, known) {
                message.push_str(&format!("; did you mean `{}`?", join(prefix, close)));
            } else if let Some((elsewhere, _)) =
                SECTIONS.iter().find(|(other, keys)| *other != section && keys.contains(&name))
            {
                let table = match *elsewhere {
                    "" => "the top level, before any [table]".to_string(),
                    "listen" => "a [[listen]] table".to_string(),
                    "mailers" => "a [mailers.NAME] table".to_string(),
                    other => format!("[{other}]"),
                };
                message.push_str(&format!("; `{name}` belongs in {table}: move it there"));
            }
            let list = match section {
                "" => "top-level keys".to_string(),
                "listen" => "keys of [[listen]]".to_string(),
                "mailers" => "keys of [mailers.NAME]".to_string(),
                other => format!("keys of [{other}]"),
            };
            message.push_str(&format!(" ({list}: {})", known.join(", ")));
            self.error(&join(prefix, name), key.span(), message);
        }
    }

    /// The value of `key`, remembering where it is.
    fn get<'t, 'i>(&mut self, table: &'t Table<'i>, prefix: &str, key: &str) -> Option<&'t Value<'i>> {
        let (_, value) = table.iter().find(|(k, _)| k.get_ref().as_ref() == key)?;
        let location = Location::of_offset(self.text, value.span().start);
        self.spans.insert(join(prefix, key), location);
        Some(value)
    }

    fn wrong_type(&mut self, path: &str, value: &Value<'_>, expected: &str) {
        let found = type_name(value.get_ref());
        let hint = match (value.get_ref(), expected.starts_with("a string") || expected.contains('"')) {
            (DeValue::Integer(_) | DeValue::Boolean(_) | DeValue::Float(_), true) => {
                "; put the value in double quotes"
            }
            _ => "",
        };
        self.error(path, value.span(), format!("expected {expected}, found {found}{hint}"));
    }

    fn string(&mut self, table: &Table<'_>, prefix: &str, key: &str, expected: &str) -> Option<String> {
        let path = join(prefix, key);
        let value = self.get(table, prefix, key)?;
        match value.get_ref() {
            DeValue::String(s) if s.trim().is_empty() => {
                self.error(
                    &path,
                    value.span(),
                    format!("empty value; expected {expected}, or leave the key out"),
                );
                None
            }
            DeValue::String(s) => Some(s.to_string()),
            _ => {
                self.wrong_type(&path, value, expected);
                None
            }
        }
    }

    fn strings(&mut self, table: &Table<'_>, prefix: &str, key: &str, expected: &str) -> Option<Vec<String>> {
        let path = join(prefix, key);
        let value = self.get(table, prefix, key)?;
        let DeValue::Array(items) = value.get_ref() else {
            self.wrong_type(&path, value, &format!("an array of strings such as {expected}"));
            return None;
        };
        let mut out = Vec::new();
        for (index, item) in items.iter().enumerate() {
            match item.get_ref() {
                DeValue::String(s) => out.push(s.to_string()),
                _ => self.wrong_type(&format!("{path}[{index}]"), item, "a string in double quotes"),
            }
        }
        Some(out)
    }

    fn bool(&mut self, table: &Table<'_>, prefix: &str, key: &str) -> Option<bool> {
        let path = join(prefix, key);
        let value = self.get(table, prefix, key)?;
        match value.get_ref() {
            DeValue::Boolean(b) => Some(*b),
            DeValue::String(s) if matches!(s.as_ref(), "true" | "false" | "yes" | "no" | "on" | "off") => {
                let fix = if matches!(s.as_ref(), "true" | "yes" | "on") { "true" } else { "false" };
                self.error(
                    &path,
                    value.span(),
                    format!("expected true or false without quotes; write {fix}"),
                );
                None
            }
            _ => {
                self.wrong_type(&path, value, "true or false");
                None
            }
        }
    }

    fn integer(
        &mut self,
        table: &Table<'_>,
        prefix: &str,
        key: &str,
        range: Range<u64>,
        what: &str,
    ) -> Option<u64> {
        let path = join(prefix, key);
        let value = self.get(table, prefix, key)?;
        let expected = format!("{what} from {} to {}", range.start, range.end - 1);
        match value.get_ref() {
            DeValue::Integer(i) => {
                let digits = i.as_str().replace('_', "");
                match u64::from_str_radix(&digits, i.radix()) {
                    Ok(n) if range.contains(&n) => Some(n),
                    _ => {
                        self.error(&path, value.span(), format!("{i} is out of range; expected {expected}"));
                        None
                    }
                }
            }
            DeValue::String(s) if s.trim().parse::<u64>().is_ok() => {
                self.error(
                    &path,
                    value.span(),
                    format!("expected {expected}; remove the quotes: {}", s.trim()),
                );
                None
            }
            _ => {
                self.wrong_type(&path, value, &expected);
                None
            }
        }
    }

    /// A string parsed with `T`'s `FromStr`, whose error says what is expected.
    fn parsed<T: FromStr>(&mut self, table: &Table<'_>, prefix: &str, key: &str, expected: &str) -> Option<T>
    where
        T::Err: Display,
    {
        let path = join(prefix, key);
        let text = self.string(table, prefix, key, expected)?;
        match text.parse::<T>() {
            Ok(value) => Some(value),
            Err(error) => {
                let span = self.get(table, prefix, key).map_or(0..0, Spanned::span);
                self.error(&path, span, error.to_string());
                None
            }
        }
    }

    fn path(&mut self, table: &Table<'_>, prefix: &str, key: &str) -> Option<PathBuf> {
        self.string(table, prefix, key, "a file name in double quotes").map(|name| self.base.join(name))
    }

    fn duration(&mut self, table: &Table<'_>, prefix: &str, key: &str) -> Option<Duration> {
        let value = self.get(table, prefix, key)?;
        self.duration_value(&join(prefix, key), value)
    }

    fn duration_value(&mut self, path: &str, value: &Value<'_>) -> Option<Duration> {
        match value.get_ref() {
            DeValue::String(s) => match parse_duration(s) {
                Ok(d) if d.is_zero() => {
                    self.error(
                        path,
                        value.span(),
                        format!("must be longer than 0s; expected {DURATION_EXPECTED}"),
                    );
                    None
                }
                Ok(d) => Some(d),
                Err(e) => {
                    self.error(path, value.span(), e);
                    None
                }
            },
            DeValue::Integer(i) => {
                self.error(
                    path,
                    value.span(),
                    format!(
                        "a bare number has no unit; expected {DURATION_EXPECTED}: write \"{i}s\" for seconds"
                    ),
                );
                None
            }
            _ => {
                self.wrong_type(path, value, DURATION_EXPECTED);
                None
            }
        }
    }

    fn size(&mut self, table: &Table<'_>, prefix: &str, key: &str) -> Option<ByteSize> {
        let path = join(prefix, key);
        let value = self.get(table, prefix, key)?;
        let size = match value.get_ref() {
            DeValue::String(s) => s.parse::<ByteSize>(),
            DeValue::Integer(i) => i.as_str().replace('_', "").parse::<ByteSize>(),
            _ => {
                self.wrong_type(&path, value, SIZE_EXPECTED);
                return None;
            }
        };
        match size {
            Ok(size) if size.bytes() == 0 => {
                self.error(
                    &path,
                    value.span(),
                    format!("must be more than 0 bytes; expected {SIZE_EXPECTED}"),
                );
                None
            }
            Ok(size) => Some(size),
            Err(e) => {
                self.error(&path, value.span(), e);
                None
            }
        }
    }

    fn table<'t, 'i>(&mut self, table: &'t Table<'i>, prefix: &str, key: &str) -> Option<&'t Table<'i>> {
        let path = join(prefix, key);
        let value = self.get(table, prefix, key)?;
        match value.get_ref() {
            DeValue::Table(t) => Some(t),
            _ => {
                let expected =
                    format!("a table: write [{path}] on a line of its own, with its keys below it");
                self.wrong_type(&path, value, &expected);
                None
            }
        }
    }

    fn config(&mut self, top: &Table<'_>) -> Config {
        self.unknown_keys(top, "", "");
        let hostname = self.string(top, "", "hostname", "a host name such as \"relay.example.net\"");
        let names = "[\"example.net\"]";
        let local_host_names = self.strings(top, "", "local_host_names", names).unwrap_or_default();
        let local_host_names_file = self.path(top, "", "local_host_names_file");
        let relay_domains = self.strings(top, "", "relay_domains", names).unwrap_or_default();
        let virtuser_domains = self.strings(top, "", "virtuser_domains", names).unwrap_or_default();
        let virtuser_domain_file = self.path(top, "", "virtuser_domain_file");
        let empty = Table::default();
        let section = |reader: &mut Self, name: &str| {
            let table = reader.table(top, "", name);
            if let Some(table) = table {
                reader.unknown_keys(table, name, name);
            }
            table
        };
        let spool = section(self, "spool").unwrap_or(&empty);
        let spool = SpoolConfig {
            dir: self.path(spool, "spool", "dir").unwrap_or_else(|| self.base.join(DEFAULT_SPOOL_DIR)),
            sync: self
                .parsed::<SyncMode>(spool, "spool", "sync", "per-message, group or dangerous_none")
                .unwrap_or_default(),
        };
        let policy = section(self, "policy").unwrap_or(&empty);
        let policy = self.policy(policy);
        let listen = self.listeners(top, policy.require_rdns);
        let tls = section(self, "tls").map(|tls| self.tls(tls));
        let maps = section(self, "maps").unwrap_or(&empty);
        let maps = MapsConfig {
            mailertable: self.path(maps, "maps", "mailertable"),
            access: self.path(maps, "maps", "access"),
            virtusertable: self.path(maps, "maps", "virtusertable"),
            genericstable: self.path(maps, "maps", "genericstable"),
            aliases: self.path(maps, "maps", "aliases"),
            authinfo: self.path(maps, "maps", "authinfo"),
        };
        let routing = section(self, "routing").unwrap_or(&empty);
        let routing = self.routing(routing);
        let mailers = self.mailers(top);
        let masquerade = section(self, "masquerade").unwrap_or(&empty);
        let masquerade = self.masquerade(masquerade);
        let auth = section(self, "auth").unwrap_or(&empty);
        let auth = AuthConfig {
            logins: self.path(auth, "auth", "logins"),
            sender_must_match: self.bool(auth, "auth", "sender_must_match").unwrap_or(true),
        };
        let queue = section(self, "queue").unwrap_or(&empty);
        let queue = self.queue(queue);
        let local = section(self, "local").unwrap_or(&empty);
        let local = self.local(local);
        let log = section(self, "log").unwrap_or(&empty);
        let log = LogConfig {
            format: self.parsed(log, "log", "format", "text or json").unwrap_or(LogFormat::Text),
        };
        Config {
            file: self.file.to_path_buf(),
            base_dir: self.base.to_path_buf(),
            hostname,
            local_host_names,
            local_host_names_file,
            relay_domains,
            virtuser_domains,
            virtuser_domain_file,
            spool,
            listen,
            tls,
            maps,
            routing,
            mailers,
            masquerade,
            auth,
            policy,
            queue,
            local,
            log,
            warnings: Vec::new(),
            spans: std::mem::take(&mut self.spans),
        }
    }

    fn policy(&mut self, table: &Table<'_>) -> PolicyConfig {
        let p = "policy";
        let count = |reader: &mut Self, key: &str, max: usize, default: usize| {
            reader.integer(table, p, key, 1..max as u64 + 1, "a number").map_or(default, |n| n as usize)
        };
        PolicyConfig {
            require_rdns: self.bool(table, p, "require_rdns").unwrap_or(false),
            max_message_size: self
                .size(table, p, "max_message_size")
                .unwrap_or(ByteSize::new(DEFAULT_MAX_MESSAGE_SIZE)),
            max_recipients: count(self, "max_recipients", MAX_RECIPIENTS, DEFAULT_MAX_RECIPIENTS),
            max_connections: count(self, "max_connections", 1_000_000, DEFAULT_MAX_CONNECTIONS),
            max_connections_per_client: count(
                self,
                "max_connections_per_client",
                1_000_000,
                DEFAULT_MAX_CONNECTIONS_PER_CLIENT,
            ),
        }
    }

    fn listeners(&mut self, top: &Table<'_>, require_rdns: bool) -> Vec<Listener> {
        let default = || {
            let addr = DEFAULT_LISTEN.parse().expect("the default listener address is valid");
            vec![Listener { addr, mode: ListenMode::Smtp, require_rdns }]
        };
        let Some(value) = self.get(top, "", "listen") else {
            return default();
        };
        let DeValue::Array(items) = value.get_ref() else {
            let expected = "an array of tables: write each listener as [[listen]] (two brackets) with addr \
                            and mode below it";
            self.wrong_type("listen", value, expected);
            return Vec::new();
        };
        if items.is_empty() {
            self.error("listen", value.span(), "no listener; add a [[listen]] table with addr and mode");
        }
        let mut listeners = Vec::new();
        for (index, item) in items.iter().enumerate() {
            let prefix = format!("listen[{index}]");
            let DeValue::Table(table) = item.get_ref() else {
                self.wrong_type(&prefix, item, "a table with addr and mode: write [[listen]] blocks");
                continue;
            };
            self.unknown_keys(table, &prefix, "listen");
            let addr = self.parsed::<SocketAddr>(
                table,
                &prefix,
                "addr",
                "an address and port such as \"127.0.0.1:25\"",
            );
            let mode = self
                .parsed::<ListenMode>(table, &prefix, "mode", "smtp, submission or smtps")
                .unwrap_or(ListenMode::Smtp);
            let rdns = self.bool(table, &prefix, "require_rdns").unwrap_or(require_rdns);
            if self.get(table, &prefix, "addr").is_none() {
                self.error(
                    &format!("{prefix}.addr"),
                    item.span(),
                    "missing key: every [[listen]] needs an address, e.g. addr = \"127.0.0.1:25\"",
                );
            }
            if let Some(addr) = addr {
                if addr.port() == 0 {
                    // Useful to tests and embedders (`Relay::local_addrs` says
                    // which port); never what an operator means.
                    let span = self.get(table, &prefix, "addr").map_or(item.span(), Spanned::span);
                    self.warning(
                        &format!("{prefix}.addr"),
                        span,
                        "port 0: the system picks a different free port at each start; give one, e.g. :25",
                    );
                }
                listeners.push(Listener { addr, mode, require_rdns: rdns });
            }
        }
        listeners
    }

    fn tls(&mut self, table: &Table<'_>) -> TlsConfig {
        let file = |reader: &mut Self, key: &str| {
            let path = reader.path(table, "tls", key);
            if path.is_none() && reader.get(table, "tls", key).is_none() {
                let location = reader.spans.get("tls").copied();
                reader.problems.push(
                    Problem::error(
                        reader.file,
                        format!("missing key: [tls] needs both cert and key, e.g. {key} = \"{key}.pem\""),
                    )
                    .key(format!("tls.{key}"))
                    .at(location),
                );
            }
            path.unwrap_or_default()
        };
        let cert = file(self, "cert");
        let key = file(self, "key");
        TlsConfig {
            cert,
            key,
            generate_self_signed: self.bool(table, "tls", "generate_self_signed").unwrap_or(false),
        }
    }

    fn routing(&mut self, table: &Table<'_>) -> RoutingConfig {
        let expected = "[mailer:]host such as \"relay:[smtp.isp.example]\"";
        let smart_host = self.string(table, "routing", "smart_host", expected).and_then(|spec| {
            match SmartHost::parse(&spec) {
                Ok(smart_host) => Some(smart_host),
                Err(error) => {
                    let span = self.get(table, "routing", "smart_host").map_or(0..0, Spanned::span);
                    self.error(
                        "routing.smart_host",
                        span,
                        format!("{error}; expected {expected} (brackets: no MX lookup; `:` separates fallback hosts)"),
                    );
                    None
                }
            }
        });
        RoutingConfig {
            smart_host,
            relay_mailer: self
                .string(table, "routing", "relay_mailer", "a mailer name such as \"relay\"")
                .map_or_else(|| DEFAULT_RELAY_MAILER.to_string(), |name| name.to_ascii_lowercase()),
            features: self.strings(table, "routing", "features", "[\"redirect\"]").unwrap_or_default(),
        }
    }

    fn mailers(&mut self, top: &Table<'_>) -> BTreeMap<String, MailerConfig> {
        let standard = Mailers::standard();
        let mut mailers: BTreeMap<String, MailerConfig> = standard
            .iter()
            .filter(|m| m.kind == MailerKind::Smtp)
            .map(|m| {
                let config = MailerConfig {
                    port: m.port,
                    tls: m.tls,
                    auth: m.auth,
                    ca_file: None,
                    dangerous_accept_invalid_certs: !m.verify_certificates,
                    program: None,
                    args: Vec::new(),
                };
                (m.name.clone(), config)
            })
            .collect();
        let Some(tables) = self.table(top, "", "mailers") else {
            return mailers;
        };
        for (name, value) in tables.iter() {
            let prefix = format!("mailers.{}", name.get_ref());
            let lower = name.get_ref().to_ascii_lowercase();
            self.spans.insert(prefix.clone(), Location::of_offset(self.text, name.span().start));
            let DeValue::Table(table) = value.get_ref() else {
                let expected = format!("a table: write [{prefix}] with port, tls, auth below it");
                self.wrong_type(&prefix, value, &expected);
                continue;
            };
            self.unknown_keys(table, &prefix, "mailers");
            if matches!(lower.as_str(), "local" | "prog" | "error") {
                self.error(
                    &prefix,
                    name.span(),
                    format!(
                        "`{lower}` is a built-in mailer and cannot be configured; to pipe mail to a program, \
                         define a new one such as [mailers.procmail] with program = \"/usr/bin/procmail\""
                    ),
                );
                continue;
            }
            let mut mailer = mailers.get(&lower).cloned().unwrap_or(MailerConfig {
                port: 25,
                tls: TlsPolicy::Opportunistic,
                auth: AuthPolicy::IfOffered,
                ca_file: None,
                dangerous_accept_invalid_certs: false,
                program: None,
                args: Vec::new(),
            });
            self.mailer(table, &prefix, &lower, &mut mailer);
            mailers.insert(lower, mailer);
        }
        mailers
    }

    fn mailer(&mut self, table: &Table<'_>, prefix: &str, name: &str, mailer: &mut MailerConfig) {
        if let Some(port) = self.integer(table, prefix, "port", 1..65_536, "a port") {
            mailer.port = port as u16;
        }
        if let Some(tls) =
            self.parsed::<TlsPolicy>(table, prefix, "tls", "none, opportunistic, required or implicit")
        {
            mailer.tls = tls;
        }
        if let Some(auth) = self.parsed::<AuthPolicy>(table, prefix, "auth", "none, if-offered or required") {
            mailer.auth = auth;
        }
        if let Some(ca_file) = self.path(table, prefix, "ca_file") {
            mailer.ca_file = Some(ca_file);
        }
        if let Some(dangerous) = self.bool(table, prefix, "dangerous_accept_invalid_certs") {
            mailer.dangerous_accept_invalid_certs = dangerous;
            if dangerous {
                let span =
                    self.get(table, prefix, "dangerous_accept_invalid_certs").map_or(0..0, Spanned::span);
                self.warning(
                    &format!("{prefix}.dangerous_accept_invalid_certs"),
                    span,
                    format!(
                        "certificates of the `{name}` mailer's hosts are not verified: anyone on the path can \
                         read the mail and the AUTH password; set ca_file to the server's CA instead"
                    ),
                );
            }
        }
        mailer.program = self.path(table, prefix, "program");
        mailer.args = self.strings(table, prefix, "args", "[\"-d\", \"{user}\"]").unwrap_or_default();
        if mailer.program.is_some() {
            if STANDARD_SMTP_MAILERS.contains(&name) {
                let span = self.get(table, prefix, "program").map_or(0..0, Spanned::span);
                self.error(
                    &format!("{prefix}.program"),
                    span,
                    format!("`{name}` is a standard SMTP mailer; give the program mailer a name of its own"),
                );
            }
            for key in ["port", "tls", "auth", "ca_file", "dangerous_accept_invalid_certs"] {
                if let Some(value) = self.get(table, prefix, key) {
                    let span = value.span();
                    self.error(
                        &join(prefix, key),
                        span,
                        "a program mailer (one with `program`) does not connect anywhere; remove this key",
                    );
                }
            }
        } else if let Some(value) = self.get(table, prefix, "args") {
            let span = value.span();
            self.error(
                &join(prefix, "args"),
                span,
                "`args` needs `program`: add program = \"/path/to/command\"",
            );
        }
    }

    fn masquerade(&mut self, table: &Table<'_>) -> MasqueradeConfig {
        let m = "masquerade";
        MasqueradeConfig {
            masquerade_as: self.string(table, m, "as", "a domain such as \"example.net\""),
            domains: self.strings(table, m, "domains", "[\"lan.example.net\"]").unwrap_or_default(),
            envelope: self.bool(table, m, "envelope").unwrap_or(false),
            all: self.bool(table, m, "all").unwrap_or(false),
            entire_domain: self.bool(table, m, "entire_domain").unwrap_or(false),
            exposed_users: self.strings(table, m, "exposed_users", "[\"root\"]").unwrap_or_default(),
        }
    }

    fn queue(&mut self, table: &Table<'_>) -> QueueConfig {
        let default_retry = || DEFAULT_RETRY.iter().map(|s| Duration::from_secs(*s)).collect();
        let retry = match self.get(table, "queue", "retry") {
            None => default_retry(),
            Some(value) => match value.get_ref() {
                DeValue::Array(items) => {
                    let mut retry = Vec::new();
                    for (index, item) in items.iter().enumerate() {
                        if let Some(d) = self.duration_value(&format!("queue.retry[{index}]"), item) {
                            retry.push(d);
                        }
                    }
                    retry
                }
                _ => {
                    self.wrong_type(
                        "queue.retry",
                        value,
                        "an array of durations such as [\"1m\", \"15m\", \"1h\"]",
                    );
                    default_retry()
                }
            },
        };
        QueueConfig {
            retry,
            warn_after: self
                .duration(table, "queue", "warn_after")
                .unwrap_or(Duration::from_secs(DEFAULT_WARN_AFTER)),
            return_after: self
                .duration(table, "queue", "return_after")
                .unwrap_or(Duration::from_secs(DEFAULT_RETURN_AFTER)),
        }
    }

    fn local(&mut self, table: &Table<'_>) -> LocalConfig {
        let expected = "maildir, mbox, or the name of a program mailer";
        let delivery = match self.string(table, "local", "delivery", expected).as_deref() {
            None | Some("maildir") => LocalDelivery::Maildir,
            Some("mbox") => LocalDelivery::Mbox,
            Some(other) => LocalDelivery::Prog(other.to_ascii_lowercase()),
        };
        let default = match delivery {
            LocalDelivery::Mbox => DEFAULT_MBOX_PATH,
            _ => DEFAULT_MAILDIR_PATH,
        };
        let path = self
            .string(table, "local", "path", "a path with {user}, such as \"mail/{user}/Maildir\"")
            .unwrap_or_else(|| default.to_string());
        LocalConfig { delivery, path: self.base.join(path) }
    }
}
