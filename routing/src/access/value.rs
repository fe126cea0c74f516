//! Access map values (access.md §3) and the replies the error values make
//! (dsn.md §4: sendmail's error mailer).

use std::borrow::Cow;

/// What an access map entry says, read the way sendmail's rulesets read it:
/// keywords in any case, surrounding white space ignored. A value that is
/// none of the keywords is sendmail's "generic error from access map": the
/// value itself becomes the reply text, as `ERROR:` text would.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AccessValue<'a> {
    /// `OK`: accept this item even if later checks of the same kind would
    /// refuse it. It does not allow relaying.
    Ok,
    /// `RELAY`: relay to (`To:`) or for (`Connect:`) this item; also acts as `OK`.
    Relay,
    /// `REJECT`: refuse with the generic message.
    Reject,
    /// `DISCARD`: accept, then silently drop the whole message.
    Discard,
    /// `SKIP` (with [`AccessOptions::skip`](super::AccessOptions::skip)):
    /// stop searching this item and use the default.
    Skip,
    /// `FRIEND`, for `Spam:` lookups under `delay_checks` with `friend`.
    Friend,
    /// `HATER`, for `Spam:` lookups under `delay_checks` with `hater`.
    Hater,
    /// `ERROR:text` or `ERROR:D.S.N:text`: what follows `ERROR:`.
    Error(Cow<'a, str>),
    /// `QUARANTINE:reason`: accept, but hold the message.
    Quarantine(Cow<'a, str>),
    /// Anything else, including the deprecated `NNN text` form.
    Other(Cow<'a, str>),
}

/// An error reply an access value makes: the code, the enhanced status
/// code and the text (without sendmail's `<address>... ` prefix).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValueReply {
    /// The SMTP reply code.
    pub code: u16,
    /// The enhanced status code, as class, subject, detail.
    pub enhanced: (u8, u16, u16),
    /// The text: quotes removed, white space runs collapsed.
    pub text: String,
}

impl<'a> AccessValue<'a> {
    /// Reads a stored value. Without `skip` (sendmail without
    /// `FEATURE(access_db, skip)`), `SKIP` is not a keyword but text.
    ///
    /// ```
    /// use smarthost_routing::AccessValue;
    /// assert_eq!(AccessValue::parse(b" relay ", true), AccessValue::Relay);
    /// assert!(matches!(AccessValue::parse(b"SKIP", false), AccessValue::Other(_)));
    /// let value = AccessValue::parse(b"ERROR:5.7.1:\"550 Go away\"", true);
    /// let reply = value.error_reply().unwrap();
    /// assert_eq!((reply.code, reply.enhanced, reply.text.as_str()), (550, (5, 7, 1), "Go away"));
    /// ```
    pub fn parse(value: &'a [u8], skip: bool) -> Self {
        let text = String::from_utf8_lossy(value);
        let trimmed = trim_cow(text);
        let word = trimmed.as_ref();
        let is = |keyword: &str| word.eq_ignore_ascii_case(keyword);
        if is("OK") {
            Self::Ok
        } else if is("RELAY") {
            Self::Relay
        } else if is("REJECT") {
            Self::Reject
        } else if is("DISCARD") {
            Self::Discard
        } else if skip && is("SKIP") {
            Self::Skip
        } else if is("FRIEND") {
            Self::Friend
        } else if is("HATER") {
            Self::Hater
        } else if let Some(rest) = strip_keyword(&trimmed, "ERROR:").filter(|r| !r.trim().is_empty()) {
            Self::Error(rest)
        } else if let Some(rest) = strip_keyword(&trimmed, "QUARANTINE:").filter(|r| !r.trim().is_empty()) {
            Self::Quarantine(rest)
        } else {
            Self::Other(trimmed)
        }
    }

    /// Whether this is `OK` or `RELAY` (sendmail's class `Accept`).
    pub fn is_accept(&self) -> bool {
        matches!(self, Self::Ok | Self::Relay)
    }

    /// The reply an `ERROR:` value, or any other text, makes (dsn.md §4):
    /// `ERROR:D.S.N:NNN text` gives `NNN D.S.N text`; `ERROR:NNN text` and a
    /// bare `NNN text` give `NNN C.0.0 text` with `C` the code's first digit
    /// (an enhanced code written after the reply code wins); text without a
    /// reply code gives `553 5.3.0 text`. `None` for the keywords.
    pub fn error_reply(&self) -> Option<ValueReply> {
        match self {
            Self::Error(rest) => {
                let (status, text) = split_status(rest);
                Some(reply_from_text(status, text))
            }
            Self::Other(text) => Some(reply_from_text(None, text)),
            _ => None,
        }
    }

    /// The quarantine reason of a `QUARANTINE:` value, quotes removed.
    pub fn quarantine_reason(&self) -> Option<String> {
        match self {
            Self::Quarantine(reason) => Some(clean_text(reason)),
            _ => None,
        }
    }
}

fn trim_cow(text: Cow<'_, str>) -> Cow<'_, str> {
    match text {
        Cow::Borrowed(s) => Cow::Borrowed(s.trim()),
        Cow::Owned(s) => Cow::Owned(s.trim().to_string()),
    }
}

/// The rest after `keyword` (ASCII case-insensitive), borrowed when possible.
fn strip_keyword<'a>(text: &Cow<'a, str>, keyword: &str) -> Option<Cow<'a, str>> {
    let head = text.get(..keyword.len())?;
    if !head.eq_ignore_ascii_case(keyword) {
        return None;
    }
    Some(match text {
        Cow::Borrowed(s) => Cow::Borrowed(&s[keyword.len()..]),
        Cow::Owned(s) => Cow::Owned(s[keyword.len()..].to_string()),
    })
}

