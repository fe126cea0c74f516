//! Whole-session behaviour through the public API (no sockets): what the
//! transcripts cannot express (questions' contents, policy verdicts, the
//! Received header, memory).

mod server_common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, KeyInit, Mac};
use server_common::{Harness, PASSWORD, Policy, USER, auth_config, codes, config, peer};
use smarthost_smtp_core::{
    Body, DecisionId, EnhancedStatus, ForwardPath, Notify, Output, Protocol, Question, Reply, ReversePath,
    ServerSession, TlsInfo, Verdict,
};

fn accept_all() -> Policy {
    Box::new(|_, _| Verdict::accept())
}

#[test]
fn one_transaction() {
    let mut h = Harness::new(config());
    h.send(b"EHLO client.example\r\n");
    h.send(b"MAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.org>\r\nDATA\r\n");
    h.send(b"Subject: hi\r\n\r\nhello\r\n.\r\nQUIT\r\n");
    let wire = h.take_wire();
    assert_eq!(codes(&wire), [220, 250, 250, 250, 354, 250, 221], "{wire}");
    assert_eq!(h.messages.len(), 1);
    let message = &h.messages[0];
    assert_eq!(message.message(), b"Subject: hi\r\n\r\nhello\r\n");
    assert_eq!(
        String::from_utf8_lossy(&message.content[..message.received_len]),
        "Received: from client.example (unknown [192.0.2.1])\r\n\
         \tby mx.example.org (smarthost) with ESMTP\r\n\
         \tfor <b@example.org>;\r\n\
         \tTue, 14 Nov 2023 22:13:20 +0000\r\n"
    );
    assert_eq!(message.protocol, Protocol::Esmtp);
    assert!(h.closed);
}

#[test]
fn questions_carry_the_envelope_as_received() {
    let mut h = Harness::new(config());
    let seen = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
    let record = seen.clone();
    h.policy = Box::new(move |question, _| {
        record.borrow_mut().push(format!("{question:?}"));
        match question {
            Question::Mail { reverse_path, params, auth, tls } => {
                assert_eq!(reverse_path.raw(), "\"a b\"@example.com");
                assert_eq!(
                    (params.size, params.body, params.envid.as_deref()),
                    (Some(99), Some(Body::EightBitMime), Some("x+2By"))
                );
                assert_eq!((auth.as_deref(), *tls), (None, false));
                Verdict::accept().with_queue_id("ABC123")
            }
            Question::Rcpt { forward_path, params } => {
                if let ForwardPath::Mailbox(path) = forward_path {
                    assert_eq!(path.raw(), "@hub.example:c@example.org");
                    assert_eq!(path.mailbox(), "c@example.org");
                    assert_eq!(params.notify, Some(Notify::SUCCESS | Notify::DELAY));
                    assert_eq!(params.orcpt.as_ref().unwrap().raw_value(), "c+2Bx@example.org");
                } else {
                    assert_eq!(forward_path.raw(), "postmaster");
                }
                Verdict::accept()
            }
            Question::Message(transaction) => {
                assert_eq!(transaction.queue_id.as_deref(), Some("ABC123"));
                assert_eq!(transaction.recipients.len(), 2);
                let received = String::from_utf8_lossy(&transaction.content[..transaction.received_len]);
                assert!(received.contains("with ESMTP id ABC123;"), "{received}");
                assert!(!received.contains("for <"), "two recipients: no `for` clause: {received}");
                Verdict::queued("ABC123")
            }
            _ => Verdict::accept(),
        }
    });
    h.send(b"EHLO client.example\r\n");
    h.send(b"MAIL FROM:<\"a b\"@example.com> SIZE=99 BODY=8BITMIME ENVID=x+2By\r\n");
    h.send(b"RCPT TO:<@hub.example:c@example.org> NOTIFY=SUCCESS,DELAY ORCPT=rfc822;c+2Bx@example.org\r\n");
    h.send(b"RCPT TO:<postmaster>\r\nDATA\r\n");
    h.send(b"x\r\n.\r\n");
    assert!(h.take_wire().ends_with("250 2.0.0 Ok: queued as ABC123\r\n"));
    let seen = seen.borrow();
    // Helo, Mail, Rcpt, Rcpt, Message (Connect was answered before the policy was set).
    assert_eq!(seen.len(), 5, "{seen:?}");
    assert!(seen[0].starts_with("Helo {") && seen[4].starts_with("Message("), "{seen:?}");
}

