//! SCRAM-SHA-256 and SCRAM-SHA-256-PLUS (RFC 5802, RFC 7677, RFC 9266).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use super::chooser::ChannelBinding;
use super::saslprep::saslprep;
use super::{Credentials, Mechanism, SaslError, Step, peer_text};
use crate::Secret;

/// The smallest iteration count accepted (RFC 7677 §4: at least 4096).
pub(crate) const MIN_ITERATIONS: u32 = 4096;
/// The largest iteration count accepted, so a hostile server cannot make us burn CPU.
pub(crate) const MAX_ITERATIONS: u32 = 1_000_000;
/// Random bytes in the client nonce (base64-encoded on the wire).
const NONCE_BYTES: usize = 24;

type HmacSha256 = Hmac<Sha256>;

/// The SCRAM stepper.
pub(crate) struct Scram {
    mechanism: Mechanism,
    /// The SASLprepped password.
    password: Secret,
    /// `n,,`, `y,,` or `p=tls-exporter,,`, with `a=authzid` when present.
    gs2_header: String,
    /// The channel-binding data appended to the gs2 header in `c=`.
    cb_data: Vec<u8>,
    client_nonce: String,
    client_first_bare: String,
    state: State,
}

enum State {
    Start,
    AwaitingServerFirst,
    AwaitingServerFinal { server_signature: Zeroizing<[u8; 32]> },
    Verified,
    Failed,
}

impl std::fmt::Debug for Scram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scram")
            .field("mechanism", &self.mechanism)
            .field("gs2_header", &self.gs2_header)
            .field("client_first_bare", &self.client_first_bare)
            .finish_non_exhaustive()
    }
}

impl Scram {
    /// Prepares the client-first message. `nonce` is only injected by tests;
    /// otherwise 24 bytes come from the operating system.
    pub(crate) fn new(
        credentials: &Credentials,
        binding: ChannelBinding,
        nonce: Option<&str>,
    ) -> Result<Self, SaslError> {
        let user = saslprep(credentials.authcid.as_bytes(), "authcid")?;
        let password = Secret::new(saslprep(credentials.secret.expose(), "password")?.as_bytes().to_vec());
        let authzid =
            credentials.effective_authzid().map(|z| saslprep(z.as_bytes(), "authzid")).transpose()?;
        let (mechanism, flag, cb_data) = match binding {
            ChannelBinding::Unsupported => (Mechanism::ScramSha256, "n", Vec::new()),
            ChannelBinding::NotAdvertised => (Mechanism::ScramSha256, "y", Vec::new()),
            ChannelBinding::TlsExporter(data) if data.is_empty() => {
                return Err(SaslError::MissingChannelBinding);
            }
            ChannelBinding::TlsExporter(data) => (Mechanism::ScramSha256Plus, "p=tls-exporter", data),
        };
        let gs2_header = match &authzid {
            Some(z) => format!("{flag},a={},", escape_saslname(z)),
            None => format!("{flag},,"),
        };
        let client_nonce = match nonce {
            Some(n) => n.to_owned(),
            None => random_nonce()?,
        };
        let client_first_bare = format!("n={},r={client_nonce}", escape_saslname(&user));
        Ok(Self {
            mechanism,
            password,
            gs2_header,
            cb_data,
            client_nonce,
            client_first_bare,
            state: State::Start,
        })
    }

    pub(crate) fn mechanism(&self) -> Mechanism {
        self.mechanism
    }

    pub(crate) fn initial_response(&mut self) -> Result<Secret, SaslError> {
        if !matches!(self.state, State::Start) {
            return Err(SaslError::InitialResponseTwice { mechanism: self.mechanism });
        }
        self.state = State::AwaitingServerFirst;
        Ok(Secret::new(format!("{}{}", self.gs2_header, self.client_first_bare).into_bytes()))
    }

    pub(crate) fn step(&mut self, challenge: &[u8]) -> Result<Step, SaslError> {
        let state = std::mem::replace(&mut self.state, State::Failed);
        match state {
            // `AUTH SCRAM-SHA-256` without an initial response: answer the empty `334 `.
            State::Start if challenge.is_empty() => {
                self.state = State::Start;
                self.initial_response().map(Step::Respond)
            }
            State::Start => Err(self.malformed("expected an empty challenge before client-first")),
            State::AwaitingServerFirst => self.handle_server_first(challenge),
            State::AwaitingServerFinal { server_signature } => {
                self.handle_server_final(challenge, &server_signature)
            }
            State::Verified | State::Failed => {
                Err(SaslError::UnexpectedChallenge { mechanism: self.mechanism })
            }
        }
    }

    pub(crate) fn handle_success(&self) -> Result<(), SaslError> {
        match self.state {
            State::Verified => Ok(()),
            _ => Err(SaslError::ServerNotVerified { mechanism: self.mechanism }),
        }
    }

