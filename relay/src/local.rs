//! Local delivery: the last step of a message addressed to a user of this
//! host, written into a Maildir, appended to an mbox file, appended to an
//! alias `/file` target, or piped to a program (procmail, an alias
//! `|command`).
//!
//! Everything here is synchronous std code that blocks on the disk and on
//! child processes; the engine calls it from `spawn_blocking`. Each function
//! returns `Ok` only once the message is on stable storage (fsync of the file
//! and, for Maildir, of the `new/` directory) or the program has exited 0.
//! A failure is a [`LocalError`]: temporary (the queue retries) or permanent
//! (the queue bounces), with an RFC 3463 enhanced status code and a sentence
//! for the DSN and the log line that names the path and the fix.
//!
//! # Local delivery (text for the crate README)
//!
//! **Mailbox names.** [`mailbox_path`] puts the user's name in place of each
//! `{user}` in `local.path`. The name is folded to ASCII lower case, as
//! sendmail's `local` mailer (no `u` flag) and Postfix's `local` do, so
//! `Bob` and `bob` share one mailbox. A name that could leave the mail
//! directory or hide in it is refused permanently with `5.1.3`: empty, longer
//! than 255 bytes, containing `/`, NUL or another control character, equal
//! to `..`, or starting with `.`.
//!
//! **Every message gets a `Return-Path:` header.** RFC 5321 section 4.4 has
//! the final-delivery MTA insert it: `Return-Path: <sender>` (`<>` for the
//! null sender) is written before the message's own first line, in every
//! kind of local delivery. Line endings become LF (Unix mailbox files and
//! programs expect LF); a message whose last line has no line end gets one.
//!
//! **Maildir** ([`deliver_maildir`]) follows <https://cr.yp.to/proto/maildir.html>:
//! missing directories (the Maildir, its parents, `tmp`, `new`, `cur`) are
//! made with mode 0700; the message is written to
//! `tmp/SECONDS.M<microseconds>P<pid>Q<count>.HOST` (created exclusively,
//! mode 0600), fsynced, hard-linked into `new/` (renamed where the file
//! system has no hard links), and `new/` is fsynced. On any failure the file
//! in `tmp/` is removed.
//!
//! **mbox** ([`deliver_mbox`], and [`deliver_file`] for alias `/file`
//! targets) appends in the *mboxrd* format that mutt, mailx and Dovecot
//! read: a `From SENDER DATE` line (`MAILER-DAEMON` for the null sender,
//! the arrival time in `asctime` form, UTC), the message with every line
//! that matches `^>*From ` quoted with one more `>`, and a blank line. The
//! file is locked as mail readers lock it: first the dot-lock `FILE.lock`
//! (created with `O_CREAT|O_EXCL`; one older than
//! [`MboxLocking::stale_after`], 5 minutes, is removed), then an `fcntl`
//! write lock on the file itself (an open-file-description lock on Linux,
//! which conflicts with the POSIX locks mutt and mailx take). Both are
//! retried for [`MboxLocking::wait`] (20 s, Postfix's 20 attempts a second
//! apart), then the delivery fails temporarily with `4.2.0 mailbox locked`.
//! The append is made with `O_APPEND` and fsynced; a write or fsync that
//! fails truncates the file back to its old length, so a half message never
//! corrupts the mailbox. A missing mbox file is created with mode 0600; its
//! directory is not created. `/dev/null` as a `/file` target accepts and
//! discards; a file target with an execute bit set is refused (as sendmail
//! refuses it).
//!
//! **Programs** ([`deliver_program`]) run without a shell: the program with
//! its arguments, where `{user}`, `{recipient}` and `{sender}` are replaced
//! in each argument (the null sender becomes `MAILER-DAEMON`, as in Postfix's
//! `pipe`). A value that would make an argument start with `-` is refused
//! permanently, so a sender cannot smuggle an option into the command line.
//! An alias `|command` target becomes `/bin/sh -c command`
//! ([`ProgramCommand::from_alias`]), as sendmail runs it; its text is never
//! expanded (the sender chose those values: a script reads `$SENDER`
//! instead). The environment is cleared and set to `PATH=/usr/bin:/bin`,
//! `SENDER` (empty for the null sender), `RECIPIENT`, `USER` and `LOGNAME`,
//! `LOCAL` and `DOMAIN` (the recipient's two halves) and `HOME` when known;
//! the working directory is `HOME`, or `/` where the program's user cannot
//! enter it (sendmail's `D=$z:/`). The message
//! arrives on standard input with LF line ends and without a `From ` line
//! (like Postfix's `pipe` without flag `F`: procmail and maildrop take the
//! sender from `-f` or `$SENDER`). The program's exit status is read as
//! sysexits, as sendmail reads it: 0 delivered; 75 `EX_TEMPFAIL`, 71
//! `EX_OSERR` and 74 `EX_IOERR` temporary (`4.3.0`); 67 `EX_NOUSER`
//! permanent `5.1.1`; any other status permanent (`5.3.0` unless sysexits
//! names a better code) with the first line of the program's standard error
//! in the text. A program killed by a signal, or still running after the
//! timeout (then its whole process group is killed), fails temporarily.
//!
//! **Privileges.** When the relay runs as root, every delivery needs a
//! [`RunAs`] in [`LocalMessage::run_as`], the user the mail belongs to: the
//! recipient's account for a local user; for an alias target, the owner of
//! the alias or `:include:` file, or an unprivileged default user (sendmail's
//! `DefaultUser`) when that is root. Without one the delivery fails
//! temporarily with `4.3.5` rather than act as root. [`find_user`] reads a
//! local user's uid, gid and home from `/etc/passwd`. Programs run with that
//! uid and gid (std drops the supplementary groups) and never as uid 0.
//! Files are written by the relay itself as root, so it guards against a
//! user's links: the Maildir and its `tmp`, `new` and `cur` must be real
//! directories owned by that user or root; an mbox or `/file` target must be
//! a regular file, not a symbolic link, with one hard link, owned by that
//! user; whatever the relay creates (directories, message files, a new mbox)
//! is given to that user and group; and no directory on the way may be a
//! symbolic link that a user owns (root's own links are followed). These
//! checks are made just before the files are opened, not atomically with
//! it: a user who can write a directory on the path (their home, for a
//! Maildir under it) and wins a race against the relay could still swap in
//! a link. Where that matters, run the relay as a dedicated user that owns
//! the mail spool, or deliver through a program (procmail, Dovecot's LDA),
//! which runs as the user. When the relay does not run as root, everything
//! is done as the relay's own user, and the `RunAs` is not used: what it
//! creates is its own, which suits virtual mailboxes that an IMAP server
//! running as the same user reads.

