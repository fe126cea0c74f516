//! What a listener configures: host name, limits, extensions, timeouts, AUTH.

use std::sync::Arc;
use std::time::Duration;

use smarthost_authinfo::server::{AuthPolicy, Mechanism, ServerCredentials, offered_mechanisms};

/// Longest command line accepted, CR LF included (spec §1).
pub const MAX_COMMAND_LINE: usize = 2048;

/// Longest line in an AUTH exchange, CR LF included (RFC 4954 §4).
pub const MAX_AUTH_LINE: usize = 12288;

/// Most input the session buffers while a decision is pending; beyond it the
/// connection is closed with `421`. Drivers that stop reading while a
/// decision is pending never reach it.
pub const MAX_PIPELINED_INPUT: usize = 256 * 1024;

/// Longest `EHLO`/`HELO` argument (a domain name, RFC 5321 §4.5.3.1.2).
pub const MAX_HELO_NAME: usize = 255;

/// How strictly command syntax is read (spec §1, §2).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SyntaxMode {
    /// sendmail's leniency: `MAIL FROM: <a@b>`, `MAIL FROM:a@b`, and MAIL
    /// before HELO/EHLO are accepted.
    #[default]
    Compatible,
    /// RFC 5321 as written: those get `501 5.5.2` (`503 5.5.1` for MAIL
    /// before HELO/EHLO).
    Strict,
}

/// A phase of the session with its own deadline.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TimeoutPhase {
    /// Waiting for the next command (RFC 5321 §4.5.3.2.7: at least 5 minutes).
    Command,
    /// Waiting for the next piece of DATA or BDAT content (RFC 5321
    /// §4.5.3.2.5's data block: at least 3 minutes).
    DataBlock,
    /// Waiting for the client's next line in an AUTH exchange.
    Auth,
    /// The TLS handshake after `220 Ready to start TLS`.
    StartTls,
}

impl TimeoutPhase {
    /// The RFC 5321 minimum, where there is one.
    pub const fn minimum(self) -> Duration {
        match self {
            Self::Command => Duration::from_secs(5 * 60),
            Self::DataBlock => Duration::from_secs(3 * 60),
            // No RFC minimum; a floor keeps a mistyped value from closing
            // every connection at once.
            Self::Auth | Self::StartTls => Duration::from_secs(10),
        }
    }

    /// The name used in messages and configuration (`command`, `datablock`, …).
    pub const fn name(self) -> &'static str {
        match self {
            Self::Command => "command",
            Self::DataBlock => "datablock",
            Self::Auth => "auth",
            Self::StartTls => "starttls",
        }
    }
}

/// The server's deadlines (spec §6). Values below the RFC minimum cannot be
/// set: [`Timeouts::set`] raises them and returns a warning to log (spec O3).
///
/// ```
/// use std::time::Duration;
/// use smarthost_smtp_core::{TimeoutPhase, Timeouts};
///
/// let mut timeouts = Timeouts::default();
/// let warning = timeouts.set(TimeoutPhase::Command, Duration::from_secs(60)).unwrap();
/// assert_eq!(timeouts.get(TimeoutPhase::Command), Duration::from_secs(300));
/// assert_eq!(
///     warning.to_string(),
///     "timeout `command` of 60s is below the RFC 5321 minimum of 300s; using 300s"
/// );
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timeouts {
    command: Duration,
    data_block: Duration,
    auth: Duration,
    starttls: Duration,
}

impl Default for Timeouts {
    /// 5 minutes for commands, AUTH and STARTTLS; 3 minutes per data block.
    fn default() -> Self {
        let five = Duration::from_secs(5 * 60);
        Timeouts { command: five, data_block: Duration::from_secs(3 * 60), auth: five, starttls: five }
    }
}

impl Timeouts {
    /// The deadline of `phase`.
    pub const fn get(&self, phase: TimeoutPhase) -> Duration {
        match phase {
            TimeoutPhase::Command => self.command,
            TimeoutPhase::DataBlock => self.data_block,
            TimeoutPhase::Auth => self.auth,
            TimeoutPhase::StartTls => self.starttls,
        }
    }

    /// Sets a deadline. A value below [`TimeoutPhase::minimum`] is raised to
    /// it, and the returned warning says so.
    #[must_use = "a clamped timeout should be logged"]
    pub fn set(&mut self, phase: TimeoutPhase, value: Duration) -> Option<TimeoutClamped> {
        let used = value.max(phase.minimum());
        let slot = match phase {
            TimeoutPhase::Command => &mut self.command,
            TimeoutPhase::DataBlock => &mut self.data_block,
            TimeoutPhase::Auth => &mut self.auth,
            TimeoutPhase::StartTls => &mut self.starttls,
        };
        *slot = used;
        (used != value).then_some(TimeoutClamped { phase, requested: value, used })
    }
}

/// A configured timeout was below the RFC minimum and was raised.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "timeout `{}` of {}s is below the RFC 5321 minimum of {}s; using {}s",
    phase.name(),
    requested.as_secs(),
    phase.minimum().as_secs(),
    used.as_secs()
)]
pub struct TimeoutClamped {
    /// Which timeout.
    pub phase: TimeoutPhase,
    /// What the configuration asked for.
    pub requested: Duration,
    /// What is used instead.
    pub used: Duration,
}

