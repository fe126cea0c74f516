//! What the spool's durability costs on the real disk: a load program, not a
//! criterion benchmark, because each figure is one long run of syncs.
//!
//! ```text
//! cargo bench -p smarthost-benches --bench queue              # the full run, a few seconds each
//! cargo bench -p smarthost-benches --bench queue -- --test    # a tiny run (CI)
//! cargo bench -p smarthost-benches --bench queue -- group     # only the scenarios named
//! ```
//!
//! Three scenarios, in one directory on the filesystem of the target
//! directory (not `/tmp`, which may be tmpfs, where a sync costs nothing):
//!
//! - `floor`: the disk's floor for one durable new file: create a file,
//!   write 4 KiB, `fdatasync` it, `fsync` its directory. Two syncs per
//!   operation; nothing that makes each message durable on its own can beat it.
//! - `per-message`: `Spool::enqueue` of 4 KiB messages from one thread,
//!   `SyncMode::PerMessage`.
//! - `group`: the same from 32 threads at once, `SyncMode::Group`.
//!
//! The storage has no sync counter; to see syncs per message, run the
//! binary under `strace -f -c -e trace=fdatasync,fsync` with one scenario
//! named (the spool's open adds a handful of syncs of its own).

use std::fs::{self, File};
use std::io::Write;
use std::path::Path;
use std::thread;
use std::time::{Duration, Instant};

use smarthost_queue::{Envelope, FsOptions, Recipient, Spool, SyncMode, Timestamp};

/// The message size the figures are for.
const MESSAGE_BYTES: usize = 4096;

/// Concurrent writers in the group-commit scenario: a busy relay's sessions.
const WRITERS: usize = 32;

/// Operations per scenario: (full run, `--test` run).
const FLOOR_OPS: (usize, usize) = (4_000, 10);
const PER_MESSAGE_OPS: (usize, usize) = (12_000, 10);
const GROUP_OPS: (usize, usize) = (128_000, 64);

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let quick = args.iter().any(|arg| arg == "--test");
    let named: Vec<&str> = args.iter().filter(|arg| !arg.starts_with("--")).map(String::as_str).collect();
    let wanted = |name: &str| named.is_empty() || named.contains(&name);
    let ops = |(full, test): (usize, usize)| if quick { test } else { full };

    let base = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("a directory under the target dir");
    println!("spool directory: {} ({} byte messages)", base.path().display(), MESSAGE_BYTES);
    let mut results: Vec<Measured> = Vec::new();
    if wanted("floor") {
        results.push(disk_floor(&base.path().join("floor"), ops(FLOOR_OPS)));
    }
    if wanted("per-message") {
        results.push(per_message(&base.path().join("per-message"), ops(PER_MESSAGE_OPS)));
    }
    if wanted("group") {
        results.push(group(&base.path().join("group"), ops(GROUP_OPS)));
    }
    print_table(&results);
    if let [floor, per_message, group] = &results[..] {
        println!(
            "\nper-message is {:.0}% of the floor (target >= 80%); group is {:.1}x per-message \
             (target >= 10x) and {:.0} msgs/s (target >= 20000)",
            100.0 * per_message.per_second() / floor.per_second(),
            group.per_second() / per_message.per_second(),
            group.per_second()
        );
    }
}

/// One scenario's figures.
struct Measured {
    name: &'static str,
    ops: usize,
    elapsed: Duration,
}

impl Measured {
    fn per_second(&self) -> f64 {
        self.ops as f64 / self.elapsed.as_secs_f64()
    }
}

/// Create, write 4 KiB, fdatasync, fsync the directory: per file.
fn disk_floor(dir: &Path, ops: usize) -> Measured {
    fs::create_dir_all(dir).expect("create the floor directory");
    let directory = File::open(dir).expect("open the floor directory");
    let block = vec![b'x'; MESSAGE_BYTES];
    let start = Instant::now();
    for n in 0..ops {
        let mut file = File::create(dir.join(format!("{n:08}"))).expect("create a file");
        file.write_all(&block).expect("write 4 KiB");
        file.sync_data().expect("fdatasync the file");
        directory.sync_all().expect("fsync the directory");
    }
    Measured { name: "disk floor: create+write+fdatasync+dir fsync", ops, elapsed: start.elapsed() }
}

/// `Spool::enqueue` from one thread, one sync per message.
fn per_message(dir: &Path, ops: usize) -> Measured {
    let options = FsOptions { sync: SyncMode::PerMessage, ..FsOptions::default() };
    let (spool, _) = Spool::open(dir, options).expect("open the spool");
    let body = body();
    let start = Instant::now();
    for n in 0..ops {
        spool.enqueue(envelope(n), &body).expect("enqueue");
    }
    let elapsed = start.elapsed();
    assert_eq!(spool.len(), ops, "every message is queued");
    Measured { name: "Spool::enqueue, 1 writer, PerMessage", ops, elapsed }
}

/// `Spool::enqueue` from [`WRITERS`] threads at once, group commit.
fn group(dir: &Path, ops: usize) -> Measured {
    let options = FsOptions { sync: SyncMode::Group, ..FsOptions::default() };
    let (spool, _) = Spool::open(dir, options).expect("open the spool");
    let body = body();
    let each = ops / WRITERS;
    let start = Instant::now();
    thread::scope(|scope| {
        for writer in 0..WRITERS {
            let (spool, body) = (&spool, &body);
            scope.spawn(move || {
                for n in 0..each {
                    spool.enqueue(envelope(writer * each + n), body).expect("enqueue");
                }
            });
        }
    });
    let elapsed = start.elapsed();
    assert_eq!(spool.len(), each * WRITERS, "every message is queued");
    Measured { name: "Spool::enqueue, 32 writers, Group", ops: each * WRITERS, elapsed }
}

fn envelope(n: usize) -> Envelope {
    Envelope::new(
        format!("sender{n}@example.com"),
        vec![Recipient::new(format!("rcpt{n}@example.org"))],
        Timestamp::now(),
    )
}

/// A 4 KiB message: headers, then a body of text lines.
fn body() -> Vec<u8> {
    let mut body = b"From: sender@example.com\r\nTo: rcpt@example.org\r\nSubject: load\r\n\r\n".to_vec();
    while body.len() < MESSAGE_BYTES {
        body.extend_from_slice(b"The quick brown fox jumps over the lazy dog, again and again.\r\n");
    }
    body.truncate(MESSAGE_BYTES - 2);
    body.extend_from_slice(b"\r\n");
    body
}

fn print_table(results: &[Measured]) {
    println!();
    println!("{:<48} {:>8} {:>9} {:>11} {:>9}", "scenario", "ops", "seconds", "ops/s", "vs first");
    let first = results.first().map(Measured::per_second);
    for measured in results {
        let ratio = first.map_or(String::new(), |first| format!("{:.2}x", measured.per_second() / first));
        println!(
            "{:<48} {:>8} {:>9.3} {:>11.0} {:>9}",
            measured.name,
            measured.ops,
            measured.elapsed.as_secs_f64(),
            measured.per_second(),
            ratio
        );
    }
}
