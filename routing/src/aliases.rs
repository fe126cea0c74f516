//! Aliases (spec maps.md §6): the aliases(5) file, its elements, the
//! `newaliases` database with sendmail's `@` sentinel, and lookups with
//! plussed names. Expanding an alias (recursion, `\user`, duplicates,
//! loops, `owner-` lists, `:include:`) is the [`crate::RecipientResolver`]'s
//! job, because every member is an address that goes through sendmail's
//! ruleset 0 again.

mod element;
mod include;
mod parse;

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

use smarthost_maps::{CompiledMap, Entry, Map, MapType};

use crate::Probe;

pub use element::{AliasElement, parse_alias_value, render_alias_value};
pub(crate) use include::include_lines;
pub use include::{FsIncludes, IncludeError, IncludeReader};
pub use parse::{ALIAS_LINE_BUFFER, AliasDiagnostic, AliasEntry, AliasFile, AliasProblem};

/// The sentinel key (and value) `newaliases` stores last; sendmail does not
/// trust an alias database without it (spec §6.6).
pub const ALIAS_SENTINEL: &str = "@";

/// Alias lookups over any [`Map`] holding `newaliases` data (keys folded).
///
/// ```
/// use smarthost_routing::{AliasFile, AliasTable, Aliases};
///
/// let file = AliasFile::parse(b"plus+*: plusstar\nplus: plainplus\nexact+tag: exacttag\n", None);
/// let table = AliasTable::from_file(&file);
/// let aliases = Aliases::new(&table);
/// let key = |local| aliases.lookup(local, false, None).unwrap().map(|m| m.key);
/// assert_eq!(key("plus+foo").as_deref(), Some("plus+*"));
/// assert_eq!(key("PLUS").as_deref(), Some("plus"));
/// assert_eq!(key("exact+other"), None);
/// // FEATURE(preserve_local_plus_detail): only the full name.
/// assert_eq!(aliases.lookup("plus+foo", true, None).unwrap(), None);
/// ```
#[derive(Clone, Copy)]
pub struct Aliases<'m> {
    map: &'m dyn Map,
}

/// The alias that matched, and its value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AliasMatch {
    /// The key that matched (`user+detail`, `user+*` or `user`), in lower case.
    pub key: String,
    /// The value as stored.
    pub value: String,
}

/// An aliases file parsed into memory: a [`Map`] from lower-cased names to
/// values, a repeated name's last value winning, as in a database
/// `newaliases` builds.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AliasTable {
    entries: HashMap<Vec<u8>, Vec<u8>>,
}

/// The aliases the relay reads: the `newaliases` database beside the text
/// file (`FILE.db`) when there is one, else the text file itself.
#[derive(Debug)]
pub struct AliasDb {
    loaded: Loaded,
    path: PathBuf,
    diagnostics: Vec<AliasDiagnostic>,
    stale_source: Option<PathBuf>,
}

#[derive(Debug)]
enum Loaded {
    Compiled(CompiledMap),
    Text(AliasTable),
}

/// Why the aliases could not be opened.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AliasDbError {
    /// The text file could not be read.
    #[error("{}: cannot read the aliases: {source}", .path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The compiled database could not be opened.
    #[error(transparent)]
    Map(#[from] smarthost_maps::Error),
    /// The compiled database has no `@` sentinel, so `newaliases` did not
    /// finish it (or it was built by makemap, which reads the file wrongly).
    #[error(
        "{}: no `@` entry, so this is not a complete alias database (sendmail refuses it too); \
         rebuild it with `smarthost newaliases {}`",
        .path.display(),
        .source_file.display()
    )]
    NoSentinel {
        /// The database.
        path: PathBuf,
        /// The text file it should be built from.
        source_file: PathBuf,
    },
}

impl<'m> Aliases<'m> {
    /// Aliases over `map`.
    pub fn new(map: &'m dyn Map) -> Self {
        Self { map }
    }

    /// Finds the alias for the local part `local` (decoded, case does not
    /// matter). For `user+detail` the keys are `user+detail`, `user+*`, then
    /// `user` (spec §6.4); with `preserve_plus_detail`
    /// (FEATURE(preserve_local_plus_detail)) only `user+detail`. `probes`,
    /// when given, receives every key tried.
    pub fn lookup(
        &self,
        local: &str,
        preserve_plus_detail: bool,
        mut probes: Option<&mut Vec<Probe>>,
    ) -> Result<Option<AliasMatch>, smarthost_maps::Error> {
        let local = local.to_ascii_lowercase();
        let mut keys = vec![local.clone()];
        if !preserve_plus_detail
            && let Some((user, _)) = local.split_once('+').filter(|(user, _)| !user.is_empty())
        {
            keys.push(format!("{user}+*"));
            keys.push(user.to_string());
        }
        for key in keys {
            let value = self.map.lookup(key.as_bytes())?.map(|v| String::from_utf8_lossy(v).into_owned());
            if let Some(probes) = probes.as_deref_mut() {
                probes.push(Probe { key: key.clone(), value: value.clone(), skipped: None });
            }
            if let Some(value) = value {
                return Ok(Some(AliasMatch { key, value }));
            }
        }
        Ok(None)
    }

    /// The value stored for exactly `key` (no `+` variants): for `owner-`
    /// lists.
    pub fn exact(&self, key: &str) -> Result<Option<String>, smarthost_maps::Error> {
        let key = key.to_ascii_lowercase();
        Ok(self.map.lookup(key.as_bytes())?.map(|v| String::from_utf8_lossy(v).into_owned()))
    }
}

