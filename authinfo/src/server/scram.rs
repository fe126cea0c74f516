//! SCRAM-SHA-256 server side (RFC 5802 §5, RFC 7677), without channel
//! binding and without SASLprep (names and passwords are compared as UTF-8
//! bytes; ASCII ones are unaffected).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::credentials::{ServerCredentials, normalize_login};
use super::sasl::{Outcome, Step};
use super::stored::{ScramKeys, hmac_sha256};

/// Iterations announced for users with no SCRAM keys (unknown or hash-only),
/// so the server-first message does not reveal which users exist.
const FAKE_ITERATIONS: u32 = 4096;

pub(crate) struct ScramServer {
    server_nonce: String,
    state: ScramState,
}

enum ScramState {
    AwaitingClientFirst,
    AwaitingClientFinal {
        gs2_header: String,
        client_first_bare: String,
        server_first: String,
        nonce: String,
        /// `None` when the user is unknown or has no SCRAM keys.
        user: Option<(String, ScramKeys)>,
    },
    AwaitingEmptyAck {
        login: String,
    },
    Done,
}

impl ScramServer {
    pub(crate) fn new(server_nonce: String) -> Self {
        Self { server_nonce, state: ScramState::AwaitingClientFirst }
    }

    pub(crate) fn handle_response(&mut self, response: &[u8], creds: &ServerCredentials) -> Step {
        let state = std::mem::replace(&mut self.state, ScramState::Done);
        match state {
            ScramState::AwaitingClientFirst => self.client_first(response, creds),
            ScramState::AwaitingClientFinal { gs2_header, client_first_bare, server_first, nonce, user } => {
                let Ok(text) = std::str::from_utf8(response) else {
                    return Step::Done(Outcome::Malformed);
                };
                let sent = Sent {
                    gs2_header: &gs2_header,
                    client_first_bare: &client_first_bare,
                    server_first: &server_first,
                    nonce: &nonce,
                };
                match client_final(text, &sent, user) {
                    Ok((login, server_final)) => {
                        // RFC 4954 has no "additional data with success": the
                        // server-final message goes in a 334 and the client
                        // answers with an empty line.
                        self.state = ScramState::AwaitingEmptyAck { login };
                        Step::Challenge(server_final.into_bytes())
                    }
                    Err(outcome) => Step::Done(outcome),
                }
            }
            ScramState::AwaitingEmptyAck { login } if response.is_empty() => {
                Step::Done(Outcome::Authenticated { login })
            }
            ScramState::AwaitingEmptyAck { .. } | ScramState::Done => Step::Done(Outcome::Malformed),
        }
    }

    fn client_first(&mut self, response: &[u8], creds: &ServerCredentials) -> Step {
        let Ok(text) = std::str::from_utf8(response) else {
            return Step::Done(Outcome::Malformed);
        };
        let first = match parse_client_first(text) {
            Ok(first) => first,
            Err(outcome) => return Step::Done(outcome),
        };
        if let Some(authzid) = &first.authzid
            && normalize_login(authzid) != normalize_login(&first.username)
        {
            return Step::Done(Outcome::Failed);
        }
        let user = creds
            .lookup(&first.username)
            .and_then(|(login, stored)| stored.scram_keys().map(|keys| (login.to_owned(), keys)));
        let (salt, iterations) = match &user {
            Some((_, keys)) => (keys.salt.clone(), keys.iterations),
            None => (fake_salt(&first.username, &self.server_nonce), FAKE_ITERATIONS),
        };
        let nonce = format!("{}{}", first.client_nonce, self.server_nonce);
        let server_first = format!("r={nonce},s={},i={iterations}", BASE64.encode(salt));
        let step = Step::Challenge(server_first.clone().into_bytes());
        self.state = ScramState::AwaitingClientFinal {
            gs2_header: first.gs2_header.to_owned(),
            client_first_bare: first.bare.to_owned(),
            server_first,
            nonce,
            user,
        };
        step
    }
}

struct ClientFirst<'a> {
    gs2_header: &'a str,
    authzid: Option<String>,
    bare: &'a str,
    username: String,
    client_nonce: &'a str,
}