#[test]
fn connect_refused_keeps_the_session_for_quit() {
    let mut config = config();
    config.ask.helo = false;
    let refuse = Reply::new(554, None, "mx.example.org No SMTP service here").unwrap();
    let mut h = Harness::new(config.clone());
    assert_eq!(h.take_wire(), "220 mx.example.org ESMTP smarthost ready\r\n");
    let start = Instant::now();
    let mut session = ServerSession::new(Arc::new(config.clone()), peer(), start);
    let Some(Output::Decide(id, Question::Connect(connected))) = session.poll_output() else { panic!() };
    assert_eq!(connected.remote.to_string(), "192.0.2.1:40000");
    session.handle_decision(id, Verdict::reject(refuse), start).unwrap();
    session.handle_input(b"EHLO x\r\nMAIL FROM:<a@b.c>\r\nQUIT\r\n", start);
    let mut wire = Vec::new();
    let mut closed = false;
    while let Some(output) = session.poll_output() {
        match output {
            Output::Send(bytes) => wire.extend_from_slice(bytes),
            Output::Close => closed = true,
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(
        String::from_utf8(wire).unwrap(),
        "554 mx.example.org No SMTP service here\r\n\
         503 No SMTP service here; only QUIT is accepted\r\n\
         503 No SMTP service here; only QUIT is accepted\r\n\
         221 mx.example.org closing connection\r\n"
    );
    assert!(closed);

    let mut session = ServerSession::new(Arc::new(config), peer(), start);
    let Some(Output::Decide(id, _)) = session.poll_output() else { panic!() };
    session.handle_decision(id, Verdict::reject_and_close(None), start).unwrap();
    let Some(Output::Send(bytes)) = session.poll_output() else { panic!() };
    assert_eq!(bytes, b"421 mx.example.org Service not available, closing transmission channel\r\n");
    assert!(matches!(session.poll_output(), Some(Output::Close)));
    assert!(session.poll_output().is_none() && session.is_closed());
}

#[test]
fn a_wrong_decision_id_is_refused_and_changes_nothing() {
    let start = Instant::now();
    let mut session = ServerSession::new(Arc::new(config()), peer(), start);
    let Some(Output::Decide(id, _)) = session.poll_output() else { panic!() };
    assert!(session.is_waiting());
    assert_eq!(session.poll_timeout(), None, "no deadline while we decide");
    let error = session.handle_decision(other_id(id), Verdict::accept(), start).unwrap_err();
    assert_eq!(error.pending, Some(id));
    assert!(session.is_waiting());
    session.handle_decision(id, Verdict::accept(), start).unwrap();
    assert!(session.handle_decision(id, Verdict::accept(), start).is_err(), "answered twice");
    assert_eq!(session.poll_timeout(), Some(start + Duration::from_secs(300)));
}

/// An id of another session's question (ids are opaque).
fn other_id(id: DecisionId) -> DecisionId {
    let start = Instant::now();
    let mut session = ServerSession::new(Arc::new(config()), peer(), start);
    let Some(Output::Decide(first, _)) = session.poll_output() else { panic!() };
    session.handle_decision(first, Verdict::accept(), start).unwrap();
    session.handle_input(b"HELO x\r\n", start);
    loop {
        match session.poll_output() {
            Some(Output::Decide(second, _)) => {
                assert_ne!(second, id);
                return second;
            }
            Some(_) => {}
            None => panic!("no second question"),
        }
    }
}

#[test]
fn verdicts_with_replies_that_contradict_them_become_local_errors() {
    let mut h = Harness::new(config());
    h.policy = Box::new(|question, _| match question {
        Question::Mail { .. } => {
            Verdict::accept_with(Reply::new(550, Some(EnhancedStatus::NOT_AUTHORIZED), "no").unwrap())
        }
        Question::Rcpt { .. } => Verdict::reject(Reply::new(250, None, "fine").unwrap()),
        _ => Verdict::accept(),
    });
    h.send(b"EHLO x.example\r\nMAIL FROM:<a@b.example>\r\n");
    assert!(h.take_wire().ends_with("451 4.3.0 Local error in processing\r\n"));
    h.policy = Box::new(|question, _| match question {
        Question::Rcpt { .. } => Verdict::reject(Reply::new(250, None, "fine").unwrap()),
        _ => Verdict::accept(),
    });
    h.send(b"MAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\n");
    assert_eq!(codes(&h.take_wire()), [250, 451]);
}

#[test]
fn received_names_tls_and_auth() {
    let mut config = config();
    config.auth = Some(auth_config());
    let tls = TlsInfo::new("TLSv1.3", "TLS_AES_256_GCM_SHA384");
    let mut h = Harness::with_peer(
        config,
        peer().with_implicit_tls(tls.clone()).with_remote_name("mail.client.example"),
    );
    let plain = BASE64.encode(format!("\0{USER}\0{PASSWORD}"));
    h.send(format!("EHLO client.example\r\nAUTH PLAIN {plain}\r\n").as_bytes());
    h.send(b"MAIL FROM:<alice@example.com>\r\nRCPT TO:<b@example.org>\r\nDATA\r\n");
    h.send(b"hi\r\n.\r\n");
    let wire = h.take_wire();
    assert!(!wire.contains("STARTTLS"), "implicit TLS: no STARTTLS offered\n{wire}");
    assert!(wire.contains("235 2.7.0 Authentication successful"), "{wire}");
    let message = &h.messages[0];
    assert_eq!(
        (message.protocol, message.auth.as_deref(), message.tls.as_ref()),
        (Protocol::Esmtpsa, Some(USER), Some(&tls))
    );
    assert_eq!(
        String::from_utf8_lossy(&message.content[..message.received_len]),
        "Received: from client.example (mail.client.example [192.0.2.1])\r\n\
         \tby mx.example.org (smarthost) with ESMTPSA\r\n\
         \t(version=TLSv1.3 cipher=TLS_AES_256_GCM_SHA384)\r\n\
         \tfor <b@example.org>;\r\n\
         \tTue, 14 Nov 2023 22:13:20 +0000\r\n"
    );
}

#[test]
fn mail_question_names_the_login_and_tls() {
    let mut config = config();
    config.auth = Some(auth_config());
    let tls = TlsInfo::new("TLSv1.2", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256");
    let mut h = Harness::with_peer(config, peer().with_implicit_tls(tls));
    h.policy = Box::new(|question, _| {
        if let Question::Mail { auth, tls, reverse_path, .. } = question {
            assert_eq!((auth.as_deref(), *tls, reverse_path), (Some(USER), true, &ReversePath::Null));
        }
        Verdict::accept()
    });
    let plain = BASE64.encode(format!("\0{USER}\0{PASSWORD}"));
    h.send(format!("EHLO client.example\r\nAUTH PLAIN {plain}\r\nMAIL FROM:<>\r\n").as_bytes());
    assert_eq!(codes(&h.take_wire()), [220, 250, 235, 250]);
}

#[test]
fn cram_md5_through_the_session() {
    let mut config = config();
    let mut auth = auth_config();
    auth.allow_without_tls = true;
    config.auth = Some(auth);
    let mut h = Harness::new(config);
    h.send(b"EHLO client.example\r\nAUTH CRAM-MD5\r\n");
    let wire = h.take_wire();
    let challenge = wire.lines().last().unwrap().strip_prefix("334 ").unwrap();
    let challenge = BASE64.decode(challenge).unwrap();
    assert!(challenge.ends_with(b".1700000000@mx.example.org>"), "{}", String::from_utf8_lossy(&challenge));
    let mut mac = <Hmac<md5::Md5> as KeyInit>::new_from_slice(PASSWORD.as_bytes()).unwrap();
    mac.update(&challenge);
    let hex: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
    h.send(format!("{}\r\n", BASE64.encode(format!("{USER} {hex}"))).as_bytes());
    assert_eq!(h.take_wire(), "235 2.7.0 Authentication successful\r\n");
    assert_eq!(h.session.authenticated(), Some(USER));
}

#[test]
fn vrfy_and_expn_ask_when_enabled() {
    let mut config = config();
    config.vrfy = true;
    config.expn = true;
    let mut h = Harness::new(config);
    h.policy = Box::new(|question, _| match question {
        Question::Vrfy(who) => {
            assert_eq!(who, "postmaster");
            Verdict::accept_with(
                Reply::new(
                    250,
                    Some(EnhancedStatus::DESTINATION_VALID),
                    "Postmaster <postmaster@mx.example.org>",
                )
                .unwrap(),
            )
        }
        Question::Expn(_) => {
            Verdict::reject(Reply::new(550, Some(EnhancedStatus::LIST_EXPANSION_PROHIBITED), "No").unwrap())
        }
        _ => Verdict::accept(),
    });
    h.send(b"EHLO client.example\r\nVRFY postmaster\r\nEXPN staff\r\n");
    let wire = h.take_wire();
    assert!(wire.ends_with("250 2.1.5 Postmaster <postmaster@mx.example.org>\r\n550 5.7.2 No\r\n"), "{wire}");
}

#[test]
fn http_as_first_command_after_starttls_closes() {
    let mut config = config();
    config.tls_available = true;
    let mut h = Harness::new(config);
    h.send(b"EHLO client.example\r\nSTARTTLS\r\n");
    assert!(h.starttls);
    h.tls_established();
    h.take_wire();
    h.send(b"CONNECT example.org:443 HTTP/1.1\r\n");
    assert_eq!(h.take_wire(), "");
    assert!(h.closed);
}

#[test]
fn input_is_bounded_while_a_decision_is_pending() {
    let start = Instant::now();
    let mut session = ServerSession::new(Arc::new(config()), peer(), start);
    let Some(Output::Decide(..)) = session.poll_output() else { panic!() };
    let chunk = vec![b'x'; 64 * 1024];
    for _ in 0..4 {
        session.handle_input(&chunk, start);
    }
    assert!(!session.is_closed());
    session.handle_input(b"x", start);
    assert!(session.is_closed());
    let Some(Output::Send(bytes)) = session.poll_output() else { panic!() };
    assert_eq!(bytes, b"421 mx.example.org Too much pipelined input; closing connection\r\n");
}

#[test]
fn timeouts_follow_the_phase() {
    let mut h = Harness::new(config());
    let start = h.now;
    assert_eq!(h.session.poll_timeout(), Some(start + Duration::from_secs(300)));
    h.send(b"EHLO client.example\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nDATA\r\n");
    assert_eq!(h.session.poll_timeout(), Some(start + Duration::from_secs(180)), "data block");
    h.session.handle_timeout(start + Duration::from_secs(179));
    assert!(!h.session.is_closed(), "an early call does nothing");
    h.wait(180);
    assert!(h.take_wire().ends_with("421 4.4.2 mx.example.org Timeout waiting for data\r\n"));
    assert!(h.closed && h.session.poll_timeout().is_none());
}

#[test]
fn starttls_handshake_timeout_closes_without_a_reply() {
    let mut config = config();
    config.tls_available = true;
    let mut h = Harness::new(config);
    h.send(b"EHLO client.example\r\nSTARTTLS\r\n");
    h.take_wire();
    h.wait(299);
    assert!(!h.closed);
    h.wait(1);
    assert!(h.closed);
    assert_eq!(h.take_wire(), "");
}

#[test]
fn idle_session_is_small() {
    let mut config = config();
    config.ask.helo = false;
    let mut h = Harness::new(config);
    h.send(b"EHLO client.example\r\n");
    let size = std::mem::size_of::<ServerSession>();
    let heap = h.session.heap_size();
    println!("size_of::<ServerSession>() = {size} bytes; heap after EHLO = {heap} bytes");
    assert!(heap <= 4096, "idle heap {heap}");
    assert!(size <= 512, "session struct {size}");
    // A long line and a large message do not leave big buffers behind.
    h.send(&[b'N'; 1500]);
    h.send(b"\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nDATA\r\n");
    h.send(&vec![b'x'; 100_000]);
    h.send(b"\r\n.\r\n");
    let heap = h.session.heap_size();
    assert!(heap <= 4096, "heap after a message {heap}");
}

#[test]
fn accept_all_policy_runs_sessions_back_to_back() {
    let mut h = Harness::new(config());
    h.policy = accept_all();
    for _ in 0..3 {
        h.send(b"EHLO c.example\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nDATA\r\n");
        h.send(b"x\r\n.\r\n");
    }
    assert_eq!(h.messages.len(), 3);
    assert_eq!(
        codes(&h.take_wire()),
        [220, 250, 250, 250, 354, 250, 250, 250, 250, 354, 250, 250, 250, 250, 354, 250]
    );
}

#[test]
fn starttls_is_temporarily_unavailable_when_the_driver_says_so() {
    let mut config = config();
    config.tls_available = true;
    let mut h = Harness::new(config);
    h.session.handle_tls_unavailable();
    h.send(b"EHLO client.example\r\nSTARTTLS\r\nNOOP\r\n");
    let wire = h.take_wire();
    assert!(wire.contains("250-STARTTLS\r\n"), "{wire}");
    assert!(
        wire.ends_with("454 4.3.3 TLS not available due to temporary reason\r\n250 2.0.0 OK\r\n"),
        "{wire}"
    );
    assert!(!h.starttls);
}
