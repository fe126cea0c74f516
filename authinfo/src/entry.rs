//! One AuthInfo value: `"U:user" "I:login" "P:password" "R:realm" "M:PLAIN LOGIN"`
//! (spec `authinfo.md` §2), parsed with the rules of sendmail's client
//! (`usersmtp.c`), and written back in the same syntax.
//!
//! Two ways to parse:
//!
//! * [`AuthEntry::parse`] follows sendmail: an item that does not start with
//!   `"` ends parsing and the rest is ignored, as is an eighth item. This is
//!   what a lookup uses, so a value means what it means to sendmail.
//! * [`AuthEntry::parse_strict`] also refuses ignored text. Loading a file
//!   ([`crate::AuthInfoFile::load`]) uses it, because ignored text is nearly
//!   always a mistake: `"P:pa ss"word"` silently becomes the password `pa ss`.
//!
//! Error messages never quote item text, since it may be a password.

use std::fmt;
use std::path::PathBuf;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

use crate::Secret;

/// sendmail processes at most this many items of a value.
pub const MAX_ITEMS: usize = 7;

/// Parsed credentials for one server.
///
/// Both identities are always set: when the value names only one of `U` and
/// `I`, the other is a copy. The realm and the mechanism list keep "absent"
/// apart from "empty" so the caller can apply its defaults
/// ([`realm_or`](Self::realm_or), [`mechanisms_or`](Self::mechanisms_or)).
///
/// ```
/// use smarthost_authinfo::AuthEntry;
///
/// let entry = AuthEntry::parse(br#""U:relayuser@example.net" "P:Tr0ub4dor&3" "M:PLAIN LOGIN""#)?;
/// assert_eq!(entry.authn, "relayuser@example.net");
/// assert_eq!(entry.password.expose(), b"Tr0ub4dor&3");
/// assert_eq!(entry.mechanisms_or(&["CRAM-MD5"]), ["PLAIN", "LOGIN"]);
/// assert_eq!(entry.realm_or("mail.example.org"), "mail.example.org");
/// assert_eq!(AuthEntry::parse(entry.render().as_bytes())?, entry);
/// # Ok::<(), smarthost_authinfo::AuthInfoError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthEntry {
    /// `U`: the authorization identity, the identity to act as.
    pub authz: String,
    /// `I`: the authentication identity, the login whose password is `P`.
    pub authn: String,
    /// `P`: the password.
    pub password: Secret,
    /// `R`: the realm; `None` means "this host's name", `Some("")` an
    /// explicitly empty realm.
    pub realm: Option<String>,
    /// `M`: the mechanisms allowed for this server, as written; `None` means
    /// the AuthMechanisms option.
    pub mechanisms: Option<Vec<String>>,
}

impl AuthEntry {
    /// The credentials a client mechanism authenticates with: `I:` logs
    /// in, and `U:` is sent as the authorization identity only where it
    /// differs (authinfo.md §5.1).
    pub fn credentials(&self) -> crate::Credentials {
        crate::Credentials {
            authzid: Some(self.authz.clone()),
            authcid: self.authn.clone(),
            secret: self.password.clone(),
        }
    }

    /// Parses a value with sendmail's rules (see the module docs).
    pub fn parse(value: &[u8]) -> Result<Self, AuthInfoError> {
        parse_value(value, false, &Origin::default())
    }

    /// Parses a value and also refuses text that sendmail would ignore: a
    /// non-item after the items, or more than [`MAX_ITEMS`] items.
    pub fn parse_strict(value: &[u8]) -> Result<Self, AuthInfoError> {
        parse_value(value, true, &Origin::default())
    }

    /// The realm, or `hostname` (sendmail's `$j`) when the entry has none.
    pub fn realm_or<'a>(&'a self, hostname: &'a str) -> &'a str {
        self.realm.as_deref().unwrap_or(hostname)
    }

