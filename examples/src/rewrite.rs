//! `smarthost rewrite`: how each address is rewritten on its way out
//! (masquerading, genericstable), as sendmail's address-test mode shows it
//! with `/tryflags ES|HS|ER|HR` and `/try esmtp ADDRESS`; and, with
//! `--message`, the whole message as the relay would send it.
//!
//! An ADDRESS is read the way `/try` reads it: as the value of an address
//! header, so `John Doe <joe>`, `joe (Joe)` and `team: a, b;` keep their
//! display names, comments and groups, and every address in them is
//! rewritten. The rewriter is the relay's own ([`smarthost_routing::Rewriter`]).
//!
//! `--virtusertable` is accepted so that one set of flags serves `smarthost
//! route` and `smarthost rewrite`; virtual users are a routing step
//! (sendmail's ruleset 0, which `/try` does not run), so the file is only
//! checked here and changes no output.

mod config;

use std::fmt::Write as _;
use std::fs;
use std::io::{self, BufRead, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use smarthost_maps::MapGeneration;
use smarthost_routing::{
    Address, AddressKind, ForwardPath, HeaderRewrite, LocalNames, MailerRules, Masquerade, ParseOptions,
    Reason, ReversePath, RewriteError, Rewriter, SenderByRecipient, SenderIdentity,
};

use crate::host::system_hostname;
use crate::json::{json_option, json_string};
use crate::records::reader_went_away;
use config::{AlwaysAddDomain, Config};

/// How `rewrite` prints.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Each address, then its four results and the rule behind each; with
    /// `--message`, the rewritten message itself.
    #[default]
    Text,
    /// `ADDRESS<TAB>ES<TAB>HS<TAB>ER<TAB>HR`: the address as given, then as
    /// rewritten as envelope sender, header sender, envelope recipient and
    /// header recipient. With `--message`, one line per change:
    /// `WHERE<TAB>KIND<TAB>BEFORE<TAB>AFTER<TAB>WHY`.
    Tsv,
    /// One JSON array with an object per address (one object with
    /// `--message`), for scripts.
    Json,
}

/// Everything `smarthost rewrite` takes; the flags override `--config`.
#[derive(Clone, Debug, Default)]
pub struct Settings {
    /// The relay's TOML configuration file.
    pub config: Option<PathBuf>,
    /// This host's canonical name (sendmail's `$j`).
    pub hostname: Option<String>,
    /// More names (or `[address]` literals) of this host (class w); replace the config's list.
    pub local_host_names: Vec<String>,
    /// A `local-host-names` file.
    pub local_host_names_file: Option<PathBuf>,
    /// `MASQUERADE_AS`.
    pub masquerade_as: Option<String>,
    /// `MASQUERADE_DOMAIN` (class M); replace the config's list.
    pub masquerade_domains: Vec<String>,
    /// `MASQUERADE_DOMAIN_FILE`.
    pub masquerade_domain_file: Option<PathBuf>,
    /// `MASQUERADE_EXCEPTION` (class N); replace the config's list.
    pub masquerade_exceptions: Vec<String>,
    /// `EXPOSED_USER` (class E); replace the config's list.
    pub exposed_users: Vec<String>,
    /// sendmail feature names, added to the config's.
    pub features: Vec<String>,
    /// The genericstable: a compiled map, a text source, or a source whose `.db` exists.
    pub genericstable: Option<PathBuf>,
    /// `GENERICS_DOMAIN` (class G); replace the config's list.
    pub generics_domains: Vec<String>,
    /// `GENERICS_DOMAIN_FILE`.
    pub generics_domain_file: Option<PathBuf>,
    /// The virtusertable: checked, not used (see the module docs).
    pub virtusertable: Option<PathBuf>,
    /// \[EXT\] The sender-by-recipient map (with `--message`).
    pub sender_by_recipient: Option<PathBuf>,
    /// The mailer whose rules apply (`esmtp` unless given).
    pub mailer: Option<String>,
    /// How to print.
    pub format: Format,
    /// Rewrite this message (`-`: standard input) instead of addresses.
    pub message: Option<PathBuf>,
    /// With `--message`: the envelope sender.
    pub mail_from: Option<String>,
    /// With `--message`: the envelope recipients.
    pub rcpt_to: Vec<String>,
    /// The addresses; `-` reads one a line from standard input.
    pub addresses: Vec<String>,
}

