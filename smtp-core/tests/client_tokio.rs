//! The tokio client driver on 127.0.0.1: against aiosmtpd (PyPI), an
//! independent server, in clear and with STARTTLS; against an in-test
//! implicit-TLS listener; and against servers that refuse or stay silent.
//! Every wait is bounded.
//!
//! Where python3 or aiosmtpd is missing the aiosmtpd tests say so and pass,
//! except in CI (`CI` set), whose script installs aiosmtpd: there they fail.

#![cfg(feature = "tokio")]

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use smarthost_smtp_core::tokio::{
    Destination, ServerPolicy, ServerTls, TlsClient, TlsClientOptions, TrustAnchors, deliver, deliver_each,
    serve_connection,
};
use smarthost_smtp_core::{
    ClientConfig, Envelope, FailureKind, MessageResult, Question, ServerConfig, TlsPolicy, Transaction,
    Verdict,
};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio::process::{Child, Command};

/// The bound on every test's network work.
const WAIT: Duration = Duration::from_secs(30);

async fn bounded<F: Future>(what: &str, future: F) -> F::Output {
    match tokio::time::timeout(WAIT, future).await {
        Ok(output) => output,
        Err(_) => panic!("timed out after {WAIT:?}: {what}"),
    }
}

fn aiosmtpd_present() -> bool {
    let present = std::process::Command::new("python3")
        .args(["-c", "import aiosmtpd"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    assert!(
        present || std::env::var_os("CI").is_none(),
        "CI must provide python3 with aiosmtpd (`pip install aiosmtpd`)"
    );
    if !present {
        eprintln!(
            "SKIPPED: python3 cannot import aiosmtpd (`pip install aiosmtpd`); no interoperability check"
        );
    }
    present
}

/// aiosmtpd running `tests/client_aiosmtpd.py`, recording into a directory.
struct Aiosmtpd {
    /// Holds stdin open; killed on drop.
    _child: Child,
    addr: SocketAddr,
    dir: tempfile::TempDir,
}

impl Aiosmtpd {
    async fn start(tls: Option<&TestPki>) -> Aiosmtpd {
        let dir = tempfile::tempdir().unwrap();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/client_aiosmtpd.py");
        let mut command = Command::new("python3");
        command.arg(&script).arg(dir.path());
        if let Some(pki) = tls {
            command.arg(&pki.cert_file).arg(&pki.key_file);
        }
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("python3 runs");
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        bounded("aiosmtpd's port line", stdout.read_line(&mut line)).await.unwrap();
        let port: u16 = line.trim().parse().unwrap_or_else(|_| panic!("port line {line:?}"));
        Aiosmtpd { _child: child, addr: SocketAddr::from(([127, 0, 0, 1], port)), dir }
    }

    fn destination(&self) -> Destination {
        Destination { addr: self.addr, server_name: "localhost".to_owned() }
    }

    /// Message `n` (from 1): its content and its JSON record.
    fn received(&self, n: usize) -> Option<(Vec<u8>, String)> {
        let base = self.dir.path().join(n.to_string());
        let json = std::fs::read_to_string(base.with_extension("json")).ok()?;
        Some((std::fs::read(base.with_extension("eml")).unwrap(), json))
    }
}

/// A CA, a `localhost` certificate it signed, and a second, unrelated CA.
struct TestPki {
    _dir: tempfile::TempDir,
    ca_file: PathBuf,
    other_ca_file: PathBuf,
    cert_file: PathBuf,
    key_file: PathBuf,
    cert_der: CertificateDer<'static>,
    key_der: Vec<u8>,
}

impl TestPki {
    fn new() -> TestPki {
        let ca = ca("smarthost test CA");
        let other = ca_cert_pem("an unrelated CA");
        let leaf_key = KeyPair::generate().unwrap();
        let leaf =
            CertificateParams::new(vec!["localhost".to_owned()]).unwrap().signed_by(&leaf_key, &ca).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, text: &str| {
            let path = dir.path().join(name);
            std::fs::write(&path, text).unwrap();
            path
        };
        TestPki {
            ca_file: write("ca.pem", &ca.pem()),
            other_ca_file: write("other-ca.pem", &other),
            cert_file: write("cert.pem", &leaf.pem()),
            key_file: write("key.pem", &leaf_key.serialize_pem()),
            cert_der: leaf.der().clone(),
            key_der: leaf_key.serialize_der(),
            _dir: dir,
        }
    }

    fn server_config(&self) -> Arc<rustls::ServerConfig> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.key_der.clone()));
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![self.cert_der.clone()], key)
            .unwrap();
        Arc::new(config)
    }

    fn acceptor(&self) -> tokio_rustls::TlsAcceptor {
        tokio_rustls::TlsAcceptor::from(self.server_config())
    }

    fn client(&self, ca_file: &Path, dangerous: bool) -> TlsClient {
        TlsClientOptions {
            trust: TrustAnchors::CaFile(ca_file.to_owned()),
            dangerous_accept_invalid_certs: dangerous,
        }
        .build()
        .unwrap()
    }
}

