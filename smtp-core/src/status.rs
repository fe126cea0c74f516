//! RFC 3463 enhanced status codes (`class.subject.detail`).

use std::fmt;
use std::str::FromStr;

/// An RFC 3463 enhanced status code such as `5.1.1`.
///
/// The class is 2, 4 or 5; subject and detail are 0–999 (RFC 3463 allows
/// one to three digits without leading zeros).
///
/// ```
/// use smarthost_smtp_core::EnhancedStatus;
/// let status: EnhancedStatus = "5.1.1".parse().unwrap();
/// assert_eq!(status, EnhancedStatus::BAD_DESTINATION_MAILBOX.with_class(5));
/// assert!(status.is_permanent());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EnhancedStatus {
    class: u8,
    subject: u16,
    detail: u16,
}

/// Why a string is not an enhanced status code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("not an enhanced status code; expected class.subject.detail such as 5.1.1 (class 2, 4 or 5)")]
pub struct InvalidStatus;

impl EnhancedStatus {
    /// Builds a status, or `None` when the class is not 2, 4 or 5 or a
    /// number has more than three digits.
    pub const fn new(class: u8, subject: u16, detail: u16) -> Option<Self> {
        if matches!(class, 2 | 4 | 5) && subject <= 999 && detail <= 999 {
            Some(EnhancedStatus { class, subject, detail })
        } else {
            None
        }
    }

    /// The same subject and detail in another class (2, 4 or 5); any other
    /// class leaves the status unchanged.
    ///
    /// The named constants are written in class 5; `with_class(4)` gives
    /// the transient form.
    pub const fn with_class(self, class: u8) -> Self {
        match class {
            2 | 4 | 5 => EnhancedStatus { class, ..self },
            _ => self,
        }
    }

    /// Class digit: 2 success, 4 transient failure, 5 permanent failure.
    pub const fn class(self) -> u8 {
        self.class
    }

    /// Subject number (1 addressing, 2 mailbox, 3 mail system, …).
    pub const fn subject(self) -> u16 {
        self.subject
    }

    /// Detail number.
    pub const fn detail(self) -> u16 {
        self.detail
    }

    /// Class 2.
    pub const fn is_success(self) -> bool {
        self.class == 2
    }

    /// Class 4: the message may be retried.
    pub const fn is_transient(self) -> bool {
        self.class == 4
    }

    /// Class 5.
    pub const fn is_permanent(self) -> bool {
        self.class == 5
    }

    /// Parses a status at the start of `text`, followed by a space or the
    /// end, as it appears after a reply code. Returns the status and the
    /// rest of the text after the separating space.
    pub fn split_prefix(text: &str) -> Option<(Self, &str)> {
        let (word, rest) = match text.find(' ') {
            Some(at) => (&text[..at], &text[at + 1..]),
            None => (text, ""),
        };
        word.parse().ok().map(|status| (status, rest))
    }
}

const fn status(class: u8, subject: u16, detail: u16) -> EnhancedStatus {
    EnhancedStatus { class, subject, detail }
}