mod error;
mod lock;
mod maildir;
mod mbox;
mod passwd;
mod program;
mod render;
mod sys;

#[cfg(test)]
mod tests;

use std::ffi::OsString;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

pub use error::LocalError;
pub use maildir::deliver_maildir;
pub use mbox::{MboxLocking, deliver_file, deliver_mbox};
pub use passwd::{LocalUser, PASSWD, find_user, read_users};
pub use program::{ProgramCommand, deliver_program};

/// One message for one local recipient.
#[derive(Clone, Copy, Debug)]
pub struct LocalMessage<'a> {
    /// The queue ID, for the caller's log lines (delivery writes it nowhere).
    pub queue_id: &'a str,
    /// The envelope sender, without angle brackets; `""` is the null sender.
    pub sender: &'a str,
    /// The recipient's full address (`user@example.org`).
    pub recipient: &'a str,
    /// The mailbox's name: the local user, as [`mailbox_path`] takes it.
    pub user: &'a str,
    /// The message as received and queued: CRLF line ends, with its
    /// `Received:` header. It must not have a `Return-Path:` header of its
    /// own; local delivery writes one.
    pub content: &'a [u8],
    /// When the message arrived; the date of an mbox `From ` line.
    pub arrival: SystemTime,
    /// Whose mail this is, when the relay runs as root (see the module
    /// documentation); ignored otherwise.
    pub run_as: Option<RunAs>,
    /// The user's home directory, if known: `HOME` and the working
    /// directory of a program.
    pub home: Option<&'a Path>,
}

