//! `smarthost route`: where each recipient goes, in sendmail's words
//! (`sendmail -bt` ruleset 0 and `/parse`), and why.
//!
//! The router is the relay's own ([`smarthost_routing::Router`]): local
//! names, the mailertable, the smart host, then MX. Nothing touches DNS
//! unless `--resolve` asks for the next hops.
//!
//! With `--virtusertable`, `--aliases` or a routing `--feature`, the
//! relay's [`smarthost_routing::RecipientResolver`] runs first, in the order
//! of sendmail's ruleset 0: FEATURE(redirect), the virtusertable, then the
//! router, then aliases for local users. A recipient that an alias expands
//! prints one line per target.

pub(crate) mod config;
mod resolve;

use std::fmt::Write as _;
use std::fs;
use std::io::{self, BufRead, BufWriter, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use smarthost_maps::{MapGeneration, Source, SourceOptions};
use smarthost_routing::{
    Address, AddressError, Decision, DnsError, HickoryResolver, Host, LocalNames, Mailer, Mailers,
    Mailertable, MailertableOptions, Mx, NextHop, ParseOptions, Probe, RecipientResolver, Resolution,
    ResolveError, Resolver, RhsOptions, Route, RouteCache, RouteFailure, Router, SmartHost, TableError, Via,
    ZoneResolver, lint_mailertable, random_seed, resolve_next_hops,
};

use crate::host::system_hostname;
use crate::json::{json_option, json_string};
use crate::records::reader_went_away;
use config::Config;
use resolve::Extras;
pub use resolve::resolve_one;

/// How `route` prints each address.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// `ADDRESS: mailer esmtp, host relay.example, user u@example.net`.
    #[default]
    Text,
    /// `ADDRESS<TAB>mailer<TAB>host<TAB>user`, sendmail's `/parse` triple.
    Tsv,
    /// One JSON array with an object per address, for scripts.
    Json,
}

/// Everything `smarthost route` takes; the flags override `--config`.
#[derive(Clone, Debug, Default)]
pub struct Settings {
    /// The relay's TOML configuration file.
    pub config: Option<PathBuf>,
    /// The mailertable: a compiled map, a text source, or a source whose `.db` exists.
    pub mailertable: Option<PathBuf>,
    /// This host's canonical name (sendmail's `$j`).
    pub hostname: Option<String>,
    /// More names (or `[address]` literals) of this host; replace the config's list.
    pub local_host_names: Vec<String>,
    /// A `local-host-names` file.
    pub local_host_names_file: Option<PathBuf>,
    /// `SMART_HOST`: `[mailer:]host-list`.
    pub smart_host: Option<String>,
    /// The smart host's mailer when it names none (default `relay`).
    pub relay_mailer: Option<String>,
    /// How to print.
    pub format: Format,
    /// Print every step of the decision.
    pub explain: bool,
    /// Resolve the route's hosts into next hops through DNS.
    pub resolve: bool,
    /// Answer DNS questions from this zone file instead of DNS (offline).
    pub dns_zone: Option<PathBuf>,
    /// The \[EXT\] mailertable extensions: per-user keys, ports, `*`.
    pub extensions: bool,
    /// The addresses; `-` reads one a line from standard input.
    pub addresses: Vec<String>,
    /// FEATURE(virtusertable)'s map: a compiled map, a text source, or a
    /// source whose `.db` exists.
    pub virtusertable: Option<PathBuf>,
    /// VIRTUSER_DOMAIN: domains besides class w that the virtusertable
    /// serves; replace the config's list.
    pub virtuser_domains: Vec<String>,
    /// VIRTUSER_DOMAIN_FILE.
    pub virtuser_domain_file: Option<PathBuf>,
    /// The aliases: the `newaliases` database beside the file, or the text.
    pub aliases: Option<PathBuf>,
    /// The access map: opened to check it, not consulted (routing does not
    /// read it; `smarthost policy` does).
    pub access: Option<PathBuf>,
    /// RELAY_DOMAIN (class R): shown by `--explain`; it does not change
    /// routes.
    pub relay_domains: Vec<String>,
    /// sendmail feature names; those that change routing are `redirect`,
    /// `preserve_local_plus_detail` and `virtuser_entire_domain`.
    pub features: Vec<String>,
    /// `sendmail`: sendmail's behaviour where the project's recommendation
    /// differs (virtusertable loops, when alias failures are reported).
    pub compat: Option<Compat>,
}

