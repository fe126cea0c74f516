//! Relay policy: may this client connect, send from this sender, send to
//! this recipient? sendmail's check_relay, check_mail and check_rcpt
//! (access.md §5–§10) with the access map, class w, the relay domains
//! (class R), trusted authentication and the reverse-DNS requirement.
//!
//! Sans-IO: the client's address, its verified name and how that name was
//! found (sendmail's `{client_resolve}`) come in as a [`Client`]; DNS
//! answers about the sender's domain come in as a [`SenderDomain`]. The
//! reverse lookup itself is the caller's: [`ClientIdentity::from_answers`]
//! turns the PTR and forward answers into a name and a resolve status, and
//! [`identify_client`] asks the forward question through a
//! [`crate::Resolver`].
//!
//! One [`Policy`] serves one listener (its options hold the listener's
//! reverse-DNS requirement). Calling order, as an SMTP session asks:
//! [`Policy::check_connect`] once, [`Policy::check_sender`] at each `MAIL`,
//! [`Policy::check_recipient`] at each `RCPT`. Under `delay_checks` the
//! first two accept and the connection and sender checks run inside
//! [`Policy::check_recipient`], as in sendmail.

mod canon;
mod connect;
mod rdns;
mod recipient;
mod relay_domains;
mod replies;
mod sender;

use std::borrow::Cow;
use std::fmt;
use std::net::IpAddr;

use crate::{AccessMap, AccessOptions, ForwardPath, LocalNames, ParseOptions, Parsed, ReversePath};

pub use rdns::{ClientIdentity, ClientResolve, identify_client};
pub use relay_domains::{RelayDomains, RelayDomainsError};

/// The relay rules and sendmail features a [`Policy`] follows. `Default`
/// is sendmail's stock configuration with FEATURE(access_db): nothing
/// relays but local names, relay domains, `RELAY` entries and localhost.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PolicyOptions {
    /// This host's canonical name (sendmail's `$j`); its domain part is
    /// class m (`$m`).
    pub hostname: String,
    /// SASL mechanisms whose successful use allows relaying
    /// (TRUST_AUTH_MECH; empty by default, so authentication alone grants
    /// nothing). `"*"` trusts every mechanism.
    pub trust_auth_mechs: Vec<String>,
    /// FEATURE(delay_checks): run the connection and sender checks at RCPT.
    pub delay_checks: DelayChecks,
    /// FEATURE(blocklist_recipients): `To:` REJECT, ERROR, DISCARD entries
    /// refuse recipients.
    pub blocklist_recipients: bool,
    /// FEATURE(relay_entire_domain): the domain of this host (class m)
    /// and its sub-domains are relayed to and for.
    pub relay_entire_domain: bool,
    /// FEATURE(relay_hosts_only): relay domains and `RELAY` entries name
    /// whole hosts, not domains with their sub-domains.
    pub relay_hosts_only: bool,
    /// FEATURE(relay_local_from): a sender in a local domain may relay
    /// (forgeable; not recommended).
    pub relay_local_from: bool,
    /// FEATURE(relay_mail_from): a `From:` RELAY entry for the sender
    /// allows relaying (forgeable; not recommended).
    pub relay_mail_from: RelayMailFrom,
    /// FEATURE(access_db, relaytofulladdress): `To:user@domain RELAY`.
    pub relay_to_full_address: bool,
    /// FEATURE(loose_relay_check): do not strip relay domains to re-check
    /// `user%host@relay.domain`.
    pub loose_relay_check: bool,
    /// How `%` in a local part routes (FEATURE(nopercenthack)).
    pub percent_hack: RoutingChar,
    /// How `!` in a local part routes (FEATURE(nouucp)).
    pub bang_path: RoutingChar,
    /// FEATURE(accept_unqualified_senders).
    pub accept_unqualified_senders: bool,
    /// FEATURE(accept_unresolvable_domains): do not refuse a sender whose
    /// domain does not resolve.
    pub accept_unresolvable_domains: bool,
    /// Refuse clients without reverse DNS (per listener; off by default).
    pub require_rdns: Option<RequireRdns>,
    /// FEATURE(promiscuous_relay): relay for everyone. Never use it.
    pub dangerous_promiscuous_relay: bool,
}