/// Named codes of RFC 3463 and the registry additions `dsn.md` §3.2 lists.
///
/// They are written in class 5 for failures and class 2 where the code is
/// only ever a success; use [`EnhancedStatus::with_class`] for the others.
impl EnhancedStatus {
    /// 2.0.0 Other or undefined status (success).
    pub const OK: Self = status(2, 0, 0);
    /// X.0.0 Other or undefined status.
    pub const OTHER: Self = status(5, 0, 0);
    /// X.1.0 Other address status.
    pub const OTHER_ADDRESS: Self = status(5, 1, 0);
    /// X.1.1 Bad destination mailbox address (user unknown).
    pub const BAD_DESTINATION_MAILBOX: Self = status(5, 1, 1);
    /// X.1.2 Bad destination system address.
    pub const BAD_DESTINATION_SYSTEM: Self = status(5, 1, 2);
    /// X.1.3 Bad destination mailbox address syntax.
    pub const BAD_DESTINATION_SYNTAX: Self = status(5, 1, 3);
    /// X.1.4 Destination mailbox address ambiguous.
    pub const AMBIGUOUS_DESTINATION: Self = status(5, 1, 4);
    /// 2.1.5 Destination address valid.
    pub const DESTINATION_VALID: Self = status(2, 1, 5);
    /// 2.1.0 Sender address valid (sendmail's `250 2.1.0 ... Sender ok`).
    pub const SENDER_VALID: Self = status(2, 1, 0);
    /// X.1.6 Destination mailbox has moved, no forwarding address.
    pub const MAILBOX_MOVED: Self = status(5, 1, 6);
    /// X.1.7 Bad sender's mailbox address syntax.
    pub const BAD_SENDER_SYNTAX: Self = status(5, 1, 7);
    /// X.1.8 Bad sender's system address.
    pub const BAD_SENDER_SYSTEM: Self = status(5, 1, 8);
    /// X.1.9 Message relayed to non-compliant mailer (RFC 3886).
    pub const RELAYED_NON_COMPLIANT: Self = status(5, 1, 9);
    /// X.1.10 Recipient address has null MX (RFC 7505).
    pub const NULL_MX: Self = status(5, 1, 10);
    /// X.2.0 Other or undefined mailbox status.
    pub const OTHER_MAILBOX: Self = status(5, 2, 0);
    /// X.2.1 Mailbox disabled, not accepting messages.
    pub const MAILBOX_DISABLED: Self = status(5, 2, 1);
    /// X.2.2 Mailbox full.
    pub const MAILBOX_FULL: Self = status(5, 2, 2);
    /// X.2.3 Message length exceeds administrative limit.
    pub const MESSAGE_LENGTH_EXCEEDED: Self = status(5, 2, 3);
    /// X.2.4 Mailing list expansion problem.
    pub const LIST_EXPANSION: Self = status(5, 2, 4);
    /// X.3.0 Other or undefined mail system status.
    pub const OTHER_SYSTEM: Self = status(5, 3, 0);
    /// X.3.1 Mail system full.
    pub const SYSTEM_FULL: Self = status(5, 3, 1);
    /// X.3.2 System not accepting network messages.
    pub const NOT_ACCEPTING: Self = status(5, 3, 2);
    /// X.3.3 System not capable of selected features.
    pub const NOT_CAPABLE: Self = status(5, 3, 3);
    /// X.3.4 Message too big for system.
    pub const MESSAGE_TOO_BIG: Self = status(5, 3, 4);
    /// X.3.5 System incorrectly configured.
    pub const MISCONFIGURED: Self = status(5, 3, 5);
    /// X.4.0 Other or undefined network or routing status.
    pub const OTHER_NETWORK: Self = status(5, 4, 0);
    /// X.4.1 No answer from host.
    pub const NO_ANSWER: Self = status(5, 4, 1);
    /// X.4.2 Bad connection.
    pub const BAD_CONNECTION: Self = status(5, 4, 2);
    /// X.4.3 Directory server failure (DNS).
    pub const DIRECTORY_FAILURE: Self = status(5, 4, 3);
    /// X.4.4 Unable to route.
    pub const UNABLE_TO_ROUTE: Self = status(5, 4, 4);
    /// X.4.5 Mail system congestion.
    pub const CONGESTION: Self = status(5, 4, 5);
    /// X.4.6 Routing loop detected.
    pub const ROUTING_LOOP: Self = status(5, 4, 6);
    /// X.4.7 Delivery time expired.
    pub const DELIVERY_EXPIRED: Self = status(5, 4, 7);
    /// X.5.0 Other or undefined protocol status.
    pub const OTHER_PROTOCOL: Self = status(5, 5, 0);
    /// X.5.1 Invalid command.
    pub const INVALID_COMMAND: Self = status(5, 5, 1);
    /// X.5.2 Syntax error.
    pub const SYNTAX_ERROR: Self = status(5, 5, 2);
    /// X.5.3 Too many recipients.
    pub const TOO_MANY_RECIPIENTS: Self = status(5, 5, 3);
    /// X.5.4 Invalid command arguments.
    pub const INVALID_ARGUMENTS: Self = status(5, 5, 4);
    /// X.5.5 Wrong protocol version.
    pub const WRONG_PROTOCOL_VERSION: Self = status(5, 5, 5);
    /// X.5.6 Authentication exchange line too long (RFC 4954).
    pub const AUTH_LINE_TOO_LONG: Self = status(5, 5, 6);
    /// X.6.0 Other or undefined media error.
    pub const OTHER_MEDIA: Self = status(5, 6, 0);
    /// X.6.1 Media not supported.
    pub const MEDIA_NOT_SUPPORTED: Self = status(5, 6, 1);
    /// X.6.2 Conversion required and prohibited.
    pub const CONVERSION_PROHIBITED: Self = status(5, 6, 2);
    /// X.6.3 Conversion required but not supported.
    pub const CONVERSION_UNSUPPORTED: Self = status(5, 6, 3);
    /// X.6.4 Conversion with loss performed.
    pub const CONVERSION_LOSSY: Self = status(5, 6, 4);
    /// X.6.5 Conversion failed.
    pub const CONVERSION_FAILED: Self = status(5, 6, 5);
    /// X.6.6 Message content not available (RFC 4468).
    pub const CONTENT_UNAVAILABLE: Self = status(5, 6, 6);
    /// X.6.7 Non-ASCII addresses not permitted (RFC 6531).
    pub const NON_ASCII_ADDRESS: Self = status(5, 6, 7);
    /// X.6.8 UTF-8 string reply required, but not permitted (RFC 6531).
    pub const UTF8_REPLY_REQUIRED: Self = status(5, 6, 8);
    /// X.6.9 UTF-8 header message cannot be transferred (RFC 6531).
    pub const UTF8_HEADER_UNTRANSFERABLE: Self = status(5, 6, 9);
    /// X.7.0 Other or undefined security status (also: authentication required).
    pub const OTHER_SECURITY: Self = status(5, 7, 0);
    /// X.7.1 Delivery not authorized, message refused (relaying denied, policy).
    pub const NOT_AUTHORIZED: Self = status(5, 7, 1);
    /// X.7.2 Mailing list expansion prohibited.
    pub const LIST_EXPANSION_PROHIBITED: Self = status(5, 7, 2);
    /// X.7.3 Security conversion required but not possible.
    pub const SECURITY_CONVERSION: Self = status(5, 7, 3);
    /// X.7.4 Security features not supported.
    pub const SECURITY_UNSUPPORTED: Self = status(5, 7, 4);
    /// X.7.5 Cryptographic failure.
    pub const CRYPTO_FAILURE: Self = status(5, 7, 5);
    /// X.7.6 Cryptographic algorithm not supported.
    pub const CRYPTO_UNSUPPORTED: Self = status(5, 7, 6);
    /// X.7.7 Message integrity failure.
    pub const INTEGRITY_FAILURE: Self = status(5, 7, 7);
    /// X.7.8 Authentication credentials invalid (RFC 4954).
    pub const AUTH_INVALID: Self = status(5, 7, 8);
    /// X.7.9 Authentication mechanism is too weak (RFC 4954).
    pub const AUTH_TOO_WEAK: Self = status(5, 7, 9);
    /// X.7.10 Encryption needed (RFC 5248).
    pub const ENCRYPTION_NEEDED: Self = status(5, 7, 10);
    /// X.7.11 Encryption required for requested authentication mechanism (RFC 4954).
    pub const ENCRYPTION_REQUIRED_FOR_AUTH: Self = status(5, 7, 11);
    /// X.7.12 A password transition is needed (RFC 4954).
    pub const PASSWORD_TRANSITION: Self = status(5, 7, 12);
    /// X.7.13 User account disabled (RFC 5248).
    pub const ACCOUNT_DISABLED: Self = status(5, 7, 13);
    /// X.7.14 Trust relationship required (RFC 5248).
    pub const TRUST_REQUIRED: Self = status(5, 7, 14);
    /// X.7.25 Reverse DNS validation failed (RFC 7372).
    pub const REVERSE_DNS_FAILED: Self = status(5, 7, 25);
}