impl AliasFile {
    /// The entries a `newaliases` database holds, ready for
    /// [`smarthost_maps::MapBuilder`]: the pairs of [`AliasFile::pairs`],
    /// then the `@` → `@` sentinel, last, as sendmail writes it.
    ///
    /// ```
    /// use smarthost_maps::{CompiledMap, Map, MapBuilder, SourceOptions};
    /// use smarthost_routing::AliasFile;
    ///
    /// let dir = tempfile::tempdir()?;
    /// let file = AliasFile::parse(b"Postmaster: root\n", None);
    /// let db = dir.path().join("aliases.db");
    /// MapBuilder::new(&db, &SourceOptions::default()).write(&file.map_entries())?;
    /// let map = CompiledMap::open(&db)?;
    /// assert_eq!(map.lookup(b"POSTMASTER")?, Some(&b"root"[..]));
    /// assert_eq!(map.lookup(b"@")?, Some(&b"@"[..]));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn map_entries(&self) -> Vec<Entry<'_>> {
        let mut entries: Vec<Entry<'_>> = self
            .pairs()
            .into_iter()
            .map(|(key, value)| Entry { line: 0, key: key.as_bytes().into(), value: value.as_bytes().into() })
            .collect();
        let sentinel = ALIAS_SENTINEL.as_bytes();
        entries.push(Entry { line: 0, key: sentinel.into(), value: sentinel.into() });
        entries
    }

    /// What `newaliases` reports: `N aliases, longest L bytes, T bytes total`
    /// (L the longest value, T the sum of names and values).
    pub fn summary(&self) -> AliasSummary {
        let pairs = self.pairs();
        AliasSummary {
            aliases: pairs.len(),
            longest: pairs.iter().map(|(_, value)| value.len()).max().unwrap_or(0),
            bytes: pairs.iter().map(|(key, value)| key.len() + value.len()).sum(),
        }
    }
}

/// The counts `newaliases` prints.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AliasSummary {
    /// How many aliases the database holds.
    pub aliases: usize,
    /// The longest value, in bytes.
    pub longest: usize,
    /// Names and values together, in bytes.
    pub bytes: usize,
}

impl fmt::Display for AliasSummary {
    /// sendmail's words: `3 aliases, longest 25 bytes, 60 bytes total`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} aliases, longest {} bytes, {} bytes total", self.aliases, self.longest, self.bytes)
    }
}

impl AliasTable {
    /// The table of a parsed file.
    pub fn from_file(file: &AliasFile) -> Self {
        let entries =
            file.pairs().into_iter().map(|(key, value)| (key.as_bytes().to_vec(), value.as_bytes().to_vec()));
        Self { entries: entries.collect() }
    }

    /// How many aliases it holds.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

impl Map for AliasTable {
    fn lookup(&self, key: &[u8]) -> Result<Option<&[u8]>, smarthost_maps::Error> {
        let found = if key.iter().any(u8::is_ascii_uppercase) {
            self.entries.get(&key.to_ascii_lowercase())
        } else {
            self.entries.get(key)
        };
        Ok(found.map(Vec::as_slice))
    }
}

impl AliasDb {
    /// Opens the aliases named `path` as sendmail's `AliasFile` option names
    /// them: `path` itself if it ends in `.db` or `.cdb`; else `path.db` if
    /// `newaliases` built it (it must hold the `@` sentinel); else the text
    /// file `path`, parsed into memory (`local`, when given, rejects names
    /// with a domain that is not one of this host's).
    pub fn open(path: impl AsRef<Path>, local: Option<&crate::LocalNames>) -> Result<Self, AliasDbError> {
        let path = path.as_ref();
        let name = path.to_string_lossy();
        let (compiled, source) = if name.ends_with(".db") || name.ends_with(".cdb") {
            let source = name.trim_end_matches(".cdb").trim_end_matches(".db");
            (Some(path.to_path_buf()), PathBuf::from(source))
        } else {
            let db = MapType::Hash.file_name(path);
            (db.exists().then_some(db), path.to_path_buf())
        };
        if let Some(db) = compiled {
            let map = CompiledMap::open(&db)?;
            if map.lookup(ALIAS_SENTINEL.as_bytes())? != Some(ALIAS_SENTINEL.as_bytes()) {
                return Err(AliasDbError::NoSentinel { path: db, source_file: source });
            }
            let stale_source = is_newer(&source, &db).then_some(source);
            return Ok(Self {
                loaded: Loaded::Compiled(map),
                path: db,
                diagnostics: Vec::new(),
                stale_source,
            });
        }
        let text =
            std::fs::read(path).map_err(|source| AliasDbError::Read { path: path.to_path_buf(), source })?;
        let file = AliasFile::parse(&text, local);
        Ok(Self {
            loaded: Loaded::Text(AliasTable::from_file(&file)),
            path: path.to_path_buf(),
            diagnostics: file.diagnostics().to_vec(),
            stale_source: None,
        })
    }

    /// The file that was read.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether this is the compiled database (rather than the text).
    pub fn is_compiled(&self) -> bool {
        matches!(self.loaded, Loaded::Compiled(_))
    }

    /// The text file's problems; empty for the compiled database.
    pub fn diagnostics(&self) -> &[AliasDiagnostic] {
        &self.diagnostics
    }

    /// The text file, when it is newer than the database: somebody edited
    /// it and did not run `newaliases`.
    pub fn stale_source(&self) -> Option<&Path> {
        self.stale_source.as_deref()
    }
}

impl Map for AliasDb {
    fn lookup(&self, key: &[u8]) -> Result<Option<&[u8]>, smarthost_maps::Error> {
        match &self.loaded {
            Loaded::Compiled(map) => map.lookup(key),
            Loaded::Text(table) => table.lookup(key),
        }
    }
}

fn is_newer(source: &Path, db: &Path) -> bool {
    let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    matches!((modified(source), modified(db)), (Some(s), Some(d)) if s > d)
}

#[cfg(test)]
mod tests;
