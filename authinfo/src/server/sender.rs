//! Sender-must-match-login: may an authenticated user send from this address?

use std::fmt;

/// Whether a listener checks `MAIL FROM` against the authenticated login.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SenderPolicy {
    /// Any sender is accepted.
    #[default]
    Any,
    /// A login `user` may send only from `user@D` where `D` is a local or
    /// relay domain; a login `user@domain` only from exactly that address
    /// (local part exact, domain case-insensitive). The null sender `<>` is
    /// refused (a user does not own it).
    MustMatchLogin,
}

/// The answer to [`check_sender`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SenderVerdict {
    /// The sender is acceptable.
    Allowed,
    /// The sender is refused with `553 5.7.1`.
    Refused {
        /// The envelope sender as given (`""` for `<>`).
        sender: String,
        /// The authenticated login.
        login: String,
    },
}

impl SenderVerdict {
    /// The SMTP reply code for a refusal.
    pub const REFUSED_CODE: u16 = 553;

    /// The reply line for a refusal (without CRLF), e.g.
    /// `553 5.7.1 Sender address <bob@example.org> not owned by user alice`.
    pub fn reply(&self) -> Option<String> {
        match self {
            Self::Allowed => None,
            Self::Refused { .. } => Some(self.to_string()),
        }
    }
}

impl fmt::Display for SenderVerdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Allowed => f.write_str("allowed"),
            Self::Refused { sender, login } => {
                write!(f, "{} 5.7.1 Sender address <{sender}> not owned by user {login}", Self::REFUSED_CODE)
            }
        }
    }
}

/// Checks an envelope sender (without angle brackets; `""` for `<>`)
/// against the authenticated `login`.
///
/// `is_local_or_relay(domain)` says whether the relay accepts mail for the
/// domain as local or relay domain; it is asked only for logins without a
/// domain, and gets the domain as written.
///
/// ```
/// use smarthost_authinfo::server::{SenderPolicy, SenderVerdict, check_sender};
///
/// let local = |d: &str| d.eq_ignore_ascii_case("example.org");
/// let ok = check_sender(SenderPolicy::MustMatchLogin, "alice", "alice@Example.ORG", local);
/// assert_eq!(ok, SenderVerdict::Allowed);
/// let no = check_sender(SenderPolicy::MustMatchLogin, "alice", "bob@example.org", local);
/// assert_eq!(
///     no.reply().unwrap(),
///     "553 5.7.1 Sender address <bob@example.org> not owned by user alice"
/// );
/// ```
pub fn check_sender(
    policy: SenderPolicy,
    login: &str,
    sender: &str,
    is_local_or_relay: impl Fn(&str) -> bool,
) -> SenderVerdict {
    if policy == SenderPolicy::Any || is_owned(login, sender, is_local_or_relay) {
        return SenderVerdict::Allowed;
    }
    SenderVerdict::Refused { sender: sender.to_owned(), login: login.to_owned() }
}

fn is_owned(login: &str, sender: &str, is_local_or_relay: impl Fn(&str) -> bool) -> bool {
    let Some((local, domain)) = sender.rsplit_once('@') else {
        // `<>` or an unqualified address: not provably the user's.
        return false;
    };
    if domain.is_empty() {
        return false;
    }
    match login.rsplit_once('@') {
        Some((login_local, login_domain)) => {
            local == login_local && domain.eq_ignore_ascii_case(login_domain)
        }
        None => local == login && is_local_or_relay(domain),
    }
}
