//! Serves one [`ServerSession`] over a `TcpStream`.

use std::future::Future;
use std::io;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use ::tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use ::tokio::net::TcpStream;
use ::tokio::time::{Instant, timeout_at};
use rustls::ProtocolVersion;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

use crate::server::{Output, Peer, Question, ServerConfig, ServerSession, TimeoutPhase, TlsInfo, Verdict};

/// How much is read from the socket at a time.
const READ_BUFFER: usize = 16 * 1024;

/// Answers the session's questions: the caller's access rules, relay
/// checks and queue.
///
/// Questions come one at a time, in command order; the session waits for
/// each answer (and the driver reads nothing meanwhile).
///
/// ```
/// use smarthost_smtp_core::tokio::ServerPolicy;
/// use smarthost_smtp_core::{Question, Verdict};
///
/// /// Takes everything, keeps nothing: a sink for tests.
/// struct Sink;
///
/// impl ServerPolicy for Sink {
///     async fn decide(&mut self, question: Question) -> Verdict {
///         match question {
///             Question::Message(_) => Verdict::queued("SINK"),
///             _ => Verdict::accept(),
///         }
///     }
/// }
/// ```
pub trait ServerPolicy: Send {
    /// Answers one question. For [`Question::Message`], store the message
    /// durably before accepting it.
    fn decide(&mut self, question: Question) -> impl Future<Output = Verdict> + Send;
}

/// The server's TLS: STARTTLS on a plain connection, or implicit TLS from
/// the first byte (RFC 8314, port 465).
#[derive(Clone, Debug)]
pub struct ServerTls {
    config: Arc<rustls::ServerConfig>,
    implicit: bool,
}

impl ServerTls {
    /// Offer STARTTLS (set [`ServerConfig::tls_available`] too, so the
    /// session advertises it).
    pub fn starttls(config: Arc<rustls::ServerConfig>) -> Self {
        ServerTls { config, implicit: false }
    }

    /// Handshake at connect, before the greeting.
    pub fn implicit(config: Arc<rustls::ServerConfig>) -> Self {
        ServerTls { config, implicit: true }
    }
}

