//! A compiled map, memory-mapped: opening reads two pages, not the file.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU8, Ordering};

use memmap2::Mmap;

use crate::cdb::{self, Flags, FormatProblem, Layout, OutOfBounds};
use crate::error::IoAction;
use crate::map::{ContentHash, with_stored_key};
use crate::{Error, Map};

/// A compiled map file opened for lookups.
///
/// It reads smarthost's maps (any name) and, for interoperability, plain CDB
/// files without smarthost's header when their name ends in `.cdb` (those
/// written by Postfix `postmap cdb:` or tinycdb). A plain CDB file carries no
/// build flags, so its lookups fold keys to lower case (sendmail's default)
/// and try each key without and then with a trailing NUL byte, sticking to
/// the form that first succeeds, as sendmail does for maps without `-N`/`-O`.
///
/// Every read is bounds-checked: a damaged file gives [`Error::Corrupt`],
/// never a panic. The builder replaces maps by renaming a new file over the
/// old one, so a map that is open keeps reading the generation it opened.
///
/// ```
/// use smarthost_maps::{CompiledMap, Map, MapBuilder, Source, SourceOptions};
///
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("mailertable.db");
/// let options = SourceOptions::default();
/// let source = Source::parse(b".lan  esmtp:[%1.lan]\n", &options);
/// MapBuilder::new(&path, &options).write(source.entries())?;
///
/// let map = CompiledMap::open(&path)?;
/// assert_eq!(map.lookup(b".LAN")?, Some(&b"esmtp:[%1.lan]"[..]));
/// assert_eq!(map.lookup(b".example")?, None);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct CompiledMap {
    mmap: Mmap,
    path: PathBuf,
    layout: Layout,
    fold: bool,
    nul: NulRule,
}

/// Which form of a key the map holds.
#[derive(Debug)]
enum NulRule {
    Never,
    Always,
    /// A plain CDB file: learn it from the first successful lookup.
    Learn(AtomicU8),
}

const TRY_BOTH: u8 = 0;
const WITHOUT: u8 = 1;
const WITH: u8 = 2;

impl CompiledMap {
    /// Opens a compiled map.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, Error> {
        let path = path.as_ref();
        let file = File::open(path).map_err(Error::io(IoAction::Open, path))?;
        let len = file.metadata().map_err(Error::io(IoAction::Stat, path))?.len();
        if len < cdb::POINTERS as u64 {
            return Err(Error::NotAMap { path: path.into(), reason: format!("only {len} bytes long") });
        }
        // SAFETY: the map is read-only for us. smarthost's builder never
        // writes into an existing map: it renames a new file over it, and
        // this mapping keeps the old file alive. A tool that truncated the
        // file in place could still make reads fault, as with every
        // memory-mapped database (sendmail's and Postfix's included).
        #[allow(unsafe_code)]
        let mmap = unsafe { Mmap::map(&file) }.map_err(Error::io(IoAction::MemoryMap, path))?;
        let foreign_ok = path.extension().is_some_and(|ext| ext == "cdb");
        let layout = Layout::read(&mmap, foreign_ok).map_err(|problem| format_error(path, problem))?;
        let (fold, nul) = match layout.header {
            Some(header) => (
                header.flags.has(Flags::FOLDED),
                if header.flags.has(Flags::NUL) { NulRule::Always } else { NulRule::Never },
            ),
            None => (true, NulRule::Learn(AtomicU8::new(TRY_BOTH))),
        };
        Ok(Self { mmap, path: path.into(), layout, fold, nul })
    }

    /// The file this map was opened from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// How many entries the header says the map holds; `None` for a plain
    /// CDB file, which does not say.
    pub fn len(&self) -> Option<u64> {
        self.layout.header.map(|header| header.entries)
    }

    /// Whether the map is known to hold no entries.
    pub fn is_empty(&self) -> bool {
        self.len() == Some(0)
    }

    /// Whether keys were folded to lower case when the map was built (and so
    /// are folded before each lookup).
    pub fn is_case_folded(&self) -> bool {
        self.fold
    }

    /// Whether keys and values were stored with a trailing NUL byte
    /// (`makemap -N`); lookups and [`CompiledMap::iter`] hide it. `None`
    /// for a plain CDB file, whose convention is learnt from lookups.
    pub fn is_nul_terminated(&self) -> Option<bool> {
        match self.nul {
            NulRule::Never => Some(false),
            NulRule::Always => Some(true),
            NulRule::Learn(_) => None,
        }
    }

    /// Whether the file has smarthost's header (rather than being a plain CDB file).
    pub fn has_header(&self) -> bool {
        self.layout.header.is_some()
    }

    /// The content hash: the header's checksum, or for a plain CDB file a
    /// hash of its 2,048-byte pointer table, which changes with its content.
    pub fn content_hash(&self) -> ContentHash {
        match self.layout.header {
            Some(header) => ContentHash(header.checksum),
            None => ContentHash(xxhash_rust::xxh3::xxh3_64(&self.mmap[..cdb::POINTERS])),
        }
    }

    /// Every stored pair in file order (the order they were written), as
    /// `makemap -u` prints them; with `makemap -d` a key can appear several times.
    pub fn iter(&self) -> Records<'_> {
        Records { map: self, pos: self.layout.records_start }
    }

    /// Reads the whole file and checks its checksum and every record.
    /// Opening does not, so that opening stays fast.
    pub fn verify(&self) -> Result<(), Error> {
        if let Some(header) = self.layout.header {
            let actual = cdb::checksum(&self.mmap);
            if actual != header.checksum {
                return Err(self.corrupt(format!(
                    "checksum is {actual:016x}, the header says {:016x}",
                    header.checksum
                )));
            }
        }
        let mut count = 0u64;
        for record in self.iter() {
            record?;
            count += 1;
        }
        match self.len() {
            Some(expected) if expected != count => {
                Err(self.corrupt(format!("{count} records, the header says {expected}")))
            }
            _ => Ok(()),
        }
    }

    fn find(&self, key: &[u8], nul: bool) -> Result<Option<&[u8]>, Error> {
        let found = with_stored_key(key, self.fold, nul, |key| self.layout.find(&self.mmap, key));
        let value = found.map_err(|OutOfBounds(at)| self.out_of_bounds(at))?;
        Ok(value.map(|value| if nul { strip_nul(value) } else { value }))
    }

    fn corrupt(&self, detail: String) -> Error {
        Error::Corrupt { path: self.path.clone(), detail }
    }

    fn out_of_bounds(&self, at: usize) -> Error {
        self.corrupt(format!("a record or slot at byte {at} reaches past the end of the file"))
    }
}

