//! Right-hand sides of mailertable entries: `mailer:host`, host lists,
//! `mailer:user@host`, `local:` and `error:` forms (spec mailertable.md §6),
//! and the `%` interpolation applied to them first (§5).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use crate::{Host, HostSpec};

/// What a table entry says to do with a recipient.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TableRoute {
    /// Deliver with `mailer` to `hosts`.
    Deliver {
        /// The mailer name, lower-cased (names are case-insensitive).
        mailer: Arc<str>,
        /// The host list, in order. Shared: routes are cloned from a
        /// [`crate::RouteCache`] for every recipient.
        hosts: Arc<[HostSpec]>,
        /// `mailer:user@host`: the new recipient address, which replaces the
        /// whole original one (`user@host-part`, as written).
        recipient: Option<Arc<str>>,
        /// The host part as the entry names it (brackets and list kept,
        /// interpolation done): sendmail's `/parse` host column.
        host_text: Arc<str>,
    },
    /// Local delivery to `user`; `None` keeps the original local part
    /// (`local:` alone).
    Local {
        /// The local user.
        user: Option<String>,
    },
    /// Refuse the recipient.
    Error(ErrorReply),
}

/// An `error:` route: the SMTP reply it produces.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ErrorReply {
    /// The reply code, e.g. 550.
    pub code: u16,
    /// The enhanced status code, e.g. `5.1.2`.
    pub enhanced: String,
    /// The text, white space runs collapsed as sendmail's tokeniser does.
    pub text: String,
    /// What stood between `error:` and the text (`5.1.2`, `nouser`, ...):
    /// sendmail's `/parse` host column for the error mailer.
    pub status: Option<String>,
}

impl ErrorReply {
    /// Whether the failure is temporary (a 4xx reply).
    pub fn is_temporary(&self) -> bool {
        self.code / 100 == 4
    }

    /// The reply line for `recipient`, as sendmail words it: codes 050,
    /// 250, 252, 450, 550 and 553 carry the `<recipient>... ` prefix.
    ///
    /// ```
    /// # use smarthost_routing::ErrorReply;
    /// let reply = ErrorReply { code: 550, enhanced: "5.1.2".into(), text: "Host unknown here".into(), status: None };
    /// assert_eq!(reply.reply_for("u@bad.example"), "550 5.1.2 <u@bad.example>... Host unknown here");
    /// ```
    pub fn reply_for(&self, recipient: &str) -> String {
        format!("{} {} {}", self.code, self.enhanced, self.text_for(recipient))
    }

    /// The text of [`reply_for`](Self::reply_for) after the codes, for a
    /// server that writes the codes itself.
    ///
    /// ```
    /// # use smarthost_routing::ErrorReply;
    /// let reply = ErrorReply { code: 550, enhanced: "5.1.2".into(), text: "Host unknown here".into(), status: None };
    /// assert_eq!(reply.text_for("u@bad.example"), "<u@bad.example>... Host unknown here");
    /// ```
    pub fn text_for(&self, recipient: &str) -> String {
        if matches!(self.code, 50 | 250 | 252 | 450 | 550 | 553) {
            format!("<{recipient}>... {}", self.text)
        } else {
            self.text.clone()
        }
    }
}

/// Why a right-hand side is not a route.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RhsError {
    /// No `mailer:` in front (sendmail: not a match).
    #[error("value `{0}` names no mailer: write `mailer:host`, e.g. `esmtp:{0}` or `relay:[{0}]`")]
    NoMailer(String),
    /// `mailer:` with nothing after it.
    #[error("value `{0}` names no host after the mailer")]
    NoHost(String),
    /// A host element that is empty or malformed.
    #[error("bad host `{host}` in `{value}`: {reason}")]
    BadHost {
        /// The element.
        host: String,
        /// The whole value.
        value: String,
        /// What is wrong.
        reason: &'static str,
    },
}

/// Options for reading right-hand sides.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RhsOptions {
    /// \[EXT\] Accept `[host]:port` and `host:port` (Postfix style). Off, a
    /// number after a host is a host named by that number, as in sendmail.
    pub ports: bool,
}

/// Replaces `%0`..`%9` with `args` (missing ones empty), `%%` with `%`, and
/// copies `%` before anything else literally (§5).
///
/// ```
/// # use smarthost_routing::interpolate;
/// assert_eq!(interpolate("esmtp:%1.relay.example.net", &[".example.net", "a.b"]), "esmtp:a.b.relay.example.net");
/// assert_eq!(interpolate("esmtp:%%1-%x-%3", &["k"]), "esmtp:%1-%x-");
/// ```
pub fn interpolate(value: &str, args: &[&str]) -> String {
    let mut out = String::with_capacity(value.len() + 16);
    let mut chars = value.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.peek().copied() {
            Some('%') => {
                chars.next();
                out.push('%');
            }
            Some(d @ '0'..='9') => {
                chars.next();
                let index = d as usize - '0' as usize;
                out.push_str(args.get(index).copied().unwrap_or(""));
            }
            _ => out.push('%'),
        }
    }
    out
}

