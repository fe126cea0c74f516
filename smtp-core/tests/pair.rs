//! Our client against our server, in memory (no sockets), as quinn tests
//! its endpoints: whole transactions, STARTTLS, AUTH, BDAT, the 452
//! carry-over, SIZE, DSN parameters, and content that survives the trip
//! byte for byte (apart from line-ending normalisation).

use std::sync::Arc;
use std::time::Instant;

use proptest::prelude::*;
use smarthost_authinfo::Credentials;
use smarthost_authinfo::server::ServerCredentials;
use smarthost_smtp_core::{
    AuthConfig, ClientAuth, ClientConfig, ClientOutput, ClientSession, EnhancedStatus, Envelope, FailureKind,
    MailParams, MessageResult, Notify, Output, Peer, Question, RcptParams, Reply, ServerConfig,
    ServerSession, TlsInfo, TlsPolicy, Transaction, Verdict,
};

const USER: &str = "alice";
const PASSWORD: &str = "open sesame";

/// A client and a server joined by two byte queues.
struct Pair {
    client: ClientSession,
    server: ServerSession,
    now: Instant,
    /// What the server stored (our `Received:` header first).
    stored: Vec<Transaction>,
    results: Vec<MessageResult>,
    client_closed: bool,
    server_closed: bool,
    client_tls: bool,
    server_tls: bool,
    /// Lines the client sent, for checking what went over the wire.
    client_wire: Vec<u8>,
}

impl Pair {
    fn new(client: ClientConfig, server: ServerConfig) -> Pair {
        let now = Instant::now();
        let peer =
            Peer::new("192.0.2.1:40000".parse().unwrap(), "192.0.2.25:25".parse().unwrap(), 1_700_000_000);
        Pair {
            client: ClientSession::new(client, now).unwrap(),
            server: ServerSession::new(Arc::new(server), peer, now),
            now,
            stored: Vec::new(),
            results: Vec::new(),
            client_closed: false,
            server_closed: false,
            client_tls: false,
            server_tls: false,
            client_wire: Vec::new(),
        }
    }

    fn send(&mut self, messages: Vec<(Envelope, Vec<u8>)>) -> &[MessageResult] {
        for (envelope, content) in messages {
            self.client.add_message(envelope, content, self.now);
        }
        self.client.quit(self.now);
        self.run();
        &self.results
    }

    /// Moves bytes both ways until neither side has anything to say.
    fn run(&mut self) {
        for _ in 0..10_000 {
            let mut to_server = Vec::new();
            let mut to_client = Vec::new();
            while let Some(output) = self.client.poll_output() {
                match output {
                    ClientOutput::Send(bytes) => to_server.extend(bytes),
                    ClientOutput::StartTls => self.client_tls = true,
                    ClientOutput::Result(result) => self.results.push(result),
                    ClientOutput::Close => self.client_closed = true,
                }
            }
            while let Some(output) = self.server.poll_output() {
                match output {
                    Output::Send(bytes) => to_client.extend_from_slice(bytes),
                    Output::Decide(id, question) => {
                        let verdict = policy(&question, self.stored.len());
                        if let Question::Message(transaction) = question {
                            self.stored.push(*transaction);
                        }
                        self.server.handle_decision(id, verdict, self.now).unwrap();
                    }
                    Output::StartTls => self.server_tls = true,
                    Output::Close => self.server_closed = true,
                }
            }
            self.client_wire.extend_from_slice(&to_server);
            let idle = to_server.is_empty() && to_client.is_empty();
            if !to_server.is_empty() && !self.server_closed {
                self.server.handle_input(&to_server, self.now);
            }
            if !to_client.is_empty() && !self.client_closed {
                self.client.handle_input(&to_client, self.now);
            }
            if self.client_tls && self.server_tls {
                // Both sides are ready for the handshake: it succeeds.
                (self.client_tls, self.server_tls) = (false, false);
                self.server
                    .handle_tls_established(TlsInfo::new("TLSv1.3", "TLS_AES_128_GCM_SHA256"), self.now);
                self.client.handle_tls_established(self.now);
                continue;
            }
            if idle && self.client.poll_output().is_none() {
                if self.client_closed && !self.server_closed {
                    // The client hung up; the server would see end of stream.
                    self.server_closed = true;
                }
                return;
            }
        }
        panic!("the pair never settled");
    }

    fn client_lines(&self) -> Vec<String> {
        String::from_utf8_lossy(&self.client_wire).split("\r\n").map(str::to_owned).collect()
    }
}

