//! ESMTP parameters of `MAIL FROM` and `RCPT TO`: SIZE, BODY, SMTPUTF8,
//! AUTH, and the RFC 3461 DSN parameters RET, ENVID, NOTIFY and ORCPT.
//!
//! Values are kept so that a relay can pass them on *unchanged*: ENVID and
//! the ORCPT address are stored as received (valid xtext) with decoded
//! forms on demand, unlike smtp-proto, which decodes them and drops the
//! `rfc822` address type.

use std::fmt;

use crate::reply::Reply;
use crate::status::EnhancedStatus;
use crate::xtext::{xtext_decode, xtext_encode};

/// Most parameters on one command (sendmail's limit).
pub const MAX_PARAMETERS: usize = 20;

/// Longest ENVID, in characters of xtext (RFC 3461 §4.4).
pub const MAX_ENVID: usize = 100;

/// `BODY=` (RFC 6152, RFC 3030).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Body {
    /// `BODY=7BIT`.
    SevenBit,
    /// `BODY=8BITMIME`.
    EightBitMime,
    /// `BODY=BINARYMIME`; only with BDAT.
    BinaryMime,
}

/// `RET=` (RFC 3461): what a failure DSN returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Ret {
    /// `RET=FULL`: the whole message.
    Full,
    /// `RET=HDRS`: only its header section.
    Headers,
}

/// `NOTIFY=` (RFC 3461): which DSNs to send for a recipient.
///
/// `NEVER` is its own value and cannot be combined with the others.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Notify(u8);

impl Notify {
    /// `NOTIFY=NEVER`: no DSN of any kind.
    pub const NEVER: Notify = Notify(0);
    /// `SUCCESS`.
    pub const SUCCESS: Notify = Notify(1);
    /// `FAILURE`.
    pub const FAILURE: Notify = Notify(2);
    /// `DELAY`.
    pub const DELAY: Notify = Notify(4);

    /// The union of two sets (`SUCCESS | FAILURE`).
    pub const fn union(self, other: Notify) -> Notify {
        Notify(self.0 | other.0)
    }

    /// Whether every event of `other` is in this set. `NEVER` contains
    /// nothing but itself.
    pub const fn contains(self, other: Notify) -> bool {
        if other.0 == 0 { self.0 == 0 } else { self.0 & other.0 == other.0 }
    }

    /// `NOTIFY=NEVER`.
    pub const fn is_never(self) -> bool {
        self.0 == 0
    }

    /// Whether a DSN for `event` (one of SUCCESS, FAILURE, DELAY) is
    /// wanted, given the recipient's NOTIFY or its absence. Without NOTIFY
    /// failures and delays are reported, successes not (RFC 3461 §4.1).
    pub fn wants(notify: Option<Notify>, event: Notify) -> bool {
        match notify {
            Some(set) => !set.is_never() && set.contains(event),
            None => event == Notify::FAILURE || event == Notify::DELAY,
        }
    }
}

impl std::ops::BitOr for Notify {
    type Output = Notify;
    fn bitor(self, other: Notify) -> Notify {
        self.union(other)
    }
}

impl fmt::Display for Notify {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_never() {
            return f.write_str("NEVER");
        }
        let names = [(Notify::SUCCESS, "SUCCESS"), (Notify::FAILURE, "FAILURE"), (Notify::DELAY, "DELAY")];
        let mut first = true;
        for (flag, name) in names {
            if self.contains(flag) {
                if !first {
                    f.write_str(",")?;
                }
                f.write_str(name)?;
                first = false;
            }
        }
        Ok(())
    }
}

/// `ORCPT=addr-type;value` (RFC 3461 §4.2), kept as received.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Orcpt {
    addr_type: String,
    value: String,
}

impl Orcpt {
    /// An `rfc822` ORCPT for `address`, xtext-encoded: what a relay adds
    /// when the client gave none (dsn.md §7.2).
    pub fn rfc822(address: &str) -> Orcpt {
        Orcpt { addr_type: "rfc822".into(), value: xtext_encode(address) }
    }

    /// The address type as received (`rfc822`, `utf-8`, …).
    pub fn addr_type(&self) -> &str {
        &self.addr_type
    }

    /// The encoded value, exactly as received: what a relay passes on.
    pub fn raw_value(&self) -> &str {
        &self.value
    }

