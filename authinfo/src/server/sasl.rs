//! Server SASL exchanges as sans-IO steppers.

use std::fmt;
use std::str::FromStr;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use md5::Md5;

use super::credentials::ServerCredentials;
use super::replies::{self, AuthReply};
use super::scram::ScramServer;

/// A SASL mechanism the server can run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Mechanism {
    /// RFC 4616; needs TLS.
    Plain,
    /// The non-standard LOGIN; needs TLS.
    Login,
    /// RFC 2195; needs plain passwords on the server.
    CramMd5,
    /// RFC 5802 / RFC 7677, without channel binding.
    ScramSha256,
}

impl Mechanism {
    /// All mechanisms, strongest first (the order EHLO lists them in).
    pub const ALL: [Mechanism; 4] =
        [Mechanism::ScramSha256, Mechanism::CramMd5, Mechanism::Plain, Mechanism::Login];

    /// The IANA name, as on the `AUTH` line.
    pub fn name(self) -> &'static str {
        match self {
            Self::Plain => "PLAIN",
            Self::Login => "LOGIN",
            Self::CramMd5 => "CRAM-MD5",
            Self::ScramSha256 => "SCRAM-SHA-256",
        }
    }

    /// Whether the mechanism sends the password itself and so needs TLS.
    pub fn is_cleartext(self) -> bool {
        matches!(self, Self::Plain | Self::Login)
    }
}

impl fmt::Display for Mechanism {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The name on an `AUTH` command is not a mechanism this crate implements.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownMechanism;

impl FromStr for Mechanism {
    type Err = UnknownMechanism;

    /// Case-insensitive, as RFC 4954 requires.
    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Self::ALL.into_iter().find(|m| m.name().eq_ignore_ascii_case(name)).ok_or(UnknownMechanism)
    }
}

/// Per-listener AUTH settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthPolicy {
    /// The mechanisms this listener may offer, in EHLO order.
    pub mechanisms: Vec<Mechanism>,
    /// Allow PLAIN and LOGIN without TLS. Off by default: they would send
    /// the password in the clear.
    pub dangerous_allow_cleartext_without_tls: bool,
}

impl Default for AuthPolicy {
    fn default() -> Self {
        Self { mechanisms: Mechanism::ALL.to_vec(), dangerous_allow_cleartext_without_tls: false }
    }
}

/// The mechanisms to list in `250-AUTH ...` for a connection.
///
/// The EHLO list is user-agnostic (the user is not known yet), so a
/// mechanism is offered when the policy enables it, the connection allows it
/// (PLAIN and LOGIN need TLS) and **at least one** user can use it:
/// CRAM-MD5 needs a user with a plain password, SCRAM-SHA-256 a user with a
/// plain password or SCRAM keys. A user stored only as a crypt-style hash
/// who tries CRAM-MD5 or SCRAM-SHA-256 gets `535` (the same reply as a wrong
/// password, so the stored form does not leak); such users need PLAIN or
/// LOGIN over TLS.
pub fn offered_mechanisms(credentials: &ServerCredentials, policy: &AuthPolicy, tls: bool) -> Vec<Mechanism> {
    policy
        .mechanisms
        .iter()
        .copied()
        .filter(|&m| match m {
            Mechanism::Plain | Mechanism::Login => {
                !credentials.is_empty() && (tls || policy.dangerous_allow_cleartext_without_tls)
            }
            Mechanism::CramMd5 => credentials.has_plain_passwords(),
            Mechanism::ScramSha256 => credentials.has_scram_keys(),
        })
        .collect()
}

/// What the server knows about the connection when AUTH starts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthContext {
    /// The server's host name (CRAM-MD5 challenge).
    pub hostname: String,
    /// Whether TLS is active on the connection.
    pub tls: bool,
    /// Seconds since the Unix epoch (CRAM-MD5 challenge).
    pub unix_time: u64,
    nonce: String,
}

impl AuthContext {
    /// A context with a fresh random nonce (24 base64url characters from 18
    /// bytes of system randomness).
    pub fn new(hostname: &str, tls: bool, unix_time: u64) -> Self {
        let mut random = [0u8; 18];
        // With no system randomness, fall back to time-derived bytes: the
        // challenge still differs per second, and CRAM-MD5/SCRAM remain
        // correct (only replay resistance within that second suffers).
        if getrandom::fill(&mut random).is_err() {
            random[..8].copy_from_slice(&unix_time.to_be_bytes());
        }
        Self { hostname: hostname.to_owned(), tls, unix_time, nonce: URL_SAFE_NO_PAD.encode(random) }
    }

    /// Replaces the random nonce with a fixed one, for tests and
    /// reproducible transcripts (RFC 7677's example). A fixed nonce in
    /// production lets a recorded CRAM-MD5 or SCRAM exchange be replayed.
    ///
    /// Returns `None` unless the nonce is non-empty printable ASCII without
    /// `,` (RFC 5802's `printable`).
    pub fn dangerous_with_fixed_nonce(mut self, nonce: &str) -> Option<Self> {
        let ok = !nonce.is_empty() && nonce.bytes().all(|b| (0x21..=0x7e).contains(&b) && b != b',');
        ok.then(|| {
            self.nonce = nonce.to_owned();
            self
        })
    }

