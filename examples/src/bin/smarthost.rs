//! `smarthost`: the relay's command-line front end.

use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use smarthost::config;
use smarthost::policy;
use smarthost::queue::{self, Action, Format};
use smarthost::{authinfo, makemap, map, newaliases, rewrite, route};

/// smarthost, a sendmail-compatible relay MTA: its maps and tools.
#[derive(Debug, Parser)]
#[command(name = "smarthost", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// The subcommands; each one is a module of the `smarthost` library.
#[derive(Debug, Subcommand)]
enum Command {
    /// Run the relay in the foreground: listeners, policy, queue runner and
    /// deliveries. SIGHUP reloads the configuration and maps, SIGUSR1 runs
    /// the queue, SIGTERM stops after the transactions in flight.
    Serve {
        /// The relay's configuration file.
        #[arg(long, short = 'C', value_name = "FILE", default_value = "/etc/smarthost/smarthost.toml")]
        config: PathBuf,
        /// Log lines as `text` (sendmail's shape) or `json`; default: the
        /// configuration's `log.format`.
        #[arg(long, value_name = "FORMAT", value_parser = parse_log_format)]
        log_format: Option<smarthost_relay::LogFormat>,
    },
    /// Compile a map from standard input, exactly like sendmail's makemap
    /// (run it without arguments for its usage).
    #[command(disable_help_flag = true)]
    Makemap {
        /// makemap's flags and operands: [FLAGS] TYPE NAME.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, value_name = "ARGS")]
        args: Vec<OsString>,
    },
    /// Look up, dump or verify a map the way the relay reads it.
    #[command(subcommand)]
    Map(MapCommand),
    /// Show the mail queue and act on it (like mailq, sendmail -q, postsuper).
    #[command(subcommand)]
    Queue(QueueCommand),
    /// Show where each recipient goes and why (sendmail -bt's `3,0 ADDRESS`
    /// and `/parse`): local names, mailertable, smart host, MX.
    Route(Box<RouteArgs>),
    /// Check an AuthInfo file (client SMTP AUTH credentials) and show which
    /// entry and mechanism the relay would use for a server; passwords are
    /// never printed.
    #[command(subcommand)]
    Authinfo(AuthinfoCommand),
    /// Show what the relay would answer a client, its sender and each
    /// recipient, and why (sendmail's check_relay, check_mail, check_rcpt):
    /// the access map, local names, relay domains, trusted AUTH, reverse DNS.
    Policy(PolicyArgs),
    /// Show how each address is rewritten on its way out (masquerading,
    /// genericstable) as envelope sender, header sender, envelope recipient
    /// and header recipient, like sendmail -bt's /tryflags and /try; or
    /// rewrite a whole message.
    Rewrite(Box<RewriteArgs>),
    /// Compile the aliases file into the database the relay reads, like
    /// sendmail's newaliases (keys folded, `@` sentinel last, bad lines
    /// reported as FILE:LINE and left out, alias loops named).
    Newaliases(NewaliasesArgs),
    /// Check the relay's configuration file and the files it names (exit 0
    /// ok, 78 wrong, 66 unreadable), or show it with every default.
    #[command(subcommand)]
    Config(ConfigCommand),
}

