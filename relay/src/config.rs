//! The relay's configuration: one TOML file, read into typed values, with
//! every problem reported at once (see the crate documentation for the keys
//! and their defaults).

mod files;
mod problem;
mod read;
mod render;
mod validate;
mod values;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use smarthost_queue::SyncMode;
use smarthost_routing::{AuthPolicy, Mailer, MailerKind, Mailers, SmartHost, TlsPolicy};

pub use problem::{ConfigErrors, Location, Problem, Severity};
pub use values::{ByteSize, format_duration, parse_duration};

/// The name [`Config::from_str`] gives the text in messages.
pub const INLINE_ORIGIN: &str = "<string>";

/// The relay's whole configuration, with every default filled in and every
/// relative path made relative to the configuration file's directory.
///
/// ```
/// use smarthost_relay::{Config, ListenMode};
///
/// let config = Config::from_str(
///     r#"
///     hostname = "relay.example.net"
///     [[listen]]
///     addr = "127.0.0.1:2525"
///     mode = "smtp"
///     [queue]
///     retry = ["1m", "1h"]
///     "#,
///     "/etc/smarthost",
/// )?;
/// assert_eq!(config.listen[0].mode, ListenMode::Smtp);
/// assert_eq!(config.queue.return_after.as_secs(), 5 * 86_400); // the default
/// assert_eq!(config.spool.dir, std::path::Path::new("/var/spool/smarthost")); // absolute default
/// # Ok::<(), smarthost_relay::ConfigErrors>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Config {
    /// The file this was read from ([`INLINE_ORIGIN`] for [`Config::from_str`]).
    pub file: PathBuf,
    /// The directory relative paths start from.
    pub base_dir: PathBuf,
    /// `hostname`: this host's canonical name, sendmail's `$j`; `None`: the
    /// system's host name at start.
    pub hostname: Option<String>,
    /// `local_host_names`: more names of this host (class `w`).
    pub local_host_names: Vec<String>,
    /// `local_host_names_file`: a file of such names.
    pub local_host_names_file: Option<PathBuf>,
    /// `relay_domains`: domains this host relays for (class `R`).
    pub relay_domains: Vec<String>,
    /// `virtuser_domains`: domains besides the local ones whose users the
    /// virtusertable rewrites (sendmail's `VIRTUSER_DOMAIN`).
    pub virtuser_domains: Vec<String>,
    /// `virtuser_domain_file`: a file of such domains (`VIRTUSER_DOMAIN_FILE`).
    pub virtuser_domain_file: Option<PathBuf>,
    /// `[spool]`.
    pub spool: SpoolConfig,
    /// `[[listen]]`, in file order.
    pub listen: Vec<Listener>,
    /// `[tls]`: the server certificate; `None`: no STARTTLS offered.
    pub tls: Option<TlsConfig>,
    /// `[maps]`.
    pub maps: MapsConfig,
    /// `[routing]`.
    pub routing: RoutingConfig,
    /// `[mailers.NAME]` over the standard SMTP mailers, by lower-case name.
    pub mailers: BTreeMap<String, MailerConfig>,
    /// `[masquerade]`.
    pub masquerade: MasqueradeConfig,
    /// `[auth]`: the submission clients.
    pub auth: AuthConfig,
    /// `[policy]`.
    pub policy: PolicyConfig,
    /// `[queue]`.
    pub queue: QueueConfig,
    /// `[local]`.
    pub local: LocalConfig,
    /// `[log]`.
    pub log: LogConfig,
    /// Warnings found while reading (e.g. `dangerous_accept_invalid_certs`).
    pub warnings: Vec<Problem>,
    /// Where each key's value is, for messages about it later.
    spans: BTreeMap<String, Location>,
}

/// `[spool]`: where messages wait and how they are made durable.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SpoolConfig {
    /// `dir`: the spool directory (created at first start if its parent exists).
    pub dir: PathBuf,
    /// `sync`: `per-message`, `group` or `dangerous_none`.
    pub sync: SyncMode,
}

