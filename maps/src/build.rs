//! Building a compiled map: into a temporary file beside the target, synced,
//! then renamed over it, so a reader sees the old map or the new one, whole.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::Error;
use crate::cdb::{self, Flags, WriteError};
use crate::error::IoAction;
use crate::map::ContentHash;
use crate::source::{Duplicates, Entry, SourceOptions};

/// Writes a compiled map atomically.
///
/// The map is built in a temporary file in the target's directory, synced,
/// renamed over the target and the directory synced. A failure at any step
/// (a full disk, an unwritable directory) removes the temporary file and
/// leaves the old map untouched.
#[derive(Clone, Debug)]
pub struct MapBuilder {
    path: PathBuf,
    flags: Flags,
    include_nul: bool,
    mode: Option<u32>,
    check_path: bool,
}

/// What a build wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BuildReport {
    /// The map file.
    pub path: PathBuf,
    /// How many entries it holds.
    pub entries: u64,
    /// Its size in bytes.
    pub bytes: u64,
    /// Its content hash.
    pub content_hash: ContentHash,
}

/// The permission bits of a new map when neither the old map nor the caller
/// says otherwise: sendmail's makemap uses the same.
pub const DEFAULT_MODE: u32 = 0o640;

impl MapBuilder {
    /// A builder for the map file `path` (the name as written, extension
    /// included: see [`crate::MapType::file_name`]).
    pub fn new(path: impl Into<PathBuf>, options: &SourceOptions) -> Self {
        Self {
            path: path.into(),
            flags: Flags::new(
                options.fold_case,
                options.include_nul,
                options.duplicates == Duplicates::KeepAll,
            ),
            include_nul: options.include_nul,
            mode: None,
            check_path: true,
        }
    }

    /// Permission bits for a new map. Without this, a rebuilt map keeps the
    /// old map's bits and a new one gets [`DEFAULT_MODE`].
    pub fn mode(mut self, mode: u32) -> Self {
        self.mode = Some(mode & 0o7777);
        self
    }

    /// Skips makemap's safety checks on the output path (`makemap -s`):
    /// that it is not a symbolic link, not a hard link, and not in a
    /// directory that everyone can write to. A symbolic link is then written
    /// through: the file it points to is replaced, atomically as always.
    pub fn skip_path_checks(mut self) -> Self {
        self.check_path = false;
        self
    }

