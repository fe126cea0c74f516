//! Recognising one command line.
//!
//! The verb is read here, so that unknown verbs can be echoed, HTTP verbs
//! and the obsolete RFC 821 verbs recognised, and `MAIL`, `RCPT` and `AUTH`
//! given to our own parsers (smtp-proto decodes what a relay must pass on
//! unchanged; see `tests/smtp_proto_gaps.rs`). smtp-proto parses the
//! arguments of the other commands: EHLO/HELO, BDAT, VRFY, EXPN, and the
//! argument-less ones.

use std::borrow::Cow;

use smtp_proto::Request;

use crate::server::config::MAX_HELO_NAME;
use crate::server::path::check_domain;

/// A command line, recognised.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Command<'a> {
    /// EHLO (`extended`) or HELO, with the client's name or why it is missing.
    Hello { extended: bool, name: Result<Cow<'a, str>, HelloError> },
    /// MAIL; the text after the verb.
    Mail(&'a [u8]),
    /// RCPT; the text after the verb.
    Rcpt(&'a [u8]),
    /// DATA.
    Data,
    /// BDAT with its size and LAST flag, or `None` when they do not parse.
    Bdat(Option<(u64, bool)>),
    /// RSET.
    Rset,
    /// NOOP.
    Noop,
    /// QUIT.
    Quit,
    /// VRFY with its argument.
    Vrfy(Option<Cow<'a, str>>),
    /// EXPN with its argument.
    Expn(Option<Cow<'a, str>>),
    /// HELP (the topic is ignored).
    Help,
    /// STARTTLS; whether parameters followed.
    StartTls { has_parameters: bool },
    /// AUTH; the text after the verb.
    Auth(&'a [u8]),
    /// TURN, SEND, SOML, SAML, ETRN, ATRN, BURL.
    NotImplemented,
    /// GET, POST, HEAD, PUT, CONNECT, USER: a client speaking another protocol.
    Http,
    /// Anything else.
    Unknown,
}

/// Why an EHLO/HELO name is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum HelloError {
    /// No argument (`501 5.0.0 EHLO requires domain address`).
    Missing,
    /// Not a domain or address literal.
    Invalid,
}

/// Recognises `line`, which ends in CR LF and holds no other CR or LF.
pub(crate) fn parse(line: &[u8]) -> Command<'_> {
    let text = line.strip_suffix(b"\r\n").unwrap_or(line);
    let verb_end = text.iter().position(|&b| b == b' ').unwrap_or(text.len());
    let (verb, args) = text.split_at(verb_end);
    let mut upper = [0u8; 8];
    if verb.len() > upper.len() {
        return Command::Unknown;
    }
    for (u, b) in upper.iter_mut().zip(verb) {
        *u = b.to_ascii_uppercase();
    }
    match &upper[..verb.len()] {
        b"MAIL" => Command::Mail(args),
        b"RCPT" => Command::Rcpt(args),
        b"AUTH" => Command::Auth(args),
        b"STARTTLS" => Command::StartTls { has_parameters: args.iter().any(|&b| b != b' ') },
        b"EHLO" | b"HELO" => Command::Hello { extended: upper[0] == b'E', name: hello_name(line) },
        b"DATA" | b"RSET" | b"NOOP" | b"QUIT" | b"HELP" | b"BDAT" | b"VRFY" | b"EXPN" => {
            with_smtp_proto(line)
        }
        b"TURN" | b"SEND" | b"SOML" | b"SAML" | b"ETRN" | b"ATRN" | b"BURL" => Command::NotImplemented,
        b"GET" | b"POST" | b"HEAD" | b"PUT" | b"CONNECT" | b"USER" => Command::Http,
        _ => Command::Unknown,
    }
}

fn with_smtp_proto(line: &[u8]) -> Command<'_> {
    match Request::parse(&mut line.iter()) {
        Ok(Request::Data) => Command::Data,
        Ok(Request::Rset) => Command::Rset,
        Ok(Request::Noop { .. }) => Command::Noop,
        Ok(Request::Quit) => Command::Quit,
        Ok(Request::Help { .. }) => Command::Help,
        Ok(Request::Bdat { chunk_size, is_last }) => Command::Bdat(Some((chunk_size as u64, is_last))),
        Ok(Request::Vrfy { value }) => Command::Vrfy(Some(value)),
        Ok(Request::Expn { value }) => Command::Expn(Some(value)),
        // The verb was one of the above, so only its arguments can be wrong.
        _ => match line.get(..4).map(|v| v.to_ascii_uppercase()).as_deref() {
            Some(b"VRFY") => Command::Vrfy(None),
            Some(b"EXPN") => Command::Expn(None),
            Some(b"BDAT") => Command::Bdat(None),
            _ => Command::Unknown,
        },
    }
}

fn hello_name(line: &[u8]) -> Result<Cow<'_, str>, HelloError> {
    // smtp-proto replaces invalid UTF-8 with U+FFFD; refuse it here instead.
    if std::str::from_utf8(line).is_err() {
        return Err(HelloError::Invalid);
    }
    let host = match Request::parse(&mut line.iter()) {
        Ok(Request::Ehlo { host } | Request::Helo { host }) => host,
        _ => {
            // smtp-proto refuses a missing name and one longer than 255.
            let has_argument = line.len() > 4 && line[4..].iter().any(|&b| !b" \r\n".contains(&b));
            return Err(if has_argument { HelloError::Invalid } else { HelloError::Missing });
        }
    };
    if host.len() > MAX_HELO_NAME || check_domain(host.as_bytes()).is_err() {
        return Err(HelloError::Invalid);
    }
    Ok(host)
}

/// The text to echo in `500 5.5.1 Command unrecognized: "..."`: the line
/// without its CR LF, at most 60 characters, printable ASCII only.
pub(crate) fn echo(line: &[u8]) -> impl Iterator<Item = u8> + '_ {
    let text = line.strip_suffix(b"\r\n").unwrap_or(line);
    text.iter().take(60).map(|&b| if (0x20..0x7f).contains(&b) && b != b'"' { b } else { b'?' })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verbs() {
        assert_eq!(
            parse(b"ehlo client.example\r\n"),
            Command::Hello { extended: true, name: Ok("client.example".into()) }
        );
        assert_eq!(parse(b"EHLO\r\n"), Command::Hello { extended: true, name: Err(HelloError::Missing) });
        assert_eq!(parse(b"EHLO \r\n"), Command::Hello { extended: true, name: Err(HelloError::Missing) });
        assert_eq!(
            parse(b"HELO a;b\r\n"),
            Command::Hello { extended: false, name: Err(HelloError::Invalid) }
        );
        assert_eq!(
            parse(b"HELO [192.0.2.1]\r\n"),
            Command::Hello { extended: false, name: Ok("[192.0.2.1]".into()) }
        );
        assert_eq!(parse(b"MAIL FROM:<a@b>\r\n"), Command::Mail(b" FROM:<a@b>"));
        assert_eq!(parse(b"data\r\n"), Command::Data);
        assert_eq!(parse(b"BDAT 10 LAST\r\n"), Command::Bdat(Some((10, true))));
        assert_eq!(parse(b"BDAT 10\r\n"), Command::Bdat(Some((10, false))));
        assert_eq!(parse(b"BDAT x\r\n"), Command::Bdat(None));
        assert_eq!(parse(b"BDAT 10 FIRST\r\n"), Command::Bdat(None));
        assert_eq!(parse(b"VRFY\r\n"), Command::Vrfy(None));
        assert_eq!(parse(b"STARTTLS now\r\n"), Command::StartTls { has_parameters: true });
        assert_eq!(parse(b"STARTTLS \r\n"), Command::StartTls { has_parameters: false });
        assert_eq!(parse(b"TURN\r\n"), Command::NotImplemented);
        assert_eq!(parse(b"GET / HTTP/1.1\r\n"), Command::Http);
        assert_eq!(parse(b"XYZZY\r\n"), Command::Unknown);
        assert_eq!(parse(b"DATAX\r\n"), Command::Unknown);
        assert_eq!(parse(b"\r\n"), Command::Unknown);
        assert_eq!(parse(b"MAILFROMXYZ\r\n"), Command::Unknown);
    }

    #[test]
    fn echoes_printable_text_only() {
        let echoed: Vec<u8> = echo(b"XY\"Z\x00\xff\r\n").collect();
        assert_eq!(echoed, b"XY?Z??");
    }
}
