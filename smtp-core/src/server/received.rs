//! The `Received:` trace header (RFC 5321 §4.4, RFC 3848 `with` types) and
//! the RFC 5322 date it ends with.

use std::net::{IpAddr, SocketAddr};

use crate::replies::{push_decimal, push_ip};
use crate::server::types::TlsInfo;

/// The `with` protocol of RFC 3848.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// `SMTP`: the client greeted with HELO.
    Smtp,
    /// `ESMTP`.
    Esmtp,
    /// `ESMTPS`: ESMTP over TLS.
    Esmtps,
    /// `ESMTPA`: ESMTP with AUTH.
    Esmtpa,
    /// `ESMTPSA`: ESMTP with TLS and AUTH.
    Esmtpsa,
}

impl Protocol {
    /// The protocol of a session greeted with EHLO (or not), with TLS and
    /// AUTH (or not).
    pub fn of(ehlo: bool, tls: bool, auth: bool) -> Self {
        match (ehlo, tls, auth) {
            (false, _, _) => Self::Smtp,
            (true, false, false) => Self::Esmtp,
            (true, true, false) => Self::Esmtps,
            (true, false, true) => Self::Esmtpa,
            (true, true, true) => Self::Esmtpsa,
        }
    }

    /// The keyword after `with`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Smtp => "SMTP",
            Self::Esmtp => "ESMTP",
            Self::Esmtps => "ESMTPS",
            Self::Esmtpa => "ESMTPA",
            Self::Esmtpsa => "ESMTPSA",
        }
    }
}

/// What goes into one `Received:` header.
pub(crate) struct Stamp<'a> {
    pub(crate) helo: Option<&'a str>,
    pub(crate) remote_name: Option<&'a str>,
    pub(crate) remote: SocketAddr,
    pub(crate) host: &'a str,
    pub(crate) protocol: Protocol,
    pub(crate) id: Option<&'a str>,
    pub(crate) tls: Option<&'a TlsInfo>,
    pub(crate) for_path: Option<&'a str>,
    pub(crate) unix_time: u64,
}

/// Longest value put into the header as given; longer ones are left out so
/// no header line passes RFC 5322's 998 octets.
const MAX_FIELD: usize = 255;

/// Appends the header, folded one clause per line, to `out`.
pub(crate) fn write_received(out: &mut Vec<u8>, stamp: &Stamp<'_>) {
    let ip = stamp.remote.ip();
    out.extend_from_slice(b"Received: from ");
    match stamp.helo.filter(|h| h.len() <= MAX_FIELD && h.bytes().all(|b| is_header_safe(b) || b >= 0x80)) {
        Some(helo) => out.extend_from_slice(helo.as_bytes()),
        None => write_literal(out, ip),
    }
    out.extend_from_slice(b" (");
    let name = stamp.remote_name.filter(|n| n.len() <= MAX_FIELD && n.bytes().all(is_header_safe));
    out.extend_from_slice(name.unwrap_or("unknown").as_bytes());
    out.push(b' ');
    write_literal(out, ip);
    out.extend_from_slice(b")\r\n\tby ");
    out.extend_from_slice(stamp.host.as_bytes());
    out.extend_from_slice(b" (smarthost) with ");
    out.extend_from_slice(stamp.protocol.as_str().as_bytes());
    if let Some(id) = stamp.id.filter(|id| id.len() <= MAX_FIELD && id.bytes().all(is_header_safe)) {
        out.extend_from_slice(b" id ");
        out.extend_from_slice(id.as_bytes());
    }
    if let Some(tls) = stamp.tls {
        out.extend_from_slice(b"\r\n\t(version=");
        write_token(out, &tls.version);
        out.extend_from_slice(b" cipher=");
        write_token(out, &tls.cipher);
        out.push(b')');
    }
    if let Some(path) = stamp.for_path.filter(|p| p.len() <= MAX_FIELD) {
        out.extend_from_slice(b"\r\n\tfor <");
        out.extend_from_slice(path.as_bytes());
        out.push(b'>');
    }
    out.extend_from_slice(b";\r\n\t");
    write_date(out, stamp.unix_time);
    out.extend_from_slice(b"\r\n");
}

