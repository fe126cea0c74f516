//! Unit tests of the client session; the conformance vectors are in
//! `tests/vectors/client` and run by `tests/client_vectors.rs`.

use std::time::{Duration, Instant};

use smarthost_authinfo::Credentials;

use super::*;
use crate::params::{MailParams, Orcpt, RcptParams};

fn config() -> ClientConfig {
    ClientConfig { tls: TlsPolicy::Disabled, ..ClientConfig::new("client.example.org") }
}

/// Everything the session wants to do now: the text sent, results, and
/// whether it asked for TLS or to close.
#[derive(Debug, Default)]
struct Drained {
    sent: String,
    results: Vec<MessageResult>,
    starttls: bool,
    closed: bool,
}

fn drain(session: &mut ClientSession) -> Drained {
    let mut drained = Drained::default();
    while let Some(output) = session.poll_output() {
        match output {
            ClientOutput::Send(bytes) => drained.sent.push_str(&String::from_utf8_lossy(&bytes)),
            ClientOutput::Result(result) => drained.results.push(result),
            ClientOutput::StartTls => drained.starttls = true,
            ClientOutput::Close => drained.closed = true,
        }
    }
    drained
}

fn reply(session: &mut ClientSession, text: &str, now: Instant) -> Drained {
    session.handle_input(text.as_bytes(), now);
    drain(session)
}

/// A session past EHLO with these keywords.
fn greeted(config: ClientConfig, keywords: &[&str], now: Instant) -> ClientSession {
    let mut session = ClientSession::new(config, now).unwrap();
    assert_eq!(reply(&mut session, "220 mx.example.net ESMTP\r\n", now).sent, "EHLO client.example.org\r\n");
    let mut ehlo = String::from("250-mx.example.net\r\n");
    for keyword in keywords {
        ehlo.push_str(&format!("250-{keyword}\r\n"));
    }
    ehlo.push_str("250 HELP\r\n");
    let drained = reply(&mut session, &ehlo, now);
    assert!(drained.sent.is_empty() && !drained.closed, "{drained:?}");
    session
}

fn envelope(to: &[&str]) -> Envelope {
    Envelope::new("s@example.org", to.iter().copied())
}

#[test]
fn a_path_with_cr_lf_is_never_sent() {
    let now = Instant::now();
    let mut session = greeted(config(), &["PIPELINING"], now);
    let evil = "a@example.net>\r\nRCPT TO:<victim@example.net";
    session.add_message(envelope(&[evil, "b@example.net"]), b"x\r\n".to_vec(), now);
    let drained = drain(&mut session);
    assert_eq!(drained.sent, "MAIL FROM:<s@example.org>\r\nRCPT TO:<b@example.net>\r\nDATA\r\n");
    session.handle_input(b"250 ok\r\n250 ok\r\n354 go\r\n250 ok\r\n", now);
    let result = drain(&mut session).results.remove(0);
    let refused = &result.recipients[0];
    assert_eq!(
        (refused.failure, refused.reply.code(), refused.remote),
        (Some(FailureKind::Permanent), 553, false)
    );
    assert_eq!(refused.status.to_string(), "5.1.3");
    assert!(result.recipients[1].is_delivered());

    let mut envelope = envelope(&["c@example.net"]);
    envelope.reverse_path = "s@example.org>\r\nRSET".into();
    session.add_message(envelope, b"x\r\n".to_vec(), now);
    let drained = drain(&mut session);
    assert!(drained.sent.is_empty(), "{drained:?}");
    assert_eq!(drained.results[0].recipients[0].status.to_string(), "5.1.7");
}

#[test]
fn parameters_with_control_characters_are_refused() {
    let now = Instant::now();
    let mut session = greeted(config(), &["DSN"], now);
    let mut envelope = envelope(&["a@example.net"]);
    envelope.mail_params.envid = Some("x\r\nRSET".into());
    session.add_message(envelope, b"x\r\n".to_vec(), now);
    let drained = drain(&mut session);
    assert!(drained.sent.is_empty(), "{drained:?}");
    let refused = &drained.results[0].recipients[0];
    assert_eq!((refused.reply.code(), refused.status.to_string()), (501, "5.5.4".to_owned()));
    assert!(refused.reply.text().contains("control character"), "{}", refused.reply.text());
}

