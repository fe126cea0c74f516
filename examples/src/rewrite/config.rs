//! `smarthost rewrite --config FILE`: the keys of the relay's TOML
//! configuration that address rewriting reads. Other keys belong to the
//! rest of the relay and are left alone. File names are relative to the
//! configuration file.
//!
//! ```toml
//! hostname = "mail.internal.example.com"          # $j
//! local_host_names = ["mail", "legacy.example.org"]
//! local_host_names_file = "local-host-names"
//!
//! [maps]
//! genericstable = "genericstable"                 # FEATURE(genericstable)
//! virtusertable = "virtusertable"                 # routing's; accepted here
//! sender_by_recipient = "sender-by-recipient"     # [EXT], with --message
//!
//! [masquerade]
//! as = "example.com"                              # MASQUERADE_AS
//! domains = ["internal.example.com"]              # MASQUERADE_DOMAIN
//! domains_file = "masquerade-domains"             # MASQUERADE_DOMAIN_FILE
//! exceptions = ["keep.internal.example.com"]      # MASQUERADE_EXCEPTION
//! exposed_users = ["root"]                        # EXPOSED_USER
//! envelope = true                                 # masquerade_envelope
//! all = true                                      # allmasquerade
//! entire_domain = true                            # masquerade_entire_domain
//! limited = false                                 # limited_masquerade
//! always_add_domain = true                        # or a domain: always_add_domain(`d')
//! local_no_masquerade = false
//!
//! [generics]
//! domains = ["mail.internal.example.com"]         # GENERICS_DOMAIN
//! domains_file = "generics-domains"               # GENERICS_DOMAIN_FILE
//! entire_domain = false                           # generics_entire_domain
//! ```

use std::fs;
use std::path::{Path, PathBuf};

use smarthost_routing::Feature;
use toml::{Table, Value};

/// `always_add_domain`: on, or on with a domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum AlwaysAddDomain {
    On,
    As(String),
}

/// What the configuration file says about rewriting; `None` or empty where
/// it is silent.
#[derive(Debug, Default)]
pub(crate) struct Config {
    pub(crate) hostname: Option<String>,
    pub(crate) local_host_names: Option<Vec<String>>,
    pub(crate) local_host_names_file: Option<PathBuf>,
    pub(crate) genericstable: Option<PathBuf>,
    pub(crate) virtusertable: Option<PathBuf>,
    pub(crate) sender_by_recipient: Option<PathBuf>,
    pub(crate) masquerade_as: Option<String>,
    pub(crate) masquerade_domains: Option<Vec<String>>,
    pub(crate) masquerade_domains_file: Option<PathBuf>,
    pub(crate) exceptions: Option<Vec<String>>,
    pub(crate) exposed_users: Option<Vec<String>>,
    pub(crate) generics_domains: Option<Vec<String>>,
    pub(crate) generics_domains_file: Option<PathBuf>,
    pub(crate) features: Vec<Feature>,
    pub(crate) always_add_domain: Option<AlwaysAddDomain>,
}

impl Config {
    /// Reads `path`; a message naming the file and the key when it cannot.
    pub(crate) fn load(path: &Path) -> Result<Self, String> {
        let text = fs::read_to_string(path).map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
        let table: Table = text.parse().map_err(|e| format!("{}: not valid TOML: {e}", path.display()))?;
        let base = path.parent().unwrap_or(Path::new(""));
        Reader { path, base }.config(&table)
    }
}

/// Reads typed values out of the parsed file, naming the key on error.
struct Reader<'p> {
    path: &'p Path,
    base: &'p Path,
}

impl Reader<'_> {
    fn config(&self, table: &Table) -> Result<Config, String> {
        let mut config = Config {
            hostname: self.string(table, "", "hostname")?,
            local_host_names: self.strings(table, "", "local_host_names")?,
            local_host_names_file: self.file(table, "", "local_host_names_file")?,
            ..Config::default()
        };
        if let Some(maps) = self.table(table, "", "maps")? {
            config.genericstable = self.file(maps, "maps.", "genericstable")?;
            config.virtusertable = self.file(maps, "maps.", "virtusertable")?;
            config.sender_by_recipient = self.file(maps, "maps.", "sender_by_recipient")?;
        }
        if let Some(masquerade) = self.table(table, "", "masquerade")? {
            let prefix = "masquerade.";
            config.masquerade_as = self.string(masquerade, prefix, "as")?;
            config.masquerade_domains = self.strings(masquerade, prefix, "domains")?;
            config.masquerade_domains_file = self.file(masquerade, prefix, "domains_file")?;
            config.exceptions = self.strings(masquerade, prefix, "exceptions")?;
            config.exposed_users = self.strings(masquerade, prefix, "exposed_users")?;
            for (key, feature) in [
                ("envelope", Feature::MasqueradeEnvelope),
                ("all", Feature::AllMasquerade),
                ("entire_domain", Feature::MasqueradeEntireDomain),
                ("limited", Feature::LimitedMasquerade),
                ("local_no_masquerade", Feature::LocalNoMasquerade),
            ] {
                if self.boolean(masquerade, prefix, key)? == Some(true) {
                    config.features.push(feature);
                }
            }
            config.always_add_domain = match masquerade.get("always_add_domain") {
                None | Some(Value::Boolean(false)) => None,
                Some(Value::Boolean(true)) => Some(AlwaysAddDomain::On),
                Some(Value::String(domain)) => Some(AlwaysAddDomain::As(domain.clone())),
                Some(other) => {
                    return Err(self.wrong_type(
                        prefix,
                        "always_add_domain",
                        "true, false or a domain",
                        other,
                    ));
                }
            };
        }
        if let Some(generics) = self.table(table, "", "generics")? {
            let prefix = "generics.";
            config.generics_domains = self.strings(generics, prefix, "domains")?;
            config.generics_domains_file = self.file(generics, prefix, "domains_file")?;
            if self.boolean(generics, prefix, "entire_domain")? == Some(true) {
                config.features.push(Feature::GenericsEntireDomain);
            }
        }
        Ok(config)
    }

    fn file(&self, table: &Table, prefix: &str, key: &str) -> Result<Option<PathBuf>, String> {
        Ok(self.string(table, prefix, key)?.map(|f| self.base.join(f)))
    }

    fn string(&self, table: &Table, prefix: &str, key: &str) -> Result<Option<String>, String> {
        match table.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(other) => Err(self.wrong_type(prefix, key, "a string", other)),
        }
    }

    fn boolean(&self, table: &Table, prefix: &str, key: &str) -> Result<Option<bool>, String> {
        match table.get(key) {
            None => Ok(None),
            Some(Value::Boolean(b)) => Ok(Some(*b)),
            Some(other) => Err(self.wrong_type(prefix, key, "true or false", other)),
        }
    }

    fn strings(&self, table: &Table, prefix: &str, key: &str) -> Result<Option<Vec<String>>, String> {
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

    fn table<'t>(&self, table: &'t Table, prefix: &str, key: &str) -> Result<Option<&'t Table>, String> {
        match table.get(key) {
            None => Ok(None),
            Some(Value::Table(t)) => Ok(Some(t)),
            Some(other) => Err(self.wrong_type(prefix, key, "a table", other)),
        }
    }

    fn wrong_type(&self, prefix: &str, key: &str, expected: &str, found: &Value) -> String {
        format!("{}: key `{prefix}{key}` must be {expected}, not {}", self.path.display(), found.type_str())
    }
}
