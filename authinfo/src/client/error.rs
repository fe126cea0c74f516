//! Errors of client-side SASL, grouped by who has to act.

use super::Mechanism;

/// Why a client SASL exchange cannot continue.
///
/// After any of these the driver sends `*` (if an exchange is in progress) and
/// treats the attempt as failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SaslError {
    // --- The server misbehaved (or is not who it claims to be). ---
    /// The server sent a challenge the mechanism does not expect at this point.
    #[error("{mechanism}: the server sent a challenge after the exchange was complete")]
    UnexpectedChallenge {
        /// The mechanism being run.
        mechanism: Mechanism,
    },
    /// A challenge could not be parsed.
    #[error("{mechanism}: malformed server challenge: {reason}")]
    MalformedChallenge {
        /// The mechanism being run.
        mechanism: Mechanism,
        /// What was wrong with it.
        reason: &'static str,
    },
    /// The SCRAM iteration count is outside what we accept.
    #[error(
        "SCRAM: the server asks for {iterations} PBKDF2 iterations; accepted are \
         {min}..={max} (RFC 7677 requires at least 4096)"
    )]
    IterationCount {
        /// The server's `i=` value.
        iterations: u64,
        /// The smallest count accepted.
        min: u32,
        /// The largest count accepted (a cap against CPU exhaustion).
        max: u32,
    },
    /// The SCRAM server signature (`v=`) did not verify.
    #[error(
        "SCRAM: the server signature does not verify, so the server does not know \
         the password (or someone is in the middle); not trusting this server"
    )]
    ServerSignatureMismatch,
    /// The SCRAM server reported an error (`e=`).
    #[error("SCRAM: the server reported `{0}`")]
    ServerError(String),
    /// A `235` arrived before a SCRAM server proved it knows the password.
    #[error(
        "{mechanism}: the server replied 235 without sending its SCRAM signature; \
         refusing to trust an unverified server"
    )]
    ServerNotVerified {
        /// The mechanism being run.
        mechanism: Mechanism,
    },

    // --- The operator has to fix the credentials. ---
    /// An identity or password contains a byte the mechanism cannot carry.
    #[error(
        "{mechanism}: the {field} contains a NUL byte, which the mechanism cannot carry; \
         fix the AuthInfo entry"
    )]
    NulInCredential {
        /// The mechanism being run.
        mechanism: Mechanism,
        /// `authzid`, `authcid` or `password`.
        field: &'static str,
    },
    /// SASLprep (RFC 4013, as implemented here) refused an identity or password.
    #[error(
        "SCRAM: the {field} {reason}; this client's SASLprep accepts printable ASCII only \
         (non-ASCII spaces become spaces, invisible characters are dropped); use an ASCII \
         {field} or another mechanism"
    )]
    Saslprep {
        /// `authzid`, `authcid` or `password`.
        field: &'static str,
        /// What was found.
        reason: &'static str,
    },
    /// The operating system's random source failed.
    #[error("SCRAM: cannot obtain a random nonce: {0}")]
    Random(String),

    // --- The caller misused the API. ---
    /// SCRAM-SHA-256-PLUS was started without a channel-binding value.
    #[error(
        "SCRAM-SHA-256-PLUS needs the TLS 1.3 `tls-exporter` value (32 bytes, label \
         `EXPORTER-Channel-Binding`, no context); pass it in `Transport::Tls13`"
    )]
    MissingChannelBinding,
    /// `initial_response` was called twice or after `step`.
    #[error("{mechanism}: initial_response called after the exchange started (caller bug)")]
    InitialResponseTwice {
        /// The mechanism being run.
        mechanism: Mechanism,
    },
}