/// One `[[listen]]` table.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Listener {
    /// `addr`: the address and port to listen on.
    pub addr: SocketAddr,
    /// `mode`.
    pub mode: ListenMode,
    /// `require_rdns`: this listener's own `[policy] require_rdns`.
    pub require_rdns: bool,
}

/// What a listener speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ListenMode {
    /// `smtp`: mail from other servers and RELAY clients; STARTTLS when
    /// `[tls]` is configured.
    Smtp,
    /// `submission`: mail from your own users (port 587): STARTTLS, and AUTH
    /// before MAIL.
    Submission,
    /// `smtps`: submission over TLS from the first byte (port 465, RFC 8314);
    /// AUTH before MAIL.
    Smtps,
}

/// `[tls]`: the certificate the listeners present.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct TlsConfig {
    /// `cert`: PEM certificate chain, leaf first.
    pub cert: PathBuf,
    /// `key`: PEM private key.
    pub key: PathBuf,
    /// `generate_self_signed`: when both files are missing, the relay writes
    /// a self-signed certificate for `hostname` there at first start (and
    /// logs that it did); `config check` then accepts their absence.
    pub generate_self_signed: bool,
}

/// `[maps]`: each names a makemap text source or a compiled map.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct MapsConfig {
    /// `mailertable`.
    pub mailertable: Option<PathBuf>,
    /// `access`.
    pub access: Option<PathBuf>,
    /// `virtusertable`.
    pub virtusertable: Option<PathBuf>,
    /// `genericstable`.
    pub genericstable: Option<PathBuf>,
    /// `aliases` (the text; `newaliases` writes `aliases.db` beside it).
    pub aliases: Option<PathBuf>,
    /// `authinfo`: the client credentials for the next hops (AuthInfo entries).
    pub authinfo: Option<PathBuf>,
}

/// `[routing]`.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct RoutingConfig {
    /// `smart_host`: `[mailer:]host-list`, as sendmail's `SMART_HOST`.
    pub smart_host: Option<SmartHost>,
    /// `relay_mailer`: the smart host's mailer when it names none.
    pub relay_mailer: String,
    /// `features`: sendmail `FEATURE` names that change routing.
    pub features: Vec<String>,
}

/// One mailer: the standard SMTP mailers, or a `[mailers.NAME]` table.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct MailerConfig {
    /// `port`.
    pub port: u16,
    /// `tls`: `none`, `opportunistic`, `required` or `implicit`.
    pub tls: TlsPolicy,
    /// `auth`: `none`, `if-offered` or `required`.
    pub auth: AuthPolicy,
    /// `ca_file`: PEM certificates to trust instead of the system's roots.
    pub ca_file: Option<PathBuf>,
    /// `dangerous_accept_invalid_certs`: skip certificate verification.
    pub dangerous_accept_invalid_certs: bool,
    /// `program`: makes this a prog mailer that pipes each message to this
    /// command (for `[local] delivery`); port, TLS and AUTH do not apply.
    pub program: Option<PathBuf>,
    /// `args`: the program's arguments; `{user}`, `{recipient}` and
    /// `{sender}` are replaced for each delivery.
    pub args: Vec<String>,
}

/// `[masquerade]`: the sendmail `MASQUERADE_AS` family.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct MasqueradeConfig {
    /// `as`: the domain to masquerade as; `None`: no masquerading.
    pub masquerade_as: Option<String>,
    /// `domains`: the other domains to masquerade (`MASQUERADE_DOMAIN`).
    pub domains: Vec<String>,
    /// `envelope`: masquerade the envelope sender too (`masquerade_envelope`).
    pub envelope: bool,
    /// `all`: masquerade recipient headers too (`allmasquerade`).
    pub all: bool,
    /// `entire_domain`: sub-domains of `domains` too (`masquerade_entire_domain`).
    pub entire_domain: bool,
    /// `exposed_users`: users never masqueraded (`EXPOSED_USER`).
    pub exposed_users: Vec<String>,
}

