//! Classification of the server's final AUTH reply, and what to do next.

use super::AuthPolicy;

/// The meaning of the server's final reply to an AUTH exchange.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthOutcome {
    /// `235`: authenticated (confirm with `ClientMechanism::handle_success`).
    Authenticated,
    /// `4xx` (e.g. `454 4.7.0`, `432 4.7.12`): try later or the next host.
    TemporaryFailure {
        /// The reply code.
        code: u16,
    },
    /// `5xx` (e.g. `535 5.7.8`, `534 5.7.9`): the credentials or the mechanism were
    /// refused. Report it loudly and do not retry with a weaker mechanism.
    PermanentFailure {
        /// The reply code.
        code: u16,
    },
    /// Any other code (a `2xx` other than 235, a `3xx`, nonsense): a protocol
    /// error, handled like a temporary failure.
    UnexpectedReply {
        /// The reply code.
        code: u16,
    },
}

/// What the SMTP client does after AUTH.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Disposition {
    /// Go on with `MAIL FROM`, authenticated.
    ContinueAuthenticated,
    /// Go on with `MAIL FROM` without authentication (sendmail compatibility only).
    ContinueUnauthenticated,
    /// Quit and keep the message queued ("Temporary AUTH failure"); another MX may be tried.
    DeferTemporary,
    /// The server rejected our credentials: defer the message with `4.7.0` and
    /// tell the operator loudly (authinfo.md §3 \[REC\], V16).
    DeferCredentialsRejected,
}

impl AuthOutcome {
    /// Classifies a final reply code.
    ///
    /// ```
    /// use smarthost_authinfo::{AuthOutcome, AuthPolicy, Disposition};
    ///
    /// let outcome = AuthOutcome::from_reply_code(535);
    /// assert_eq!(outcome, AuthOutcome::PermanentFailure { code: 535 });
    /// assert_eq!(outcome.disposition(&AuthPolicy::default()), Disposition::DeferCredentialsRejected);
    /// ```
    pub fn from_reply_code(code: u16) -> Self {
        match code {
            235 => AuthOutcome::Authenticated,
            400..=499 => AuthOutcome::TemporaryFailure { code },
            500..=599 => AuthOutcome::PermanentFailure { code },
            _ => AuthOutcome::UnexpectedReply { code },
        }
    }

    /// What to do next under `policy`.
    pub fn disposition(&self, policy: &AuthPolicy) -> Disposition {
        match self {
            AuthOutcome::Authenticated => Disposition::ContinueAuthenticated,
            AuthOutcome::TemporaryFailure { .. } | AuthOutcome::UnexpectedReply { .. } => {
                Disposition::DeferTemporary
            }
            AuthOutcome::PermanentFailure { .. }
                if policy.dangerous_continue_unauthenticated_after_failure =>
            {
                Disposition::ContinueUnauthenticated
            }
            AuthOutcome::PermanentFailure { .. } => Disposition::DeferCredentialsRejected,
        }
    }
}