    /// The decoded address, for `Original-Recipient:` in a DSN. `utf-8`
    /// values also decode their `\x{HEX}` escapes (RFC 6533).
    pub fn address(&self) -> String {
        let decoded = xtext_decode(&self.value).unwrap_or_else(|_| self.value.clone());
        if self.addr_type.eq_ignore_ascii_case("utf-8") { decode_unicode_escapes(&decoded) } else { decoded }
    }
}

impl fmt::Display for Orcpt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{};{}", self.addr_type, self.value)
    }
}

/// Parameters of `MAIL FROM`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct MailParams {
    /// `SIZE=`: the client's estimate of the message size in octets.
    pub size: Option<u64>,
    /// `BODY=`.
    pub body: Option<Body>,
    /// `SMTPUTF8`.
    pub smtputf8: bool,
    /// `RET=`.
    pub ret: Option<Ret>,
    /// `ENVID=`, as received (xtext).
    pub envid: Option<String>,
    /// `AUTH=`, as received (xtext, or `<>`).
    pub auth: Option<String>,
}

/// Parameters of `RCPT TO`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct RcptParams {
    /// `NOTIFY=`.
    pub notify: Option<Notify>,
    /// `ORCPT=`.
    pub orcpt: Option<Orcpt>,
}

/// Why a parameter was refused; [`ParamError::reply`] gives the reply.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParamError {
    /// A keyword this command does not take.
    #[error("{0} parameter unrecognized")]
    Unrecognized(String),
    /// A value that does not fit the keyword's syntax.
    #[error("Bad argument \"{value}\"  to {keyword}")]
    BadValue {
        /// The keyword, upper case.
        keyword: &'static str,
        /// The offending value (or part of it).
        value: String,
    },
    /// The same keyword twice.
    #[error("Duplicate {0} parameter")]
    Duplicate(&'static str),
    /// More than [`MAX_PARAMETERS`].
    #[error("Too many parameters")]
    TooMany,
}

impl ParamError {
    /// The reply sendmail gives: `555 5.5.4` for an unknown keyword,
    /// `501 5.5.4` otherwise.
    pub fn reply(&self) -> Reply {
        let code = if matches!(self, ParamError::Unrecognized(_)) { 555 } else { 501 };
        let text: String = self.to_string().chars().filter(|c| !c.is_control()).collect();
        Reply::new(code, Some(EnhancedStatus::INVALID_ARGUMENTS), text).unwrap_or_else(|_| {
            Reply::constant(code, Some(EnhancedStatus::INVALID_ARGUMENTS), "Invalid parameter")
        })
    }
}

impl MailParams {
    /// Parses the space-separated parameters after `MAIL FROM:<path>`.
    ///
    /// ```
    /// use smarthost_smtp_core::{Body, MailParams, Ret};
    /// let params = MailParams::parse("SIZE=1000 BODY=8BITMIME RET=HDRS ENVID=abc+2Bdef")?;
    /// assert_eq!((params.size, params.body, params.ret), (Some(1000), Some(Body::EightBitMime), Some(Ret::Headers)));
    /// assert_eq!(params.envid_decoded().as_deref(), Some("abc+def"));
    /// # Ok::<(), smarthost_smtp_core::ParamError>(())
    /// ```
    pub fn parse(text: &str) -> Result<MailParams, ParamError> {
        let mut params = MailParams::default();
        let mut seen = 0u8;
        for (keyword, value) in split_params(text)? {
            let mut once = |bit: u8, name: &'static str| {
                if seen & bit != 0 {
                    return Err(ParamError::Duplicate(name));
                }
                seen |= bit;
                Ok(())
            };
            match Keyword::of(keyword) {
                Keyword::Size => {
                    once(1, "SIZE")?;
                    let value = value.unwrap_or("");
                    let valid =
                        !value.is_empty() && value.len() <= 20 && value.bytes().all(|b| b.is_ascii_digit());
                    params.size =
                        Some(value.parse().ok().filter(|_| valid).ok_or_else(|| bad("SIZE", value))?);
                }
                Keyword::Body => {
                    once(2, "BODY")?;
                    let value = value.unwrap_or("");
                    params.body = Some(if value.eq_ignore_ascii_case("7BIT") {
                        Body::SevenBit
                    } else if value.eq_ignore_ascii_case("8BITMIME") {
                        Body::EightBitMime
                    } else if value.eq_ignore_ascii_case("BINARYMIME") {
                        Body::BinaryMime
                    } else {
                        return Err(bad("BODY", value));
                    });
                }
                Keyword::Smtputf8 => {
                    once(4, "SMTPUTF8")?;
                    if let Some(value) = value {
                        return Err(bad("SMTPUTF8", value));
                    }
                    params.smtputf8 = true;
                }
                Keyword::Ret => {
                    once(8, "RET")?;
                    let value = value.unwrap_or("");
                    params.ret = Some(if value.eq_ignore_ascii_case("FULL") {
                        Ret::Full
                    } else if value.eq_ignore_ascii_case("HDRS") {
                        Ret::Headers
                    } else {
                        return Err(bad("RET", value));
                    });
                }
                Keyword::Envid => {
                    once(16, "ENVID")?;
                    let value = value.unwrap_or("");
                    if value.is_empty() || value.len() > MAX_ENVID || xtext_decode(value).is_err() {
                        return Err(bad("ENVID", value));
                    }
                    params.envid = Some(value.to_owned());
                }
                Keyword::Auth => {
                    once(32, "AUTH")?;
                    let value = value.unwrap_or("");
                    if value != "<>" && (value.is_empty() || xtext_decode(value).is_err()) {
                        return Err(bad("AUTH", value));
                    }
                    params.auth = Some(value.to_owned());
                }
                _ => return Err(ParamError::Unrecognized(keyword.to_owned())),
            }
        }
        Ok(params)
    }

    /// The decoded ENVID, for `Original-Envelope-Id:`.
    pub fn envid_decoded(&self) -> Option<String> {
        self.envid.as_deref().and_then(|e| xtext_decode(e).ok())
    }

    /// Whether any RFC 3461 parameter is present.
    pub fn has_dsn(&self) -> bool {
        self.ret.is_some() || self.envid.is_some()
    }
}

