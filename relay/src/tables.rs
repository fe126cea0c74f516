//! Everything a configuration names, loaded and checked once: the maps,
//! the policy, the mailers, the certificates and the logins.
//!
//! A [`Tables`] is immutable. Reloading (SIGHUP, or a map file rebuilt on
//! disk) builds a new one beside the old and swaps an `Arc`: sessions in
//! progress keep the generation they started with, new ones get the new
//! one, and a configuration that fails to load never replaces a good one.

use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use smarthost_authinfo::server::ServerCredentials;
use smarthost_authinfo::{AuthInfoFile, LoadOptions, LookupRequest};
use smarthost_maps::{Map, MapGeneration, Source, SourceOptions, open_map};
use smarthost_routing::{
    AccessIndex, AccessMap, AccessOptions, AliasDb, Aliases, FsIncludes, LocalNames, LocalUsers, Mailers,
    Mailertable, MailertableOptions, Masquerade, Policy, PolicyOptions, RecipientResolver, RelayDomains,
    ResolveOptions, Rewriter, RouteCache, Router, SmartHost, VirtuserDomains, Virtusertable,
};
use smarthost_smtp_core::tokio::{TlsClient, TlsClientOptions, TrustAnchors, server_tls_config};
use smarthost_smtp_core::{AuthConfig as ServerAuth, ServerConfig};

use crate::config::{Config, ListenMode, LocalDelivery};

/// The loaded form of one configuration.
pub struct Tables {
    /// The configuration these were loaded from.
    pub config: Config,
    /// This host's name (`$j`).
    pub hostname: String,
    local: LocalNames,
    relay_domains: RelayDomains,
    policy_options: PolicyOptions,
    access_options: AccessOptions,
    access: Option<AccessIndex<MapGeneration>>,
    mailers: Mailers,
    mailertable: Option<MapGeneration>,
    table_options: MailertableOptions,
    route_cache: RouteCache,
    smart_host: Option<SmartHost>,
    virtusertable: Option<MapGeneration>,
    virtuser_domains: VirtuserDomains,
    aliases: Option<AliasDb>,
    genericstable: Option<MapGeneration>,
    masquerade: Masquerade,
    resolve_options: ResolveOptions,
    local_users: PasswdUsers,
    includes: FsIncludes,
    authinfo: Option<AuthInfoFile>,
    /// The rustls server configuration of the listeners, when `[tls]` is set.
    pub server_tls: Option<Arc<rustls::ServerConfig>>,
    server_configs: [Arc<ServerConfig>; 3],
    tls_clients: std::collections::HashMap<String, TlsClient>,
    /// Every map file and its modification stamp when loaded, to notice a
    /// rebuilt map without a SIGHUP.
    stamps: Vec<(PathBuf, Option<Stamp>)>,
    /// A short name of this generation of maps for log lines.
    pub generation: String,
}

/// A file's identity and age, to tell when it changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Stamp {
    modified: Option<SystemTime>,
    len: u64,
    inode: u64,
}

fn stamp(path: &Path) -> Option<Stamp> {
    use std::os::unix::fs::MetadataExt;
    let meta = fs::metadata(path).ok()?;
    Some(Stamp { modified: meta.modified().ok(), len: meta.len(), inode: meta.ino() })
}

/// Why a configuration could not be loaded.
#[derive(Debug)]
pub struct LoadError(pub String);

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for LoadError {}

fn fail(what: impl fmt::Display) -> LoadError {
    LoadError(what.to_string())
}

