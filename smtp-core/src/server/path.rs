//! `MAIL FROM:` and `RCPT TO:` arguments: the path, kept exactly as
//! received, and the parameter text after it.
//!
//! smtp-proto decodes quoted local parts and drops source routes, so a relay
//! could not pass the address on unchanged; this parser validates the
//! RFC 5321 §4.1.2 syntax and keeps the raw text.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use crate::server::config::SyntaxMode;

/// A path as received between `<` and `>`: an optional source route
/// (`@a,@b:`) and a mailbox `local@domain`, or a bare `Postmaster`.
///
/// [`Path::raw`] is the text as the client sent it, quoted local part and
/// all; a relay forwards that. The accessors give the parts.
///
/// ```
/// use smarthost_smtp_core::Path;
/// let path = Path::parse("@relay.example:\"john doe\"@example.org").unwrap();
/// assert_eq!(path.raw(), "@relay.example:\"john doe\"@example.org");
/// assert_eq!(path.mailbox(), "\"john doe\"@example.org");
/// assert_eq!(path.local_part(), "\"john doe\"");
/// assert_eq!(path.local_part_decoded(), "john doe");
/// assert_eq!(path.domain(), Some("example.org"));
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Path {
    /// Shared: a question and the transaction hold the same path.
    raw: Arc<str>,
    /// Where the mailbox starts (after the source route's `:`).
    mailbox_at: u16,
    /// Where the `@` before the domain is, if there is one.
    domain_at: Option<u16>,
    non_ascii: bool,
}

/// Why a path is not RFC 5321 syntax.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PathError {
    /// The text does not follow `[@route:]local-part[@domain]`.
    #[error("malformed address")]
    Syntax,
    /// A local part without `@domain` other than `Postmaster`.
    #[error("address without a domain")]
    NoDomain,
}

impl Path {
    /// Parses the text between the angle brackets (not empty).
    pub fn parse(text: &str) -> Result<Path, PathError> {
        parse_path(text, false)
    }

    /// The path exactly as received, without the angle brackets.
    pub fn raw(&self) -> &str {
        &self.raw
    }

    /// The source route as received (`@a,@b:`), empty when there is none.
    /// RFC 5321 §4.1.1.3: accept it and ignore it.
    pub fn source_route(&self) -> &str {
        &self.raw[..usize::from(self.mailbox_at)]
    }

    /// The mailbox without the source route, as received.
    pub fn mailbox(&self) -> &str {
        &self.raw[usize::from(self.mailbox_at)..]
    }

    /// The local part as received (quotes included).
    pub fn local_part(&self) -> &str {
        match self.domain_at {
            Some(at) => &self.raw[usize::from(self.mailbox_at)..usize::from(at)],
            None => self.mailbox(),
        }
    }

    /// The local part with quotes and backslash escapes removed.
    pub fn local_part_decoded(&self) -> Cow<'_, str> {
        let local = self.local_part();
        match local.strip_prefix('"').and_then(|l| l.strip_suffix('"')) {
            None => Cow::Borrowed(local),
            Some(inner) => {
                let mut out = String::with_capacity(inner.len());
                let mut escaped = false;
                for c in inner.chars() {
                    if c == '\\' && !escaped {
                        escaped = true;
                    } else {
                        out.push(c);
                        escaped = false;
                    }
                }
                Cow::Owned(out)
            }
        }
    }

    /// The domain (or address literal) after the `@`; `None` for `Postmaster`
    /// and, in the compatible syntax, for an unqualified local part.
    pub fn domain(&self) -> Option<&str> {
        self.domain_at.map(|at| &self.raw[usize::from(at) + 1..])
    }

    /// Whether the path has a character outside ASCII (needs SMTPUTF8).
    pub fn is_non_ascii(&self) -> bool {
        self.non_ascii
    }

    /// Whether this is `Postmaster` without a domain (any case).
    pub fn is_postmaster(&self) -> bool {
        self.domain_at.is_none() && self.mailbox().eq_ignore_ascii_case("postmaster")
    }
}

impl fmt::Debug for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<{}>", self.raw)
    }
}

impl fmt::Display for Path {
    /// The path in angle brackets, as received.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<{}>", self.raw)
    }
}

/// The reverse path of `MAIL FROM`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ReversePath {
    /// `<>`: the null sender of DSNs and other automatic mail.
    Null,
    /// A mailbox.
    Mailbox(Path),
}

