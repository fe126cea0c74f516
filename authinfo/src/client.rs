//! Client-side SASL for SMTP AUTH, as sans-IO steppers.
//!
//! Nothing here touches a socket, a clock or a file. The one exception is
//! [`CommandToken`], which runs an external program to fetch an OAuth token;
//! the caller invokes it *before* starting a mechanism, so the steppers
//! themselves stay pure.
//!
//! Challenges and responses are raw bytes: the SMTP driver does the base64 of
//! RFC 4954 on the wire (and sends `=` for an empty initial response).
//!
//! The calling order is documented on [`ClientMechanism`].

mod chooser;
mod cram_md5;
mod error;
mod login;
mod mechanism;
mod outcome;
mod plain;
mod saslprep;
mod scram;
mod token;
mod xoauth2;

#[cfg(test)]
mod tests;

pub use chooser::{AuthPolicy, Choice, DEFAULT_MECHANISMS, Selected, Transport, choose_mechanism};
pub use error::SaslError;
pub use mechanism::Mechanism;
pub use outcome::{AuthOutcome, Disposition};
pub use token::{CommandToken, MAX_TOKEN_LEN, StaticToken, TokenError, TokenProvider};

use crate::Secret;

/// The identities and secret a client authenticates with.
///
/// Build it from an AuthInfo entry: `authcid` is `I:` (copied from `U:` when
/// absent) and `authzid` is `U:` **only when it was given explicitly**.
/// Mechanisms send an authzid only when it differs from the authcid
/// (authinfo.md §5.1 \[REC\]). For XOAUTH2 the secret is the bearer token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Credentials {
    /// The authorization identity (`U:`), when given explicitly.
    pub authzid: Option<String>,
    /// The authentication identity (`I:`), i.e. the user name logged in as.
    pub authcid: String,
    /// The password, or for XOAUTH2 the bearer token. `Debug` prints `<redacted>`.
    pub secret: Secret,
}

impl Credentials {
    /// Credentials without an explicit authorization identity.
    pub fn new(authcid: &str, secret: impl Into<Secret>) -> Self {
        Self { authzid: None, authcid: authcid.to_owned(), secret: secret.into() }
    }

    /// The authzid to put on the wire: `None` when absent, empty, or equal to the authcid.
    pub(crate) fn effective_authzid(&self) -> Option<&str> {
        self.authzid.as_deref().filter(|z| !z.is_empty() && *z != self.authcid)
    }
}

/// What to send after a server challenge.
///
/// Responses are [`Secret`]s because most of them carry a password or a value
/// derived from it; they must not reach a protocol trace unredacted.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Step {
    /// Send this response (base64-encoded by the driver); more challenges may follow.
    Respond(Secret),
    /// The server reported an error inside the exchange (XOAUTH2 sends a JSON
    /// error document as a `334` challenge). Send `response` (empty) and expect a
    /// failure reply; `detail` is the server's text, safe to log.
    AcknowledgeError {
        /// The response to send: always empty.
        response: Secret,
        /// The server's error text (lossily decoded, capped at 512 bytes).
        detail: String,
    },
}

/// One client-side SASL exchange, driven by the SMTP client.
///
/// # Calling order
///
/// 1. [`choose_mechanism`] with the entry's `M:` list (or the configured default,
///    [`DEFAULT_MECHANISMS`]), the words of the server's `250-AUTH` line, the
///    [`Transport`] and the [`AuthPolicy`]. Anything but [`Choice::Chosen`]
///    means "do not send credentials"; see [`Choice::disposition`].
/// 2. [`ClientMechanism::new`] with the chosen [`Selected`] and the [`Credentials`].
/// 3. [`ClientMechanism::initial_response`]: send `AUTH <name> <base64>` (or
///    `AUTH <name>` when it is `None`).
/// 4. For every `334` reply, decode the text and call [`ClientMechanism::step`];
///    send the response in base64. If `step` returns an error, send `*` to
///    cancel the exchange and treat the attempt as failed.
/// 5. For the final reply, call [`AuthOutcome::from_reply_code`]. On `235`, also
///    call [`ClientMechanism::handle_success`]: SCRAM refuses a success reply from
///    a server that never proved it knows the password. Then
///    [`AuthOutcome::disposition`] tells the driver what to do next.
///
/// ```
/// use smarthost_authinfo::{
///     AuthPolicy, Choice, ClientMechanism, Credentials, Mechanism, Step, Transport,
///     choose_mechanism,
/// };
///
/// let choice = choose_mechanism(
///     ["CRAM-MD5", "PLAIN"],
///     ["PLAIN", "LOGIN", "CRAM-MD5"],
///     &Transport::Tls,
///     &AuthPolicy::default(),
/// );
/// let Choice::Chosen(selected) = choice else { panic!("{choice:?}") };
/// assert_eq!(selected.mechanism(), Mechanism::CramMd5);
///
/// let credentials = Credentials::new("tim", "tanstaaftanstaaf");
/// let mut sasl = ClientMechanism::new(&selected, &credentials)?;
/// assert!(sasl.initial_response()?.is_none());
/// let Step::Respond(response) = sasl.step(b"<1896.697170952@postoffice.reston.mci.net>")? else {
///     panic!()
/// };
/// assert_eq!(response.expose(), b"tim b913a602c7eda7a495b4e6e7334d3890");
/// # Ok::<(), smarthost_authinfo::SaslError>(())
/// ```
#[derive(Debug)]
pub struct ClientMechanism {
    inner: Inner,
}

