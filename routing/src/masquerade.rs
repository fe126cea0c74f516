//! Masquerading and genericstable: sendmail's rulesets 93 (`MasqHdr`) and 94
//! (`MasqEnv`) and the per-mailer rules that decide which of them an address
//! goes through (spec masquerade.md §2–§4, maps.md §5).
//!
//! [`Masquerade`] holds the configuration (the m4 macros and features),
//! [`Rewriter`] borrows it with class w and the genericstable for one message
//! and rewrites addresses of the four kinds sendmail's `/tryflags` names:
//! envelope sender (`ES`), header sender (`HS`), envelope recipient (`ER`)
//! and header recipient (`HR`).

mod classes;
mod parts;
#[cfg(test)]
mod tests;

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use smarthost_maps::Map;

use crate::generics::{self, GenericsMatch};
use crate::{Address, AddressError, Domain, LocalNames, Mailer, MailerKind, ParseOptions, ReversePath};
use classes::DomainSet;
pub(crate) use parts::{DomainRef, Parts, parse_plain};

/// The four kinds of address sendmail rewrites differently, named as
/// address-test mode's `/tryflags` names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AddressKind {
    /// `ES`: the envelope sender (`MAIL FROM`).
    EnvelopeSender,
    /// `HS`: an address in a sender header (`From`, `Sender`, `Reply-To`, …).
    HeaderSender,
    /// `ER`: an envelope recipient (`RCPT TO`).
    EnvelopeRecipient,
    /// `HR`: an address in a recipient header (`To`, `Cc`, `Bcc`, …).
    HeaderRecipient,
}

impl AddressKind {
    /// The four kinds in the order of `smarthost rewrite --format tsv`'s columns.
    pub const ALL: [Self; 4] =
        [Self::EnvelopeSender, Self::HeaderSender, Self::EnvelopeRecipient, Self::HeaderRecipient];

    /// sendmail's `/tryflags` letters: `ES`, `HS`, `ER` or `HR`.
    pub fn tryflags(self) -> &'static str {
        match self {
            Self::EnvelopeSender => "ES",
            Self::HeaderSender => "HS",
            Self::EnvelopeRecipient => "ER",
            Self::HeaderRecipient => "HR",
        }
    }

    /// The words for it: `envelope sender`, `header recipient`, …
    pub fn words(self) -> &'static str {
        match self {
            Self::EnvelopeSender => "envelope sender",
            Self::HeaderSender => "header sender",
            Self::EnvelopeRecipient => "envelope recipient",
            Self::HeaderRecipient => "header recipient",
        }
    }

    /// Whether this is a header address (rather than an envelope one).
    pub fn is_header(self) -> bool {
        matches!(self, Self::HeaderSender | Self::HeaderRecipient)
    }

    /// Whether this is a sender address.
    pub fn is_sender(self) -> bool {
        matches!(self, Self::EnvelopeSender | Self::HeaderSender)
    }
}

impl fmt::Display for AddressKind {
    /// The `/tryflags` letters.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.tryflags())
    }
}

impl FromStr for AddressKind {
    type Err = String;

    /// `ES`, `HS`, `ER`, `HR` (any case), or the words with a hyphen
    /// (`header-sender`).
    fn from_str(s: &str) -> Result<Self, String> {
        let kind = match s.to_ascii_lowercase().as_str() {
            "es" | "envelope-sender" => Self::EnvelopeSender,
            "hs" | "header-sender" => Self::HeaderSender,
            "er" | "envelope-recipient" => Self::EnvelopeRecipient,
            "hr" | "header-recipient" => Self::HeaderRecipient,
            _ => {
                return Err(format!(
                    "unknown address kind `{s}`; expected ES, HS, ER or HR (envelope/header sender/recipient)"
                ));
            }
        };
        Ok(kind)
    }
}

/// Whose rewriting rules apply: sendmail gives each mailer its own rulesets
/// (`S=` and `R=` in the `M` line), and the address kinds are treated
/// differently by the SMTP mailers and by the local one (spec §3).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum MailerRules {
    /// `smtp`, `esmtp`, `smtp8`, `dsmtp` and `relay`: what leaves the host.
    /// (The spec gives `relay` the same results as `esmtp`.)
    #[default]
    Smtp,
    /// `local` and `prog`: header senders are masqueraded only when
    /// qualified (or with `always_add_domain`), envelope recipients lose
    /// their domain.
    Local,
}