/// `--compat`: whose behaviour to follow where the project recommends
/// differently from sendmail.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Compat {
    /// sendmail's exactly: a virtusertable loop ends at the recursion limit
    /// (`554 5.0.0 rewrite: excessive recursion`), and failures inside an
    /// alias expansion are reported at delivery.
    Sendmail,
}

/// What routing one address gave.
#[derive(Debug)]
pub enum Outcome {
    /// A route (the error mailer's too).
    Routed(Route),
    /// The address does not parse.
    BadAddress(AddressError),
    /// The mailertable could not be read, or its matching entry is broken.
    Failed(TableError),
    /// What the virtusertable, FEATURE(redirect), the router and the
    /// aliases made of it (`--virtusertable`, `--aliases`, `--feature`).
    Resolved(Resolution),
    /// The virtusertable or the aliases could not be read.
    Unresolved(ResolveError),
}

/// Routes `given` as `route --format tsv` does and writes its line; the
/// whole per-address work of `smarthost route --format tsv -`.
///
/// ```
/// use smarthost_routing::{LocalNames, Mailers, Router};
/// let (local, mailers) = (LocalNames::new("gw.example.net"), Mailers::standard());
/// let mut out = Vec::new();
/// smarthost::route::route_tsv(&Router::new(&local, &mailers), "bob@example.org", &mut out)?;
/// assert_eq!(out, b"bob@example.org\tesmtp\texample.org\tbob@example.org\n");
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn route_tsv(router: &Router<'_>, given: &str, out: &mut impl Write) -> io::Result<Outcome> {
    let outcome = route_one(router, given, None);
    write_tsv_row(out, given, &outcome)?;
    out.write_all(b"\n")?;
    Ok(outcome)
}

/// Parses and routes one address; `probes` receives the mailertable keys tried.
pub fn route_one(router: &Router<'_>, given: &str, probes: Option<&mut Vec<Probe>>) -> Outcome {
    let address = match Address::parse(given, ParseOptions::default()) {
        Ok(address) => address,
        Err(error) => return Outcome::BadAddress(error),
    };
    let routed = match probes {
        Some(probes) => router.route_explained(&address, probes),
        None => router.route(&address),
    };
    match routed {
        Ok(route) => Outcome::Routed(route),
        Err(error) => Outcome::Failed(error),
    }
}

impl Outcome {
    /// The `/parse` columns: mailer, host, user; for failures `*error*`,
    /// the status, the reply.
    pub fn columns(&self) -> [String; 3] {
        match self {
            Self::Routed(route) => route.columns(),
            Self::BadAddress(error) => ["*error*".into(), "5.1.3".into(), format!("501 5.1.3 {error}")],
            Self::Failed(error @ TableError::BadValue { .. }) => {
                ["*error*".into(), "5.3.5".into(), format!("554 5.3.5 {error}")]
            }
            Self::Failed(error) => ["*error*".into(), "4.3.0".into(), format!("451 4.3.0 {error}")],
            Self::Resolved(resolution) => match resolution.targets.first() {
                Some(target) => target.columns(),
                None => ["*error*".into(), "5.1.1".into(), "550 5.1.1 no recipients left".into()],
            },
            Self::Unresolved(error) => ["*error*".into(), "4.3.0".into(), format!("451 4.3.0 {error}")],
        }
    }

    /// The `/parse` columns of every target: one row, or one for each
    /// target an alias expands to.
    pub fn rows(&self) -> Vec<[String; 3]> {
        match self {
            Self::Resolved(resolution) if !resolution.targets.is_empty() => {
                resolution.targets.iter().map(|target| target.columns()).collect()
            }
            _ => vec![self.columns()],
        }
    }

