//! A minimal SMTP line layer and AUTH client shared by the integration tests:
//! plain or TLS streams, replies, STARTTLS and one SASL exchange driven by
//! `ClientMechanism`.

#![allow(dead_code)] // each test file uses its own subset

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use rustls::{ClientConfig, ProtocolVersion, RootCertStore, ServerConfig};
use smarthost_authinfo::{
    AuthOutcome, AuthPolicy, Choice, ClientMechanism, Credentials, Disposition, Mechanism, SaslError, Step,
    Transport, choose_mechanism,
};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::{TlsAcceptor, TlsConnector, TlsStream};

/// The bound on every network wait.
pub(crate) const WAIT: Duration = Duration::from_secs(5);

/// Awaits `future`, failing the test after [`WAIT`].
pub(crate) async fn bounded<F: Future>(what: &str, future: F) -> F::Output {
    match tokio::time::timeout(WAIT, future).await {
        Ok(output) => output,
        Err(_) => panic!("timed out after {WAIT:?}: {what}"),
    }
}

/// A self-signed certificate for `localhost`, in DER and PEM.
pub(crate) struct TestCert {
    pub(crate) cert_der: CertificateDer<'static>,
    pub(crate) key_der: Vec<u8>,
    pub(crate) cert_pem: String,
    pub(crate) key_pem: String,
}

impl TestCert {
    pub(crate) fn new() -> Self {
        let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
        Self {
            cert_der: certified.cert.der().clone(),
            key_der: certified.signing_key.serialize_der(),
            cert_pem: certified.cert.pem(),
            key_pem: certified.signing_key.serialize_pem(),
        }
    }

    pub(crate) fn acceptor(&self) -> TlsAcceptor {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.key_der.clone()));
        let config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![self.cert_der.clone()], key)
            .unwrap();
        TlsAcceptor::from(Arc::new(config))
    }

    /// A client configuration trusting only this certificate.
    pub(crate) fn connector(&self) -> TlsConnector {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = RootCertStore::empty();
        roots.add(self.cert_der.clone()).unwrap();
        let config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        TlsConnector::from(Arc::new(config))
    }
}

/// A TCP connection before or after STARTTLS.
pub(crate) enum Conn {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

impl AsyncRead for Conn {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Conn {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_flush(cx),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

/// CRLF lines over a [`Conn`], every wait bounded.
pub(crate) struct Lines {
    io: BufReader<Conn>,
}

impl Lines {
    pub(crate) fn new(conn: Conn) -> Self {
        Self { io: BufReader::new(conn) }
    }

    pub(crate) fn is_tls(&self) -> bool {
        matches!(self.io.get_ref(), Conn::Tls(_))
    }

    /// One line without its line ending; `None` at end of stream.
    pub(crate) async fn read_line(&mut self) -> Option<String> {
        let mut bytes = Vec::new();
        let n = bounded("reading a line", self.io.read_until(b'\n', &mut bytes)).await.unwrap();
        if n == 0 {
            return None;
        }
        while bytes.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
            bytes.pop();
        }
        Some(String::from_utf8(bytes).expect("UTF-8 line"))
    }

    pub(crate) async fn write_line(&mut self, line: &str) {
        let data = format!("{line}\r\n");
        bounded("writing a line", async {
            self.io.get_mut().write_all(data.as_bytes()).await?;
            self.io.get_mut().flush().await
        })
        .await
        .unwrap();
    }

    /// A (possibly multi-line) reply.
    pub(crate) async fn read_reply(&mut self) -> Reply {
        let mut lines = Vec::new();
        loop {
            let line = self.read_line().await.expect("connection closed while waiting for a reply");
            assert!(line.len() >= 3 && line.is_char_boundary(3), "bad reply line {line:?}");
            let code: u16 = line[..3].parse().unwrap_or_else(|_| panic!("bad reply line {line:?}"));
            let last = line.as_bytes().get(3) != Some(&b'-');
            lines.push(line.get(4..).unwrap_or("").to_owned());
            if last {
                return Reply { code, lines };
            }
        }
    }

    /// The TCP stream, for a TLS handshake after STARTTLS. Nothing may be
    /// buffered (a pipelined command would be a STARTTLS injection).
    pub(crate) fn into_tcp(self) -> TcpStream {
        assert!(self.io.buffer().is_empty(), "data pipelined after STARTTLS");
        match self.io.into_inner() {
            Conn::Plain(tcp) => tcp,
            Conn::Tls(_) => panic!("TLS is already active"),
        }
    }
}

/// An SMTP reply: its code and the text of each line.
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) code: u16,
    pub(crate) lines: Vec<String>,
}

/// The mechanisms of an EHLO reply's `AUTH` line, if there is one.
pub(crate) fn auth_mechanisms(ehlo: &Reply) -> Option<Vec<String>> {
    ehlo.lines.iter().skip(1).find_map(|line| {
        let mut words = line.split_ascii_whitespace();
        let keyword = words.next()?;
        keyword.eq_ignore_ascii_case("AUTH").then(|| words.map(str::to_owned).collect())
    })
}