impl PolicyOptions {
    /// The feature names [`PolicyOptions::apply_feature`] knows.
    pub const FEATURES: &'static [&'static str] = &[
        "delay_checks",
        "delay_checks=friend",
        "delay_checks=hater",
        "blocklist_recipients",
        "relay_entire_domain",
        "relay_hosts_only",
        "relay_local_from",
        "relay_mail_from",
        "relay_mail_from=domain",
        "relaytofulladdress",
        "loose_relay_check",
        "nopercenthack",
        "nopercenthack=reject",
        "nouucp",
        "nouucp=reject",
        "accept_unqualified_senders",
        "accept_unresolvable_domains",
        "promiscuous_relay",
        "lookupdotdomain",
        "compressed_ipv6",
        "access_db=sendmail",
    ];

    /// Turns on a sendmail feature by its `FEATURE()` name, `name` or
    /// `name=argument` (`delay_checks=friend`, `nouucp=reject`). The
    /// access_db arguments `lookupdotdomain` and `relaytofulladdress` are
    /// features of their own; `compressed_ipv6` is the
    /// UseCompressedIPv6Addresses option; `access_db=sendmail` reads the
    /// access map exactly as sendmail without arguments does (no `SKIP`,
    /// IPv6 keys only as written).
    ///
    /// ```
    /// use smarthost_routing::{AccessOptions, DelayChecks, PolicyOptions};
    /// let (mut policy, mut access) = (PolicyOptions::default(), AccessOptions::default());
    /// policy.apply_feature(&mut access, "delay_checks=friend")?;
    /// policy.apply_feature(&mut access, "lookupdotdomain")?;
    /// assert_eq!(policy.delay_checks, DelayChecks::Friend);
    /// assert!(access.lookup_dot_domain);
    /// assert!(policy.apply_feature(&mut access, "open_relay").is_err());
    /// # Ok::<(), String>(())
    /// ```
    pub fn apply_feature(&mut self, access: &mut AccessOptions, feature: &str) -> Result<(), String> {
        let (name, argument) = match feature.split_once('=') {
            Some((name, argument)) => (name.trim(), Some(argument.trim())),
            None => (feature.trim(), None),
        };
        let routing_char = |argument: Option<&str>| match argument {
            None | Some("nospecial") => Ok(RoutingChar::Plain),
            Some("reject") => Ok(RoutingChar::Remote),
            Some(other) => Err(format!("feature `{name}` takes `reject` or nothing, not `{other}`")),
        };
        match (name, argument) {
            ("delay_checks", None) => self.delay_checks = DelayChecks::On,
            ("delay_checks", Some("friend")) => self.delay_checks = DelayChecks::Friend,
            ("delay_checks", Some("hater")) => self.delay_checks = DelayChecks::Hater,
            ("blocklist_recipients" | "blacklist_recipients", None) => self.blocklist_recipients = true,
            ("relay_entire_domain", None) => self.relay_entire_domain = true,
            ("relay_hosts_only", None) => self.relay_hosts_only = true,
            ("relay_local_from", None) => self.relay_local_from = true,
            ("relay_mail_from", None) => self.relay_mail_from = RelayMailFrom::Address,
            ("relay_mail_from", Some("domain")) => self.relay_mail_from = RelayMailFrom::Domain,
            ("relaytofulladdress", None) => self.relay_to_full_address = true,
            ("loose_relay_check", None) => self.loose_relay_check = true,
            ("nopercenthack", argument) => self.percent_hack = routing_char(argument)?,
            ("nouucp", argument) => self.bang_path = routing_char(argument)?,
            ("accept_unqualified_senders", None) => self.accept_unqualified_senders = true,
            ("accept_unresolvable_domains", None) => self.accept_unresolvable_domains = true,
            ("promiscuous_relay", None) => self.dangerous_promiscuous_relay = true,
            ("lookupdotdomain", None) => access.lookup_dot_domain = true,
            ("compressed_ipv6", None) => access.compressed_ipv6 = true,
            ("access_db", Some("sendmail")) => {
                access.skip = false;
                access.normalise_ipv6_keys = false;
            }
            _ => {
                return Err(format!("unknown feature `{feature}`; known: {}", Self::FEATURES.join(", ")));
            }
        }
        Ok(())
    }
}