/// Serves one connection until the session closes it, the client goes
/// away, or the socket fails.
///
/// The driver reads the wall clock once (for [`Peer::unix_time`]) and uses
/// tokio's clock for deadlines, so tests can pause time. A failed TLS
/// handshake is returned as an error; a handshake that times out ends the
/// session quietly.
pub async fn serve_connection<P: ServerPolicy>(
    stream: TcpStream,
    config: Arc<ServerConfig>,
    tls: Option<&ServerTls>,
    policy: &mut P,
) -> io::Result<()> {
    let unix_time = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let mut peer = Peer::new(stream.peer_addr()?, stream.local_addr()?, unix_time);
    let handshake_timeout = config.timeouts.get(TimeoutPhase::StartTls);
    let mut conn = match tls.filter(|tls| tls.implicit) {
        Some(tls) => {
            let deadline = Instant::now() + handshake_timeout;
            let Ok(accepted) =
                timeout_at(deadline, TlsAcceptor::from(tls.config.clone()).accept(stream)).await
            else {
                return Ok(());
            };
            let stream = accepted?;
            peer = peer.with_implicit_tls(tls_info(&stream));
            Conn::Tls(Box::new(stream))
        }
        None => Conn::Plain(stream),
    };
    let offers_starttls = config.tls_available && tls.is_some_and(|tls| !tls.implicit);
    let mut session = ServerSession::new(config, peer, now());
    if !offers_starttls {
        // Configured for STARTTLS without a certificate: say so per command.
        session.handle_tls_unavailable();
    }
    let mut buffer = vec![0u8; READ_BUFFER];
    let mut out = Vec::new();
    loop {
        while let Some(output) = session.poll_output() {
            match output {
                Output::Send(bytes) => out.extend_from_slice(bytes),
                Output::Decide(id, question) => {
                    conn.flush(&mut out).await?;
                    let verdict = policy.decide(question).await;
                    // `id` is the question just handed out, so it matches.
                    let _ = session.handle_decision(id, verdict, now());
                }
                Output::StartTls => {
                    conn.flush(&mut out).await?;
                    let (Some(tls), Conn::Plain(_)) = (tls, &conn) else {
                        // The session was told TLS is unavailable; it cannot ask.
                        return Ok(());
                    };
                    let Conn::Plain(stream) = std::mem::replace(&mut conn, Conn::Closed) else {
                        return Ok(());
                    };
                    let handshake = TlsAcceptor::from(tls.config.clone()).accept(stream);
                    let deadline = session
                        .poll_timeout()
                        .map_or_else(|| Instant::now() + handshake_timeout, Instant::from_std);
                    match timeout_at(deadline, handshake).await {
                        Ok(Ok(stream)) => {
                            let info = tls_info(&stream);
                            conn = Conn::Tls(Box::new(stream));
                            session.handle_tls_established(info, now());
                        }
                        Ok(Err(error)) => return Err(error),
                        Err(_) => return Ok(()),
                    }
                }
                Output::Close => {
                    conn.flush(&mut out).await?;
                    conn.shutdown().await;
                    return Ok(());
                }
            }
        }
        conn.flush(&mut out).await?;
        let read = match session.poll_timeout() {
            Some(deadline) => timeout_at(Instant::from_std(deadline), conn.read(&mut buffer)).await.ok(),
            None => Some(conn.read(&mut buffer).await),
        };
        match read {
            Some(Ok(0)) => return Ok(()),
            Some(Ok(n)) => session.handle_input(&buffer[..n], now()),
            Some(Err(error)) => return Err(error),
            None => session.handle_timeout(now()),
        }
    }
}

/// The session's clock: tokio's, so a paused test clock applies.
fn now() -> std::time::Instant {
    Instant::now().into_std()
}

/// The negotiated version and cipher suite, as OpenSSL names them.
fn tls_info(stream: &TlsStream<TcpStream>) -> TlsInfo {
    let (_, connection) = stream.get_ref();
    let version = match connection.protocol_version() {
        Some(ProtocolVersion::TLSv1_3) => "TLSv1.3",
        Some(ProtocolVersion::TLSv1_2) => "TLSv1.2",
        _ => "unknown",
    };
    let cipher = connection.negotiated_cipher_suite().map_or_else(
        || "unknown".to_owned(),
        |suite| {
            let name = format!("{:?}", suite.suite());
            // rustls names TLS 1.3 suites TLS13_*; their IANA names are TLS_*.
            name.strip_prefix("TLS13_").map_or(name.clone(), |rest| format!("TLS_{rest}"))
        },
    );
    TlsInfo::new(version, cipher)
}

/// The connection, before or after TLS.
enum Conn {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
    Closed,
}

impl Conn {
    async fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        match self {
            Conn::Plain(stream) => stream.read(buffer).await,
            Conn::Tls(stream) => stream.read(buffer).await,
            Conn::Closed => Ok(0),
        }
    }

    /// Writes and empties `out`.
    async fn flush(&mut self, out: &mut Vec<u8>) -> io::Result<()> {
        if out.is_empty() {
            return Ok(());
        }
        match self {
            Conn::Plain(stream) => stream.write_all(out).await?,
            Conn::Tls(stream) => {
                stream.write_all(out).await?;
                stream.flush().await?;
            }
            Conn::Closed => {}
        }
        out.clear();
        Ok(())
    }

    async fn shutdown(&mut self) {
        // The peer may be gone already; there is nothing left to tell it.
        let _ = match self {
            Conn::Plain(stream) => stream.shutdown().await,
            Conn::Tls(stream) => stream.shutdown().await,
            Conn::Closed => Ok(()),
        };
    }
}