/// A user and group to deliver as, when the relay runs as root.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RunAs {
    /// The user ID.
    pub uid: u32,
    /// The group ID.
    pub gid: u32,
}

/// Whether this process runs as root (effective user ID 0), when deliveries
/// need a [`RunAs`].
pub fn running_as_root() -> bool {
    sys::effective_uid() == 0
}

/// The mailbox of `user`: `template` with each `{user}` replaced by the
/// name folded to ASCII lower case.
///
/// A name that could leave the mail directory or hide in it is refused with
/// a permanent `5.1.3` error: empty, longer than 255 bytes, containing `/`
/// or a control character (NUL included), or starting with `.` (`..` too). A
/// template without `{user}` names one mailbox for everyone.
///
/// ```
/// use std::path::Path;
/// use smarthost_relay::local::mailbox_path;
///
/// let path = mailbox_path(Path::new("/var/mail/{user}/Maildir"), "Bob")?;
/// assert_eq!(path, Path::new("/var/mail/bob/Maildir"));
/// let error = mailbox_path(Path::new("/var/mail/{user}"), "../etc").unwrap_err();
/// assert_eq!((error.permanent, error.status), (true, "5.1.3"));
/// # Ok::<(), smarthost_relay::local::LocalError>(())
/// ```
pub fn mailbox_path(template: &Path, user: &str) -> Result<PathBuf, LocalError> {
    check_user(user)?;
    let user = user.to_ascii_lowercase();
    // Replacing in the bytes keeps a template that is not UTF-8 intact.
    let template = template.as_os_str().as_bytes();
    let mut path = Vec::with_capacity(template.len() + user.len());
    let mut rest = template;
    while let Some(at) = rest.windows(6).position(|w| w == b"{user}") {
        path.extend_from_slice(&rest[..at]);
        path.extend_from_slice(user.as_bytes());
        rest = &rest[at + 6..];
    }
    path.extend_from_slice(rest);
    Ok(PathBuf::from(OsString::from_vec(path)))
}

/// Why `user` cannot name a mailbox, if it cannot.
fn check_user(user: &str) -> Result<(), LocalError> {
    let problem = if user.is_empty() {
        "is empty"
    } else if user.len() > 255 {
        "is longer than 255 bytes"
    } else if user.contains('/') {
        "contains `/`"
    } else if user.chars().any(char::is_control) {
        "contains a control character"
    } else if user == ".." {
        "is `..`"
    } else if user.starts_with('.') {
        "starts with `.`"
    } else {
        return Ok(());
    };
    Err(LocalError::permanent(
        "5.1.3",
        format!("the user name {user:?} {problem}, so it cannot name a mailbox"),
    ))
}

/// Whose files these are: `None` when the relay is not root (everything is
/// its own), the message's [`RunAs`] when it is, and an error when root was
/// not told.
fn owner(msg: &LocalMessage<'_>, what: &str) -> Result<Option<RunAs>, LocalError> {
    if !running_as_root() {
        return Ok(None);
    }
    msg.run_as.map(Some).ok_or_else(|| LocalError::no_run_as(what))
}

/// As root: refuses a path reached through a symbolic link that a user
/// owns, which could point a delivery (and what it creates and gives to
/// the user) anywhere. Links made by root, like `/var/mail -> spool/mail`,
/// are the administrator's and allowed.
fn check_ancestors(path: &Path) -> Result<(), LocalError> {
    for ancestor in path.ancestors().skip(1).filter(|a| !a.as_os_str().is_empty()) {
        match std::fs::symlink_metadata(ancestor) {
            Ok(meta) if meta.file_type().is_symlink() && meta.uid() != 0 => {
                return Err(LocalError::unsafe_mailbox(
                    path,
                    &format!(
                        "is reached through {}, a symbolic link owned by uid {}, and the relay runs as root",
                        ancestor.display(),
                        meta.uid()
                    ),
                    "replace the link with a real directory or point local.path past it",
                ));
            }
            Ok(_) => {}
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => return Err(LocalError::io("cannot examine", ancestor, &error)),
        }
    }
    Ok(())
}