/// FEATURE(delay_checks) and its argument.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DelayChecks {
    /// Connection and sender checks run when they happen.
    #[default]
    Off,
    /// They run at RCPT, after the recipient's own checks.
    On,
    /// As `On`, but a recipient with a `Spam:` FRIEND entry skips them.
    Friend,
    /// As `On`, but they run only for recipients with a `Spam:` HATER entry.
    Hater,
}

/// FEATURE(relay_mail_from) and its argument.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RelayMailFrom {
    /// Off.
    #[default]
    Off,
    /// A `From:` entry for the full sender address.
    Address,
    /// Also one for the sender's domain (`FEATURE(relay_mail_from, domain)`).
    Domain,
}

/// What a routing character (`%`, `!`) in a recipient's local part means.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RoutingChar {
    /// It routes (sendmail's default): `user%other@here` is `user@other`,
    /// re-checked after a local or relay domain is stripped.
    #[default]
    Route,
    /// It is an ordinary character (`nopercenthack` / `nouucp`).
    Plain,
    /// It marks the address as remote, so it needs relay permission
    /// (`nopercenthack` / `nouucp` with `reject`).
    Remote,
}

/// The reverse-DNS requirement of a listener.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RequireRdns {
    /// Also require that the PTR name resolves back to the client's
    /// address (forward-confirmed reverse DNS). Off, a client with any PTR
    /// record passes.
    pub forward_confirm: bool,
}

/// The connecting client, as the policy needs it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Client<'a> {
    /// Its IP address; `None` for a local submission (sendmail `-bs`),
    /// which may always relay.
    pub addr: Option<IpAddr>,
    /// Its name from reverse DNS (sendmail's `{client_name}`); `None` when
    /// it has none, in which case checks use `[address]`, as sendmail does.
    pub name: Option<&'a str>,
    /// How the name was found (sendmail's `{client_resolve}`).
    pub resolve: ClientResolve,
    /// The SMTP AUTH identity, once authentication succeeded.
    pub auth: Option<Authenticated<'a>>,
}

/// A successful SMTP AUTH.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Authenticated<'a> {
    /// The authenticated user (`{auth_authen}`).
    pub user: &'a str,
    /// The SASL mechanism used (`{auth_type}`), e.g. `PLAIN`.
    pub mechanism: &'a str,
}

impl<'a> Client<'a> {
    /// A client at `addr` with the name reverse DNS gave, verified.
    pub fn new(addr: IpAddr, name: Option<&'a str>) -> Self {
        let resolve = if name.is_some() { ClientResolve::Ok } else { ClientResolve::Fail };
        Self { addr: Some(addr), name, resolve, auth: None }
    }

    /// A local submission: no address.
    pub fn local() -> Self {
        Self::default()
    }

    /// The name checks use: the PTR name, else `[address]`.
    pub fn name_or_literal(&self, compressed_ipv6: bool) -> Option<String> {
        match (self.name, self.addr) {
            (Some(name), _) => Some(name.to_string()),
            (None, Some(addr)) => Some(format!("[{}]", crate::client_addr_text(addr, compressed_ipv6))),
            (None, None) => None,
        }
    }
}

/// The MAIL FROM of a transaction, with what DNS said about its domain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mail<'a> {
    /// The sender.
    pub sender: &'a ReversePath,
    /// Whether the sender's domain resolves.
    pub domain: SenderDomain,
}

/// What DNS says about the sender's domain (check_mail's `resolve` map).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SenderDomain {
    /// Not looked up: treated as resolving (the `policy` command's case).
    #[default]
    Unchecked,
    /// It has MX or address records.
    Resolves,
    /// The lookup failed for now: `451 4.1.8`.
    TempFail,
    /// It does not exist: `553 5.1.8`.
    NotFound,
}