impl ReversePath {
    /// The text between the angle brackets as received (empty for `<>`).
    pub fn raw(&self) -> &str {
        match self {
            Self::Null => "",
            Self::Mailbox(path) => path.raw(),
        }
    }
}

impl fmt::Display for ReversePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<{}>", self.raw())
    }
}

/// The forward path of `RCPT TO`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ForwardPath {
    /// `<Postmaster>` without a domain (RFC 5321 §4.5.1: always accepted);
    /// the text keeps the client's case.
    Postmaster(Path),
    /// A mailbox.
    Mailbox(Path),
}

impl ForwardPath {
    /// The path.
    pub fn path(&self) -> &Path {
        match self {
            Self::Postmaster(path) | Self::Mailbox(path) => path,
        }
    }

    /// The text between the angle brackets as received.
    pub fn raw(&self) -> &str {
        self.path().raw()
    }
}

impl fmt::Display for ForwardPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.path().fmt(f)
    }
}

/// How a `MAIL`/`RCPT` argument failed, before any reply is chosen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ArgError {
    /// `FROM:`/`TO:` missing, brackets unbalanced, strict-mode violation.
    Command,
    /// Non-ASCII text that is not UTF-8.
    Encoding,
}

/// The pieces of a `MAIL FROM:`/`RCPT TO:` argument.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct PathArg<'a> {
    /// The path, `None` for `<>`, or why it is not one.
    pub(crate) path: Option<Result<Path, PathError>>,
    /// The parameter text after the path (may be empty).
    pub(crate) params: &'a str,
}

/// Splits `args` (what follows the verb, without CR LF) of a MAIL (`keyword`
/// `FROM`) or RCPT (`TO`) command, parsing the path on the way.
pub(crate) fn split_path_arg<'a>(
    args: &'a [u8],
    keyword: &str,
    mode: SyntaxMode,
) -> Result<PathArg<'a>, ArgError> {
    let args = std::str::from_utf8(args).map_err(|_| ArgError::Encoding)?;
    let strict = mode == SyntaxMode::Strict;
    // One space after the verb in strict mode; any number otherwise.
    let rest = match (strict, args.strip_prefix(' ')) {
        (_, None) => return Err(ArgError::Command),
        (true, Some(rest)) => rest,
        (false, Some(rest)) => rest.trim_start_matches(' '),
    };
    let head = rest.get(..keyword.len() + 1).ok_or(ArgError::Command)?;
    if !head[..keyword.len()].eq_ignore_ascii_case(keyword) || !head.ends_with(':') {
        return Err(ArgError::Command);
    }
    let mut rest = &rest[keyword.len() + 1..];
    if rest.starts_with(' ') {
        if strict {
            return Err(ArgError::Command);
        }
        rest = rest.trim_start_matches(' ');
    }
    let (path, params) = if let Some(inner) = rest.strip_prefix('<') {
        let (path, after) = match inner.strip_prefix('>') {
            Some(after) => (None, after),
            None => match parse_path_prefix(inner, !strict) {
                Ok((path, end)) if inner.as_bytes().get(end) == Some(&b'>') => {
                    (Some(Ok(path)), &inner[end + 1..])
                }
                result => {
                    // Only a bracket that closes the path makes it an address error.
                    let close = closing_bracket(inner).ok_or(ArgError::Command)?;
                    (Some(Err(result.err().unwrap_or(PathError::Syntax))), &inner[close + 1..])
                }
            },
        };
        if !after.is_empty() && !after.starts_with(' ') {
            return Err(ArgError::Command);
        }
        (path, after)
    } else if strict || rest.is_empty() {
        return Err(ArgError::Command);
    } else {
        // sendmail takes `MAIL FROM:a@b` without brackets.
        let (path, params) = rest.split_once(' ').unwrap_or((rest, ""));
        (Some(parse_path(path, true)), params)
    };
    Ok(PathArg { path, params: params.trim_matches(' ') })
}

/// The index of the `>` that closes a path, skipping quoted strings.
fn closing_bracket(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut quoted = false;
    let mut at = 0;
    while at < bytes.len() {
        match bytes[at] {
            b'>' if !quoted => return Some(at),
            b'"' => quoted = !quoted,
            b'\\' if quoted => at += 1,
            _ => {}
        }
        at += 1;
    }
    None
}