impl MailerRules {
    /// The rules a route's mailer uses: `local` for local and program
    /// delivery, the SMTP rules otherwise.
    pub fn for_mailer(mailer: &Mailer) -> Self {
        match mailer.kind {
            MailerKind::Local | MailerKind::Prog => Self::Local,
            MailerKind::Smtp | MailerKind::Error => Self::Smtp,
        }
    }

    /// The rules for sendmail's mailer `name` (`esmtp`, `relay`, `local`, …);
    /// `None` for a name sendmail does not define.
    pub fn from_name(name: &str) -> Option<Self> {
        match name.to_ascii_lowercase().as_str() {
            "smtp" | "esmtp" | "smtp8" | "dsmtp" | "relay" | "submission" | "smtps" => Some(Self::Smtp),
            "local" | "prog" => Some(Self::Local),
            _ => None,
        }
    }
}

/// A sendmail `FEATURE()` that changes masquerading or genericstable.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Feature {
    /// `masquerade_envelope`: the envelope sender is masqueraded (and
    /// rewritten by the genericstable) too.
    MasqueradeEnvelope,
    /// `allmasquerade`: header recipients are masqueraded too.
    AllMasquerade,
    /// `masquerade_entire_domain`: class M entries match their sub-domains.
    MasqueradeEntireDomain,
    /// `limited_masquerade`: only class M is masqueraded, not class w.
    LimitedMasquerade,
    /// `generics_entire_domain`: class G entries match their sub-domains.
    GenericsEntireDomain,
    /// `always_add_domain`: the local mailer qualifies unqualified header
    /// addresses too (see [`Masquerade::always_add_domain_as`] for its argument).
    AlwaysAddDomain,
    /// `local_no_masquerade`: the local mailer does not masquerade.
    LocalNoMasquerade,
}

impl Feature {
    /// Every feature, in the order error messages list them.
    pub const ALL: [Self; 7] = [
        Self::MasqueradeEnvelope,
        Self::AllMasquerade,
        Self::MasqueradeEntireDomain,
        Self::LimitedMasquerade,
        Self::GenericsEntireDomain,
        Self::AlwaysAddDomain,
        Self::LocalNoMasquerade,
    ];

    /// sendmail's name for it, as in `FEATURE(`allmasquerade')`.
    pub fn name(self) -> &'static str {
        match self {
            Self::MasqueradeEnvelope => "masquerade_envelope",
            Self::AllMasquerade => "allmasquerade",
            Self::MasqueradeEntireDomain => "masquerade_entire_domain",
            Self::LimitedMasquerade => "limited_masquerade",
            Self::GenericsEntireDomain => "generics_entire_domain",
            Self::AlwaysAddDomain => "always_add_domain",
            Self::LocalNoMasquerade => "local_no_masquerade",
        }
    }

    fn bit(self) -> u8 {
        1 << self as u8
    }
}

impl fmt::Display for Feature {
    /// sendmail's name.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A feature name that is not one of [`Feature::ALL`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown feature `{name}`{hint}; the features that change rewriting are: {}",
    Feature::ALL.map(Feature::name).join(", "))]
pub struct UnknownFeature {
    name: String,
    hint: &'static str,
}

impl FromStr for Feature {
    type Err = UnknownFeature;

    /// sendmail's name, in any case, with `-` accepted for `_`.
    fn from_str(s: &str) -> Result<Self, UnknownFeature> {
        let wanted = s.trim().to_ascii_lowercase().replace('-', "_");
        if let Some(feature) = Self::ALL.into_iter().find(|f| f.name() == wanted) {
            return Ok(feature);
        }
        let hint = match wanted.as_str() {
            "genericstable" => " (the genericstable is enabled by giving its file)",
            "masquerade_exception" => " (MASQUERADE_EXCEPTION is a list of domains, not a feature)",
            "virtusertable" | "mailertable" | "access_db" | "redirect" => {
                " (that feature changes routing, not rewriting)"
            }
            _ => "",
        };
        Err(UnknownFeature { name: s.to_string(), hint })
    }
}