/// What to do with a client, sender or recipient.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Verdict {
    /// Accept: the recipient is ours (local, a relay domain, unqualified),
    /// or the connection or sender passed.
    Accept,
    /// Accept for relaying: the client may relay (a `RELAY` client,
    /// localhost, trusted authentication).
    Relay,
    /// Refuse permanently (5xx).
    Reject,
    /// Refuse for now (4xx).
    Defer,
    /// Accept and silently drop the whole message.
    Discard,
}

impl Verdict {
    /// `accept`, `relay`, `reject`, `defer` or `discard`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Accept => "accept",
            Self::Relay => "relay",
            Self::Reject => "reject",
            Self::Defer => "defer",
            Self::Discard => "discard",
        }
    }

    /// Whether the item is refused (reject or defer).
    pub fn is_refusal(self) -> bool {
        matches!(self, Self::Reject | Self::Defer)
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The SMTP step whose check decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Stage {
    /// The connection (check_relay).
    Connect,
    /// MAIL FROM (check_mail).
    Sender,
    /// RCPT TO (check_rcpt).
    Recipient,
}

impl Stage {
    /// `connect`, `sender` or `recipient`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Connect => "connect",
            Self::Sender => "sender",
            Self::Recipient => "recipient",
        }
    }
}

/// An SMTP reply: code, enhanced status code and text. The text is
/// complete: it carries sendmail's `<address>... ` prefix when the code is
/// one that gets it (050, 250, 252, 450, 550, 553; dsn.md §4.4), except on
/// the `Ok` of an accepted item (dsn.md §3.3).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PolicyReply {
    /// The reply code, e.g. 550.
    pub code: u16,
    /// The enhanced status code (RFC 3463) as class, subject, detail.
    pub enhanced: (u8, u16, u16),
    /// The text after the enhanced code.
    pub text: Cow<'static, str>,
}

impl PolicyReply {
    /// A reply; `address` (`<user@example.net>`) is put in front of the
    /// text when the code is one sendmail prefixes.
    ///
    /// ```
    /// use smarthost_routing::PolicyReply;
    /// let reply = PolicyReply::new(550, (5, 7, 1), "Relaying denied", Some("<u@far.example>"));
    /// assert_eq!(reply.to_string(), "550 5.7.1 <u@far.example>... Relaying denied");
    /// let reply = PolicyReply::new(451, (4, 3, 0), "Try later", Some("<u@far.example>"));
    /// assert_eq!(reply.to_string(), "451 4.3.0 Try later");
    /// ```
    pub fn new(code: u16, enhanced: (u8, u16, u16), text: &str, address: Option<&str>) -> Self {
        let text = match address {
            Some(address) if has_prefix(code) => format!("{address}... {text}"),
            _ => text.to_string(),
        };
        Self { code, enhanced, text: Cow::Owned(text) }
    }

    /// [`PolicyReply::new`] for a fixed text, which is not copied when no
    /// prefix goes in front of it.
    pub(crate) fn fixed(
        code: u16,
        enhanced: (u8, u16, u16),
        text: &'static str,
        address: Option<&str>,
    ) -> Self {
        match address {
            Some(address) if has_prefix(code) => {
                Self { code, enhanced, text: Cow::Owned(format!("{address}... {text}")) }
            }
            _ => Self { code, enhanced, text: Cow::Borrowed(text) },
        }
    }

    /// The enhanced status code as text, e.g. `5.7.1`.
    pub fn enhanced_text(&self) -> String {
        let (class, subject, detail) = self.enhanced;
        format!("{class}.{subject}.{detail}")
    }
}

impl fmt::Display for PolicyReply {
    /// `550 5.7.1 text`, one line as sent (without CRLF).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (class, subject, detail) = self.enhanced;
        write!(f, "{} {class}.{subject}.{detail} {}", self.code, self.text)
    }
}

/// Whether sendmail puts the `<address>... ` prefix on replies with `code`.
fn has_prefix(code: u16) -> bool {
    matches!(code, 50 | 250 | 252 | 450 | 550 | 553)
}