impl Map for CompiledMap {
    fn lookup(&self, key: &[u8]) -> Result<Option<&[u8]>, Error> {
        match &self.nul {
            NulRule::Never => self.find(key, false),
            NulRule::Always => self.find(key, true),
            NulRule::Learn(state) => {
                let known = state.load(Ordering::Relaxed);
                for (form, nul) in [(WITHOUT, false), (WITH, true)] {
                    if known != TRY_BOTH && known != form {
                        continue;
                    }
                    if let Some(value) = self.find(key, nul)? {
                        state.store(form, Ordering::Relaxed);
                        return Ok(Some(value));
                    }
                }
                Ok(None)
            }
        }
    }
}

/// The pairs of a compiled map in file order; see [`CompiledMap::iter`].
#[derive(Debug)]
pub struct Records<'m> {
    map: &'m CompiledMap,
    pos: usize,
}

impl<'m> Iterator for Records<'m> {
    type Item = Result<(&'m [u8], &'m [u8]), Error>;

    fn next(&mut self) -> Option<Self::Item> {
        let map = self.map;
        match map.layout.record_after(&map.mmap, self.pos) {
            Ok(None) => None,
            Ok(Some(cdb::Record { key, value, next })) => {
                self.pos = next;
                Some(Ok(match map.nul {
                    NulRule::Always => (strip_nul(key), strip_nul(value)),
                    NulRule::Never | NulRule::Learn(_) => (key, value),
                }))
            }
            Err(OutOfBounds(at)) => {
                self.pos = usize::MAX;
                Some(Err(map.out_of_bounds(at)))
            }
        }
    }
}

fn strip_nul(bytes: &[u8]) -> &[u8] {
    bytes.strip_suffix(b"\0").unwrap_or(bytes)
}

fn format_error(path: &Path, problem: FormatProblem) -> Error {
    let path = path.to_path_buf();
    match problem {
        FormatProblem::BerkeleyDb => Error::BerkeleyDb { path },
        FormatProblem::TooShort(len) => Error::NotAMap { path, reason: format!("only {len} bytes long") },
        FormatProblem::NoHeader => Error::NotAMap {
            path,
            reason: "no smarthost header at byte 2048; a plain CDB file must be named *.cdb".into(),
        },
        FormatProblem::NewerVersion(version) => Error::NewerVersion { path, version },
        FormatProblem::BadHeader => Error::Corrupt { path, detail: "damaged header record".into() },
        FormatProblem::BadPointer(table) => {
            Error::Corrupt { path, detail: format!("hash table {table} points outside the file") }
        }
    }
}
