//! The load clients: one SMTP session each, EHLO (and STARTTLS) once, then
//! MAIL, RCPT, DATA and the message for every message: MAIL, RCPT and DATA
//! in one write when the server offers PIPELINING (RFC 2920), as mail
//! servers send them, one at a time otherwise. Hand-written rather than our
//! client driver, so that the clock starts exactly when the message's last
//! bytes are written and stops exactly when the `250` is read, and so that
//! the clients cost the machine as little as they can.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use rustls::pki_types::ServerName;
use tokio::io::{AsyncBufReadExt as _, AsyncRead, AsyncWrite, AsyncWriteExt as _, BufReader};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use crate::message::{RECIPIENT, SENDER, write_message};
use crate::tls::SERVER_NAME;

/// Most lines one reply may have, so a broken server cannot keep a client reading.
const MAX_REPLY_LINES: usize = 100;

/// What each session sends.
#[derive(Clone)]
pub(crate) struct Load {
    /// Messages per session.
    pub(crate) messages: u32,
    /// Bytes per message.
    pub(crate) size: usize,
    /// Run STARTTLS after the first EHLO, trusting this client's CA.
    pub(crate) starttls: Option<TlsConnector>,
    /// Pipeline MAIL, RCPT and DATA when the server offers PIPELINING.
    pub(crate) pipelining: bool,
}

/// What one session saw.
#[derive(Debug, Default)]
pub(crate) struct SessionReport {
    /// End of DATA to `250`, for each accepted message.
    pub(crate) latencies: Vec<Duration>,
    /// Messages answered `250` at the end of DATA.
    pub(crate) accepted: u64,
    /// Messages refused at some step (MAIL, RCPT, DATA or the end of DATA).
    pub(crate) refused: u64,
    /// Messages never tried because the session broke off.
    pub(crate) not_sent: u64,
    /// Whether the session pipelined its commands.
    pub(crate) pipelined: bool,
    /// When the first MAIL was written.
    pub(crate) first_mail: Option<Instant>,
    /// When the last `250` at the end of DATA was read.
    pub(crate) last_accept: Option<Instant>,
    /// What went wrong, first few only.
    pub(crate) errors: Vec<String>,
}

/// Runs session number `session` against `addr`.
pub(crate) async fn run_session(addr: SocketAddr, session: u32, load: Load) -> SessionReport {
    let mut report = SessionReport::default();
    if let Err(failure) = connect_and_send(addr, session, &load, &mut report).await {
        report.note(format!("session {session}: {failure}"));
    }
    report.not_sent = u64::from(load.messages).saturating_sub(report.accepted + report.refused);
    report
}

impl SessionReport {
    fn note(&mut self, error: String) {
        if self.errors.len() < 5 {
            self.errors.push(error);
        }
    }
}

/// Why a step did not give the reply expected.
enum Failure {
    /// The server answered with another code: this message fails, the session goes on.
    Refused(String),
    /// The connection broke or the server spoke nonsense: the session ends.
    Broken(String),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Refused(text) | Failure::Broken(text) => f.write_str(text),
        }
    }
}

async fn connect_and_send(
    addr: SocketAddr,
    session: u32,
    load: &Load,
    report: &mut SessionReport,
) -> Result<(), Failure> {
    let broken = |what: &str, e: &dyn std::fmt::Display| Failure::Broken(format!("{what}: {e}"));
    let tcp = TcpStream::connect(addr).await.map_err(|e| broken(&format!("connect to {addr}"), &e))?;
    // Commands are whole writes already; Nagle would only add delay.
    tcp.set_nodelay(true).map_err(|e| broken("TCP_NODELAY", &e))?;
    let mut conn = BufReader::new(tcp);
    let mut line = Vec::new();
    expect(&mut conn, &mut line, None, 220).await?;
    let offers = ehlo(&mut conn, &mut line).await?;
    let Some(connector) = &load.starttls else {
        report.pipelined = load.pipelining && offers.pipelining;
        return send_messages(&mut conn, session, load, report).await;
    };
    if !offers.starttls {
        return Err(Failure::Broken("the server does not offer STARTTLS".into()));
    }
    expect(&mut conn, &mut line, Some(b"STARTTLS\r\n"), 220).await?;
    if !conn.buffer().is_empty() {
        return Err(Failure::Broken("the server sent more after its 220 to STARTTLS".into()));
    }
    let name = ServerName::try_from(SERVER_NAME).map_err(|e| broken("server name", &e))?;
    let tls = connector.connect(name, conn.into_inner()).await.map_err(|e| broken("TLS handshake", &e))?;
    let mut conn = BufReader::new(tls);
    // The capabilities before TLS no longer count (RFC 3207).
    let offers = ehlo(&mut conn, &mut line).await?;
    report.pipelined = load.pipelining && offers.pipelining;
    send_messages(&mut conn, session, load, report).await
}

