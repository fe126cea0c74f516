//! `AUTH` through the authinfo steppers (authinfo.md §3–4, RFC 4954).
//!
//! The mechanism is the strongest one that is a candidate, offered and
//! allowed on this connection (`choose_mechanism`: PLAIN, LOGIN and
//! XOAUTH2 only over TLS unless the policy says otherwise). A `4xx` makes
//! the session try the next mechanism; when none is left, or after a
//! `5xx`, the outcome follows `AuthOutcome::disposition`.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use smarthost_authinfo::{
    AuthOutcome, Choice, ClientMechanism, Disposition, SaslError, Step, Transport, choose_mechanism,
};

use crate::reply::Reply;
use crate::status::EnhancedStatus;

use super::{ClientSession, Expect, Failure, FailureKind, MAX_AUTH_LINE, Phase, State};

/// One `AUTH` attempt in progress.
#[derive(Debug)]
pub(super) struct AuthExchange {
    sasl: ClientMechanism,
    /// The server's mechanisms not yet tried.
    offered: Vec<String>,
    /// We cancelled the exchange with `*` for this reason.
    cancelled: Option<String>,
}

impl ClientSession {
    /// Starts AUTH with the mechanisms the server offers.
    pub(super) fn start_auth(&mut self) {
        let offered = self.caps.auth_mechanisms().to_vec();
        self.try_mechanism(offered, None);
    }

    /// Tries the best mechanism in `offered`; `last` is the reply of the
    /// previous attempt, which decides when nothing is left to try.
    fn try_mechanism(&mut self, offered: Vec<String>, last: Option<&Reply>) {
        let Some(auth) = self.config.auth.as_ref() else { return self.ready() };
        let choice = choose_mechanism(&auth.mechanisms, &offered, &self.transport(), &auth.policy);
        let selected = match choice {
            Choice::Chosen(selected) => selected,
            _ if last.is_some() => {
                // Every common mechanism failed with 4xx: the last reply decides (V17).
                let reply = last.cloned().unwrap_or_else(|| Reply::constant(454, None, "AUTH failed"));
                return self.auth_failed(Failure::remote(FailureKind::Auth, &reply, Phase::Auth));
            }
            Choice::NoCommonMechanism { candidates, offered } => {
                let text = format!(
                    "no AUTH mechanism in common with {}: we may use {}, it offers {}",
                    self.peer_label(),
                    candidates.join(" "),
                    offered.join(" ")
                );
                return self.auth_failed(auth_local(&text));
            }
            Choice::RefusedWithoutTls { mechanisms } => {
                let names: Vec<&str> = mechanisms.iter().map(|m| m.name()).collect();
                let text = format!(
                    "AUTH {} with {} would send the password without TLS; not sending it \
                     (authinfo.md §4)",
                    names.join(" "),
                    self.peer_label()
                );
                return self.auth_failed(auth_local(&text));
            }
        };
        let Some(auth) = self.config.auth.as_ref() else { return };
        let mut sasl = match ClientMechanism::new(&selected, &auth.credentials) {
            Ok(sasl) => sasl,
            Err(error) => return self.auth_failed(auth_local(&error.to_string())),
        };
        let name = sasl.mechanism().name();
        let line = match sasl.initial_response() {
            Ok(None) => format!("AUTH {name}"),
            Ok(Some(response)) => {
                let line = format!("AUTH {name} {}", encode(response.expose()));
                if line.len() + 2 <= MAX_AUTH_LINE {
                    line
                } else {
                    // Too long with the initial response: a fresh exchange
                    // answers the empty 334 instead (RFC 4954 §4).
                    match ClientMechanism::new(&selected, &auth.credentials) {
                        Ok(fresh) => sasl = fresh,
                        Err(error) => return self.auth_failed(auth_local(&error.to_string())),
                    }
                    format!("AUTH {name}")
                }
            }
            Err(error) => return self.auth_failed(auth_local(&error.to_string())),
        };
        let remaining = offered.into_iter().filter(|m| !m.eq_ignore_ascii_case(name)).collect();
        self.auth = Some(AuthExchange { sasl, offered: remaining, cancelled: None });
        self.state = State::Auth;
        self.command(&line, Expect::Auth);
    }

