//! LOGIN (draft-murchison-sasl-login): user name, then password, by position.

use super::{Credentials, Mechanism, SaslError, Step};
use crate::Secret;

/// The LOGIN stepper. Prompt texts are ignored (servers vary: `Username:`,
/// `User Name\0`); the first challenge gets the user name, the second the
/// password. LOGIN carries no authzid.
#[derive(Debug)]
pub(crate) struct Login {
    user: String,
    password: Secret,
    state: State,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    AwaitingUsernamePrompt,
    AwaitingPasswordPrompt,
    Done,
}

impl Login {
    pub(crate) fn new(credentials: &Credentials) -> Self {
        Self {
            user: credentials.authcid.clone(),
            password: credentials.secret.clone(),
            state: State::AwaitingUsernamePrompt,
        }
    }

    pub(crate) fn step(&mut self, _prompt: &[u8]) -> Result<Step, SaslError> {
        match self.state {
            State::AwaitingUsernamePrompt => {
                self.state = State::AwaitingPasswordPrompt;
                Ok(Step::Respond(Secret::new(self.user.as_bytes().to_vec())))
            }
            State::AwaitingPasswordPrompt => {
                self.state = State::Done;
                Ok(Step::Respond(self.password.clone()))
            }
            State::Done => Err(SaslError::UnexpectedChallenge { mechanism: Mechanism::Login }),
        }
    }
}