impl fmt::Display for EnhancedStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.class, self.subject, self.detail)
    }
}

impl FromStr for EnhancedStatus {
    type Err = InvalidStatus;

    fn from_str(text: &str) -> Result<Self, InvalidStatus> {
        let mut parts = text.split('.');
        let (Some(class), Some(subject), Some(detail), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(InvalidStatus);
        };
        let class = match class {
            "2" => 2,
            "4" => 4,
            "5" => 5,
            _ => return Err(InvalidStatus),
        };
        EnhancedStatus::new(class, number(subject)?, number(detail)?).ok_or(InvalidStatus)
    }
}

/// One to three ASCII digits without a leading zero (a lone `0` is fine).
fn number(text: &str) -> Result<u16, InvalidStatus> {
    let well_formed = (1..=3).contains(&text.len())
        && text.bytes().all(|b| b.is_ascii_digit())
        && !(text.len() > 1 && text.starts_with('0'));
    if well_formed { text.parse().map_err(|_| InvalidStatus) } else { Err(InvalidStatus) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_renders() {
        for text in ["2.0.0", "5.1.1", "4.7.25", "5.1.10", "4.999.999"] {
            assert_eq!(text.parse::<EnhancedStatus>().unwrap().to_string(), text);
        }
    }

    #[test]
    fn refuses_malformed() {
        for text in ["", "5", "5.1", "5.1.1.1", "3.0.0", "5.01.1", "5.1.1000", "5.a.1", "5..1", " 5.1.1"] {
            assert_eq!(text.parse::<EnhancedStatus>(), Err(InvalidStatus), "{text:?}");
        }
    }

    #[test]
    fn class_changes_keep_subject_and_detail() {
        let transient = EnhancedStatus::NOT_AUTHORIZED.with_class(4);
        assert_eq!(transient.to_string(), "4.7.1");
        assert!(transient.is_transient());
        assert_eq!(EnhancedStatus::OK.with_class(3), EnhancedStatus::OK);
    }

    #[test]
    fn splits_prefix_from_reply_text() {
        let (status, rest) = EnhancedStatus::split_prefix("5.1.1 <a@b>... User unknown").unwrap();
        assert_eq!((status.to_string().as_str(), rest), ("5.1.1", "<a@b>... User unknown"));
        assert_eq!(EnhancedStatus::split_prefix("2.0.0").unwrap().1, "");
        assert!(EnhancedStatus::split_prefix("User unknown").is_none());
    }
}
