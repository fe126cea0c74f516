//! Stored passwords: plain text, crypt-style hashes and SCRAM keys, and how
//! each one checks a password a client sent.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, KeyInit, Mac};
use sha_crypt::{PasswordVerifier as _, ShaCrypt};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::Secret;

/// How one user's password is stored in the server credentials file.
///
/// The form decides which mechanisms can verify it: PLAIN and LOGIN work
/// with every form, CRAM-MD5 only with [`StoredPassword::Plain`], and
/// SCRAM-SHA-256 with [`StoredPassword::Plain`] and [`StoredPassword::Scram`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum StoredPassword {
    /// The password itself, plus the salt SCRAM-SHA-256 uses for it (chosen
    /// at random when the entry is loaded).
    Plain {
        /// The password.
        password: Secret,
        /// The salt SCRAM-SHA-256 announces for this user.
        scram_salt: [u8; 16],
    },
    /// A SHA-512-crypt hash (`$6$[rounds=N$]salt$hash`).
    Sha512Crypt(String),
    /// An Argon2id PHC string (`$argon2id$v=19$m=..,t=..,p=..$salt$hash`).
    Argon2id(String),
    /// A bcrypt hash (`$2b$`, `$2y$` or `$2a$`, cost, salt and hash).
    Bcrypt(String),
    /// SCRAM-SHA-256 keys (`SCRAM-SHA-256$<iter>:<salt>$<StoredKey>:<ServerKey>`).
    Scram(ScramKeys),
}

/// The iteration count used for SCRAM-SHA-256 when the file holds a plain
/// password: the minimum RFC 7677 §4 allows.
pub const SCRAM_PLAIN_ITERATIONS: u32 = 4096;

/// Salted SCRAM-SHA-256 verifier keys (RFC 5802 §3), in the format
/// PostgreSQL uses: `SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`,
/// each of the last three in standard base64.
///
/// ```
/// use smarthost_authinfo::server::ScramKeys;
///
/// let keys = ScramKeys::derive(b"pencil", b"salt-of-16-bytes", 4096);
/// let text = keys.to_string();
/// assert!(text.starts_with("SCRAM-SHA-256$4096:"));
/// assert_eq!(text.parse::<ScramKeys>().unwrap(), keys);
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct ScramKeys {
    pub(crate) iterations: u32,
    pub(crate) salt: Vec<u8>,
    pub(crate) stored_key: [u8; 32],
    pub(crate) server_key: [u8; 32],
}

/// Why a `SCRAM-SHA-256$...` string could not be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScramKeysParseError(&'static str);

impl fmt::Display for ScramKeysParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for ScramKeysParseError {}

impl ScramKeys {
    /// Derives the keys from a password, a salt and an iteration count.
    ///
    /// The password is used as its UTF-8 bytes; SASLprep is not applied.
    pub fn derive(password: &[u8], salt: &[u8], iterations: u32) -> Self {
        let salted = salted_password(password, salt, iterations);
        let client_key = hmac_sha256(&salted, b"Client Key");
        Self {
            iterations,
            salt: salt.to_vec(),
            stored_key: Sha256::digest(client_key).into(),
            server_key: hmac_sha256(&salted, b"Server Key"),
        }
    }

    /// The PBKDF2 iteration count.
    pub fn iterations(&self) -> u32 {
        self.iterations
    }

    /// The salt.
    pub fn salt(&self) -> &[u8] {
        &self.salt
    }

    /// Whether `password` derives these keys (used by PLAIN and LOGIN).
    fn is_password(&self, password: &[u8]) -> bool {
        let other = Self::derive(password, &self.salt, self.iterations);
        other.stored_key.ct_eq(&self.stored_key).into()
    }
}

impl fmt::Debug for ScramKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScramKeys").field("iterations", &self.iterations).finish_non_exhaustive()
    }
}

impl fmt::Display for ScramKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "SCRAM-SHA-256${}:{}${}:{}",
            self.iterations,
            BASE64.encode(&self.salt),
            BASE64.encode(self.stored_key),
            BASE64.encode(self.server_key)
        )
    }
}

impl std::str::FromStr for ScramKeys {
    type Err = ScramKeysParseError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let err = ScramKeysParseError;
        let rest = text.strip_prefix("SCRAM-SHA-256$").ok_or(err("expected the prefix `SCRAM-SHA-256$`"))?;
        let (params, keys) =
            rest.split_once('$').ok_or(err("expected `<iterations>:<salt>$<StoredKey>:<ServerKey>`"))?;
        let (iterations, salt) =
            params.split_once(':').ok_or(err("expected `<iterations>:<salt>` after `SCRAM-SHA-256$`"))?;
        let iterations: u32 = iterations.parse().map_err(|_| err("the iteration count is not a number"))?;
        if iterations == 0 {
            return Err(err("the iteration count must be at least 1"));
        }
        let salt = BASE64.decode(salt).map_err(|_| err("the salt is not valid base64"))?;
        if salt.is_empty() {
            return Err(err("the salt is empty"));
        }
        let (stored, server) = keys.split_once(':').ok_or(err("expected `<StoredKey>:<ServerKey>`"))?;
        let key = |b64: &str| -> Result<[u8; 32], ScramKeysParseError> {
            let bytes = BASE64.decode(b64).map_err(|_| err("a key is not valid base64"))?;
            bytes.try_into().map_err(|_| err("a key is not 32 bytes (SHA-256) long"))
        };
        Ok(Self { iterations, salt, stored_key: key(stored)?, server_key: key(server)? })
    }
}

