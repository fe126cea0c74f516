//! mbox delivery (mboxrd, dot-lock and `fcntl`), for mailboxes and for
//! alias `/file` targets.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::os::unix::fs::{FileExt, MetadataExt, OpenOptionsExt};
use std::path::Path;
use std::time::{Duration, Instant};

use super::lock::{DotLock, lock_file};
use super::render::{Quoting, from_line, write_message};
use super::{LocalError, LocalMessage, RunAs, owner};

/// How an mbox is locked while a message is appended.
///
/// The default is what mail readers expect: both locks, 20 s of waiting, a
/// dot-lock older than 5 minutes is stale.
///
/// ```
/// use std::time::Duration;
/// use smarthost_relay::local::MboxLocking;
///
/// let quick = MboxLocking { wait: Duration::from_millis(300), ..MboxLocking::default() };
/// assert!(quick.dotlock && quick.fcntl);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MboxLocking {
    /// Take the dot-lock `FILE.lock` (mutt, mailx, pine and procmail do).
    /// The directory must be writable by the relay.
    pub dotlock: bool,
    /// Take an `fcntl` write lock on the file.
    pub fcntl: bool,
    /// How long to keep trying for a lock before failing temporarily.
    pub wait: Duration,
    /// The age at which a dot-lock is taken as left behind by a dead
    /// program and removed.
    pub stale_after: Duration,
}

impl Default for MboxLocking {
    fn default() -> Self {
        Self {
            dotlock: true,
            fcntl: true,
            wait: Duration::from_secs(20),
            stale_after: Duration::from_secs(300),
        }
    }
}

/// Appends `msg` to the mbox `file` (created with mode 0600 if missing; its
/// directory must exist), locked as `locking` says, and fsyncs it.
///
/// The entry is `From SENDER DATE`, the message with a `Return-Path:`
/// header, LF line ends and mboxrd quoting, and a blank line. A failed write
/// truncates the file back to its old length.
///
/// ```
/// # let dir = tempfile::tempdir().unwrap();
/// use std::time::{Duration, UNIX_EPOCH};
/// use smarthost_relay::local::{LocalMessage, MboxLocking, deliver_mbox};
///
/// let msg = LocalMessage {
///     queue_id: "4A1B2C",
///     sender: "",
///     recipient: "bob@example.net",
///     user: "bob",
///     content: b"Subject: hi\r\n\r\nFrom here on\r\n",
///     arrival: UNIX_EPOCH + Duration::from_secs(1_700_000_000),
///     run_as: None,
///     home: None,
/// };
/// let mbox = dir.path().join("bob");
/// deliver_mbox(&mbox, &msg, MboxLocking::default())?;
/// assert_eq!(
///     std::fs::read_to_string(&mbox).unwrap(),
///     "From MAILER-DAEMON Tue Nov 14 22:13:20 2023\n\
///      Return-Path: <>\nSubject: hi\n\n>From here on\n\n"
/// );
/// # Ok::<(), smarthost_relay::local::LocalError>(())
/// ```
pub fn deliver_mbox(file: &Path, msg: &LocalMessage<'_>, locking: MboxLocking) -> Result<(), LocalError> {
    let owner = owner(msg, "this mbox")?;
    append(file, msg, &locking, owner, Target::Mailbox)
}

/// Appends `msg` to the file named by an alias `/file` target, exactly as
/// [`deliver_mbox`] does, with sendmail's rules for such targets: the path
/// must be absolute, `/dev/null` accepts and discards, and a file with an
/// execute bit set is refused permanently (`5.2.0`), since a program is not
/// a mailbox.
pub fn deliver_file(file: &Path, msg: &LocalMessage<'_>, locking: MboxLocking) -> Result<(), LocalError> {
    if file == Path::new("/dev/null") {
        return Ok(());
    }
    if !file.is_absolute() {
        return Err(LocalError::permanent(
            "5.3.5",
            format!("the file target {} is not an absolute path; write it as /path/to/file", file.display()),
        ));
    }
    let owner = owner(msg, "this file")?;
    append(file, msg, &locking, owner, Target::File)
}

/// What is being appended to, for the checks that differ.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Target {
    Mailbox,
    File,
}

fn append(
    path: &Path,
    msg: &LocalMessage<'_>,
    locking: &MboxLocking,
    owner: Option<RunAs>,
    target: Target,
) -> Result<(), LocalError> {
    let deadline = Instant::now() + locking.wait;
    // Dot-lock first, then open and fcntl-lock: the order of mutt and
    // Postfix. Locals drop in reverse, so the file is closed (releasing the
    // fcntl lock) before the dot-lock is removed.
    let _dotlock = if locking.dotlock { Some(DotLock::acquire(path, locking, deadline)?) } else { None };
    let file = open(path, owner, target)?;
    if locking.fcntl {
        lock_file(&file, path, locking, deadline)?;
    }
    let start = file.metadata().map_err(|e| LocalError::io("cannot examine", path, &e))?.len();
    let written = write_entry(&file, start, msg)
        .map_err(|e| LocalError::io("cannot write to", path, &e))
        .and_then(|()| file.sync_all().map_err(|e| LocalError::io("cannot sync", path, &e)));
    if written.is_err() {
        // Take back the half-written entry so readers never see it; if even
        // that fails, the error already tells the operator to look.
        let _ = file.set_len(start).and_then(|()| file.sync_all());
    }
    written
}