/// The masquerading and genericstable configuration: sendmail's
/// `MASQUERADE_AS`, `MASQUERADE_DOMAIN` (class M), `MASQUERADE_EXCEPTION`
/// (class N), `EXPOSED_USER` (class E), `GENERICS_DOMAIN` (class G) and the
/// features of [`Feature`]. Class w (this host's names) is a
/// [`LocalNames`], given to the [`Rewriter`] beside this.
///
/// Names are compared without regard to case or a trailing dot; `$j` and
/// `$M` are written in lower case (internationalised names as A-labels).
///
/// ```
/// use smarthost_routing::{Feature, Masquerade};
///
/// let mut config = Masquerade::new("mail.internal.example.com")?;
/// config
///     .masquerade_as("example.com")?
///     .add_masquerade_domain("internal.example.com")
///     .add_exposed_user("root")
///     .enable(Feature::AllMasquerade);
/// assert_eq!(config.masquerade_name().unwrap().to_string(), "example.com");
/// assert!(config.is_enabled(Feature::AllMasquerade));
/// # Ok::<(), smarthost_routing::AddressError>(())
/// ```
#[derive(Clone, Debug)]
pub struct Masquerade {
    hostname: Name,
    masquerade_as: Option<Name>,
    domains: DomainSet,
    exceptions: DomainSet,
    exposed: classes::NameSet,
    generics_domains: DomainSet,
    features: u8,
    always_add_domain_as: Option<Name>,
}

/// A configured domain (`$j`, `$M`) and its text, written once.
#[derive(Clone, Debug)]
pub(crate) struct Name {
    pub(crate) domain: Domain,
    pub(crate) text: String,
}

impl Masquerade {
    /// A configuration for the host `hostname` (sendmail's `$j`) with no
    /// masquerading: only unqualified addresses are changed (qualified with
    /// `$j`).
    pub fn new(hostname: &str) -> Result<Self, AddressError> {
        Ok(Self {
            hostname: parse_name(hostname)?,
            masquerade_as: None,
            domains: DomainSet::default(),
            exceptions: DomainSet::default(),
            exposed: classes::NameSet::default(),
            generics_domains: DomainSet::default(),
            features: 0,
            always_add_domain_as: None,
        })
    }

    /// `MASQUERADE_AS`: sets `$M` and turns masquerading on.
    pub fn masquerade_as(&mut self, name: &str) -> Result<&mut Self, AddressError> {
        self.masquerade_as = Some(parse_name(name)?);
        Ok(self)
    }

    /// `MASQUERADE_DOMAIN`: adds a domain to class M.
    pub fn add_masquerade_domain(&mut self, name: &str) -> &mut Self {
        self.domains.insert(name);
        self
    }

    /// `MASQUERADE_DOMAIN_FILE`: adds the names of a class file (names
    /// separated by white space, `#` comment lines); returns how many.
    pub fn load_masquerade_domains(&mut self, text: &str) -> usize {
        self.domains.load(text)
    }

    /// `MASQUERADE_EXCEPTION`: adds a domain to class N; it and its
    /// sub-domains are never masqueraded.
    pub fn add_exception(&mut self, name: &str) -> &mut Self {
        self.exceptions.insert(name);
        self
    }

    /// `MASQUERADE_EXCEPTION_FILE`, like [`Masquerade::load_masquerade_domains`].
    pub fn load_exceptions(&mut self, text: &str) -> usize {
        self.exceptions.load(text)
    }

    /// `EXPOSED_USER`: adds a local part to class E (compared without
    /// regard to case).
    pub fn add_exposed_user(&mut self, user: &str) -> &mut Self {
        let user = user.trim();
        if !user.is_empty() {
            self.exposed.insert(user.to_lowercase());
        }
        self
    }