impl StoredPassword {
    /// Reads the password column of a credentials file line.
    ///
    /// `{PLAIN}` forces the rest to be taken as a plain password; otherwise
    /// text starting with `$` or `SCRAM-SHA-256$` must be a supported hash.
    pub(crate) fn parse(text: &str, scram_salt: [u8; 16]) -> Result<Self, String> {
        if let Some(password) = text.strip_prefix("{PLAIN}") {
            return Ok(Self::plain(password, scram_salt));
        }
        if text.starts_with("SCRAM-SHA-256$") {
            return text.parse().map(Self::Scram).map_err(|e| format!("bad SCRAM-SHA-256 keys: {e}"));
        }
        if !text.starts_with('$') {
            return Ok(Self::plain(text, scram_salt));
        }
        if text.starts_with("$6$") {
            sha_crypt::PasswordHashRef::new(text)
                .map_err(|_| "bad SHA-512-crypt hash: expected `$6$[rounds=N$]salt$hash`")?;
            Ok(Self::Sha512Crypt(text.to_owned()))
        } else if text.starts_with("$argon2id$") {
            argon2::PasswordHash::new(text).map_err(|e| format!("bad Argon2id hash: {e}"))?;
            Ok(Self::Argon2id(text.to_owned()))
        } else if ["$2b$", "$2y$", "$2a$"].iter().any(|p| text.starts_with(p)) {
            if text.len() != 60 || !text.is_ascii() {
                return Err("bad bcrypt hash: expected 60 characters like `$2b$12$<53 more>`".into());
            }
            Ok(Self::Bcrypt(text.to_owned()))
        } else {
            Err("unsupported password hash: expected `$6$` (SHA-512-crypt), `$argon2id$`, \
                 `$2b$`/`$2y$`/`$2a$` (bcrypt) or `SCRAM-SHA-256$`; write `{PLAIN}` before \
                 a plain password that starts with `$`"
                .into())
        }
    }

    fn plain(password: &str, scram_salt: [u8; 16]) -> Self {
        Self::Plain { password: Secret::from(password), scram_salt }
    }

    /// Whether `password` is this user's password. Plain passwords are
    /// compared in constant time (as SHA-256 digests, so lengths do not leak
    /// either); hashes are checked by their crates, which do the same.
    ///
    /// Hash checks are deliberately slow (milliseconds to a second): an
    /// async driver should call this on a blocking thread.
    pub fn is_password(&self, password: &[u8]) -> bool {
        match self {
            Self::Plain { password: p, .. } => {
                let stored = Sha256::digest(p.expose());
                let given = Sha256::digest(password);
                stored.ct_eq(&given).into()
            }
            Self::Sha512Crypt(hash) => ShaCrypt::default().verify_password(password, hash.as_str()).is_ok(),
            Self::Argon2id(hash) => {
                use argon2::PasswordVerifier as _;
                argon2::Argon2::default().verify_password(password, hash.as_str()).is_ok()
            }
            Self::Bcrypt(hash) => bcrypt::verify(password, hash).unwrap_or(false),
            Self::Scram(keys) => keys.is_password(password),
        }
    }

    /// The plain password, if that is what is stored (CRAM-MD5 needs it).
    pub(crate) fn plain_password(&self) -> Option<&Secret> {
        match self {
            Self::Plain { password, .. } => Some(password),
            _ => None,
        }
    }

    /// The SCRAM-SHA-256 keys, derived from a plain password if needed.
    /// `None` when only a crypt-style hash is stored.
    pub(crate) fn scram_keys(&self) -> Option<ScramKeys> {
        match self {
            Self::Plain { password, scram_salt } => {
                Some(ScramKeys::derive(password.expose(), scram_salt, SCRAM_PLAIN_ITERATIONS))
            }
            Self::Scram(keys) => Some(keys.clone()),
            _ => None,
        }
    }
}

pub(crate) fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    // HMAC accepts keys of any length, so `new_from_slice` cannot fail.
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("HMAC takes any key");
    mac.update(data);
    mac.finalize().into_bytes().into()
}

fn salted_password(password: &[u8], salt: &[u8], iterations: u32) -> [u8; 32] {
    let mut out = [0u8; 32];
    pbkdf2::pbkdf2_hmac::<Sha256>(password, salt, iterations, &mut out);
    out
}
