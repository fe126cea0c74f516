//! Maildir delivery, as <https://cr.yp.to/proto/maildir.html> describes it.

use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use super::render::{Quoting, write_message};
use super::{LocalError, LocalMessage, RunAs, owner};

/// How many times a unique name is tried before giving up: a clash needs
/// another process with our PID on a host with our name in the same
/// microsecond, so a second try already means something is odd.
const NAME_ATTEMPTS: u32 = 10;

/// Delivers `msg` into the Maildir `maildir` and returns the new file's path
/// (in `new/`).
///
/// Missing directories are made (mode 0700); the message is written to
/// `tmp/`, fsynced, linked into `new/` and `new/` is fsynced; any failure
/// removes the file from `tmp/`. Line ends become LF and a `Return-Path:`
/// header comes first (see the [module documentation](super)).
///
/// ```
/// # let dir = tempfile::tempdir().unwrap();
/// use smarthost_relay::local::{LocalMessage, deliver_maildir};
///
/// let msg = LocalMessage {
///     queue_id: "4A1B2C",
///     sender: "alice@example.org",
///     recipient: "bob@example.net",
///     user: "bob",
///     content: b"Subject: hi\r\n\r\nHello\r\n",
///     arrival: std::time::SystemTime::now(),
///     run_as: None,
///     home: None,
/// };
/// let file = deliver_maildir(&dir.path().join("Maildir"), &msg)?;
/// assert_eq!(file.parent().unwrap().file_name().unwrap(), "new");
/// let text = std::fs::read_to_string(&file).unwrap();
/// assert_eq!(text, "Return-Path: <alice@example.org>\nSubject: hi\n\nHello\n");
/// # Ok::<(), smarthost_relay::local::LocalError>(())
/// ```
pub fn deliver_maildir(maildir: &Path, msg: &LocalMessage<'_>) -> Result<PathBuf, LocalError> {
    let owner = owner(msg, "this Maildir")?;
    for dir in [maildir.to_path_buf(), maildir.join("tmp"), maildir.join("new"), maildir.join("cur")] {
        make_dir(&dir, owner)?;
        if let Some(owner) = owner {
            check_dir(&dir, owner)?;
        }
    }
    let (tmp, file) = create_in_tmp(&maildir.join("tmp"), owner)?;
    let delivered = write_and_sync(&file, &tmp, msg).and_then(|()| link_into_new(&tmp, &maildir.join("new")));
    drop(file);
    // Linked or not, the name in tmp/ goes: after a failure that is the
    // cleanup, after a link it is the spec's last step. If even that fails,
    // a stray file in tmp/ is harmless (readers never look there).
    let _ = fs::remove_file(&tmp);
    delivered
}

/// Makes `dir` and any missing parent with mode 0700, owned by `owner`.
fn make_dir(dir: &Path, owner: Option<RunAs>) -> Result<(), LocalError> {
    match fs::metadata(dir) {
        Ok(meta) if meta.is_dir() => return Ok(()),
        Ok(_) => {
            return Err(LocalError::unsafe_mailbox(
                dir,
                "is not a directory",
                "move it away so that a Maildir can be made there, or fix local.path",
            ));
        }
        Err(error) if error.kind() == io::ErrorKind::NotFound => {}
        Err(error) => return Err(LocalError::io("cannot examine", dir, &error)),
    }
    if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        make_dir(parent, owner)?;
    }
    match DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => {}
        // Another delivery made it meanwhile: fine, it is a directory now.
        Err(error) if error.kind() == io::ErrorKind::AlreadyExists => return Ok(()),
        Err(error) => return Err(LocalError::io("cannot create the directory", dir, &error)),
    }
    if let Some(owner) = owner {
        std::os::unix::fs::chown(dir, Some(owner.uid), Some(owner.gid))
            .map_err(|e| LocalError::io("cannot give the new directory to its user:", dir, &e))?;
    }
    // The new name must survive a crash as well as the file in it.
    if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        sync_dir(parent)?;
    }
    Ok(())
}

/// As root: `dir` must be a real directory (not a link a user could point
/// anywhere) owned by the mailbox's user or by root.
fn check_dir(dir: &Path, owner: RunAs) -> Result<(), LocalError> {
    let meta = fs::symlink_metadata(dir).map_err(|e| LocalError::io("cannot examine", dir, &e))?;
    if meta.file_type().is_symlink() {
        return Err(LocalError::unsafe_mailbox(
            dir,
            "is a symbolic link and the relay runs as root",
            "replace the link with a real directory",
        ));
    }
    if meta.uid() != owner.uid && meta.uid() != 0 {
        return Err(LocalError::unsafe_mailbox(
            dir,
            &format!("is owned by uid {}, not by the mailbox's user (uid {})", meta.uid(), owner.uid),
            &format!("run `chown -R {}:{} {}`", owner.uid, owner.gid, dir.display()),
        ));
    }
    Ok(())
}

