//! Mechanism selection (authinfo.md §3, §4).

use super::Mechanism;
use super::outcome::Disposition;

/// The configured default candidate list, used when an entry has no `M:`.
///
/// authinfo.md §3 suggests `SCRAM-SHA-256 CRAM-MD5 PLAIN LOGIN`; the PLUS
/// variant is added in front because it is only ever chosen over TLS 1.3 with
/// an exporter. XOAUTH2 is left out: it needs a token, so an entry asks for it
/// with `M:XOAUTH2`.
pub const DEFAULT_MECHANISMS: [&str; 5] =
    ["SCRAM-SHA-256-PLUS", "SCRAM-SHA-256", "CRAM-MD5", "PLAIN", "LOGIN"];

/// The security of the connection AUTH would run on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Transport {
    /// No TLS: PLAIN, LOGIN and XOAUTH2 are refused unless
    /// [`AuthPolicy::dangerous_allow_cleartext_without_tls`] is set.
    Cleartext,
    /// TLS 1.2 (or TLS 1.3 without an exporter): no channel binding.
    Tls,
    /// TLS 1.3 with its RFC 9266 `tls-exporter` value, which enables
    /// SCRAM-SHA-256-PLUS. With rustls: `export_keying_material(&mut [0u8; 32],
    /// b"EXPORTER-Channel-Binding", None)`. Only pass it for TLS 1.3 sessions.
    Tls13 {
        /// The 32 exporter bytes.
        exporter: Vec<u8>,
    },
}

impl Transport {
    /// Whether the connection is TLS-protected.
    pub fn is_tls(&self) -> bool {
        !matches!(self, Transport::Cleartext)
    }

    fn exporter(&self) -> Option<&[u8]> {
        match self {
            Transport::Tls13 { exporter } if !exporter.is_empty() => Some(exporter),
            _ => None,
        }
    }
}

/// Local AUTH policy. The default is the safe one; every weakening flag starts
/// with `dangerous_`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuthPolicy {
    /// Allow PLAIN, LOGIN and XOAUTH2 on a connection without TLS (sendmail
    /// sends PLAIN in clear, authinfo.md §4, V15). Off by default.
    pub dangerous_allow_cleartext_without_tls: bool,
    /// After the server rejects the credentials (5xx), continue the SMTP
    /// transaction unauthenticated, as sendmail does (authinfo.md §3, V16),
    /// instead of deferring the message with 4.7.0. Off by default.
    pub dangerous_continue_unauthenticated_after_failure: bool,
}

impl AuthPolicy {
    /// sendmail 8.18 compatibility: both `dangerous_` flags on.
    pub fn sendmail_compatible() -> Self {
        Self {
            dangerous_allow_cleartext_without_tls: true,
            dangerous_continue_unauthenticated_after_failure: true,
        }
    }
}

/// A mechanism the chooser selected, with its channel-binding decision.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Selected {
    mechanism: Mechanism,
    channel_binding: ChannelBinding,
}

impl Selected {
    /// The selected mechanism.
    pub fn mechanism(&self) -> Mechanism {
        self.mechanism
    }

    pub(crate) fn channel_binding(&self) -> &ChannelBinding {
        &self.channel_binding
    }

    #[cfg(test)]
    pub(crate) fn new_for_test(mechanism: Mechanism, channel_binding: ChannelBinding) -> Self {
        Self { mechanism, channel_binding }
    }
}

/// The SCRAM gs2 channel-binding flag (RFC 5802 §6).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum ChannelBinding {
    /// `n`: the client cannot bind (no TLS 1.3 exporter), or it deliberately
    /// does not although the server offered PLUS.
    Unsupported,
    /// `y`: the client could bind but the server did not advertise a PLUS mechanism.
    NotAdvertised,
    /// `p=tls-exporter` with the exporter bytes.
    TlsExporter(Vec<u8>),
}