impl fmt::Display for MailParams {
    /// Each present parameter preceded by a space, ready to follow
    /// `MAIL FROM:<path>`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(size) = self.size {
            write!(f, " SIZE={size}")?;
        }
        match self.body {
            Some(Body::SevenBit) => f.write_str(" BODY=7BIT")?,
            Some(Body::EightBitMime) => f.write_str(" BODY=8BITMIME")?,
            Some(Body::BinaryMime) => f.write_str(" BODY=BINARYMIME")?,
            None => {}
        }
        if self.smtputf8 {
            f.write_str(" SMTPUTF8")?;
        }
        match self.ret {
            Some(Ret::Full) => f.write_str(" RET=FULL")?,
            Some(Ret::Headers) => f.write_str(" RET=HDRS")?,
            None => {}
        }
        if let Some(envid) = &self.envid {
            write!(f, " ENVID={envid}")?;
        }
        if let Some(auth) = &self.auth {
            write!(f, " AUTH={auth}")?;
        }
        Ok(())
    }
}

impl RcptParams {
    /// Parses the space-separated parameters after `RCPT TO:<path>`.
    ///
    /// ```
    /// use smarthost_smtp_core::{Notify, RcptParams};
    /// let params = RcptParams::parse("NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;postmaster+40x@example.com")?;
    /// assert_eq!(params.notify, Some(Notify::SUCCESS | Notify::FAILURE));
    /// assert_eq!(params.orcpt.unwrap().address(), "postmaster@x@example.com");
    /// assert!(RcptParams::parse("NOTIFY=NEVER,DELAY").is_err());
    /// # Ok::<(), smarthost_smtp_core::ParamError>(())
    /// ```
    pub fn parse(text: &str) -> Result<RcptParams, ParamError> {
        let mut params = RcptParams::default();
        for (keyword, value) in split_params(text)? {
            match Keyword::of(keyword) {
                Keyword::Notify => {
                    if params.notify.is_some() {
                        return Err(ParamError::Duplicate("NOTIFY"));
                    }
                    params.notify = Some(parse_notify(value.unwrap_or(""))?);
                }
                Keyword::Orcpt => {
                    if params.orcpt.is_some() {
                        return Err(ParamError::Duplicate("ORCPT"));
                    }
                    params.orcpt = Some(parse_orcpt(value.unwrap_or(""))?);
                }
                _ => return Err(ParamError::Unrecognized(keyword.to_owned())),
            }
        }
        Ok(params)
    }

    /// Whether any RFC 3461 parameter is present.
    pub fn has_dsn(&self) -> bool {
        self.notify.is_some() || self.orcpt.is_some()
    }
}

impl fmt::Display for RcptParams {
    /// Each present parameter preceded by a space.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(notify) = self.notify {
            write!(f, " NOTIFY={notify}")?;
        }
        if let Some(orcpt) = &self.orcpt {
            write!(f, " ORCPT={orcpt}")?;
        }
        Ok(())
    }
}