/// Why a check decided as it did. [`PolicyReason::name`] is the word in log
/// tokens such as `reject=rdns_missing`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PolicyReason {
    /// Nothing objected.
    NoObjection,
    /// Under delay_checks, this check runs at RCPT.
    Delayed,
    /// An access map entry decided.
    Access {
        /// The key found (lower case, with its tag).
        key: String,
        /// The value as stored.
        value: String,
    },
    /// The access map could not be read (a `-T<TMPF>` temporary failure).
    AccessUnavailable(String),
    /// No client address: a local submission.
    LocalSubmission,
    /// The client is 127.0.0.1 or ::1.
    Loopback,
    /// The client's address begins with this relay-domains entry.
    RelayClientAddr(String),
    /// The client's address is one of this host's (`[addr]` in class w).
    LocalClientAddr,
    /// The client's name is one of this host's names.
    LocalClientName,
    /// The client's name is in, or under, this relay domain (or class m).
    RelayClientName(String),
    /// The client authenticated with a trusted mechanism.
    TrustedAuth {
        /// The authenticated user.
        user: String,
        /// The mechanism.
        mechanism: String,
    },
    /// relay_local_from or relay_mail_from allowed it.
    RelayFrom,
    /// The recipient's domain is one of this host's names (or class m).
    LocalRecipient,
    /// The recipient's domain is this relay domain, or under it.
    RelayDomain(String),
    /// The recipient is unqualified (`postmaster`, `user`): local.
    Unqualified,
    /// Nothing allows relaying to this recipient.
    RelayDenied,
    /// Relaying depends on the client's name, whose PTR lookup failed for now.
    RelayPtrTempFail,
    /// Relaying depends on the client's name, which may be forged.
    RelayPtrForged,
    /// Relaying depends on the client's name, which it has not got.
    RelayPtrMissing,
    /// The client has no PTR record and the listener requires one.
    RdnsMissing,
    /// The client's PTR lookup failed for now.
    RdnsTempFail,
    /// The client's PTR name does not resolve back to it.
    RdnsForged,
    /// The null sender, which is always accepted.
    NullSender,
    /// `user@localhost` from a client that is not local.
    RealDomainRequired,
    /// An unqualified sender from a network client.
    DomainRequired,
    /// The sender's domain did not resolve, for now.
    SenderDomainTempFail,
    /// The sender's domain does not exist.
    SenderDomainMissing,
    /// An empty address.
    UserAddressRequired,
    /// `a@b@c`, or a host part that is not a host name.
    InvalidRoute,
    /// The address does not parse.
    BadAddress(String),
    /// delay_checks with friend: the recipient's `Spam:` FRIEND entry.
    SpamFriend,
    /// delay_checks with hater: the recipient has no `Spam:` HATER entry.
    NotSpamHater,
    /// FEATURE(promiscuous_relay).
    Promiscuous,
}

impl PolicyReason {
    /// A short lower-case name for log lines.
    pub fn name(&self) -> &'static str {
        match self {
            Self::NoObjection => "ok",
            Self::Delayed => "delayed",
            Self::Access { .. } => "access",
            Self::AccessUnavailable(_) => "access_unavailable",
            Self::LocalSubmission => "local_submission",
            Self::Loopback => "loopback",
            Self::RelayClientAddr(_) => "relay_client_addr",
            Self::LocalClientAddr => "local_client_addr",
            Self::LocalClientName => "local_client_name",
            Self::RelayClientName(_) => "relay_client_name",
            Self::TrustedAuth { .. } => "trusted_auth",
            Self::RelayFrom => "relay_mail_from",
            Self::LocalRecipient => "local_recipient",
            Self::RelayDomain(_) => "relay_domain",
            Self::Unqualified => "unqualified",
            Self::RelayDenied => "relay_denied",
            Self::RelayPtrTempFail => "relay_ptr_tempfail",
            Self::RelayPtrForged => "relay_ptr_forged",
            Self::RelayPtrMissing => "relay_ptr_missing",
            Self::RdnsMissing => "rdns_missing",
            Self::RdnsTempFail => "rdns_tempfail",
            Self::RdnsForged => "rdns_forged",
            Self::NullSender => "null_sender",
            Self::RealDomainRequired => "real_domain_required",
            Self::DomainRequired => "domain_required",
            Self::SenderDomainTempFail => "sender_domain_tempfail",
            Self::SenderDomainMissing => "sender_domain_missing",
            Self::UserAddressRequired => "user_address_required",
            Self::InvalidRoute => "invalid_route",
            Self::BadAddress(_) => "bad_address",
            Self::SpamFriend => "spam_friend",
            Self::NotSpamHater => "not_spam_hater",
            Self::Promiscuous => "promiscuous_relay",
        }
    }
}