/// The chooser's verdict.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Choice {
    /// Authenticate with this mechanism.
    Chosen(Selected),
    /// No mechanism is both a candidate and offered by the server. sendmail
    /// treats this as a temporary failure (authinfo.md §3, V8).
    NoCommonMechanism {
        /// The candidate list as given (entry `M:` or the default).
        candidates: Vec<String>,
        /// The server's `AUTH` list as given.
        offered: Vec<String>,
    },
    /// Only mechanisms that expose the secret are common, and the connection
    /// has no TLS: nothing was sent. A temporary failure (authinfo.md §4 rule 2).
    RefusedWithoutTls {
        /// The common mechanisms that would need TLS, strongest first.
        mechanisms: Vec<Mechanism>,
    },
}

impl Choice {
    /// What the driver does when the verdict is not [`Choice::Chosen`];
    /// `None` means "go ahead and authenticate".
    pub fn disposition(&self) -> Option<Disposition> {
        match self {
            Choice::Chosen(_) => None,
            Choice::NoCommonMechanism { .. } | Choice::RefusedWithoutTls { .. } => {
                Some(Disposition::DeferTemporary)
            }
        }
    }
}

/// Picks the strongest mechanism that is a candidate, offered by the server and
/// allowed on this transport.
///
/// Strength order: SCRAM-SHA-256-PLUS, SCRAM-SHA-256, CRAM-MD5, PLAIN, LOGIN,
/// XOAUTH2 (the order of [`Mechanism`]), regardless of the candidate list's
/// order. Names compare case-insensitively; candidates we do not implement
/// (GSSAPI, DIGEST-MD5, ...) are ignored. PLUS needs [`Transport::Tls13`].
///
/// ```
/// use smarthost_authinfo::{AuthPolicy, Choice, Mechanism, Transport, choose_mechanism};
///
/// // V15: only PLAIN in common and no TLS.
/// let choice = choose_mechanism(["PLAIN"], ["PLAIN", "LOGIN"], &Transport::Cleartext, &AuthPolicy::default());
/// assert_eq!(choice, Choice::RefusedWithoutTls { mechanisms: vec![Mechanism::Plain] });
/// ```
pub fn choose_mechanism<C, S, O, T>(
    candidates: C,
    offered: O,
    transport: &Transport,
    policy: &AuthPolicy,
) -> Choice
where
    C: IntoIterator<Item = S>,
    S: AsRef<str>,
    O: IntoIterator<Item = T>,
    T: AsRef<str>,
{
    let candidates: Vec<String> = candidates.into_iter().map(|c| c.as_ref().to_owned()).collect();
    let offered: Vec<String> = offered.into_iter().map(|o| o.as_ref().to_owned()).collect();
    let is_offered = |m: Mechanism| offered.iter().any(|o| o.eq_ignore_ascii_case(m.name()));
    let exporter = transport.exporter();

    let mut common: Vec<Mechanism> = candidates
        .iter()
        .filter_map(|c| Mechanism::from_name(c))
        .filter(|&m| is_offered(m))
        .filter(|&m| m != Mechanism::ScramSha256Plus || exporter.is_some())
        .collect();
    common.sort_unstable();
    common.dedup();
    if common.is_empty() {
        return Choice::NoCommonMechanism { candidates, offered };
    }
    let allowed = |m: &Mechanism| {
        !m.is_cleartext() || transport.is_tls() || policy.dangerous_allow_cleartext_without_tls
    };
    let Some(&mechanism) = common.iter().find(|m| allowed(m)) else {
        return Choice::RefusedWithoutTls { mechanisms: common };
    };
    let channel_binding = match (mechanism, exporter) {
        (Mechanism::ScramSha256Plus, Some(data)) => ChannelBinding::TlsExporter(data.to_vec()),
        (Mechanism::ScramSha256, Some(_)) if !is_offered(Mechanism::ScramSha256Plus) => {
            ChannelBinding::NotAdvertised
        }
        _ => ChannelBinding::Unsupported,
    };
    Choice::Chosen(Selected { mechanism, channel_binding })
}
