//! Server-side SMTP AUTH for the submission listeners.
//!
//! * [`ServerCredentials`]: the `login[@domain]  password` file, with plain
//!   passwords or `$6$` / `$argon2id$` / bcrypt hashes or SCRAM-SHA-256 keys.
//! * [`ServerSasl`]: PLAIN, LOGIN, CRAM-MD5 and SCRAM-SHA-256 as sans-IO
//!   steppers on raw bytes; the SMTP driver does base64 and `334` lines.
//! * [`offered_mechanisms`]: what to list after `250-AUTH`.
//! * [`check_sender`]: the sender-must-match-login policy.
//!
//! No IO happens here except [`ServerCredentials::load`] reading its file.

mod credentials;
mod replies;
mod sasl;
mod scram;
mod sender;
mod stored;
#[cfg(test)]
mod tests;

pub use credentials::{CredentialsError, ServerCredentials};
pub use replies::{
    AUTH_ENCRYPTION_REQUIRED, AUTH_FAILED, AUTH_MALFORMED, AUTH_MECHANISM_UNAVAILABLE, AUTH_SUCCEEDED,
    AuthReply,
};
pub use sasl::{
    AuthContext, AuthPolicy, Mechanism, Outcome, ServerSasl, StartError, Step, UnknownMechanism,
    offered_mechanisms,
};
pub use sender::{SenderPolicy, SenderVerdict, check_sender};
pub use stored::{SCRAM_PLAIN_ITERATIONS, ScramKeys, ScramKeysParseError, StoredPassword};
