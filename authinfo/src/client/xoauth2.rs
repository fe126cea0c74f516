//! XOAUTH2: `user=USER ^A auth=Bearer TOKEN ^A ^A` in one step.

use super::{Credentials, Mechanism, SaslError, Step, peer_text};
use crate::Secret;

/// The XOAUTH2 stepper. The token is the credentials' secret; fetch it with a
/// [`TokenProvider`](super::TokenProvider) before starting.
///
/// On failure the server sends a base64 JSON error document as a `334`
/// challenge; the client must answer with an empty response, after which the
/// server sends the final failure reply.
#[derive(Debug)]
pub(crate) struct XOAuth2 {
    message: Secret,
    state: State,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Start,
    Sent,
    ErrorAcknowledged,
}

impl XOAuth2 {
    pub(crate) fn new(credentials: &Credentials) -> Self {
        let token = credentials.secret.expose();
        let mut message = Vec::with_capacity(credentials.authcid.len() + token.len() + 22);
        message.extend_from_slice(b"user=");
        message.extend_from_slice(credentials.authcid.as_bytes());
        message.extend_from_slice(b"\x01auth=Bearer ");
        message.extend_from_slice(token);
        message.extend_from_slice(b"\x01\x01");
        Self { message: Secret::new(message), state: State::Start }
    }

    pub(crate) fn initial_response(&mut self) -> Result<Secret, SaslError> {
        if self.state != State::Start {
            return Err(SaslError::InitialResponseTwice { mechanism: Mechanism::XOAuth2 });
        }
        self.state = State::Sent;
        Ok(self.message.clone())
    }

    pub(crate) fn step(&mut self, challenge: &[u8]) -> Result<Step, SaslError> {
        match self.state {
            // `AUTH XOAUTH2` without an initial response: the server sends `334 `.
            State::Start if challenge.is_empty() => {
                self.state = State::Sent;
                Ok(Step::Respond(self.message.clone()))
            }
            State::Start | State::Sent => {
                self.state = State::ErrorAcknowledged;
                Ok(Step::AcknowledgeError { response: Secret::new(Vec::new()), detail: peer_text(challenge) })
            }
            State::ErrorAcknowledged => Err(SaslError::UnexpectedChallenge { mechanism: Mechanism::XOAuth2 }),
        }
    }
}
