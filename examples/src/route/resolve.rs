//! `smarthost route` with the virtusertable, aliases and routing features:
//! sendmail's ruleset 0 order (FEATURE(redirect), the virtusertable, the
//! router, then aliases for local users) through the relay's own
//! [`RecipientResolver`].
//!
//! A recipient an alias expands prints one row per target, each starting
//! with the address as given; a `.REDIRECT` or `error:` result prints as
//! the `*error*` mailer, as in sendmail's `/parse`.

use std::fmt::Write as _;
use std::fs;
use std::io::{self, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use smarthost_maps::{MapGeneration, Source, SourceOptions};
use smarthost_routing::{
    Action, Address, AliasDb, Aliases, FsIncludes, LocalNames, ParseOptions, RecipientResolver, Resolution,
    ResolveError, ResolveOptions, Router, Step, Target, Via, VirtuserDomains, Virtusertable,
    lint_virtusertable,
};

use super::config::Config;
use super::{Compat, Outcome, Printer, Settings, mailer_json, mailer_words};
use crate::json::{json_option, json_string};

/// The features that change routing, and what they turn on.
pub(crate) const ROUTING_FEATURES: &[&str] =
    &["redirect", "preserve_local_plus_detail", "virtuser_entire_domain"];

/// sendmail features that `route` accepts, so that a command line written
/// for a whole configuration works, but that do not change where a
/// recipient goes (policy, rewriting, or tables given by their own flag).
const OTHER_FEATURES: &[&str] = &[
    "access_db",
    "accept_unqualified_senders",
    "accept_unresolvable_domains",
    "allmasquerade",
    "always_add_domain",
    "blocklist_recipients",
    "delay_checks",
    "generics_entire_domain",
    "genericstable",
    "limited_masquerade",
    "mailertable",
    "masquerade_entire_domain",
    "masquerade_envelope",
    "relay_entire_domain",
    "relay_hosts_only",
    "use_cw_file",
    "virtusertable",
];

/// What the flags and the configuration add to plain routing.
#[derive(Debug, Default)]
pub(crate) struct Extras {
    virtusertable: Option<MapGeneration>,
    domains: VirtuserDomains,
    aliases: Option<AliasDb>,
    includes: FsIncludes,
    options: ResolveOptions,
    features: Vec<String>,
    ignored_features: Vec<String>,
    relay_domains: Vec<String>,
    access: Option<PathBuf>,
    compat: bool,
}

impl Extras {
    /// Reads the tables and checks the names; warnings go to standard error.
    pub(crate) fn load(settings: &Settings, config: &Config, local: &LocalNames) -> Result<Self, String> {
        let mut extras = Self::default();
        if settings.compat == Some(Compat::Sendmail) {
            extras.options = ResolveOptions::sendmail();
            extras.compat = true;
        }
        let features = if settings.features.is_empty() { &config.features } else { &settings.features };
        for feature in features {
            let name = feature.trim().trim_matches(['`', '\'']).to_ascii_lowercase();
            match name.as_str() {
                "redirect" => extras.options.redirect = true,
                "preserve_local_plus_detail" => extras.options.preserve_local_plus_detail = true,
                "virtuser_entire_domain" => extras.domains.entire_domain = true,
                other if OTHER_FEATURES.contains(&other) => {
                    extras.ignored_features.push(other.to_string());
                    continue;
                }
                other => {
                    return Err(format!(
                        "unknown feature `{other}`; the features that change routing are {}, and route also \
                         accepts (and ignores) {}",
                        ROUTING_FEATURES.join(", "),
                        OTHER_FEATURES.join(", ")
                    ));
                }
            }
            extras.features.push(name);
        }
        let domains = if settings.virtuser_domains.is_empty() {
            &config.virtuser_domains
        } else {
            &settings.virtuser_domains
        };
        for domain in domains {
            extras.domains.add(domain);
        }
        if let Some(file) = settings.virtuser_domain_file.as_ref().or(config.virtuser_domain_file.as_ref()) {
            extras.domains.load_file(file).map_err(|e| e.to_string())?;
        }
        extras.relay_domains = if settings.relay_domains.is_empty() {
            config.relay_domains.clone()
        } else {
            settings.relay_domains.clone()
        };
        if let Some(file) = settings.virtusertable.as_ref().or(config.virtusertable.as_ref()) {
            extras.virtusertable = Some(open_virtusertable(file)?);
        }
        if let Some(file) = settings.aliases.as_ref().or(config.aliases.as_ref()) {
            extras.aliases = Some(open_aliases(file, local)?);
        }
        if let Some(file) = settings.access.as_ref().or(config.access.as_ref()) {
            // Opened so that a broken file is reported; not consulted.
            crate::map::open(file)?;
            extras.access = Some(file.clone());
        }
        Ok(extras)
    }

    /// Whether anything beyond plain routing was asked for (even if only
    /// to be shown by `--explain`).
    pub(crate) fn is_active(&self) -> bool {
        self.virtusertable.is_some()
            || self.aliases.is_some()
            || !self.features.is_empty()
            || !self.ignored_features.is_empty()
            || self.compat
            || self.access.is_some()
            || !self.relay_domains.is_empty()
            || !self.domains.is_empty()
    }

    /// The resolver over `router`.
    pub(crate) fn resolver<'s>(&'s self, local: &'s LocalNames, router: Router<'s>) -> RecipientResolver<'s> {
        let mut resolver =
            RecipientResolver::new(local, router).options(self.options).includes(&self.includes);
        if let Some(map) = &self.virtusertable {
            resolver = resolver.virtusertable(Virtusertable::new(map), &self.domains);
        }
        if let Some(aliases) = &self.aliases {
            resolver = resolver.aliases(Aliases::new(aliases));
        }
        resolver
    }

    /// The configuration lines of `--explain`.
    fn explanation(&self) -> Vec<String> {
        let mut lines = Vec::new();
        match &self.virtusertable {
            Some(map) => {
                let mut line = format!("virtusertable: {}", map.path().display());
                if !self.domains.is_empty() {
                    let _ = write!(line, ", also for {}", self.domains.names().join(" "));
                    if self.domains.entire_domain {
                        line.push_str(" and their sub-domains");
                    }
                }
                lines.push(line);
            }
            None => lines.push("virtusertable: none given".into()),
        }
        match &self.aliases {
            Some(aliases) => lines.push(format!("aliases: {}", aliases.path().display())),
            None => lines.push("aliases: none given".into()),
        }
        if !self.features.is_empty() {
            lines.push(format!("features: {}", self.features.join(", ")));
        }
        for feature in &self.ignored_features {
            lines.push(format!("feature {feature}: does not change routing; ignored here"));
        }
        if self.compat {
            lines.push(
                "compat sendmail: virtusertable loops end at the recursion limit; alias failures are reported \
                 at delivery"
                    .into(),
            );
        }
        if let Some(access) = &self.access {
            lines.push(format!(
                "access map {}: not consulted; sendmail's ruleset 0 does not read it either (the access \
                 decision is `smarthost policy`'s)",
                access.display()
            ));
        }
        if !self.relay_domains.is_empty() {
            lines.push(format!(
                "relay domains (class R): {}; relaying is policy and does not change the route",
                self.relay_domains.join(" ")
            ));
        }
        lines
    }
}

