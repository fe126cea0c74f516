//! PLAIN (RFC 4616): `authzid NUL authcid NUL password` in one step.

use super::{Credentials, Mechanism, SaslError, Step};
use crate::Secret;

/// The PLAIN stepper. The message is built once, at construction.
#[derive(Debug)]
pub(crate) struct Plain {
    message: Secret,
    sent: bool,
}

impl Plain {
    /// Builds the message; the authzid is empty unless it was given and differs
    /// from the authcid (authinfo.md §5.1 \[REC\]).
    pub(crate) fn new(credentials: &Credentials) -> Result<Self, SaslError> {
        let authzid = credentials.effective_authzid().unwrap_or("");
        let password = credentials.secret.expose();
        for (field, bytes) in [
            ("authzid", authzid.as_bytes()),
            ("authcid", credentials.authcid.as_bytes()),
            ("password", password),
        ] {
            if bytes.contains(&0) {
                return Err(SaslError::NulInCredential { mechanism: Mechanism::Plain, field });
            }
        }
        let mut message = Vec::with_capacity(authzid.len() + credentials.authcid.len() + password.len() + 2);
        message.extend_from_slice(authzid.as_bytes());
        message.push(0);
        message.extend_from_slice(credentials.authcid.as_bytes());
        message.push(0);
        message.extend_from_slice(password);
        Ok(Self { message: Secret::new(message), sent: false })
    }

    pub(crate) fn initial_response(&mut self) -> Result<Secret, SaslError> {
        if self.sent {
            return Err(SaslError::InitialResponseTwice { mechanism: Mechanism::Plain });
        }
        self.sent = true;
        Ok(self.message.clone())
    }

    /// Answers the empty `334 ` of `AUTH PLAIN` without an initial response.
    pub(crate) fn step(&mut self, challenge: &[u8]) -> Result<Step, SaslError> {
        if self.sent {
            return Err(SaslError::UnexpectedChallenge { mechanism: Mechanism::Plain });
        }
        if !challenge.is_empty() {
            return Err(SaslError::MalformedChallenge {
                mechanism: Mechanism::Plain,
                reason: "PLAIN expects an empty challenge",
            });
        }
        self.sent = true;
        Ok(Step::Respond(self.message.clone()))
    }
}