/// Server-side SMTP AUTH (spec `authinfo.md` §5).
#[derive(Clone, Debug)]
pub struct AuthConfig {
    /// The users.
    pub credentials: Arc<ServerCredentials>,
    /// Mechanisms and the cleartext rule.
    pub policy: AuthPolicy,
    /// Offer and accept AUTH before TLS. Off by default: AUTH is then
    /// advertised only after STARTTLS (or on implicit TLS), and `AUTH`
    /// before TLS gets `538 5.7.11`. Even when on, PLAIN and LOGIN need TLS
    /// unless `policy.dangerous_allow_cleartext_without_tls` is set.
    pub allow_without_tls: bool,
}

impl AuthConfig {
    /// AUTH for `credentials` with the default policy (all mechanisms,
    /// PLAIN/LOGIN only over TLS, AUTH only after TLS).
    pub fn new(credentials: Arc<ServerCredentials>) -> Self {
        AuthConfig { credentials, policy: AuthPolicy::default(), allow_without_tls: false }
    }

    /// The mechanisms to advertise on a connection with or without TLS.
    pub fn offered(&self, tls: bool) -> Vec<Mechanism> {
        if !tls && !self.allow_without_tls {
            return Vec::new();
        }
        offered_mechanisms(&self.credentials, &self.policy, tls)
    }
}

/// Which commands the session asks the caller about.
///
/// MAIL, RCPT and the end of a message are always asked; the connection and
/// HELO/EHLO only when set here.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ask {
    /// Ask [`Question::Connect`](crate::Question::Connect) before the greeting.
    pub connect: bool,
    /// Ask [`Question::Helo`](crate::Question::Helo) for each EHLO/HELO.
    pub helo: bool,
}

impl Default for Ask {
    fn default() -> Self {
        Ask { connect: true, helo: true }
    }
}

/// One listener's configuration, shared by its sessions through an `Arc`.
///
/// ```
/// use smarthost_smtp_core::ServerConfig;
/// let mut config = ServerConfig::new("mx.example.org").unwrap();
/// config.max_message_size = Some(10_000_000);
/// config.tls_available = true;
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ServerConfig {
    hostname: String,
    /// Text after `220 <host> ESMTP` in the greeting.
    pub greeting_text: String,
    /// The fixed maximum message size, advertised as `SIZE n` and enforced
    /// at MAIL (`SIZE=`) and at the end of data: `552 5.3.4`. `None` is no
    /// limit (not recommended).
    pub max_message_size: Option<u64>,
    /// Most recipients per transaction; more get `452 4.5.3` (default 1000).
    pub max_recipients: usize,
    /// Most `Received:` headers a message may already carry (default 25);
    /// more get `554 5.4.6 Too many hops`.
    pub max_hops: usize,
    /// Bad commands tolerated before `421 4.7.0 Too many bad commands`
    /// (default 25, sendmail's MAXBADCOMMANDS).
    pub max_bad_commands: u32,
    /// Command syntax leniency.
    pub syntax: SyntaxMode,
    /// Use sendmail's enhanced codes where they differ from the spec's
    /// (`503 5.0.0 Need MAIL before RCPT`, `503 5.5.0 Sender already specified`,
    /// sendmail's AUTH replies).
    pub sendmail_status_codes: bool,
    /// Offer STARTTLS (the driver has a certificate). Ignored on implicit TLS.
    pub tls_available: bool,
    /// AUTH, if configured.
    pub auth: Option<AuthConfig>,
    /// Submission mode (RFC 6409): MAIL needs a successful AUTH first
    /// (`530 5.7.0 Authentication required`).
    pub require_auth: bool,
    /// Offer and accept `CHUNKING` (BDAT) and with it `BINARYMIME` (default on).
    pub chunking: bool,
    /// Offer `SMTPUTF8` (default on).
    pub smtputf8: bool,
    /// Offer `DSN` and accept its parameters (default on).
    pub dsn: bool,
    /// Answer HELP with `214` lines and advertise `HELP` (default on); off
    /// gives `502 5.3.0 HELP not implemented`.
    pub help: bool,
    /// Ask the caller about VRFY (default off: `252 2.5.2 Cannot VRFY user`).
    pub vrfy: bool,
    /// Ask the caller about EXPN (default off: `502 5.7.0`).
    pub expn: bool,
    /// Optional questions.
    pub ask: Ask,
    /// Deadlines.
    pub timeouts: Timeouts,
}

/// Why a [`ServerConfig`] cannot be built.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ServerConfigError {
    /// The host name is empty, too long, or has characters that do not
    /// belong in a domain.
    #[error(
        "server host name `{0}` is not a domain name: use letters, digits, `-` and `.`, at most 255 characters"
    )]
    BadHostname(String),
}

impl ServerConfig {
    /// The defaults for a server called `hostname` (its fully qualified
    /// domain name, used in the greeting, `Received:` and `421` replies).
    pub fn new(hostname: &str) -> Result<Self, ServerConfigError> {
        let valid = !hostname.is_empty()
            && hostname.len() <= MAX_HELO_NAME
            && hostname.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'));
        if !valid {
            return Err(ServerConfigError::BadHostname(hostname.escape_debug().to_string()));
        }
        Ok(ServerConfig {
            hostname: hostname.to_owned(),
            greeting_text: "smarthost ready".into(),
            max_message_size: Some(50 * 1024 * 1024),
            max_recipients: 1000,
            max_hops: 25,
            max_bad_commands: 25,
            syntax: SyntaxMode::Compatible,
            sendmail_status_codes: false,
            tls_available: false,
            auth: None,
            require_auth: false,
            chunking: true,
            smtputf8: true,
            dsn: true,
            help: true,
            vrfy: false,
            expn: false,
            ask: Ask::default(),
            timeouts: Timeouts::default(),
        })
    }

    /// The server's host name.
    pub fn hostname(&self) -> &str {
        &self.hostname
    }
}