/// Opens the virtusertable as the relay does; a text source's makemap
/// diagnostics and lints go to standard error.
fn open_virtusertable(file: &Path) -> Result<MapGeneration, String> {
    let map = crate::map::open(file)?;
    if map.text().is_some() {
        let text = fs::read(map.path()).map_err(|e| format!("{}: cannot read: {e}", map.path().display()))?;
        let source = Source::parse(&text, &SourceOptions::default());
        for lint in lint_virtusertable(source.entries()) {
            eprintln!("smarthost: {}: warning: {lint}", map.path().display());
        }
    }
    Ok(map)
}

/// Opens the aliases as the relay does: the `newaliases` database when it
/// exists, else the text; the text's problems go to standard error.
fn open_aliases(file: &Path, local: &LocalNames) -> Result<AliasDb, String> {
    let aliases = AliasDb::open(file, Some(local)).map_err(|e| e.to_string())?;
    let shown = aliases.path().display().to_string();
    for diagnostic in aliases.diagnostics() {
        eprintln!("smarthost: {}", diagnostic.display_in(&shown));
    }
    if let Some(source) = aliases.stale_source() {
        eprintln!(
            "smarthost: warning: {} is newer than {shown}: run `smarthost newaliases {}`",
            source.display(),
            source.display()
        );
    }
    Ok(aliases)
}