/// The parameter keywords we know, matched without allocating (the server
/// parses these on every MAIL and RCPT).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Keyword {
    Size,
    Body,
    Smtputf8,
    Ret,
    Envid,
    Auth,
    Notify,
    Orcpt,
    Other,
}

impl Keyword {
    fn of(word: &str) -> Keyword {
        const NAMES: [(&str, Keyword); 8] = [
            ("SIZE", Keyword::Size),
            ("BODY", Keyword::Body),
            ("SMTPUTF8", Keyword::Smtputf8),
            ("RET", Keyword::Ret),
            ("ENVID", Keyword::Envid),
            ("AUTH", Keyword::Auth),
            ("NOTIFY", Keyword::Notify),
            ("ORCPT", Keyword::Orcpt),
        ];
        NAMES.iter().find(|(name, _)| word.eq_ignore_ascii_case(name)).map_or(Keyword::Other, |&(_, k)| k)
    }
}

fn bad(keyword: &'static str, value: &str) -> ParamError {
    ParamError::BadValue { keyword, value: value.chars().take(64).collect() }
}

fn split_params(text: &str) -> Result<Vec<(&str, Option<&str>)>, ParamError> {
    let mut params = Vec::new();
    for word in text.split(' ').filter(|w| !w.is_empty()) {
        if params.len() == MAX_PARAMETERS {
            return Err(ParamError::TooMany);
        }
        let (keyword, value) = match word.split_once('=') {
            Some((k, v)) => (k, Some(v)),
            None => (word, None),
        };
        let keyword_ok = !keyword.is_empty()
            && keyword.as_bytes()[0].is_ascii_alphanumeric()
            && keyword.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
        if !keyword_ok {
            return Err(ParamError::Unrecognized(keyword.chars().take(64).collect()));
        }
        params.push((keyword, value));
    }
    Ok(params)
}

fn parse_notify(value: &str) -> Result<Notify, ParamError> {
    let mut notify = None::<Notify>;
    for word in value.split(',') {
        let names = [
            ("NEVER", Notify::NEVER),
            ("SUCCESS", Notify::SUCCESS),
            ("FAILURE", Notify::FAILURE),
            ("DELAY", Notify::DELAY),
        ];
        let Some(&(_, flag)) = names.iter().find(|(name, _)| word.eq_ignore_ascii_case(name)) else {
            return Err(bad("NOTIFY", word));
        };
        notify = Some(match notify {
            None => flag,
            // NEVER combined with anything, in either order, is refused
            // naming NEVER (sendmail's `Bad argument "NEVER"  to NOTIFY`).
            Some(set) if set.is_never() || flag.is_never() => return Err(bad("NOTIFY", "NEVER")),
            Some(set) => set | flag,
        });
    }
    notify.ok_or_else(|| bad("NOTIFY", value))
}

fn parse_orcpt(value: &str) -> Result<Orcpt, ParamError> {
    let Some((addr_type, encoded)) = value.split_once(';') else {
        return Err(bad("ORCPT", value));
    };
    let type_ok = !addr_type.is_empty() && addr_type.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    if !type_ok || encoded.is_empty() || xtext_decode(encoded).is_err() {
        return Err(bad("ORCPT", value));
    }
    Ok(Orcpt { addr_type: addr_type.to_owned(), value: encoded.to_owned() })
}