    /// sendmail's words for it.
    fn words(&self) -> String {
        match self {
            Self::Routed(route) => route.to_string(),
            Self::Resolved(resolution) if !resolution.targets.is_empty() => resolution.targets[0].to_string(),
            _ => format!("mailer *error*, reply {}", self.columns()[2]),
        }
    }

    /// sendmail's words for every target.
    fn all_words(&self) -> Vec<String> {
        match self {
            Self::Resolved(resolution) if !resolution.targets.is_empty() => {
                resolution.targets.iter().map(ToString::to_string).collect()
            }
            _ => vec![self.words()],
        }
    }
}

/// Runs `smarthost route`. Exit status 0 when every address routed (to the
/// error mailer too), 1 when some address did not parse, 2 on a
/// configuration error or a mailertable that could not be read.
pub fn run(settings: &Settings) -> ExitCode {
    match write(settings, BufWriter::new(io::stdout().lock())) {
        Ok(status) => ExitCode::from(status),
        Err(message) => fail(&message),
    }
}

/// What [`run`] prints, written to `out` (`sendmail -bv` and `-bt` read the
/// `tsv` rows): the exit status, or the message of a configuration error or
/// a failed write.
pub fn write(settings: &Settings, out: impl Write) -> Result<u8, String> {
    let setup = Setup::new(settings)?;
    let dns = settings.resolve.then(|| Dns::new(settings)).transpose()?;
    let resolver = setup.extras.is_active().then(|| setup.extras.resolver(&setup.local, setup.router()));
    let mut printer = Printer {
        router: setup.router(),
        resolver,
        setup: &setup,
        dns: dns.as_ref(),
        format: settings.format,
        explain: settings.explain,
        out,
        count: 0,
        status: 0,
    };
    match printer.all(&settings.addresses) {
        Err(error) if !reader_went_away(&error) => Err(format!("cannot write the output: {error}")),
        _ => Ok(printer.status),
    }
}

fn fail(message: &str) -> ExitCode {
    eprintln!("smarthost: {message}");
    ExitCode::from(2)
}

/// The configuration, read once.
struct Setup {
    local: LocalNames,
    mailers: Mailers,
    map: Option<MapGeneration>,
    table_options: MailertableOptions,
    smart_host: Option<SmartHost>,
    relay_mailer: String,
    /// Parsed mailertable values, shared by every address of the run.
    cache: RouteCache,
    /// The virtusertable, aliases and features.
    extras: Extras,
}

impl Setup {
    fn new(settings: &Settings) -> Result<Self, String> {
        let config = match &settings.config {
            Some(path) => Config::load(path)?,
            None => Config::default(),
        };
        let hostname = match settings.hostname.clone().or(config.hostname.clone()) {
            Some(name) => name,
            None => system_hostname()?,
        };
        let mut local = LocalNames::new(&hostname);
        let names = match (&settings.local_host_names, &config.local_host_names) {
            (flags, _) if !flags.is_empty() => flags.clone(),
            (_, Some(names)) => names.clone(),
            _ => Vec::new(),
        };
        for name in &names {
            local.add(name);
        }
        if let Some(file) = settings.local_host_names_file.as_ref().or(config.local_host_names_file.as_ref())
        {
            local.load_file(file).map_err(|e| e.to_string())?;
        }
        let mut mailers = Mailers::standard();
        config.apply_mailers(&mut mailers);
        let table_options = if settings.extensions {
            MailertableOptions::extensions()
        } else {
            MailertableOptions::default()
        };
        let smart_host = match settings.smart_host.as_ref().or(config.smart_host.as_ref()) {
            Some(spec) => Some(
                SmartHost::parse_with(spec, RhsOptions { ports: table_options.ports })
                    .map_err(|e| format!("smart host `{spec}`: {e}"))?,
            ),
            None => None,
        };
        let relay_mailer =
            settings.relay_mailer.clone().or(config.relay_mailer.clone()).unwrap_or("relay".into());
        if mailers.get(&relay_mailer).is_none() {
            eprintln!(
                "smarthost: warning: relay mailer `{relay_mailer}` is not defined: mail for the smart host \
                 fails with 554 5.3.5; define it under [mailers.{relay_mailer}]"
            );
        }
        let map = match settings.mailertable.as_ref().or(config.mailertable.as_ref()) {
            Some(file) => Some(open_mailertable(file, table_options, &mailers)?),
            None => None,
        };
        let extras = Extras::load(settings, &config, &local)?;
        Ok(Self {
            local,
            mailers,
            map,
            table_options,
            smart_host,
            relay_mailer,
            cache: RouteCache::new(),
            extras,
        })
    }

