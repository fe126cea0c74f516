//! dsn.md §5: the status a reply from the next hop gives a recipient.

use crate::reply::Reply;
use crate::status::EnhancedStatus;

/// The command (or moment) a reply answered, for [`status_for`] and for
/// the transcript of a DSN.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Phase {
    /// Opening the connection (TCP connect, implicit TLS); no reply.
    Connect,
    /// The server's `220` greeting.
    Greeting,
    /// `EHLO` or the `HELO` fallback.
    Hello,
    /// `STARTTLS` and the handshake after it.
    StartTls,
    /// The `AUTH` exchange.
    Auth,
    /// `MAIL FROM`.
    Mail,
    /// `RCPT TO`.
    Rcpt,
    /// The `DATA` command (the reply that should be `354`).
    Data,
    /// The content: the reply after the final `.`, or to a `BDAT` chunk.
    Content,
    /// `RSET`.
    Rset,
    /// `QUIT`.
    Quit,
}

impl Phase {
    /// What sendmail's transcripts call the step (`MAIL FROM`, `RCPT TO`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Phase::Connect => "connect",
            Phase::Greeting => "greeting",
            Phase::Hello => "EHLO",
            Phase::StartTls => "STARTTLS",
            Phase::Auth => "AUTH",
            Phase::Mail => "MAIL FROM",
            Phase::Rcpt => "RCPT TO",
            Phase::Data => "DATA",
            Phase::Content => "end of data",
            Phase::Rset => "RSET",
            Phase::Quit => "QUIT",
        }
    }
}

/// The status of a connection or I/O failure, and of a timeout: `4.4.2`.
pub const CONNECTION_FAILURE: EnhancedStatus = EnhancedStatus::BAD_CONNECTION.with_class(4);

