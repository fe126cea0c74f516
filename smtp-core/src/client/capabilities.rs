//! The EHLO keywords a server advertises.

use crate::reply::Reply;

/// What a server said it supports in its `EHLO` reply (smtp.md §3).
///
/// Keywords are matched case-insensitively. Unknown keywords are kept
/// ([`has`](Self::has), [`parameters`](Self::parameters)). The old
/// `AUTH=LOGIN PLAIN` form some servers still send is read like
/// `AUTH LOGIN PLAIN`. After `HELO` (no ESMTP) or after `STARTTLS` the
/// session forgets what it knew: a server must be asked again.
///
/// ```
/// use smarthost_smtp_core::{Capabilities, parse_reply, ParsedReply};
/// let wire = b"250-mx.example.net Hello\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250-AUTH=LOGIN\r\n250 AUTH PLAIN LOGIN\r\n";
/// let ParsedReply::Complete(reply, _) = parse_reply(wire)? else { panic!() };
/// let caps = Capabilities::from_ehlo(&reply);
/// assert_eq!(caps.domain(), "mx.example.net");
/// assert!(caps.has_pipelining() && !caps.has_dsn());
/// assert_eq!(caps.size_limit(), Some(10_240_000));
/// assert_eq!(caps.auth_mechanisms(), ["LOGIN", "PLAIN"]);
/// # Ok::<(), smarthost_smtp_core::ReplyParseError>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Capabilities {
    domain: String,
    /// Keyword (upper case) and its parameters, in the server's order.
    keywords: Vec<(String, Vec<String>)>,
    auth: Vec<String>,
}

impl Capabilities {
    /// Reads the lines of a `250` reply to `EHLO`: the first names the
    /// server, each further line is a keyword with parameters.
    pub fn from_ehlo(reply: &Reply) -> Capabilities {
        let mut lines = reply.lines();
        let domain = lines.next().and_then(|l| l.split_ascii_whitespace().next()).unwrap_or("").to_owned();
        let mut caps = Capabilities { domain, ..Capabilities::default() };
        for line in lines {
            let mut words = line.split_ascii_whitespace();
            let Some(first) = words.next() else { continue };
            let (keyword, inline) = match first.split_once('=') {
                // `AUTH=LOGIN PLAIN`: the first parameter is glued on.
                Some((keyword, value)) => (keyword, Some(value)),
                None => (first, None),
            };
            let keyword = keyword.to_ascii_uppercase();
            let params: Vec<String> =
                inline.into_iter().filter(|v| !v.is_empty()).chain(words).map(str::to_owned).collect();
            if keyword == "AUTH" {
                for mechanism in &params {
                    if !caps.auth.iter().any(|m| m.eq_ignore_ascii_case(mechanism)) {
                        caps.auth.push(mechanism.to_ascii_uppercase());
                    }
                }
            }
            match caps.keywords.iter_mut().find(|(k, _)| *k == keyword) {
                Some((_, existing)) => existing.extend(params),
                None => caps.keywords.push((keyword, params)),
            }
        }
        caps
    }

    /// The server's name: the first word of the reply's first line.
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// Whether `keyword` was advertised (case-insensitive).
    pub fn has(&self, keyword: &str) -> bool {
        self.parameters(keyword).is_some()
    }

    /// The parameters after `keyword`, if it was advertised.
    pub fn parameters(&self, keyword: &str) -> Option<&[String]> {
        self.keywords.iter().find(|(k, _)| k.eq_ignore_ascii_case(keyword)).map(|(_, p)| p.as_slice())
    }

