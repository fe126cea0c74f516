//! `:include:` files: where their text comes from, with bounds.
//!
//! The resolver never opens files itself (spec DESIGN: a crate that has no
//! reason to do IO does none); it asks an [`IncludeReader`]. [`FsIncludes`]
//! reads the file system with a size cap and sendmail's basic safety check;
//! a `HashMap` of path to text serves tests and embedders.

use std::collections::HashMap;
use std::fs;
use std::io::{self, Read};
use std::os::unix::fs::PermissionsExt;

/// Where `:include:` files are read from.
pub trait IncludeReader: Send + Sync {
    /// The text of the list file at `path`, as written after `:include:`.
    fn read_include(&self, path: &str) -> Result<String, IncludeError>;
}

/// Why an `:include:` file could not be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IncludeError {
    /// The file does not exist or may not be read (a permanent failure).
    #[error("Cannot open {path}: {reason}")]
    CannotOpen {
        /// The file.
        path: String,
        /// The operating system's reason.
        reason: String,
    },
    /// The file is larger than the reader allows.
    #[error(":include: file {path} is {size} bytes, more than the {limit}-byte limit; split the list")]
    TooLarge {
        /// The file.
        path: String,
        /// Its size.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// The file fails the safety check (for example, anyone may write it,
    /// so anyone could add recipients or programs).
    #[error(":include: file {path} is unsafe: {reason}; fix it with `chmod o-w {path}`")]
    Unsafe {
        /// The file.
        path: String,
        /// What is unsafe.
        reason: String,
    },
    /// A failure that may pass (an IO error other than "not found" or
    /// "permission denied"): try again later.
    #[error("Cannot read {path} now: {reason}")]
    Temporary {
        /// The file.
        path: String,
        /// The cause.
        reason: String,
    },
}

/// Reads `:include:` files from the file system.
///
/// A file must be a regular file that others cannot write (mode without
/// `0o002`), named by an absolute path, and at most
/// [`FsIncludes::max_bytes`] long.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FsIncludes {
    /// The largest file read, in bytes.
    pub max_bytes: u64,
}

impl FsIncludes {
    /// The default cap: 1 MiB, about 30,000 addresses.
    pub const DEFAULT_MAX_BYTES: u64 = 1_048_576;
}

impl Default for FsIncludes {
    fn default() -> Self {
        Self { max_bytes: Self::DEFAULT_MAX_BYTES }
    }
}

impl IncludeReader for FsIncludes {
    fn read_include(&self, path: &str) -> Result<String, IncludeError> {
        if !path.starts_with('/') {
            return Err(IncludeError::CannotOpen {
                path: path.into(),
                reason: "not an absolute path; write :include:/full/path".into(),
            });
        }
        let file = fs::File::open(path).map_err(|error| io_error(path, &error))?;
        let metadata = file.metadata().map_err(|error| io_error(path, &error))?;
        if !metadata.is_file() {
            return Err(IncludeError::CannotOpen { path: path.into(), reason: "not a regular file".into() });
        }
        if metadata.permissions().mode() & 0o002 != 0 {
            return Err(IncludeError::Unsafe { path: path.into(), reason: "anyone may write to it".into() });
        }
        if metadata.len() > self.max_bytes {
            return Err(IncludeError::TooLarge {
                path: path.into(),
                size: metadata.len(),
                limit: self.max_bytes,
            });
        }
        let mut bytes = Vec::with_capacity(metadata.len() as usize);
        // `take`: the file may grow between the check and the read.
        file.take(self.max_bytes + 1).read_to_end(&mut bytes).map_err(|error| io_error(path, &error))?;
        if bytes.len() as u64 > self.max_bytes {
            return Err(IncludeError::TooLarge {
                path: path.into(),
                size: bytes.len() as u64,
                limit: self.max_bytes,
            });
        }
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }
}

impl<S: std::hash::BuildHasher + Send + Sync> IncludeReader for HashMap<String, String, S> {
    /// The text stored under the path; a missing path cannot be opened.
    fn read_include(&self, path: &str) -> Result<String, IncludeError> {
        self.get(path).cloned().ok_or_else(|| IncludeError::CannotOpen {
            path: path.into(),
            reason: "No such file or directory".into(),
        })
    }
}

fn io_error(path: &str, error: &io::Error) -> IncludeError {
    match error.kind() {
        io::ErrorKind::NotFound | io::ErrorKind::PermissionDenied => {
            IncludeError::CannotOpen { path: path.into(), reason: error.to_string() }
        }
        _ => IncludeError::Temporary { path: path.into(), reason: error.to_string() },
    }
}

/// The members of an `:include:` file: each line that is not empty and
/// does not start with `#` is read like an alias value (members separated
/// by commas), as sendmail's `include()` does.
pub(crate) fn include_lines(text: &str) -> impl Iterator<Item = &str> {
    text.lines().filter(|line| !line.is_empty() && !line.starts_with('#'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_bounded_and_checked() {
        let dir = tempfile::tempdir().unwrap();
        let list = dir.path().join("list");
        fs::write(&list, "# staff\nalice, bob\n\ncarol\n").unwrap();
        fs::set_permissions(&list, fs::Permissions::from_mode(0o644)).unwrap();
        let path = list.to_str().unwrap();
        let text = FsIncludes::default().read_include(path).unwrap();
        assert_eq!(include_lines(&text).collect::<Vec<_>>(), ["alice, bob", "carol"]);

        let small = FsIncludes { max_bytes: 4 };
        assert!(matches!(small.read_include(path), Err(IncludeError::TooLarge { size: 26, limit: 4, .. })));

        fs::set_permissions(&list, fs::Permissions::from_mode(0o666)).unwrap();
        let error = FsIncludes::default().read_include(path).unwrap_err();
        assert!(error.to_string().contains("chmod o-w"), "{error}");

        let missing = FsIncludes::default().read_include("/nonexistent/list").unwrap_err();
        assert!(matches!(missing, IncludeError::CannotOpen { .. }), "{missing:?}");
        let relative = FsIncludes::default().read_include("list").unwrap_err();
        assert!(relative.to_string().contains("absolute"), "{relative}");
        let dir_error = FsIncludes::default().read_include(dir.path().to_str().unwrap()).unwrap_err();
        assert!(dir_error.to_string().contains("regular"), "{dir_error}");
    }
}