/// `[auth]`: how submission clients log in.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct AuthConfig {
    /// `logins`: the server credentials file (`login password` lines, mode 0600).
    pub logins: Option<PathBuf>,
    /// `sender_must_match`: the envelope sender must be the login's address.
    pub sender_must_match: bool,
}

/// `[policy]`: limits and checks on inbound connections.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct PolicyConfig {
    /// `require_rdns`: refuse clients whose address has no reverse DNS name.
    pub require_rdns: bool,
    /// `max_message_size`: the SIZE limit.
    pub max_message_size: ByteSize,
    /// `max_recipients`: recipients per message.
    pub max_recipients: usize,
    /// `max_connections`: inbound connections at once, over all listeners.
    pub max_connections: usize,
    /// `max_connections_per_client`: inbound connections at once from one address.
    pub max_connections_per_client: usize,
}

/// `[queue]`: retrying and giving up.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct QueueConfig {
    /// `retry`: the waits after each temporary failure; the last one repeats.
    pub retry: Vec<Duration>,
    /// `warn_after`: when the sender is told that delivery is delayed.
    pub warn_after: Duration,
    /// `return_after`: when undelivered mail is returned to the sender.
    pub return_after: Duration,
}

/// `[local]`: delivery to this host's users.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct LocalConfig {
    /// `delivery`.
    pub delivery: LocalDelivery,
    /// `path`: the mailbox, with `{user}` for the user's name.
    pub path: PathBuf,
}

/// How local mail is stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LocalDelivery {
    /// `maildir`: one file a message, in a Maildir folder.
    Maildir,
    /// `mbox`: appended to an mbox file, with locking.
    Mbox,
    /// The name of a prog mailer (`[mailers.NAME] program = ...`) that each
    /// message is piped to.
    Prog(String),
}

/// `[log]`.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct LogConfig {
    /// `format`: `text` (sendmail-style lines) or `json`.
    pub format: LogFormat,
}

/// The shape of log lines.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    /// `text`: `ID: from=<...>, size=N, ...`, as sendmail operators grep.
    Text,
    /// `json`: the same fields, one JSON object a line.
    Json,
}

impl Config {
    /// Reads and checks the configuration file at `path`: every error found,
    /// or the configuration (with its [`warnings`](Config::warnings)).
    /// Relative paths in it are relative to its directory.
    pub fn load(path: impl AsRef<Path>) -> Result<Self, ConfigErrors> {
        let path = path.as_ref();
        let text = std::fs::read(path).map_err(|error| {
            let fix = match error.kind() {
                std::io::ErrorKind::NotFound => "check the name, or start from examples/relay.toml",
                std::io::ErrorKind::PermissionDenied => "run as a user who may read it, or fix its mode",
                _ => "check the file",
            };
            ConfigErrors::new(vec![Problem::error(
                path,
                format!("cannot read the configuration: {error}; {fix}"),
            )])
        })?;
        let text = String::from_utf8(text).map_err(|error| {
            let offset = error.utf8_error().valid_up_to();
            let text = String::from_utf8_lossy(error.as_bytes());
            let location = Location::of_offset(&text, offset);
            ConfigErrors::new(vec![
                Problem::error(path, "the file is not UTF-8 text; save it as UTF-8").at(Some(location)),
            ])
        })?;
        // `relay.toml` alone: its directory is the current one, written as nothing so
        // that paths stay as short as the operator wrote them.
        let base_dir = path.parent().unwrap_or(Path::new(""));
        Self::parse(&text, path, base_dir)
    }

    /// Reads configuration `text` whose relative paths start at `base_dir`;
    /// messages name it [`INLINE_ORIGIN`].
    #[allow(clippy::should_implement_trait)] // two arguments: FromStr cannot take the base directory
    pub fn from_str(text: &str, base_dir: impl AsRef<Path>) -> Result<Self, ConfigErrors> {
        Self::parse(text, Path::new(INLINE_ORIGIN), base_dir.as_ref())
    }