/// Whether a value is a resolved one: `mailer:...` with a single-token
/// mailer that is not `[` (§4, §6.7).
pub fn has_mailer(value: &str) -> bool {
    mailer_of(value).is_some()
}

fn mailer_of(value: &str) -> Option<(&str, &str)> {
    let (mailer, rest) = value.split_once(':')?;
    let token = !mailer.is_empty()
        && !mailer.starts_with('[')
        && mailer.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    token.then_some((mailer, rest))
}

/// Parses an interpolated value into a route.
pub fn parse_rhs(value: &str, options: RhsOptions) -> Result<TableRoute, RhsError> {
    let value = value.trim();
    let (mailer, rest) = mailer_of(value).ok_or_else(|| RhsError::NoMailer(value.to_string()))?;
    let mailer = mailer.to_ascii_lowercase();
    match mailer.as_str() {
        "error" => Ok(TableRoute::Error(parse_error(rest))),
        "local" => {
            let user = rest.trim();
            let user = user.split_once('@').map_or(user, |(user, _)| user);
            Ok(TableRoute::Local { user: (!user.is_empty()).then(|| user.to_string()) })
        }
        _ => {
            let rest = rest.trim();
            let (recipient_user, host_text) = match split_user(rest) {
                Some((user, hosts)) => (Some(user), hosts),
                None => (None, rest),
            };
            if host_text.is_empty() {
                return Err(RhsError::NoHost(value.to_string()));
            }
            // One host is the common case: build its list in one allocation.
            let hosts: Arc<[HostSpec]> = if host_text.contains([':', ',']) {
                parse_host_list(host_text, options, value)?.into()
            } else {
                Arc::new([parse_host(host_text, 0, value)?])
            };
            Ok(TableRoute::Deliver {
                mailer: mailer.into(),
                hosts,
                recipient: recipient_user.map(|user| format!("{user}@{host_text}").into()),
                host_text: host_text.into(),
            })
        }
    }
}

/// `user@hosts`: the user is everything before the last `@` outside brackets.
fn split_user(target: &str) -> Option<(&str, &str)> {
    let mut depth = 0;
    let mut at = None;
    for (i, c) in target.char_indices() {
        match c {
            '[' => depth += 1,
            ']' => depth -= 1,
            '@' if depth == 0 => at = Some(i),
            _ => {}
        }
    }
    at.map(|i| (&target[..i], &target[i + 1..]))
}

/// Splits a host list on `:` and `,` outside brackets (§6.2).
fn parse_host_list(text: &str, options: RhsOptions, value: &str) -> Result<Vec<HostSpec>, RhsError> {
    let mut hosts: Vec<HostSpec> = Vec::new();
    let mut group = 0u16;
    let mut start = 0;
    let mut depth = 0i32;
    let mut separator_before = None;
    let bytes = text.as_bytes();
    for i in 0..=bytes.len() {
        let at_end = i == bytes.len();
        let c = if at_end { b':' } else { bytes[i] };
        match c {
            b'[' => depth += 1,
            b']' => depth -= 1,
            b':' | b',' if depth == 0 || at_end => {
                let element = text[start..i].trim();
                let is_port = options.ports
                    && separator_before == Some(b':')
                    && !element.is_empty()
                    && element.bytes().all(|b| b.is_ascii_digit())
                    && hosts.last().is_some_and(|h| h.port.is_none());
                if is_port {
                    let port =
                        element.parse::<u16>().map_err(|_| bad(element, value, "port out of range"))?;
                    hosts.last_mut().expect("checked").port = Some(port);
                    // The next element follows the previous host's group.
                    group = group.saturating_sub(1);
                } else {
                    hosts.push(parse_host(element, group, value)?);
                }
                if c == b':' {
                    group = group.saturating_add(1);
                }
                separator_before = Some(c);
                start = i + 1;
            }
            _ => {}
        }
    }
    // `,` keeps the group and `:` moves to the next: renumber so that groups
    // count from 0 in order.
    let mut renumbered = 0;
    let mut last = None;
    for host in &mut hosts {
        if last.is_some_and(|l| l != host.group) {
            renumbered += 1;
        }
        last = Some(host.group);
        host.group = renumbered;
    }
    Ok(hosts)
}

