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

use std::path::{Path, PathBuf};

use smarthost_routing::RequireRdns;
use toml::{Table, Value};

use crate::toml_keys::Reader;

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
        config(&Reader::new(path), &crate::toml_keys::read(path)?)
    }
}

fn config(r: &Reader<'_>, table: &Table) -> Result<Config, String> {
    let mut config = Config {
        hostname: r.string(table, "", "hostname")?,
        local_host_names: r.strings(table, "", "local_host_names")?.unwrap_or_default(),
        local_host_names_file: r.file(table, "", "local_host_names_file")?,
        relay_domains: r.strings(table, "", "relay_domains")?.unwrap_or_default(),
        relay_domains_file: r.file(table, "", "relay_domains_file")?,
        ..Config::default()
    };
    if let Some(maps) = r.table(table, "", "maps")? {
        config.access = r.file(maps, "maps.", "access")?;
    }
    if let Some(policy) = r.table(table, "", "policy")? {
        config.require_rdns = match policy.get("require_rdns") {
            None | Some(Value::Boolean(false)) => None,
            Some(Value::Boolean(true)) => Some(RequireRdns { forward_confirm: false }),
            Some(Value::String(s)) if s == "forward-confirm" => Some(RequireRdns { forward_confirm: true }),
            Some(other) => {
                return Err(r.wrong_type(
                    "policy.",
                    "require_rdns",
                    "true, false or \"forward-confirm\"",
                    other,
                ));
            }
        };
        config.trust_auth_mechs = r.strings(policy, "policy.", "trust_auth_mechs")?.unwrap_or_default();
        config.features = r.strings(policy, "policy.", "features")?.unwrap_or_default();
    }
    Ok(config)
}
