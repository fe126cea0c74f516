//! Typed reads of the relay's TOML configuration for the commands that use
//! part of it (`route`, `policy`, `rewrite`): each error names the file and
//! the dotted key. `smarthost config check` validates the whole file with
//! `smarthost_relay::Config`.

use std::fs;
use std::path::{Path, PathBuf};

use toml::{Table, Value};

/// Reads and parses `path`, naming the file when it cannot.
pub(crate) fn read(path: &Path) -> Result<Table, String> {
    let text = fs::read_to_string(path).map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
    text.parse().map_err(|e| format!("{}: not valid TOML: {e}", path.display()))
}

/// Reads typed values out of the parsed file, naming the key on error;
/// relative paths are taken relative to the file's directory.
pub(crate) struct Reader<'p> {
    pub(crate) path: &'p Path,
    pub(crate) base: &'p Path,
}

impl<'p> Reader<'p> {
    pub(crate) fn new(path: &'p Path) -> Self {
        Reader { path, base: path.parent().unwrap_or(Path::new("")) }
    }

    pub(crate) fn file(&self, table: &Table, prefix: &str, key: &str) -> Result<Option<PathBuf>, String> {
        Ok(self.string(table, prefix, key)?.map(|f| self.base.join(f)))
    }

    pub(crate) fn string(&self, table: &Table, prefix: &str, key: &str) -> Result<Option<String>, String> {
        match table.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(other) => Err(self.wrong_type(prefix, key, "a string", other)),
        }
    }

    pub(crate) fn boolean(&self, table: &Table, prefix: &str, key: &str) -> Result<Option<bool>, String> {
        match table.get(key) {
            None => Ok(None),
            Some(Value::Boolean(b)) => Ok(Some(*b)),
            Some(other) => Err(self.wrong_type(prefix, key, "true or false", other)),
        }
    }

    pub(crate) fn strings(
        &self,
        table: &Table,
        prefix: &str,
        key: &str,
    ) -> Result<Option<Vec<String>>, String> {
        match table.get(key) {
            None => Ok(None),
            Some(Value::Array(items)) => items
                .iter()
                .map(|item| match item {
                    Value::String(s) => Ok(s.clone()),
                    other => Err(self.wrong_type(prefix, key, "an array of strings", other)),
                })
                .collect::<Result<_, _>>()
                .map(Some),
            Some(other) => Err(self.wrong_type(prefix, key, "an array of strings", other)),
        }
    }

    pub(crate) fn table<'t>(
        &self,
        table: &'t Table,
        prefix: &str,
        key: &str,
    ) -> Result<Option<&'t Table>, String> {
        match table.get(key) {
            None => Ok(None),
            Some(Value::Table(t)) => Ok(Some(t)),
            Some(other) => Err(self.wrong_type(prefix, key, "a table", other)),
        }
    }

    pub(crate) fn wrong_type(&self, prefix: &str, key: &str, expected: &str, found: &Value) -> String {
        format!("{}: key `{prefix}{key}` must be {expected}, not {}", self.path.display(), found.type_str())
    }

    pub(crate) fn bad(
        &self,
        prefix: &str,
        key: &str,
        expected: &str,
        found: impl std::fmt::Display,
    ) -> String {
        format!("{}: key `{prefix}{key}` must be {expected}, not {found}", self.path.display())
    }
}
