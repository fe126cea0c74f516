//! `smarthost route --config FILE`: the keys of the relay's TOML
//! configuration that routing reads. Other keys belong to the rest of the
//! relay and are left alone.
//!
//! ```toml
//! hostname = "mail.example.net"
//! local_host_names = ["example.net", "www.example.net"]
//! local_host_names_file = "local-host-names"   # relative to this file
//! relay_domains = ["example.org"]              # RELAY_DOMAIN (class R)
//! virtuser_domains = ["virt.example.org"]      # VIRTUSER_DOMAIN
//! virtuser_domain_file = "virtuser-domains"    # VIRTUSER_DOMAIN_FILE
//!
//! [maps]
//! mailertable = "mailertable"                  # relative to this file
//! virtusertable = "virtusertable"
//! aliases = "aliases"                          # aliases.db when newaliases built it
//! access = "access"
//!
//! [routing]
//! smart_host = "relay:[smtp.isp.example]"
//! relay_mailer = "relay"
//! features = ["redirect"]                      # FEATURE(...) names
//!
//! [mailers.relay]
//! port = 587
//! tls = "required"            # none | opportunistic | required | implicit
//! auth = "required"           # none | if-offered | required
//! dangerous_accept_invalid_certs = false
//! ```

use std::path::{Path, PathBuf};

use smarthost_routing::{AuthPolicy, Mailer, MailerKind, Mailers, TlsPolicy};
use toml::{Table, Value};

use crate::toml_keys::Reader;

/// What the configuration file says about routing; `None` where it is silent.
#[derive(Debug, Default)]
pub(crate) struct Config {
    pub(crate) hostname: Option<String>,
    pub(crate) local_host_names: Option<Vec<String>>,
    pub(crate) local_host_names_file: Option<PathBuf>,
    pub(crate) mailertable: Option<PathBuf>,
    pub(crate) smart_host: Option<String>,
    pub(crate) relay_mailer: Option<String>,
    mailers: Vec<MailerSettings>,
    pub(crate) virtusertable: Option<PathBuf>,
    pub(crate) aliases: Option<PathBuf>,
    pub(crate) access: Option<PathBuf>,
    pub(crate) relay_domains: Vec<String>,
    pub(crate) virtuser_domains: Vec<String>,
    pub(crate) virtuser_domain_file: Option<PathBuf>,
    pub(crate) features: Vec<String>,
}

/// One `[mailers.NAME]` table.
#[derive(Debug)]
struct MailerSettings {
    name: String,
    port: Option<u16>,
    tls: Option<TlsPolicy>,
    auth: Option<AuthPolicy>,
    dangerous_accept_invalid_certs: Option<bool>,
}

impl Config {
    /// Reads `path`; a message naming the file and the key when it cannot.
    pub(crate) fn load(path: &Path) -> Result<Self, String> {
        config(&Reader::new(path), &crate::toml_keys::read(path)?)
    }

    /// Applies the `[mailers.NAME]` tables over `mailers`; a name that is not
    /// a standard mailer defines a new SMTP mailer (port 25, opportunistic
    /// TLS, AUTH if offered, unless the table says otherwise).
    pub(crate) fn apply_mailers(&self, mailers: &mut Mailers) {
        for settings in &self.mailers {
            if mailers.get(&settings.name).is_none() {
                mailers.insert(Mailer {
                    name: settings.name.clone(),
                    kind: MailerKind::Smtp,
                    port: 25,
                    tls: TlsPolicy::Opportunistic,
                    verify_certificates: true,
                    auth: AuthPolicy::IfOffered,
                });
            }
            let mailer = mailers.get_mut(&settings.name).expect("inserted above when missing");
            if let Some(port) = settings.port {
                mailer.port = port;
            }
            if let Some(tls) = settings.tls {
                mailer.tls = tls;
            }
            if let Some(auth) = settings.auth {
                mailer.auth = auth;
            }
            if let Some(dangerous) = settings.dangerous_accept_invalid_certs {
                mailer.verify_certificates = !dangerous;
            }
        }
    }
}

fn config(r: &Reader<'_>, table: &Table) -> Result<Config, String> {
    let mut config = Config {
        hostname: r.string(table, "", "hostname")?,
        local_host_names: r.strings(table, "", "local_host_names")?,
        local_host_names_file: r.file(table, "", "local_host_names_file")?,
        relay_domains: r.strings(table, "", "relay_domains")?.unwrap_or_default(),
        virtuser_domains: r.strings(table, "", "virtuser_domains")?.unwrap_or_default(),
        virtuser_domain_file: r.string(table, "", "virtuser_domain_file")?.map(|f| r.base.join(f)),
        ..Config::default()
    };
    if let Some(maps) = r.table(table, "", "maps")? {
        config.mailertable = r.string(maps, "maps.", "mailertable")?.map(|f| r.base.join(f));
        config.virtusertable = r.string(maps, "maps.", "virtusertable")?.map(|f| r.base.join(f));
        config.aliases = r.string(maps, "maps.", "aliases")?.map(|f| r.base.join(f));
        config.access = r.string(maps, "maps.", "access")?.map(|f| r.base.join(f));
    }
    if let Some(routing) = r.table(table, "", "routing")? {
        config.smart_host = r.string(routing, "routing.", "smart_host")?;
        config.relay_mailer = r.string(routing, "routing.", "relay_mailer")?;
        config.features = r.strings(routing, "routing.", "features")?.unwrap_or_default();
    }
    if let Some(mailers) = r.table(table, "", "mailers")? {
        for name in mailers.keys() {
            let prefix = format!("mailers.{name}.");
            let settings = r.table(mailers, "mailers.", name)?.expect("the key exists");
            config.mailers.push(mailer(r, name, settings, &prefix)?);
        }
    }
    Ok(config)
}

fn mailer(r: &Reader<'_>, name: &str, table: &Table, prefix: &str) -> Result<MailerSettings, String> {
    let port = match table.get("port") {
        None => None,
        Some(Value::Integer(port)) => Some(
            u16::try_from(*port)
                .ok()
                .filter(|port| *port > 0)
                .ok_or_else(|| r.bad(prefix, "port", "a port between 1 and 65535", port))?,
        ),
        Some(other) => return Err(r.wrong_type(prefix, "port", "an integer", other)),
    };
    let policy_error = |key: &str, e: String| format!("{}: key `{prefix}{key}`: {e}", r.path.display());
    let tls = r.string(table, prefix, "tls")?.map(|t| t.parse::<TlsPolicy>()).transpose();
    let auth = r.string(table, prefix, "auth")?.map(|a| a.parse::<AuthPolicy>()).transpose();
    let dangerous = match table.get("dangerous_accept_invalid_certs") {
        None => None,
        Some(Value::Boolean(b)) => Some(*b),
        Some(other) => {
            return Err(r.wrong_type(prefix, "dangerous_accept_invalid_certs", "true or false", other));
        }
    };
    Ok(MailerSettings {
        name: name.to_string(),
        port,
        tls: tls.map_err(|e| policy_error("tls", e.to_string()))?,
        auth: auth.map_err(|e| policy_error("auth", e.to_string()))?,
        dangerous_accept_invalid_certs: dangerous,
    })
}