    /// The allowed mechanisms, or `configured` (the AuthMechanisms option)
    /// when the entry has no `M` item.
    pub fn mechanisms_or<'a>(&'a self, configured: &'a [&'a str]) -> Vec<&'a str> {
        match &self.mechanisms {
            Some(list) => list.iter().map(String::as_str).collect(),
            None => configured.to_vec(),
        }
    }

    /// Writes the entry in sendmail's syntax, every field explicitly.
    ///
    /// Text is written after `:` when it can be (printable ASCII without `"`
    /// or `\` and without leading or trailing spaces) and base64 after `=`
    /// otherwise, so the result parses back to the same entry.
    pub fn render(&self) -> String {
        let mut out = String::new();
        push_item(&mut out, 'U', self.authz.as_bytes());
        out.push(' ');
        push_item(&mut out, 'I', self.authn.as_bytes());
        out.push(' ');
        push_item(&mut out, 'P', self.password.expose());
        if let Some(realm) = &self.realm {
            out.push(' ');
            push_item(&mut out, 'R', realm.as_bytes());
        }
        if let Some(mechanisms) = &self.mechanisms {
            out.push(' ');
            push_item(&mut out, 'M', mechanisms.join(" ").as_bytes());
        }
        out
    }
}

/// Where a value came from, for error messages: `file:line`, or the file and
/// key for a compiled map, or only the key.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Origin {
    /// The map file.
    pub path: Option<PathBuf>,
    /// The 1-based line in a text source.
    pub line: Option<usize>,
    /// The key the value is stored under.
    pub key: Option<String>,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.path, self.line, &self.key) {
            (Some(path), Some(line), _) => write!(f, "{}:{line}", path.display()),
            (Some(path), None, Some(key)) => write!(f, "{}: key `{key}`", path.display()),
            (Some(path), None, None) => write!(f, "{}", path.display()),
            (None, _, Some(key)) => write!(f, "key `{key}`"),
            (None, _, None) => f.write_str("AuthInfo value"),
        }
    }
}