fn ca(name: &str) -> CertifiedIssuer<'static, KeyPair> {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(rcgen::DnType::CommonName, name);
    CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap()
}

fn ca_cert_pem(name: &str) -> String {
    ca(name).pem()
}

fn config(tls: TlsPolicy) -> ClientConfig {
    ClientConfig { tls, ..ClientConfig::new("client.example.org") }
}

/// The content as a server stores it: CR LF line ends, a final CR LF.
fn normalised(content: &[u8]) -> Vec<u8> {
    let mut wire = Vec::new();
    smarthost_smtp_core::dot_stuff(content, &mut wire);
    let mut out = Vec::new();
    for line in wire[..wire.len() - 3].split_inclusive(|b| *b == b'\n') {
        out.extend_from_slice(line.strip_prefix(b".").unwrap_or(line));
    }
    out
}

fn kinds(results: &[MessageResult]) -> Vec<Option<FailureKind>> {
    results.iter().flat_map(|m| m.recipients.iter().map(|r| r.failure)).collect()
}

#[tokio::test]
async fn two_messages_over_one_connection_to_aiosmtpd() {
    if !aiosmtpd_present() {
        return;
    }
    let server = Aiosmtpd::start(None).await;
    let tls = TlsClientOptions { dangerous_accept_invalid_certs: true, ..TlsClientOptions::default() }
        .build()
        .unwrap();
    let first =
        b"Subject: one\r\nTo: b@example.net\r\n\r\n.a line with a leading dot\r\n..two\r\nbody\r\n".to_vec();
    let second = "Subject: two\n\ncaf\u{e9} with bare LF\n.\nend".as_bytes().to_vec();
    let messages = vec![
        (Envelope::new("a@example.org", ["b@example.net", "c@example.net"]), first.clone()),
        (Envelope::new("", ["d@example.net"]), second.clone()),
    ];
    let results =
        bounded("delivery", deliver(&server.destination(), &tls, config(TlsPolicy::Disabled), messages))
            .await
            .unwrap();
    assert_eq!(kinds(&results), [None, None, None], "{results:#?}");
    assert_eq!(results[1].recipients[0].reply.text(), "Ok: queued as 2");

    let (content, json) = server.received(1).expect("aiosmtpd recorded message 1");
    assert_eq!(content, normalised(&first), "{}", String::from_utf8_lossy(&content));
    assert!(json.contains(r#""mail_from": "a@example.org""#), "{json}");
    assert!(json.contains(r#""rcpt_tos": ["b@example.net", "c@example.net"]"#), "{json}");
    assert!(json.contains(r#""tls": false"#), "{json}");
    let (content, json) = server.received(2).expect("aiosmtpd recorded message 2");
    assert_eq!(content, normalised(&second), "{}", String::from_utf8_lossy(&content));
    assert!(json.contains(r#""mail_from": "<>""#) && json.contains("BODY=8BITMIME"), "{json}");
    assert!(json.contains(&format!("SIZE={}", normalised(&second).len())), "{json}");
    assert!(server.received(3).is_none());
}

#[tokio::test]
async fn starttls_to_aiosmtpd_verifies_the_certificate() {
    if !aiosmtpd_present() {
        return;
    }
    let pki = TestPki::new();
    let server = Aiosmtpd::start(Some(&pki)).await;
    let message =
        || vec![(Envelope::new("a@example.org", ["b@example.net"]), b"Subject: tls\r\n\r\nhi\r\n".to_vec())];

    // Trusted CA: delivered over TLS.
    let trusted = pki.client(&pki.ca_file, false);
    let results =
        bounded("trusted", deliver(&server.destination(), &trusted, config(TlsPolicy::Required), message()))
            .await
            .unwrap();
    assert_eq!(kinds(&results), [None], "{results:#?}");
    let (_, json) = server.received(1).unwrap();
    assert!(json.contains(r#""tls": true"#), "{json}");

    // A CA that did not sign the certificate: a TLS failure, nothing sent.
    let untrusted = pki.client(&pki.other_ca_file, false);
    let results = bounded(
        "untrusted",
        deliver(&server.destination(), &untrusted, config(TlsPolicy::Required), message()),
    )
    .await
    .unwrap();
    assert_eq!(kinds(&results), [Some(FailureKind::Tls)], "{results:#?}");
    let reason = results[0].recipients[0].reply.text().into_owned();
    assert!(reason.contains("certificate"), "{reason}");
    assert!(results[0].recipients[0].is_temporary());
    assert!(server.received(2).is_none());

    // The wrong name: also refused.
    let wrong_name = Destination { server_name: "mx.example.net".to_owned(), ..server.destination() };
    let results =
        bounded("wrong name", deliver(&wrong_name, &trusted, config(TlsPolicy::Required), message()))
            .await
            .unwrap();
    assert_eq!(kinds(&results), [Some(FailureKind::Tls)], "{results:#?}");

    // dangerous_accept_invalid_certs: delivered anyway.
    let dangerous = pki.client(&pki.other_ca_file, true);
    let results = bounded(
        "dangerous",
        deliver(&server.destination(), &dangerous, config(TlsPolicy::Required), message()),
    )
    .await
    .unwrap();
    assert_eq!(kinds(&results), [None], "{results:#?}");
    assert!(server.received(2).is_some());
}

/// A small SMTP server on implicit TLS: it answers every command and
/// returns the messages it got (dot-stuffing undone).
async fn implicit_tls_server(listener: TcpListener, acceptor: tokio_rustls::TlsAcceptor) -> Vec<Vec<u8>> {
    let (tcp, _) = listener.accept().await.unwrap();
    let tls = acceptor.accept(tcp).await.unwrap();
    let (read, mut write) = tokio::io::split(tls);
    let mut lines = BufReader::new(read);
    let mut messages = Vec::new();
    write.write_all(b"220 localhost ESMTP implicit\r\n").await.unwrap();
    loop {
        let mut line = String::new();
        if lines.read_line(&mut line).await.unwrap() == 0 {
            return messages;
        }
        let verb = line.get(..4).unwrap_or("").to_ascii_uppercase();
        let reply: &[u8] = match verb.as_str() {
            "EHLO" => b"250-localhost\r\n250-PIPELINING\r\n250 8BITMIME\r\n",
            "MAIL" | "RCPT" | "RSET" => b"250 2.0.0 Ok\r\n",
            "DATA" => {
                write.write_all(b"354 Go ahead\r\n").await.unwrap();
                let mut content = Vec::new();
                loop {
                    let mut data = Vec::new();
                    lines.read_until(b'\n', &mut data).await.unwrap();
                    if data == b".\r\n" || data.is_empty() {
                        break;
                    }
                    content.extend_from_slice(data.strip_prefix(b".").unwrap_or(&data));
                }
                messages.push(content);
                b"250 2.0.0 Ok: queued\r\n"
            }
            "QUIT" => {
                write.write_all(b"221 2.0.0 Bye\r\n").await.unwrap();
                let _ = write.shutdown().await;
                return messages;
            }
            _ => b"502 5.5.1 Not here\r\n",
        };
        write.write_all(reply).await.unwrap();
    }
}

#[tokio::test]
async fn implicit_tls() {
    let pki = TestPki::new();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let destination =
        Destination { addr: listener.local_addr().unwrap(), server_name: "localhost".to_owned() };
    let server = tokio::spawn(implicit_tls_server(listener, pki.acceptor()));
    let content = b"Subject: 465\r\n\r\n.dot\r\nline\r\n".to_vec();
    let messages = vec![(Envelope::new("a@example.org", ["b@example.net"]), content.clone())];
    let client = pki.client(&pki.ca_file, false);
    let results = bounded("delivery", deliver(&destination, &client, config(TlsPolicy::Implicit), messages))
        .await
        .unwrap();
    assert_eq!(kinds(&results), [None], "{results:#?}");
    let received = bounded("server", server).await.unwrap();
    assert_eq!(received, [normalised(&content)]);
}

#[tokio::test]
async fn implicit_tls_to_an_untrusted_server_fails_as_tls() {
    let pki = TestPki::new();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let destination =
        Destination { addr: listener.local_addr().unwrap(), server_name: "localhost".to_owned() };
    let acceptor = pki.acceptor();
    tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let _ = acceptor.accept(tcp).await;
    });
    let messages = vec![(Envelope::new("a@example.org", ["b@example.net"]), b"x\r\n".to_vec())];
    let client = pki.client(&pki.other_ca_file, false);
    let results = bounded("delivery", deliver(&destination, &client, config(TlsPolicy::Implicit), messages))
        .await
        .unwrap();
    assert_eq!(kinds(&results), [Some(FailureKind::Tls)], "{results:#?}");
}

#[tokio::test]
async fn a_refused_connection_is_a_connection_failure() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let destination = Destination { addr, server_name: "localhost".to_owned() };
    let tls = TlsClientOptions { dangerous_accept_invalid_certs: true, ..TlsClientOptions::default() }
        .build()
        .unwrap();
    let messages =
        vec![(Envelope::new("a@example.org", ["b@example.net", "c@example.net"]), b"x\r\n".to_vec())];
    let results =
        bounded("delivery", deliver(&destination, &tls, config(TlsPolicy::Opportunistic), messages))
            .await
            .unwrap();
    assert_eq!(kinds(&results), [Some(FailureKind::Connection); 2], "{results:#?}");
    assert_eq!(results[0].recipients[0].status.to_string(), "4.4.2");
    assert!(results[0].recipients[0].reply.text().contains("connect to"), "{results:#?}");
}

/// A plain SMTP server (no PIPELINING) that answers every command with
/// 250 and each message's content with `250 queued N`, but holds the reply
/// to message 2 until `release` fires.
async fn holding_server(listener: TcpListener, release: tokio::sync::oneshot::Receiver<()>) {
    let (tcp, _) = listener.accept().await.unwrap();
    let (read, mut write) = tcp.into_split();
    let mut lines = BufReader::new(read);
    let mut release = Some(release);
    write.write_all(b"220 hold.test ESMTP\r\n").await.unwrap();
    let (mut in_data, mut messages) = (false, 0);
    let mut line = String::new();
    while lines.read_line(&mut line).await.unwrap() > 0 {
        let reply = if in_data {
            if line != ".\r\n" {
                line.clear();
                continue;
            }
            in_data = false;
            messages += 1;
            if messages == 2 {
                release.take().unwrap().await.unwrap();
            }
            format!("250 queued {messages}\r\n")
        } else if line.starts_with("DATA") {
            in_data = true;
            "354 go ahead\r\n".to_owned()
        } else if line.starts_with("QUIT") {
            write.write_all(b"221 bye\r\n").await.unwrap();
            return;
        } else {
            "250 ok\r\n".to_owned()
        };
        write.write_all(reply.as_bytes()).await.unwrap();
        line.clear();
    }
}

#[tokio::test]
async fn deliver_each_hands_over_each_result_before_the_session_ends() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let destination =
        Destination { addr: listener.local_addr().unwrap(), server_name: "localhost".to_owned() };
    let (release, held) = tokio::sync::oneshot::channel();
    let server = tokio::spawn(holding_server(listener, held));
    let tls = TlsClientOptions { dangerous_accept_invalid_certs: true, ..TlsClientOptions::default() }
        .build()
        .unwrap();
    let messages = (0..2)
        .map(|n| (Envelope::new("a@example.org", [format!("b{n}@example.net")]), b"x\r\n".to_vec()))
        .collect();
    let mut release = Some(release);
    let mut seen: Vec<MessageResult> = Vec::new();
    // The server answers message 2 only once message 1's result is here:
    // results handed over at the end of the session would never come.
    let delivered = deliver_each(&destination, &tls, config(TlsPolicy::Disabled), messages, |result| {
        seen.push(result);
        if let Some(release) = release.take() {
            let _ = release.send(());
        }
    });
    bounded("delivery", delivered).await.unwrap();
    bounded("the server", server).await.unwrap();
    assert_eq!(kinds(&seen), [None, None], "{seen:#?}");
    let indexes: Vec<u64> = seen.iter().map(|r| r.id.index()).collect();
    assert_eq!(indexes, [0, 1]);
    assert_eq!(seen[1].recipients[0].reply.text(), "queued 2");
}

#[tokio::test(start_paused = true)]
async fn a_silent_server_times_out_on_the_paused_clock() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let destination =
        Destination { addr: listener.local_addr().unwrap(), server_name: "localhost".to_owned() };
    // Accepts, says nothing, holds the connection.
    let holder = tokio::spawn(async move {
        let (mut tcp, _) = listener.accept().await.unwrap();
        let mut sink = Vec::new();
        let _ = tcp.read_to_end(&mut sink).await;
    });
    let tls = TlsClientOptions { dangerous_accept_invalid_certs: true, ..TlsClientOptions::default() }
        .build()
        .unwrap();
    let messages = vec![(Envelope::new("a@example.org", ["b@example.net"]), b"x\r\n".to_vec())];
    let started = tokio::time::Instant::now();
    let results = deliver(&destination, &tls, config(TlsPolicy::Disabled), messages).await.unwrap();
    assert_eq!(kinds(&results), [Some(FailureKind::Connection)], "{results:#?}");
    assert!(results[0].recipients[0].reply.text().contains("timeout"), "{results:#?}");
    // The initial 5-minute wait, on tokio's clock.
    assert_eq!(started.elapsed().as_secs(), 300);
    holder.abort();
}

#[test]
fn tls_client_options_report_bad_ca_files() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.pem");
    let options = |path: &Path| TlsClientOptions {
        trust: TrustAnchors::CaFile(path.to_owned()),
        ..TlsClientOptions::default()
    };
    let error = options(&missing).build().unwrap_err().to_string();
    assert!(error.contains("missing.pem") && error.contains("cannot read"), "{error}");
    let empty = dir.path().join("empty.pem");
    std::fs::write(&empty, "not a certificate\n").unwrap();
    let error = options(&empty).build().unwrap_err().to_string();
    assert!(error.contains("no certificate found") && error.contains("BEGIN CERTIFICATE"), "{error}");
}

/// Our server's policy in the driver test: accept everything, keep the messages.
struct Keep(Vec<Transaction>);

impl ServerPolicy for Keep {
    async fn decide(&mut self, question: Question) -> Verdict {
        match question {
            Question::Message(transaction) => {
                self.0.push(*transaction);
                Verdict::queued(&format!("K{}", self.0.len()))
            }
            _ => Verdict::accept(),
        }
    }
}

#[tokio::test]
async fn our_client_driver_against_our_server_driver_with_starttls() {
    let pki = TestPki::new();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let destination =
        Destination { addr: listener.local_addr().unwrap(), server_name: "localhost".to_owned() };
    let mut server_config = ServerConfig::new("localhost").unwrap();
    server_config.tls_available = true;
    let server_tls = ServerTls::starttls(pki.server_config());
    let server = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let mut policy = Keep(Vec::new());
        serve_connection(tcp, Arc::new(server_config), Some(&server_tls), &mut policy).await.unwrap();
        policy.0
    });
    let mut config = config(TlsPolicy::Required);
    config.allow_bdat = true;
    let first = b"Subject: one\r\n\r\n.dot\r\n".to_vec();
    let second = b"Subject: two\n\nbare LF\n".to_vec();
    let messages = vec![
        (Envelope::new("a@example.org", ["b@example.net"]), first.clone()),
        (Envelope::new("a@example.org", ["c@example.net", "d@example.net"]), second.clone()),
    ];
    let client = pki.client(&pki.ca_file, false);
    let results = bounded("delivery", deliver(&destination, &client, config, messages)).await.unwrap();
    assert_eq!(kinds(&results), [None, None, None], "{results:#?}");
    assert_eq!(results[1].recipients[1].reply.text(), "Ok: queued as K2");
    let stored = bounded("server", server).await.unwrap();
    assert_eq!(stored.len(), 2);
    assert!(stored.iter().all(|t| t.tls.is_some() && t.chunked), "{stored:#?}");
    assert_eq!(stored[0].message(), normalised(&first).as_slice());
    assert_eq!(stored[1].message(), normalised(&second).as_slice());
}
