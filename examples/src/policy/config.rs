//! `smarthost policy --config FILE`: the keys of the relay's TOML
//! configuration that the relay policy reads. Other keys belong to the
//! rest of the relay and are left alone.
//!
//! ```toml
//! hostname = "mail.example.net"
//! local_host_names = ["example.net", "[192.0.2.1]"]
//! local_host_names_file = "local-host-names"   # relative to this file
//! relay_domains = ["partner.example", "10.1"]  # RELAY_DOMAIN
//! relay_domains_file = "relay-domains"          # relative to this file
//!
//! [maps]
//! access = "access"                             # relative to this file
//!
//! [policy]
//! require_rdns = true                           # or "forward-confirm"
//! trust_auth_mechs = ["PLAIN", "LOGIN"]         # TRUST_AUTH_MECH
//! features = ["delay_checks", "nouucp=reject"]  # sendmail FEATURE names
//! ```

use std::fs;
use std::path::{Path, PathBuf};

use smarthost_routing::RequireRdns;
use toml::{Table, Value};

/// What the configuration file says about the policy; `None` where it is silent.
#[derive(Debug, Default)]
pub(crate) struct Config {
    pub(crate) hostname: Option<String>,
    pub(crate) local_host_names: Vec<String>,
    pub(crate) local_host_names_file: Option<PathBuf>,
    pub(crate) relay_domains: Vec<String>,
    pub(crate) relay_domains_file: Option<PathBuf>,
    pub(crate) access: Option<PathBuf>,
    pub(crate) require_rdns: Option<RequireRdns>,
    pub(crate) trust_auth_mechs: Vec<String>,
    pub(crate) features: Vec<String>,
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
            local_host_names: self.strings(table, "", "local_host_names")?.unwrap_or_default(),
            local_host_names_file: self.file(table, "", "local_host_names_file")?,
            relay_domains: self.strings(table, "", "relay_domains")?.unwrap_or_default(),
            relay_domains_file: self.file(table, "", "relay_domains_file")?,
            ..Config::default()
        };
        if let Some(maps) = self.table(table, "", "maps")? {
            config.access = self.file(maps, "maps.", "access")?;
        }
        if let Some(policy) = self.table(table, "", "policy")? {
            config.require_rdns = match policy.get("require_rdns") {
                None | Some(Value::Boolean(false)) => None,
                Some(Value::Boolean(true)) => Some(RequireRdns { forward_confirm: false }),
                Some(Value::String(s)) if s == "forward-confirm" => {
                    Some(RequireRdns { forward_confirm: true })
                }
                Some(other) => {
                    return Err(self.wrong_type(
                        "policy.",
                        "require_rdns",
                        "true, false or \"forward-confirm\"",
                        other,
                    ));
                }
            };
            config.trust_auth_mechs =
                self.strings(policy, "policy.", "trust_auth_mechs")?.unwrap_or_default();
            config.features = self.strings(policy, "policy.", "features")?.unwrap_or_default();
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