/// Runs `smarthost rewrite`. Exit status 0 when every address was
/// rewritten (or needed nothing), 1 when some element was not an address
/// (it is printed unchanged), 2 on a configuration error or a map that
/// could not be read or holds a bad entry.
pub fn run(settings: &Settings) -> ExitCode {
    let setup = match Setup::new(settings) {
        Ok(setup) => setup,
        Err(message) => return fail(&message),
    };
    let result = match &settings.message {
        Some(file) => setup.message(settings, file),
        None => setup.addresses(settings),
    };
    match result {
        Ok(status) => ExitCode::from(status),
        Err(Failure::Io(error)) if reader_went_away(&error) => ExitCode::SUCCESS,
        Err(Failure::Io(error)) => fail(&format!("cannot write to standard output: {error}")),
        Err(Failure::Message(message)) => fail(&message),
    }
}

fn fail(message: &str) -> ExitCode {
    eprintln!("smarthost: {message}");
    ExitCode::from(2)
}

enum Failure {
    Io(io::Error),
    Message(String),
}

impl From<io::Error> for Failure {
    fn from(error: io::Error) -> Self {
        Self::Io(error)
    }
}

/// The configuration, read once.
struct Setup {
    local: LocalNames,
    masquerade: Masquerade,
    genericstable: Option<MapGeneration>,
    identities: Option<MapGeneration>,
    mailer: MailerRules,
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
        for name in flags_or(&settings.local_host_names, &config.local_host_names) {
            local.add(name);
        }
        if let Some(file) = settings.local_host_names_file.as_ref().or(config.local_host_names_file.as_ref())
        {
            local.load_file(file).map_err(|e| e.to_string())?;
        }
        let masquerade = masquerade(settings, &config, &hostname)?;
        let mailer_name = settings.mailer.as_deref().unwrap_or("esmtp");
        let mailer = MailerRules::from_name(mailer_name).ok_or_else(|| {
            format!(
                "unknown mailer `{mailer_name}`; expected one of smtp, esmtp, smtp8, dsmtp, relay (the SMTP \
                 rules) or local, prog (the local rules)"
            )
        })?;
        let open = |file: Option<&PathBuf>| file.map(|file| crate::map::open(file)).transpose();
        let genericstable = open(settings.genericstable.as_ref().or(config.genericstable.as_ref()))?;
        // Checked so that a wrong name is caught here too; see the module docs.
        open(settings.virtusertable.as_ref().or(config.virtusertable.as_ref()))?;
        let identities = open(settings.sender_by_recipient.as_ref().or(config.sender_by_recipient.as_ref()))?;
        if identities.is_some() && settings.message.is_none() {
            return Err("--sender-by-recipient needs --message (and --mail-from and --rcpt): an identity \
                        is chosen for a message's one recipient"
                .into());
        }
        Ok(Self { local, masquerade, genericstable, identities, mailer })
    }

    fn rewriter<'s>(&'s self, identity: Option<&'s SenderIdentity>) -> Rewriter<'s> {
        let mut rewriter = Rewriter::new(&self.local, &self.masquerade);
        if let Some(map) = &self.genericstable {
            rewriter = rewriter.genericstable(map);
        }
        if let Some(identity) = identity {
            rewriter = rewriter.sender_identity(identity);
        }
        rewriter
    }

    /// `rewrite ADDRESS...`.
    fn addresses(&self, settings: &Settings) -> Result<u8, Failure> {
        let mut printer = Printer {
            rewriter: self.rewriter(None),
            mailer: self.mailer,
            format: settings.format,
            out: BufWriter::new(io::stdout().lock()),
            count: 0,
            status: 0,
        };
        if settings.format == Format::Json {
            printer.out.write_all(b"[")?;
        }
        for given in &settings.addresses {
            if given != "-" {
                printer.one(given)?;
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
                    printer.one(text)?;
                }
            }
        }
        if settings.format == Format::Json {
            printer.out.write_all(if printer.count == 0 { b"]\n" } else { b"\n]\n" })?;
        }
        printer.out.flush()?;
        Ok(printer.status)
    }

    /// `rewrite --message FILE`.
    fn message(&self, settings: &Settings, file: &Path) -> Result<u8, Failure> {
        let message = read_message(file).map_err(Failure::Message)?;
        let mail_from =
            settings.mail_from.as_deref().map(parse_reverse_path).transpose().map_err(Failure::Message)?;
        let rcpt_to: Vec<Address> = settings
            .rcpt_to
            .iter()
            .map(|r| parse_recipient(r))
            .collect::<Result<_, _>>()
            .map_err(Failure::Message)?;
        let failed = |e: RewriteError| Failure::Message(e.to_string());
        let identity = match (&self.identities, &mail_from) {
            (Some(map), Some(sender)) => {
                SenderByRecipient::new(map).identity(sender, &rcpt_to).map_err(failed)?
            }
            _ => None,
        };
        let rewriter = self.rewriter(identity.as_ref());
        let edits = rewriter.rewrite_headers(&message, self.mailer).map_err(failed)?;
        let envelope = envelope_rows(&rewriter, self.mailer, mail_from.as_ref(), &rcpt_to).map_err(failed)?;
        let mut out = BufWriter::new(io::stdout().lock());
        match settings.format {
            Format::Text => out.write_all(&edits.apply(&message))?,
            Format::Tsv => message_tsv(&mut out, &message, &edits, &envelope)?,
            Format::Json => {
                out.write_all(message_json(&message, &edits, &envelope, identity.as_ref()).as_bytes())?
            }
        }
        out.flush()?;
        Ok(if edits.unparsed.is_empty() { 0 } else { 1 })
    }
}