#[test]
fn command_lines_stay_within_512_octets() {
    let now = Instant::now();
    let mut session = greeted(config(), &["DSN", "PIPELINING"], now);
    // 480 characters of address: RCPT TO:<...> fits, the added ORCPT does not and is dropped.
    let long = format!("{}@example.net", "l".repeat(468));
    let longer = format!("{}@example.net", "l".repeat(500));
    let mut envelope = envelope(&[&long, &longer, "b@example.net"]);
    envelope.recipients[2].1.orcpt = Some(Orcpt::rfc822("b@example.net"));
    session.add_message(envelope, b"x\r\n".to_vec(), now);
    let drained = drain(&mut session);
    let lines: Vec<&str> = drained.sent.split("\r\n").collect();
    assert_eq!(lines[1], format!("RCPT TO:<{long}>"));
    assert_eq!(lines[2], "RCPT TO:<b@example.net> ORCPT=rfc822;b@example.net");
    assert!(drained.sent.split("\r\n").all(|line| line.len() + 2 <= MAX_COMMAND_LINE));
    session.handle_input(b"250 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n250 ok\r\n", now);
    let result = drain(&mut session).results.remove(0);
    let too_long = &result.recipients[1];
    assert_eq!((too_long.reply.code(), too_long.remote), (501, false));
    assert!(too_long.reply.text().contains("never sends more than 512"), "{}", too_long.reply.text());
    assert!(result.recipients[0].is_delivered() && result.recipients[2].is_delivered());
}

#[test]
fn deadlines_follow_the_phase() {
    let t0 = Instant::now();
    let minutes = |m: u64| Duration::from_secs(m * 60);
    let mut session = ClientSession::new(config(), t0).unwrap();
    assert_eq!(session.poll_timeout(), Some(t0 + minutes(5)));
    let t1 = t0 + Duration::from_secs(10);
    session.handle_input(b"220 mx ESMTP\r\n", t1);
    assert_eq!(session.poll_timeout(), Some(t1 + minutes(5)), "EHLO");
    session.handle_input(b"250 mx\r\n", t1);
    assert_eq!(session.poll_timeout(), None, "idle: no deadline");
    session.add_message(envelope(&["a@example.net"]), b"x\r\n".to_vec(), t1);
    session.handle_input(b"250 ok\r\n", t1);
    session.handle_input(b"250 ok\r\n", t1);
    assert_eq!(session.poll_timeout(), Some(t1 + minutes(2)), "DATA: 354 within 2 minutes");
    session.handle_input(b"354 go\r\n", t1);
    assert_eq!(session.poll_timeout(), Some(t1 + minutes(10)), "datafinal");
    // A long write: the deadline counts from when it was written.
    let t2 = t1 + minutes(7);
    session.handle_written(t2);
    assert_eq!(session.poll_timeout(), Some(t2 + minutes(10)));
    assert_eq!(session.write_timeout(), minutes(3));
    // Early calls change nothing; a partial reply does not extend the deadline.
    session.handle_timeout(t2 + minutes(9));
    session.handle_input(b"25", t2 + minutes(9));
    assert_eq!(session.poll_timeout(), Some(t2 + minutes(10)));
    assert!(!session.is_closed());
    drain(&mut session);
    session.handle_timeout(t2 + minutes(10));
    let drained = drain(&mut session);
    assert!(drained.closed && drained.results[0].possible_duplicate);
    assert_eq!(drained.results[0].recipients[0].status, CONNECTION_FAILURE);
    assert_eq!(session.poll_timeout(), None);
}

#[test]
fn a_message_added_later_reuses_the_connection() {
    let now = Instant::now();
    let mut session = greeted(config(), &["PIPELINING"], now);
    session.add_message(envelope(&["a@example.net"]), b"one\r\n".to_vec(), now);
    drain(&mut session);
    let drained = reply(&mut session, "250 ok\r\n250 ok\r\n354 go\r\n250 ok\r\n", now);
    assert!(drained.results[0].is_delivered());
    session.add_message(envelope(&["b@example.net"]), b"two\r\n".to_vec(), now);
    let drained = drain(&mut session);
    assert_eq!(drained.sent, "RSET\r\nMAIL FROM:<s@example.org>\r\nRCPT TO:<b@example.net>\r\nDATA\r\n");
    session.quit(now);
    let drained = reply(&mut session, "250 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n250 ok\r\n", now);
    assert_eq!(drained.sent, "two\r\n.\r\nQUIT\r\n");
    assert_eq!(drained.results[0].id.index(), 1);
    let drained = reply(&mut session, "221 bye\r\n", now);
    assert!(drained.closed);
    // After the session ends a new message fails at once, as a connection failure.
    let id = session.add_message(envelope(&["c@example.net"]), b"x\r\n".to_vec(), now);
    let drained = drain(&mut session);
    assert_eq!(drained.results[0].id, id);
    assert_eq!(drained.results[0].failure(), Some(FailureKind::Connection));
}