/// Whether an EHLO reply advertises `keyword`.
pub(crate) fn has_keyword(ehlo: &Reply, keyword: &str) -> bool {
    ehlo.lines
        .iter()
        .skip(1)
        .any(|line| line.split_ascii_whitespace().next().is_some_and(|k| k.eq_ignore_ascii_case(keyword)))
}

/// How one AUTH exchange ended, seen from the client.
#[derive(Debug)]
pub(crate) struct AuthAttempt {
    pub(crate) mechanism: Mechanism,
    pub(crate) code: u16,
    pub(crate) outcome: AuthOutcome,
    pub(crate) disposition: Disposition,
    /// `handle_success` after a `235`; `None` otherwise.
    pub(crate) success_check: Option<Result<(), SaslError>>,
}

/// The SMTP client side.
pub(crate) struct Client {
    lines: Lines,
    /// The RFC 9266 `tls-exporter` value, once TLS 1.3 is up.
    pub(crate) exporter: Option<Vec<u8>>,
}

impl Client {
    /// Connects and reads the `220` greeting.
    pub(crate) async fn connect(addr: SocketAddr) -> Self {
        let tcp = bounded("connecting", TcpStream::connect(addr)).await.unwrap();
        let mut client = Self { lines: Lines::new(Conn::Plain(tcp)), exporter: None };
        let greeting = client.lines.read_reply().await;
        assert_eq!(greeting.code, 220, "greeting {greeting:?}");
        client
    }

    pub(crate) async fn command(&mut self, line: &str) -> Reply {
        self.lines.write_line(line).await;
        self.lines.read_reply().await
    }

    pub(crate) async fn ehlo(&mut self) -> Reply {
        let reply = self.command("EHLO client.example").await;
        assert_eq!(reply.code, 250, "EHLO {reply:?}");
        reply
    }

    /// `STARTTLS`, `220`, then the handshake with `localhost`'s certificate.
    pub(crate) async fn starttls(mut self, connector: &TlsConnector) -> Self {
        let reply = self.command("STARTTLS").await;
        assert_eq!(reply.code, 220, "STARTTLS {reply:?}");
        let tcp = self.lines.into_tcp();
        let name = ServerName::try_from("localhost").unwrap();
        let tls = bounded("TLS handshake", connector.connect(name, tcp)).await.unwrap();
        let connection = tls.get_ref().1;
        let exporter = (connection.protocol_version() == Some(ProtocolVersion::TLSv1_3)).then(|| {
            connection.export_keying_material([0u8; 32], b"EXPORTER-Channel-Binding", None).unwrap().to_vec()
        });
        Self { lines: Lines::new(Conn::Tls(Box::new(TlsStream::Client(tls)))), exporter }
    }

    /// The transport the chooser is told about.
    pub(crate) fn transport(&self) -> Transport {
        match (&self.exporter, self.lines.is_tls()) {
            (Some(exporter), true) => Transport::Tls13 { exporter: exporter.clone() },
            (None, true) => Transport::Tls,
            (_, false) => Transport::Cleartext,
        }
    }

    /// Chooses among `candidates` and `offered`, then runs the exchange.
    pub(crate) async fn authenticate(
        &mut self,
        candidates: &[&str],
        offered: &[String],
        credentials: &Credentials,
    ) -> AuthAttempt {
        let policy = AuthPolicy::default();
        let choice = choose_mechanism(candidates, offered, &self.transport(), &policy);
        let Choice::Chosen(selected) = choice else { panic!("no mechanism chosen: {choice:?}") };
        let mut sasl = ClientMechanism::new(&selected, credentials).unwrap();
        let mechanism = sasl.mechanism();
        let command = match sasl.initial_response().unwrap() {
            Some(ir) if ir.is_empty() => format!("AUTH {mechanism} ="),
            Some(ir) => format!("AUTH {mechanism} {}", STANDARD.encode(ir.expose())),
            None => format!("AUTH {mechanism}"),
        };
        let mut reply = self.command(&command).await;
        while reply.code == 334 {
            let text = reply.lines.concat();
            let challenge = STANDARD.decode(text.trim()).expect("base64 challenge");
            let response = match sasl.step(&challenge) {
                Ok(Step::Respond(r)) => STANDARD.encode(r.expose()),
                Ok(Step::AcknowledgeError { response, .. }) => STANDARD.encode(response.expose()),
                Ok(other) => panic!("unexpected step {other:?}"),
                Err(_) => "*".to_owned(),
            };
            reply = self.command(&response).await;
        }
        let outcome = AuthOutcome::from_reply_code(reply.code);
        let success_check = (reply.code == 235).then(|| sasl.handle_success());
        AuthAttempt {
            mechanism,
            code: reply.code,
            outcome,
            disposition: outcome.disposition(&policy),
            success_check,
        }
    }

    pub(crate) async fn quit(mut self) {
        let reply = self.command("QUIT").await;
        assert_eq!(reply.code, 221, "QUIT {reply:?}");
    }
}