/// One envelope address, before and after: `MAIL FROM` or `RCPT TO`, the
/// kind, the path before, the path after, the rule.
type EnvelopeRow = (&'static str, AddressKind, String, String, Reason);

fn envelope_rows(
    rewriter: &Rewriter<'_>,
    mailer: MailerRules,
    mail_from: Option<&ReversePath>,
    rcpt_to: &[Address],
) -> Result<Vec<EnvelopeRow>, RewriteError> {
    let mut rows = Vec::with_capacity(1 + rcpt_to.len());
    if let Some(sender) = mail_from {
        let (after, reason) = rewriter.rewrite_reverse_path(sender, mailer)?;
        rows.push(("MAIL FROM", AddressKind::EnvelopeSender, sender.to_string(), after.to_string(), reason));
    }
    for recipient in rcpt_to {
        let rewritten = rewriter.rewrite(recipient, AddressKind::EnvelopeRecipient, mailer)?;
        let (before, after) = (format!("<{recipient}>"), format!("<{}>", rewritten.address));
        rows.push(("RCPT TO", AddressKind::EnvelopeRecipient, before, after, rewritten.reason));
    }
    Ok(rows)
}

/// `--message --format tsv`: the envelope rows, then one line per edit.
fn message_tsv(
    out: &mut impl Write,
    message: &[u8],
    edits: &HeaderRewrite,
    envelope: &[EnvelopeRow],
) -> io::Result<()> {
    for (place, kind, before, after, reason) in envelope {
        writeln!(out, "{place}\t{kind}\t{before}\t{after}\t{reason}")?;
    }
    for edit in &edits.edits {
        let reason = match &edit.generics {
            Some(found) => format!("{}; {found}", edit.reason),
            None => edit.reason.to_string(),
        };
        let (before, after) = (edit.before(message), edit.after(message));
        writeln!(out, "{}\t{}\t{before}\t{after}\t{reason}", edit.header, edit.kind)?;
    }
    Ok(())
}

/// A list from the flags if any were given, else from the configuration.
fn flags_or<'a>(flags: &'a [String], config: &'a Option<Vec<String>>) -> &'a [String] {
    match (flags, config) {
        (flags, _) if !flags.is_empty() => flags,
        (_, Some(list)) => list,
        _ => &[],
    }
}

fn masquerade(settings: &Settings, config: &Config, hostname: &str) -> Result<Masquerade, String> {
    let mut masquerade =
        Masquerade::new(hostname).map_err(|e| format!("host name `{hostname}` is not a domain: {e}"))?;
    if let Some(name) = settings.masquerade_as.as_ref().or(config.masquerade_as.as_ref()) {
        masquerade
            .masquerade_as(name)
            .map_err(|e| format!("masquerade name `{name}` is not a domain: {e}"))?;
    }
    for name in flags_or(&settings.masquerade_domains, &config.masquerade_domains) {
        masquerade.add_masquerade_domain(name);
    }
    if let Some(file) = settings.masquerade_domain_file.as_ref().or(config.masquerade_domains_file.as_ref()) {
        masquerade.load_masquerade_domains(&read_class_file(file)?);
    }
    for name in flags_or(&settings.masquerade_exceptions, &config.exceptions) {
        masquerade.add_exception(name);
    }
    for user in flags_or(&settings.exposed_users, &config.exposed_users) {
        masquerade.add_exposed_user(user);
    }
    for name in flags_or(&settings.generics_domains, &config.generics_domains) {
        masquerade.add_generics_domain(name);
    }
    if let Some(file) = settings.generics_domain_file.as_ref().or(config.generics_domains_file.as_ref()) {
        masquerade.load_generics_domains(&read_class_file(file)?);
    }
    for feature in &config.features {
        masquerade.enable(*feature);
    }
    match &config.always_add_domain {
        Some(AlwaysAddDomain::On) => {
            masquerade.enable(smarthost_routing::Feature::AlwaysAddDomain);
        }
        Some(AlwaysAddDomain::As(name)) => {
            masquerade
                .always_add_domain_as(name)
                .map_err(|e| format!("always_add_domain `{name}` is not a domain: {e}"))?;
        }
        None => {}
    }
    for name in &settings.features {
        masquerade.enable(name.parse().map_err(|e| format!("--feature {name}: {e}"))?);
    }
    Ok(masquerade)
}

fn read_class_file(file: &Path) -> Result<String, String> {
    fs::read_to_string(file).map_err(|e| format!("{}: cannot read: {e}", file.display()))
}

fn read_message(file: &Path) -> Result<Vec<u8>, String> {
    if file == Path::new("-") {
        let mut message = Vec::new();
        io::stdin()
            .lock()
            .read_to_end(&mut message)
            .map_err(|e| format!("cannot read standard input: {e}"))?;
        return Ok(message);
    }
    fs::read(file).map_err(|e| format!("{}: cannot read the message: {e}", file.display()))
}

/// `--mail-from`: `<>`, `<addr>` or a bare `addr`.
fn parse_reverse_path(text: &str) -> Result<ReversePath, String> {
    let path = if text.starts_with('<') { text.to_string() } else { format!("<{text}>") };
    ReversePath::parse(&path, ParseOptions { smtputf8: true })
        .map(|parsed| parsed.path)
        .map_err(|e| format!("--mail-from {text}: {e}"))
}

/// `--rcpt`: `<addr>` or a bare `addr`.
fn parse_recipient(text: &str) -> Result<Address, String> {
    let path = if text.starts_with('<') { text.to_string() } else { format!("<{text}>") };
    let parsed = ForwardPath::parse(&path, ParseOptions { smtputf8: true })
        .map_err(|e| format!("--rcpt {text}: {e}"))?;
    Ok(match parsed.path {
        ForwardPath::Postmaster => {
            Address::parse("postmaster", ParseOptions::default()).expect("a valid local part")
        }
        ForwardPath::Address(address) => address,
    })
}

/// One kind's answer for one address, or the error that stopped it.
type Answer = Result<KindAnswer, String>;

/// One kind's answer for one address.
struct KindAnswer {
    /// The input with its addresses rewritten.
    text: String,
    /// Why, in words.
    why: String,
}

/// Rewrites `given` as each of the four kinds, as `rewrite --format tsv`
/// prints it: the input, then `ES`, `HS`, `ER` and `HR`, TAB-separated
/// (`*error*` for a kind whose rewriting failed).
///
/// ```
/// use smarthost_routing::{LocalNames, MailerRules, Masquerade, Rewriter};
/// let local = LocalNames::new("mail.internal.example.com");
/// let mut config = Masquerade::new("mail.internal.example.com")?;
/// config.masquerade_as("example.com")?;
/// let rewriter = Rewriter::new(&local, &config);
/// assert_eq!(
///     smarthost::rewrite::tsv_row(&rewriter, MailerRules::Smtp, "joe"),
///     "joe\tjoe@mail.internal.example.com\tjoe@example.com\tjoe@mail.internal.example.com\tjoe@mail.internal.example.com",
/// );
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn tsv_row(rewriter: &Rewriter<'_>, mailer: MailerRules, given: &str) -> String {
    let mut row = given.to_string();
    for kind in AddressKind::ALL {
        row.push('\t');
        match rewriter.rewrite_header_value(given.as_bytes(), kind, mailer) {
            Ok(edits) => row.push_str(&String::from_utf8_lossy(&edits.apply(given.as_bytes()))),
            Err(_) => row.push_str("*error*"),
        }
    }
    row
}

struct Printer<'s, W: Write> {
    rewriter: Rewriter<'s>,
    mailer: MailerRules,
    format: Format,
    out: W,
    count: usize,
    status: u8,
}

