//! The tokio server driver over real TCP on 127.0.0.1: STARTTLS with a
//! rustls client, implicit TLS, deadlines on tokio's paused clock, and the
//! certificate loader's errors.

#![cfg(feature = "tokio")]

mod server_common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use rustls::pki_types::ServerName;
use server_common::tls::{client_config, pki};
use smarthost_smtp_core::tokio::{
    ServerPolicy, ServerTls, TlsConfigError, serve_connection, server_tls_config,
};
use smarthost_smtp_core::{Protocol, Question, ServerConfig, Transaction, Verdict};
use tokio::io::{AsyncBufReadExt as _, AsyncRead, AsyncWrite, AsyncWriteExt as _, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsConnector;

/// Accepts everything and keeps the messages.
#[derive(Clone, Default)]
struct Recorder {
    messages: Arc<Mutex<Vec<Transaction>>>,
}

impl ServerPolicy for Recorder {
    async fn decide(&mut self, question: Question) -> Verdict {
        match question {
            Question::Message(transaction) => {
                let mut messages = self.messages.lock().unwrap();
                messages.push(*transaction);
                Verdict::queued(&format!("T{}", messages.len()))
            }
            _ => Verdict::accept(),
        }
    }
}

/// Serves every connection on a fresh port until the test ends.
async fn listen(config: ServerConfig, tls: Option<ServerTls>, policy: Recorder) -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let config = Arc::new(config);
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let (config, tls, mut policy) = (config.clone(), tls.clone(), policy.clone());
            tokio::spawn(async move {
                let _ = serve_connection(stream, config, tls.as_ref(), &mut policy).await;
            });
        }
    });
    address
}

/// Reads one reply (all its lines).
async fn reply<S: AsyncRead + Unpin>(reader: &mut BufReader<S>) -> Vec<String> {
    let mut lines = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).await.unwrap() == 0 {
            return lines;
        }
        let last = line.as_bytes().get(3) != Some(&b'-');
        lines.push(line.trim_end().to_owned());
        if last {
            return lines;
        }
    }
}

async fn command<S: AsyncRead + AsyncWrite + Unpin>(stream: &mut BufReader<S>, line: &str) -> Vec<String> {
    stream.get_mut().write_all(format!("{line}\r\n").as_bytes()).await.unwrap();
    reply(stream).await
}