    fn router(&self) -> Router<'_> {
        let mut router = Router::new(&self.local, &self.mailers).relay_mailer(&self.relay_mailer);
        if let Some(map) = &self.map {
            router = router.mailertable(Mailertable::new(map, self.table_options).with_cache(&self.cache));
        }
        if let Some(smart_host) = &self.smart_host {
            router = router.smart_host(smart_host);
        }
        router
    }
}

/// Opens the mailertable as the relay does and reports makemap's
/// diagnostics and the lints of a text source on standard error.
fn open_mailertable(
    file: &std::path::Path,
    options: MailertableOptions,
    mailers: &Mailers,
) -> Result<MapGeneration, String> {
    let map = crate::map::open(file)?;
    if map.text().is_some() {
        let text = fs::read(map.path()).map_err(|e| format!("{}: cannot read: {e}", map.path().display()))?;
        let source = Source::parse(&text, &SourceOptions::default());
        for lint in lint_mailertable(source.entries(), options, Some(mailers)) {
            eprintln!("smarthost: {}: warning: {lint}", map.path().display());
        }
    }
    Ok(map)
}

/// The resolver `--resolve` uses, and a runtime to drive it.
struct Dns {
    runtime: tokio::runtime::Runtime,
    resolver: Box<dyn Resolver>,
    seed: u64,
}

impl Dns {
    fn new(settings: &Settings) -> Result<Self, String> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start the DNS runtime: {e}"))?;
        let (resolver, seed): (Box<dyn Resolver>, u64) = match &settings.dns_zone {
            Some(file) => {
                let text =
                    fs::read_to_string(file).map_err(|e| format!("{}: cannot read: {e}", file.display()))?;
                let zone: ZoneResolver = text.parse().map_err(|e| format!("{}: {e}", file.display()))?;
                // A fixed order of equal MX preferences: the output is reproducible.
                (Box::new(zone), 0)
            }
            None => {
                let _entered = runtime.enter();
                (Box::new(HickoryResolver::from_system_conf().map_err(|e| e.to_string())?), random_seed())
            }
        };
        Ok(Self { runtime, resolver, seed })
    }

    fn next_hops(
        &self,
        mailer: &Mailer,
        hosts: &[smarthost_routing::HostSpec],
        local: &LocalNames,
    ) -> Result<Vec<NextHop>, RouteFailure> {
        self.runtime.block_on(resolve_next_hops(hosts, mailer.port, self.resolver.as_ref(), local, self.seed))
    }

    fn mx(&self, name: &str) -> Result<Vec<Mx>, DnsError> {
        self.runtime.block_on(self.resolver.mx(name))
    }
}

/// Everything known about one address, for every format.
struct Report {
    given: String,
    outcome: Outcome,
    probes: Vec<Probe>,
    mx: Vec<(String, Result<Vec<Mx>, DnsError>)>,
    hops: Option<Result<Vec<NextHop>, RouteFailure>>,
}

struct Printer<'s, W: Write> {
    router: Router<'s>,
    /// Set when the virtusertable, aliases or a routing feature are in play.
    resolver: Option<RecipientResolver<'s>>,
    setup: &'s Setup,
    dns: Option<&'s Dns>,
    format: Format,
    explain: bool,
    out: W,
    count: usize,
    status: u8,
}