impl fmt::Display for PolicyReason {
    /// A sentence for the `policy` command's text output.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoObjection => f.write_str("no check objected"),
            Self::Delayed => f.write_str("checked at RCPT (delay_checks)"),
            Self::Access { key, value } => write!(f, "access map entry `{key}` is `{value}`"),
            Self::AccessUnavailable(error) => write!(f, "the access map could not be read: {error}"),
            Self::LocalSubmission => f.write_str("local submission (no client address)"),
            Self::Loopback => f.write_str("the client is localhost"),
            Self::RelayClientAddr(entry) => {
                write!(f, "the client address is under relay domain entry `{entry}`")
            }
            Self::LocalClientAddr => f.write_str("the client address is one of this host's"),
            Self::LocalClientName => f.write_str("the client name is one of this host's names"),
            Self::RelayClientName(entry) => write!(f, "the client name is under relay domain `{entry}`"),
            Self::TrustedAuth { user, mechanism } => {
                write!(f, "authenticated as {user} with {mechanism}, a trusted mechanism")
            }
            Self::RelayFrom => f.write_str("the sender may relay (relay_local_from / relay_mail_from)"),
            Self::LocalRecipient => f.write_str("the recipient's domain is local"),
            Self::RelayDomain(entry) => write!(f, "the recipient's domain is under relay domain `{entry}`"),
            Self::Unqualified => f.write_str("an unqualified recipient is local"),
            Self::RelayDenied => f.write_str("neither the recipient nor the client allows relaying"),
            Self::RelayPtrTempFail => f.write_str("the client's PTR record could not be looked up"),
            Self::RelayPtrForged => f.write_str("the client's PTR name does not resolve back to it"),
            Self::RelayPtrMissing => f.write_str("the client has no PTR record"),
            Self::RdnsMissing => f.write_str("reverse DNS required: the client has no PTR record"),
            Self::RdnsTempFail => f.write_str("reverse DNS required: the PTR lookup failed for now"),
            Self::RdnsForged => {
                f.write_str("forward-confirmed reverse DNS required: the name does not match")
            }
            Self::NullSender => f.write_str("the null sender is always accepted"),
            Self::RealDomainRequired => f.write_str("a localhost sender from a remote client"),
            Self::DomainRequired => f.write_str("an unqualified sender from a network client"),
            Self::SenderDomainTempFail => f.write_str("the sender's domain does not resolve for now"),
            Self::SenderDomainMissing => f.write_str("the sender's domain does not exist"),
            Self::UserAddressRequired => f.write_str("the address is empty"),
            Self::InvalidRoute => f.write_str("the address routes through more than one host"),
            Self::BadAddress(error) => write!(f, "the address does not parse: {error}"),
            Self::SpamFriend => f.write_str("the recipient's Spam: entry is FRIEND"),
            Self::NotSpamHater => f.write_str("the recipient has no Spam: HATER entry"),
            Self::Promiscuous => f.write_str("promiscuous_relay relays for everyone"),
        }
    }
}

/// One decision: what to do, the reply to send, which check decided and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checked {
    /// Which SMTP step's check decided (under delay_checks a recipient's
    /// refusal can come from the connection or sender checks).
    pub stage: Stage,
    /// What to do.
    pub verdict: Verdict,
    /// The reply to send.
    pub reply: PolicyReply,
    /// Why.
    pub reason: PolicyReason,
    /// A `QUARANTINE:` entry matched: hold the message with this reason.
    pub quarantine: Option<String>,
}