impl Tables {
    /// Loads everything `config` names. Fails with one message naming the
    /// file and the problem; nothing is half-loaded.
    pub fn load(config: Config) -> Result<Tables, LoadError> {
        let hostname = match &config.hostname {
            Some(name) => name.clone(),
            None => crate::host::system_hostname().map_err(fail)?,
        };
        let mut local = LocalNames::new(&hostname);
        for name in &config.local_host_names {
            local.add(name);
        }
        let mut stamps = Vec::new();
        if let Some(file) = &config.local_host_names_file {
            local.load_file(file).map_err(fail)?;
            stamps.push((file.clone(), stamp(file)));
        }
        let mut relay_domains = RelayDomains::new();
        for entry in &config.relay_domains {
            relay_domains.add(entry);
        }
        // The listeners offer AUTH only with the logins file and PLAIN/LOGIN
        // only over TLS, so any successful AUTH is one of our users: it may
        // relay (sendmail's TRUST_AUTH_MECH over every mechanism offered).
        let mut policy_options = PolicyOptions {
            hostname: hostname.clone(),
            trust_auth_mechs: vec!["*".to_owned()],
            ..PolicyOptions::default()
        };
        let mut access_options = AccessOptions::default();
        let mut resolve_options = ResolveOptions::default();
        for feature in &config.routing.features {
            match feature.as_str() {
                "redirect" => resolve_options.redirect = true,
                "preserve_local_plus_detail" => resolve_options.preserve_local_plus_detail = true,
                _ => policy_options
                    .apply_feature(&mut access_options, feature)
                    .map_err(|e| fail(format!("{}: key `routing.features`: {e}", config.file.display())))?,
            }
        }
        if config.policy.require_rdns {
            policy_options.require_rdns = Some(smarthost_routing::RequireRdns::default());
        }

        let source_options = SourceOptions::default();
        let open =
            |path: &Path, stamps: &mut Vec<(PathBuf, Option<Stamp>)>| -> Result<MapGeneration, LoadError> {
                let map = open_map(path, &source_options).map_err(fail)?;
                stamps.push((map.path().to_path_buf(), stamp(map.path())));
                if map.path() != path {
                    stamps.push((path.to_path_buf(), stamp(path)));
                }
                Ok(map)
            };
        let access = match &config.maps.access {
            Some(path) => {
                let map = open(path, &mut stamps)?;
                Some(index_access(map, access_options)?)
            }
            None => None,
        };
        let mailers = config.routing_mailers();
        let table_options = MailertableOptions::default();
        let mailertable = config.maps.mailertable.as_deref().map(|p| open(p, &mut stamps)).transpose()?;
        let virtusertable = config.maps.virtusertable.as_deref().map(|p| open(p, &mut stamps)).transpose()?;
        let genericstable = config.maps.genericstable.as_deref().map(|p| open(p, &mut stamps)).transpose()?;
        let mut virtuser_domains = VirtuserDomains::default();
        for domain in &config.virtuser_domains {
            virtuser_domains.add(domain);
        }
        if let Some(file) = &config.virtuser_domain_file {
            virtuser_domains.load_file(file).map_err(fail)?;
        }
        let aliases = match &config.maps.aliases {
            Some(path) => {
                let db = AliasDb::open(path, Some(&local)).map_err(fail)?;
                stamps.push((path.clone(), stamp(path)));
                let compiled = path.with_extension(match path.extension() {
                    Some(ext) => format!("{}.db", ext.to_string_lossy()),
                    None => "db".into(),
                });
                stamps.push((compiled.clone(), stamp(&compiled)));
                Some(db)
            }
            None => None,
        };
        let masquerade = masquerade(&config, &hostname)?;
        let authinfo = match &config.maps.authinfo {
            Some(path) => {
                let file = AuthInfoFile::load(path, LoadOptions::default()).map_err(fail)?;
                stamps.push((path.clone(), stamp(path)));
                Some(file)
            }
            None => None,
        };
        let logins = match &config.auth.logins {
            Some(path) if path.exists() => {
                stamps.push((path.clone(), stamp(path)));
                Some(Arc::new(ServerCredentials::load(path).map_err(fail)?))
            }
            Some(path) => {
                stamps.push((path.clone(), None));
                None
            }
            None => None,
        };
        let server_tls = match &config.tls {
            Some(tls) => {
                if tls.generate_self_signed && !tls.cert.exists() && !tls.key.exists() {
                    crate::selfsigned::generate(&hostname, &tls.cert, &tls.key).map_err(fail)?;
                }
                Some(server_tls_config(&tls.cert, &tls.key).map_err(fail)?)
            }
            None => None,
        };
        let server_configs = [ListenMode::Smtp, ListenMode::Submission, ListenMode::Smtps].map(|mode| {
            Arc::new(server_config(&config, &hostname, mode, server_tls.is_some(), logins.clone()))
        });
        let mut tls_clients = std::collections::HashMap::new();
        for (name, mailer) in &config.mailers {
            let trust = match &mailer.ca_file {
                Some(file) => TrustAnchors::CaFile(file.clone()),
                None => TrustAnchors::System,
            };
            let options = TlsClientOptions {
                trust,
                dangerous_accept_invalid_certs: mailer.dangerous_accept_invalid_certs,
            };
            let client = options.build().map_err(|e| fail(format!("[mailers.{name}]: {e}")))?;
            tls_clients.insert(name.clone(), client);
        }
        let default_tls = TlsClientOptions::default().build().map_err(fail)?;
        tls_clients.insert(String::new(), default_tls);
        if let LocalDelivery::Prog(name) = &config.local.delivery
            && config.mailers.get(name).and_then(|m| m.program.as_ref()).is_none()
        {
            return Err(fail(format!(
                "{}: key `local.delivery`: `{name}` is not a program mailer; define [mailers.{name}] with `program`",
                config.file.display()
            )));
        }
        let generation = generation_name(&stamps);
        Ok(Tables {
            local_users: PasswdUsers::load(&config),
            includes: FsIncludes::default(),
            smart_host: config.routing.smart_host.clone(),
            config,
            hostname,
            local,
            relay_domains,
            policy_options,
            access_options,
            access,
            mailers,
            mailertable,
            table_options,
            route_cache: RouteCache::new(),
            virtusertable,
            virtuser_domains,
            aliases,
            genericstable,
            masquerade,
            resolve_options,
            authinfo,
            server_tls,
            server_configs,
            tls_clients,
            stamps,
            generation,
        })
    }

