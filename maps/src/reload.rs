//! Opening a map by the name the configuration gives, and picking up a
//! rebuilt file while lookups in flight keep the generation they started with.

use std::fs::{self, File};
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use crate::cdb;
use crate::error::IoAction;
use crate::map::ContentHash;
use crate::source::{Diagnostic, SourceOptions};
use crate::{CompiledMap, Error, Map, MapType, TextMap};

/// One loaded version of a map file.
///
/// Callers take an `Arc<MapGeneration>` from [`ReloadingMap::current`] once
/// per message and make all of that message's lookups in it, so a reload in
/// the middle of a message cannot route half of it by the old table and half
/// by the new one.
#[derive(Debug)]
pub struct MapGeneration {
    loaded: Loaded,
    file: PathBuf,
    number: u64,
    stamp: FileStamp,
    diagnostics: Vec<Diagnostic>,
    stale_source: Option<PathBuf>,
}

#[derive(Debug)]
enum Loaded {
    Compiled(CompiledMap),
    Text(TextMap),
}

/// Opens the map that `path` names, the way the relay's configuration names
/// maps:
///
/// 1. `path` itself, if it is a compiled map (or a plain CDB file named `*.cdb`);
/// 2. else `path.db`, then `path.cdb`, if one exists: the files
///    `makemap hash path` and `makemap cdb path` write, which is what a
///    sendmail configuration naming `path` would read;
/// 3. else `path` as makemap source text, loaded into memory.
///
/// In case 2, a text file at `path` that is newer than the compiled map is
/// reported by [`MapGeneration::stale_source`]: somebody edited it and did
/// not run makemap.
pub fn open_map(path: impl AsRef<Path>, options: &SourceOptions) -> Result<MapGeneration, Error> {
    MapGeneration::load(path.as_ref(), options, 1)
}

impl MapGeneration {
    fn load(configured: &Path, options: &SourceOptions, number: u64) -> Result<Self, Error> {
        let (file, compiled) = resolve(configured)?;
        let stamp = FileStamp::of(&file)?;
        let (loaded, diagnostics) = if compiled {
            (Loaded::Compiled(CompiledMap::open(&file)?), Vec::new())
        } else {
            let (map, diagnostics) = TextMap::load(&file, options)?;
            (Loaded::Text(map), diagnostics)
        };
        let stale_source = (file != configured
            && FileStamp::of(configured).is_ok_and(|source| source.modified > stamp.modified))
        .then(|| configured.to_path_buf());
        Ok(Self { loaded, file, number, stamp, diagnostics, stale_source })
    }

    /// The file that was read.
    pub fn path(&self) -> &Path {
        &self.file
    }

    /// 1 for the first load, one more for each reload.
    pub fn number(&self) -> u64 {
        self.number
    }

    /// A short hash of the content, for log lines.
    pub fn content_hash(&self) -> ContentHash {
        match &self.loaded {
            Loaded::Compiled(map) => map.content_hash(),
            Loaded::Text(map) => map.content_hash(),
        }
    }

    /// Whether this is a compiled map (rather than text loaded into memory).
    pub fn is_compiled(&self) -> bool {
        matches!(self.loaded, Loaded::Compiled(_))
    }

    /// The compiled map, if this generation is one (for dumping or verifying it).
    pub fn compiled(&self) -> Option<&CompiledMap> {
        match &self.loaded {
            Loaded::Compiled(map) => Some(map),
            Loaded::Text(_) => None,
        }
    }

    /// The text map, if this generation is one.
    pub fn text(&self) -> Option<&TextMap> {
        match &self.loaded {
            Loaded::Text(map) => Some(map),
            Loaded::Compiled(_) => None,
        }
    }

    /// The source text's makemap diagnostics; empty for a compiled map.
    pub fn diagnostics(&self) -> &[Diagnostic] {
        &self.diagnostics
    }

    /// The text source beside a compiled map, when it is newer than the map.
    pub fn stale_source(&self) -> Option<&Path> {
        self.stale_source.as_deref()
    }
}

impl Map for MapGeneration {
    fn lookup(&self, key: &[u8]) -> Result<Option<&[u8]>, Error> {
        match &self.loaded {
            Loaded::Compiled(map) => map.lookup(key),
            Loaded::Text(map) => map.lookup(key),
        }
    }
}