#[test]
fn an_empty_message_and_an_empty_recipient_list() {
    let now = Instant::now();
    let mut session = greeted(config(), &[], now);
    session.add_message(envelope(&[]), b"x\r\n".to_vec(), now);
    let drained = drain(&mut session);
    assert!(drained.sent.is_empty());
    assert!(drained.results[0].recipients.is_empty() && drained.results[0].is_delivered());
    session.add_message(envelope(&["a@example.net"]), Vec::new(), now);
    reply(&mut session, "", now);
    let sent: String =
        ["250 ok\r\n", "250 ok\r\n", "354 go\r\n"].iter().map(|r| reply(&mut session, r, now).sent).collect();
    assert_eq!(sent, "RCPT TO:<a@example.net>\r\nDATA\r\n.\r\n");
}

#[test]
fn an_auth_response_too_long_for_the_line_goes_after_an_empty_challenge() {
    let now = Instant::now();
    // PLAIN of 9210 octets: 12280 in base64, too long with "AUTH PLAIN ".
    let password = "p".repeat(9207);
    let auth = ClientAuth {
        mechanisms: vec!["PLAIN".into()],
        ..ClientAuth::new(Credentials::new("u", password.as_str()))
    };
    let config = ClientConfig { tls: TlsPolicy::Implicit, auth: Some(auth), ..config() };
    let mut session = ClientSession::new(config, now).unwrap();
    assert!(drain(&mut session).starttls);
    session.handle_tls_established(now);
    reply(&mut session, "220 mx ESMTP\r\n", now);
    let drained = reply(&mut session, "250-mx\r\n250 AUTH PLAIN\r\n", now);
    assert_eq!(drained.sent, "AUTH PLAIN\r\n");
    let drained = reply(&mut session, "334 \r\n", now);
    assert_eq!(drained.sent.len(), 12_282);
    reply(&mut session, "235 2.7.0 ok\r\n", now);
    assert!(session.is_authenticated() && session.is_tls());
}

#[test]
fn a_challenge_that_is_not_base64_cancels_the_exchange() {
    let now = Instant::now();
    let auth = ClientAuth { mechanisms: vec!["LOGIN".into()], ..ClientAuth::new(Credentials::new("u", "p")) };
    let config = ClientConfig { tls: TlsPolicy::Implicit, auth: Some(auth), ..config() };
    let mut session = ClientSession::new(config, now).unwrap();
    session.add_message(envelope(&["a@example.net"]), b"x\r\n".to_vec(), now);
    session.handle_tls_established(now);
    reply(&mut session, "220 mx ESMTP\r\n", now);
    assert_eq!(reply(&mut session, "250-mx\r\n250 AUTH LOGIN\r\n", now).sent, "AUTH LOGIN\r\n");
    assert_eq!(reply(&mut session, "334 !!!\r\n", now).sent, "*\r\n");
    let drained = reply(&mut session, "501 5.0.0 AUTH aborted\r\n", now);
    assert_eq!(drained.sent, "QUIT\r\n");
    let result = &drained.results[0].recipients[0];
    assert_eq!((result.failure, result.status.to_string()), (Some(FailureKind::Auth), "4.7.0".to_owned()));
    assert!(result.reply.text().contains("not base64"), "{}", result.reply.text());
}

#[test]
fn tls_13_channel_binding_enables_scram_plus() {
    let now = Instant::now();
    let config = ClientConfig {
        tls: TlsPolicy::Implicit,
        auth: Some(ClientAuth::new(Credentials::new("user", "pencil"))),
        ..config()
    };
    let mut session = ClientSession::new(config, now).unwrap();
    session.handle_tls_channel_binding(vec![7; 32]);
    session.handle_tls_established(now);
    reply(&mut session, "220 mx ESMTP\r\n", now);
    let drained = reply(&mut session, "250-mx\r\n250 AUTH SCRAM-SHA-256 SCRAM-SHA-256-PLUS PLAIN\r\n", now);
    assert!(drained.sent.starts_with("AUTH SCRAM-SHA-256-PLUS "), "{drained:?}");
}