    /// Whether a file these tables were loaded from changed since.
    pub fn files_changed(&self) -> Option<&Path> {
        self.stamps.iter().find(|(path, old)| stamp(path) != *old).map(|(path, _)| path.as_path())
    }

    /// This host's names (class w).
    pub fn local_names(&self) -> &LocalNames {
        &self.local
    }

    /// The access and relay policy.
    pub fn policy(&self) -> Policy<'_> {
        let mut policy = Policy::new(&self.local, &self.policy_options).relay_domains(&self.relay_domains);
        if let Some(access) = &self.access {
            policy = policy.access(AccessMap::indexed(access, self.access_options));
        }
        policy
    }

    /// The router: mailertable, smart host, MX.
    pub fn router(&self) -> Router<'_> {
        let mut router =
            Router::new(&self.local, &self.mailers).relay_mailer(&self.config.routing.relay_mailer);
        if let Some(map) = &self.mailertable {
            router =
                router.mailertable(Mailertable::new(map, self.table_options).with_cache(&self.route_cache));
        }
        if let Some(smart_host) = &self.smart_host {
            router = router.smart_host(smart_host);
        }
        router
    }

    /// Ruleset 0: virtusertable, aliases, redirect, then the router.
    pub fn resolver(&self) -> RecipientResolver<'_> {
        let mut resolver = RecipientResolver::new(&self.local, self.router())
            .options(self.resolve_options)
            .local_users(&self.local_users)
            .includes(&self.includes);
        if let Some(map) = &self.virtusertable {
            resolver = resolver.virtusertable(Virtusertable::new(map), &self.virtuser_domains);
        }
        if let Some(aliases) = &self.aliases {
            resolver = resolver.aliases(Aliases::new(aliases));
        }
        resolver
    }

    /// Masquerading and genericstable for outgoing mail.
    pub fn rewriter(&self) -> Rewriter<'_> {
        let rewriter = Rewriter::new(&self.local, &self.masquerade);
        match &self.genericstable {
            Some(map) => rewriter.genericstable(map as &dyn Map),
            None => rewriter,
        }
    }

    /// Whether masquerading or genericstable can change anything.
    pub fn rewrites(&self) -> bool {
        self.config.masquerade.masquerade_as.is_some() || self.genericstable.is_some()
    }

    /// The SMTP server settings of a listener mode.
    pub fn server_config(&self, mode: ListenMode) -> Arc<ServerConfig> {
        let index = match mode {
            ListenMode::Smtp => 0,
            ListenMode::Submission => 1,
            ListenMode::Smtps => 2,
        };
        self.server_configs[index].clone()
    }

    /// The TLS client of a mailer (its trust anchors and verification).
    pub fn tls_client(&self, mailer: &str) -> &TlsClient {
        self.tls_clients.get(mailer).unwrap_or(&self.tls_clients[""])
    }

    /// The AuthInfo entry for the host actually connected to.
    pub fn credentials(
        &self,
        request: &LookupRequest<'_>,
    ) -> Result<Option<smarthost_authinfo::Found>, String> {
        match &self.authinfo {
            Some(file) => file.lookup(request).map_err(|e| e.to_string()),
            None => Ok(None),
        }
    }

    /// The system account `name` (case-insensitive), from the password
    /// file as it was when these tables were loaded.
    pub fn local_user(&self, name: &str) -> Option<&crate::local::LocalUser> {
        self.local_users.account(name)
    }

    /// Whether `login` may use `sender` as its envelope sender
    /// (`auth.sender_must_match`): the login itself, or the login's local
    /// part at one of this host's names.
    pub fn sender_matches_login(&self, login: &str, sender: &str) -> bool {
        if !self.config.auth.sender_must_match {
            return true;
        }
        let sender = sender.to_ascii_lowercase();
        let login = login.to_ascii_lowercase();
        if sender == login {
            return true;
        }
        match sender.rsplit_once('@') {
            Some((local, domain)) => {
                !login.contains('@') && local == login && self.local.contains_name(domain)
            }
            None => false,
        }
    }
}