#[derive(Debug)]
enum Inner {
    Plain(plain::Plain),
    Login(login::Login),
    CramMd5(cram_md5::CramMd5),
    Scram(Box<scram::Scram>),
    XOAuth2(xoauth2::XOAuth2),
}

impl ClientMechanism {
    /// Starts the exchange the chooser selected.
    ///
    /// Fails when the credentials cannot be carried by the mechanism (a NUL in a
    /// PLAIN identity, a password SASLprep rejects for SCRAM) or when no random
    /// nonce can be obtained.
    pub fn new(selected: &Selected, credentials: &Credentials) -> Result<Self, SaslError> {
        let inner = match selected.mechanism() {
            Mechanism::Plain => Inner::Plain(plain::Plain::new(credentials)?),
            Mechanism::Login => Inner::Login(login::Login::new(credentials)),
            Mechanism::CramMd5 => Inner::CramMd5(cram_md5::CramMd5::new(credentials)),
            Mechanism::ScramSha256 | Mechanism::ScramSha256Plus => {
                let binding = selected.channel_binding().clone();
                Inner::Scram(Box::new(scram::Scram::new(credentials, binding, None)?))
            }
            Mechanism::XOAuth2 => Inner::XOAuth2(xoauth2::XOAuth2::new(credentials)),
        };
        Ok(Self { inner })
    }

    /// The mechanism being run.
    pub fn mechanism(&self) -> Mechanism {
        match &self.inner {
            Inner::Plain(_) => Mechanism::Plain,
            Inner::Login(_) => Mechanism::Login,
            Inner::CramMd5(_) => Mechanism::CramMd5,
            Inner::Scram(s) => s.mechanism(),
            Inner::XOAuth2(_) => Mechanism::XOAuth2,
        }
    }

    /// The initial response to put on the `AUTH` line, if the mechanism has one.
    ///
    /// Call it at most once, before any [`step`](Self::step). `Some` of an empty
    /// secret is sent as `=`. The driver may instead send `AUTH <name>` alone when
    /// the line would exceed 12288 octets; `step` then answers the empty `334`.
    pub fn initial_response(&mut self) -> Result<Option<Secret>, SaslError> {
        match &mut self.inner {
            Inner::Plain(m) => m.initial_response().map(Some),
            Inner::Login(_) | Inner::CramMd5(_) => Ok(None),
            Inner::Scram(m) => m.initial_response().map(Some),
            Inner::XOAuth2(m) => m.initial_response().map(Some),
        }
    }

    /// Answers one `334` challenge (already base64-decoded by the driver).
    ///
    /// An error means the exchange cannot continue: send `*` and count the attempt
    /// as failed.
    pub fn step(&mut self, challenge: &[u8]) -> Result<Step, SaslError> {
        match &mut self.inner {
            Inner::Plain(m) => m.step(challenge),
            Inner::Login(m) => m.step(challenge),
            Inner::CramMd5(m) => m.step(challenge),
            Inner::Scram(m) => m.step(challenge),
            Inner::XOAuth2(m) => m.step(challenge),
        }
    }

    /// Checks that a `235` reply may be believed.
    ///
    /// For SCRAM the server must have proved knowledge of the password with a
    /// verified `v=` signature; a bare `235` before that is refused
    /// ([`SaslError::ServerNotVerified`]). Other mechanisms accept it.
    pub fn handle_success(&self) -> Result<(), SaslError> {
        match &self.inner {
            Inner::Scram(m) => m.handle_success(),
            _ => Ok(()),
        }
    }
}

/// Renders a server-supplied text for an error message: lossy UTF-8, capped.
pub(crate) fn peer_text(bytes: &[u8]) -> String {
    const CAP: usize = 512;
    let capped = &bytes[..bytes.len().min(CAP)];
    String::from_utf8_lossy(capped).chars().map(|c| if c.is_control() { '?' } else { c }).collect()
}
