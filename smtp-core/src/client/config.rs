//! What a [`ClientSession`](super::ClientSession) is told before it starts.

use std::num::NonZeroUsize;
use std::time::Duration;

use smarthost_authinfo::{AuthPolicy, Credentials, DEFAULT_MECHANISMS};

/// How the client uses TLS (smtp.md §7, authinfo.md §4).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum TlsPolicy {
    /// Never send `STARTTLS`, even when offered.
    Disabled,
    /// Use `STARTTLS` when the server offers it and go on in clear when it
    /// does not, or when it answers `STARTTLS` with an error. A failed
    /// handshake still fails the connection (it is unusable); the caller
    /// may reconnect with [`TlsPolicy::Disabled`] if its policy allows.
    #[default]
    Opportunistic,
    /// Use `STARTTLS`; a server that does not offer it, or refuses it, is a
    /// [`FailureKind::Tls`](super::FailureKind::Tls) failure.
    Required,
    /// TLS from the first byte (port 465, RFC 8314): the session asks for
    /// the handshake before the greeting and never sends `STARTTLS`.
    Implicit,
}

/// Credentials for `AUTH` and the rules for using them (authinfo.md §3–4).
#[derive(Clone, Debug)]
pub struct ClientAuth {
    /// The identities and secret, from the AuthInfo entry of this server.
    pub credentials: Credentials,
    /// The candidate mechanisms: the entry's `M:` list, or
    /// [`DEFAULT_MECHANISMS`] when it has none.
    pub mechanisms: Vec<String>,
    /// Cleartext and failure policy; the default is the safe one.
    pub policy: AuthPolicy,
    /// The route requires AUTH (a mailer's `auth = "required"`): a server
    /// that offers no AUTH after EHLO (and STARTTLS) fails the connection
    /// with [`FailureKind::Auth`](crate::FailureKind::Auth), `454 4.7.0`, so
    /// the caller tries the next host instead of sending unauthenticated.
    /// Off, such a server gets the mail without AUTH, as sendmail does.
    pub required: bool,
}

impl ClientAuth {
    /// Credentials with the default mechanisms and the safe policy.
    pub fn new(credentials: Credentials) -> Self {
        ClientAuth {
            credentials,
            mechanisms: DEFAULT_MECHANISMS.iter().map(|m| (*m).to_owned()).collect(),
            policy: AuthPolicy::default(),
            required: false,
        }
    }
}

/// How long the client waits for each reply (smtp.md §6).
///
/// The defaults are the spec's. [`ClientTimeouts::clamped`] raises values
/// below the RFC 5321 minimums, for a configuration loader to warn about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientTimeouts {
    /// TCP connect, per address (used by the driver): 30 s.
    pub connect: Duration,
    /// The initial `220`: 5 min.
    pub initial: Duration,
    /// The reply to `EHLO` / `HELO`: 5 min.
    pub hello: Duration,
    /// The reply to `STARTTLS` and the handshake after it: 5 min.
    pub starttls: Duration,
    /// Each step of an `AUTH` exchange: 5 min.
    pub auth: Duration,
    /// The reply to `MAIL`: 5 min.
    pub mail: Duration,
    /// The reply to each `RCPT`: 5 min.
    pub rcpt: Duration,
    /// The `354` after `DATA`: 2 min.
    pub data_init: Duration,
    /// Each write of content (the driver bounds every write with it), and the
    /// reply to a `BDAT` chunk that is not the last: 3 min.
    pub data_block: Duration,
    /// The reply after the final `.` or `BDAT … LAST`: 10 min. A timeout
    /// here may mean the server has the message: the result says "possible
    /// duplicate" (spec O2).
    pub data_final: Duration,
    /// The reply to `RSET`: 5 min.
    pub rset: Duration,
    /// The reply to `QUIT`: 2 min.
    pub quit: Duration,
}

impl Default for ClientTimeouts {
    fn default() -> Self {
        let minutes = |m: u64| Duration::from_secs(m * 60);
        ClientTimeouts {
            connect: Duration::from_secs(30),
            initial: minutes(5),
            hello: minutes(5),
            starttls: minutes(5),
            auth: minutes(5),
            mail: minutes(5),
            rcpt: minutes(5),
            data_init: minutes(2),
            data_block: minutes(3),
            data_final: minutes(10),
            rset: minutes(5),
            quit: minutes(2),
        }
    }
}