    /// The server nonce.
    pub fn nonce(&self) -> &str {
        &self.nonce
    }
}

/// How an exchange ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The client proved it knows the password of `login` (the canonical
    /// form from the credentials file).
    Authenticated {
        /// The authenticated login.
        login: String,
    },
    /// Wrong credentials, unknown user or a refused authorization identity.
    Failed,
    /// The response did not follow the mechanism's syntax.
    Malformed,
}

impl Outcome {
    /// The SMTP reply for this outcome.
    pub fn reply(&self) -> AuthReply {
        match self {
            Self::Authenticated { .. } => replies::AUTH_SUCCEEDED,
            Self::Failed => replies::AUTH_FAILED,
            Self::Malformed => replies::AUTH_MALFORMED,
        }
    }
}

/// The next thing to tell the client.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// Send `334 ` and the base64 of these bytes, then read one line and pass
    /// its decoded bytes to [`ServerSasl::handle_response`].
    Challenge(Vec<u8>),
    /// The exchange is over; reply with [`Outcome::reply`].
    Done(Outcome),
}

/// Why an `AUTH` command cannot start an exchange.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum StartError {
    /// The mechanism is not enabled on this listener.
    NotOffered,
    /// PLAIN or LOGIN without TLS.
    EncryptionRequired,
}

impl StartError {
    /// The SMTP reply.
    pub fn reply(self) -> AuthReply {
        match self {
            Self::NotOffered => replies::AUTH_MECHANISM_UNAVAILABLE,
            Self::EncryptionRequired => replies::AUTH_ENCRYPTION_REQUIRED,
        }
    }
}

/// One server-side SASL exchange.
///
/// Calling order: [`ServerSasl::start`] on `AUTH <mech> [initial-response]`,
/// then [`ServerSasl::handle_start`] once, then
/// [`ServerSasl::handle_response`] for each client line until a
/// [`Step::Done`]. The driver does base64 and the `334` lines, and handles a
/// client `*` (cancel, `501`) itself. After `Done`, further calls return
/// `Done(Malformed)`.
///
/// ```
/// use smarthost_authinfo::server::{
///     AuthContext, AuthPolicy, Mechanism, Outcome, ServerCredentials, ServerSasl, Step,
/// };
///
/// let creds = ServerCredentials::parse_str("users", "alice  open sesame\n")?;
/// let ctx = AuthContext::new("mx.example.org", true, 1_700_000_000);
/// let mut sasl = ServerSasl::start(Mechanism::Plain, &creds, &AuthPolicy::default(), ctx).unwrap();
/// let step = sasl.handle_start(Some(b"\0alice\0open sesame"));
/// assert_eq!(step, Step::Done(Outcome::Authenticated { login: "alice".into() }));
/// # Ok::<(), smarthost_authinfo::server::CredentialsError>(())
/// ```
pub struct ServerSasl<'a> {
    credentials: &'a ServerCredentials,
    ctx: AuthContext,
    state: State,
}

enum State {
    Plain,
    LoginUser,
    LoginPassword { user: String },
    CramMd5 { challenge: String },
    Scram(Box<ScramServer>),
    Finished,
}

const LOGIN_USER_PROMPT: &[u8] = b"Username:";
const LOGIN_PASSWORD_PROMPT: &[u8] = b"Password:";

impl<'a> ServerSasl<'a> {
    /// Starts an exchange, enforcing the listener's policy.
    pub fn start(
        mechanism: Mechanism,
        credentials: &'a ServerCredentials,
        policy: &AuthPolicy,
        ctx: AuthContext,
    ) -> Result<Self, StartError> {
        if !policy.mechanisms.contains(&mechanism) {
            return Err(StartError::NotOffered);
        }
        if mechanism.is_cleartext() && !ctx.tls && !policy.dangerous_allow_cleartext_without_tls {
            return Err(StartError::EncryptionRequired);
        }
        let state = match mechanism {
            Mechanism::Plain => State::Plain,
            Mechanism::Login => State::LoginUser,
            Mechanism::CramMd5 => {
                State::CramMd5 { challenge: format!("<{}.{}@{}>", ctx.nonce, ctx.unix_time, ctx.hostname) }
            }
            Mechanism::ScramSha256 => State::Scram(Box::new(ScramServer::new(ctx.nonce.clone()))),
        };
        Ok(Self { credentials, ctx, state })
    }

