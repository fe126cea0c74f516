//! One SMTP AUTH exchange over authinfo's [`ServerSasl`] steppers: base64
//! and `334` lines here, SASL there.
//!
//! `ServerSasl` borrows the credentials for its lifetime, and the session
//! owns its configuration through an `Arc`, so the stepper cannot live in
//! the session between two client lines without a self-reference. The
//! exchange therefore keeps what it was started with and the client's
//! earlier responses, and rebuilds the stepper for each line. The steppers
//! are deterministic for a given [`AuthContext`] (its nonce included), so
//! the rebuilt one is in the same state. The only response that carries a
//! password is the last one of PLAIN, LOGIN and CRAM-MD5, which is never
//! kept.

use std::sync::Arc;
use std::time::Instant;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use smarthost_authinfo::server::{AuthContext, Mechanism, Outcome, ServerSasl, StartError, Step};

use crate::replies;
use crate::server::config::AuthConfig;
use crate::server::session::{Phase, ServerSession};

/// An exchange in progress, waiting for the client's next line.
#[derive(Debug)]
pub(crate) struct AuthExchange {
    mechanism: Mechanism,
    ctx: AuthContext,
    initial: Option<Vec<u8>>,
    responses: Vec<Vec<u8>>,
}

/// What the session does next.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum AuthStep {
    /// Send `334 <base64>` and wait for a line.
    Challenge(String),
    /// The exchange ended.
    Done(Outcome),
}

impl AuthExchange {
    /// Starts `mechanism` with the decoded initial response.
    pub(crate) fn start(
        config: &AuthConfig,
        mechanism: Mechanism,
        ctx: AuthContext,
        initial: Option<Vec<u8>>,
    ) -> Result<(Option<AuthExchange>, AuthStep), StartError> {
        let mut sasl = ServerSasl::start(mechanism, &config.credentials, &config.policy, ctx.clone())?;
        let step = sasl.handle_start(initial.as_deref());
        match step {
            Step::Challenge(challenge) => {
                let exchange = AuthExchange { mechanism, ctx, initial, responses: Vec::new() };
                Ok((Some(exchange), AuthStep::Challenge(BASE64.encode(challenge))))
            }
            Step::Done(outcome) => Ok((None, AuthStep::Done(outcome))),
        }
    }

    /// Handles the client's decoded answer to the last challenge. After
    /// `Done` the exchange is over.
    pub(crate) fn respond(&mut self, config: &AuthConfig, response: Vec<u8>) -> AuthStep {
        let Ok(mut sasl) =
            ServerSasl::start(self.mechanism, &config.credentials, &config.policy, self.ctx.clone())
        else {
            // It started with the same configuration; it still starts.
            return AuthStep::Done(Outcome::Malformed);
        };
        let mut step = sasl.handle_start(self.initial.as_deref());
        for earlier in &self.responses {
            step = sasl.handle_response(earlier);
        }
        if !matches!(step, Step::Challenge(_)) {
            return AuthStep::Done(Outcome::Malformed);
        }
        match sasl.handle_response(&response) {
            Step::Challenge(challenge) => {
                self.responses.push(response);
                AuthStep::Challenge(BASE64.encode(challenge))
            }
            Step::Done(outcome) => AuthStep::Done(outcome),
        }
    }
}

impl ServerSession {
    /// `AUTH mechanism [initial-response]`.
    pub(super) fn handle_auth(&mut self, args: &[u8], now: Instant) {
        let config = Arc::clone(&self.config);
        let sendmail = config.sendmail_status_codes;
        let Some(auth) = &config.auth else {
            return self.reply_bad(&replies::AUTH_NOT_AVAILABLE);
        };
        let tls = self.peer.tls.is_some();
        let refusal = if !self.extended {
            Some(replies::EHLO_FIRST)
        } else if self.auth.is_some() {
            Some(if sendmail { replies::SENDMAIL_AUTH_ALREADY } else { replies::AUTH_ALREADY })
        } else if self.txn.is_some() {
            Some(if sendmail { replies::SENDMAIL_AUTH_IN_TRANSACTION } else { replies::AUTH_IN_TRANSACTION })
        } else {
            None
        };
        if let Some(reply) = refusal {
            return self.reply_bad(&reply);
        }
        let mut words = args.split(|&b| b == b' ').filter(|w| !w.is_empty());
        let (Some(name), initial, None) = (words.next(), words.next(), words.next()) else {
            return self.reply_bad(&replies::AUTH_MECHANISM_REQUIRED);
        };
        let unavailable = if sendmail {
            replies::SENDMAIL_AUTH_MECHANISM_UNAVAILABLE
        } else {
            replies::AUTH_MECHANISM_UNAVAILABLE
        };
        let Some(mechanism) = std::str::from_utf8(name).ok().and_then(|n| n.parse::<Mechanism>().ok()) else {
            return self.reply_bad(&unavailable);
        };
        if !tls && !auth.allow_without_tls {
            return self.reply_bad(&replies::AUTH_ENCRYPTION_REQUIRED);
        }
        let initial = match initial.map(decode) {
            None => None,
            Some(Some(bytes)) => Some(bytes),
            Some(None) => return self.reply_bad(&replies::AUTH_BAD_BASE64),
        };
        let ctx = AuthContext::new(config.hostname(), tls, self.unix_time(now));
        match AuthExchange::start(auth, mechanism, ctx, initial) {
            Err(StartError::EncryptionRequired) => self.reply_bad(&replies::AUTH_ENCRYPTION_REQUIRED),
            Err(_) => self.reply_bad(&unavailable),
            Ok((exchange, step)) => {
                if let Some(exchange) = exchange {
                    self.phase = Phase::Auth(Box::new(exchange));
                }
                self.auth_step(step);
            }
        }
    }