fn parse_host(element: &str, group: u16, value: &str) -> Result<HostSpec, RhsError> {
    let element = element.trim();
    if element.is_empty() {
        return Err(bad(element, value, "empty host"));
    }
    let (inner, bracketed) = match element.strip_prefix('[') {
        Some(rest) => (rest.strip_suffix(']').ok_or_else(|| bad(element, value, "missing `]`"))?, true),
        None => (element, false),
    };
    if inner.is_empty() {
        return Err(bad(element, value, "empty host"));
    }
    let host = if inner.get(..5).is_some_and(|tag| tag.eq_ignore_ascii_case("IPv6:")) {
        let addr: Ipv6Addr = inner[5..].parse().map_err(|_| bad(element, value, "not an IPv6 address"))?;
        Host::Ip(IpAddr::V6(addr))
    } else if bracketed && inner.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        let addr: Ipv4Addr = inner.parse().map_err(|_| bad(element, value, "not an IPv4 address"))?;
        Host::Ip(IpAddr::V4(addr))
    } else if inner.bytes().any(|b| b.is_ascii_whitespace() || matches!(b, b'[' | b']' | b'@')) {
        return Err(bad(element, value, "a host name cannot contain white space, brackets or `@`"));
    } else {
        Host::Name(inner.to_string())
    };
    Ok(HostSpec { host, mx: !bracketed, port: None, group })
}

fn bad(host: &str, value: &str, reason: &'static str) -> RhsError {
    RhsError::BadHost { host: host.to_string(), value: value.to_string(), reason }
}

/// `error:` values (§6.5, dsn.md §4).
fn parse_error(rest: &str) -> ErrorReply {
    let (status, text) = match rest.split_once(':') {
        Some((status, text)) if is_status_token(status.trim()) => (Some(status.trim()), text),
        _ => (None, rest),
    };
    reply_from_text(status.map(|s| s.trim_matches('"')), text)
}

/// dsn.md §4 step 2, shared by the mailertable's and the virtusertable's
/// `error:` forms: the text's own reply code and enhanced code, else the
/// status if it is an enhanced code, else `C.0.0`; a text without a reply
/// code gives `553 5.3.0`.
pub(crate) fn reply_from_text(status: Option<&str>, text: &str) -> ErrorReply {
    let text = collapse(text.trim().trim_matches('"'));
    let dsn = status.filter(|s| is_enhanced(s));
    let (first, after) = text.split_once(' ').unwrap_or((&text, ""));
    let code = (first.len() == 3 && first.bytes().all(|b| b.is_ascii_digit()) && !after.is_empty())
        .then(|| first.parse::<u16>().ok())
        .flatten()
        .filter(|code| (200..600).contains(code));
    let status = status.map(str::to_string);
    let Some(code) = code else {
        return ErrorReply { code: 553, enhanced: "5.3.0".into(), text, status };
    };
    let (candidate, rest) = after.split_once(' ').unwrap_or((after, ""));
    let (enhanced, text) = if is_enhanced(candidate) {
        (candidate.to_string(), rest.to_string())
    } else {
        (dsn.map_or_else(|| format!("{}.0.0", code / 100), str::to_string), after.to_string())
    };
    ErrorReply { code, enhanced, text, status }
}

/// A single token before `:` that sendmail takes as the error status: an
/// enhanced code, a number, or a sysexits keyword.
fn is_status_token(token: &str) -> bool {
    let token = token.trim_matches('"');
    !token.is_empty()
        && !token.contains(char::is_whitespace)
        && (is_enhanced(token) || token.bytes().all(|b| b.is_ascii_alphanumeric()))
}

/// `D.S.N` with D in 2, 4, 5.
pub(crate) fn is_enhanced(token: &str) -> bool {
    let mut parts = token.split('.');
    let (Some(class), Some(subject), Some(detail), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    matches!(class, "2" | "4" | "5")
        && (1..=3).contains(&subject.len())
        && (1..=3).contains(&detail.len())
        && subject.bytes().chain(detail.bytes()).all(|b| b.is_ascii_digit())
}

fn collapse(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

impl fmt::Display for TableRoute {
    /// sendmail's words: `mailer esmtp, host relay.example, user u@x`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Deliver { mailer, host_text, recipient, .. } => {
                write!(f, "mailer {mailer}, host {host_text}")?;
                if let Some(recipient) = recipient {
                    write!(f, ", user {recipient}")?;
                }
                Ok(())
            }
            Self::Local { user: Some(user) } => write!(f, "mailer local, user {user}"),
            Self::Local { user: None } => f.write_str("mailer local"),
            Self::Error(reply) => {
                write!(f, "mailer *error*, {} {} {}", reply.code, reply.enhanced, reply.text)
            }
        }
    }
}

#[cfg(test)]
mod tests;