    /// Writes `entries` and replaces the map.
    pub fn write(&self, entries: &[Entry<'_>]) -> Result<BuildReport, Error> {
        self.write_with_progress(entries, |_| {})
    }

    /// Like [`MapBuilder::write`], calling `progress` with the number of
    /// entries written so far, every 65,536 entries and at the end.
    pub fn write_with_progress(
        &self,
        entries: &[Entry<'_>],
        mut progress: impl FnMut(usize),
    ) -> Result<BuildReport, Error> {
        let mut previous = metadata_if_present(&self.path)?;
        if self.check_path {
            self.check_safety(previous.as_ref(), parent_dir(&self.path))?;
        }
        // With the checks skipped, a symbolic link is written through, as
        // sendmail's makemap -s does: the file it points to is replaced.
        let target = match &previous {
            Some(metadata) if metadata.file_type().is_symlink() => {
                let target = fs::canonicalize(&self.path).map_err(Error::io(IoAction::Stat, &self.path))?;
                previous = metadata_if_present(&target)?;
                target
            }
            _ => self.path.clone(),
        };
        let dir = parent_dir(&target);
        let mode = self.mode.or(previous.as_ref().map(|m| m.permissions().mode() & 0o7777));
        let mut temp = TempFile::create(dir, &target, mode.unwrap_or(DEFAULT_MODE))?;
        let file = temp.file.take().expect("a new temporary file is open");
        let mut writer =
            cdb::Writer::new(file, entries.len()).map_err(Error::io(IoAction::Write, &self.path))?;
        let mut nul_key = Vec::new();
        let mut nul_value = Vec::new();
        for (done, entry) in entries.iter().enumerate() {
            let (key, value) = if self.include_nul {
                (with_nul(&entry.key, &mut nul_key), with_nul(&entry.value, &mut nul_value))
            } else {
                (&*entry.key, &*entry.value)
            };
            writer.add(key, value).map_err(|e| self.write_error(e))?;
            if done % 65_536 == 65_535 {
                progress(done + 1);
            }
        }
        progress(entries.len());
        let (file, checksum) = writer.finish(self.flags).map_err(|e| self.write_error(e))?;
        file.sync_all().map_err(Error::io(IoAction::Sync, &self.path))?;
        let bytes = file.metadata().map_err(Error::io(IoAction::Sync, &self.path))?.len();
        drop(file);
        fs::rename(&temp.path, &target).map_err(Error::io(IoAction::Rename, &self.path))?;
        temp.committed = true;
        sync_dir(dir)?;
        Ok(BuildReport {
            path: self.path.clone(),
            entries: entries.len() as u64,
            bytes,
            content_hash: ContentHash(checksum),
        })
    }

    fn check_safety(&self, previous: Option<&fs::Metadata>, dir: &Path) -> Result<(), Error> {
        let unsafe_path = |reason| Error::UnsafePath { path: self.path.clone(), reason };
        if let Some(metadata) = previous {
            if metadata.file_type().is_symlink() {
                return Err(unsafe_path("the map is a symbolic link"));
            }
            if metadata.is_file() && metadata.nlink() > 1 {
                return Err(unsafe_path("the map has other hard links"));
            }
        }
        let dir_mode = fs::metadata(dir).map_err(Error::io(IoAction::Stat, dir))?.permissions().mode();
        if dir_mode & 0o002 != 0 && dir_mode & 0o1000 == 0 {
            return Err(unsafe_path("its directory is writable by everyone"));
        }
        Ok(())
    }

    fn write_error(&self, error: WriteError) -> Error {
        match error {
            WriteError::Io(source) => Error::Io { action: IoAction::Write, path: self.path.clone(), source },
            WriteError::TooLarge => Error::TooLarge { path: self.path.clone() },
        }
    }
}

fn with_nul<'b>(bytes: &[u8], buffer: &'b mut Vec<u8>) -> &'b [u8] {
    buffer.clear();
    buffer.extend_from_slice(bytes);
    buffer.push(0);
    buffer
}

fn metadata_if_present(path: &Path) -> Result<Option<fs::Metadata>, Error> {
    match fs::symlink_metadata(path) {
        Ok(metadata) => Ok(Some(metadata)),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(Error::io(IoAction::Stat, path)(error)),
    }
}

fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    }
}

fn sync_dir(dir: &Path) -> Result<(), Error> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(Error::io(IoAction::SyncDirectory, dir))
}

/// A temporary file that removes itself unless it was renamed into place.
struct TempFile {
    path: PathBuf,
    file: Option<File>,
    committed: bool,
}

impl TempFile {
    fn create(dir: &Path, target: &Path, mode: u32) -> Result<Self, Error> {
        let name = target.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let mut attempt = 0u32;
        loop {
            let path = dir.join(format!(".{name}.{}.{attempt}.tmp", std::process::id()));
            let opened = OpenOptions::new().write(true).create_new(true).mode(mode).open(&path);
            match opened {
                Ok(file) => {
                    // The umask may have narrowed the bits; the map gets
                    // exactly the bits asked for.
                    file.set_permissions(fs::Permissions::from_mode(mode))
                        .map_err(Error::io(IoAction::SetPermissions, &path))?;
                    return Ok(Self { path, file: Some(file), committed: false });
                }
                Err(error) if error.kind() == io::ErrorKind::AlreadyExists && attempt < 100 => attempt += 1,
                Err(error) => return Err(Error::io(IoAction::Create, dir)(error)),
            }
        }
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if !self.committed {
            drop(self.file.take());
            let _ = fs::remove_file(&self.path);
        }
    }
}
