//! Memory per idle connection: the relay's resident memory before and
//! after thousands of connections that have been greeted and said EHLO,
//! and then sit there.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::sys::Pid;

/// Connections being opened at once: enough to be quick, few enough not
/// to overflow the listen backlog (somaxconn is often 4096, sometimes 128).
const OPENING_AT_ONCE: usize = 100;
/// How long the connections sit before the second reading, so the relay
/// has finished with each one's EHLO.
const SETTLE: Duration = Duration::from_secs(1);
/// How long the relay has to notice the closed connections afterwards.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(10);

/// What the idle phase measured.
#[derive(Debug)]
pub(crate) struct IdleReport {
    /// Connections asked for.
    pub(crate) wanted: usize,
    /// Connections open and past EHLO at the second reading.
    pub(crate) open: usize,
    /// The first failure, if any connection failed.
    pub(crate) first_error: Option<String>,
    /// How long opening them took.
    pub(crate) opening: Duration,
    /// The relay's resident memory before and with the connections, KiB.
    pub(crate) rss_kib: (u64, u64),
    /// The relay's open descriptors before and with the connections.
    pub(crate) fds: (usize, usize),
}

impl IdleReport {
    /// Resident memory added per open connection, in bytes.
    pub(crate) fn bytes_per_connection(&self) -> Option<u64> {
        let added = self.rss_kib.1.saturating_sub(self.rss_kib.0) * 1024;
        (self.open > 0).then(|| added / self.open as u64)
    }
}

/// Opens `count` connections to `addr`, reads each greeting, says EHLO and
/// reads the reply; then reads `relay`'s memory, closes them all, and waits
/// (boundedly) for the relay to let go of them.
pub(crate) async fn measure(addr: SocketAddr, relay: Pid, count: usize) -> Result<IdleReport, String> {
    let unreadable = || "cannot read the relay's /proc entries (has it exited?)".to_owned();
    let fds_before = relay.open_fds().ok_or_else(unreadable)?;
    let rss_before = relay.rss_kib().ok_or_else(unreadable)?;
    let started = Instant::now();
    let permits = Arc::new(Semaphore::new(OPENING_AT_ONCE));
    let mut opening = JoinSet::new();
    for _ in 0..count {
        let permits = permits.clone();
        opening.spawn(async move {
            // The semaphore is never closed, so acquiring cannot fail.
            let _permit = permits.acquire_owned().await.map_err(|e| e.to_string())?;
            open_idle(addr).await
        });
    }
    let mut open = Vec::with_capacity(count);
    let mut first_error = None;
    while let Some(joined) = opening.join_next().await {
        match joined.map_err(|e| e.to_string()).and_then(|result| result) {
            Ok(stream) => open.push(stream),
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    let opening = started.elapsed();
    tokio::time::sleep(SETTLE).await;
    let rss_after = relay.rss_kib().ok_or_else(unreadable)?;
    let fds_after = relay.open_fds().ok_or_else(unreadable)?;
    let report = IdleReport {
        wanted: count,
        open: open.len(),
        first_error,
        opening,
        rss_kib: (rss_before, rss_after),
        fds: (fds_before, fds_after),
    };
    drop(open);
    // The throughput phase that follows should not share the relay with
    // ten thousand closing sessions.
    let deadline = Instant::now() + CLOSE_TIMEOUT;
    while Instant::now() < deadline && relay.open_fds().is_some_and(|fds| fds > fds_before + 10) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(report)
}

/// One connection, greeted and past EHLO; the read buffer is dropped so
/// that only the socket is kept.
async fn open_idle(addr: SocketAddr) -> Result<TcpStream, String> {
    let stream = TcpStream::connect(addr).await.map_err(|e| format!("connect to {addr}: {e}"))?;
    let mut conn = BufReader::with_capacity(1024, stream);
    let mut line = String::new();
    read_reply(&mut conn, &mut line, 220).await?;
    conn.get_mut().write_all(b"EHLO idle.test\r\n").await.map_err(|e| format!("EHLO: {e}"))?;
    read_reply(&mut conn, &mut line, 250).await?;
    Ok(conn.into_inner())
}

async fn read_reply(conn: &mut BufReader<TcpStream>, line: &mut String, code: u16) -> Result<(), String> {
    loop {
        line.clear();
        if conn.read_line(line).await.map_err(|e| format!("reading a reply: {e}"))? == 0 {
            return Err(format!("the relay closed the connection instead of replying {code}"));
        }
        if !line.starts_with(&code.to_string()) {
            return Err(format!("expected {code}, got `{}`", line.trim_end()));
        }
        if line.as_bytes().get(3) != Some(&b'-') {
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sink::Sink;

    /// The sink stands in for the relay, in this process: every connection
    /// shows twice in its descriptors, the client's end and the server's.
    /// Other tests open and close files meanwhile, hence the slack.
    #[tokio::test]
    async fn opens_greets_and_closes() {
        let sink = Sink::start(None).await.unwrap();
        let report = measure(sink.addr, Pid::This, 200).await.unwrap();
        assert_eq!((report.open, report.wanted), (200, 200), "{:?}", report.first_error);
        assert!(report.fds.1 >= report.fds.0 + 350, "{:?}", report.fds);
        assert!(report.bytes_per_connection().is_some());
        assert!(Pid::This.open_fds().unwrap() <= report.fds.0 + 50, "the connections are closed");
    }

    #[tokio::test]
    async fn a_closed_port_is_a_failure_not_a_hang() {
        let port = crate::relay::free_port().unwrap();
        let report = measure(SocketAddr::from(([127, 0, 0, 1], port)), Pid::This, 3).await.unwrap();
        assert_eq!(report.open, 0);
        assert!(report.first_error.as_deref().unwrap().contains("connect to"));
        assert_eq!(report.bytes_per_connection(), None);
    }
}