/// Everything that can be wrong with AuthInfo data, grouped by who acts.
///
/// Entry errors name where the value is and the tag; they never quote the
/// item's text, which may be a password. sendmail treats every entry error as
/// "no credentials" and delivers without authenticating.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuthInfoError {
    // The operator has to fix the value.
    /// A tag other than U, I, P, R or M.
    #[error("{at}: unknown tag `{tag}`; expected U, I, P, R or M followed by `:` (text) or `=` (base64)")]
    UnknownTag {
        /// Where the value is.
        at: Origin,
        /// The tag found.
        tag: char,
    },
    /// The tag is not followed by `:` or `=`.
    #[error("{at}: item `\"{tag}` must continue with `:` (text) or `=` (base64), as in `\"{tag}:text\"`")]
    BadDelimiter {
        /// Where the value is.
        at: Origin,
        /// The item's tag.
        tag: char,
    },
    /// An item without its closing quote, or shorter than `"T:"`.
    #[error(
        "{at}: the item starting at byte {offset} has no closing `\"`; write each item as \
         `\"T:text\"`, and a text containing `\"` in base64 as `\"T=...\"`"
    )]
    Unquoted {
        /// Where the value is.
        at: Origin,
        /// The item's byte offset in the value.
        offset: usize,
    },
    /// Text after `=` that is not base64.
    #[error(
        "{at}: the text after `{tag}=` is not valid base64; encode it with \
         `printf %s 'TEXT' | base64`, or write it literally after `{tag}:`"
    )]
    BadBase64 {
        /// Where the value is.
        at: Origin,
        /// The item's tag.
        tag: char,
    },
    /// An identity, realm or mechanism list that is not UTF-8.
    #[error("{at}: the `{tag}` text is not UTF-8; only the password (`P`) may hold arbitrary bytes")]
    NotUtf8 {
        /// Where the value is.
        at: Origin,
        /// The item's tag.
        tag: char,
    },
    /// A NUL byte, which SASL cannot carry in these fields.
    #[error("{at}: the `{tag}` text contains a NUL byte, which SMTP AUTH cannot send; remove it")]
    NulByte {
        /// Where the value is.
        at: Origin,
        /// The item's tag.
        tag: char,
    },
    /// No `P` item.
    #[error("{at}: no password; add an item `\"P:password\"` (or `\"P=base64\"`)")]
    MissingPassword {
        /// Where the value is.
        at: Origin,
    },
    /// Neither `U` nor `I`.
    #[error("{at}: no user; add an item `\"U:user\"` (or `\"I:user\"`)")]
    MissingIdentity {
        /// Where the value is.
        at: Origin,
    },
    /// An empty password, which sendmail treats as "no credentials".
    #[error("{at}: the password is empty, so no credentials would be sent; put the password after `P:`")]
    EmptyPassword {
        /// Where the value is.
        at: Origin,
    },
    /// Both identities empty, which sendmail treats as "no credentials".
    #[error("{at}: the user is empty, so no credentials would be sent; put the user after `U:`")]
    EmptyIdentity {
        /// Where the value is.
        at: Origin,
    },
    /// Text that sendmail would silently ignore (strict parsing only).
    #[error(
        "{at}: the text from byte {offset} on is not a quoted item and sendmail would ignore it; \
         quote every item as `\"T:text\"`, and write a password containing `\"` in base64 as `\"P=...\"`"
    )]
    TrailingText {
        /// Where the value is.
        at: Origin,
        /// Where the ignored text starts.
        offset: usize,
    },
    /// More items than sendmail reads (strict parsing only).
    #[error("{at}: more than {MAX_ITEMS} items; sendmail ignores the rest, so remove the repeated tags")]
    TooManyItems {
        /// Where the value is.
        at: Origin,
    },

    // The operator has to fix the file.
    /// The file is readable or writable by group or others.
    #[error(
        "{}: mode is {mode:04o}, but AuthInfo files hold passwords and must not be \
         accessible by group or others (at most 0600, u=rw); run `chmod 600 {}`",
        .path.display(), .path.display()
    )]
    TooPermissive {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// The file belongs to a user other than root or the one we run as.
    #[error(
        "{}: owned by uid {owner}, but AuthInfo files must belong to root or to the user \
         smarthost runs as (uid {expected}); run `chown root {}`",
        .path.display(), .path.display()
    )]
    WrongOwner {
        /// The file.
        path: PathBuf,
        /// Its owner.
        owner: u32,
        /// The user we run as.
        expected: u32,
    },
    /// The file could not be examined.
    #[error("{}: cannot check permissions: {source}", .path.display())]
    Stat {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The map could not be opened or read (a temporary failure).
    #[error(transparent)]
    Map(#[from] smarthost_maps::Error),
}

impl AuthInfoError {
    /// Whether this is about one entry's value (sendmail: "authinfo failed",
    /// deliver without authenticating) rather than about the file.
    pub fn is_entry_error(&self) -> bool {
        self.origin().is_some()
    }

    /// Where the bad value is, for entry errors.
    pub fn origin(&self) -> Option<&Origin> {
        use AuthInfoError::*;
        match self {
            UnknownTag { at, .. }
            | BadDelimiter { at, .. }
            | Unquoted { at, .. }
            | BadBase64 { at, .. }
            | NotUtf8 { at, .. }
            | NulByte { at, .. }
            | MissingPassword { at }
            | MissingIdentity { at }
            | EmptyPassword { at }
            | EmptyIdentity { at }
            | TrailingText { at, .. }
            | TooManyItems { at } => Some(at),
            TooPermissive { .. } | WrongOwner { .. } | Stat { .. } | Map(_) => None,
        }
    }
}

/// Parses `value`; see [`AuthEntry::parse`] and [`AuthEntry::parse_strict`].
pub(crate) fn parse_value(value: &[u8], strict: bool, at: &Origin) -> Result<AuthEntry, AuthInfoError> {
    let mut fields = Fields::default();
    let mut pos = 0;
    let mut items = 0;
    loop {
        while value.get(pos).is_some_and(|b| matches!(b, b' ' | b'\t')) {
            pos += 1;
        }
        if pos == value.len() {
            break;
        }
        if value[pos] != b'"' {
            if strict {
                return Err(AuthInfoError::TrailingText { at: at.clone(), offset: pos });
            }
            break;
        }
        if items == MAX_ITEMS {
            if strict {
                return Err(AuthInfoError::TooManyItems { at: at.clone() });
            }
            break;
        }
        pos = parse_item(value, pos, &mut fields, at)?;
        items += 1;
    }
    fields.finish(at)
}

/// The items seen so far; a later item replaces an earlier one.
#[derive(Default)]
struct Fields {
    authz: Option<Vec<u8>>,
    authn: Option<Vec<u8>>,
    password: Option<Secret>,
    realm: Option<Vec<u8>>,
    mechanisms: Option<Vec<u8>>,
}

impl Fields {
    fn finish(self, at: &Origin) -> Result<AuthEntry, AuthInfoError> {
        let text = |tag, bytes: Vec<u8>| {
            if bytes.contains(&0) {
                return Err(AuthInfoError::NulByte { at: at.clone(), tag });
            }
            String::from_utf8(bytes).map_err(|_| AuthInfoError::NotUtf8 { at: at.clone(), tag })
        };
        let authz = self.authz.map(|b| text('U', b)).transpose()?;
        let authn = self.authn.map(|b| text('I', b)).transpose()?;
        let realm = self.realm.map(|b| text('R', b)).transpose()?;
        let mechanisms = self.mechanisms.map(|b| text('M', b)).transpose()?;
        let password = self.password.ok_or_else(|| AuthInfoError::MissingPassword { at: at.clone() })?;
        let (authz, authn) = match (authz, authn) {
            (Some(u), Some(i)) => (u, i),
            (Some(u), None) => (u.clone(), u),
            (None, Some(i)) => (i.clone(), i),
            (None, None) => return Err(AuthInfoError::MissingIdentity { at: at.clone() }),
        };
        if password.is_empty() {
            return Err(AuthInfoError::EmptyPassword { at: at.clone() });
        }
        if password.expose().contains(&0) {
            return Err(AuthInfoError::NulByte { at: at.clone(), tag: 'P' });
        }
        if authz.is_empty() && authn.is_empty() {
            return Err(AuthInfoError::EmptyIdentity { at: at.clone() });
        }
        let mechanisms = mechanisms.map(|list| list.split_ascii_whitespace().map(str::to_owned).collect());
        Ok(AuthEntry { authz, authn, password, realm, mechanisms })
    }
}

/// Parses the item that starts with the `"` at `start`; returns the offset
/// after its closing quote.
fn parse_item(value: &[u8], start: usize, fields: &mut Fields, at: &Origin) -> Result<usize, AuthInfoError> {
    let unquoted = || AuthInfoError::Unquoted { at: at.clone(), offset: start };
    // There is no escape character: the first `"` after the opening one closes.
    let close =
        value[start + 1..].iter().position(|&b| b == b'"').map(|i| start + 1 + i).ok_or_else(unquoted)?;
    // `"T:"` is the shortest item.
    if close < start + 3 {
        return Err(unquoted());
    }
    let tag = value[start + 1];
    let text = &value[start + 3..close];
    let tag_char = char::from(tag.to_ascii_uppercase());
    if !matches!(tag_char, 'U' | 'I' | 'P' | 'R' | 'M') {
        return Err(AuthInfoError::UnknownTag { at: at.clone(), tag: display_tag(tag) });
    }
    let text = match value[start + 2] {
        b':' => text.to_vec(),
        b'=' => {
            BASE64.decode(text).map_err(|_| AuthInfoError::BadBase64 { at: at.clone(), tag: tag_char })?
        }
        _ => return Err(AuthInfoError::BadDelimiter { at: at.clone(), tag: tag_char }),
    };
    match tag_char {
        'U' => fields.authz = Some(text),
        'I' => fields.authn = Some(text),
        'P' => fields.password = Some(Secret::new(text)),
        'R' => fields.realm = Some(text),
        _ => fields.mechanisms = Some(text),
    }
    Ok(close + 1)
}

/// A tag byte as a `char` for a message: itself if printable ASCII.
fn display_tag(tag: u8) -> char {
    if tag.is_ascii_graphic() { char::from(tag) } else { char::REPLACEMENT_CHARACTER }
}

/// Appends `"T:text"`, or `"T=base64"` when the text cannot be written literally.
fn push_item(out: &mut String, tag: char, text: &[u8]) {
    let literal = text.iter().all(|&b| (b' '..=b'~').contains(&b) && b != b'"' && b != b'\\')
        && text.first() != Some(&b' ')
        && text.last() != Some(&b' ');
    out.push('"');
    out.push(tag);
    match std::str::from_utf8(text) {
        Ok(text) if literal => {
            out.push(':');
            out.push_str(text);
        }
        _ => {
            out.push('=');
            out.push_str(&BASE64.encode(text));
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests;