    pub(super) fn handle_auth(&mut self, reply: &Reply) {
        let Some(exchange) = self.auth.as_mut() else { return };
        if reply.code() == 334 {
            if exchange.cancelled.is_some() {
                // We sent `*`; a server must not go on.
                return self.protocol_error(reply, Phase::Auth);
            }
            let line = match answer(&mut exchange.sasl, reply) {
                Ok(line) => line,
                Err(reason) => {
                    exchange.cancelled = Some(reason);
                    "*".to_owned()
                }
            };
            self.command(&line, Expect::Auth);
            return;
        }
        let Some(exchange) = self.auth.take() else { return };
        if let Some(reason) = exchange.cancelled {
            let text =
                format!("AUTH {} with {} cancelled: {reason}", exchange.sasl.mechanism(), self.peer_label());
            return self.auth_failed(auth_local(&text));
        }
        let outcome = AuthOutcome::from_reply_code(reply.code());
        if outcome == AuthOutcome::Authenticated
            && let Err(error) = exchange.sasl.handle_success()
        {
            return self.auth_failed(auth_local(&error.to_string()));
        }
        let policy = self.config.auth.as_ref().map(|a| a.policy.clone()).unwrap_or_default();
        match outcome.disposition(&policy) {
            Disposition::ContinueAuthenticated => {
                self.authenticated = true;
                self.ready();
            }
            Disposition::ContinueUnauthenticated => self.ready(),
            Disposition::DeferTemporary if matches!(outcome, AuthOutcome::TemporaryFailure { .. }) => {
                // A 4xx: the next mechanism may do better (authinfo.md §3 step 4).
                self.try_mechanism(exchange.offered, Some(reply));
            }
            Disposition::DeferTemporary | Disposition::DeferCredentialsRejected => {
                self.auth_failed(Failure::remote(FailureKind::Auth, reply, Phase::Auth));
            }
        }
    }

    /// Ends the session: no message goes out with these credentials here.
    fn auth_failed(&mut self, failure: Failure) {
        self.abort(failure, true);
    }

    fn transport(&self) -> Transport {
        match (&self.channel_binding, self.tls_active) {
            (_, false) => Transport::Cleartext,
            (Some(exporter), true) => Transport::Tls13 { exporter: exporter.clone() },
            (None, true) => Transport::Tls,
        }
    }
}

/// The line that answers a `334` challenge, or why we cancel.
fn answer(sasl: &mut ClientMechanism, reply: &Reply) -> Result<String, String> {
    let text = reply.text();
    let challenge = BASE64
        .decode(text.trim().as_bytes())
        .map_err(|_| "the server's challenge is not base64".to_owned())?;
    let response = match sasl.step(&challenge) {
        Ok(Step::Respond(response)) => response,
        Ok(Step::AcknowledgeError { response, .. }) => response,
        Ok(_) => return Err("unexpected step from the mechanism".to_owned()),
        Err(error) => return Err(sasl_reason(&error)),
    };
    // An empty response is an empty line (only an initial response is `=`).
    let line = BASE64.encode(response.expose());
    if line.len() + 2 > MAX_AUTH_LINE {
        return Err(format!("the response would exceed {MAX_AUTH_LINE} octets"));
    }
    Ok(line)
}

fn sasl_reason(error: &SaslError) -> String {
    error.to_string()
}

/// An initial response as RFC 4954 wants it: `=` when empty.
fn encode(bytes: &[u8]) -> String {
    if bytes.is_empty() { "=".to_owned() } else { BASE64.encode(bytes) }
}

/// A local AUTH failure: `454 4.7.0`, deferred.
/// The route requires AUTH and the server offers none.
pub(super) fn required_but_not_offered(text: &str) -> Failure {
    auth_local(text)
}

fn auth_local(text: &str) -> Failure {
    Failure::local(FailureKind::Auth, 454, EnhancedStatus::OTHER_SECURITY.with_class(4), Phase::Auth, text)
}