/// Parses and resolves one address as `route` does with `--virtusertable`,
/// `--aliases` or a routing `--feature`: parse errors and lookup failures
/// become outcomes; `explain` records every key tried.
///
/// ```
/// use smarthost::route::{Outcome, resolve_one};
/// use smarthost_routing::{LocalNames, Mailers, RecipientResolver, ResolveOptions, Router};
/// let (local, mailers) = (LocalNames::new("gw.example.net"), Mailers::standard());
/// let options = ResolveOptions { redirect: true, ..ResolveOptions::default() };
/// let resolver = RecipientResolver::new(&local, Router::new(&local, &mailers)).options(options);
/// let outcome = resolve_one(&resolver, "bob@new.example.REDIRECT", false);
/// assert_eq!(outcome.rows()[0][2], "551 5.1.1 User has moved; please try <bob@new.example>");
/// assert!(matches!(outcome, Outcome::Resolved(_)));
/// ```
pub fn resolve_one(resolver: &RecipientResolver<'_>, given: &str, explain: bool) -> Outcome {
    let address = match Address::parse(given, ParseOptions::default()) {
        Ok(address) => address,
        Err(error) => return Outcome::BadAddress(error),
    };
    let resolved = if explain { resolver.resolve_explained(&address) } else { resolver.resolve(&address) };
    match resolved {
        Ok(resolution) => Outcome::Resolved(resolution),
        Err(ResolveError::Mailertable(error)) => Outcome::Failed(error),
        Err(error) => Outcome::Unresolved(error),
    }
}