fn generation_name(stamps: &[(PathBuf, Option<Stamp>)]) -> String {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    for (path, stamp) in stamps {
        path.hash(&mut hasher);
        if let Some(stamp) = stamp {
            stamp.len.hash(&mut hasher);
            stamp.inode.hash(&mut hasher);
            stamp.modified.hash(&mut hasher);
        }
    }
    format!("{:08x}", hasher.finish() as u32)
}

fn index_access(map: MapGeneration, options: AccessOptions) -> Result<AccessIndex<MapGeneration>, LoadError> {
    let entries: Vec<(Vec<u8>, Vec<u8>)> = match map.compiled() {
        Some(compiled) => compiled
            .iter()
            .map(|r| r.map(|(k, v)| (k.to_vec(), v.to_vec())))
            .collect::<Result<_, _>>()
            .map_err(fail)?,
        None => {
            let text = fs::read(map.path())
                .map_err(|e| fail(format!("{}: cannot read: {e}", map.path().display())))?;
            let source = Source::parse(&text, &SourceOptions::default());
            source.entries().iter().map(|e| (e.key.to_vec(), e.value.to_vec())).collect()
        }
    };
    let fold = map.compiled().is_none_or(|c| c.is_case_folded());
    Ok(AccessIndex::new(map, entries.iter().map(|(k, v)| (&k[..], &v[..])), fold, options))
}

fn masquerade(config: &Config, hostname: &str) -> Result<Masquerade, LoadError> {
    use smarthost_routing::Feature;
    let settings = &config.masquerade;
    let mut masquerade = Masquerade::new(hostname)
        .map_err(|e| fail(format!("host name `{hostname}` is not a domain: {e}")))?;
    if let Some(name) = &settings.masquerade_as {
        masquerade.masquerade_as(name).map_err(|e| {
            fail(format!("{}: key `masquerade.as`: `{name}` is not a domain: {e}", config.file.display()))
        })?;
    }
    for name in &settings.domains {
        masquerade.add_masquerade_domain(name);
    }
    for user in &settings.exposed_users {
        masquerade.add_exposed_user(user);
    }
    if settings.envelope {
        masquerade.enable(Feature::MasqueradeEnvelope);
    }
    if settings.all {
        masquerade.enable(Feature::AllMasquerade);
    }
    if settings.entire_domain {
        masquerade.enable(Feature::MasqueradeEntireDomain);
    }
    for feature in &config.routing.features {
        if let Ok(feature) = feature.parse::<Feature>() {
            masquerade.enable(feature);
        }
    }
    Ok(masquerade)
}

fn server_config(
    config: &Config,
    hostname: &str,
    mode: ListenMode,
    tls: bool,
    logins: Option<Arc<ServerCredentials>>,
) -> ServerConfig {
    let mut server =
        ServerConfig::new(hostname).unwrap_or_else(|_| ServerConfig::new("localhost").expect("valid"));
    server.max_message_size = Some(config.policy.max_message_size.bytes());
    server.max_recipients = config.policy.max_recipients;
    server.tls_available = tls && mode != ListenMode::Smtps;
    server.auth = logins.map(ServerAuth::new);
    server.require_auth = mode != ListenMode::Smtp;
    server
}

/// The local users: accounts in `/etc/passwd` (read once per load, with
/// the uid, gid and home that deliveries run as), and any name whose
/// mailbox already exists under `[local] path` (so a Maildir made by hand
/// is a user).
struct PasswdUsers {
    /// By lower-case name; the first of names that fold together wins, as
    /// [`crate::local::find_user`] prefers an exact match.
    accounts: std::collections::HashMap<String, crate::local::LocalUser>,
    template: PathBuf,
}

impl PasswdUsers {
    fn load(config: &Config) -> Self {
        let mut accounts = std::collections::HashMap::new();
        // No password file (a container): mailboxes alone make users.
        for user in crate::local::read_users(Path::new(crate::local::PASSWD)).unwrap_or_default() {
            accounts.entry(user.name.to_ascii_lowercase()).or_insert(user);
        }
        PasswdUsers { accounts, template: config.local.path.clone() }
    }

    fn account(&self, name: &str) -> Option<&crate::local::LocalUser> {
        self.accounts.get(name).or_else(|| self.accounts.get(&name.to_ascii_lowercase()))
    }
}

impl LocalUsers for PasswdUsers {
    fn contains(&self, user: &str) -> bool {
        self.account(user).is_some()
            || crate::local::mailbox_path(&self.template, user).is_ok_and(|path| path.exists())
    }
}