    /// Handles the `AUTH` command's initial response (decoded; `Some(b"")`
    /// for `=`, `None` when absent) and says what to send first.
    pub fn handle_start(&mut self, initial_response: Option<&[u8]>) -> Step {
        match (&self.state, initial_response) {
            (State::Plain | State::LoginUser, None) => {
                let prompt = match self.state {
                    State::LoginUser => LOGIN_USER_PROMPT.to_vec(),
                    _ => Vec::new(),
                };
                Step::Challenge(prompt)
            }
            (State::CramMd5 { challenge }, None) => Step::Challenge(challenge.as_bytes().to_vec()),
            // CRAM-MD5 is server-first: an initial response is a protocol error.
            (State::CramMd5 { .. }, Some(_)) => self.finish(Outcome::Malformed),
            (State::Scram(_), None) => Step::Challenge(Vec::new()),
            (_, Some(response)) => self.handle_response(response),
            (State::LoginPassword { .. } | State::Finished, None) => self.finish(Outcome::Malformed),
        }
    }

    /// Handles one decoded client response.
    pub fn handle_response(&mut self, response: &[u8]) -> Step {
        match std::mem::replace(&mut self.state, State::Finished) {
            State::Plain => {
                let outcome = self.plain(response);
                self.finish(outcome)
            }
            State::LoginUser => match std::str::from_utf8(response) {
                Ok(user) if !user.is_empty() && !user.contains('\0') => {
                    self.state = State::LoginPassword { user: user.to_owned() };
                    Step::Challenge(LOGIN_PASSWORD_PROMPT.to_vec())
                }
                _ => self.finish(Outcome::Malformed),
            },
            State::LoginPassword { user } => {
                let outcome = self.verify(&user, response);
                self.finish(outcome)
            }
            State::CramMd5 { challenge } => {
                let outcome = self.cram_md5(&challenge, response);
                self.finish(outcome)
            }
            State::Scram(mut scram) => {
                let step = scram.handle_response(response, self.credentials);
                if !matches!(step, Step::Done(_)) {
                    self.state = State::Scram(scram);
                }
                step
            }
            State::Finished => Step::Done(Outcome::Malformed),
        }
    }

    /// The connection context the exchange was started with.
    pub fn context(&self) -> &AuthContext {
        &self.ctx
    }

    fn finish(&mut self, outcome: Outcome) -> Step {
        self.state = State::Finished;
        Step::Done(outcome)
    }

    /// RFC 4616: `authzid NUL authcid NUL passwd`.
    fn plain(&self, response: &[u8]) -> Outcome {
        let mut parts = response.split(|&b| b == 0);
        let (Some(authzid), Some(authcid), Some(password), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Outcome::Malformed;
        };
        let (Ok(authzid), Ok(authcid)) = (std::str::from_utf8(authzid), std::str::from_utf8(authcid)) else {
            return Outcome::Malformed;
        };
        if authcid.is_empty() || password.is_empty() {
            return Outcome::Malformed;
        }
        // Acting for another identity is not supported: an authzid must name
        // the same user as the authcid.
        if !authzid.is_empty()
            && super::credentials::normalize_login(authzid) != super::credentials::normalize_login(authcid)
        {
            return Outcome::Failed;
        }
        self.verify(authcid, password)
    }

    fn verify(&self, user: &str, password: &[u8]) -> Outcome {
        match self.credentials.lookup(user) {
            Some((login, stored)) if stored.is_password(password) => {
                Outcome::Authenticated { login: login.to_owned() }
            }
            _ => Outcome::Failed,
        }
    }

    /// RFC 2195: `user SP hex(HMAC-MD5(password, challenge))`.
    fn cram_md5(&self, challenge: &str, response: &[u8]) -> Outcome {
        let Some(space) = response.iter().rposition(|&b| b == b' ') else {
            return Outcome::Malformed;
        };
        let (user, hex) = (&response[..space], &response[space + 1..]);
        let (Ok(user), Some(digest)) = (std::str::from_utf8(user), decode_hex_16(hex)) else {
            return Outcome::Malformed;
        };
        if user.is_empty() {
            return Outcome::Malformed;
        }
        let Some((login, password)) =
            self.credentials.lookup(user).and_then(|(login, stored)| Some((login, stored.plain_password()?)))
        else {
            return Outcome::Failed;
        };
        // HMAC accepts keys of any length, so `new_from_slice` cannot fail.
        let mut mac = <Hmac<Md5> as KeyInit>::new_from_slice(password.expose()).expect("HMAC takes any key");
        mac.update(challenge.as_bytes());
        // `verify_slice` compares in constant time.
        match mac.verify_slice(&digest) {
            Ok(()) => Outcome::Authenticated { login: login.to_owned() },
            Err(_) => Outcome::Failed,
        }
    }
}

impl fmt::Debug for ServerSasl<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerSasl").field("ctx", &self.ctx).finish_non_exhaustive()
    }
}

/// 32 hexadecimal digits (either case) to 16 bytes.
fn decode_hex_16(hex: &[u8]) -> Option<[u8; 16]> {
    if hex.len() != 32 {
        return None;
    }
    let digit = |b: u8| (b as char).to_digit(16);
    let mut out = [0u8; 16];
    for (byte, pair) in out.iter_mut().zip(hex.chunks_exact(2)) {
        *byte = u8::try_from(digit(pair[0])? * 16 + digit(pair[1])?).ok()?;
    }
    Some(out)
}