/// Accepts everything except recipients `reject@…` (550 5.1.1) and
/// `tempfail@…` (451 4.3.0).
fn policy(question: &Question, stored: usize) -> Verdict {
    match question {
        Question::Rcpt { forward_path, .. } => match forward_path.path().local_part() {
            "reject" => Verdict::reject(
                Reply::new(550, Some(EnhancedStatus::BAD_DESTINATION_MAILBOX), "User unknown").unwrap(),
            ),
            "tempfail" => Verdict::reject(
                Reply::new(451, Some(EnhancedStatus::OTHER_SYSTEM.with_class(4)), "Try later").unwrap(),
            ),
            _ => Verdict::accept(),
        },
        Question::Message(_) => Verdict::queued(&format!("Q{}", stored + 1)),
        _ => Verdict::accept(),
    }
}

fn client_config() -> ClientConfig {
    ClientConfig::new("client.example.org")
}

fn server_config() -> ServerConfig {
    ServerConfig::new("mx.example.org").unwrap()
}

/// The content as it must arrive: CR LF line ends, a final CR LF.
fn normalised(content: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    smarthost_smtp_core::dot_stuff(content, &mut out);
    let mut unstuffed = Vec::new();
    for line in out[..out.len() - 3].split_inclusive(|b| *b == b'\n') {
        unstuffed.extend_from_slice(line.strip_prefix(b".").unwrap_or(line));
    }
    unstuffed
}

fn message(from: &str, to: &[&str], content: &[u8]) -> (Envelope, Vec<u8>) {
    (Envelope::new(from, to.iter().copied()), content.to_vec())
}

#[test]
fn two_messages_pipelined_with_refusals_and_reuse() {
    let mut pair = Pair::new(client_config(), server_config());
    let first = b"Subject: one\r\n\r\n.leading dot\n..two\r\nbare\rCR\r\n.\r\nlast";
    let results = pair
        .send(vec![
            message("a@example.org", &["b@example.net", "reject@example.net", "tempfail@example.net"], first),
            message("", &["c@example.net"], b"Subject: bounce\r\n\r\nDSN\r\n"),
        ])
        .to_vec();
    assert_eq!(pair.stored.len(), 2);
    assert_eq!(pair.stored[0].message(), normalised(first).as_slice());
    assert_eq!(
        pair.stored[0].message(),
        b"Subject: one\r\n\r\n.leading dot\r\n..two\r\nbare\r\nCR\r\n.\r\nlast\r\n"
    );
    assert_eq!(pair.stored[0].recipients.len(), 1);
    assert_eq!(pair.stored[1].reverse_path.raw(), "");
    let [one, two] = &results[..] else { panic!("{results:#?}") };
    assert!(one.recipients[0].is_delivered());
    assert_eq!(one.recipients[0].reply.text(), "Ok: queued as Q1");
    assert_eq!(
        (one.recipients[1].failure, one.recipients[1].status.to_string()),
        (Some(FailureKind::Permanent), "5.1.1".into())
    );
    assert_eq!(
        (one.recipients[2].failure, one.recipients[2].status.to_string()),
        (Some(FailureKind::Temporary), "4.3.0".into())
    );
    assert!(two.is_delivered() && two.next_hop_dsn);
    let lines = pair.client_lines();
    assert!(lines.contains(&"RSET".to_owned()), "{lines:?}");
    assert!(pair.client.is_closed() && pair.server_closed);
}

#[test]
fn starttls_then_auth_plain() {
    let credentials = ServerCredentials::parse_str("test", &format!("{USER}  {PASSWORD}\n")).unwrap();
    let mut server = server_config();
    server.tls_available = true;
    server.auth = Some(AuthConfig::new(Arc::new(credentials)));
    server.require_auth = true;
    let auth =
        ClientAuth { mechanisms: vec!["PLAIN".into()], ..ClientAuth::new(Credentials::new(USER, PASSWORD)) };
    let client = ClientConfig { tls: TlsPolicy::Required, auth: Some(auth), ..client_config() };
    let mut pair = Pair::new(client, server);
    let results = pair.send(vec![message("a@example.org", &["b@example.net"], b"hello\r\n")]).to_vec();
    assert!(results[0].is_delivered(), "{results:#?}");
    assert!(pair.client.is_tls() && pair.client.is_authenticated());
    assert_eq!(pair.stored[0].auth.as_deref(), Some(USER));
    assert!(pair.stored[0].tls.is_some());
    let lines = pair.client_lines();
    let starttls = lines.iter().position(|l| l == "STARTTLS").unwrap();
    let auth = lines.iter().position(|l| l.starts_with("AUTH PLAIN ")).unwrap();
    assert_eq!(lines.iter().filter(|l| l.starts_with("EHLO ")).count(), 2);
    assert!(starttls < auth, "{lines:?}");
}

#[test]
fn auth_with_a_wrong_password_defers_and_sends_nothing() {
    let credentials = ServerCredentials::parse_str("test", &format!("{USER}  {PASSWORD}\n")).unwrap();
    let mut server = server_config();
    server.tls_available = true;
    server.auth = Some(AuthConfig::new(Arc::new(credentials)));
    let client =
        ClientConfig { auth: Some(ClientAuth::new(Credentials::new(USER, "wrong"))), ..client_config() };
    let mut pair = Pair::new(client, server);
    let results = pair.send(vec![message("a@example.org", &["b@example.net"], b"hello\r\n")]).to_vec();
    let result = &results[0].recipients[0];
    assert_eq!((result.failure, result.status.to_string()), (Some(FailureKind::Auth), "4.7.0".into()));
    assert!(pair.stored.is_empty());
    assert!(!pair.client_lines().iter().any(|l| l.starts_with("MAIL")));
}