    /// Every keyword (upper case) with its parameters, in the server's order.
    pub fn keywords(&self) -> impl Iterator<Item = (&str, &[String])> + '_ {
        self.keywords.iter().map(|(k, p)| (k.as_str(), p.as_slice()))
    }

    /// `PIPELINING` (RFC 2920).
    pub fn has_pipelining(&self) -> bool {
        self.has("PIPELINING")
    }

    /// `SIZE`, with or without a limit (RFC 1870).
    pub fn has_size(&self) -> bool {
        self.has("SIZE")
    }

    /// The fixed maximum message size of `SIZE n`; `None` when `SIZE` is
    /// absent, has no number, or is `0` (no fixed limit).
    pub fn size_limit(&self) -> Option<u64> {
        let params = self.parameters("SIZE")?;
        params.first().and_then(|n| n.parse().ok()).filter(|&n| n > 0)
    }

    /// `8BITMIME` (RFC 6152).
    pub fn has_8bitmime(&self) -> bool {
        self.has("8BITMIME")
    }

    /// `SMTPUTF8` (RFC 6531).
    pub fn has_smtputf8(&self) -> bool {
        self.has("SMTPUTF8")
    }

    /// `ENHANCEDSTATUSCODES` (RFC 2034).
    pub fn has_enhanced_status_codes(&self) -> bool {
        self.has("ENHANCEDSTATUSCODES")
    }

    /// `DSN` (RFC 3461).
    pub fn has_dsn(&self) -> bool {
        self.has("DSN")
    }

    /// `CHUNKING`: `BDAT` (RFC 3030).
    pub fn has_chunking(&self) -> bool {
        self.has("CHUNKING")
    }

    /// `BINARYMIME` together with `CHUNKING`, which it needs (RFC 3030).
    pub fn has_binarymime(&self) -> bool {
        self.has("BINARYMIME") && self.has_chunking()
    }

    /// `STARTTLS` (RFC 3207).
    pub fn has_starttls(&self) -> bool {
        self.has("STARTTLS")
    }

    /// The mechanisms of the `AUTH` (and old `AUTH=`) lines, upper case,
    /// without duplicates; empty when AUTH is not offered.
    pub fn auth_mechanisms(&self) -> &[String] {
        &self.auth
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caps(lines: &[&str]) -> Capabilities {
        Capabilities::from_ehlo(&Reply::multiline(250, None, lines).unwrap())
    }

    #[test]
    fn sendmail_ehlo_reply() {
        let caps = caps(&[
            "mail.internal.example.com Hello root@localhost, pleased to meet you",
            "ENHANCEDSTATUSCODES",
            "PIPELINING",
            "EXPN",
            "VERB",
            "8BITMIME",
            "SIZE",
            "DSN",
            "ETRN",
            "DELIVERBY",
            "HELP",
        ]);
        assert_eq!(caps.domain(), "mail.internal.example.com");
        assert!(caps.has_enhanced_status_codes() && caps.has_pipelining() && caps.has_8bitmime());
        assert!(caps.has_size() && caps.size_limit().is_none() && caps.has_dsn());
        assert!(!caps.has_starttls() && !caps.has_chunking() && !caps.has_smtputf8());
        assert!(caps.has("etrn") && caps.has("DeliverBy"));
        assert!(caps.auth_mechanisms().is_empty());
        assert_eq!(caps.keywords().count(), 10);
    }

    #[test]
    fn parameters_case_and_old_auth_form() {
        let caps = caps(&[
            "mx.example.net",
            "size 0",
            "auth=LOGIN",
            "AUTH login PLAIN CRAM-MD5",
            "BINARYMIME",
            "X-EXPERIMENT a b",
        ]);
        assert!(caps.has_size() && caps.size_limit().is_none());
        assert_eq!(caps.auth_mechanisms(), ["LOGIN", "PLAIN", "CRAM-MD5"]);
        assert!(!caps.has_binarymime(), "BINARYMIME without CHUNKING");
        assert_eq!(caps.parameters("x-experiment").unwrap(), ["a", "b"]);
        assert_eq!(caps.parameters("SIZE").unwrap(), ["0"]);
    }

    #[test]
    fn nonsense_is_tolerated() {
        let caps = caps(&["", "", "SIZE lots", "=", "AUTH="]);
        assert_eq!(caps.domain(), "");
        assert!(caps.has_size() && caps.size_limit().is_none());
        assert!(caps.auth_mechanisms().is_empty() && caps.has("AUTH"));
    }
}