impl Checked {
    /// The greppable token for log lines: `reject=rdns_missing`,
    /// `relay=trusted_auth`, `accept=local_recipient`.
    pub fn log_token(&self) -> String {
        format!("{}={}", self.verdict, self.reason.name())
    }
}

/// The decisions for one whole transaction, as [`Policy::evaluate`] makes them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Evaluation {
    /// The connection check.
    pub connect: Checked,
    /// The sender check (after an accepted connection).
    pub sender: Option<Checked>,
    /// One decision per recipient, in order. When the connection or the
    /// sender was refused, each recipient carries that refusal: it is what
    /// the session answers to every later command.
    pub recipients: Vec<Checked>,
}

/// The relay policy of one listener.
///
/// ```
/// use smarthost_maps::{SourceOptions, TextMap};
/// use smarthost_routing::{AccessMap, AccessOptions, Client, LocalNames, Policy, PolicyOptions, RelayDomains, Verdict};
///
/// let (map, _) = TextMap::from_source(b"Connect:192.168.1 RELAY\n", &SourceOptions::default());
/// let local = LocalNames::new("mail.example.com");
/// let options = PolicyOptions { hostname: "mail.example.com".into(), ..PolicyOptions::default() };
/// let mut relay_domains = RelayDomains::new();
/// relay_domains.add("partner.example");
/// let policy = Policy::new(&local, &options)
///     .relay_domains(&relay_domains)
///     .access(AccessMap::new(&map, AccessOptions::default()));
///
/// let outside = Client::new("203.0.113.5".parse()?, Some("outside.example"));
/// let lan = Client::new("192.168.1.77".parse()?, None);
/// let run = |client, rcpt| policy.evaluate(&client, "<>", &[rcpt]).recipients.remove(0);
/// assert_eq!(run(outside, "<user@mail.example.com>").verdict, Verdict::Accept);
/// assert_eq!(run(outside, "<user@x.partner.example>").verdict, Verdict::Accept);
/// assert_eq!(run(lan, "<someone@far.example>").verdict, Verdict::Relay);
/// let denied = run(outside, "<user%evil.example@mail.example.com>");
/// assert_eq!(denied.reply.to_string(), "550 5.7.1 <user%evil.example@mail.example.com>... Relaying denied");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, Debug)]
pub struct Policy<'a> {
    local: &'a LocalNames,
    options: &'a PolicyOptions,
    relay_domains: Option<&'a RelayDomains>,
    access: Option<AccessMap<'a>>,
}

impl<'a> Policy<'a> {
    /// A policy with this host's names (class w) and `options`; no relay
    /// domains and no access map until they are added.
    pub fn new(local: &'a LocalNames, options: &'a PolicyOptions) -> Self {
        Self { local, options, relay_domains: None, access: None }
    }

    /// Adds the relay domains (class R: RELAY_DOMAIN, the relay-domains file).
    pub fn relay_domains(mut self, relay_domains: &'a RelayDomains) -> Self {
        self.relay_domains = Some(relay_domains);
        self
    }

    /// Adds the access map (FEATURE(access_db)).
    pub fn access(mut self, access: AccessMap<'a>) -> Self {
        self.access = Some(access);
        self
    }

    /// The options.
    pub fn options(&self) -> &PolicyOptions {
        self.options
    }

    /// The connection check (check_relay, access.md §5): `Connect:` entries
    /// for the client's name, then its address; then the reverse-DNS
    /// requirement. Under delay_checks it accepts and runs at RCPT.
    ///
    /// A refusal is for the session to present: sendmail greets as usual
    /// and answers every later command but QUIT, HELO, EHLO, NOOP and RSET
    /// with it (a 421 closes at once); the spec's \[REC\] answers the
    /// greeting with `554 5.7.1` and then accepts only QUIT.
    pub fn check_connect(&self, client: &Client<'_>) -> Checked {
        if self.options.delay_checks != DelayChecks::Off {
            return replies::connect_ok(PolicyReason::Delayed);
        }
        self.connect_checks(client, None)
    }

