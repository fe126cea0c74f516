//! The fast sink: our own SMTP server driver on 127.0.0.1 with a policy
//! that takes every message and keeps only a count, so the relay's
//! deliveries cost it as little as an SMTP server can.

use std::collections::HashSet;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use smarthost_smtp_core::tokio::{ServerPolicy, ServerTls, serve_connection};
use smarthost_smtp_core::{Question, ServerConfig, Verdict};
use tokio::net::TcpListener;

use crate::message::load_id;

/// A running sink: where it listens and what it has received.
pub(crate) struct Sink {
    /// Its address.
    pub(crate) addr: SocketAddr,
    /// Its counts, shared with every connection it serves.
    pub(crate) counts: Arc<SinkCounts>,
}

/// What the sink has received. A message counts as delivered when the sink
/// has it, just before its `250` goes out.
#[derive(Debug)]
pub(crate) struct SinkCounts {
    /// When the sink started; `last_delivery_nanos` counts from here.
    started: Instant,
    /// The latest delivery, in nanoseconds after `started`; 0: none yet.
    last_delivery_nanos: AtomicU64,
    /// Message bytes received (without the sink's own `Received:`).
    bytes: AtomicU64,
    /// The load ids seen, to tell distinct messages from repeated ones.
    seen: Mutex<HashSet<(u32, u32)>>,
    /// Messages whose load id was seen before.
    duplicates: AtomicU64,
    /// Messages with no load id: not sent by this program (a bounce, say).
    foreign: AtomicU64,
}

impl Sink {
    /// Listens on 127.0.0.1 at a port the system picks and serves every
    /// connection on its own task; with `tls`, offers STARTTLS.
    pub(crate) async fn start(tls: Option<ServerTls>) -> io::Result<Sink> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let mut config = ServerConfig::new("sink.test").map_err(io::Error::other)?;
        // The relay's messages carry its Received: lines, and the load may
        // be run with large messages: neither is the sink's business.
        config.max_message_size = None;
        config.tls_available = tls.is_some();
        let config = Arc::new(config);
        let counts = Arc::new(SinkCounts {
            started: Instant::now(),
            last_delivery_nanos: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            seen: Mutex::new(HashSet::new()),
            duplicates: AtomicU64::new(0),
            foreign: AtomicU64::new(0),
        });
        let shared = counts.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    // Out of descriptors, most likely: back off rather than spin.
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                };
                let _ = stream.set_nodelay(true);
                let (config, tls) = (config.clone(), tls.clone());
                let mut policy = SinkPolicy(shared.clone());
                tokio::spawn(async move {
                    // A connection that fails is the relay's (or client's) to
                    // report; the sink only counts what arrives.
                    let _ = serve_connection(stream, config, tls.as_ref(), &mut policy).await;
                });
            }
        });
        Ok(Sink { addr, counts })
    }
}

impl SinkCounts {
    /// Distinct messages from this program received so far.
    pub(crate) fn delivered(&self) -> u64 {
        self.seen.lock().map_or(0, |seen| seen.len() as u64)
    }

    /// When the latest message arrived.
    pub(crate) fn last_delivery(&self) -> Option<Instant> {
        match self.last_delivery_nanos.load(Ordering::Acquire) {
            0 => None,
            nanos => Some(self.started + Duration::from_nanos(nanos)),
        }
    }

    /// Message bytes received.
    pub(crate) fn bytes(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }

    /// Messages received again (same load id).
    pub(crate) fn duplicates(&self) -> u64 {
        self.duplicates.load(Ordering::Relaxed)
    }

    /// Messages received that this program did not send.
    pub(crate) fn foreign(&self) -> u64 {
        self.foreign.load(Ordering::Relaxed)
    }

    fn record(&self, message: &[u8]) {
        self.bytes.fetch_add(message.len() as u64, Ordering::Relaxed);
        match load_id(message) {
            Some(id) => {
                let fresh = self.seen.lock().map(|mut seen| seen.insert(id)).unwrap_or(true);
                if !fresh {
                    self.duplicates.fetch_add(1, Ordering::Relaxed);
                }
            }
            None => {
                self.foreign.fetch_add(1, Ordering::Relaxed);
            }
        }
        // At least 1 ns, so that 0 keeps meaning "nothing yet".
        let nanos = (self.started.elapsed().as_nanos() as u64).max(1);
        self.last_delivery_nanos.fetch_max(nanos, Ordering::AcqRel);
    }
}

/// Takes every message and counts it.
struct SinkPolicy(Arc<SinkCounts>);

impl ServerPolicy for SinkPolicy {
    async fn decide(&mut self, question: Question) -> Verdict {
        match question {
            Question::Message(transaction) => {
                self.0.record(transaction.message());
                Verdict::queued("SINK")
            }
            _ => Verdict::accept(),
        }
    }
}
