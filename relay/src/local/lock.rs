//! The two locks mail readers take on an mbox: the dot-lock file beside it
//! and an `fcntl` write lock on the file itself.

use std::ffi::OsString;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant, SystemTime};

use super::mbox::MboxLocking;
use super::{LocalError, sys};

/// The first pause between attempts; it doubles up to [`LONGEST_PAUSE`].
const FIRST_PAUSE: Duration = Duration::from_millis(20);
/// Readers hold their locks for moments; a second between tries is
/// Postfix's pace once the lock has proved busy.
const LONGEST_PAUSE: Duration = Duration::from_secs(1);

/// A held dot-lock, `MBOX.lock`; dropping it removes the file.
#[derive(Debug)]
pub(crate) struct DotLock {
    path: PathBuf,
}

impl DotLock {
    /// Creates `MBOX.lock` exclusively, waiting until `deadline` while
    /// another holds it and removing one older than `locking.stale_after`
    /// (its holder died: a live holder keeps it for moments).
    pub(crate) fn acquire(mbox: &Path, locking: &MboxLocking, deadline: Instant) -> Result<Self, LocalError> {
        let path = lock_path(mbox);
        let mut pause = FIRST_PAUSE;
        loop {
            match OpenOptions::new().write(true).create_new(true).mode(0o600).open(&path) {
                Ok(mut file) => {
                    // The holder's PID, as liblockfile writes it, for an
                    // operator who wonders who holds the lock.
                    let _ = writeln!(file, "{}", std::process::id());
                    return Ok(Self { path });
                }
                Err(error) if error.kind() == io::ErrorKind::AlreadyExists => {
                    if remove_if_stale(&path, locking.stale_after) && Instant::now() < deadline {
                        continue;
                    }
                }
                Err(error) => return Err(LocalError::io("cannot create the lock file", &path, &error)),
            }
            pause = wait_or_give_up(deadline, pause).ok_or_else(|| {
                LocalError::temporary(
                    "4.2.0",
                    format!(
                        "mailbox locked: {} existed for all of {} s; another program (a mail reader, \
                         or a delivery that died within the last {} s) holds it; delivery will be retried",
                        path.display(),
                        locking.wait.as_secs_f32(),
                        locking.stale_after.as_secs()
                    ),
                )
            })?;
        }
    }
}

impl Drop for DotLock {
    fn drop(&mut self) {
        // If this fails the lock is removed as stale later; nothing better
        // can be done from a destructor.
        let _ = fs::remove_file(&self.path);
    }
}

/// Takes the `fcntl` write lock on `file` (at `path`), waiting until
/// `deadline`. The lock lasts until `file` is closed.
pub(crate) fn lock_file(
    file: &File,
    path: &Path,
    locking: &MboxLocking,
    deadline: Instant,
) -> Result<(), LocalError> {
    let mut pause = FIRST_PAUSE;
    loop {
        match sys::try_write_lock(file) {
            Ok(true) => return Ok(()),
            Ok(false) => {}
            Err(error) => return Err(LocalError::io("cannot lock", path, &error)),
        }
        pause = wait_or_give_up(deadline, pause).ok_or_else(|| {
            LocalError::temporary(
                "4.2.0",
                format!(
                    "mailbox locked: another program (probably a mail reader) held an fcntl lock on {} \
                     for all of {} s; delivery will be retried",
                    path.display(),
                    locking.wait.as_secs_f32()
                ),
            )
        })?;
    }
}

/// `MBOX.lock`.
pub(crate) fn lock_path(mbox: &Path) -> PathBuf {
    let mut path = OsString::from(mbox.as_os_str());
    path.push(".lock");
    PathBuf::from(path)
}

/// Sleeps for `pause` (less if `deadline` is nearer) and returns the next
/// pause, or `None` once `deadline` has passed.
fn wait_or_give_up(deadline: Instant, pause: Duration) -> Option<Duration> {
    let left = deadline.checked_duration_since(Instant::now()).filter(|left| !left.is_zero())?;
    thread::sleep(pause.min(left));
    Some((pause * 2).min(LONGEST_PAUSE))
}

/// Removes the lock file at `path` if it was last changed more than
/// `stale_after` ago; `true` if it is gone (removed here or by another).
///
/// Between looking and removing, another deliverer could remove the stale
/// lock and make a fresh one, which this would then remove: the file is
/// examined again just before the removal and left alone if it changed, so
/// that window is the time between two system calls, as in liblockfile
/// and Postfix.
fn remove_if_stale(path: &Path, stale_after: Duration) -> bool {
    let is_stale = |meta: &fs::Metadata| {
        meta.modified()
            .ok()
            .and_then(|when| SystemTime::now().duration_since(when).ok())
            .is_some_and(|age| age > stale_after)
    };
    let first = match fs::symlink_metadata(path) {
        Ok(meta) if is_stale(&meta) => meta,
        Ok(_) => return false,
        Err(error) => return error.kind() == io::ErrorKind::NotFound,
    };
    match fs::symlink_metadata(path) {
        Ok(again) if again.ino() == first.ino() && again.mtime_nsec() == first.mtime_nsec() => {
            fs::remove_file(path).is_ok()
        }
        Ok(_) => false,
        Err(error) => error.kind() == io::ErrorKind::NotFound,
    }
}