impl ClientTimeouts {
    /// The timeouts with every value below the RFC 5321 §4.5.3.2 minimum
    /// raised to it (initial, MAIL, RCPT 5 min; DATA 2 min; data block
    /// 3 min; data final 10 min), and the names of the raised ones.
    ///
    /// ```
    /// use std::time::Duration;
    /// use smarthost_smtp_core::ClientTimeouts;
    /// let short = ClientTimeouts { data_final: Duration::from_secs(60), ..ClientTimeouts::default() };
    /// let (timeouts, raised) = short.clamped();
    /// assert_eq!((timeouts.data_final.as_secs(), raised), (600, vec!["data_final"]));
    /// ```
    pub fn clamped(self) -> (ClientTimeouts, Vec<&'static str>) {
        let defaults = ClientTimeouts::default();
        let mut out = self;
        let mut raised = Vec::new();
        for (name, slot, minimum) in [
            ("initial", &mut out.initial, defaults.initial),
            ("mail", &mut out.mail, defaults.mail),
            ("rcpt", &mut out.rcpt, defaults.rcpt),
            ("data_init", &mut out.data_init, defaults.data_init),
            ("data_block", &mut out.data_block, defaults.data_block),
            ("data_final", &mut out.data_final, defaults.data_final),
        ] {
            if *slot < minimum {
                *slot = minimum;
                raised.push(name);
            }
        }
        (out, raised)
    }
}

/// Caps on what the client sends in one transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientLimits {
    /// Most recipients in one transaction; the rest go in the next one on
    /// the same connection. Default 100, which RFC 5321 §4.5.3.1.8 obliges
    /// every server to accept.
    pub max_recipients: NonZeroUsize,
    /// Largest `BDAT` chunk. A message up to this size goes as one
    /// `BDAT n LAST`. Default 1 MiB.
    pub bdat_chunk: NonZeroUsize,
}

impl Default for ClientLimits {
    fn default() -> Self {
        const HUNDRED: NonZeroUsize = NonZeroUsize::new(100).unwrap();
        const MEBIBYTE: NonZeroUsize = NonZeroUsize::new(1 << 20).unwrap();
        ClientLimits { max_recipients: HUNDRED, bdat_chunk: MEBIBYTE }
    }
}

/// Everything a [`ClientSession`](super::ClientSession) needs to know.
///
/// ```
/// use smarthost_smtp_core::{ClientConfig, TlsPolicy};
/// let config = ClientConfig { tls: TlsPolicy::Required, ..ClientConfig::new("relay.example.org") };
/// assert!(config.auth.is_none() && !config.allow_bdat);
/// ```
#[derive(Clone, Debug)]
pub struct ClientConfig {
    /// Our host name, sent with `EHLO`/`HELO`: a fully qualified domain name
    /// or an address literal (`[192.0.2.1]`).
    pub ehlo_name: String,
    /// When to use TLS.
    pub tls: TlsPolicy,
    /// `AUTH` credentials for this server, if there is an AuthInfo entry.
    pub auth: Option<ClientAuth>,
    /// Send content with `BDAT` when the server offers `CHUNKING`
    /// (RFC 3030). Off by default: `DATA` is what every server knows best.
    pub allow_bdat: bool,
    /// Reply deadlines.
    pub timeouts: ClientTimeouts,
    /// Transaction caps.
    pub limits: ClientLimits,
}

impl ClientConfig {
    /// Opportunistic TLS, no AUTH, no BDAT, the default timeouts and limits.
    pub fn new(ehlo_name: impl Into<String>) -> Self {
        ClientConfig {
            ehlo_name: ehlo_name.into(),
            tls: TlsPolicy::default(),
            auth: None,
            allow_bdat: false,
            timeouts: ClientTimeouts::default(),
            limits: ClientLimits::default(),
        }
    }
}

/// Why a [`ClientConfig`] cannot be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ClientConfigError {
    /// The EHLO name is empty or holds a space or control character.
    #[error(
        "EHLO name {0:?} is not a domain name or address literal; set it to this host's fully \
         qualified name, such as `relay.example.org`"
    )]
    BadEhloName(String),
}

impl ClientConfig {
    pub(crate) fn check(&self) -> Result<(), ClientConfigError> {
        let name = &self.ehlo_name;
        let valid = !name.is_empty()
            && name.len() <= 255
            && name.bytes().all(|b| b.is_ascii_graphic() || b >= 0x80)
            && !name.contains(['<', '>']);
        if valid { Ok(()) } else { Err(ClientConfigError::BadEhloName(name.clone())) }
    }
}
