//! CRAM-MD5 (RFC 2195): `user SP hex(HMAC-MD5(password, challenge))`.

use hmac::{Hmac, KeyInit, Mac};
use md5::Md5;

use super::{Credentials, Mechanism, SaslError, Step};
use crate::Secret;

/// The CRAM-MD5 stepper: one challenge, one response.
#[derive(Debug)]
pub(crate) struct CramMd5 {
    user: String,
    password: Secret,
    done: bool,
}

impl CramMd5 {
    pub(crate) fn new(credentials: &Credentials) -> Self {
        Self { user: credentials.authcid.clone(), password: credentials.secret.clone(), done: false }
    }

    pub(crate) fn step(&mut self, challenge: &[u8]) -> Result<Step, SaslError> {
        if self.done {
            return Err(SaslError::UnexpectedChallenge { mechanism: Mechanism::CramMd5 });
        }
        if challenge.is_empty() {
            return Err(SaslError::MalformedChallenge {
                mechanism: Mechanism::CramMd5,
                reason: "the challenge is empty",
            });
        }
        self.done = true;
        // HMAC accepts keys of any length (long keys are hashed first).
        let mut mac = <Hmac<Md5> as KeyInit>::new_from_slice(self.password.expose())
            .expect("HMAC accepts keys of any length");
        mac.update(challenge);
        let digest = mac.finalize().into_bytes();
        let mut response = Vec::with_capacity(self.user.len() + 1 + 32);
        response.extend_from_slice(self.user.as_bytes());
        response.push(b' ');
        push_hex(&mut response, &digest);
        Ok(Step::Respond(Secret::new(response)))
    }
}

fn push_hex(out: &mut Vec<u8>, bytes: &[u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)]);
        out.push(DIGITS[usize::from(b & 0x0f)]);
    }
}