fn parse_path(text: &str, unqualified: bool) -> Result<Path, PathError> {
    match parse_path_prefix(text, unqualified)? {
        (path, end) if end == text.len() => Ok(path),
        _ => Err(PathError::Syntax),
    }
}

/// Parses the path at the start of `text`; returns it and where it ends
/// (at `>`, a space, or the end, for a well-formed argument).
///
/// `unqualified` accepts a local part without `@domain` (sendmail's
/// compatible syntax: `RCPT TO:<user>` is a local user, access.md §10 R13);
/// otherwise only `Postmaster` may stand alone, as RFC 5321 says.
fn parse_path_prefix(text: &str, unqualified: bool) -> Result<(Path, usize), PathError> {
    let bytes = text.as_bytes();
    let mut at = 0;
    // Source route: "@" domain *( "," "@" domain ) ":"
    if bytes.first() == Some(&b'@') {
        loop {
            at += 1; // the '@'
            let end =
                at + bytes[at..].iter().position(|&b| b == b',' || b == b':').ok_or(PathError::Syntax)?;
            check_domain(&bytes[at..end])?;
            at = end + 1;
            match bytes[end] {
                b':' => break,
                _ if bytes.get(at) == Some(&b'@') => continue,
                _ => return Err(PathError::Syntax),
            }
        }
    }
    let mailbox_at = at;
    // Local part: a quoted string or a dot-string (dots placed liberally, as
    // sendmail accepts `a..b@x`).
    if bytes.get(at) == Some(&b'"') {
        at += 1;
        loop {
            match bytes.get(at) {
                None => return Err(PathError::Syntax),
                Some(b'"') => break,
                Some(b'\\') => {
                    let escaped = *bytes.get(at + 1).ok_or(PathError::Syntax)?;
                    if escaped < 0x20 || escaped == 0x7f {
                        return Err(PathError::Syntax);
                    }
                    at += 2;
                }
                Some(&b) if b < 0x20 || b == 0x7f => return Err(PathError::Syntax),
                Some(_) => at += 1,
            }
        }
        at += 1;
    } else {
        let start = at;
        while at < bytes.len() && (is_atext(bytes[at]) || bytes[at] == b'.') {
            at += 1;
        }
        if at == start {
            return Err(PathError::Syntax);
        }
    }
    let path = |end: usize, domain_at: Option<usize>| {
        if end > usize::from(u16::MAX) {
            return Err(PathError::Syntax);
        }
        let raw = &text[..end];
        // Both fit: the path is at most u16::MAX bytes.
        Ok((
            Path {
                raw: raw.into(),
                mailbox_at: mailbox_at as u16,
                domain_at: domain_at.map(|at| at as u16),
                non_ascii: !raw.is_ascii(),
            },
            end,
        ))
    };
    if bytes.get(at) != Some(&b'@') {
        return if unqualified || text[mailbox_at..at].eq_ignore_ascii_case("postmaster") {
            path(at, None)
        } else {
            Err(PathError::NoDomain)
        };
    }
    let domain_at = at;
    let domain = &bytes[at + 1..];
    let end = if domain.first() == Some(&b'[') {
        domain.iter().position(|&b| b == b']').map_or(domain.len(), |close| close + 1)
    } else {
        domain.iter().position(|&b| !(is_label(b) || b == b'.')).unwrap_or(domain.len())
    };
    check_domain(&domain[..end])?;
    path(domain_at + 1 + end, Some(domain_at))
}

/// `atext` of RFC 5322, plus any UTF-8 byte (RFC 6531 `UTF8-non-ascii`;
/// the caller checks SMTPUTF8).
fn is_atext(b: u8) -> bool {
    ATEXT[usize::from(b)]
}

/// A domain label's bytes: letters, digits, `-`, `_` (seen in the wild) and UTF-8.
fn is_label(b: u8) -> bool {
    LABEL[usize::from(b)]
}

const ATEXT: [bool; 256] = byte_class(b"!#$%&'*+-/=?^_`{|}~");
const LABEL: [bool; 256] = byte_class(b"-_");

/// Letters, digits, bytes from 0x80 up, and `extra`.
const fn byte_class(extra: &[u8]) -> [bool; 256] {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        table[b] = c.is_ascii_alphanumeric() || c >= 0x80;
        b += 1;
    }
    let mut i = 0;
    while i < extra.len() {
        table[extra[i] as usize] = true;
        i += 1;
    }
    table
}

