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

use std::path::{Path, PathBuf};

use smarthost_routing::Feature;
use toml::{Table, Value};

use crate::toml_keys::Reader;

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
        config(&Reader::new(path), &crate::toml_keys::read(path)?)
    }
}

fn config(r: &Reader<'_>, table: &Table) -> Result<Config, String> {
    let mut config = Config {
        hostname: r.string(table, "", "hostname")?,
        local_host_names: r.strings(table, "", "local_host_names")?,
        local_host_names_file: r.file(table, "", "local_host_names_file")?,
        ..Config::default()
    };
    if let Some(maps) = r.table(table, "", "maps")? {
        config.genericstable = r.file(maps, "maps.", "genericstable")?;
        config.virtusertable = r.file(maps, "maps.", "virtusertable")?;
        config.sender_by_recipient = r.file(maps, "maps.", "sender_by_recipient")?;
    }
    if let Some(masquerade) = r.table(table, "", "masquerade")? {
        let prefix = "masquerade.";
        config.masquerade_as = r.string(masquerade, prefix, "as")?;
        config.masquerade_domains = r.strings(masquerade, prefix, "domains")?;
        config.masquerade_domains_file = r.file(masquerade, prefix, "domains_file")?;
        config.exceptions = r.strings(masquerade, prefix, "exceptions")?;
        config.exposed_users = r.strings(masquerade, prefix, "exposed_users")?;
        for (key, feature) in [
            ("envelope", Feature::MasqueradeEnvelope),
            ("all", Feature::AllMasquerade),
            ("entire_domain", Feature::MasqueradeEntireDomain),
            ("limited", Feature::LimitedMasquerade),
            ("local_no_masquerade", Feature::LocalNoMasquerade),
        ] {
            if r.boolean(masquerade, prefix, key)? == Some(true) {
                config.features.push(feature);
            }
        }
        config.always_add_domain = match masquerade.get("always_add_domain") {
            None | Some(Value::Boolean(false)) => None,
            Some(Value::Boolean(true)) => Some(AlwaysAddDomain::On),
            Some(Value::String(domain)) => Some(AlwaysAddDomain::As(domain.clone())),
            Some(other) => {
                return Err(r.wrong_type(prefix, "always_add_domain", "true, false or a domain", other));
            }
        };
    }
    if let Some(generics) = r.table(table, "", "generics")? {
        let prefix = "generics.";
        config.generics_domains = r.strings(generics, prefix, "domains")?;
        config.generics_domains_file = r.file(generics, prefix, "domains_file")?;
        if r.boolean(generics, prefix, "entire_domain")? == Some(true) {
            config.features.push(Feature::GenericsEntireDomain);
        }
    }
    Ok(config)
}