impl<W: Write> Printer<'_, W> {
    /// One address through the resolver, in the chosen format.
    pub(super) fn resolved(&mut self, resolver: &RecipientResolver<'_>, given: &str) -> io::Result<()> {
        let explain = self.explain || self.format == super::Format::Json;
        let outcome = resolve_one(resolver, given, explain);
        self.note(&outcome);
        let hops = self.target_hops(&outcome);
        match self.format {
            super::Format::Tsv => {
                if self.explain {
                    for line in self.resolution_explanation(given, &outcome) {
                        writeln!(self.out, "# {line}")?;
                    }
                }
                for (n, [mailer, host, user]) in outcome.rows().into_iter().enumerate() {
                    write!(self.out, "{given}\t{mailer}\t{host}\t{user}")?;
                    if let Some(hops) = &hops {
                        write!(self.out, "\t{}", hops.get(n).map_or("", String::as_str))?;
                    }
                    self.out.write_all(b"\n")?;
                }
                Ok(())
            }
            super::Format::Text => {
                for words in outcome.all_words() {
                    writeln!(self.out, "{given}: {words}")?;
                }
                if self.explain {
                    for line in self.resolution_explanation(given, &outcome) {
                        writeln!(self.out, "  {line}")?;
                    }
                }
                if let Some(hops) = &hops {
                    for line in hops.iter().filter(|h| !h.is_empty()) {
                        writeln!(self.out, "  next hops {line}")?;
                    }
                }
                Ok(())
            }
            super::Format::Json => self.resolved_json(given, &outcome, hops.as_deref()),
        }
    }

    /// With `--resolve`: each target's next hops (`addr:port` list, or the
    /// failure), empty for targets that are not SMTP deliveries.
    fn target_hops(&self, outcome: &Outcome) -> Option<Vec<String>> {
        let dns = self.dns?;
        let Outcome::Resolved(resolution) = outcome else { return Some(vec![String::new()]) };
        let hops = resolution
            .targets
            .iter()
            .map(|target| match &target.action {
                Action::Deliver(route) => match &route.decision {
                    smarthost_routing::Decision::Deliver { mailer, hosts, .. } => {
                        match dns.next_hops(mailer, hosts, &self.setup.local) {
                            Ok(hops) => hops
                                .iter()
                                .map(|h| SocketAddr::new(h.addr, h.port).to_string())
                                .collect::<Vec<_>>()
                                .join(","),
                            Err(failure) => failure.to_string(),
                        }
                    }
                    _ => String::new(),
                },
                _ => String::new(),
            })
            .collect();
        Some(hops)
    }

    /// The steps of the decision, one line each.
    fn resolution_explanation(&self, given: &str, outcome: &Outcome) -> Vec<String> {
        let mut lines = Vec::new();
        let resolution = match outcome {
            Outcome::Resolved(resolution) => resolution,
            Outcome::BadAddress(error) => return vec![format!("address: does not parse: {error}")],
            other => return vec![format!("lookup failed: {}", other.columns()[2])],
        };
        if let Ok(address) = Address::parse(given, ParseOptions::default()) {
            match address.domain() {
                None => lines.push(format!("address: local part `{}`, unqualified", address.local_part())),
                Some(domain) => {
                    lines.push(format!("address: local part `{}`, domain {domain}", address.local_part()));
                    let is_local = domain.as_name().is_some_and(|name| self.setup.local.contains_name(name));
                    let names = self.setup.local.names().join(" ");
                    let verdict = if is_local { "is" } else { "is not" };
                    lines.push(format!("local names: {domain} {verdict} one of this host's names ({names})"));
                }
            }
        }
        lines.extend(self.setup.extras.explanation());
        if self.setup.map.is_none() {
            lines.push("mailertable: none given".into());
        }
        lines.extend(resolution.steps.iter().flat_map(Step::lines));
        for target in &resolution.targets {
            if let Action::Deliver(route) = &target.action
                && let smarthost_routing::Decision::Deliver { mailer, .. } = &route.decision
            {
                lines.push(format!("{}: {}", target.address, mailer_words(mailer)));
            }
            if let Some(owner) = &target.owner {
                lines.push(format!("{}: sent from {owner} (the list's owner)", target.address));
            }
        }
        match resolution.rcpt_reply() {
            Some(reply) => lines.push(format!("rcpt: refused now: {reply}")),
            None => lines.push("rcpt: accepted (250 2.1.5)".into()),
        }
        for (target, refusal) in resolution.refusals() {
            let now = resolution.rcpt_refusal().is_some_and(|(t, _)| std::ptr::eq(t, target));
            if !now {
                lines.push(format!(
                    "later: {} fails at delivery: {}",
                    target.address,
                    refusal.reply.reply_for(&target.address)
                ));
            }
        }
        lines
    }

    fn resolved_json(&mut self, given: &str, outcome: &Outcome, hops: Option<&[String]>) -> io::Result<()> {
        let mut object = String::from("{");
        let [mailer, host, user] = outcome.columns();
        let _ = write!(
            object,
            "\"address\":{},\"mailer\":{},\"host\":{},\"user\":{},\"route\":{}",
            json_string(given),
            json_string(&mailer),
            json_string(&host),
            json_string(&user),
            json_string(&outcome.all_words().into_iter().next().unwrap_or_default())
        );
        let (error, resolution) = match outcome {
            Outcome::Resolved(resolution) => (None, Some(resolution)),
            Outcome::BadAddress(error) => (Some(error.to_string()), None),
            Outcome::Failed(error) => (Some(error.to_string()), None),
            Outcome::Unresolved(error) => (Some(error.to_string()), None),
            Outcome::Routed(_) => (None, None),
        };
        let first = resolution.and_then(|r| r.targets.first());
        let via = resolution.and_then(last_via);
        let policy = first.and_then(|target| match &target.action {
            Action::Deliver(route) => match &route.decision {
                smarthost_routing::Decision::Deliver { mailer, .. } => Some(mailer_json(mailer)),
                _ => None,
            },
            _ => None,
        });
        let _ = write!(
            object,
            ",\"error\":{},\"via\":{},\"mailer_policy\":{}",
            json_option(error.as_deref()),
            json_option(via),
            policy.as_deref().unwrap_or("null")
        );
        object.push_str(",\"probes\":[");
        let probes = resolution.into_iter().flat_map(|r| &r.steps).flat_map(|step| match step {
            Step::Routed { probes, .. } => probes.as_slice(),
            _ => &[],
        });
        for (n, probe) in probes.enumerate() {
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
        let matched = resolution.and_then(|r| {
            r.steps.iter().find_map(|step| match step {
                Step::Routed { via: Via::Mailertable(found), .. } => Some(format!(
                    "{{\"key\":{},\"value\":{},\"expanded\":{}}}",
                    json_string(&found.key),
                    json_string(&found.value),
                    json_string(&found.expanded)
                )),
                _ => None,
            })
        });
        let _ = write!(object, ",\"match\":{}", matched.as_deref().unwrap_or("null"));
        if let Some(resolution) = resolution {
            let _ = write!(object, ",\"rcpt_reply\":{}", json_option(resolution.rcpt_reply().as_deref()));
            object.push_str(",\"targets\":[");
            for (n, target) in resolution.targets.iter().enumerate() {
                let hop = hops.and_then(|h| h.get(n)).map(String::as_str);
                object.push_str(if n == 0 { "" } else { "," });
                object.push_str(&target_json(target, hop));
            }
            object.push_str("],\"steps\":[");
            let lines: Vec<String> =
                resolution.steps.iter().flat_map(Step::lines).map(|line| json_string(&line)).collect();
            object.push_str(&lines.join(","));
            object.push(']');
        }
        object.push('}');
        let separator = if self.count == 1 { "\n  " } else { ",\n  " };
        self.out.write_all(separator.as_bytes())?;
        self.out.write_all(object.as_bytes())
    }
}

fn last_via(resolution: &Resolution) -> Option<&'static str> {
    resolution.steps.iter().rev().find_map(|step| match step {
        Step::Routed { via, .. } => Some(super::via_name(via)),
        _ => None,
    })
}

fn target_json(target: &Target, hops: Option<&str>) -> String {
    let [mailer, host, user] = target.columns();
    let detail = match &target.action {
        Action::Local { detail, .. } => detail.as_deref(),
        _ => None,
    };
    let reply = match &target.action {
        Action::Refuse(refusal) => Some(refusal.reply.reply_for(&target.address)),
        _ => None,
    };
    let mut object = format!(
        "{{\"address\":{},\"mailer\":{},\"host\":{},\"user\":{},\"detail\":{},\"route\":{},\"alias\":{},\
         \"owner\":{},\"reply\":{}",
        json_string(&target.address),
        json_string(&mailer),
        json_string(&host),
        json_string(&user),
        json_option(detail),
        json_string(&target.to_string()),
        json_option(target.alias.as_deref()),
        json_option(target.owner.as_deref()),
        json_option(reply.as_deref())
    );
    if let Some(hops) = hops {
        let _ = write!(object, ",\"next_hops\":{}", json_string(hops));
    }
    object.push('}');
    object
}