impl<W: Write> Printer<'_, W> {
    fn one(&mut self, given: &str) -> io::Result<()> {
        self.count += 1;
        let mut answers = Vec::with_capacity(4);
        let mut unparsed = Vec::new();
        for kind in AddressKind::ALL {
            match self.rewriter.rewrite_header_value(given.as_bytes(), kind, self.mailer) {
                Ok(edits) => {
                    if kind == AddressKind::EnvelopeSender {
                        unparsed = not_addresses(given, &edits);
                    }
                    let text = String::from_utf8_lossy(&edits.apply(given.as_bytes())).into_owned();
                    answers.push(Ok(KindAnswer { why: self.why(given, kind, &edits), text }));
                }
                Err(error) => {
                    eprintln!("smarthost: {given}: {} ({kind}): {error}", kind.words());
                    self.status = 2;
                    answers.push(Err(error.to_string()));
                }
            }
        }
        for note in &unparsed {
            eprintln!("smarthost: {given}: {note}; left as it is");
            self.status = self.status.max(1);
        }
        match self.format {
            Format::Tsv => self.tsv(given, &answers),
            Format::Text => self.text(given, &answers, &unparsed),
            Format::Json => self.json(given, &answers, &unparsed),
        }
    }

    fn tsv(&mut self, given: &str, answers: &[Answer]) -> io::Result<()> {
        self.out.write_all(given.as_bytes())?;
        for answer in answers {
            let text = answer.as_ref().map_or("*error*", |a| a.text.as_str());
            write!(self.out, "\t{text}")?;
        }
        self.out.write_all(b"\n")
    }

    fn text(&mut self, given: &str, answers: &[Answer], unparsed: &[String]) -> io::Result<()> {
        writeln!(self.out, "{given}")?;
        for (kind, answer) in AddressKind::ALL.iter().zip(answers) {
            let (flags, words) = (kind.tryflags(), kind.words());
            match answer {
                Ok(answer) => writeln!(self.out, "  {flags} {words:<19}{}  ({})", answer.text, answer.why)?,
                Err(error) => writeln!(self.out, "  {flags} {words:<19}*error*  ({error})")?,
            }
        }
        for note in unparsed {
            writeln!(self.out, "  note: {note}; left as it is")?;
        }
        Ok(())
    }

    fn json(&mut self, given: &str, answers: &[Answer], unparsed: &[String]) -> io::Result<()> {
        let mut object = format!("{{\"address\":{}", json_string(given));
        for (key, answer) in JSON_KEYS.iter().zip(answers) {
            let text = answer.as_ref().ok().map(|a| a.text.as_str());
            let _ = write!(object, ",\"{key}\":{}", json_option(text));
        }
        object.push_str(",\"reasons\":{");
        for (n, (key, answer)) in JSON_KEYS.iter().zip(answers).enumerate() {
            let why = match answer {
                Ok(answer) => answer.why.clone(),
                Err(error) => format!("error: {error}"),
            };
            let _ = write!(object, "{}\"{key}\":{}", if n == 0 { "" } else { "," }, json_string(&why));
        }
        let notes: Vec<String> = unparsed.iter().map(|n| json_string(n)).collect();
        let _ = write!(object, "}},\"not_addresses\":[{}]}}", notes.join(","));
        let separator = if self.count == 1 { "\n  " } else { ",\n  " };
        self.out.write_all(separator.as_bytes())?;
        self.out.write_all(object.as_bytes())
    }

    /// The rule behind one kind's answer: for a bare address, the rule the
    /// rewriter applied (even when it changed nothing); otherwise each
    /// change.
    fn why(&self, given: &str, kind: AddressKind, edits: &HeaderRewrite) -> String {
        if let Ok(address) = Address::parse(given.trim(), ParseOptions { smtputf8: true })
            && let Ok(rewritten) = self.rewriter.rewrite(&address, kind, self.mailer)
        {
            return match rewritten.generics {
                Some(found) => format!("{}; {found}", rewritten.reason),
                None => rewritten.reason.to_string(),
            };
        }
        if given.trim() == "<>" {
            return "the null address is left alone".into();
        }
        if edits.edits.is_empty() {
            return "no address changes".into();
        }
        let given = given.as_bytes();
        let changes: Vec<String> = edits
            .edits
            .iter()
            .map(|edit| format!("{} -> {}: {}", edit.before(given), edit.after(given), edit.reason))
            .collect();
        changes.join("; ")
    }
}

