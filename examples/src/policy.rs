//! `smarthost policy`: what the relay would answer a client, sender and
//! recipients, and why (sendmail's `check_relay`, `check_mail` and
//! `check_rcpt` rulesets, as `sendmail -bt` runs them).
//!
//! The decisions are the relay's own ([`smarthost_routing::Policy`], the
//! same code path): the access map, local names (class w), relay domains
//! (class R), trusted authentication and the reverse-DNS requirement.
//! Nothing touches DNS: the client's name and how it resolved come from
//! the flags.
//!
//! `--format tsv` prints one line per recipient, five TAB-separated
//! columns: the recipient as given, the verdict (`accept`, `relay`,
//! `reject`, `defer`, `discard`), the reply code, the enhanced status code
//! and the reply text. When the connection or the sender is refused (or
//! discarded, or quarantined), a line for it comes first, its first column
//! `CONNECT [address]` or `MAIL FROM:<sender>`; the recipients then carry
//! that refusal, as a session answers every later command with it.

mod config;

use std::fmt::Write as _;
use std::fs;
use std::io::{self, BufWriter, Write};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use smarthost_maps::{MapGeneration, Source, SourceOptions};
use smarthost_routing::{
    AccessIndex, AccessMap, AccessOptions, Authenticated, Checked, Client, ClientResolve, Evaluation,
    LocalNames, Policy, PolicyOptions, RelayDomains, Stage, Verdict, client_addr_text, lint_access,
};

use crate::exit::{Failure, Sysexit};
use crate::host::system_hostname;
use crate::json::{json_option, json_string};
use crate::records::reader_went_away;
use config::Config;

/// How `policy` prints.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// A few lines per step: the reply and why.
    #[default]
    Text,
    /// `RECIPIENT<TAB>verdict<TAB>code<TAB>enhanced<TAB>text`, one line each.
    Tsv,
    /// One JSON object with the client, each step and each recipient.
    Json,
}

/// Everything `smarthost policy` takes; flags add to (lists) or override
/// (single values) `--config`.
#[derive(Clone, Debug, Default)]
pub struct Settings {
    /// The relay's TOML configuration file.
    pub config: Option<PathBuf>,
    /// The access map: a compiled map, a text source, or a source whose `.db` exists.
    pub access: Option<PathBuf>,
    /// RELAY_DOMAIN entries: domains, or address prefixes such as `10.1`.
    pub relay_domains: Vec<String>,
    /// More names (or `[address]` literals) of this host.
    pub local_host_names: Vec<String>,
    /// This host's canonical name (sendmail's `$j`).
    pub hostname: Option<String>,
    /// The client's IP address (`192.0.2.1`, `2001:db8::1`, `IPv6:2001:db8::1`).
    pub client_addr: String,
    /// The client's name from reverse DNS.
    pub client_name: Option<String>,
    /// How the name was found: default `ok` with a name, `fail` without.
    pub client_resolve: Option<ClientResolve>,
    /// The user the client authenticated as.
    pub auth: Option<String>,
    /// The SASL mechanism it used (default `PLAIN`).
    pub auth_mech: Option<String>,
    /// The envelope sender; default the null sender `<>`.
    pub from: Option<String>,
    /// The recipients.
    pub to: Vec<String>,
    /// sendmail feature names (`delay_checks`, `nouucp=reject`, ...).
    pub features: Vec<String>,
    /// How to print.
    pub format: Format,
}

/// Runs `smarthost policy`. Exit status (sysexits): 0 when nothing was
/// refused, 77 (EX_NOPERM) when something was rejected, 75 (EX_TEMPFAIL)
/// when something was deferred and nothing rejected, 64 for bad flag
/// values, 66 when a file cannot be read, 78 for a bad configuration, 74
/// when the output cannot be written.
pub fn run(settings: &Settings) -> ExitCode {
    match run_checked(settings) {
        Ok(status) => status.into(),
        Err(failure) => {
            eprintln!("smarthost: {}", failure.message);
            failure.status.into()
        }
    }
}