async fn send_messages<S: AsyncRead + AsyncWrite + Unpin>(
    conn: &mut BufReader<S>,
    session: u32,
    load: &Load,
    report: &mut SessionReport,
) -> Result<(), Failure> {
    let mail = format!("MAIL FROM:<{SENDER}>\r\n");
    let rcpt = format!("RCPT TO:<{RECIPIENT}>\r\n");
    let envelope = format!("{mail}{rcpt}DATA\r\n");
    let mut line = Vec::new();
    let mut message = Vec::with_capacity(load.size + 3);
    for index in 0..load.messages {
        report.first_mail.get_or_insert_with(Instant::now);
        let result = async {
            if report.pipelined {
                envelope_pipelined(conn, &mut line, envelope.as_bytes()).await?;
            } else {
                expect(conn, &mut line, Some(mail.as_bytes()), 250).await?;
                expect(conn, &mut line, Some(rcpt.as_bytes()), 250).await?;
                expect(conn, &mut line, Some(b"DATA\r\n"), 354).await?;
            }
            write_message(&mut message, session, index, load.size);
            message.extend_from_slice(b".\r\n");
            // The message and its final ".\r\n" go in one write, as a real
            // client sends them; the clock starts just before it.
            let start = Instant::now();
            expect(conn, &mut line, Some(&message), 250).await?;
            Ok::<_, Failure>(start)
        }
        .await;
        match result {
            Ok(start) => {
                let now = Instant::now();
                report.latencies.push(now - start);
                report.accepted += 1;
                report.last_accept = Some(now);
            }
            Err(Failure::Refused(reply)) => {
                report.refused += 1;
                report.note(format!("session {session} message {index}: {reply}"));
                expect(conn, &mut line, Some(b"RSET\r\n"), 250).await?;
            }
            Err(broken @ Failure::Broken(_)) => return Err(broken),
        }
    }
    // The figures are in; a failed goodbye changes none of them.
    let _ = expect(conn, &mut line, Some(b"QUIT\r\n"), 221).await;
    Ok(())
}

/// What EHLO offered, of what the clients use.
struct Offers {
    pipelining: bool,
    starttls: bool,
}

/// Says EHLO and notes the extensions offered.
async fn ehlo<S: AsyncRead + AsyncWrite + Unpin>(
    conn: &mut BufReader<S>,
    line: &mut Vec<u8>,
) -> Result<Offers, Failure> {
    let io = |e: std::io::Error| Failure::Broken(format!("connection: {e}"));
    conn.write_all(b"EHLO load.test\r\n").await.map_err(io)?;
    conn.flush().await.map_err(io)?;
    let mut offers = Offers { pipelining: false, starttls: false };
    let code = read_reply_with(conn, line, |keyword| match keyword {
        b"PIPELINING" => offers.pipelining = true,
        b"STARTTLS" => offers.starttls = true,
        _ => {}
    })
    .await?;
    if code != 250 {
        return Err(Failure::Broken(format!("EHLO: `{}`", String::from_utf8_lossy(line).trim_end())));
    }
    Ok(offers)
}