/// `[192.0.2.1]` or `[IPv6:2001:db8::1]` (RFC 5321 §4.1.3).
fn write_literal(out: &mut Vec<u8>, ip: IpAddr) {
    out.push(b'[');
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => push_ip(out, IpAddr::V4(v4)),
            None => {
                out.extend_from_slice(b"IPv6:");
                push_ip(out, ip);
            }
        },
        v4 => push_ip(out, v4),
    }
    out.push(b']');
}

/// Printable ASCII other than the characters that end a comment or a clause.
fn is_header_safe(b: u8) -> bool {
    (0x21..=0x7e).contains(&b) && !b"()<>;\\\"".contains(&b)
}

fn write_token(out: &mut Vec<u8>, token: &str) {
    let safe = token.len() <= 64 && token.bytes().all(is_header_safe);
    out.extend_from_slice(if safe { token.as_bytes() } else { b"unknown" });
}

/// RFC 5322 `date-time` in UTC: `Tue, 14 Nov 2023 22:13:20 +0000`,
/// written without an intermediate string (once per message).
pub(crate) fn write_date(out: &mut Vec<u8>, unix_time: u64) {
    let t = crate::date::UtcTime::from_unix(unix_time);
    out.extend_from_slice(t.weekday_name().as_bytes());
    out.extend_from_slice(b", ");
    push_decimal(out, u64::from(t.day));
    out.push(b' ');
    out.extend_from_slice(t.month_name().as_bytes());
    out.push(b' ');
    push_decimal(out, t.year);
    for (separator, value) in [(b' ', t.hour), (b':', t.minute), (b':', t.second)] {
        out.extend_from_slice(&[separator, b'0' + value / 10, b'0' + value % 10]);
    }
    out.extend_from_slice(b" +0000");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(unix: u64) -> String {
        let mut out = Vec::new();
        write_date(&mut out, unix);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn dates() {
        assert_eq!(date(0), "Thu, 1 Jan 1970 00:00:00 +0000");
        assert_eq!(date(1_700_000_000), "Tue, 14 Nov 2023 22:13:20 +0000");
        assert_eq!(date(951_782_400), "Tue, 29 Feb 2000 00:00:00 +0000");
        assert_eq!(date(4_102_444_799), "Thu, 31 Dec 2099 23:59:59 +0000");
    }

    #[test]
    fn header() {
        let tls = TlsInfo::new("TLSv1.3", "TLS_AES_256_GCM_SHA384");
        let mut out = Vec::new();
        write_received(
            &mut out,
            &Stamp {
                helo: Some("client.example"),
                remote_name: Some("mail.client.example"),
                remote: "192.0.2.1:4000".parse().unwrap(),
                host: "mx.example.org",
                protocol: Protocol::Esmtpsa,
                id: Some("4AB12"),
                tls: Some(&tls),
                for_path: Some("bob@example.org"),
                unix_time: 1_700_000_000,
            },
        );
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "Received: from client.example (mail.client.example [192.0.2.1])\r\n\
             \tby mx.example.org (smarthost) with ESMTPSA id 4AB12\r\n\
             \t(version=TLSv1.3 cipher=TLS_AES_256_GCM_SHA384)\r\n\
             \tfor <bob@example.org>;\r\n\
             \tTue, 14 Nov 2023 22:13:20 +0000\r\n"
        );
        let mut out = Vec::new();
        write_received(
            &mut out,
            &Stamp {
                helo: None,
                remote_name: Some("bad name(x)"),
                remote: "[2001:db8::1]:25".parse().unwrap(),
                host: "mx",
                protocol: Protocol::Smtp,
                id: None,
                tls: None,
                for_path: None,
                unix_time: 0,
            },
        );
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "Received: from [IPv6:2001:db8::1] (unknown [IPv6:2001:db8::1])\r\n\
             \tby mx (smarthost) with SMTP;\r\n\tThu, 1 Jan 1970 00:00:00 +0000\r\n"
        );
    }
}