fn run_checked(settings: &Settings) -> Result<Sysexit, Failure> {
    let setup = Setup::new(settings)?;
    let request = Request::new(settings)?;
    let policy = setup.policy();
    let client = request.client();
    let recipients: Vec<&str> = settings.to.iter().map(String::as_str).collect();
    let evaluation = policy.evaluate(&client, &request.sender, &recipients);
    let mut out = BufWriter::new(io::stdout().lock());
    let written = match settings.format {
        Format::Text => write_text(&mut out, &request, &evaluation, &settings.to),
        Format::Tsv => write_tsv(&mut out, &request, &evaluation, &settings.to),
        Format::Json => write_json(&mut out, &request, &evaluation, &settings.to),
    }
    .and_then(|()| out.flush());
    match written {
        Err(error) if !reader_went_away(&error) => {
            Err(Failure::new(Sysexit::IoErr, format!("cannot write to standard output: {error}")))
        }
        _ => Ok(status(&evaluation)),
    }
}

/// 77 for any rejection, else 75 for any deferral, else 0.
fn status(evaluation: &Evaluation) -> Sysexit {
    let all = std::iter::once(&evaluation.connect).chain(&evaluation.sender).chain(&evaluation.recipients);
    let verdicts: Vec<Verdict> = all.map(|c| c.verdict).collect();
    if verdicts.contains(&Verdict::Reject) {
        Sysexit::NoPerm
    } else if verdicts.contains(&Verdict::Defer) {
        Sysexit::TempFail
    } else {
        Sysexit::Ok
    }
}

/// The configuration, read once.
struct Setup {
    local: LocalNames,
    relay_domains: RelayDomains,
    options: PolicyOptions,
    access_options: AccessOptions,
    access: Option<AccessIndex<MapGeneration>>,
}

impl Setup {
    fn new(settings: &Settings) -> Result<Self, Failure> {
        let config = match &settings.config {
            Some(path) if !path.is_file() => {
                return Err(Failure::new(
                    Sysexit::NoInput,
                    format!("{}: no such configuration file", path.display()),
                ));
            }
            Some(path) => Config::load(path).map_err(|e| Failure::new(Sysexit::Config, e))?,
            None => Config::default(),
        };
        let hostname = match settings.hostname.clone().or(config.hostname.clone()) {
            Some(name) => name,
            None => system_hostname().map_err(|e| Failure::new(Sysexit::NoInput, e))?,
        };
        let mut local = LocalNames::new(&hostname);
        for name in config.local_host_names.iter().chain(&settings.local_host_names) {
            local.add(name);
        }
        if let Some(file) = &config.local_host_names_file {
            local.load_file(file).map_err(|e| Failure::new(Sysexit::NoInput, e))?;
        }
        let mut relay_domains = RelayDomains::new();
        for entry in config.relay_domains.iter().chain(&settings.relay_domains) {
            relay_domains.add(entry);
        }
        if let Some(file) = &config.relay_domains_file {
            relay_domains.load_file(file).map_err(|e| Failure::new(Sysexit::NoInput, e))?;
        }
        let mut options = PolicyOptions {
            hostname,
            trust_auth_mechs: config.trust_auth_mechs.clone(),
            require_rdns: config.require_rdns,
            ..PolicyOptions::default()
        };
        let mut access_options = AccessOptions::default();
        for feature in &config.features {
            options
                .apply_feature(&mut access_options, feature)
                .map_err(|e| Failure::new(Sysexit::Config, format!("key `policy.features`: {e}")))?;
        }
        for feature in &settings.features {
            options
                .apply_feature(&mut access_options, feature)
                .map_err(|e| Failure::new(Sysexit::Usage, e))?;
        }
        let access = match settings.access.as_ref().or(config.access.as_ref()) {
            Some(file) => Some(open_access(file, access_options)?),
            None => None,
        };
        Ok(Self { local, relay_domains, options, access_options, access })
    }

    fn policy(&self) -> Policy<'_> {
        let mut policy = Policy::new(&self.local, &self.options).relay_domains(&self.relay_domains);
        if let Some(access) = &self.access {
            policy = policy.access(AccessMap::indexed(access, self.access_options));
        }
        policy
    }
}