/// A domain (labels of letters, digits, `-`, `_` and UTF-8, separated by
/// dots) or an address literal `[...]`.
pub(crate) fn check_domain(domain: &[u8]) -> Result<(), PathError> {
    match domain {
        [] => Err(PathError::Syntax),
        [b'[', inner @ .., b']'] => {
            let ok = !inner.is_empty()
                && inner.iter().all(|&b| (0x21..=0x7e).contains(&b) && !b"[]\\".contains(&b));
            if ok { Ok(()) } else { Err(PathError::Syntax) }
        }
        _ => {
            // Labels are not empty: no leading, doubled or (except one
            // trailing, as in a fully qualified `example.org.`) final dot.
            let domain = domain.strip_suffix(b".").unwrap_or(domain);
            let mut previous = b'.';
            for &b in domain {
                if b == b'.' {
                    if previous == b'.' {
                        return Err(PathError::Syntax);
                    }
                } else if !is_label(b) {
                    return Err(PathError::Syntax);
                }
                previous = b;
            }
            if previous == b'.' { Err(PathError::Syntax) } else { Ok(()) }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_paths_keeping_raw_text() {
        for (text, mailbox, domain) in [
            ("a@example.com", "a@example.com", Some("example.com")),
            ("@a,@b:u@d", "u@d", Some("d")),
            ("\"x y\"@example.com", "\"x y\"@example.com", Some("example.com")),
            ("\"a\\\"b\"@[192.0.2.1]", "\"a\\\"b\"@[192.0.2.1]", Some("[192.0.2.1]")),
            ("Postmaster", "Postmaster", None),
            ("jörg@bücher.example", "jörg@bücher.example", Some("bücher.example")),
            ("a..b@docomo.ne.jp", "a..b@docomo.ne.jp", Some("docomo.ne.jp")),
            ("u@[IPv6:2001:db8::1]", "u@[IPv6:2001:db8::1]", Some("[IPv6:2001:db8::1]")),
        ] {
            let path = Path::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!((path.raw(), path.mailbox(), path.domain()), (text, mailbox, domain));
        }
        assert!(Path::parse("jörg@x").unwrap().is_non_ascii());
        assert!(Path::parse("postmaster").unwrap().is_postmaster());
    }

    #[test]
    fn refuses_malformed_paths() {
        for text in
            ["", "a@", "@a:", "a b@c", "a@b c", "\"open@x", "a@b..c", "@a,b:u@d", "user", "a@[x", "a@b@c"]
        {
            assert!(Path::parse(text).is_err(), "{text:?}");
        }
        assert_eq!(Path::parse("user"), Err(PathError::NoDomain));
    }

    #[test]
    fn splits_arguments() {
        let c = SyntaxMode::Compatible;
        let s = SyntaxMode::Strict;
        fn ok(args: &str, mode: SyntaxMode) -> Result<(Option<String>, &str), ArgError> {
            let arg = split_path_arg(args.as_bytes(), "FROM", mode)?;
            Ok((
                arg.path.map(|p| p.map_or_else(|e| format!("error: {e}"), |p| p.raw().to_owned())),
                arg.params,
            ))
        }
        let path = |p: &str| Some(p.to_owned());
        assert_eq!(ok(" FROM:<a@b> SIZE=1", s), Ok((path("a@b"), "SIZE=1")));
        assert_eq!(ok(" from:<>", s), Ok((None, "")));
        assert_eq!(ok(" FROM:<\"a>b\"@c>", s), Ok((path("\"a>b\"@c"), "")));
        assert_eq!(ok(" FROM: <a@b>", c), Ok((path("a@b"), "")));
        assert_eq!(ok(" FROM:a@b SIZE=2", c), Ok((path("a@b"), "SIZE=2")));
        assert_eq!(ok(" FROM:<a@@b>", c), Ok((path("error: malformed address"), "")));
        assert_eq!(ok(" FROM:<a@[1.2.3.4]> X=1", c), Ok((path("a@[1.2.3.4]"), "X=1")));
        assert_eq!(ok(" FROM: <a@b>", s), Err(ArgError::Command));
        assert_eq!(ok(" FROM:a@b", s), Err(ArgError::Command));
        assert_eq!(ok(" FROM:<a@b", c), Err(ArgError::Command));
        assert_eq!(ok(" FROM:<a@b>x", c), Err(ArgError::Command));
        assert_eq!(ok(" TO:<a@b>", c), Err(ArgError::Command));
        assert_eq!(ok("", c), Err(ArgError::Command));
    }
}