/// The enhanced status code a reply from the next hop gives a recipient
/// (dsn.md §5, sendmail's `smtptodsn` and `smtpmailfrom`).
///
/// An enhanced status code in the reply always wins. Otherwise:
///
/// | Reply | Phase | Status |
/// | --- | --- | --- |
/// | 2xx | any | 2.0.0 |
/// | 421 | any | 4.0.0 |
/// | 450 / 451 / 452 / other 4xx | any | 4.2.0 / 4.3.0 / 4.3.1 / 4.0.0 |
/// | 501 / 552 / 553 | MAIL | 5.5.2 / 5.3.4 / 5.1.3 |
/// | 550 / 551 / 553 | RCPT | 5.1.1 / 5.1.6 / 5.1.3 |
/// | 550 | DATA, end of data | 5.2.0 |
/// | 500, 501, 502, 503, 504, 551, 552, 553, 554 | otherwise | 5.5.2, 5.5.4, 5.5.1, 5.5.1, 5.5.4, 5.1.6, 5.2.2, 5.1.0, 5.0.0 |
/// | other 5xx | any | 5.0.0 |
/// | 3xx where a final reply was due | any | 4.5.0 (a protocol error, retried) |
///
/// The table's "550 (to DATA) → 5.2.0" is read as applying to the `DATA`
/// command and the content only; a 550 to `MAIL` (or to the greeting) is
/// "other 5xx", 5.0.0, as in sendmail's `smtpmailfrom`.
///
/// ```
/// use smarthost_smtp_core::{Phase, Reply, status_for};
/// let reply = Reply::new(550, None, "No such user")?;
/// assert_eq!(status_for(&reply, Phase::Rcpt).to_string(), "5.1.1");
/// let reply = Reply::new(452, None, "Too many recipients")?;
/// assert_eq!(status_for(&reply, Phase::Rcpt).to_string(), "4.3.1");
/// # Ok::<(), smarthost_smtp_core::ReplyError>(())
/// ```
pub fn status_for(reply: &Reply, phase: Phase) -> EnhancedStatus {
    if let Some(status) = reply.status() {
        return status;
    }
    let code = reply.code();
    match (code / 100, code, phase) {
        (2, _, _) => EnhancedStatus::OK,
        (3, _, _) => EnhancedStatus::OTHER_PROTOCOL.with_class(4),
        (4, 450, _) => EnhancedStatus::OTHER_MAILBOX.with_class(4),
        (4, 451, _) => EnhancedStatus::OTHER_SYSTEM.with_class(4),
        (4, 452, _) => EnhancedStatus::SYSTEM_FULL.with_class(4),
        (4, _, _) => EnhancedStatus::OTHER.with_class(4),
        (_, 501, Phase::Mail) => EnhancedStatus::SYNTAX_ERROR,
        (_, 552, Phase::Mail) => EnhancedStatus::MESSAGE_TOO_BIG,
        (_, 553, Phase::Mail | Phase::Rcpt) => EnhancedStatus::BAD_DESTINATION_SYNTAX,
        (_, 550, Phase::Rcpt) => EnhancedStatus::BAD_DESTINATION_MAILBOX,
        (_, 550, Phase::Data | Phase::Content) => EnhancedStatus::OTHER_MAILBOX,
        (_, 500, _) => EnhancedStatus::SYNTAX_ERROR,
        (_, 501 | 504, _) => EnhancedStatus::INVALID_ARGUMENTS,
        (_, 502 | 503, _) => EnhancedStatus::INVALID_COMMAND,
        (_, 551, _) => EnhancedStatus::MAILBOX_MOVED,
        (_, 552, _) => EnhancedStatus::MAILBOX_FULL,
        (_, 553, _) => EnhancedStatus::OTHER_ADDRESS,
        _ => EnhancedStatus::OTHER,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(code: u16, phase: Phase) -> String {
        status_for(&Reply::new(code, None, "text").unwrap(), phase).to_string()
    }

    /// Every row of dsn.md §5, in its order.
    #[test]
    fn dsn_section_5_table() {
        // 421 (any time): from the reply, else 4.x.
        for phase in [Phase::Greeting, Phase::Mail, Phase::Rcpt, Phase::Content] {
            assert_eq!(status(421, phase), "4.0.0");
        }
        let with = Reply::new(421, "4.3.2".parse().ok(), "shutting down").unwrap();
        assert_eq!(status_for(&with, Phase::Rcpt).to_string(), "4.3.2");
        // 4xx to MAIL/RCPT/DATA.
        for phase in [Phase::Mail, Phase::Rcpt, Phase::Data, Phase::Content] {
            assert_eq!(
                [450, 451, 452, 454, 455].map(|c| status(c, phase)),
                ["4.2.0", "4.3.0", "4.3.1", "4.0.0", "4.0.0"]
            );
        }
        // MAIL rows.
        assert_eq!(status(501, Phase::Mail), "5.5.2");
        assert_eq!(status(552, Phase::Mail), "5.3.4");
        assert_eq!(status(553, Phase::Mail), "5.1.3");
        // RCPT rows.
        assert_eq!(status(550, Phase::Rcpt), "5.1.1");
        assert_eq!(status(551, Phase::Rcpt), "5.1.6");
        assert_eq!(status(553, Phase::Rcpt), "5.1.3");
        // Other 5xx.
        for phase in [Phase::Data, Phase::Content] {
            assert_eq!(
                [500, 501, 502, 503, 504, 550, 552, 553, 554, 555, 521].map(|c| status(c, phase)),
                [
                    "5.5.2", "5.5.4", "5.5.1", "5.5.1", "5.5.4", "5.2.0", "5.2.2", "5.1.0", "5.0.0", "5.0.0",
                    "5.0.0"
                ]
            );
        }
        assert_eq!(status(500, Phase::Rcpt), "5.5.2");
        assert_eq!(status(501, Phase::Rcpt), "5.5.4");
        assert_eq!(status(503, Phase::Mail), "5.5.1");
        assert_eq!(status(552, Phase::Rcpt), "5.2.2");
        assert_eq!(status(554, Phase::Rcpt), "5.0.0");
        assert_eq!(status(550, Phase::Mail), "5.0.0");
        assert_eq!(status(554, Phase::Greeting), "5.0.0");
        assert_eq!(status(521, Phase::Greeting), "5.0.0");
        // Success and the connection failure constant.
        assert_eq!(status(250, Phase::Content), "2.0.0");
        assert_eq!(CONNECTION_FAILURE.to_string(), "4.4.2");
    }

    #[test]
    fn an_enhanced_code_in_the_reply_always_wins() {
        for (code, text, phase, expected) in [
            (550, "5.7.1 Relaying denied", Phase::Rcpt, "5.7.1"),
            (552, "5.2.3 Too big", Phase::Mail, "5.2.3"),
            (451, "4.7.1 Greylisted", Phase::Rcpt, "4.7.1"),
            (250, "2.1.5 Ok", Phase::Rcpt, "2.1.5"),
        ] {
            let (status, rest) = crate::EnhancedStatus::split_prefix(text).unwrap();
            let reply = Reply::new(code, Some(status), rest.to_owned()).unwrap();
            assert_eq!(status_for(&reply, phase).to_string(), expected);
        }
    }

    #[test]
    fn d11_to_d14() {
        assert_eq!(status(550, Phase::Rcpt), "5.1.1"); // D11 550 No such user
        assert_eq!(status(551, Phase::Rcpt), "5.1.6"); // D12 551 User has moved
        assert_eq!(status(452, Phase::Rcpt), "4.3.1"); // D13 452 Too many recipients
        assert_eq!(status(552, Phase::Mail), "5.3.4"); // D14 552 Too big
    }
}