    /// Reads configuration `text` that came from `file`, whose relative paths
    /// start at `base_dir`.
    pub fn parse(text: &str, file: &Path, base_dir: &Path) -> Result<Self, ConfigErrors> {
        let mut problems = Vec::new();
        let config = read::read(text, file, base_dir, &mut problems);
        if let Some(config) = &config {
            validate::validate(config, &mut problems);
        }
        match config {
            Some(mut config) if !problems.iter().any(Problem::is_error) => {
                config.warnings = problems;
                Ok(config)
            }
            _ => {
                problems.sort_by_key(|p| (p.location.is_none(), p.location));
                Err(ConfigErrors::new(problems))
            }
        }
    }

    /// Checks the files the configuration names: that they exist and can be
    /// read, that the maps open and parse (with the maps' `file:line`
    /// diagnostics), that the TLS certificate and key are PEM and belong
    /// together, and that credentials files pass their permission checks.
    /// Returns every problem found, errors and warnings; none means all good.
    pub fn check_files(&self) -> Vec<Problem> {
        files::check(self)
    }

    /// The effective configuration as TOML: every key, defaults filled in,
    /// paths absolute as the relay will use them. Reading it back gives the
    /// same configuration.
    pub fn to_toml(&self) -> String {
        render::render(self)
    }

    /// The mailers routing uses: the standard set with the `[mailers.NAME]`
    /// tables applied.
    pub fn routing_mailers(&self) -> Mailers {
        let mut mailers = Mailers::standard();
        for (name, settings) in &self.mailers {
            mailers.insert(Mailer {
                name: name.clone(),
                kind: if settings.program.is_some() { MailerKind::Prog } else { MailerKind::Smtp },
                port: settings.port,
                tls: settings.tls,
                verify_certificates: !settings.dangerous_accept_invalid_certs,
                auth: settings.auth,
            });
        }
        mailers
    }

    /// Where the value of `key` (a dotted path) is in the file, if it is there.
    pub fn location_of(&self, key: &str) -> Option<Location> {
        self.spans.get(key).copied()
    }

    /// A problem about `key`, at its place in the file.
    pub(crate) fn problem(&self, severity: Severity, key: &str, message: impl Into<String>) -> Problem {
        let problem = match severity {
            Severity::Error => Problem::error(&self.file, message),
            Severity::Warning => Problem::warning(&self.file, message),
        };
        problem.key(key).at(self.location_of(key))
    }
}

impl ListenMode {
    /// Whether clients must authenticate before MAIL.
    pub fn requires_auth(self) -> bool {
        matches!(self, Self::Submission | Self::Smtps)
    }
}

impl FromStr for ListenMode {
    type Err = String;

    /// The configuration names: `smtp`, `submission`, `smtps`.
    fn from_str(name: &str) -> Result<Self, Self::Err> {
        match name {
            "smtp" => Ok(Self::Smtp),
            "submission" => Ok(Self::Submission),
            "smtps" => Ok(Self::Smtps),
            _ => Err(format!("unknown listener mode `{name}`; expected smtp, submission or smtps")),
        }
    }
}

impl fmt::Display for ListenMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Smtp => "smtp",
            Self::Submission => "submission",
            Self::Smtps => "smtps",
        })
    }
}

impl FromStr for LogFormat {
    type Err = String;

    /// The configuration names: `text`, `json`.
    fn from_str(name: &str) -> Result<Self, Self::Err> {
        match name {
            "text" => Ok(Self::Text),
            "json" => Ok(Self::Json),
            _ => Err(format!("unknown log format `{name}`; expected text or json")),
        }
    }
}

impl fmt::Display for LogFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Text => "text",
            Self::Json => "json",
        })
    }
}

impl fmt::Display for LocalDelivery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Maildir => f.write_str("maildir"),
            Self::Mbox => f.write_str("mbox"),
            Self::Prog(name) => f.write_str(name),
        }
    }
}
