//! The tokio driver of [`ClientSession`]: it connects, moves bytes, runs
//! TLS handshakes when the session asks, and sleeps until deadlines. All
//! protocol decisions are the session's.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::{Instant, timeout, timeout_at};
use tokio_rustls::client::TlsStream;

use super::tls_client::{TlsClient, channel_binding};
use crate::client::{ClientConfig, ClientConfigError, ClientOutput, ClientSession, Envelope, MessageResult};

/// Largest write handed to the socket at once; each is bounded by the
/// data-block timeout, as RFC 5321 §4.5.3.2 times each TCP send.
const WRITE_BLOCK: usize = 64 * 1024;

/// One server to deliver to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Destination {
    /// Where to connect.
    pub addr: SocketAddr,
    /// The server's name: sent as SNI and checked against its certificate
    /// (an MX name, a smart host's name, or the address as text).
    pub server_name: String,
}

/// Connects to `destination`, runs one [`ClientSession`] for all
/// `messages`, and returns one [`MessageResult`] per message, in order.
///
/// Every failure to connect, read, write or handshake becomes part of the
/// results (see [`FailureKind`](crate::FailureKind)); only an unusable
/// `config` is an error. The connect is bounded by
/// [`ClientTimeouts::connect`](crate::ClientTimeouts::connect), every write
/// by the session's write timeout, every wait for a reply by its deadline.
///
/// The results come only when the connection closes; a queue that must
/// record each message's fate as soon as it is known (so that a crash
/// later in the session does not send it again) uses [`deliver_each`].
pub async fn deliver(
    destination: &Destination,
    tls: &TlsClient,
    config: ClientConfig,
    messages: Vec<(Envelope, Vec<u8>)>,
) -> Result<Vec<MessageResult>, ClientConfigError> {
    let mut results = Vec::new();
    deliver_each(destination, tls, config, messages, |result| results.push(result)).await?;
    results.sort_by_key(|r: &MessageResult| r.id);
    Ok(results)
}

/// [`deliver`], handing each message's [`MessageResult`] to `on_result`
/// as soon as its transaction ends (the server's reply to the content, a
/// refusal of every recipient, or a failure of the connection), before the
/// session goes on to the next message. `on_result` gets exactly one
/// result per message, in the order the transactions end; a result's
/// [`MessageResult::id`] gives the message's index in `messages`
/// ([`MessageId::index`](crate::MessageId::index)). It runs inside the
/// session's loop, so it should not block: send the result on to a task
/// that records it.
pub async fn deliver_each(
    destination: &Destination,
    tls: &TlsClient,
    config: ClientConfig,
    messages: Vec<(Envelope, Vec<u8>)>,
    mut on_result: impl FnMut(MessageResult),
) -> Result<(), ClientConfigError> {
    let connect_timeout = config.timeouts.connect;
    let quit_timeout = config.timeouts.quit;
    let mut session = ClientSession::new(config, now())?;
    for (envelope, content) in messages {
        session.add_message(envelope, content, now());
    }
    session.quit(now());

    let addr = destination.addr;
    let mut stream = match timeout(connect_timeout, TcpStream::connect(addr)).await {
        Ok(Ok(tcp)) => Some(Stream::Plain(tcp)),
        Ok(Err(error)) => {
            session.handle_connection_lost(&format!("connect to {addr}: {error}"), now());
            None
        }
        Err(_) => {
            let secs = connect_timeout.as_secs();
            session.handle_connection_lost(&format!("connect to {addr}: no answer within {secs}s"), now());
            None
        }
    };

    let mut buffer = vec![0; 16 * 1024];
    loop {
        while let Some(output) = session.poll_output() {
            match output {
                ClientOutput::Send(bytes) => match stream.as_mut() {
                    Some(s) => match write(s, &bytes, session.write_timeout()).await {
                        Ok(()) => session.handle_written(now()),
                        Err(error) => session.handle_connection_lost(&format!("write: {error}"), now()),
                    },
                    None => session.handle_connection_lost("no connection", now()),
                },
                ClientOutput::StartTls => {
                    stream = start_tls(&mut session, stream.take(), tls, &destination.server_name).await;
                }
                ClientOutput::Result(result) => on_result(result),
                ClientOutput::Close => {
                    if let Some(mut s) = stream.take() {
                        // A courtesy (close_notify, FIN); its failure changes nothing.
                        let _ = timeout(quit_timeout, s.shutdown()).await;
                    }
                    return Ok(());
                }
            }
        }
        let Some(s) = stream.as_mut() else {
            // Only reachable if the session kept going without a connection.
            session.handle_connection_lost("no connection", now());
            continue;
        };
        let read = match session.poll_timeout() {
            Some(deadline) => timeout_at(Instant::from_std(deadline), s.read(&mut buffer)).await.ok(),
            None => Some(s.read(&mut buffer).await),
        };
        match read {
            None => session.handle_timeout(now()),
            Some(Ok(0)) => session.handle_connection_lost("connection closed by the server", now()),
            Some(Ok(n)) => session.handle_input(&buffer[..n], now()),
            Some(Err(error)) => session.handle_connection_lost(&format!("read: {error}"), now()),
        }
    }
}

/// The session's clock: tokio's, so that tests with a paused clock work.
fn now() -> std::time::Instant {
    Instant::now().into_std()
}

async fn write(stream: &mut Stream, bytes: &[u8], limit: Duration) -> io::Result<()> {
    for block in bytes.chunks(WRITE_BLOCK) {
        match timeout(limit, stream.write_all(block)).await {
            Ok(result) => result?,
            Err(_) => {
                let secs = limit.as_secs();
                return Err(io::Error::new(io::ErrorKind::TimedOut, format!("no progress for {secs}s")));
            }
        }
    }
    timeout(limit, stream.flush()).await.map_err(|_| io::Error::from(io::ErrorKind::TimedOut))?
}

/// The handshake the session asked for, bounded by its deadline.
async fn start_tls(
    session: &mut ClientSession,
    stream: Option<Stream>,
    tls: &TlsClient,
    server_name: &str,
) -> Option<Stream> {
    let Some(Stream::Plain(tcp)) = stream else {
        session.handle_tls_failed("TLS is already active or there is no connection", now());
        return None;
    };
    let handshake = tls.handshake(tcp, server_name);
    let outcome = match session.poll_timeout() {
        Some(deadline) => timeout_at(Instant::from_std(deadline), handshake)
            .await
            .unwrap_or_else(|_| Err("no handshake before the deadline".to_owned())),
        None => handshake.await,
    };
    match outcome {
        Ok(tls_stream) => {
            if let Some(exporter) = channel_binding(&tls_stream) {
                session.handle_tls_channel_binding(exporter);
            }
            session.handle_tls_established(now());
            Some(Stream::Tls(Box::new(tls_stream)))
        }
        Err(reason) => {
            session.handle_tls_failed(&reason, now());
            None
        }
    }
}

/// The connection, in clear or with TLS.
enum Stream {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

impl AsyncRead for Stream {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}
