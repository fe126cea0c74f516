//! Secrets that zero their memory and never print.

use std::fmt;

use zeroize::Zeroizing;

/// A password, token or other secret.
///
/// Its memory is zeroed when it is dropped, and `Debug` and `Display` print
/// `<redacted>`, so a secret cannot reach a log line by accident. The bytes
/// are available only through [`Secret::expose`], whose name makes each use
/// easy to find in review.
///
/// ```
/// use smarthost_authinfo::Secret;
///
/// let password = Secret::new(b"tanstaaftanstaaf".to_vec());
/// assert_eq!(format!("{password:?} {password}"), "<redacted> <redacted>");
/// assert_eq!(password.expose(), b"tanstaaftanstaaf");
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Zeroizing<Vec<u8>>);

impl Secret {
    /// Wraps secret bytes.
    pub fn new(bytes: Vec<u8>) -> Self {
        Self(Zeroizing::new(bytes))
    }

    /// The secret bytes.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }

    /// Whether the secret is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<&str> for Secret {
    fn from(text: &str) -> Self {
        Self::new(text.as_bytes().to_vec())
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}