    /// `EXPOSED_USER_FILE`: user names separated by white space, `#`
    /// comment lines; returns how many it added.
    pub fn load_exposed_users(&mut self, text: &str) -> usize {
        let before = self.exposed.len();
        for word in classes::words(text) {
            self.add_exposed_user(word);
        }
        self.exposed.len() - before
    }

    /// `GENERICS_DOMAIN`: adds a domain to class G, whose addresses the
    /// genericstable rewrites (unqualified addresses always are).
    pub fn add_generics_domain(&mut self, name: &str) -> &mut Self {
        self.generics_domains.insert(name);
        self
    }

    /// `GENERICS_DOMAIN_FILE`, like [`Masquerade::load_masquerade_domains`].
    pub fn load_generics_domains(&mut self, text: &str) -> usize {
        self.generics_domains.load(text)
    }

    /// Turns a feature on.
    pub fn enable(&mut self, feature: Feature) -> &mut Self {
        self.features |= feature.bit();
        self
    }

    /// `FEATURE(`always_add_domain', `name')`: the local mailer qualifies
    /// unqualified header addresses with `name` instead of `$j`; as in
    /// sendmail, such an address is then left alone by masquerading.
    pub fn always_add_domain_as(&mut self, name: &str) -> Result<&mut Self, AddressError> {
        self.always_add_domain_as = Some(parse_name(name)?);
        Ok(self.enable(Feature::AlwaysAddDomain))
    }

    /// Whether a feature is on.
    pub fn is_enabled(&self, feature: Feature) -> bool {
        self.features & feature.bit() != 0
    }

    /// `$j`, this host's canonical name.
    pub fn hostname(&self) -> &Domain {
        &self.hostname.domain
    }

    /// `$M`, when masquerading is on.
    pub fn masquerade_name(&self) -> Option<&Domain> {
        self.masquerade_as.as_ref().map(|name| &name.domain)
    }

    /// Class M, sorted.
    pub fn masquerade_domains(&self) -> Vec<&str> {
        self.domains.sorted()
    }

    /// Class N, sorted.
    pub fn exceptions(&self) -> Vec<&str> {
        self.exceptions.sorted()
    }

    /// Class E, sorted (lower case).
    pub fn exposed_users(&self) -> Vec<&str> {
        let mut users: Vec<&str> = self.exposed.iter().collect();
        users.sort_unstable();
        users
    }

    /// Class G, sorted.
    pub fn generics_domains(&self) -> Vec<&str> {
        self.generics_domains.sorted()
    }

    fn is_exposed(&self, local: &str) -> bool {
        !self.exposed.is_empty() && self.exposed.contains_folded(local)
    }

    fn in_class_m(&self, domain: DomainRef<'_>) -> bool {
        self.domains.matches(domain, self.is_enabled(Feature::MasqueradeEntireDomain))
    }
}

/// Why an address came out as it did, in the words of the spec's rules.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Reason {
    /// Nothing applies: a qualified address whose domain is neither a local
    /// name (class w) nor a masquerade domain (class M), or an address kind
    /// that these rules only qualify.
    Unchanged,
    /// An unqualified address qualified with `$j` (or the
    /// `always_add_domain` argument); no masquerading applies to this kind
    /// or mailer, or `MASQUERADE_AS` is not set.
    Qualified,
    /// The genericstable gave a full address, which is final.
    Generics,
    /// The domain is in class N (`MASQUERADE_EXCEPTION`) or under one of its names.
    Exception,
    /// The local part is in class E (`EXPOSED_USER`): qualified with `$j`
    /// if unqualified, otherwise left alone.
    Exposed,
    /// Masqueraded: the domain is in class M (`MASQUERADE_DOMAIN`).
    MasqueradeDomain,
    /// Masqueraded: the domain is one of this host's names (class w).
    LocalName,
    /// Masqueraded: the address was unqualified.
    MasqueradedUnqualified,
    /// The local mailer delivers to the user: the domain is dropped.
    LocalUser,
    /// An unqualified header address for the local mailer without
    /// `always_add_domain`: left unqualified.
    LocalUnqualified,
    /// The sender identity chosen for the message's recipient
    /// ([`crate::SenderByRecipient`]) replaced it.
    SenderIdentity,
}