    /// The client's line in an AUTH exchange, without CR LF.
    pub(super) fn handle_auth_line(&mut self, line: &[u8]) {
        let Phase::Auth(mut exchange) = std::mem::replace(&mut self.phase, Phase::Command) else {
            return;
        };
        if line == b"*" {
            return self.reply_bad(&replies::AUTH_ABORTED);
        }
        let Some(response) = decode(line) else {
            return self.reply_bad(&replies::AUTH_BAD_BASE64);
        };
        let config = Arc::clone(&self.config);
        let Some(auth) = &config.auth else { return };
        let step = exchange.respond(auth, response);
        if matches!(step, AuthStep::Challenge(_)) {
            self.phase = Phase::Auth(exchange);
        }
        self.auth_step(step);
    }

    fn auth_step(&mut self, step: AuthStep) {
        let sendmail = self.config.sendmail_status_codes;
        match step {
            AuthStep::Challenge(challenge) => {
                let out = &mut self.out;
                out.extend_from_slice(b"334 ");
                out.extend_from_slice(challenge.as_bytes());
                out.extend_from_slice(b"\r\n");
            }
            AuthStep::Done(Outcome::Authenticated { login }) => {
                self.phase = Phase::Command;
                self.auth = Some(login.into());
                let reply = if sendmail { replies::SENDMAIL_AUTH_SUCCEEDED } else { replies::AUTH_SUCCEEDED };
                self.reply(&reply);
            }
            AuthStep::Done(Outcome::Failed) => {
                self.phase = Phase::Command;
                let reply = if sendmail { replies::SENDMAIL_AUTH_FAILED } else { replies::AUTH_FAILED };
                self.reply_bad(&reply);
            }
            AuthStep::Done(_) => {
                self.phase = Phase::Command;
                self.reply_bad(&replies::AUTH_MALFORMED);
            }
        }
    }
}

/// Decodes a client line of base64 (`=` is an empty response, RFC 4954).
pub(crate) fn decode(line: &[u8]) -> Option<Vec<u8>> {
    if line == b"=" {
        return Some(Vec::new());
    }
    BASE64.decode(line).ok()
}

#[cfg(test)]
mod tests {
    use hmac::{Hmac, KeyInit, Mac};
    use smarthost_authinfo::server::ServerCredentials;

    use super::*;

    fn config() -> AuthConfig {
        AuthConfig::new(Arc::new(ServerCredentials::parse_str("t", "alice  open sesame\n").unwrap()))
    }

    #[test]
    fn login_in_three_steps() {
        let config = config();
        let ctx = AuthContext::new("mx", true, 1_700_000_000);
        let (exchange, step) = AuthExchange::start(&config, Mechanism::Login, ctx, None).unwrap();
        assert_eq!(step, AuthStep::Challenge("VXNlcm5hbWU6".into()));
        let mut exchange = exchange.unwrap();
        assert_eq!(exchange.respond(&config, b"alice".to_vec()), AuthStep::Challenge("UGFzc3dvcmQ6".into()));
        let outcome = exchange.respond(&config, b"open sesame".to_vec());
        assert_eq!(outcome, AuthStep::Done(Outcome::Authenticated { login: "alice".into() }));
    }

    #[test]
    fn cram_md5_replays_the_same_challenge() {
        let config = config();
        let ctx = AuthContext::new("mx", false, 1_700_000_000);
        let (exchange, step) = AuthExchange::start(&config, Mechanism::CramMd5, ctx, None).unwrap();
        let AuthStep::Challenge(challenge) = step else { panic!() };
        let challenge = BASE64.decode(challenge).unwrap();
        let mut mac = <Hmac<md5::Md5> as KeyInit>::new_from_slice(b"open sesame").unwrap();
        mac.update(&challenge);
        let hex: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
        let outcome = exchange.unwrap().respond(&config, format!("alice {hex}").into_bytes());
        assert_eq!(outcome, AuthStep::Done(Outcome::Authenticated { login: "alice".into() }));
    }

    #[test]
    fn decodes_base64_and_the_empty_response() {
        assert_eq!(decode(b"="), Some(vec![]));
        assert_eq!(decode(b"YQ=="), Some(b"a".to_vec()));
        assert_eq!(decode(b"!!"), None);
    }
}
