//! makemap's map types and the file names they imply.

use std::ffi::OsString;
use std::fmt;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// A makemap map type. All of them write smarthost's compiled format (a
/// CDB file with a header); they differ only in the file name extension,
/// so that configuration and Makefiles written for sendmail keep working.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MapType {
    /// `hash`: Berkeley DB hash in sendmail; file `NAME.db`.
    Hash,
    /// `btree`: Berkeley DB btree in sendmail; file `NAME.db`.
    Btree,
    /// `cdb`: file `NAME.cdb`.
    Cdb,
}

impl MapType {
    /// Every type, in the order `makemap -l` lists them.
    pub const ALL: [MapType; 3] = [MapType::Hash, MapType::Btree, MapType::Cdb];

    /// The extension sendmail gives this type's files.
    pub fn extension(self) -> &'static str {
        match self {
            Self::Hash | Self::Btree => ".db",
            Self::Cdb => ".cdb",
        }
    }

    /// The map file for `mapname`: sendmail appends the extension unless the
    /// name already ends in it (`access` and `access.db` both give `access.db`).
    ///
    /// ```
    /// use std::path::Path;
    /// use smarthost_maps::MapType;
    ///
    /// assert_eq!(MapType::Hash.file_name(Path::new("/etc/mail/access")), Path::new("/etc/mail/access.db"));
    /// assert_eq!(MapType::Hash.file_name(Path::new("access.db")), Path::new("access.db"));
    /// assert_eq!(MapType::Cdb.file_name(Path::new("access.db")), Path::new("access.db.cdb"));
    /// ```
    pub fn file_name(self, mapname: &Path) -> PathBuf {
        let ext = self.extension().as_bytes();
        let name = mapname.as_os_str().as_bytes();
        if name.ends_with(ext) {
            return mapname.to_path_buf();
        }
        let mut full = name.to_vec();
        full.extend_from_slice(ext);
        PathBuf::from(OsString::from_vec(full))
    }

    /// The name makemap uses for the type.
    pub fn name(self) -> &'static str {
        match self {
            Self::Hash => "hash",
            Self::Btree => "btree",
            Self::Cdb => "cdb",
        }
    }
}

impl fmt::Display for MapType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A map type name makemap does not know or this build does not write.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UnknownMapType {
    /// A type sendmail knows but smarthost does not write.
    #[error("Type {0} not supported in this version; use hash, btree or cdb")]
    Unsupported(String),
    /// A name nobody knows.
    #[error("Unknown database type {0}; use hash, btree or cdb")]
    Unknown(String),
}

impl FromStr for MapType {
    type Err = UnknownMapType;

    /// Parses a type name; `implicit` (sendmail: the first available type)
    /// is `hash`. `dbm` is sendmail's ndbm, which smarthost does not write.
    fn from_str(name: &str) -> Result<Self, Self::Err> {
        match name {
            "hash" | "implicit" => Ok(Self::Hash),
            "btree" => Ok(Self::Btree),
            "cdb" => Ok(Self::Cdb),
            "dbm" => Err(UnknownMapType::Unsupported(name.into())),
            _ => Err(UnknownMapType::Unknown(name.into())),
        }
    }
}