/// `D.S.N:rest` (sendmail's `ERROR:$-.$-.$-:$+`): three single tokens
/// separated by dots, then a colon. A status that is not a valid enhanced
/// code is taken and ignored, as sendmail's error mailer ignores it.
fn split_status(rest: &str) -> (Option<(u8, u16, u16)>, &str) {
    if let Some((head, tail)) = rest.split_once(':') {
        let head = head.trim();
        let mut parts = head.split('.');
        let shaped = head.split('.').count() == 3
            && parts.all(|p| {
                !p.is_empty() && !p.bytes().any(|b| super::keys::is_operator(b) || b.is_ascii_whitespace())
            });
        if shaped && !tail.trim().is_empty() {
            return (parse_enhanced(head), tail);
        }
    }
    (None, rest)
}

/// Quotes removed, white space runs collapsed, trimmed.
fn clean_text(text: &str) -> String {
    let unquoted: String = text.chars().filter(|&c| c != '"').collect();
    unquoted.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// sendmail's `buildaddr` for the error mailer: a leading `NNN ` is the
/// reply code, an enhanced code after it wins over `status`.
fn reply_from_text(status: Option<(u8, u16, u16)>, text: &str) -> ValueReply {
    let text = clean_text(text);
    let bytes = text.as_bytes();
    let is_code = bytes.len() > 3
        && matches!(bytes[0], b'2'..=b'5')
        && bytes[1].is_ascii_digit()
        && bytes[2].is_ascii_digit()
        && bytes[3] == b' ';
    if !is_code {
        return ValueReply { code: 553, enhanced: (5, 3, 0), text };
    }
    let code: u16 = text[..3].parse().expect("three ASCII digits");
    let after = &text[4..];
    if let Some((word, rest)) = after.split_once(' ')
        && let Some(enhanced) = parse_enhanced(word)
    {
        return ValueReply { code, enhanced, text: rest.to_string() };
    }
    let class = bytes[0] - b'0';
    ValueReply { code, enhanced: status.unwrap_or((class, 0, 0)), text: after.to_string() }
}

/// `D.S.N` with D in 2, 4, 5 and S, N of one to three digits.
fn parse_enhanced(text: &str) -> Option<(u8, u16, u16)> {
    let mut parts = text.split('.');
    let (Some(class), Some(subject), Some(detail), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    let digits = |s: &str| (1..=3).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit());
    if !matches!(class, "2" | "4" | "5") || !digits(subject) || !digits(detail) {
        return None;
    }
    Some((class.parse().ok()?, subject.parse().ok()?, detail.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(value: &str) -> (u16, String, String) {
        let r = AccessValue::parse(value.as_bytes(), true).error_reply().unwrap();
        (r.code, format!("{}.{}.{}", r.enhanced.0, r.enhanced.1, r.enhanced.2), r.text)
    }

    #[test]
    fn keywords_in_any_case() {
        for (text, value) in [
            ("OK", AccessValue::Ok),
            ("relay", AccessValue::Relay),
            ("Reject", AccessValue::Reject),
            ("DISCARD\t", AccessValue::Discard),
            ("skip", AccessValue::Skip),
        ] {
            assert_eq!(AccessValue::parse(text.as_bytes(), true), value, "{text}");
        }
        assert_eq!(AccessValue::parse(b"RELAY # lan", true), AccessValue::Other("RELAY # lan".into()));
    }

    #[test]
    fn error_values_make_sendmails_replies() {
        assert_eq!(reply("ERROR:5.7.1:550 Go away"), (550, "5.7.1".into(), "Go away".into()));
        assert_eq!(reply("ERROR:550 Go away"), (550, "5.0.0".into(), "Go away".into()));
        assert_eq!(reply("ERROR:450 mailbox full"), (450, "4.0.0".into(), "mailbox full".into()));
        assert_eq!(
            reply("ERROR:\"550 text  with   spaces\""),
            (550, "5.0.0".into(), "text with spaces".into())
        );
        assert_eq!(reply("ERROR:5.7.1:\"550 Go away\""), (550, "5.7.1".into(), "Go away".into()));
        assert_eq!(reply("ERROR:550 5.7.1 Policy reject"), (550, "5.7.1".into(), "Policy reject".into()));
        assert_eq!(reply("ERROR:4.7.0:451 later: busy"), (451, "4.7.0".into(), "later: busy".into()));
        assert_eq!(reply("ERROR:Go away"), (553, "5.3.0".into(), "Go away".into()));
        assert_eq!(reply("ERROR:5.7.1:Go away"), (553, "5.3.0".into(), "Go away".into()));
        assert_eq!(reply("ERROR:nouser:550 x"), (553, "5.3.0".into(), "nouser:550 x".into()));
        assert_eq!(reply("550 Go away"), (550, "5.0.0".into(), "Go away".into()));
        assert_eq!(AccessValue::parse(b"SKIP", false).error_reply().map(|r| r.code), Some(553));
        assert_eq!(reply("ERROR:"), (553, "5.3.0".into(), "ERROR:".into()));
    }

    #[test]
    fn quarantine_keeps_its_reason() {
        let value = AccessValue::parse(b"QUARANTINE:\"held for review\"", true);
        assert_eq!(value.quarantine_reason().as_deref(), Some("held for review"));
    }
}