impl<W: Write> Printer<'_, W> {
    fn all(&mut self, addresses: &[String]) -> io::Result<()> {
        if self.format == Format::Json {
            self.out.write_all(b"[")?;
        }
        for given in addresses {
            if given != "-" {
                self.one(given)?;
                continue;
            }
            let mut stdin = io::stdin().lock();
            let mut line = Vec::new();
            loop {
                line.clear();
                if stdin.read_until(b'\n', &mut line)? == 0 {
                    break;
                }
                let text = String::from_utf8_lossy(&line);
                let text = text.trim_end_matches(['\n', '\r']);
                if !text.is_empty() {
                    self.one(text)?;
                }
            }
        }
        if self.format == Format::Json {
            self.out.write_all(if self.count == 0 { b"]\n" } else { b"\n]\n" })?;
        }
        self.out.flush()
    }

    fn one(&mut self, given: &str) -> io::Result<()> {
        if let Some(resolver) = self.resolver {
            return self.resolved(&resolver, given);
        }
        if self.format == Format::Tsv && !self.explain && self.dns.is_none() {
            let outcome = route_tsv(&self.router, given, &mut self.out)?;
            self.note(&outcome);
            return Ok(());
        }
        let report = self.report(given);
        self.note(&report.outcome);
        match self.format {
            Format::Text => self.text(&report),
            Format::Tsv => self.tsv(&report),
            Format::Json => self.json(&report),
        }
    }

    fn note(&mut self, outcome: &Outcome) {
        self.count += 1;
        let status = match outcome {
            Outcome::Routed(_) | Outcome::Resolved(_) => 0,
            Outcome::BadAddress(_) => 1,
            Outcome::Failed(_) | Outcome::Unresolved(_) => 2,
        };
        self.status = self.status.max(status);
    }

    fn report(&self, given: &str) -> Report {
        let mut probes = Vec::new();
        let outcome = route_one(&self.router, given, Some(&mut probes));
        let (mut mx, mut hops) = (Vec::new(), None);
        if let (Some(dns), Outcome::Routed(Route { decision: Decision::Deliver { mailer, hosts, .. }, .. })) =
            (self.dns, &outcome)
        {
            for spec in hosts.iter() {
                if let (Host::Name(name), true) = (&spec.host, spec.mx) {
                    mx.push((name.clone(), dns.mx(name)));
                }
            }
            hops = Some(dns.next_hops(mailer, hosts, &self.setup.local));
        }
        Report { given: given.to_string(), outcome, probes, mx, hops }
    }

    fn text(&mut self, report: &Report) -> io::Result<()> {
        writeln!(self.out, "{}: {}", report.given, report.outcome.words())?;
        if self.explain {
            for line in self.explanation(report) {
                writeln!(self.out, "  {line}")?;
            }
        }
        match &report.hops {
            Some(Ok(hops)) => {
                for hop in hops {
                    writeln!(
                        self.out,
                        "  next hop {} {} port {} preference {}",
                        hop.host_name, hop.addr, hop.port, hop.preference
                    )?;
                }
            }
            Some(Err(failure)) => writeln!(self.out, "  {failure}")?,
            None => {}
        }
        Ok(())
    }

    fn tsv(&mut self, report: &Report) -> io::Result<()> {
        if self.explain {
            for line in self.explanation(report) {
                writeln!(self.out, "# {line}")?;
            }
        }
        write_tsv_row(&mut self.out, &report.given, &report.outcome)?;
        if self.dns.is_some() {
            let hops = match &report.hops {
                Some(Ok(hops)) => hops
                    .iter()
                    .map(|h| SocketAddr::new(h.addr, h.port).to_string())
                    .collect::<Vec<_>>()
                    .join(","),
                Some(Err(failure)) => failure.to_string(),
                None => String::new(),
            };
            write!(self.out, "\t{hops}")?;
        }
        self.out.write_all(b"\n")
    }

    /// The steps of the decision, one line each (spec mailertable.md §2, §4).
    fn explanation(&self, report: &Report) -> Vec<String> {
        let mut lines = Vec::new();
        let route = match &report.outcome {
            Outcome::Routed(route) => route,
            Outcome::BadAddress(error) => {
                lines.push(format!("address: does not parse: {error}"));
                return lines;
            }
            Outcome::Failed(error) => {
                lines.push(format!("mailertable: {error}"));
                return lines;
            }
            Outcome::Resolved(_) | Outcome::Unresolved(_) => {
                unreachable!("resolver outcomes are explained by route::resolve")
            }
        };
        let address =
            Address::parse(&report.given, ParseOptions::default()).expect("it routed, so it parsed");
        match address.domain() {
            None => lines.push(format!("address: local part `{}`, unqualified", address.local_part())),
            Some(domain) => {
                lines.push(format!("address: local part `{}`, domain {domain}", address.local_part()));
                let is_local = route.via == Via::LocalName;
                let names = self.setup.local.names().join(" ");
                let verdict = if is_local { "is" } else { "is not" };
                lines.push(format!("local names: {domain} {verdict} one of this host's names ({names})"));
            }
        }
        if self.setup.map.is_none() {
            lines.push("mailertable: none given".into());
        }
        let matched = match &route.via {
            Via::Mailertable(found) => Some(found),
            _ => None,
        };
        for (n, probe) in report.probes.iter().enumerate() {
            let mut line = format!("mailertable key `{}`: ", probe.key);
            match &probe.value {
                None => line.push_str("not found"),
                Some(value) => {
                    let _ = write!(line, "found `{value}`");
                    if let Some(skipped) = &probe.skipped {
                        let _ = write!(line, ", passed over: {skipped}");
                    }
                }
            }
            let last = n + 1 == report.probes.len();
            if last && matched.is_some_and(|m| m.key == probe.key) {
                line.push_str(", matched");
            }
            lines.push(line);
        }
        if let Some(found) = matched {
            lines.push(format!("expanded: `{}` -> `{}`", found.value, found.expanded));
        }
        lines.push(format!("decided by: {}", via_words(&route.via)));
        if let Decision::Deliver { mailer, .. } = &route.decision {
            lines.push(mailer_words(mailer));
        }
        for (name, answer) in &report.mx {
            match answer {
                Ok(records) => {
                    let list: Vec<String> =
                        records.iter().map(|r| format!("{} {}", r.preference, r.exchange)).collect();
                    lines.push(format!("dns: MX {name}: {}", list.join(", ")));
                }
                Err(error) => lines.push(format!("dns: MX {name}: {error}")),
            }
        }
        lines
    }

    fn json(&mut self, report: &Report) -> io::Result<()> {
        let mut object = String::from("{");
        let [mailer, host, user] = report.outcome.columns();
        let _ = write!(
            object,
            "\"address\":{},\"mailer\":{},\"host\":{},\"user\":{},\"route\":{}",
            json_string(&report.given),
            json_string(&mailer),
            json_string(&host),
            json_string(&user),
            json_string(&report.outcome.words())
        );
        let (error, via, policy) = match &report.outcome {
            Outcome::Routed(route) => {
                let policy = match &route.decision {
                    Decision::Deliver { mailer, .. } => Some(mailer_json(mailer)),
                    _ => None,
                };
                (None, Some(via_name(&route.via)), policy)
            }
            Outcome::BadAddress(error) => (Some(error.to_string()), None, None),
            Outcome::Failed(error) => (Some(error.to_string()), None, None),
            Outcome::Unresolved(error) => (Some(error.to_string()), None, None),
            Outcome::Resolved(_) => (None, None, None),
        };
        let _ = write!(
            object,
            ",\"error\":{},\"via\":{},\"mailer_policy\":{}",
            json_option(error.as_deref()),
            json_option(via),
            policy.as_deref().unwrap_or("null")
        );
        object.push_str(",\"probes\":[");
        for (n, probe) in report.probes.iter().enumerate() {
            let _ = write!(
                object,
                "{}{{\"key\":{},\"value\":{},\"skipped\":{}}}",
                if n == 0 { "" } else { "," },
                json_string(&probe.key),
                json_option(probe.value.as_deref()),
                json_option(probe.skipped.as_deref())
            );
        }
        object.push(']');
        let matched = match &report.outcome {
            Outcome::Routed(Route { via: Via::Mailertable(found), .. }) => format!(
                "{{\"key\":{},\"value\":{},\"expanded\":{}}}",
                json_string(&found.key),
                json_string(&found.value),
                json_string(&found.expanded)
            ),
            _ => "null".into(),
        };
        let _ = write!(object, ",\"match\":{matched}");
        if self.dns.is_some() {
            object.push_str(",\"mx\":[");
            for (n, (name, answer)) in report.mx.iter().enumerate() {
                let (records, error) = match answer {
                    Ok(records) => (records.as_slice(), None),
                    Err(error) => (&[][..], Some(error.to_string())),
                };
                let records: Vec<String> = records
                    .iter()
                    .map(|r| {
                        format!(
                            "{{\"preference\":{},\"exchange\":{}}}",
                            r.preference,
                            json_string(&r.exchange)
                        )
                    })
                    .collect();
                let _ = write!(
                    object,
                    "{}{{\"name\":{},\"records\":[{}],\"error\":{}}}",
                    if n == 0 { "" } else { "," },
                    json_string(name),
                    records.join(","),
                    json_option(error.as_deref())
                );
            }
            object.push(']');
            let (hops, failure) = match &report.hops {
                Some(Ok(hops)) => (Some(hops.as_slice()), None),
                Some(Err(failure)) => (None, Some(failure.to_string())),
                None => (None, None),
            };
            let hops = hops.map_or_else(
                || "null".to_string(),
                |hops| {
                    let list: Vec<String> = hops
                        .iter()
                        .map(|h| {
                            format!(
                                "{{\"host\":{},\"addr\":\"{}\",\"port\":{},\"preference\":{}}}",
                                json_string(&h.host_name),
                                h.addr,
                                h.port,
                                h.preference
                            )
                        })
                        .collect();
                    format!("[{}]", list.join(","))
                },
            );
            let _ = write!(
                object,
                ",\"next_hops\":{hops},\"next_hop_failure\":{}",
                json_option(failure.as_deref())
            );
        }
        object.push('}');
        let separator = if self.count == 1 { "\n  " } else { ",\n  " };
        self.out.write_all(separator.as_bytes())?;
        self.out.write_all(object.as_bytes())
    }
}