/// MAIL, RCPT and DATA in one write, then their three replies. On a
/// refusal after a `354` (a server that should have refused DATA), the
/// empty message is ended so that the session stays in step.
async fn envelope_pipelined<S: AsyncRead + AsyncWrite + Unpin>(
    conn: &mut BufReader<S>,
    line: &mut Vec<u8>,
    envelope: &[u8],
) -> Result<(), Failure> {
    let io = |e: std::io::Error| Failure::Broken(format!("connection: {e}"));
    conn.write_all(envelope).await.map_err(io)?;
    conn.flush().await.map_err(io)?;
    let mut refusal = None;
    for (step, code) in [("MAIL", 250), ("RCPT", 250), ("DATA", 354)] {
        let got = read_reply(conn, line).await?;
        if got != code && refusal.is_none() {
            let reply = String::from_utf8_lossy(line).trim_end().to_owned();
            refusal = Some(format!("{step} (pipelined): expected {code}, got `{reply}`"));
        }
        if step == "DATA"
            && got == 354
            && refusal.is_some()
            && let Err(broken @ Failure::Broken(_)) = expect(conn, line, Some(b".\r\n"), 250).await
        {
            return Err(broken);
        }
    }
    refusal.map_or(Ok(()), |reply| Err(Failure::Refused(reply)))
}

/// Writes `command` (if any) and reads one reply, which must have `code`.
async fn expect<S: AsyncRead + AsyncWrite + Unpin>(
    conn: &mut BufReader<S>,
    line: &mut Vec<u8>,
    command: Option<&[u8]>,
    code: u16,
) -> Result<(), Failure> {
    let io = |e: std::io::Error| Failure::Broken(format!("connection: {e}"));
    if let Some(command) = command {
        conn.write_all(command).await.map_err(io)?;
        // A no-op on TCP; TLS may hold the last record back until flushed.
        conn.flush().await.map_err(io)?;
    }
    let got = read_reply(conn, line).await?;
    if got == code {
        return Ok(());
    }
    let sent = command.map_or_else(
        || "the greeting".to_owned(),
        |c| String::from_utf8_lossy(&c[..c.len().min(40)]).trim_end().to_owned(),
    );
    Err(Failure::Refused(format!(
        "{sent}: expected {code}, got `{}`",
        String::from_utf8_lossy(line).trim_end()
    )))
}

/// Reads one reply (all its lines) and returns its code; `line` keeps its
/// last line for messages.
async fn read_reply<S: AsyncRead + Unpin>(
    conn: &mut BufReader<S>,
    line: &mut Vec<u8>,
) -> Result<u16, Failure> {
    read_reply_with(conn, line, |_| {}).await
}

/// [`read_reply`], handing the first word after the code of every line
/// but the first (EHLO's keywords) to `keyword`.
async fn read_reply_with<S: AsyncRead + Unpin>(
    conn: &mut BufReader<S>,
    line: &mut Vec<u8>,
    mut keyword: impl FnMut(&[u8]),
) -> Result<u16, Failure> {
    for number in 0..MAX_REPLY_LINES {
        line.clear();
        let read = conn
            .read_until(b'\n', line)
            .await
            .map_err(|e| Failure::Broken(format!("reading a reply: {e}")))?;
        if read == 0 {
            return Err(Failure::Broken("the server closed the connection".into()));
        }
        let code = line
            .get(..3)
            .and_then(|digits| std::str::from_utf8(digits).ok())
            .and_then(|digits| digits.parse::<u16>().ok())
            .ok_or_else(|| {
                Failure::Broken(format!("not an SMTP reply: `{}`", String::from_utf8_lossy(line).trim_end()))
            })?;
        if number > 0 {
            let text = line.get(4..).unwrap_or_default();
            let word = text.split(|b| b.is_ascii_whitespace()).next().unwrap_or_default();
            keyword(&word.to_ascii_uppercase());
        }
        if line.get(3) != Some(&b'-') {
            return Ok(code);
        }
    }
    Err(Failure::Broken(format!("a reply of more than {MAX_REPLY_LINES} lines")))
}
