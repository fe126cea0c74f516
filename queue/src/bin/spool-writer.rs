//! A disk torture tool: enqueues messages into a spool in a loop and prints
//! each queue ID once [`Spool::enqueue`] has returned for it.
//!
//! The kill test (`queue/tests/kill.rs`) runs it and SIGKILLs it at a random
//! moment, then checks that every printed ID is in the spool, whole.
//! Operators can use it the same way to check that a disk honours fsync:
//! run it, cut the power, and check after the reboot that every ID it
//! printed is still queued (`smarthost queue list`).
//!
//! ```text
//! spool-writer SPOOL_DIR [--sync per-message|group|dangerous_none]
//!              [--count N] [--size BYTES] [--threads N]
//! ```
//!
//! Each line of output is `ID INDEX`. Message `INDEX` has the sender
//! `sINDEX@example.com`, one recipient `rINDEX@example.org`, and the body
//! `Subject: INDEX\r\n\r\n` followed by `BYTES` filler bytes, letter
//! `a + (INDEX + i) % 26` at position `i`. On an enqueue failure it prints
//! the error to stderr and exits with status 1.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;

use smarthost_queue::{Envelope, FsOptions, Recipient, Spool, SyncMode, Timestamp};

const USAGE: &str = "usage: spool-writer SPOOL_DIR [--sync per-message|group|dangerous_none] \
                     [--count N] [--size BYTES] [--threads N]";

fn main() -> ExitCode {
    let args = match Args::parse(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(message) => {
            eprintln!("spool-writer: {message}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let options = FsOptions { sync: args.sync, ..FsOptions::default() };
    let (spool, _recovery) = match Spool::open(&args.dir, options) {
        Ok(opened) => opened,
        Err(error) => {
            eprintln!("spool-writer: cannot open the spool: {error}");
            return ExitCode::FAILURE;
        }
    };
    let next = AtomicU64::new(0);
    thread::scope(|scope| {
        for _ in 0..args.threads {
            scope.spawn(|| write_messages(&spool, &next, &args));
        }
    });
    ExitCode::SUCCESS
}

/// Enqueues messages until `args.count` have been taken; exits the process
/// on the first failure.
fn write_messages(spool: &Spool, next: &AtomicU64, args: &Args) {
    loop {
        let index = next.fetch_add(1, Ordering::Relaxed);
        if index >= args.count {
            return;
        }
        let envelope = Envelope::new(
            format!("s{index}@example.com"),
            vec![Recipient::new(format!("r{index}@example.org"))],
            Timestamp::now(),
        );
        match spool.enqueue(envelope, &body(index, args.size)) {
            Ok(id) => {
                let mut out = std::io::stdout().lock();
                if writeln!(out, "{id} {index}").and_then(|()| out.flush()).is_err() {
                    // Nobody is listening any more.
                    std::process::exit(3);
                }
            }
            Err(error) => {
                eprintln!(
                    "spool-writer: enqueue of message {index} failed (storage full: {}): {error}",
                    error.is_storage_full()
                );
                std::process::exit(1);
            }
        }
    }
}

/// The body of message `index`: a header naming it, then `size` filler bytes.
fn body(index: u64, size: usize) -> Vec<u8> {
    let mut body = format!("Subject: {index}\r\n\r\n").into_bytes();
    body.extend((0..size).map(|i| b'a' + ((index as usize).wrapping_add(i) % 26) as u8));
    body
}

struct Args {
    dir: PathBuf,
    sync: SyncMode,
    count: u64,
    size: usize,
    threads: usize,
}

impl Args {
    fn parse(mut args: impl Iterator<Item = String>) -> Result<Self, String> {
        let mut parsed =
            Self { dir: PathBuf::new(), sync: SyncMode::Group, count: u64::MAX, size: 256, threads: 1 };
        let mut dir = None;
        while let Some(arg) = args.next() {
            let mut value = || args.next().ok_or_else(|| format!("{arg} needs a value"));
            match arg.as_str() {
                "--sync" => {
                    parsed.sync = value()?.parse::<SyncMode>()?;
                }
                "--count" => parsed.count = number(&arg, &value()?)?,
                "--size" => parsed.size = number(&arg, &value()?)?,
                "--threads" => parsed.threads = number::<usize>(&arg, &value()?)?.max(1),
                other if other.starts_with("--") => return Err(format!("unknown option `{other}`")),
                other if dir.is_none() => dir = Some(PathBuf::from(other)),
                other => return Err(format!("unexpected argument `{other}`")),
            }
        }
        parsed.dir = dir.ok_or("the spool directory is missing")?;
        Ok(parsed)
    }
}

fn number<T: std::str::FromStr>(option: &str, value: &str) -> Result<T, String> {
    value.parse().map_err(|_| format!("{option} wants a number, not `{value}`"))
}
