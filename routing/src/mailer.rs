//! Mailers: the named delivery profiles a route refers to (sendmail's `M`
//! lines, reduced to what an operator of a relay cares about).

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

/// How a mailer delivers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MailerKind {
    /// SMTP to the route's hosts.
    Smtp,
    /// Local delivery.
    Local,
    /// A program (`prog`: aliases `"|command"`).
    Prog,
    /// The built-in error mailer.
    Error,
}

/// TLS towards the next hop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TlsPolicy {
    /// Never STARTTLS.
    None,
    /// STARTTLS when offered; deliver in clear text otherwise.
    Opportunistic,
    /// STARTTLS must succeed with a verified certificate, or the attempt fails.
    Required,
    /// TLS from the first byte (port 465, RFC 8314).
    Implicit,
}

/// SMTP AUTH towards the next hop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthPolicy {
    /// Never authenticate.
    None,
    /// Authenticate when the server offers AUTH and an AuthInfo entry exists.
    IfOffered,
    /// Authentication must succeed, or the attempt fails.
    Required,
}

/// A delivery profile.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mailer {
    /// The name routes use (lower case).
    pub name: String,
    /// How it delivers.
    pub kind: MailerKind,
    /// The TCP port (sendmail: `A=TCP $h PORT`).
    pub port: u16,
    /// TLS policy.
    pub tls: TlsPolicy,
    /// Whether certificates are verified. Turning this off is
    /// `dangerous_accept_invalid_certs` in configuration.
    pub verify_certificates: bool,
    /// AUTH policy.
    pub auth: AuthPolicy,
}

impl Mailer {
    fn smtp(name: &str, port: u16, tls: TlsPolicy, auth: AuthPolicy) -> Self {
        Self { name: name.into(), kind: MailerKind::Smtp, port, tls, verify_certificates: true, auth }
    }

    fn builtin(name: &str, kind: MailerKind) -> Self {
        Self {
            name: name.into(),
            kind,
            port: 0,
            tls: TlsPolicy::None,
            verify_certificates: true,
            auth: AuthPolicy::None,
        }
    }
}

/// The mailers a configuration defines, starting from sendmail's standard
/// set plus two named extensions.
///
/// | name | port | TLS | AUTH |
/// | --- | --- | --- | --- |
/// | `smtp`, `esmtp`, `smtp8`, `dsmtp`, `relay` | 25 | opportunistic | if offered |
/// | `submission` \[EXT\] | 587 | required | required |
/// | `smtps` \[EXT\] | 465 | implicit | required |
/// | `local`, `prog`, `error` | – | – | – |
///
/// sendmail's `RELAY_MAILER_ARGS` `TCP $h 587` is `relay` with port 587:
///
/// ```
/// use smarthost_routing::Mailers;
///
/// let mut mailers = Mailers::standard();
/// mailers.get_mut("relay").unwrap().port = 587;
/// assert_eq!(mailers.get("RELAY").unwrap().port, 587);
/// assert!(mailers.get("nosuchmailer").is_none());
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mailers {
    // Shared, so that a route carries its mailer without copying it.
    mailers: BTreeMap<String, Arc<Mailer>>,
}

impl Mailers {
    /// sendmail's standard mailers and the `submission` and `smtps` extensions.
    pub fn standard() -> Self {
        use AuthPolicy::{IfOffered, Required};
        use TlsPolicy::{Implicit, Opportunistic, Required as TlsRequired};
        let mut mailers = BTreeMap::new();
        for mailer in [
            Mailer::smtp("smtp", 25, Opportunistic, IfOffered),
            Mailer::smtp("esmtp", 25, Opportunistic, IfOffered),
            Mailer::smtp("smtp8", 25, Opportunistic, IfOffered),
            Mailer::smtp("dsmtp", 25, Opportunistic, IfOffered),
            Mailer::smtp("relay", 25, Opportunistic, IfOffered),
            Mailer::smtp("submission", 587, TlsRequired, Required),
            Mailer::smtp("smtps", 465, Implicit, Required),
            Mailer::builtin("local", MailerKind::Local),
            Mailer::builtin("prog", MailerKind::Prog),
            Mailer::builtin("error", MailerKind::Error),
        ] {
            mailers.insert(mailer.name.clone(), Arc::new(mailer));
        }
        Self { mailers }
    }

    /// The mailer called `name` (case-insensitive, as in sendmail).
    pub fn get(&self, name: &str) -> Option<&Mailer> {
        self.shared(name).map(|mailer| &**mailer)
    }

    /// The mailer called `name`, shared.
    pub fn shared(&self, name: &str) -> Option<&Arc<Mailer>> {
        if name.bytes().any(|b| b.is_ascii_uppercase()) {
            self.mailers.get(&name.to_ascii_lowercase())
        } else {
            self.mailers.get(name)
        }
    }

    /// The mailer called `name`, to change it.
    pub fn get_mut(&mut self, name: &str) -> Option<&mut Mailer> {
        self.mailers.get_mut(&name.to_ascii_lowercase()).map(Arc::make_mut)
    }

    /// Adds or replaces a mailer.
    pub fn insert(&mut self, mut mailer: Mailer) {
        mailer.name.make_ascii_lowercase();
        self.mailers.insert(mailer.name.clone(), Arc::new(mailer));
    }

    /// Every mailer, by name.
    pub fn iter(&self) -> impl Iterator<Item = &Mailer> {
        self.mailers.values().map(|mailer| &**mailer)
    }
}

impl Default for Mailers {
    fn default() -> Self {
        Self::standard()
    }
}

/// A policy name that is not one of the allowed ones.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} `{name}`; expected one of: {expected}")]
pub struct UnknownPolicy {
    what: &'static str,
    name: String,
    expected: &'static str,
}

impl FromStr for TlsPolicy {
    type Err = UnknownPolicy;

    /// The configuration names: `none`, `opportunistic`, `required`, `implicit`.
    fn from_str(name: &str) -> Result<Self, Self::Err> {
        match name {
            "none" => Ok(Self::None),
            "opportunistic" => Ok(Self::Opportunistic),
            "required" => Ok(Self::Required),
            "implicit" => Ok(Self::Implicit),
            _ => Err(UnknownPolicy {
                what: "TLS policy",
                name: name.into(),
                expected: "none, opportunistic, required, implicit",
            }),
        }
    }
}

impl FromStr for AuthPolicy {
    type Err = UnknownPolicy;

    /// The configuration names: `none`, `if-offered`, `required`.
    fn from_str(name: &str) -> Result<Self, Self::Err> {
        match name {
            "none" => Ok(Self::None),
            "if-offered" => Ok(Self::IfOffered),
            "required" => Ok(Self::Required),
            _ => Err(UnknownPolicy {
                what: "AUTH policy",
                name: name.into(),
                expected: "none, if-offered, required",
            }),
        }
    }
}

impl fmt::Display for TlsPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::None => "none",
            Self::Opportunistic => "opportunistic",
            Self::Required => "required",
            Self::Implicit => "implicit",
        })
    }
}

impl fmt::Display for AuthPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::None => "none",
            Self::IfOffered => "if-offered",
            Self::Required => "required",
        })
    }
}