/// Decodes RFC 6533 `\x{HEX}` escapes; anything malformed is left as is.
fn decode_unicode_escapes(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("\\x{") {
        out.push_str(&rest[..at]);
        let after = &rest[at + 3..];
        let decoded = after.find('}').filter(|&end| (1..=6).contains(&end)).and_then(|end| {
            u32::from_str_radix(&after[..end], 16).ok().and_then(char::from_u32).map(|c| (c, end))
        });
        match decoded {
            Some((c, end)) => {
                out.push(c);
                rest = &after[end + 1..];
            }
            None => {
                out.push_str("\\x{");
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn spec_12_1_parameters() {
        let mail = MailParams::parse("SIZE=1000 BODY=8BITMIME RET=HDRS ENVID=abc+2Bdef").unwrap();
        assert_eq!(mail.envid.as_deref(), Some("abc+2Bdef"));
        let rcpt =
            RcptParams::parse("NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;postmaster+40x@example.com").unwrap();
        assert_eq!(rcpt.orcpt.as_ref().unwrap().raw_value(), "postmaster+40x@example.com");
        let error = RcptParams::parse("NOTIFY=NEVER,SUCCESS").unwrap_err();
        assert_eq!(error.reply().to_string(), "501 5.5.4 Bad argument \"NEVER\"  to NOTIFY\r\n");
        let error = RcptParams::parse("FOO=bar").unwrap_err();
        assert_eq!(error.reply().to_string(), "555 5.5.4 FOO parameter unrecognized\r\n");
    }

    #[test]
    fn d17_d18_notify() {
        assert!(RcptParams::parse("NOTIFY=NEVER,DELAY").is_err());
        assert!(RcptParams::parse("NOTIFY=DELAY,NEVER").is_err());
        let rcpt = RcptParams::parse("NOTIFY=success,Failure").unwrap();
        assert_eq!(rcpt.notify, Some(Notify::SUCCESS | Notify::FAILURE));
        assert_eq!(rcpt.to_string(), " NOTIFY=SUCCESS,FAILURE");
    }

    #[test]
    fn d19_envid_length() {
        assert!(MailParams::parse(&format!("ENVID={}", "a".repeat(100))).is_ok());
        let error = MailParams::parse(&format!("ENVID={}", "a".repeat(101))).unwrap_err();
        assert_eq!(error.reply().code(), 501);
    }

    #[test]
    fn d20_notify_defaults() {
        assert!(!Notify::wants(Some(Notify::SUCCESS), Notify::FAILURE));
        assert!(Notify::wants(None, Notify::FAILURE) && Notify::wants(None, Notify::DELAY));
        assert!(!Notify::wants(None, Notify::SUCCESS));
        assert!(!Notify::wants(Some(Notify::NEVER), Notify::FAILURE));
    }

    #[test]
    fn orcpt_types_are_kept() {
        // smtp-proto refuses the utf-8 type and drops rfc822; we keep both.
        let rcpt = RcptParams::parse("ORCPT=utf-8;j\\x{00F6}rg@example.com").unwrap();
        let orcpt = rcpt.orcpt.unwrap();
        assert_eq!((orcpt.addr_type(), orcpt.address().as_str()), ("utf-8", "jörg@example.com"));
        assert_eq!(orcpt.to_string(), "utf-8;j\\x{00F6}rg@example.com");
        assert_eq!(Orcpt::rfc822("a+b@example.com").to_string(), "rfc822;a+2Bb@example.com");
    }

    #[test]
    fn refusals() {
        for (text, code) in [
            ("SIZE=", 501),
            ("SIZE=12x", 501),
            ("SIZE=99999999999999999999999", 501),
            ("BODY=9BIT", 501),
            ("RET=ALL", 501),
            ("SMTPUTF8=yes", 501),
            ("SIZE=1 SIZE=2", 501),
            ("ENVID=a=b", 501),
            ("XYZ=1", 555),
            ("=x", 555),
        ] {
            assert_eq!(MailParams::parse(text).unwrap_err().reply().code(), code, "{text}");
        }
        let many = vec!["SMTPUTF8"; 21].join(" ");
        assert_eq!(MailParams::parse(&many).unwrap_err(), ParamError::TooMany);
        assert!(RcptParams::parse("ORCPT=rfc822").is_err());
        assert!(RcptParams::parse("ORCPT=rfc822;").is_err());
    }

    proptest! {
        #[test]
        fn mail_params_round_trip(size in prop::option::of(0u64..u64::MAX), body in 0..4u8, ret in 0..3u8,
                                  envid in prop::option::of("[!-~]{1,30}"), smtputf8: bool) {
            let params = MailParams {
                size,
                body: [None, Some(Body::SevenBit), Some(Body::EightBitMime), Some(Body::BinaryMime)][usize::from(body)],
                smtputf8,
                ret: [None, Some(Ret::Full), Some(Ret::Headers)][usize::from(ret)],
                envid: envid.map(|e| xtext_encode(&e)).filter(|e| e.len() <= MAX_ENVID),
                auth: None,
            };
            prop_assert_eq!(MailParams::parse(&params.to_string()).unwrap(), params);
        }

        #[test]
        fn arbitrary_text_never_panics(text in "[ -~]{0,80}") {
            let _ = MailParams::parse(&text).map(|p| p.to_string());
            if let Ok(params) = RcptParams::parse(&text) {
                prop_assert_eq!(RcptParams::parse(&params.to_string()).unwrap(), params);
            }
        }
    }
}