    fn handle_server_first(&mut self, challenge: &[u8]) -> Result<Step, SaslError> {
        let server_first = std::str::from_utf8(challenge).map_err(|_| self.malformed("not UTF-8"))?;
        let first = ServerFirst::parse(server_first).map_err(|reason| self.malformed(reason))?;
        if first.nonce.len() <= self.client_nonce.len() || !first.nonce.starts_with(&self.client_nonce) {
            return Err(self.malformed("the server nonce does not extend the client nonce"));
        }
        if !(u64::from(MIN_ITERATIONS)..=u64::from(MAX_ITERATIONS)).contains(&first.iterations) {
            return Err(SaslError::IterationCount {
                iterations: first.iterations,
                min: MIN_ITERATIONS,
                max: MAX_ITERATIONS,
            });
        }
        let iterations = u32::try_from(first.iterations).expect("range-checked against MAX_ITERATIONS above");

        let mut cbind_input = self.gs2_header.as_bytes().to_vec();
        cbind_input.extend_from_slice(&self.cb_data);
        let without_proof = format!("c={},r={}", BASE64.encode(&cbind_input), first.nonce);
        let auth_message = format!("{},{server_first},{without_proof}", self.client_first_bare);

        let mut salted = Zeroizing::new([0u8; 32]);
        pbkdf2::pbkdf2_hmac::<Sha256>(self.password.expose(), &first.salt, iterations, &mut salted[..]);
        let client_key = Zeroizing::new(hmac(&salted[..], b"Client Key"));
        let stored_key = Zeroizing::new(<[u8; 32]>::from(Sha256::digest(&client_key[..])));
        let client_signature = Zeroizing::new(hmac(&stored_key[..], auth_message.as_bytes()));
        let mut proof = Zeroizing::new([0u8; 32]);
        for (p, (k, s)) in proof.iter_mut().zip(client_key.iter().zip(client_signature.iter())) {
            *p = k ^ s;
        }
        let server_key = Zeroizing::new(hmac(&salted[..], b"Server Key"));
        let server_signature = Zeroizing::new(hmac(&server_key[..], auth_message.as_bytes()));

        self.state = State::AwaitingServerFinal { server_signature };
        let response = format!("{without_proof},p={}", BASE64.encode(&proof[..]));
        Ok(Step::Respond(Secret::new(response.into_bytes())))
    }

    fn handle_server_final(&mut self, challenge: &[u8], expected: &[u8; 32]) -> Result<Step, SaslError> {
        if let Some(error) = challenge.strip_prefix(b"e=") {
            let end = error.iter().position(|&b| b == b',').unwrap_or(error.len());
            return Err(SaslError::ServerError(peer_text(&error[..end])));
        }
        let Some(rest) = challenge.strip_prefix(b"v=") else {
            return Err(self.malformed("server-final starts with neither `v=` nor `e=`"));
        };
        let end = rest.iter().position(|&b| b == b',').unwrap_or(rest.len());
        let signature = BASE64.decode(&rest[..end]).map_err(|_| self.malformed("`v=` is not base64"))?;
        if !bool::from(signature.as_slice().ct_eq(&expected[..])) {
            return Err(SaslError::ServerSignatureMismatch);
        }
        self.state = State::Verified;
        Ok(Step::Respond(Secret::new(Vec::new())))
    }

    fn malformed(&self, reason: &'static str) -> SaslError {
        SaslError::MalformedChallenge { mechanism: self.mechanism, reason }
    }
}

/// The parts of a server-first message.
struct ServerFirst<'a> {
    nonce: &'a str,
    salt: Vec<u8>,
    iterations: u64,
}

impl<'a> ServerFirst<'a> {
    /// `[reserved-mext ","] nonce "," salt "," iteration-count ["," extensions]`.
    fn parse(text: &'a str) -> Result<Self, &'static str> {
        let mut attrs = text.split(',');
        let mut next = |name: &'static str, missing: &'static str| {
            attrs.next().and_then(|a| a.strip_prefix(name)).ok_or(missing)
        };
        if text.starts_with("m=") {
            return Err("the server requires an unsupported mandatory extension (`m=`)");
        }
        let nonce = next("r=", "expected `r=` first")?;
        if nonce.is_empty() || !nonce.bytes().all(|b| (0x21..=0x7e).contains(&b)) {
            return Err("the nonce is empty or not printable ASCII");
        }
        let salt = BASE64.decode(next("s=", "expected `s=` second")?).map_err(|_| "`s=` is not base64")?;
        if salt.is_empty() {
            return Err("the salt is empty");
        }
        let count = next("i=", "expected `i=` third")?;
        if count.is_empty() || count.len() > 10 || !count.bytes().all(|b| b.is_ascii_digit()) {
            return Err("`i=` is not a decimal number");
        }
        let iterations = count.parse().map_err(|_| "`i=` is not a decimal number")?;
        Ok(Self { nonce, salt, iterations })
    }
}

fn hmac(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut mac = <HmacSha256 as KeyInit>::new_from_slice(key).expect("HMAC accepts keys of any length");
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// RFC 5802 `saslname`: `=` becomes `=3D` and `,` becomes `=2C`.
fn escape_saslname(name: &str) -> String {
    name.replace('=', "=3D").replace(',', "=2C")
}

fn random_nonce() -> Result<String, SaslError> {
    let mut bytes = [0u8; NONCE_BYTES];
    getrandom::fill(&mut bytes).map_err(|e| SaslError::Random(e.to_string()))?;
    Ok(BASE64.encode(bytes))
}
