//! DATA throughput: the server's `DataReceiver` (unstuffing and the
//! smuggling-safe end of data) and the client's `dot_stuff`, on a 1 MiB
//! message of realistic text: headers, then ~76-octet lines in paragraphs,
//! some of which start with a dot.

use std::hint::black_box;

use criterion::{Criterion, Throughput};
use smarthost_smtp_core::{DataOutcome, DataProgress, DataReceiver, dot_stuff};

/// The body's size before stuffing.
const BODY_BYTES: usize = 1 << 20;

/// A socket read's worth: how a server sees the body arrive.
const READ_BYTES: usize = 64 << 10;

/// The words of the body's text, 16 of them.
const WORDS: &str =
    "the relay message delivery queue of and recipient smarthost a to envelope header in server mail";

/// xorshift64: a fixed stream, so every run sees the same body.
fn next(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

/// A message of `BODY_BYTES` octets with CR LF line endings: a header block,
/// then paragraphs of lines that wrap near 76 octets; one line in 40 starts
/// with a dot (a quoted `.signature`, a list of `.hidden` files), so the
/// stuffing paths run too.
fn body() -> Vec<u8> {
    let mut out = Vec::with_capacity(BODY_BYTES + 100);
    out.extend_from_slice(
        b"Received: from client.example (client.example [192.0.2.1])\r\n\tby mx.example.net with ESMTPS\r\n\
          From: Alice <alice@example.org>\r\nTo: Bob <bob@example.net>\r\nSubject: quarterly report\r\n\
          Message-ID: <1234.5678@example.org>\r\nMIME-Version: 1.0\r\n\
          Content-Type: text/plain; charset=utf-8\r\n\r\n",
    );
    let words: Vec<&str> = WORDS.split(' ').collect();
    let mut state = 0x9e37_79b9_7f4a_7c15;
    let mut line = 0u64;
    while out.len() < BODY_BYTES {
        line += 1;
        if line.is_multiple_of(40) {
            out.push(b'.');
        }
        let mut len = 0;
        while len < 70 {
            let word = words[(next(&mut state) % words.len() as u64) as usize];
            if len > 0 {
                out.push(b' ');
                len += 1;
            }
            out.extend_from_slice(word.as_bytes());
            len += word.len();
        }
        out.extend_from_slice(b"\r\n");
        if next(&mut state).is_multiple_of(8) {
            out.extend_from_slice(b"\r\n");
        }
    }
    out
}

fn data_receive(c: &mut Criterion, body: &[u8]) {
    let mut wire = Vec::new();
    dot_stuff(body, &mut wire);
    let mut group = c.benchmark_group("data_receive");
    group.throughput(Throughput::Bytes(wire.len() as u64));
    let mut content = Vec::with_capacity(body.len());
    let receive = |content: &mut Vec<u8>, read: usize| {
        content.clear();
        let mut receiver = DataReceiver::new(Some(50_000_000));
        for piece in wire.chunks(read) {
            if let DataProgress::Done { outcome, .. } = receiver.handle_input(black_box(piece), content) {
                return outcome;
            }
        }
        panic!("the stuffed body ends with the terminator");
    };
    // Check once that the reader really reads the body, so a broken reader
    // cannot pass for a fast one.
    assert_eq!(receive(&mut content, READ_BYTES), DataOutcome::Complete);
    assert_eq!(content, body);
    group.bench_function("1mib_one_call", |b| b.iter(|| receive(&mut content, wire.len())));
    group.bench_function("1mib_64k_reads", |b| b.iter(|| receive(&mut content, READ_BYTES)));
    group.finish();
}

fn stuff(c: &mut Criterion, body: &[u8]) {
    let mut group = c.benchmark_group("dot_stuff");
    group.throughput(Throughput::Bytes(body.len() as u64));
    let mut wire = Vec::with_capacity(body.len() * 2);
    group.bench_function("1mib", |b| {
        b.iter(|| {
            wire.clear();
            dot_stuff(black_box(body), &mut wire);
            wire.len()
        })
    });
    group.finish();
}

fn main() {
    let body = body();
    let mut c = Criterion::default().configure_from_args();
    data_receive(&mut c, &body);
    stuff(&mut c, &body);
    c.final_summary();
}