fn config() -> ServerConfig {
    let mut config = ServerConfig::new("mx.example.org").unwrap();
    config.tls_available = true;
    config
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn starttls_with_a_rustls_client() {
    let pki = pki();
    let tls = ServerTls::starttls(server_tls_config(&pki.cert_path, &pki.key_path).unwrap());
    let recorder = Recorder::default();
    let address = listen(config(), Some(tls), recorder.clone()).await;
    tokio::time::timeout(Duration::from_secs(20), async {
        let mut plain = BufReader::new(TcpStream::connect(address).await.unwrap());
        assert!(reply(&mut plain).await[0].starts_with("220 mx.example.org ESMTP"));
        let ehlo = command(&mut plain, "EHLO client.example").await;
        assert!(ehlo.contains(&"250-STARTTLS".to_owned()), "{ehlo:?}");
        // Bytes pipelined after STARTTLS are dropped, not run after the handshake.
        plain.get_mut().write_all(b"STARTTLS\r\nMAIL FROM:<evil@example.com>\r\n").await.unwrap();
        assert_eq!(reply(&mut plain).await, ["220 2.0.0 Ready to start TLS"]);
        let stream = plain.into_inner();
        let connector = TlsConnector::from(client_config(&pki.ca));
        let tls_stream = connector.connect(ServerName::try_from("localhost").unwrap(), stream).await.unwrap();
        let mut tls = BufReader::new(tls_stream);
        assert_eq!(
            command(&mut tls, "MAIL FROM:<a@example.com>").await,
            ["250 <a@example.com>... Sender ok"]
        );
        assert_eq!(command(&mut tls, "RSET").await, ["250 Reset state"]);
        let ehlo = command(&mut tls, "EHLO client.example").await;
        assert!(!ehlo.iter().any(|l| l.contains("STARTTLS")), "{ehlo:?}");
        assert_eq!(
            command(&mut tls, "MAIL FROM:<a@example.com>").await,
            ["250 2.1.0 <a@example.com>... Sender ok"]
        );
        assert_eq!(
            command(&mut tls, "RCPT TO:<b@example.org>").await,
            ["250 2.1.5 <b@example.org>... Recipient ok"]
        );
        assert!(command(&mut tls, "DATA").await[0].starts_with("354"));
        let done = command(&mut tls, "Subject: over TLS\r\n\r\nhello\r\n.").await;
        assert_eq!(done, ["250 2.0.0 Ok: queued as T1"]);
        assert_eq!(command(&mut tls, "QUIT").await, ["221 2.0.0 mx.example.org closing connection"]);
    })
    .await
    .unwrap();
    let messages = recorder.messages.lock().unwrap();
    assert_eq!(messages.len(), 1);
    let message = &messages[0];
    assert_eq!(message.protocol, Protocol::Esmtps);
    assert_eq!(message.tls.as_ref().map(|t| t.version.as_str()), Some("TLSv1.3"));
    let received = String::from_utf8_lossy(&message.content[..message.received_len]);
    assert!(received.contains("by mx.example.org (smarthost) with ESMTPS\r\n"), "{received}");
    assert!(received.contains("(version=TLSv1.3 cipher=TLS_"), "{received}");
    assert_eq!(message.message(), b"Subject: over TLS\r\n\r\nhello\r\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn implicit_tls() {
    let pki = pki();
    let tls = ServerTls::implicit(server_tls_config(&pki.cert_path, &pki.key_path).unwrap());
    let recorder = Recorder::default();
    let address = listen(config(), Some(tls), recorder.clone()).await;
    tokio::time::timeout(Duration::from_secs(20), async {
        let stream = TcpStream::connect(address).await.unwrap();
        let connector = TlsConnector::from(client_config(&pki.ca));
        let tls_stream = connector.connect(ServerName::try_from("localhost").unwrap(), stream).await.unwrap();
        let mut tls = BufReader::new(tls_stream);
        assert!(reply(&mut tls).await[0].starts_with("220 mx.example.org ESMTP"));
        let ehlo = command(&mut tls, "EHLO client.example").await;
        assert!(!ehlo.iter().any(|l| l.contains("STARTTLS")), "{ehlo:?}");
        assert_eq!(command(&mut tls, "STARTTLS").await, ["503 5.5.0 TLS not available"]);
        assert_eq!(command(&mut tls, "QUIT").await, ["221 2.0.0 mx.example.org closing connection"]);
    })
    .await
    .unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_silent_client_is_timed_out_on_the_paused_clock() {
    let address = listen(config(), None, Recorder::default()).await;
    let mut client = BufReader::new(TcpStream::connect(address).await.unwrap());
    assert!(reply(&mut client).await[0].starts_with("220 "));
    let started = tokio::time::Instant::now();
    assert_eq!(reply(&mut client).await, ["421 mx.example.org Timeout waiting for command"]);
    assert!(started.elapsed() >= Duration::from_secs(300), "{:?}", started.elapsed());
    assert!(reply(&mut client).await.is_empty(), "closed after the 421");
}

#[tokio::test]
async fn certificate_loading_errors_name_the_file_and_the_fix() {
    let pki = pki();
    let missing = pki.dir.path().join("missing.pem");
    let error = server_tls_config(&missing, &pki.key_path).unwrap_err();
    assert!(matches!(error, TlsConfigError::Io { .. }), "{error}");
    assert!(error.to_string().starts_with(&format!("{}: cannot read it", missing.display())), "{error}");

    // A key where the certificate should be, and the other way round.
    let error = server_tls_config(&pki.key_path, &pki.key_path).unwrap_err();
    assert!(matches!(error, TlsConfigError::NoCertificate { .. }), "{error}");
    let error = server_tls_config(&pki.cert_path, &pki.ca_path).unwrap_err();
    assert!(matches!(error, TlsConfigError::KeyTooPermissive { .. } | TlsConfigError::NoPrivateKey { .. }));
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(&pki.ca_path, std::fs::Permissions::from_mode(0o600)).unwrap();
    let error = server_tls_config(&pki.cert_path, &pki.ca_path).unwrap_err();
    assert!(matches!(error, TlsConfigError::NoPrivateKey { .. }), "{error}");

    std::fs::set_permissions(&pki.key_path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let error = server_tls_config(&pki.cert_path, &pki.key_path).unwrap_err();
    assert_eq!(
        error.to_string(),
        format!(
            "{0}: mode is 0644, but a private key must not be accessible to other users; run `chmod o-rwx {0}`",
            pki.key_path.display()
        )
    );

    // A key that does not belong to the certificate.
    let other = rcgen::KeyPair::generate().unwrap();
    let other_path = pki.dir.path().join("other-key.pem");
    std::fs::write(&other_path, other.serialize_pem()).unwrap();
    std::fs::set_permissions(&other_path, std::fs::Permissions::from_mode(0o600)).unwrap();
    std::fs::set_permissions(&pki.key_path, std::fs::Permissions::from_mode(0o600)).unwrap();
    assert!(server_tls_config(&pki.cert_path, &pki.key_path).is_ok());
    let error = server_tls_config(&pki.cert_path, &other_path).unwrap_err();
    assert!(matches!(error, TlsConfigError::Rustls { .. }), "{error}");
}