    /// The sender check (check_mail, access.md §6). Under delay_checks it
    /// accepts and runs at RCPT.
    pub fn check_sender(&self, client: &Client<'_>, mail: &Mail<'_>) -> Checked {
        if self.options.delay_checks != DelayChecks::Off {
            return replies::sender_ok(PolicyReason::Delayed);
        }
        self.sender_checks(client, mail, None).into_checked()
    }

    /// The recipient check and the relay decision (check_rcpt, access.md
    /// §7, §8), for a recipient as parsed from `RCPT TO:`.
    pub fn check_recipient(
        &self,
        client: &Client<'_>,
        mail: &Mail<'_>,
        rcpt: &Parsed<ForwardPath>,
    ) -> Checked {
        self.recipient_checks(client, mail, &rcpt.path)
    }

    /// [`Policy::check_recipient`] for the text of the path (`<user@domain>`;
    /// the brackets may be left out): a path that does not parse gets the
    /// reply sendmail gives it (`553 5.1.3 Invalid route address` for
    /// `a@b@c`).
    pub fn check_recipient_text(&self, client: &Client<'_>, mail: &Mail<'_>, given: &str) -> Checked {
        match ForwardPath::parse(&bracketed(given), utf8()) {
            Ok(parsed) => self.check_recipient(client, mail, &parsed),
            Err(error) => replies::bad_recipient(given, &error),
        }
    }

    /// A whole transaction from text: the connection, `MAIL FROM:<sender>`,
    /// then each `RCPT TO:`. What a session does, in one call (for tests
    /// and the `policy` command); the sender's domain counts as resolving.
    pub fn evaluate(&self, client: &Client<'_>, sender: &str, recipients: &[&str]) -> Evaluation {
        let connect = self.check_connect(client);
        if connect.verdict.is_refusal() {
            let recipients = recipients.iter().map(|_| connect.clone()).collect();
            return Evaluation { connect, sender: None, recipients };
        }
        let parsed = ReversePath::parse(&bracketed(sender), utf8());
        let (sender_checked, path) = match parsed {
            Ok(parsed) => {
                let mail = Mail { sender: &parsed.path, domain: SenderDomain::Unchecked };
                (self.check_sender(client, &mail), Some(parsed.path))
            }
            Err(error) => (replies::bad_sender(sender, &error), None),
        };
        let Some(path) = path.filter(|_| !sender_checked.verdict.is_refusal()) else {
            let recipients = recipients.iter().map(|_| sender_checked.clone()).collect();
            return Evaluation { connect, sender: Some(sender_checked), recipients };
        };
        let mail = Mail { sender: &path, domain: SenderDomain::Unchecked };
        let recipients = recipients
            .iter()
            .map(|rcpt| {
                let mut checked = self.check_recipient_text(client, &mail, rcpt);
                if checked.quarantine.is_none() && !checked.verdict.is_refusal() {
                    checked.quarantine =
                        connect.quarantine.clone().or_else(|| sender_checked.quarantine.clone());
                }
                let discarded =
                    connect.verdict == Verdict::Discard || sender_checked.verdict == Verdict::Discard;
                if discarded && !checked.verdict.is_refusal() {
                    checked.verdict = Verdict::Discard;
                }
                checked
            })
            .collect();
        Evaluation { connect, sender: Some(sender_checked), recipients }
    }

    fn compressed_ipv6(&self) -> bool {
        self.access.is_some_and(|a| a.options().compressed_ipv6)
    }
}

/// Paths parse with SMTPUTF8 allowed: policy judges addresses, and the
/// session has already refused UTF-8 without SMTPUTF8.
fn utf8() -> ParseOptions {
    ParseOptions { smtputf8: true }
}

/// `<text>` unless it already has its brackets.
fn bracketed(text: &str) -> String {
    let text = text.trim();
    if text.starts_with('<') { text.to_string() } else { format!("<{text}>") }
}

#[cfg(test)]
mod tests;
