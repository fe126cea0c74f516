//! [`LocalError`] and the mapping of file-system errors onto RFC 3463 codes.

use std::io;
use std::path::Path;

use super::sys;

/// Why a local delivery failed: the queue defers a temporary failure and
/// bounces a permanent one.
///
/// `Display` shows [`text`](LocalError::text) alone, for the DSN's
/// diagnostic and the log's `stat=`; the status is a field of its own.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{text}")]
#[non_exhaustive]
pub struct LocalError {
    /// `true`: retrying cannot help (bounce); `false`: retry later.
    pub permanent: bool,
    /// The RFC 3463 enhanced status code, e.g. `"4.2.2"`; its first digit is
    /// 5 exactly when `permanent` is true.
    pub status: &'static str,
    /// What went wrong, naming the path or program and the fix.
    pub text: String,
}

impl LocalError {
    /// A failure that retrying may cure; `status` starts with `4.`.
    pub fn temporary(status: &'static str, text: impl Into<String>) -> Self {
        debug_assert!(status.starts_with("4."), "{status}");
        Self { permanent: false, status, text: text.into() }
    }

    /// A failure that retrying cannot cure; `status` starts with `5.`.
    pub fn permanent(status: &'static str, text: impl Into<String>) -> Self {
        debug_assert!(status.starts_with("5."), "{status}");
        Self { permanent: true, status, text: text.into() }
    }

    /// The error of `doing` (e.g. "cannot create") `path`, with the status
    /// its errno deserves. All are temporary: a full disk, a missing
    /// directory or a wrong permission is the operator's to fix, and the
    /// message waits in the queue meanwhile.
    pub(crate) fn io(doing: &str, path: &Path, error: &io::Error) -> Self {
        let path = path.display();
        match error.raw_os_error() {
            Some(libc::EDQUOT) => {
                Self::temporary("4.2.2", format!("mailbox full: {doing} {path}: {error} (the user's quota)"))
            }
            Some(libc::ENOSPC) => Self::temporary(
                "4.3.1",
                format!("mail system full: {doing} {path}: {error}; free space on that file system"),
            ),
            Some(libc::EACCES | libc::EPERM) => Self::temporary(
                "4.2.0",
                format!(
                    "{doing} {path}: {error}; the relay runs as uid {}: give that user write access \
                     (chown or chmod the directory), or run the relay as the mailbox's owner",
                    sys::effective_uid()
                ),
            ),
            Some(libc::EROFS) => Self::temporary(
                "4.3.0",
                format!("{doing} {path}: {error}; the file system is mounted read-only"),
            ),
            Some(libc::ENOENT) => Self::temporary(
                "4.2.0",
                format!("{doing} {path}: {error}; create the missing directory or fix local.path"),
            ),
            _ => Self::temporary("4.3.0", format!("{doing} {path}: {error}")),
        }
    }

    /// A mailbox file or directory that is unsafe to write as root.
    pub(crate) fn unsafe_mailbox(path: &Path, why: &str, fix: &str) -> Self {
        Self::temporary("4.2.0", format!("{}: {why}, so mail is not written to it; {fix}", path.display()))
    }

    /// Root must not deliver without knowing whose mail it is.
    pub(crate) fn no_run_as(what: &str) -> Self {
        Self::temporary(
            "4.3.5",
            format!(
                "the relay runs as root and was not told which user owns {what}; \
                 it will not deliver as root (the engine must give a RunAs)"
            ),
        )
    }
}