/// A map that can be reloaded while it is in use.
///
/// [`refresh`](Self::refresh) reloads when the file changed (another inode,
/// size or modification time: what a rebuild by makemap, an editor's save or
/// a copy does); [`reload`](Self::reload) reloads unconditionally, for SIGHUP.
/// A reload that fails (a corrupt new file) keeps the current generation and
/// returns the error, so a bad rebuild never takes a working map away.
///
/// ```
/// use smarthost_maps::{Map, ReloadingMap, SourceOptions};
///
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("access");
/// std::fs::write(&path, "Connect:192.0.2.1  REJECT\n")?;
/// let map = ReloadingMap::open(&path, SourceOptions::default())?;
/// let before = map.current();
///
/// std::fs::write(&path, "Connect:192.0.2.1  OK\n")?;
/// map.reload()?;
/// assert_eq!(before.lookup(b"connect:192.0.2.1")?, Some(&b"REJECT"[..]));
/// assert_eq!(map.current().lookup(b"connect:192.0.2.1")?, Some(&b"OK"[..]));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct ReloadingMap {
    configured: PathBuf,
    options: SourceOptions,
    current: RwLock<Arc<MapGeneration>>,
    reloading: Mutex<()>,
}

impl ReloadingMap {
    /// Opens the map `path` names (see [`open_map`] for how).
    pub fn open(path: impl Into<PathBuf>, options: SourceOptions) -> Result<Self, Error> {
        let configured = path.into();
        let first = MapGeneration::load(&configured, &options, 1)?;
        Ok(Self { configured, options, current: RwLock::new(Arc::new(first)), reloading: Mutex::new(()) })
    }

    /// The current generation.
    pub fn current(&self) -> Arc<MapGeneration> {
        Arc::clone(&self.current.read().unwrap_or_else(|poisoned| poisoned.into_inner()))
    }

    /// Reloads if the file changed; returns the new generation if it did.
    pub fn refresh(&self) -> Result<Option<Arc<MapGeneration>>, Error> {
        let _one_at_a_time = self.reloading.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let current = self.current();
        let (file, _) = resolve(&self.configured)?;
        if file == current.file && FileStamp::of(&file)? == current.stamp {
            return Ok(None);
        }
        self.swap_in(current.number + 1).map(Some)
    }

    /// Reloads unconditionally and returns the new generation.
    pub fn reload(&self) -> Result<Arc<MapGeneration>, Error> {
        let _one_at_a_time = self.reloading.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        self.swap_in(self.current().number + 1)
    }

    fn swap_in(&self, number: u64) -> Result<Arc<MapGeneration>, Error> {
        let next = Arc::new(MapGeneration::load(&self.configured, &self.options, number)?);
        *self.current.write().unwrap_or_else(|poisoned| poisoned.into_inner()) = Arc::clone(&next);
        Ok(next)
    }
}

/// What identifies one version of a file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct FileStamp {
    device: u64,
    inode: u64,
    modified: (i64, i64),
    len: u64,
}

impl FileStamp {
    fn of(path: &Path) -> Result<Self, Error> {
        let metadata = fs::metadata(path).map_err(Error::io(IoAction::Stat, path))?;
        Ok(Self {
            device: metadata.dev(),
            inode: metadata.ino(),
            modified: (metadata.mtime(), metadata.mtime_nsec()),
            len: metadata.len(),
        })
    }
}

/// Which file `path` means and whether it is compiled (see [`open_map`]).
fn resolve(path: &Path) -> Result<(PathBuf, bool), Error> {
    if is_compiled(path)? {
        return Ok((path.to_path_buf(), true));
    }
    for map_type in [MapType::Hash, MapType::Cdb] {
        let candidate = map_type.file_name(path);
        if candidate != path && candidate.is_file() {
            return Ok((candidate, true));
        }
    }
    Ok((path.to_path_buf(), false))
}

/// Whether the file at `path` is a compiled map; false if it is missing.
fn is_compiled(path: &Path) -> Result<bool, Error> {
    if path.extension().is_some_and(|ext| ext == "cdb" || ext == "db") {
        return Ok(path.is_file());
    }
    let mut file = match File::open(path) {
        Ok(file) => file,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(error) => return Err(Error::io(IoAction::Open, path)(error)),
    };
    let mut head = Vec::with_capacity(cdb::DATA_START);
    (&mut file)
        .take(cdb::DATA_START as u64)
        .read_to_end(&mut head)
        .map_err(Error::io(IoAction::Read, path))?;
    Ok(head.len() == cdb::DATA_START && head[cdb::POINTERS + 8..].starts_with(cdb::HEADER_KEY))
}
