//! The server credentials file: `login[@domain]  password`, one per line.

use std::collections::HashMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use super::stored::StoredPassword;

/// The users a submission listener accepts, read from a credentials file.
///
/// # File format
///
/// ```text
/// # login[@domain]   password (plain, or a hash)
/// alice              correct horse battery staple
/// bob@example.org    $6$rounds=5000$saltsalt$...
/// carol              $argon2id$v=19$m=19456,t=2,p=1$...
/// dave               $2b$12$...
/// erin               SCRAM-SHA-256$4096:<salt>$<StoredKey>:<ServerKey>
/// frank              {PLAIN}$tarts with a dollar
/// ```
///
/// * Blank lines and lines whose first non-blank character is `#` are
///   ignored. `#` elsewhere is part of the password.
/// * The login is the first white-space separated word. The password is
///   **the rest of the line** after the white space that follows the login,
///   with trailing white space (and a CR) removed: spaces *inside* a
///   password are kept, but a password cannot start or end with white space.
/// * A password starting with `$` or `SCRAM-SHA-256$` must be a supported
///   hash (`$6$`, `$argon2id$`, `$2b$`/`$2y$`/`$2a$`, SCRAM keys); write
///   `{PLAIN}` in front of a plain password that starts with one of those.
/// * Logins are matched with the local part exact and the domain
///   case-insensitive; a login may appear only once.
///
/// ```
/// use smarthost_authinfo::server::ServerCredentials;
///
/// let creds = ServerCredentials::parse_str("users", "alice  open sesame\n")?;
/// assert!(creds.lookup("alice").unwrap().1.is_password(b"open sesame"));
/// # Ok::<(), smarthost_authinfo::server::CredentialsError>(())
/// ```
#[derive(Clone, Debug, Default)]
pub struct ServerCredentials {
    users: HashMap<String, StoredPassword>,
}

/// Why a server credentials file could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CredentialsError {
    /// The file could not be read.
    #[error("{path}: cannot read the credentials file: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the system said.
        source: io::Error,
    },
    /// The file is accessible by group or others, or has the wrong owner;
    /// the message names the mode and the `chmod` that fixes it
    /// ([`crate::check_permissions`], shared with the client-side files).
    #[error(transparent)]
    Permissions(crate::AuthInfoError),
    /// A line could not be read.
    #[error("{origin}:{line}: {message}")]
    Syntax {
        /// The file name (or the name given to [`ServerCredentials::parse_str`]).
        origin: String,
        /// The 1-based line number.
        line: usize,
        /// What is wrong and what was expected.
        message: String,
    },
}

impl ServerCredentials {
    /// Reads a credentials file, refusing one that group or others can
    /// access.
    pub fn load(path: &Path) -> Result<Self, CredentialsError> {
        let io_err = |source| CredentialsError::Io { path: path.to_owned(), source };
        crate::check_permissions(path).map_err(CredentialsError::Permissions)?;
        let bytes = fs::read(path).map_err(io_err)?;
        let origin = path.display().to_string();
        let text = String::from_utf8(bytes).map_err(|e| {
            let line =
                e.as_bytes()[..e.utf8_error().valid_up_to()].iter().filter(|&&b| b == b'\n').count() + 1;
            CredentialsError::Syntax { origin: origin.clone(), line, message: "not valid UTF-8".into() }
        })?;
        Self::parse_str(&origin, &text)
    }

    /// Parses credentials text; `origin` names it in error messages.
    pub fn parse_str(origin: &str, text: &str) -> Result<Self, CredentialsError> {
        let mut users = HashMap::new();
        let mut first_seen: HashMap<String, usize> = HashMap::new();
        for (index, raw) in text.lines().enumerate() {
            let line = index + 1;
            let syntax =
                |message: String| CredentialsError::Syntax { origin: origin.to_owned(), line, message };
            let trimmed = raw.trim();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                continue;
            }
            let (login, password) = match trimmed.split_once(char::is_whitespace) {
                Some((login, rest)) => (login, rest.trim_start()),
                None => (trimmed, ""),
            };
            if password.is_empty() {
                return Err(syntax(format!(
                    "login `{login}` has no password; expected `login[@domain]  password`"
                )));
            }
            check_login(login).map_err(syntax)?;
            let stored = StoredPassword::parse(password, random_salt()).map_err(syntax)?;
            let key = normalize_login(login);
            if let Some(first) = first_seen.get(&key) {
                return Err(syntax(format!("login `{login}` appears again (first on line {first})")));
            }
            first_seen.insert(key.clone(), line);
            users.insert(key, stored);
        }
        Ok(Self { users })
    }

    /// Adds or replaces a user (for callers that keep users elsewhere).
    pub fn insert(&mut self, login: &str, password: StoredPassword) {
        self.users.insert(normalize_login(login), password);
    }

    /// The user's canonical login (domain lower-cased) and stored password.
    pub fn lookup(&self, login: &str) -> Option<(&str, &StoredPassword)> {
        self.users.get_key_value(&normalize_login(login)).map(|(k, v)| (k.as_str(), v))
    }

    /// The number of users.
    pub fn len(&self) -> usize {
        self.users.len()
    }

    /// Whether there are no users.
    pub fn is_empty(&self) -> bool {
        self.users.is_empty()
    }

    /// Whether any user has a plain password (CRAM-MD5 needs one).
    pub fn has_plain_passwords(&self) -> bool {
        self.users.values().any(|p| matches!(p, StoredPassword::Plain { .. }))
    }

    /// Whether any user can do SCRAM-SHA-256 (plain password or SCRAM keys).
    pub fn has_scram_keys(&self) -> bool {
        self.users.values().any(|p| matches!(p, StoredPassword::Plain { .. } | StoredPassword::Scram(_)))
    }
}

/// Local part exact, domain lower-cased.
pub(crate) fn normalize_login(login: &str) -> String {
    match login.rsplit_once('@') {
        Some((local, domain)) => format!("{local}@{}", domain.to_ascii_lowercase()),
        None => login.to_owned(),
    }
}

fn check_login(login: &str) -> Result<(), String> {
    if login.chars().any(char::is_control) {
        return Err(format!("login `{}` contains a control character", login.escape_debug()));
    }
    match login.split_once('@') {
        Some((local, domain)) if local.is_empty() || domain.is_empty() || domain.contains('@') => {
            Err(format!("login `{login}` is malformed; expected `user` or `user@domain`"))
        }
        _ => Ok(()),
    }
}

/// A per-entry SCRAM salt for plain passwords. If the system has no
/// randomness the salt is zero, which only weakens SCRAM against
/// precomputation; PLAIN, LOGIN and CRAM-MD5 do not use it.
fn random_salt() -> [u8; 16] {
    let mut salt = [0u8; 16];
    let _ = getrandom::fill(&mut salt);
    salt
}