#[test]
fn dsn_parameters_and_auth_are_passed_on_when_allowed() {
    let now = Instant::now();
    let mut session = greeted(config(), &["DSN", "SIZE 0", "8BITMIME"], now);
    let mut envelope = envelope(&["a@example.net"]);
    envelope.mail_params = MailParams::parse("RET=FULL ENVID=id+2B1 AUTH=<> SIZE=1 BODY=8BITMIME").unwrap();
    envelope.recipients[0].1 = RcptParams::parse("NOTIFY=DELAY").unwrap();
    session.add_message(envelope, b"x\r\n".to_vec(), now);
    // SIZE is ours (3), BODY as received for 7-bit content, AUTH= only when authenticated.
    assert_eq!(
        drain(&mut session).sent,
        "MAIL FROM:<s@example.org> SIZE=3 BODY=8BITMIME RET=FULL ENVID=id+2B1\r\n"
    );
    let drained = reply(&mut session, "250 ok\r\n", now);
    assert_eq!(drained.sent, "RCPT TO:<a@example.net> NOTIFY=DELAY ORCPT=rfc822;a@example.net\r\n");
}

#[test]
fn message_result_failure_summarises_the_recipients() {
    let now = Instant::now();
    let mut session = greeted(config(), &["PIPELINING"], now);
    session.add_message(
        envelope(&["a@example.net", "b@example.net", "c@example.net"]),
        b"x\r\n".to_vec(),
        now,
    );
    drain(&mut session);
    let drained = reply(&mut session, "250 ok\r\n550 no\r\n450 later\r\n250 ok\r\n354 go\r\n250 ok\r\n", now);
    let result = &drained.results[0];
    assert_eq!(result.failure(), Some(FailureKind::Temporary));
    assert!(result.recipients[0].is_permanent() && result.recipients[1].is_temporary());
    assert!(result.recipients[2].is_delivered() && !result.is_delivered());
    assert_eq!(result.recipients[1].status.to_string(), "4.2.0");
    assert!(FailureKind::Tls.is_host_failure() && !FailureKind::Permanent.is_host_failure());
}

#[test]
fn configuration_is_checked() {
    for name in ["", "a b", "bad\r\nname", "<x>"] {
        let error = ClientSession::new(ClientConfig::new(name), Instant::now()).unwrap_err();
        assert!(matches!(error, ClientConfigError::BadEhloName(_)), "{name:?}");
    }
    assert!(ClientSession::new(ClientConfig::new("[192.0.2.1]"), Instant::now()).is_ok());
}

#[test]
fn a_server_that_never_stops_a_line_is_cut_off() {
    let now = Instant::now();
    let mut session = ClientSession::new(config(), now).unwrap();
    session.add_message(envelope(&["a@example.net"]), b"x\r\n".to_vec(), now);
    let chunk = [b'2'; 1024];
    session.handle_input(b"220 ", now);
    for _ in 0..9 {
        session.handle_input(&chunk, now);
    }
    let drained = drain(&mut session);
    assert!(drained.closed);
    assert_eq!(drained.results[0].failure(), Some(FailureKind::Protocol));
}

#[test]
fn a_route_that_requires_auth_never_sends_without_it() {
    let now = Instant::now();
    let required = ClientAuth { required: true, ..ClientAuth::new(Credentials::new("u", "p")) };
    let strict = ClientConfig { tls: TlsPolicy::Implicit, auth: Some(required), ..config() };
    let mut session = ClientSession::new(strict, now).unwrap();
    session.add_message(envelope(&["a@example.net"]), b"x\r\n".to_vec(), now);
    session.handle_tls_established(now);
    reply(&mut session, "220 mx ESMTP\r\n", now);
    let drained = reply(&mut session, "250-mx\r\n250 PIPELINING\r\n", now);
    assert_eq!(drained.sent, "QUIT\r\n", "no MAIL without AUTH");
    let result = &drained.results[0].recipients[0];
    assert_eq!((result.failure, result.status.to_string()), (Some(FailureKind::Auth), "4.7.0".to_owned()));
    assert!(result.reply.text().contains("does not offer AUTH"), "{}", result.reply.text());

    // Not required: sendmail's behaviour, the mail goes without AUTH.
    let optional = ClientConfig {
        tls: TlsPolicy::Implicit,
        auth: Some(ClientAuth::new(Credentials::new("u", "p"))),
        ..config()
    };
    let mut session = ClientSession::new(optional, now).unwrap();
    session.add_message(envelope(&["a@example.net"]), b"x\r\n".to_vec(), now);
    session.handle_tls_established(now);
    reply(&mut session, "220 mx ESMTP\r\n", now);
    assert!(reply(&mut session, "250-mx\r\n250 PIPELINING\r\n", now).sent.starts_with("MAIL FROM:"));
}