#[test]
fn bdat_in_chunks() {
    let mut client = ClientConfig { allow_bdat: true, ..client_config() };
    client.limits.bdat_chunk = 7.try_into().unwrap();
    let mut pair = Pair::new(client, server_config());
    let content = b"Subject: chunks\n\n.no stuffing with BDAT\nend";
    let results = pair.send(vec![message("a@example.org", &["b@example.net"], content)]).to_vec();
    assert!(results[0].is_delivered(), "{results:#?}");
    assert!(pair.stored[0].chunked);
    assert_eq!(pair.stored[0].message(), normalised(content).as_slice());
    assert!(pair.client_lines().iter().any(|l| l.starts_with("BDAT 7")));
}

#[test]
fn more_recipients_than_the_server_takes_go_in_a_second_transaction() {
    let mut server = server_config();
    server.max_recipients = 100;
    let mut client = client_config();
    client.limits.max_recipients = 500.try_into().unwrap();
    let mut pair = Pair::new(client, server);
    let recipients: Vec<String> = (1..=150).map(|n| format!("user{n}@example.net")).collect();
    let envelope = Envelope::new("a@example.org", recipients.iter().cloned());
    let results = pair.send(vec![(envelope, b"hello\r\n".to_vec())]).to_vec();
    assert!(results[0].is_delivered(), "{results:#?}");
    assert_eq!(pair.stored.iter().map(|t| t.recipients.len()).collect::<Vec<_>>(), [100, 50]);
    assert_eq!(results[0].recipients[120].reply.text(), "Ok: queued as Q2");
}

#[test]
fn the_server_size_limit_is_respected_before_mail() {
    let mut server = server_config();
    server.max_message_size = Some(100);
    let mut pair = Pair::new(client_config(), server);
    let big = vec![b'x'; 200];
    let results = pair
        .send(vec![
            message("a@example.org", &["b@example.net"], &big),
            message("a@example.org", &["c@example.net"], b"small\r\n"),
        ])
        .to_vec();
    let refused = &results[0];
    assert_eq!(refused.recipients[0].status, EnhancedStatus::MESSAGE_TOO_BIG);
    assert!(refused.return_headers_only && !refused.recipients[0].remote);
    assert!(results[1].is_delivered());
    assert_eq!(pair.stored.len(), 1);
    assert!(pair.client_lines().contains(&"MAIL FROM:<a@example.org> SIZE=7".to_owned()));
}

#[test]
fn dsn_parameters_and_8bit_content_reach_the_server() {
    let mut pair = Pair::new(client_config(), server_config());
    let mut envelope = Envelope::new("a@example.org", ["b@example.net", "c@example.net"]);
    envelope.mail_params = MailParams::parse("RET=HDRS ENVID=e+2B1").unwrap();
    envelope.recipients[0].1 = RcptParams::parse("NOTIFY=SUCCESS,DELAY").unwrap();
    let content = "Subject: caf\u{e9}\r\n\r\nna\u{ef}ve\r\n".as_bytes().to_vec();
    let results = pair.send(vec![(envelope, content.clone())]).to_vec();
    assert!(results[0].is_delivered() && results[0].next_hop_dsn, "{results:#?}");
    let stored = &pair.stored[0];
    assert_eq!(stored.mail_params.envid.as_deref(), Some("e+2B1"));
    assert_eq!(stored.mail_params.body, Some(smarthost_smtp_core::Body::EightBitMime));
    assert_eq!(stored.recipients[0].params.notify, Some(Notify::SUCCESS | Notify::DELAY));
    assert_eq!(stored.recipients[1].params.orcpt.as_ref().unwrap().address(), "c@example.net");
    assert_eq!(stored.message(), content.as_slice());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]
    /// Whatever the content (dots, bare CR and LF, 8-bit octets), the server
    /// stores exactly its normalised form, by DATA and by BDAT.
    #[test]
    fn content_survives_the_trip(
        content in prop::collection::vec(prop::sample::select(b"a.\r\n\xe9 ".to_vec()), 0..300),
        bdat: bool,
    ) {
        let client = ClientConfig { allow_bdat: bdat, ..client_config() };
        let mut pair = Pair::new(client, server_config());
        let results = pair.send(vec![message("a@example.org", &["b@example.net"], &content)]).to_vec();
        prop_assert!(results[0].is_delivered(), "{:#?}", results);
        let expected = normalised(&content);
        prop_assert_eq!(pair.stored[0].message(), expected.as_slice());
    }
}
