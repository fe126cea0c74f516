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

use std::fs;
use std::path::{Path, PathBuf};

use smarthost_routing::{AuthPolicy, Mailer, MailerKind, Mailers, TlsPolicy};
use toml::{Table, Value};

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
        let text = fs::read_to_string(path).map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
        let table: Table = text.parse().map_err(|e| format!("{}: not valid TOML: {e}", path.display()))?;
        let base = path.parent().unwrap_or(Path::new(""));
        Reader { path, base }.config(&table)
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
            local_host_names_file: self
                .string(table, "", "local_host_names_file")?
                .map(|f| self.base.join(f)),
            relay_domains: self.strings(table, "", "relay_domains")?.unwrap_or_default(),
            virtuser_domains: self.strings(table, "", "virtuser_domains")?.unwrap_or_default(),
            virtuser_domain_file: self.string(table, "", "virtuser_domain_file")?.map(|f| self.base.join(f)),
            ..Config::default()
        };
        if let Some(maps) = self.table(table, "", "maps")? {
            config.mailertable = self.string(maps, "maps.", "mailertable")?.map(|f| self.base.join(f));
            config.virtusertable = self.string(maps, "maps.", "virtusertable")?.map(|f| self.base.join(f));
            config.aliases = self.string(maps, "maps.", "aliases")?.map(|f| self.base.join(f));
            config.access = self.string(maps, "maps.", "access")?.map(|f| self.base.join(f));
        }
        if let Some(routing) = self.table(table, "", "routing")? {
            config.smart_host = self.string(routing, "routing.", "smart_host")?;
            config.relay_mailer = self.string(routing, "routing.", "relay_mailer")?;
            config.features = self.strings(routing, "routing.", "features")?.unwrap_or_default();
        }
        if let Some(mailers) = self.table(table, "", "mailers")? {
            for name in mailers.keys() {
                let prefix = format!("mailers.{name}.");
                let mailer = self.table(mailers, "mailers.", name)?.expect("the key exists");
                config.mailers.push(self.mailer(name, mailer, &prefix)?);
            }
        }
        Ok(config)
    }

    fn mailer(&self, name: &str, table: &Table, prefix: &str) -> Result<MailerSettings, String> {
        let port = match table.get("port") {
            None => None,
            Some(Value::Integer(port)) => Some(
                u16::try_from(*port)
                    .ok()
                    .filter(|port| *port > 0)
                    .ok_or_else(|| self.bad(prefix, "port", "a port between 1 and 65535", port))?,
            ),
            Some(other) => return Err(self.wrong_type(prefix, "port", "an integer", other)),
        };
        let policy_error =
            |key: &str, e: String| format!("{}: key `{prefix}{key}`: {e}", self.path.display());
        let tls = self.string(table, prefix, "tls")?.map(|t| t.parse::<TlsPolicy>()).transpose();
        let auth = self.string(table, prefix, "auth")?.map(|a| a.parse::<AuthPolicy>()).transpose();
        let dangerous = match table.get("dangerous_accept_invalid_certs") {
            None => None,
            Some(Value::Boolean(b)) => Some(*b),
            Some(other) => {
                return Err(self.wrong_type(
                    prefix,
                    "dangerous_accept_invalid_certs",
                    "true or false",
                    other,
                ));
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

    fn bad(&self, prefix: &str, key: &str, expected: &str, found: impl std::fmt::Display) -> String {
        format!("{}: key `{prefix}{key}` must be {expected}, not {found}", self.path.display())
    }
}
