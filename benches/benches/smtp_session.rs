//! Whole SMTP transactions through a server session with no IO: EHLO,
//! MAIL, ten RCPT and DATA pipelined as a client sends them, then a 4 KiB
//! body, its terminator and QUIT; every question (connect, HELO, MAIL,
//! each RCPT, the message) answered inline. Reported as transactions per
//! second (`Throughput::Elements`).
//!
//! On a shared machine wall-clock figures understate a core's speed; with
//! `SMTP_SESSION_CPU=N` set, the bench instead runs N transactions and
//! reports transactions per second of this thread's CPU time (Linux
//! `/proc/thread-self/schedstat`).

use std::hint::black_box;
use std::sync::Arc;
use std::time::Instant;

use criterion::{Criterion, Throughput};
use smarthost_smtp_core::{Output, Peer, Question, ServerConfig, ServerSession, Verdict};

/// The flights a pipelining client sends: each waits for the replies to
/// the one before (EHLO and DATA end a group, RFC 2920).
fn flights() -> [Vec<u8>; 3] {
    let mut envelope = b"MAIL FROM:<sender@example.org> SIZE=4200 BODY=8BITMIME\r\n".to_vec();
    for i in 0..10 {
        envelope.extend_from_slice(format!("RCPT TO:<recipient{i}@example.net>\r\n").as_bytes());
    }
    envelope.extend_from_slice(b"DATA\r\n");
    let mut content =
        b"From: Sender <sender@example.org>\r\nTo: list@example.net\r\nSubject: bench\r\n\r\n".to_vec();
    let line = b"The quick brown fox jumps over the lazy dog; the relay takes the message.\r\n";
    while content.len() + line.len() <= 4096 {
        content.extend_from_slice(line);
    }
    content.extend_from_slice(b".\r\nQUIT\r\n");
    [b"EHLO client.example\r\n".to_vec(), envelope, content]
}

/// Runs one session to its end; returns the bytes the server sent.
fn transaction(config: &Arc<ServerConfig>, peer: &Peer, flights: &[Vec<u8>; 3], now: Instant) -> usize {
    let mut session = ServerSession::new(config.clone(), peer.clone(), now);
    let mut sent = drain(&mut session, now);
    for flight in flights {
        session.handle_input(flight, now);
        sent += drain(&mut session, now);
    }
    assert!(session.is_closed());
    sent
}

fn drain(session: &mut ServerSession, now: Instant) -> usize {
    let mut sent = 0;
    while let Some(output) = session.poll_output() {
        match output {
            Output::Send(bytes) => sent += black_box(bytes).len(),
            Output::Decide(id, question) => {
                let verdict = match question {
                    Question::Message(transaction) => {
                        black_box(&transaction.content);
                        Verdict::queued("4AB12C")
                    }
                    _ => Verdict::accept(),
                };
                let _ = session.handle_decision(id, verdict, now);
            }
            Output::StartTls | Output::Close => {}
        }
    }
    sent
}

fn main() {
    let config = Arc::new(ServerConfig::new("mx.example.org").unwrap());
    let peer = Peer::new("192.0.2.1:40000".parse().unwrap(), "192.0.2.25:25".parse().unwrap(), 1_700_000_000);
    let flights = flights();
    let now = Instant::now();
    assert!(transaction(&config, &peer, &flights, now) > 0);

    if let Some(count) = std::env::var("SMTP_SESSION_CPU").ok().and_then(|n| n.parse::<u32>().ok()) {
        let (cpu_before, wall) = (on_cpu_ns(), Instant::now());
        for _ in 0..count {
            black_box(transaction(&config, &peer, &flights, now));
        }
        let (cpu, wall) = (on_cpu_ns().saturating_sub(cpu_before), wall.elapsed());
        println!(
            "{count} transactions: {:.0} per CPU-second ({:.2} µs CPU each), {:.0} per wall-clock second",
            f64::from(count) / (cpu as f64 / 1e9),
            cpu as f64 / 1e3 / f64::from(count),
            f64::from(count) / wall.as_secs_f64()
        );
        return;
    }

    let mut criterion = Criterion::default().configure_from_args();
    let mut group = criterion.benchmark_group("smtp_session");
    group.throughput(Throughput::Elements(1));
    group.bench_function("pipelined_transaction_10_rcpt_4k", |b| {
        b.iter(|| transaction(&config, &peer, &flights, now));
    });
    group.finish();
    criterion.final_summary();
}

/// This thread's time on a CPU, in nanoseconds (0 where unknown).
fn on_cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|n| n.parse().ok()))
        .unwrap_or(0)
}