/// Creates a new file with a unique name in `tmp` (exclusively, mode 0600).
fn create_in_tmp(tmp: &Path, owner: Option<RunAs>) -> Result<(PathBuf, File), LocalError> {
    let mut last = None;
    for _ in 0..NAME_ATTEMPTS {
        let path = tmp.join(unique_name());
        match OpenOptions::new().write(true).create_new(true).mode(0o600).open(&path) {
            Ok(file) => {
                if let Some(owner) = owner
                    && let Err(error) = std::os::unix::fs::fchown(&file, Some(owner.uid), Some(owner.gid))
                {
                    let _ = fs::remove_file(&path);
                    return Err(LocalError::io("cannot give the message file to its user:", &path, &error));
                }
                return Ok((path, file));
            }
            Err(error) if error.kind() == io::ErrorKind::AlreadyExists => last = Some(error),
            Err(error) => return Err(LocalError::io("cannot create", &path, &error)),
        }
    }
    let error = last.unwrap_or_else(|| io::Error::from(io::ErrorKind::AlreadyExists));
    Err(LocalError::io("cannot find a free name in", tmp, &error))
}

fn write_and_sync(file: &File, path: &Path, msg: &LocalMessage<'_>) -> Result<(), LocalError> {
    let mut out = BufWriter::with_capacity(64 * 1024, file);
    write_message(&mut out, msg, Quoting::None)
        .and_then(|()| out.flush())
        .map_err(|e| LocalError::io("cannot write", path, &e))?;
    file.sync_all().map_err(|e| LocalError::io("cannot sync", path, &e))
}

/// Links the file at `tmp` into `new` under a fresh unique name (the spec's
/// way: a link never replaces a file), or renames it where the file system
/// has no hard links; then makes the new name durable.
fn link_into_new(tmp: &Path, new: &Path) -> Result<PathBuf, LocalError> {
    let mut name = tmp.file_name().map(PathBuf::from).unwrap_or_else(|| PathBuf::from(unique_name()));
    for _ in 0..NAME_ATTEMPTS {
        let target = new.join(&name);
        let linked = match fs::hard_link(tmp, &target) {
            Err(error) if no_hard_links(&error) => {
                if fs::symlink_metadata(&target).is_ok() {
                    Err(io::Error::from(io::ErrorKind::AlreadyExists))
                } else {
                    fs::rename(tmp, &target)
                }
            }
            other => other,
        };
        match linked {
            Ok(()) => {
                if let Err(error) = sync_dir(new) {
                    // Not durable: take it back and let the queue retry.
                    let _ = fs::remove_file(&target);
                    return Err(error);
                }
                return Ok(target);
            }
            Err(error) if error.kind() == io::ErrorKind::AlreadyExists => name = PathBuf::from(unique_name()),
            Err(error) => return Err(LocalError::io("cannot link the message into", new, &error)),
        }
    }
    Err(LocalError::io("cannot find a free name in", new, &io::Error::from(io::ErrorKind::AlreadyExists)))
}

/// Whether a failed `link` means the file system cannot make hard links.
fn no_hard_links(error: &io::Error) -> bool {
    matches!(error.raw_os_error(), Some(libc::EPERM | libc::EOPNOTSUPP | libc::EMLINK | libc::ENOSYS))
}

fn sync_dir(dir: &Path) -> Result<(), LocalError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| LocalError::io("cannot sync the directory", dir, &e))
}

/// `SECONDS.M<microseconds>P<pid>Q<count>.HOST`, the spec's recommended
/// unique name, with `/` and `:` in the host name written `\057`, `\072`.
fn unique_name() -> String {
    static DELIVERIES: AtomicU64 = AtomicU64::new(0);
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    let count = DELIVERIES.fetch_add(1, Ordering::Relaxed) + 1;
    format!("{}.M{}P{}Q{count}.{}", now.as_secs(), now.subsec_micros(), std::process::id(), host_name())
}

fn host_name() -> &'static str {
    static NAME: OnceLock<String> = OnceLock::new();
    NAME.get_or_init(|| {
        let name = fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
        let name = name.trim();
        let name = if name.is_empty() { "localhost" } else { name };
        name.replace('/', "\\057").replace(':', "\\072")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unique_names_have_the_spec_shape_and_differ() {
        let a = unique_name();
        let b = unique_name();
        assert_ne!(a, b);
        let (secs, rest) = a.split_once(".M").unwrap();
        assert!(secs.parse::<u64>().is_ok(), "{a}");
        let (micros, rest) = rest.split_once('P').unwrap();
        assert!(micros.parse::<u32>().unwrap() < 1_000_000, "{a}");
        let (pid, rest) = rest.split_once('Q').unwrap();
        assert_eq!(pid.parse::<u32>().unwrap(), std::process::id());
        let (count, host) = rest.split_once('.').unwrap();
        assert!(count.parse::<u64>().is_ok(), "{a}");
        assert!(!host.is_empty() && !host.contains('/') && !host.contains(':'), "{a}");
    }
}
