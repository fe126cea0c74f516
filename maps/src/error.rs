//! The crate's one error type, grouped by who has to act.

use std::io;
use std::path::PathBuf;

/// Why a map could not be built, opened or read.
///
/// Every variant names the file; the message says what to do about it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The operating system refused a file operation.
    #[error("{}: cannot {action}: {source}", .path.display())]
    Io {
        /// What was being done.
        action: IoAction,
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// The file is a Berkeley DB map written by sendmail's own makemap.
    #[error(
        "{}: this is a Berkeley DB file from sendmail's makemap; smarthost reads its own \
         compiled maps (or the text source): rebuild it with smarthost's \
         `makemap hash NAME < NAME`",
        .path.display()
    )]
    BerkeleyDb {
        /// The file.
        path: PathBuf,
    },
    /// The file is not a compiled map at all.
    #[error(
        "{}: not a smarthost map ({reason}); build it with `makemap hash NAME < NAME`, \
         or configure the text source instead",
        .path.display()
    )]
    NotAMap {
        /// The file.
        path: PathBuf,
        /// What is missing.
        reason: String,
    },
    /// The map was built by a newer smarthost.
    #[error(
        "{}: built by a newer smarthost (map format version {version}; this one reads \
         version {}): rebuild it with this version's makemap",
        .path.display(),
        crate::cdb::VERSION
    )]
    NewerVersion {
        /// The file.
        path: PathBuf,
        /// The version it carries.
        version: u32,
    },
    /// The file is damaged: a checksum mismatch or an offset outside it.
    #[error("{}: the map is corrupt ({detail}); rebuild it from its source with makemap", .path.display())]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What was found.
        detail: String,
    },
    /// The map would be larger than CDB's 32-bit offsets can address.
    #[error("{}: the map would pass 4 GiB, the most a CDB file can address; split it", .path.display())]
    TooLarge {
        /// The file.
        path: PathBuf,
    },
    /// The output path failed makemap's safety checks.
    #[error("{}: {reason}; refusing to write the map there (pass -s to skip this check)", .path.display())]
    UnsafePath {
        /// The path.
        path: PathBuf,
        /// What is unsafe about it.
        reason: &'static str,
    },
}

/// The file operation an [`Error::Io`] was doing.
///
/// makemap's exit status depends on it: 73 (cannot create) for the steps
/// before the first byte is written, 74 (IO error) for the steps after.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum IoAction {
    /// Opening a file for reading.
    Open,
    /// Reading a file.
    Read,
    /// Reading a file's or directory's status.
    Stat,
    /// Memory-mapping a compiled map.
    MemoryMap,
    /// Creating the temporary file a new map is built in.
    Create,
    /// Setting the new map's permission bits.
    SetPermissions,
    /// Writing the new map.
    Write,
    /// Syncing the new map to disk.
    Sync,
    /// Renaming the new map into place.
    Rename,
    /// Syncing the directory after the rename.
    SyncDirectory,
}

impl IoAction {
    /// Whether the failure happened before the new map was written to:
    /// makemap's "cannot create" rather than "IO error".
    pub fn is_before_writing(self) -> bool {
        matches!(
            self,
            Self::Open | Self::Read | Self::Stat | Self::MemoryMap | Self::Create | Self::SetPermissions
        )
    }
}

impl std::fmt::Display for IoAction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Open => "open",
            Self::Read => "read",
            Self::Stat => "read the file status",
            Self::MemoryMap => "memory-map",
            Self::Create => "create a temporary file",
            Self::SetPermissions => "set the permissions of the new map",
            Self::Write => "write the new map",
            Self::Sync => "sync the new map to disk",
            Self::Rename => "rename the new map into place",
            Self::SyncDirectory => "sync the directory",
        })
    }
}

impl Error {
    pub(crate) fn io(action: IoAction, path: impl Into<PathBuf>) -> impl FnOnce(io::Error) -> Self {
        let path = path.into();
        move |source| Self::Io { action, path, source }
    }
}