/// Writes one entry at the end of `file`, whose length is `start`: the blank
/// line separators need after an entry someone else left unterminated, the
/// `From ` line, the message and the closing blank line.
fn write_entry(file: &File, start: u64, msg: &LocalMessage<'_>) -> io::Result<()> {
    let gap = gap_before_entry(file, start)?;
    let mut out = BufWriter::with_capacity(64 * 1024, file);
    out.write_all(gap)?;
    out.write_all(from_line(msg.sender, msg.arrival).as_bytes())?;
    write_message(&mut out, msg, Quoting::Mboxrd)?;
    out.write_all(b"\n")?;
    out.flush()
}

/// A `From ` line is a separator only after a blank line (or at the start):
/// what the file's last two bytes need for that.
fn gap_before_entry(file: &File, len: u64) -> io::Result<&'static [u8]> {
    if len == 0 {
        return Ok(b"");
    }
    let mut tail = [0u8; 2];
    let tail = if len == 1 {
        file.read_exact_at(&mut tail[1..], 0)?;
        [b'\n', tail[1]] // the start of the file counts as a line end
    } else {
        file.read_exact_at(&mut tail, len - 2)?;
        tail
    };
    Ok(match tail {
        [b'\n', b'\n'] => b"",
        [_, b'\n'] => b"\n",
        _ => b"\n\n",
    })
}

/// Opens (or creates) the file to append to, checking what must hold when
/// the relay writes as root on a user's behalf (see the module docs).
fn open(path: &Path, owner: Option<RunAs>, target: Target) -> Result<File, LocalError> {
    // As root, never follow a link: the user could point it at any file.
    let no_follow = if owner.is_some() { libc::O_NOFOLLOW } else { 0 };
    for _ in 0..2 {
        let before = match fs::symlink_metadata(path) {
            Ok(meta) => Some(meta),
            Err(error) if error.kind() == io::ErrorKind::NotFound => None,
            Err(error) => return Err(LocalError::io("cannot examine", path, &error)),
        };
        let Some(before) = before else {
            match OpenOptions::new().read(true).append(true).create_new(true).mode(0o600).open(path) {
                Ok(file) => return created(file, path, owner),
                // Another delivery created it meanwhile: open that one.
                Err(error) if error.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(error) => return Err(LocalError::io("cannot create", path, &error)),
            }
        };
        if owner.is_some() && before.file_type().is_symlink() {
            return Err(LocalError::unsafe_mailbox(
                path,
                "is a symbolic link and the relay runs as root",
                "replace the link with the file itself",
            ));
        }
        let file = OpenOptions::new()
            .read(true)
            .append(true)
            .custom_flags(no_follow | libc::O_NONBLOCK)
            .open(path)
            .map_err(|e| LocalError::io("cannot open", path, &e))?;
        let meta = file.metadata().map_err(|e| LocalError::io("cannot examine", path, &e))?;
        check_opened(path, &before, &meta, owner, target)?;
        return Ok(file);
    }
    Err(LocalError::temporary(
        "4.2.0",
        format!("{}: appeared and vanished while being opened", path.display()),
    ))
}

/// Gives a newly created file to its user and makes its name durable.
fn created(file: File, path: &Path, owner: Option<RunAs>) -> Result<File, LocalError> {
    let undo = |error: LocalError| {
        let _ = fs::remove_file(path);
        error
    };
    if let Some(owner) = owner {
        std::os::unix::fs::fchown(&file, Some(owner.uid), Some(owner.gid))
            .map_err(|e| undo(LocalError::io("cannot give the new mailbox to its user:", path, &e)))?;
    }
    if let Some(dir) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| undo(LocalError::io("cannot sync the directory", dir, &e)))?;
    }
    Ok(file)
}

/// The checks on an existing file once it is open (`before` is what
/// `lstat` saw just before).
fn check_opened(
    path: &Path,
    before: &fs::Metadata,
    meta: &fs::Metadata,
    owner: Option<RunAs>,
    target: Target,
) -> Result<(), LocalError> {
    if !meta.is_file() {
        return Err(LocalError::unsafe_mailbox(
            path,
            "is not a regular file",
            "move it away (a new mbox is created on the next delivery) or fix the path",
        ));
    }
    if target == Target::File && meta.mode() & 0o111 != 0 {
        return Err(LocalError::permanent(
            "5.2.0",
            format!("{} is executable, and mail is not appended to programs", path.display()),
        ));
    }
    let Some(owner) = owner else { return Ok(()) };
    if (before.dev(), before.ino()) != (meta.dev(), meta.ino()) {
        return Err(LocalError::unsafe_mailbox(
            path,
            "was replaced while being opened",
            "find out what replaces it (delivery will be retried)",
        ));
    }
    if meta.nlink() != 1 {
        return Err(LocalError::unsafe_mailbox(
            path,
            &format!("has {} hard links and the relay runs as root", meta.nlink()),
            "give it a single name (copy it and remove the others)",
        ));
    }
    if meta.uid() != owner.uid {
        return Err(LocalError::unsafe_mailbox(
            path,
            &format!("is owned by uid {}, not by the mailbox's user (uid {})", meta.uid(), owner.uid),
            &format!("run `chown {}:{} {}`", owner.uid, owner.gid, path.display()),
        ));
    }
    Ok(())
}
