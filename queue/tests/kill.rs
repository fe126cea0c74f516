//! SIGKILL at a random moment loses nothing that was acknowledged.
//!
//! Each round runs `spool-writer` with several threads, kills it 5–80 ms in,
//! and reopens the spool: every ID the writer printed (each printed only
//! after its enqueue returned) must be there with its exact envelope and
//! body, nothing half-written may show, and nothing may be set aside. A
//! SIGKILL keeps the page cache, so this tests the record format and
//! recovery, not the disk (run `spool-writer` by hand across a power cut
//! for that). `SMARTHOST_KILL_ROUNDS` sets the rounds (50 by default);
//! `SMARTHOST_KILL_SEED` replays a failing run.

mod common;

use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use smarthost_queue::{Envelope, FsOptions, Recipient, Spool, Timestamp};

#[test]
fn acknowledged_messages_survive_sigkill() {
    let rounds: u64 = std::env::var("SMARTHOST_KILL_ROUNDS").ok().and_then(|r| r.parse().ok()).unwrap_or(50);
    let seed = std::env::var("SMARTHOST_KILL_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| {
        SystemTime::now().duration_since(UNIX_EPOCH).map_or(1, |d| d.as_nanos() as u64) | 1
    });
    let mut random = XorShift(seed);
    let mut acknowledged = 0;
    for round in 0..rounds {
        let context = format!("round {round} (SMARTHOST_KILL_SEED={seed})");
        acknowledged += kill_round(&mut random, &context);
    }
    eprintln!("{rounds} rounds, {acknowledged} acknowledged messages checked, seed {seed}");
}

/// One round: write, kill, reopen, check. Returns how many IDs were printed.
fn kill_round(random: &mut XorShift, context: &str) -> usize {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let sync = ["group", "per-message", "dangerous_none"][random.below(3) as usize];
    // Bodies from tiny to several pages, so that kills land inside records.
    let size = [0, 100, 3_000, 20_000][random.below(4) as usize] + random.below(100) as usize;
    let threads = 2 + random.below(3);
    let delay = Duration::from_millis(5 + random.below(76));
    let context =
        format!("{context}: --sync {sync} --size {size} --threads {threads}, killed after {delay:?}");

    let mut child = Command::new(env!("CARGO_BIN_EXE_spool-writer"))
        .arg(dir.path())
        .args(["--sync", sync, "--size", &size.to_string(), "--threads", &threads.to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start spool-writer");
    let stdout = child.stdout.take().expect("piped");
    let reader = thread::spawn(move || common::printed(stdout));
    thread::sleep(delay);
    child.kill().expect("kill spool-writer");
    let status = child.wait().expect("reap spool-writer");
    let printed = reader.join().expect("the reader thread");
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().expect("piped"), &mut stderr).ok();
    assert!(
        !status.success() && stderr.is_empty(),
        "{context}: the writer stopped by itself: {status}: {stderr}"
    );

    let (spool, recovery) =
        Spool::open(dir.path(), FsOptions::default()).unwrap_or_else(|e| panic!("{context}: reopen: {e}"));
    assert!(recovery.set_aside.is_empty(), "{context}: records set aside: {:?}", recovery.set_aside);
    let queued = common::check_whole(&spool, &printed, size, &context);
    assert!(queued >= printed.len());
    let corrupt = std::fs::read_dir(dir.path().join("corrupt")).expect("corrupt/ exists").count();
    assert_eq!(corrupt, 0, "{context}: files in corrupt/");

    // The recovered spool takes new mail, and keeps it across another restart.
    let envelope =
        Envelope::new("after@example.com", vec![Recipient::new("x@example.org")], Timestamp::now());
    let id = spool.enqueue(envelope, b"Subject: after\r\n\r\n").unwrap_or_else(|e| panic!("{context}: {e}"));
    drop(spool);
    let (spool, recovery) = Spool::open(dir.path(), FsOptions::default()).expect("second reopen");
    assert!(recovery.set_aside.is_empty() && recovery.discarded_bytes == 0, "{context}: {recovery:?}");
    assert_eq!(spool.len(), queued + 1, "{context}: after the second reopen");
    assert_eq!(spool.body(id).expect("the new message"), b"Subject: after\r\n\r\n");
    printed.len()
}

/// Marsaglia's xorshift64: enough randomness for kill times, replayable
/// from the seed.
struct XorShift(u64);

impl XorShift {
    fn below(&mut self, bound: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % bound
    }
}
