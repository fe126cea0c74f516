//! The mechanisms this client implements, by name and strength.

use std::fmt;

/// A client SASL mechanism, ordered strongest first.
///
/// The derived `Ord` is the preference order of [`choose_mechanism`](super::choose_mechanism):
/// `ScramSha256Plus < ScramSha256 < CramMd5 < Plain < Login < XOAuth2`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Mechanism {
    /// `SCRAM-SHA-256-PLUS` (RFC 5802, RFC 7677) bound to the TLS 1.3 `tls-exporter` (RFC 9266).
    ScramSha256Plus,
    /// `SCRAM-SHA-256` (RFC 5802, RFC 7677) without channel binding.
    ScramSha256,
    /// `CRAM-MD5` (RFC 2195).
    CramMd5,
    /// `PLAIN` (RFC 4616); the password travels in clear inside the session.
    Plain,
    /// `LOGIN` (draft-murchison-sasl-login); the password travels in clear.
    Login,
    /// `XOAUTH2` (Google/Microsoft); a bearer token travels in clear.
    XOAuth2,
}

impl Mechanism {
    /// Every mechanism, strongest first.
    pub const ALL: [Mechanism; 6] = [
        Mechanism::ScramSha256Plus,
        Mechanism::ScramSha256,
        Mechanism::CramMd5,
        Mechanism::Plain,
        Mechanism::Login,
        Mechanism::XOAuth2,
    ];

    /// The IANA name as it appears on the `AUTH` line.
    pub fn name(self) -> &'static str {
        match self {
            Mechanism::ScramSha256Plus => "SCRAM-SHA-256-PLUS",
            Mechanism::ScramSha256 => "SCRAM-SHA-256",
            Mechanism::CramMd5 => "CRAM-MD5",
            Mechanism::Plain => "PLAIN",
            Mechanism::Login => "LOGIN",
            Mechanism::XOAuth2 => "XOAUTH2",
        }
    }

    /// Looks a name up case-insensitively; `None` for mechanisms we do not
    /// implement (GSSAPI, DIGEST-MD5, EXTERNAL, ...).
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.name().eq_ignore_ascii_case(name))
    }

    /// Whether the mechanism exposes a reusable secret to anyone who can read
    /// the session, so that it may only run over TLS (authinfo.md §4).
    pub fn is_cleartext(self) -> bool {
        matches!(self, Mechanism::Plain | Mechanism::Login | Mechanism::XOAuth2)
    }
}

impl fmt::Display for Mechanism {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