fn parse_client_first(text: &str) -> Result<ClientFirst<'_>, Outcome> {
    // gs2-header = gs2-cbind-flag "," [ authzid ] ","
    let (cbind, rest) = text.split_once(',').ok_or(Outcome::Malformed)?;
    match cbind {
        "n" | "y" => {}
        // Channel binding (SCRAM-SHA-256-PLUS) is not offered.
        _ if cbind.starts_with("p=") => return Err(Outcome::Failed),
        _ => return Err(Outcome::Malformed),
    }
    let (authzid, bare) = rest.split_once(',').ok_or(Outcome::Malformed)?;
    let gs2_header = &text[..cbind.len() + 1 + authzid.len() + 1];
    let authzid = match authzid {
        "" => None,
        a => Some(decode_saslname(a.strip_prefix("a=").ok_or(Outcome::Malformed)?)?),
    };
    let mut attrs = bare.split(',');
    let first = attrs.next().ok_or(Outcome::Malformed)?;
    if first.starts_with("m=") {
        // A mandatory extension this server does not know.
        return Err(Outcome::Malformed);
    }
    let username = decode_saslname(first.strip_prefix("n=").ok_or(Outcome::Malformed)?)?;
    let client_nonce = attrs.next().and_then(|a| a.strip_prefix("r=")).ok_or(Outcome::Malformed)?;
    if username.is_empty() || !is_printable(client_nonce) {
        return Err(Outcome::Malformed);
    }
    // Optional extensions after the nonce are ignored.
    if attrs.any(|a| a.as_bytes().get(1).is_none_or(|&b| b != b'=')) {
        return Err(Outcome::Malformed);
    }
    Ok(ClientFirst { gs2_header, authzid, bare, username, client_nonce })
}

/// What the server has seen and sent so far.
struct Sent<'a> {
    gs2_header: &'a str,
    client_first_bare: &'a str,
    server_first: &'a str,
    nonce: &'a str,
}

/// Checks `c=...,r=...[,ext],p=...` and returns the login and server-final.
fn client_final(
    text: &str,
    sent: &Sent<'_>,
    user: Option<(String, ScramKeys)>,
) -> Result<(String, String), Outcome> {
    let (without_proof, proof) = text.rsplit_once(",p=").ok_or(Outcome::Malformed)?;
    let proof = BASE64.decode(proof).map_err(|_| Outcome::Malformed)?;
    let mut attrs = without_proof.split(',');
    let binding = attrs.next().and_then(|a| a.strip_prefix("c=")).ok_or(Outcome::Malformed)?;
    let nonce = attrs.next().and_then(|a| a.strip_prefix("r=")).ok_or(Outcome::Malformed)?;
    let binding = BASE64.decode(binding).map_err(|_| Outcome::Malformed)?;
    if binding != sent.gs2_header.as_bytes() || nonce != sent.nonce {
        return Err(Outcome::Failed);
    }
    if proof.len() != 32 {
        return Err(Outcome::Malformed);
    }
    let (login, keys) = user.ok_or(Outcome::Failed)?;
    let auth_message = format!("{},{},{}", sent.client_first_bare, sent.server_first, without_proof);
    let client_signature = hmac_sha256(&keys.stored_key, auth_message.as_bytes());
    let mut client_key = [0u8; 32];
    for ((k, p), s) in client_key.iter_mut().zip(&proof).zip(client_signature) {
        *k = p ^ s;
    }
    let computed: [u8; 32] = Sha256::digest(client_key).into();
    if !bool::from(computed.ct_eq(&keys.stored_key)) {
        return Err(Outcome::Failed);
    }
    let server_signature = hmac_sha256(&keys.server_key, auth_message.as_bytes());
    Ok((login, format!("v={}", BASE64.encode(server_signature))))
}

/// RFC 5802 saslname: `=2C` is `,`, `=3D` is `=`, any other `=` is an error.
fn decode_saslname(name: &str) -> Result<String, Outcome> {
    let mut out = String::with_capacity(name.len());
    let mut rest = name;
    while let Some(pos) = rest.find('=') {
        out.push_str(&rest[..pos]);
        let escape = rest.get(pos..pos + 3).ok_or(Outcome::Malformed)?;
        out.push(match escape {
            "=2C" => ',',
            "=3D" => '=',
            _ => return Err(Outcome::Malformed),
        });
        rest = &rest[pos + 3..];
    }
    out.push_str(rest);
    if out.contains('\0') {
        return Err(Outcome::Malformed);
    }
    Ok(out)
}

fn is_printable(nonce: &str) -> bool {
    !nonce.is_empty() && nonce.bytes().all(|b| (0x21..=0x7e).contains(&b) && b != b',')
}

/// A salt for users without SCRAM keys: stable per user within a server
/// nonce, so it looks like a real one.
fn fake_salt(username: &str, server_nonce: &str) -> Vec<u8> {
    hmac_sha256(server_nonce.as_bytes(), username.as_bytes())[..16].to_vec()
}