impl fmt::Display for Reason {
    /// A short explanation for `smarthost rewrite` and logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Unchanged => "no rule applies",
            Self::Qualified => "qualified with this host's name",
            Self::Generics => "genericstable (a full address is final)",
            Self::Exception => "the domain is a masquerade exception (class N)",
            Self::Exposed => "exposed user (class E)",
            Self::MasqueradeDomain => "masqueraded: a masquerade domain (class M)",
            Self::LocalName => "masqueraded: one of this host's names (class w)",
            Self::MasqueradedUnqualified => "masqueraded: unqualified",
            Self::LocalUser => "local delivery: the user name only",
            Self::LocalUnqualified => "local mailer without always_add_domain: left unqualified",
            Self::SenderIdentity => "sender identity for the recipient",
        })
    }
}

/// What rewriting one address gave.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rewritten {
    /// The address to use (equal to the input when nothing changed).
    pub address: Address,
    /// The rule that decided.
    pub reason: Reason,
    /// The genericstable entry that matched, if one did (its value may
    /// have been only a new local part, masqueraded afterwards).
    pub generics: Option<GenericsMatch>,
}

/// Why an address could not be rewritten. Both are the operator's to fix;
/// the relay defers the message (`451 4.3.0`) rather than send addresses
/// it was told to hide.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RewriteError {
    /// A map (the genericstable, the sender-identity map) could not be read.
    #[error("{table} lookup failed: {source}")]
    Map {
        /// Which table.
        table: &'static str,
        /// The map's error.
        #[source]
        source: smarthost_maps::Error,
    },
    /// A map entry's value is not an address (or a local part, for the
    /// genericstable).
    #[error(
        "{table} entry `{key}`: value `{value}` is not an address: {error}; fix the entry and rebuild the map"
    )]
    BadValue {
        /// Which table.
        table: &'static str,
        /// The key that matched.
        key: String,
        /// The value after `%` substitution.
        value: String,
        /// What is wrong with it.
        error: AddressError,
    },
    /// A map entry's value lacks the domain the table needs.
    #[error("{table} entry `{key}`: value `{value}` has no domain; write the whole address, user@domain")]
    UnqualifiedValue {
        /// Which table.
        table: &'static str,
        /// The key that matched.
        key: String,
        /// The value.
        value: String,
    },
}

/// The masquerading configuration for one message: borrow the relay's
/// current settings, class w and genericstable, rewrite the message's
/// addresses, drop it.
///
/// ```
/// use smarthost_routing::{Address, AddressKind, LocalNames, MailerRules, Masquerade, ParseOptions, Rewriter};
///
/// let local = LocalNames::new("mail.internal.example.com");
/// let mut config = Masquerade::new("mail.internal.example.com")?;
/// config.masquerade_as("example.com")?;
/// let rewriter = Rewriter::new(&local, &config);
///
/// let joe = Address::parse("joe@mail.internal.example.com", ParseOptions::default())?;
/// let header_sender = rewriter.rewrite(&joe, AddressKind::HeaderSender, MailerRules::Smtp)?;
/// assert_eq!(header_sender.address.to_string(), "joe@example.com");
/// // Without FEATURE(masquerade_envelope), MAIL FROM keeps the host name.
/// let envelope_sender = rewriter.rewrite(&joe, AddressKind::EnvelopeSender, MailerRules::Smtp)?;
/// assert_eq!(envelope_sender.address, joe);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy)]
pub struct Rewriter<'c> {
    pub(crate) local: &'c LocalNames,
    pub(crate) config: &'c Masquerade,
    pub(crate) genericstable: Option<&'c dyn Map>,
    pub(crate) identity: Option<&'c crate::SenderIdentity>,
}

impl fmt::Debug for Rewriter<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Rewriter")
            .field("config", self.config)
            .field("genericstable", &self.genericstable.is_some())
            .field("identity", &self.identity)
            .finish_non_exhaustive()
    }
}

/// Where an address stands while ruleset 93 works on it: qualified, or
/// unqualified (sendmail's `*LOCAL*`).
#[derive(Clone, Copy, Debug)]
enum Host<'a> {
    Local,
    Domain(DomainRef<'a>),
}

