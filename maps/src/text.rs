//! A text source loaded into memory, for operators who point the
//! configuration at the text file itself (like Postfix's `texthash:`).

use std::collections::HashMap;
use std::path::Path;

use crate::error::IoAction;
use crate::map::{ContentHash, KeyHashBuilder, with_stored_key};
use crate::source::{Diagnostic, Source, SourceOptions};
use crate::{Error, Map};

/// A map held in memory, parsed from makemap source text.
///
/// It follows the same rules as a map compiled from the same text: the same
/// lines are accepted and rejected, duplicates are resolved the same way, and
/// keys are folded unless `fold_case` is off.
///
/// ```
/// use smarthost_maps::{Map, SourceOptions, TextMap};
///
/// let (map, diagnostics) = TextMap::from_source(b"Connect:192.0.2  REJECT\n", &SourceOptions::default());
/// assert!(diagnostics.is_empty());
/// assert_eq!(map.lookup(b"connect:192.0.2")?, Some(&b"REJECT"[..]));
/// # Ok::<(), smarthost_maps::Error>(())
/// ```
#[derive(Debug)]
pub struct TextMap {
    entries: HashMap<Box<[u8]>, Box<[u8]>, KeyHashBuilder>,
    fold: bool,
    content_hash: ContentHash,
}

impl TextMap {
    /// Reads and parses a source file. The diagnostics are makemap's: the map
    /// holds every accepted line, as a compiled map would.
    pub fn load(path: impl AsRef<Path>, options: &SourceOptions) -> Result<(Self, Vec<Diagnostic>), Error> {
        let path = path.as_ref();
        let text = std::fs::read(path).map_err(Error::io(IoAction::Read, path))?;
        Ok(Self::from_source(&text, options))
    }

    /// Parses source text.
    pub fn from_source(text: &[u8], options: &SourceOptions) -> (Self, Vec<Diagnostic>) {
        let source = Source::parse(text, options);
        let mut entries =
            HashMap::with_capacity_and_hasher(source.entries().len(), KeyHashBuilder::default());
        for entry in source.entries() {
            // With `-d` several entries share a key; the first answers
            // lookups, as in a compiled map.
            entries
                .entry(entry.key.to_vec().into_boxed_slice())
                .or_insert_with(|| entry.value.to_vec().into());
        }
        let content_hash = ContentHash(xxhash_rust::xxh3::xxh3_64(text));
        let map = Self { entries, fold: options.fold_case, content_hash };
        (map, source.diagnostics().to_vec())
    }

    /// How many distinct keys the map holds.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the map holds no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// A hash of the source text.
    pub fn content_hash(&self) -> ContentHash {
        self.content_hash
    }
}

impl Map for TextMap {
    fn lookup(&self, key: &[u8]) -> Result<Option<&[u8]>, Error> {
        Ok(with_stored_key(key, self.fold, false, |key| self.entries.get(key).map(|v| &**v)))
    }
}