const JSON_KEYS: [&str; 4] = ["envelope_sender", "header_sender", "envelope_recipient", "header_recipient"];

/// The elements of `given` that are not addresses, in words.
fn not_addresses(given: &str, edits: &HeaderRewrite) -> Vec<String> {
    edits
        .unparsed
        .iter()
        .map(|unparsed| {
            let text = &given[unparsed.range.clone()];
            match &unparsed.error {
                Some(error) => format!("`{text}` is not an address ({error})"),
                None => format!("`{text}` is not an address"),
            }
        })
        .collect()
}

fn message_json(
    message: &[u8],
    edits: &HeaderRewrite,
    envelope: &[EnvelopeRow],
    identity: Option<&SenderIdentity>,
) -> String {
    let mut json = String::from("{\"envelope\":[");
    for (n, (place, kind, before, after, reason)) in envelope.iter().enumerate() {
        let _ = write!(
            json,
            "{}{{\"command\":{},\"kind\":\"{kind}\",\"before\":{},\"after\":{},\"reason\":{}}}",
            if n == 0 { "" } else { "," },
            json_string(place),
            json_string(before),
            json_string(after),
            json_string(&reason.to_string())
        );
    }
    let identity = identity.map(|i| {
        format!("{{\"address\":{},\"key\":{}}}", json_string(&i.address().to_string()), json_string(i.key()))
    });
    let _ = write!(json, "],\"sender_identity\":{},\"edits\":[", identity.as_deref().unwrap_or("null"));
    for (n, edit) in edits.edits.iter().enumerate() {
        let generics = edit
            .generics
            .as_ref()
            .map(|g| format!("{{\"key\":{},\"value\":{}}}", json_string(&g.key), json_string(&g.value)));
        let _ = write!(
            json,
            "{}{{\"header\":{},\"kind\":\"{}\",\"offset\":{},\"before\":{},\"after\":{},\"reason\":{},\"genericstable\":{},\"folded\":{}}}",
            if n == 0 { "" } else { "," },
            json_string(edit.header),
            edit.kind,
            edit.address.start,
            json_string(&edit.before(message)),
            json_string(&edit.after(message)),
            json_string(&edit.reason.to_string()),
            generics.as_deref().unwrap_or("null"),
            edit.folded
        );
    }
    let notes: Vec<String> = edits
        .unparsed
        .iter()
        .map(|u| json_string(&String::from_utf8_lossy(&message[u.range.clone()])))
        .collect();
    let _ = writeln!(
        json,
        "],\"not_addresses\":[{}],\"message\":{}}}",
        notes.join(","),
        json_string(&String::from_utf8_lossy(&edits.apply(message)))
    );
    json
}