/// What the rules decided for one address: kept small, since it is
/// returned through every step (the error and the genericstable match are
/// boxed: both are rare).
pub(crate) type Decided<'c> = Result<(Outcome<'c>, Reason, Option<Box<GenericsMatch>>), Box<RewriteError>>;

/// The result of the rules, before it is turned into an address or into
/// the bytes of a header.
#[derive(Debug)]
pub(crate) enum Outcome<'a> {
    /// The address stays as it is.
    Keep,
    /// The local part stays; the domain becomes this one (qualification,
    /// masquerading).
    SetDomain(&'a Name),
    /// The domain is dropped (the local mailer's envelope recipient).
    StripDomain,
    /// A new address (a genericstable result, a sender identity).
    Replace(Address),
    /// A new local part from the genericstable, with this domain.
    ReplaceLocal(Address, &'a Name),
}

impl<'c> Rewriter<'c> {
    /// A rewriter with class w `local`, the configuration `config`, no
    /// genericstable and no sender identity.
    pub fn new(local: &'c LocalNames, config: &'c Masquerade) -> Self {
        Self { local, config, genericstable: None, identity: None }
    }

    /// Uses `map` as the genericstable (keys folded by the map, as makemap
    /// builds it).
    pub fn genericstable(mut self, map: &'c dyn Map) -> Self {
        self.genericstable = Some(map);
        self
    }

    /// Replaces the sender with `identity` (chosen by
    /// [`crate::SenderByRecipient::identity`]): the envelope sender and the
    /// `From`, `Sender` and `Reply-To` addresses it names.
    pub fn sender_identity(mut self, identity: &'c crate::SenderIdentity) -> Self {
        self.identity = Some(identity);
        self
    }

    /// The configuration.
    pub fn config(&self) -> &'c Masquerade {
        self.config
    }

    /// Rewrites `address` as an address of `kind` for a mailer with the
    /// `mailer` rules: what sendmail's `/tryflags KIND` then `/try MAILER
    /// ADDRESS` prints.
    pub fn rewrite(
        &self,
        address: &Address,
        kind: AddressKind,
        mailer: MailerRules,
    ) -> Result<Rewritten, RewriteError> {
        let (outcome, reason, generics) =
            self.outcome(Parts::of(address), kind, mailer, false).map_err(|e| *e)?;
        let address = match outcome {
            Outcome::Keep => address.clone(),
            Outcome::SetDomain(name) => with_domain(&address.quoted_local_part(), &name.text),
            Outcome::StripDomain => strip_domain(address),
            Outcome::Replace(new) => new,
            Outcome::ReplaceLocal(local, name) => with_domain(&local.quoted_local_part(), &name.text),
        };
        Ok(Rewritten { address, reason, generics: generics.map(|found| *found) })
    }

    /// Rewrites the envelope sender: `<>` stays `<>` (a bounce must keep
    /// the null sender); an address is rewritten as
    /// [`AddressKind::EnvelopeSender`], or replaced by the sender identity.
    pub fn rewrite_reverse_path(
        &self,
        path: &ReversePath,
        mailer: MailerRules,
    ) -> Result<(ReversePath, Reason), RewriteError> {
        match path {
            ReversePath::Null => Ok((ReversePath::Null, Reason::Unchanged)),
            ReversePath::Address(address) => {
                let rewritten = self.rewrite(address, AddressKind::EnvelopeSender, mailer)?;
                Ok((ReversePath::Address(rewritten.address), rewritten.reason))
            }
        }
    }

    /// The rules of spec §3 for each mailer and kind, then §4. `is_identity_header`
    /// says the address is in `From`, `Sender` or `Reply-To` and equals
    /// the sender the identity replaces.
    pub(crate) fn outcome(
        &self,
        address: Parts<'_>,
        kind: AddressKind,
        mailer: MailerRules,
        is_identity_header: bool,
    ) -> Decided<'c> {
        if let Some(identity) = self.identity {
            let replace = match kind {
                AddressKind::EnvelopeSender => identity.replaces(address),
                AddressKind::HeaderSender => is_identity_header,
                _ => false,
            };
            if replace {
                let outcome = if address.is(identity.address()) {
                    Outcome::Keep
                } else {
                    Outcome::Replace(identity.address().clone())
                };
                return Ok((outcome, Reason::SenderIdentity, None));
            }
        }
        let config = self.config;
        let host = match address.domain {
            Some(domain) => Host::Domain(domain),
            None => Host::Local,
        };
        let masquerade = match (mailer, kind) {
            (MailerRules::Smtp, AddressKind::HeaderSender) => true,
            (MailerRules::Smtp, AddressKind::HeaderRecipient) => config.is_enabled(Feature::AllMasquerade),
            (MailerRules::Smtp, AddressKind::EnvelopeSender) => {
                config.is_enabled(Feature::MasqueradeEnvelope)
            }
            (MailerRules::Smtp, AddressKind::EnvelopeRecipient) => false,
            (MailerRules::Local, AddressKind::EnvelopeRecipient) => {
                let outcome = if address.domain.is_some() { Outcome::StripDomain } else { Outcome::Keep };
                return Ok((outcome, Reason::LocalUser, None));
            }
            (MailerRules::Local, kind) => {
                // AddDomain: only with always_add_domain, except that the
                // spec (§3) has the envelope sender qualified with $j.
                if let (Host::Local, Some(domain)) = (host, &config.always_add_domain_as) {
                    return Ok((Outcome::SetDomain(domain), Reason::Qualified, None));
                }
                if matches!(host, Host::Local)
                    && kind.is_header()
                    && !config.is_enabled(Feature::AlwaysAddDomain)
                {
                    return Ok((Outcome::Keep, Reason::LocalUnqualified, None));
                }
                !config.is_enabled(Feature::LocalNoMasquerade)
                    && match kind {
                        AddressKind::HeaderSender => true,
                        AddressKind::HeaderRecipient => config.is_enabled(Feature::AllMasquerade),
                        _ => config.is_enabled(Feature::MasqueradeEnvelope),
                    }
            }
        };
        if masquerade {
            self.masq_hdr(address, host)
        } else {
            let (outcome, reason) = self.qualify(host);
            Ok((outcome, reason, None))
        }
    }

    /// `*LOCAL*` becomes `$j`; a qualified address stays.
    fn qualify(&self, host: Host<'_>) -> (Outcome<'c>, Reason) {
        match host {
            Host::Local => (Outcome::SetDomain(&self.config.hostname), Reason::Qualified),
            Host::Domain(_) => (Outcome::Keep, Reason::Unchanged),
        }
    }

    /// Ruleset 93 (`MasqHdr`), spec §4.
    fn masq_hdr(&self, address: Parts<'_>, host: Host<'_>) -> Decided<'c> {
        let config = self.config;
        // 1. The genericstable.
        let mut generics = None;
        let mut new_local = None;
        if let Some(map) = self.genericstable
            && self.is_generics_eligible(host)
        {
            let key_domain = match host {
                Host::Local => Cow::Borrowed(config.hostname.text.as_str()),
                Host::Domain(domain) => domain.text(),
            };
            let qualified = matches!(host, Host::Domain(_));
            if let Some(found) = generics::lookup(map, address, &key_domain, qualified).map_err(Box::new)? {
                let value =
                    Address::parse(&found.value, ParseOptions { smtputf8: true }).map_err(|error| {
                        Box::new(RewriteError::BadValue {
                            table: "genericstable",
                            key: found.key.clone(),
                            value: found.value.clone(),
                            error,
                        })
                    })?;
                if value.domain().is_some() {
                    let outcome = if address.is(&value) { Outcome::Keep } else { Outcome::Replace(value) };
                    return Ok((outcome, Reason::Generics, Some(Box::new(found))));
                }
                new_local = Some(value);
                generics = Some(Box::new(found));
            }
        }
        // An unqualified result goes on as `new@*LOCAL*`.
        Ok(match new_local {
            None => {
                let (outcome, reason) = self.masquerade(address.local, host);
                (outcome, reason, None)
            }
            Some(local) => {
                let (outcome, reason) = self.masquerade(local.local_part(), Host::Local);
                let domain = match outcome {
                    Outcome::SetDomain(domain) => domain,
                    // Not reached: the rules always qualify `*LOCAL*`.
                    _ => &config.hostname,
                };
                (Outcome::ReplaceLocal(local, domain), reason, generics)
            }
        })
    }

    /// Ruleset 93 after the genericstable (spec §4 steps 2–8).
    fn masquerade(&self, local: &str, host: Host<'_>) -> (Outcome<'c>, Reason) {
        let config = self.config;
        // 2. Class N.
        if let Host::Domain(domain) = host
            && config.exceptions.matches(domain, true)
        {
            return (Outcome::Keep, Reason::Exception);
        }
        // 3. No $M: only *LOCAL* is fixed.
        let Some(masquerade_as) = &config.masquerade_as else {
            return self.qualify(host);
        };
        let limited = config.is_enabled(Feature::LimitedMasquerade);
        // 4. Class E.
        if config.is_exposed(local) {
            match host {
                Host::Local => return (Outcome::SetDomain(&config.hostname), Reason::Exposed),
                Host::Domain(domain) if config.in_class_m(domain) => return (Outcome::Keep, Reason::Exposed),
                Host::Domain(domain) if !limited && self.is_local_name(domain) => {
                    return (Outcome::Keep, Reason::Exposed);
                }
                Host::Domain(_) => {}
            }
        }
        // 5.–8. Masquerading.
        let reason = match host {
            Host::Domain(domain) if config.in_class_m(domain) => Reason::MasqueradeDomain,
            Host::Domain(domain) if !limited && self.is_local_name(domain) => Reason::LocalName,
            Host::Local => Reason::MasqueradedUnqualified,
            Host::Domain(_) => return (Outcome::Keep, Reason::Unchanged),
        };
        match host {
            Host::Domain(domain) if domain.is(&masquerade_as.domain) => (Outcome::Keep, reason),
            _ => (Outcome::SetDomain(masquerade_as), reason),
        }
    }

    fn is_generics_eligible(&self, host: Host<'_>) -> bool {
        match host {
            Host::Local => true,
            Host::Domain(domain) => self
                .config
                .generics_domains
                .matches(domain, self.config.is_enabled(Feature::GenericsEntireDomain)),
        }
    }

    /// Class w: a name of this host, or one of its address literals.
    fn is_local_name(&self, domain: DomainRef<'_>) -> bool {
        match domain {
            // $j first: the name most addresses from here carry.
            DomainRef::Name(name) => name == self.config.hostname.text || self.local.contains_name(name),
            DomainRef::Literal(Domain::Ipv4(addr)) => self.local.contains_addr((*addr).into()),
            DomainRef::Literal(Domain::Ipv6(addr)) => self.local.contains_addr((*addr).into()),
            DomainRef::Literal(Domain::Name(name)) => self.local.contains_name(name),
        }
    }
}

/// `local@domain` as an [`Address`]; `local` is the wire form of a local
/// part that came out of an [`Address`] (so it is valid), `domain` the
/// text of a parsed domain.
fn with_domain(local: &str, domain: &str) -> Address {
    Address::parse(&concat(&[local, "@", domain]), ParseOptions { smtputf8: true })
        .expect("a valid local part and a parsed domain make a valid address")
}

fn strip_domain(address: &Address) -> Address {
    Address::parse(&address.quoted_local_part(), ParseOptions { smtputf8: true })
        .expect("the local part of a valid address is a valid unqualified address")
}

/// The pieces in one string (what `format!` does, without its machinery,
/// which costs more than the rest of a rewrite on the hot paths).
pub(crate) fn concat(pieces: &[&str]) -> String {
    let mut out = String::with_capacity(pieces.iter().map(|p| p.len()).sum());
    for piece in pieces {
        out.push_str(piece);
    }
    out
}

/// `$j`, `$M`: a host name, normalised as address domains are.
fn parse_name(name: &str) -> Result<Name, AddressError> {
    let domain = Domain::parse(name.trim(), ParseOptions { smtputf8: true })?;
    Ok(Name { text: domain.to_string(), domain })
}