/// `ADDRESS<TAB>mailer<TAB>host<TAB>user`, without the newline.
fn write_tsv_row(out: &mut impl Write, given: &str, outcome: &Outcome) -> io::Result<()> {
    let [mailer, host, user] = outcome.columns();
    write!(out, "{given}\t{mailer}\t{host}\t{user}")
}

fn via_name(via: &Via) -> &'static str {
    match via {
        Via::Unqualified => "unqualified",
        Via::LocalName => "local-name",
        Via::LiteralToSmartHost => "literal-to-smart-host",
        Via::Literal => "literal",
        Via::Mailertable(_) => "mailertable",
        Via::SmartHost => "smart-host",
        Via::Mx => "mx",
    }
}

fn via_words(via: &Via) -> String {
    match via {
        Via::Unqualified => "an unqualified address or <postmaster>: local delivery".into(),
        Via::LocalName => "the domain is one of this host's names (class w): local delivery".into(),
        Via::LiteralToSmartHost => "a domain literal skips the mailertable and goes to the smart host".into(),
        Via::Literal => "a domain literal skips the mailertable and goes to that address".into(),
        Via::Mailertable(found) => format!("the mailertable entry `{}`", found.key),
        Via::SmartHost => "no mailertable entry matched: the smart host".into(),
        Via::Mx => "no mailertable entry and no smart host: the domain's MX records".into(),
    }
}

fn mailer_words(mailer: &Mailer) -> String {
    let certificates = if mailer.verify_certificates {
        "certificates verified"
    } else {
        "certificates NOT verified (dangerous_accept_invalid_certs)"
    };
    format!(
        "mailer {}: port {}, TLS {}, AUTH {}, {certificates}",
        mailer.name, mailer.port, mailer.tls, mailer.auth
    )
}

fn mailer_json(mailer: &Mailer) -> String {
    format!(
        "{{\"name\":{},\"port\":{},\"tls\":\"{}\",\"auth\":\"{}\",\"verify_certificates\":{}}}",
        json_string(&mailer.name),
        mailer.port,
        mailer.tls,
        mailer.auth,
        mailer.verify_certificates
    )
}
