//! The SMTP replies for server-side AUTH outcomes (RFC 4954 codes).

use std::fmt;

/// An SMTP reply line without its CRLF: code, enhanced status and text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AuthReply {
    /// The three-digit reply code.
    pub code: u16,
    /// The enhanced status code and text, e.g. `5.7.8 Authentication credentials invalid`.
    pub text: &'static str,
}

impl fmt::Display for AuthReply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.code, self.text)
    }
}

/// [`Outcome::Authenticated`](super::Outcome::Authenticated).
pub const AUTH_SUCCEEDED: AuthReply = AuthReply { code: 235, text: "2.7.0 Authentication successful" };

/// [`Outcome::Failed`](super::Outcome::Failed): wrong password, unknown
/// user, refused authzid, or a user whose stored form the mechanism cannot use.
pub const AUTH_FAILED: AuthReply = AuthReply { code: 535, text: "5.7.8 Authentication credentials invalid" };

/// [`Outcome::Malformed`](super::Outcome::Malformed): the client's response
/// does not follow the mechanism's syntax.
pub const AUTH_MALFORMED: AuthReply =
    AuthReply { code: 501, text: "5.5.2 Malformed authentication response" };

/// [`StartError::EncryptionRequired`](super::StartError::EncryptionRequired):
/// PLAIN or LOGIN before TLS.
pub const AUTH_ENCRYPTION_REQUIRED: AuthReply =
    AuthReply { code: 538, text: "5.7.11 Encryption required for requested authentication mechanism" };

/// [`StartError::NotOffered`](super::StartError::NotOffered): unknown or
/// disabled mechanism.
pub const AUTH_MECHANISM_UNAVAILABLE: AuthReply =
    AuthReply { code: 504, text: "5.5.4 Unrecognized authentication type" };

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_as_reply_line() {
        assert_eq!(AUTH_FAILED.to_string(), "535 5.7.8 Authentication credentials invalid");
        assert_eq!(AUTH_MALFORMED.to_string(), "501 5.5.2 Malformed authentication response");
    }
}