/// `smarthost policy`'s flags; lists add to `--config`, single values override it.
#[derive(Debug, clap::Args)]
struct PolicyArgs {
    /// The relay's TOML configuration file (hostname, local_host_names,
    /// local_host_names_file, relay_domains, relay_domains_file,
    /// [maps] access, [policy] require_rdns, trust_auth_mechs, features).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// The access map: a compiled map, a text source, or a source whose .db exists.
    #[arg(long, value_name = "FILE")]
    access: Option<PathBuf>,
    /// A relay domain (RELAY_DOMAIN): a domain and its sub-domains, or an
    /// address prefix such as 10.1 or IPv6:2001:db8:1; repeatable.
    #[arg(long = "relay-domain", value_name = "DOM")]
    relay_domains: Vec<String>,
    /// Another name (or [address] literal) of this host; repeatable.
    #[arg(long = "local-host-name", value_name = "NAME")]
    local_host_names: Vec<String>,
    /// This host's canonical name (sendmail's $j); default: the configuration's,
    /// else the system's host name.
    #[arg(long, value_name = "NAME")]
    hostname: Option<String>,
    /// The client's IP address: 192.0.2.1, 2001:db8::1 or IPv6:2001:db8::1.
    #[arg(long, value_name = "IP", allow_hyphen_values = true)]
    client_addr: String,
    /// The client's name from reverse DNS; without it the client has none.
    #[arg(long, value_name = "NAME")]
    client_name: Option<String>,
    /// How the name resolved (sendmail's {client_resolve}): ok, fail (no
    /// PTR), forged (PTR does not resolve back), temp (DNS failed for now);
    /// default ok with --client-name, fail without.
    #[arg(long, value_name = "STATUS")]
    client_resolve: Option<smarthost_routing::ClientResolve>,
    /// The user the client authenticated as (SMTP AUTH).
    #[arg(long, value_name = "USER")]
    auth: Option<String>,
    /// The SASL mechanism of --auth (default PLAIN); relaying needs it in
    /// trust_auth_mechs (TRUST_AUTH_MECH).
    #[arg(long, value_name = "MECH", requires = "auth")]
    auth_mech: Option<String>,
    /// The envelope sender (MAIL FROM); default the null sender <>.
    #[arg(long, value_name = "ADDR", allow_hyphen_values = true)]
    from: Option<String>,
    /// A recipient (RCPT TO); repeatable.
    #[arg(long, value_name = "ADDR", allow_hyphen_values = true)]
    to: Vec<String>,
    /// A sendmail feature by name: delay_checks[=friend|hater],
    /// blocklist_recipients, relay_entire_domain, relay_hosts_only,
    /// relay_local_from, relay_mail_from[=domain], relaytofulladdress,
    /// loose_relay_check, nopercenthack[=reject], nouucp[=reject],
    /// accept_unqualified_senders, accept_unresolvable_domains,
    /// lookupdotdomain, compressed_ipv6, access_db=sendmail; repeatable.
    #[arg(long = "feature", value_name = "NAME")]
    features: Vec<String>,
    /// text (the reply and why, per step), tsv (recipient, verdict, code,
    /// enhanced code, text) or json.
    #[arg(long, value_enum, default_value_t)]
    format: policy::Format,
}