/// Opens the access map as the relay does: reports makemap's diagnostics
/// and the lints of its entries, and indexes it.
fn open_access(file: &Path, options: AccessOptions) -> Result<AccessIndex<MapGeneration>, Failure> {
    let map = crate::map::open(file).map_err(|e| Failure::new(Sysexit::NoInput, e))?;
    let entries: Vec<(Vec<u8>, Vec<u8>)> = match map.compiled() {
        Some(compiled) => compiled
            .iter()
            .map(|r| r.map(|(k, v)| (k.to_vec(), v.to_vec())))
            .collect::<Result<_, _>>()
            .map_err(|e| Failure::new(Sysexit::NoInput, e))?,
        None => {
            let text = fs::read(map.path()).map_err(|e| {
                Failure::new(Sysexit::NoInput, format!("{}: cannot read: {e}", map.path().display()))
            })?;
            let source = Source::parse(&text, &SourceOptions::default());
            source.entries().iter().map(|e| (e.key.to_vec(), e.value.to_vec())).collect()
        }
    };
    let pairs = || entries.iter().map(|(k, v)| (&k[..], &v[..]));
    for lint in lint_access(pairs(), options) {
        eprintln!("smarthost: {}: warning: {lint}", map.path().display());
    }
    let fold = map.compiled().is_none_or(|c| c.is_case_folded());
    Ok(AccessIndex::new(map, pairs(), fold, options))
}

/// The client and the envelope, from the flags.
struct Request {
    addr: IpAddr,
    name: Option<String>,
    resolve: ClientResolve,
    auth: Option<(String, String)>,
    sender: String,
}

impl Request {
    fn new(settings: &Settings) -> Result<Self, Failure> {
        let addr = parse_client_addr(&settings.client_addr).ok_or_else(|| {
            Failure::new(
                Sysexit::Usage,
                format!(
                    "--client-addr `{}` is not an IP address (write 192.0.2.1, 2001:db8::1 or IPv6:2001:db8::1)",
                    settings.client_addr
                ),
            )
        })?;
        let name = settings.client_name.clone().filter(|n| !n.is_empty());
        let resolve = settings.client_resolve.unwrap_or(if name.is_some() {
            ClientResolve::Ok
        } else {
            ClientResolve::Fail
        });
        let auth = settings
            .auth
            .clone()
            .map(|user| (user, settings.auth_mech.clone().unwrap_or_else(|| "PLAIN".into())));
        let sender = settings.from.clone().unwrap_or_else(|| "<>".into());
        let sender = if sender.is_empty() { "<>".into() } else { sender };
        Ok(Self { addr, name, resolve, auth, sender })
    }

    fn client(&self) -> Client<'_> {
        Client {
            addr: Some(self.addr),
            name: self.name.as_deref(),
            resolve: self.resolve,
            auth: self.auth.as_ref().map(|(user, mechanism)| Authenticated { user, mechanism }),
        }
    }

    /// The first column of the connection line.
    fn connect_label(&self) -> String {
        format!("CONNECT [{}]", self.addr)
    }

    /// The first column of the sender line.
    fn sender_label(&self) -> String {
        let sender = self.sender.trim();
        if sender.starts_with('<') { format!("MAIL FROM:{sender}") } else { format!("MAIL FROM:<{sender}>") }
    }
}

/// `192.0.2.1`, `2001:db8::1`, `IPv6:2001:db8::1`, with or without brackets.
fn parse_client_addr(text: &str) -> Option<IpAddr> {
    let text = text.trim();
    let text = text.strip_prefix('[').and_then(|t| t.strip_suffix(']')).unwrap_or(text);
    let text = match text.get(..5) {
        Some(tag) if tag.eq_ignore_ascii_case("IPv6:") => &text[5..],
        _ => text,
    };
    text.parse().ok()
}

/// Whether a step's line belongs in the TSV output: it refused, dropped
/// or held something.
fn worth_a_line(checked: &Checked) -> bool {
    checked.verdict != Verdict::Accept || checked.quarantine.is_some()
}

fn tsv_line(out: &mut impl Write, label: &str, checked: &Checked) -> io::Result<()> {
    let reply = &checked.reply;
    writeln!(out, "{label}\t{}\t{}\t{}\t{}", checked.verdict, reply.code, reply.enhanced_text(), reply.text)
}

fn write_tsv(
    out: &mut impl Write,
    request: &Request,
    evaluation: &Evaluation,
    to: &[String],
) -> io::Result<()> {
    if worth_a_line(&evaluation.connect) {
        tsv_line(out, &request.connect_label(), &evaluation.connect)?;
    }
    if let Some(sender) = evaluation.sender.as_ref().filter(|s| worth_a_line(s)) {
        tsv_line(out, &request.sender_label(), sender)?;
    }
    for (given, checked) in to.iter().zip(&evaluation.recipients) {
        tsv_line(out, given, checked)?;
    }
    Ok(())
}

fn write_text(
    out: &mut impl Write,
    request: &Request,
    evaluation: &Evaluation,
    to: &[String],
) -> io::Result<()> {
    let name = request.name.as_deref().unwrap_or("no name");
    writeln!(out, "client {} ({name}, PTR {})", request.addr, request.resolve.as_str().to_ascii_lowercase())?;
    if let Some((user, mechanism)) = &request.auth {
        writeln!(out, "authenticated as {user} with {mechanism}")?;
    }
    text_step(out, &request.connect_label(), &evaluation.connect)?;
    if let Some(sender) = &evaluation.sender {
        text_step(out, &request.sender_label(), sender)?;
    }
    for (given, checked) in to.iter().zip(&evaluation.recipients) {
        let given = given.trim();
        let label =
            if given.starts_with('<') { format!("RCPT TO:{given}") } else { format!("RCPT TO:<{given}>") };
        text_step(out, &label, checked)?;
    }
    Ok(())
}

fn text_step(out: &mut impl Write, label: &str, checked: &Checked) -> io::Result<()> {
    writeln!(out, "{label}: {}", checked.verdict)?;
    writeln!(out, "  {}", checked.reply)?;
    let stage = match checked.stage {
        Stage::Connect if !label.starts_with("CONNECT") => " (decided by the connection check)",
        Stage::Sender if !label.starts_with("MAIL") => " (decided by the sender check)",
        _ => "",
    };
    writeln!(out, "  why: {}{stage} [{}]", checked.reason, checked.log_token())?;
    if let Some(reason) = &checked.quarantine {
        writeln!(out, "  quarantine: {reason}")?;
    }
    Ok(())
}

fn json_step(checked: &Checked) -> String {
    let reply = &checked.reply;
    format!(
        "\"stage\":{},\"verdict\":{},\"code\":{},\"enhanced\":{},\"text\":{},\"reason\":{},\"why\":{},\"quarantine\":{}",
        json_string(checked.stage.as_str()),
        json_string(checked.verdict.as_str()),
        reply.code,
        json_string(&reply.enhanced_text()),
        json_string(&reply.text),
        json_string(checked.reason.name()),
        json_string(&checked.reason.to_string()),
        json_option(checked.quarantine.as_deref()),
    )
}

fn write_json(
    out: &mut impl Write,
    request: &Request,
    evaluation: &Evaluation,
    to: &[String],
) -> io::Result<()> {
    let mut object = String::from("{\n");
    let auth = match &request.auth {
        Some((user, mechanism)) => {
            format!("{{\"user\":{},\"mechanism\":{}}}", json_string(user), json_string(mechanism))
        }
        None => "null".into(),
    };
    let _ = writeln!(
        object,
        "  \"client\":{{\"addr\":{},\"name\":{},\"resolve\":{},\"auth\":{auth}}},",
        json_string(&client_addr_text(request.addr, false)),
        json_option(request.name.as_deref()),
        json_string(request.resolve.as_str()),
    );
    let _ = writeln!(object, "  \"connect\":{{{}}},", json_step(&evaluation.connect));
    match &evaluation.sender {
        Some(sender) => {
            let _ = writeln!(
                object,
                "  \"sender\":{{\"sender\":{},{}}},",
                json_string(&request.sender),
                json_step(sender)
            );
        }
        None => object.push_str("  \"sender\":null,\n"),
    }
    object.push_str("  \"recipients\":[");
    for (n, (given, checked)) in to.iter().zip(&evaluation.recipients).enumerate() {
        let _ = write!(
            object,
            "{}\n    {{\"recipient\":{},{}}}",
            if n == 0 { "" } else { "," },
            json_string(given),
            json_step(checked)
        );
    }
    object.push_str(if to.is_empty() { "]\n}\n" } else { "\n  ]\n}\n" });
    out.write_all(object.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_addresses_in_every_spelling() {
        for text in ["192.0.2.1", "[192.0.2.1]", " 192.0.2.1 "] {
            assert_eq!(parse_client_addr(text), Some("192.0.2.1".parse().unwrap()), "{text}");
        }
        for text in ["2001:db8::1", "IPv6:2001:db8::1", "[IPv6:2001:DB8::1]", "ipv6:2001:db8:0:0:0:0:0:1"] {
            assert_eq!(parse_client_addr(text), Some("2001:db8::1".parse().unwrap()), "{text}");
        }
        assert_eq!(parse_client_addr("host.example"), None);
    }
}