/// `smarthost rewrite`'s flags; those given override `--config`.
#[derive(Debug, clap::Args)]
struct RewriteArgs {
    /// The relay's TOML configuration file (hostname, local_host_names,
    /// [maps] genericstable, [masquerade], [generics]).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// This host's canonical name (sendmail's $j); default: the system's host name.
    #[arg(long, value_name = "NAME")]
    hostname: Option<String>,
    /// Another name (or [address] literal) of this host (class w); repeatable.
    #[arg(long = "local-host-name", value_name = "NAME")]
    local_host_names: Vec<String>,
    /// A local-host-names file (names separated by white space, # comments).
    #[arg(long, value_name = "FILE")]
    local_host_names_file: Option<PathBuf>,
    /// MASQUERADE_AS: the domain that replaces local names; turns masquerading on.
    #[arg(long, value_name = "DOM")]
    masquerade_as: Option<String>,
    /// MASQUERADE_DOMAIN: another domain to masquerade (class M); repeatable.
    #[arg(long = "masquerade-domain", value_name = "DOM")]
    masquerade_domains: Vec<String>,
    /// MASQUERADE_DOMAIN_FILE: a file of class M domains.
    #[arg(long, value_name = "FILE")]
    masquerade_domain_file: Option<PathBuf>,
    /// MASQUERADE_EXCEPTION: a domain (and its sub-domains) never masqueraded; repeatable.
    #[arg(long = "masquerade-exception", value_name = "DOM")]
    masquerade_exceptions: Vec<String>,
    /// EXPOSED_USER: a user never masqueraded from a local name; repeatable.
    #[arg(long = "exposed-user", value_name = "USER")]
    exposed_users: Vec<String>,
    /// A sendmail feature: masquerade_envelope, allmasquerade,
    /// masquerade_entire_domain, limited_masquerade, generics_entire_domain,
    /// always_add_domain, local_no_masquerade; repeatable.
    #[arg(long = "feature", value_name = "NAME")]
    features: Vec<String>,
    /// The genericstable: a compiled map, a text source, or a source whose .db exists.
    #[arg(long, value_name = "FILE")]
    genericstable: Option<PathBuf>,
    /// GENERICS_DOMAIN: a domain whose addresses the genericstable rewrites (class G); repeatable.
    #[arg(long = "generics-domain", value_name = "DOM")]
    generics_domains: Vec<String>,
    /// GENERICS_DOMAIN_FILE: a file of class G domains.
    #[arg(long, value_name = "FILE")]
    generics_domain_file: Option<PathBuf>,
    /// The virtusertable: accepted for symmetry with `smarthost route`, where
    /// it applies; rewriting does not use it.
    #[arg(long, value_name = "FILE")]
    virtusertable: Option<PathBuf>,
    /// [EXT] A map from recipient (address, domain, .parent, or . for the
    /// default) to the sender address to use; needs --message, --mail-from, --rcpt.
    #[arg(long, value_name = "FILE")]
    sender_by_recipient: Option<PathBuf>,
    /// The mailer whose rules apply, as in /try MAILER: esmtp (default),
    /// smtp, relay, local, ...
    #[arg(long, value_name = "NAME")]
    mailer: Option<String>,
    /// text, tsv (ADDRESS, ES, HS, ER, HR) or json.
    #[arg(long, value_enum, default_value_t)]
    format: rewrite::Format,
    /// Rewrite this message (- for standard input) and print it.
    #[arg(long, value_name = "FILE", conflicts_with = "addresses")]
    message: Option<PathBuf>,
    /// With --message: the envelope sender (MAIL FROM).
    #[arg(long, value_name = "ADDR", requires = "message", allow_hyphen_values = true)]
    mail_from: Option<String>,
    /// With --message: an envelope recipient (RCPT TO); repeatable.
    #[arg(long = "rcpt", value_name = "ADDR", requires = "message")]
    rcpt_to: Vec<String>,
    /// Addresses, each read as an address header's value; `-` reads one a
    /// line from standard input.
    #[arg(value_name = "ADDRESS", required_unless_present = "message", allow_hyphen_values = true)]
    addresses: Vec<String>,
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Check every key and the files the configuration names (maps, TLS
    /// certificate, credentials); print every problem with its file, line,
    /// key and fix, then `FILE: ok`.
    Check {
        /// The relay's TOML configuration file.
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
    },
    /// Print the effective configuration as TOML: every key, defaults
    /// filled in, paths absolute.
    Show {
        /// The relay's TOML configuration file.
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
    },
}

/// `smarthost newaliases`' operand and flag.
#[derive(Debug, clap::Args)]
struct NewaliasesArgs {
    /// The relay's TOML configuration file (maps.aliases, hostname,
    /// local_host_names, local_host_names_file).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// The aliases text file; default: maps.aliases from --config, else /etc/mail/aliases.
    /// The database is written beside it as FILE.db.
    #[arg(value_name = "FILE")]
    file: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
enum AuthinfoCommand {
    /// Check permissions and every entry, list the entries (passwords
    /// redacted), warn about a default entry: exit 0 ok, 1 bad entries,
    /// 2 unsafe or unreadable file.
    Check {
        /// The AuthInfo map: a text source, a compiled map, or a source whose .db exists.
        file: PathBuf,
    },
    /// Show the keys tried for HOST, the entry that matches and the SASL
    /// mechanism that would be used: exit 0 found, 1 no entry or no usable
    /// mechanism, 2 error.
    Lookup(AuthinfoLookupArgs),
}

/// `smarthost authinfo lookup`'s operands and flags.
#[derive(Debug, clap::Args)]
struct AuthinfoLookupArgs {
    /// The AuthInfo map: a text source, a compiled map, or a source whose .db exists.
    file: PathBuf,
    /// The server connected to (sendmail's ${server_name}), e.g. smtp.isp.example or [192.0.2.25].
    host: String,
    /// The server's IP address (sendmail's ${server_addr}).
    #[arg(long, value_name = "ADDR")]
    ip: Option<std::net::IpAddr>,
    /// The envelope sender, for the AuthInfoFrom: keys.
    #[arg(long, value_name = "ADDR")]
    sender: Option<String>,
    /// The mechanisms on the server's AUTH line, e.g. "PLAIN LOGIN"; default: all.
    #[arg(long, value_name = "MECHS")]
    server_mechs: Option<String>,
    /// The connection is TLS-protected (without it PLAIN and LOGIN are refused).
    #[arg(long)]
    tls: bool,
    /// The file is the access map (FEATURE(access_db)): also try parent
    /// domains and address prefixes.
    #[arg(long)]
    access_map: bool,
    /// This host's name, the default realm; default: the system's host name.
    #[arg(long, value_name = "NAME")]
    hostname: Option<String>,
}

/// `smarthost route`'s flags; those given override `--config`.
#[derive(Debug, clap::Args)]
struct RouteArgs {
    /// The relay's TOML configuration file (hostname, local_host_names,
    /// local_host_names_file, [maps] mailertable, [routing], [mailers.NAME]).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// The mailertable: a compiled map, a text source, or a source whose .db exists.
    #[arg(long, value_name = "FILE")]
    mailertable: Option<PathBuf>,
    /// This host's canonical name (sendmail's $j); default: the system's
    /// host name, from /proc/sys/kernel/hostname.
    #[arg(long, value_name = "NAME")]
    hostname: Option<String>,
    /// Another name (or [address] literal) of this host; repeatable.
    #[arg(long = "local-host-name", value_name = "NAME")]
    local_host_names: Vec<String>,
    /// A local-host-names file (names separated by white space, # comments).
    #[arg(long, value_name = "FILE")]
    local_host_names_file: Option<PathBuf>,
    /// SMART_HOST: [mailer:]host-list, e.g. relay:[smtp.isp.example].
    #[arg(long, value_name = "SPEC")]
    smart_host: Option<String>,
    /// The smart host's mailer when SPEC names none (default relay).
    #[arg(long, value_name = "NAME")]
    relay_mailer: Option<String>,
    /// text (sendmail's words), tsv (address, mailer, host, user) or json.
    #[arg(long, value_enum, default_value_t)]
    format: route::Format,
    /// Print every step: local names, each mailertable key tried, the match,
    /// its % expansion, the mailer's port, TLS and AUTH (and DNS answers).
    #[arg(long)]
    explain: bool,
    /// Resolve the route's hosts through DNS and print the next hops.
    #[arg(long)]
    resolve: bool,
    /// With --resolve: answer from this zone file instead of DNS (offline).
    #[arg(long, value_name = "FILE", requires = "resolve")]
    dns_zone: Option<PathBuf>,
    /// The \[EXT\] mailertable extensions: per-user keys, [host]:port, `*`.
    #[arg(long)]
    extensions: bool,
    /// Recipient addresses; `-` reads one a line from standard input.
    #[arg(value_name = "ADDRESS", required = true, allow_hyphen_values = true)]
    addresses: Vec<String>,
    /// FEATURE(virtusertable): a compiled map, a text source, or a source whose .db exists.
    #[arg(long, value_name = "FILE")]
    virtusertable: Option<PathBuf>,
    /// VIRTUSER_DOMAIN: a domain besides this host's names whose users the
    /// virtusertable rewrites; repeatable.
    #[arg(long = "virtuser-domain", value_name = "DOM")]
    virtuser_domains: Vec<String>,
    /// VIRTUSER_DOMAIN_FILE: such domains, separated by white space.
    #[arg(long, value_name = "FILE")]
    virtuser_domain_file: Option<PathBuf>,
    /// The aliases file (its newaliases database FILE.db when it exists);
    /// local recipients print one line per target they expand to.
    #[arg(long, value_name = "FILE")]
    aliases: Option<PathBuf>,
    /// The access map: checked that it opens, not consulted. sendmail's
    /// ruleset 0 does not read it either; `smarthost policy` decides access.
    #[arg(long, value_name = "FILE")]
    access: Option<PathBuf>,
    /// RELAY_DOMAIN; repeatable. Shown by --explain: relaying is policy and
    /// does not change the route.
    #[arg(long = "relay-domain", value_name = "DOM")]
    relay_domains: Vec<String>,
    /// A sendmail FEATURE that changes routing: redirect,
    /// preserve_local_plus_detail, virtuser_entire_domain (others are
    /// accepted and ignored); repeatable.
    #[arg(long = "feature", value_name = "NAME")]
    features: Vec<String>,
    /// `sendmail`: follow sendmail exactly where the project recommends
    /// otherwise (virtusertable loops end at the recursion limit; alias
    /// failures are reported at delivery).
    #[arg(long, value_enum, value_name = "WHOSE")]
    compat: Option<route::Compat>,
}

#[derive(Debug, Subcommand)]
enum MapCommand {
    /// Print the value for KEY (exit 0), or nothing when it is absent (exit 1).
    Lookup {
        /// A compiled map, a text source, or a source whose .db exists.
        file: PathBuf,
        /// The key, looked up with sendmail's rules (case-folded unless built with -f).
        #[arg(allow_hyphen_values = true)]
        key: OsString,
    },
    /// Print every pair as KEY<TAB>VALUE.
    Dump {
        /// A compiled map, a text source, or a source whose .db exists.
        file: PathBuf,
    },
    /// Check the whole map and print its entry count and content hash.
    Verify {
        /// A compiled map, a text source, or a source whose .db exists.
        file: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
enum QueueCommand {
    /// Print the queued messages and their recipients, like mailq (works
    /// while the relay runs).
    List {
        #[command(flatten)]
        spool: SpoolDir,
        /// `text` (mailq's layout) or `json`.
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// Run the queue now, like sendmail -q / -qR. With --config: asks the
    /// running relay, or delivers in this process when none runs. With only
    /// --spool: makes pending recipients due for the relay's queue runner.
    Run {
        #[command(flatten)]
        spool: SpoolDir,
        /// Only recipients in this domain or its sub-domains.
        #[arg(long, value_name = "DOM")]
        domain: Option<String>,
    },
    /// Keep messages from being attempted until released.
    Hold(Ids),
    /// Release held messages; their pending recipients are due now.
    Release(Ids),
    /// Remove messages from the queue without telling anyone.
    Delete(Ids),
    /// Fail the pending recipients of messages; the relay sends the reports.
    Bounce(Ids),
}

/// `--spool DIR`, shared by the queue commands.
#[derive(Debug, clap::Args)]
struct SpoolDir {
    /// The relay's spool directory (a relative path starts at the current directory).
    #[arg(long = "spool", value_name = "DIR", default_value = "spool")]
    dir: PathBuf,
    /// The relay's configuration: its `spool.dir` (over --spool), and for
    /// `queue run` delivery now rather than only marking due.
    #[arg(long, short = 'C', value_name = "FILE")]
    config: Option<PathBuf>,
}

impl SpoolDir {
    /// `spool.dir` of --config when given, else --spool.
    fn resolve(&self) -> Result<PathBuf, ExitCode> {
        match &self.config {
            Some(file) => match smarthost_relay::Config::load(file) {
                Ok(config) => Ok(config.spool.dir),
                Err(errors) => {
                    eprintln!("{errors}");
                    Err(ExitCode::from(78))
                }
            },
            None => Ok(self.dir.clone()),
        }
    }
}

/// The operands of the commands that act on messages.
#[derive(Debug, clap::Args)]
struct Ids {
    /// Queue IDs, as `queue list` shows them.
    #[arg(value_name = "ID", required = true)]
    ids: Vec<String>,
    #[command(flatten)]
    spool: SpoolDir,
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Serve { config, log_format } => smarthost::serve::run(&config, log_format),
        Command::Makemap { args } => makemap::run("smarthost makemap", &args),
        Command::Map(MapCommand::Lookup { file, key }) => map::lookup(&file, key.as_bytes()),
        Command::Map(MapCommand::Dump { file }) => map::dump(&file),
        Command::Map(MapCommand::Verify { file }) => map::verify(&file),
        Command::Queue(command) => queue_command(command),
        Command::Route(args) => route::run(&route_settings(*args)),
        Command::Rewrite(args) => rewrite::run(&rewrite_settings(*args)),
        Command::Policy(args) => policy::run(&policy_settings(args)),
        Command::Newaliases(args) => newaliases::run(
            "smarthost newaliases",
            &newaliases::Settings { config: args.config, file: args.file },
        ),
        Command::Authinfo(AuthinfoCommand::Check { file }) => authinfo::check(&file),
        Command::Config(ConfigCommand::Check { config }) => config::check(&config),
        Command::Config(ConfigCommand::Show { config }) => config::show(&config),
        Command::Authinfo(AuthinfoCommand::Lookup(args)) => authinfo::lookup(&authinfo::LookupSettings {
            file: args.file,
            host: args.host,
            ip: args.ip,
            sender: args.sender,
            server_mechs: args.server_mechs,
            tls: args.tls,
            access_map: args.access_map,
            hostname: args.hostname,
        }),
    }
}

fn queue_command(command: QueueCommand) -> ExitCode {
    let (action, Ids { ids, spool }) = match command {
        QueueCommand::List { spool, format } => {
            return spool.resolve().map_or_else(|code| code, |dir| queue::list(&dir, format));
        }
        QueueCommand::Run { spool: SpoolDir { config: Some(config), .. }, domain } => {
            return queue::deliver(&config, domain.as_deref());
        }
        QueueCommand::Run { spool, domain } => return queue::run(&spool.dir, domain.as_deref()),
        QueueCommand::Hold(ids) => (Action::Hold, ids),
        QueueCommand::Release(ids) => (Action::Release, ids),
        QueueCommand::Delete(ids) => (Action::Delete, ids),
        QueueCommand::Bounce(ids) => (Action::Bounce, ids),
    };
    spool.resolve().map_or_else(|code| code, |dir| queue::act(&dir, action, &ids))
}

fn route_settings(args: RouteArgs) -> route::Settings {
    route::Settings {
        config: args.config,
        mailertable: args.mailertable,
        hostname: args.hostname,
        local_host_names: args.local_host_names,
        local_host_names_file: args.local_host_names_file,
        smart_host: args.smart_host,
        relay_mailer: args.relay_mailer,
        format: args.format,
        explain: args.explain,
        resolve: args.resolve,
        dns_zone: args.dns_zone,
        extensions: args.extensions,
        addresses: args.addresses,
        virtusertable: args.virtusertable,
        virtuser_domains: args.virtuser_domains,
        virtuser_domain_file: args.virtuser_domain_file,
        aliases: args.aliases,
        access: args.access,
        relay_domains: args.relay_domains,
        features: args.features,
        compat: args.compat,
    }
}

fn rewrite_settings(args: RewriteArgs) -> rewrite::Settings {
    rewrite::Settings {
        config: args.config,
        hostname: args.hostname,
        local_host_names: args.local_host_names,
        local_host_names_file: args.local_host_names_file,
        masquerade_as: args.masquerade_as,
        masquerade_domains: args.masquerade_domains,
        masquerade_domain_file: args.masquerade_domain_file,
        masquerade_exceptions: args.masquerade_exceptions,
        exposed_users: args.exposed_users,
        features: args.features,
        genericstable: args.genericstable,
        generics_domains: args.generics_domains,
        generics_domain_file: args.generics_domain_file,
        virtusertable: args.virtusertable,
        sender_by_recipient: args.sender_by_recipient,
        mailer: args.mailer,
        format: args.format,
        message: args.message,
        mail_from: args.mail_from,
        rcpt_to: args.rcpt_to,
        addresses: args.addresses,
    }
}

fn policy_settings(args: PolicyArgs) -> policy::Settings {
    policy::Settings {
        config: args.config,
        access: args.access,
        relay_domains: args.relay_domains,
        local_host_names: args.local_host_names,
        hostname: args.hostname,
        client_addr: args.client_addr,
        client_name: args.client_name,
        client_resolve: args.client_resolve,
        auth: args.auth,
        auth_mech: args.auth_mech,
        from: args.from,
        to: args.to,
        features: args.features,
        format: args.format,
    }
}

fn parse_log_format(text: &str) -> Result<smarthost_relay::LogFormat, String> {
    match text {
        "text" => Ok(smarthost_relay::LogFormat::Text),
        "json" => Ok(smarthost_relay::LogFormat::Json),
        other => Err(format!("`{other}`: say `text` or `json`")),
    }
}
