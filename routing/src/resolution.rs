//! What becomes of one recipient: sendmail's ruleset 0 with the
//! virtusertable and FEATURE(redirect), then the router, then aliases for
//! local users, recursively (spec maps.md §4, §6, §7).
//!
//! [`RecipientResolver::resolve`] is what the relay calls at RCPT time; the
//! [`Resolution`] it returns says both what to reply now
//! ([`Resolution::rcpt_reply`]) and what to deliver later
//! ([`Resolution::deliveries`]). It does no IO: maps come in as
//! [`smarthost_maps::Map`]s, `:include:` files through an
//! [`IncludeReader`], the local user database through [`LocalUsers`].

mod step;

use std::collections::{BTreeSet, HashSet};
use std::fmt;

use crate::aliases::{AliasElement, Aliases, IncludeError, IncludeReader, include_lines, parse_alias_value};
use crate::redirect::{redirect_reply, redirect_target};
use crate::virtuser::{VirtuserDomains, VirtuserTarget, Virtusertable};
use crate::{
    Address, Decision, Domain, ErrorReply, ForwardPath, LocalNames, ParseOptions, Route, Router, TableError,
};

pub use step::Step;

/// Resolves recipients the way sendmail does, in this order:
///
/// 1. FEATURE(redirect): a domain ending in `.REDIRECT` is refused with
///    `551 5.1.1 User has moved; please try <address>` (when
///    [`ResolveOptions::redirect`] is on);
/// 2. the virtusertable, for domains in class w or in the
///    [`VirtuserDomains`]: an `error:` value refuses, an address starts
///    over at step 1 (loops detected);
/// 3. the [`Router`]: literals, local names, the mailertable, the smart
///    host, MX;
/// 4. for local users: the aliases (`user+detail`, `user+*`, `user`), each
///    member starting over at step 1; a local user without an alias is
///    delivered locally (checked against [`LocalUsers`] when given).
///
/// ```
/// use smarthost_maps::{SourceOptions, TextMap};
/// use smarthost_routing::{
///     Address, AliasFile, AliasTable, Aliases, LocalNames, Mailers, ParseOptions, RecipientResolver,
///     ResolveOptions, Router, VirtuserDomains, Virtusertable,
/// };
///
/// let (virtuser, _) = TextMap::from_source(b"\
/// info@virt.example.org   sales
/// moved@virt.example.org  newaddr@else.example.REDIRECT
/// @virt.example.org       error:5.1.1:550 User unknown
/// ", &SourceOptions::default());
/// let aliases = AliasTable::from_file(&AliasFile::parse(b"sales: alice, bob@example.net\n", None));
/// let local = LocalNames::new("mail.example.org");
/// let mut domains = VirtuserDomains::default();
/// domains.add("virt.example.org");
/// let mailers = Mailers::standard();
/// let resolver = RecipientResolver::new(&local, Router::new(&local, &mailers))
///     .virtusertable(Virtusertable::new(&virtuser), &domains)
///     .aliases(Aliases::new(&aliases))
///     .options(ResolveOptions { redirect: true, ..ResolveOptions::default() });
///
/// let to = |a| Address::parse(a, ParseOptions::default()).unwrap();
/// let info = resolver.resolve(&to("info@virt.example.org"))?;
/// let words: Vec<String> = info.targets.iter().map(|t| t.to_string()).collect();
/// assert_eq!(words, ["mailer local, user alice", "mailer esmtp, host example.net, user bob@example.net"]);
/// assert_eq!(info.rcpt_reply(), None);
///
/// let moved = resolver.resolve(&to("moved@virt.example.org"))?;
/// assert_eq!(moved.rcpt_reply().unwrap(), "551 5.1.1 User has moved; please try <newaddr@else.example>");
/// let nobody = resolver.resolve(&to("nobody@virt.example.org"))?;
/// assert_eq!(nobody.rcpt_reply().unwrap(), "550 5.1.1 <nobody@virt.example.org>... User unknown");
/// # Ok::<(), smarthost_routing::ResolveError>(())
/// ```
#[derive(Clone, Copy)]
pub struct RecipientResolver<'c> {
    local: &'c LocalNames,
    router: Router<'c>,
    virtusertable: Option<Virtusertable<'c>>,
    virtuser_domains: Option<&'c VirtuserDomains>,
    aliases: Option<Aliases<'c>>,
    includes: Option<&'c dyn IncludeReader>,
    local_users: Option<&'c dyn LocalUsers>,
    options: ResolveOptions,
}

/// The settings that change resolution. The default is sendmail's behaviour
/// with the project's recommendations (\[REC\]); [`ResolveOptions::sendmail`]
/// is sendmail's exactly.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ResolveOptions {
    /// FEATURE(`redirect`): `.REDIRECT` addresses give 551. Off, as in
    /// sendmail without the feature, `.REDIRECT` is an ordinary domain.
    pub redirect: bool,
    /// FEATURE(`preserve_local_plus_detail`): aliases are looked up by the
    /// full `user+detail` only, and local delivery gets `user+detail`.
    pub preserve_local_plus_detail: bool,
    /// How virtusertable loops end.
    pub virtuser_loops: VirtuserLoops,
    /// When failures inside an alias expansion are reported.
    pub alias_errors: AliasErrors,
    /// sendmail's `MaxAliasRecursion`: how deep aliases may nest (10).
    pub max_alias_depth: usize,
    /// The most targets one recipient expands to; the rest are refused.
    pub max_targets: usize,
}

/// How a virtusertable entry that leads back to itself ends (spec §4.3).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum VirtuserLoops {
    /// \[REC\] Track the addresses rewritten, allow 20 rewrites, and refuse
    /// with `554 5.4.6 Virtual user loop detected`.
    #[default]
    Detect,
    /// \[SM\] Re-parse until sendmail's rule recursion limit (50) and refuse
    /// with `554 5.0.0 rewrite: excessive recursion (max 50), ruleset canonify`.
    RecursionLimit,
}

/// When a failure found while expanding an alias (a `.REDIRECT` member, an
/// unknown user, a bad `:include:`) is reported (spec §6.5, §7).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum AliasErrors {
    /// \[REC\] During RCPT, as sendmail's `interactive` delivery mode does:
    /// when no member of the expansion can be delivered, the RCPT is
    /// refused with the first failure's reply (so a moved user behind an
    /// alias gets the 551 at once and no bounce is ever sent for it). When
    /// some members can be delivered the RCPT is accepted; the failed ones
    /// go to the list's `owner-` (when it has one) and to the log, never to
    /// the sender.
    #[default]
    AtRcpt,
    /// \[SM\] At delivery, as sendmail's default `background` mode does:
    /// RCPT accepts every local name, and failures in the expansion become
    /// a DSN to the sender.
    AtDelivery,
}

/// The local user database (sendmail's `getpwnam`), when the relay knows
/// which users exist: unknown ones are refused with
/// `550 5.1.1 <address>... User unknown`.
pub trait LocalUsers: Send + Sync {
    /// Whether the local user `user` (without `+detail`) exists.
    fn contains(&self, user: &str) -> bool;
}

/// The result of resolving one recipient.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resolution {
    /// The recipient, as resolved (normalised).
    pub recipient: String,
    /// What becomes of it: one target, or several when aliases expand it;
    /// duplicates removed, in expansion order.
    pub targets: Vec<Target>,
    /// What the rules did, in order (for logs and `smarthost route --explain`).
    pub steps: Vec<Step>,
    /// When failures inside alias expansions are reported.
    pub alias_errors: AliasErrors,
}

/// One thing to do with (part of) a recipient.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// The address this target was resolved from: the recipient, or the
    /// alias member that led here. Refusal replies name it.
    pub address: String,
    /// What to do.
    pub action: Action,
    /// The alias (or `:include:PATH`) whose expansion produced this target;
    /// `None` when it comes straight from the recipient.
    pub alias: Option<String>,
    /// The envelope sender for this target's copy: the `owner-LIST` of the
    /// innermost list that has one (its value when that is one address,
    /// else `owner-LIST`).
    pub owner: Option<String>,
}

/// What to do with a target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Deliver to a local user (the `local` mailer).
    Local {
        /// The user.
        user: String,
        /// The `+detail`, for the delivery agent (without the `+`).
        detail: Option<String>,
    },
    /// Pipe to a program (the `prog` mailer; aliases only).
    Program {
        /// The command after `|`.
        command: String,
    },
    /// Append to a file (sendmail's `*file*` mailer; aliases only).
    File {
        /// The file.
        path: String,
    },
    /// Deliver as the router decided (SMTP to the route's hosts).
    Deliver(Route),
    /// Refuse: this reply, for this reason.
    Refuse(Refusal),
}

/// A refused target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    /// The reply. [`ErrorReply::reply_for`] adds the `<address>... ` prefix
    /// where sendmail does.
    pub reply: ErrorReply,
    /// Why.
    pub cause: Cause,
}

/// Why a target is refused.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Cause {
    /// An `error:` value in the virtusertable or the mailertable.
    ErrorValue,
    /// FEATURE(redirect): the user has moved to this address.
    Redirect {
        /// The address to try.
        to: Address,
    },
    /// The virtusertable leads back to an address it rewrote.
    VirtuserLoop,
    /// The aliases lead back to an alias being expanded, and nothing else
    /// was left to deliver.
    AliasLoop {
        /// The aliases in the loop, the first one repeated at the end.
        chain: Vec<String>,
    },
    /// Aliases nested deeper than `max_alias_depth`.
    AliasDepth,
    /// An alias whose members are all empty.
    EmptyAlias,
    /// The local user does not exist ([`LocalUsers`]).
    UnknownUser,
    /// A table entry whose value is not usable.
    BadValue,
    /// An alias member that is not an address.
    BadMember,
    /// An `:include:` file that could not be read.
    Include(IncludeError),
    /// A program, file or `:include:` named directly, not from an alias.
    Direct,
    /// The expansion passed `max_targets`.
    TooManyTargets,
}

/// Why a recipient could not be resolved now: the relay defers it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ResolveError {
    /// The virtusertable or the aliases could not be read.
    #[error("{table} lookup failed: {source}")]
    Map {
        /// `virtusertable` or `aliases`.
        table: &'static str,
        /// The cause.
        #[source]
        source: smarthost_maps::Error,
    },
    /// The mailertable could not be read, or its entry is broken.
    #[error(transparent)]
    Mailertable(#[from] TableError),
}

impl Default for ResolveOptions {
    fn default() -> Self {
        Self {
            redirect: false,
            preserve_local_plus_detail: false,
            virtuser_loops: VirtuserLoops::Detect,
            alias_errors: AliasErrors::AtRcpt,
            max_alias_depth: 10,
            max_targets: 1000,
        }
    }
}

impl ResolveOptions {
    /// sendmail's behaviour where the default differs (\[SM\] instead of
    /// \[REC\]): virtusertable loops end at the recursion limit, alias
    /// failures are reported at delivery.
    pub fn sendmail() -> Self {
        Self {
            virtuser_loops: VirtuserLoops::RecursionLimit,
            alias_errors: AliasErrors::AtDelivery,
            ..Self::default()
        }
    }
}

impl<'c> RecipientResolver<'c> {
    /// A resolver over `router` (built on the same `local` names): no
    /// virtusertable, no aliases, default options.
    pub fn new(local: &'c LocalNames, router: Router<'c>) -> Self {
        Self {
            local,
            router,
            virtusertable: None,
            virtuser_domains: None,
            aliases: None,
            includes: None,
            local_users: None,
            options: ResolveOptions::default(),
        }
    }

    /// FEATURE(virtusertable), for class w and `domains` (VIRTUSER_DOMAIN).
    pub fn virtusertable(mut self, table: Virtusertable<'c>, domains: &'c VirtuserDomains) -> Self {
        self.virtusertable = Some(table);
        self.virtuser_domains = Some(domains);
        self
    }

    /// Aliases for local users.
    pub fn aliases(mut self, aliases: Aliases<'c>) -> Self {
        self.aliases = Some(aliases);
        self
    }

    /// Where `:include:` files are read; without one they are refused.
    pub fn includes(mut self, reader: &'c dyn IncludeReader) -> Self {
        self.includes = Some(reader);
        self
    }

    /// Which local users exist; without it every local user is accepted.
    pub fn local_users(mut self, users: &'c dyn LocalUsers) -> Self {
        self.local_users = Some(users);
        self
    }

    /// The settings.
    pub fn options(mut self, options: ResolveOptions) -> Self {
        self.options = options;
        self
    }

    /// The router it ends with.
    pub fn router(&self) -> &Router<'c> {
        &self.router
    }

    /// Resolves a recipient of `RCPT TO`.
    pub fn resolve_path(&self, path: &ForwardPath) -> Result<Resolution, ResolveError> {
        match path {
            ForwardPath::Address(address) => self.resolve(address),
            ForwardPath::Postmaster => {
                let postmaster = Address::parse("postmaster", ParseOptions::default())
                    .expect("`postmaster` is a valid unqualified address");
                self.resolve(&postmaster)
            }
        }
    }

    /// Resolves a recipient.
    pub fn resolve(&self, address: &Address) -> Result<Resolution, ResolveError> {
        self.run(address, false)
    }

    /// Resolves a recipient and records every map key tried in the steps.
    pub fn resolve_explained(&self, address: &Address) -> Result<Resolution, ResolveError> {
        self.run(address, true)
    }

    fn run(&self, address: &Address, explain: bool) -> Result<Resolution, ResolveError> {
        let mut walk = Walk {
            resolver: self,
            explain,
            targets: Vec::new(),
            keys: HashSet::new(),
            steps: Vec::new(),
            expanded: HashSet::new(),
            loops: Vec::new(),
            empty: Vec::new(),
            stopped: false,
        };
        let recipient = address.to_string();
        let ctx = Ctx { given: recipient.clone(), ..Ctx::default() };
        walk.address(address, &ctx, false)?;
        walk.finish(&recipient);
        Ok(Resolution {
            recipient,
            targets: walk.targets,
            steps: walk.steps,
            alias_errors: self.options.alias_errors,
        })
    }

    fn is_virtual(&self, domain: &Domain) -> bool {
        let Domain::Name(name) = domain else { return false };
        self.local.contains_name(name) || self.virtuser_domains.is_some_and(|d| d.contains(name))
    }
}

/// Where in the recursion a walk is.
#[derive(Clone, Debug, Default)]
struct Ctx {
    /// The address whose ruleset 0 this is: refusals name it.
    given: String,
    /// The addresses the virtusertable rewrote in this parse.
    virtuser_chain: Vec<String>,
    /// The aliases being expanded, outermost first.
    alias_chain: Vec<String>,
    /// The innermost `owner-` address.
    owner: Option<String>,
}

/// One resolution in progress.
struct Walk<'r, 'c> {
    resolver: &'r RecipientResolver<'c>,
    explain: bool,
    targets: Vec<Target>,
    keys: HashSet<TargetKey>,
    steps: Vec<Step>,
    /// Aliases and `:include:` files expanded so far.
    expanded: HashSet<String>,
    /// Loops cut, for the error when nothing else is left.
    loops: Vec<Vec<String>>,
    /// Aliases that listed no one.
    empty: Vec<String>,
    stopped: bool,
}

/// What makes two targets the same.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum TargetKey {
    Local(String, Option<String>),
    Program(String),
    File(String),
    Deliver(String, String, String),
    Refuse(String, u16, String),
}

/// sendmail's rule recursion limit.
const SENDMAIL_RECURSION: usize = 50;
/// \[REC\] The most virtusertable rewrites of one address.
const MAX_VIRTUSER_REWRITES: usize = 20;

impl Walk<'_, '_> {
    /// Ruleset 0 for `address`, then whatever it leads to.
    fn address(&mut self, address: &Address, ctx: &Ctx, no_alias: bool) -> Result<(), ResolveError> {
        if self.stopped {
            return Ok(());
        }
        let resolver = self.resolver;
        if resolver.options.redirect
            && let Some(to) = redirect_target(address)
        {
            self.steps.push(Step::Redirect { address: address.to_string(), to: to.to_string() });
            self.refuse(ctx, redirect_reply(&to), Cause::Redirect { to });
            return Ok(());
        }
        if let (Some(table), Some(domain)) = (resolver.virtusertable, address.domain())
            && resolver.is_virtual(domain)
            && self.virtuser(table, address, &domain.to_string(), ctx, no_alias)?
        {
            return Ok(());
        }
        let mut probes = Vec::new();
        let route = match self.explain {
            true => resolver.router.route_explained(address, &mut probes)?,
            false => resolver.router.route(address)?,
        };
        self.steps.push(Step::Routed { address: address.to_string(), via: route.via.clone(), probes });
        match route.decision {
            Decision::Local { ref user } => self.local(user, ctx, no_alias),
            Decision::Deliver { .. } => {
                self.push(ctx, Action::Deliver(route));
                Ok(())
            }
            Decision::Error(reply) => {
                self.refuse(ctx, reply, Cause::ErrorValue);
                Ok(())
            }
        }
    }

    /// The virtusertable step; `true` when an entry decided.
    fn virtuser(
        &mut self,
        table: Virtusertable<'_>,
        address: &Address,
        domain: &str,
        ctx: &Ctx,
        no_alias: bool,
    ) -> Result<bool, ResolveError> {
        let mut probes = self.explain.then(Vec::new);
        let found = table
            .lookup(&address.quoted_local_part(), domain, probes.as_mut())
            .map_err(|source| ResolveError::Map { table: "virtusertable", source })?;
        self.steps.push(Step::Virtuser {
            address: address.to_string(),
            probes: probes.unwrap_or_default(),
            matched: found.clone(),
        });
        let Some(found) = found else { return Ok(false) };
        match found.target {
            VirtuserTarget::Error(reply) => self.refuse(ctx, reply, Cause::ErrorValue),
            VirtuserTarget::Invalid { reason } => {
                let text = format!("virtusertable entry `{}`: {reason}", found.key);
                self.refuse(ctx, config_error(text), Cause::BadValue);
            }
            VirtuserTarget::Address(next) => {
                let this = address.to_string().to_ascii_lowercase();
                let depth = ctx.virtuser_chain.len() + 1;
                let looped = match self.resolver.options.virtuser_loops {
                    VirtuserLoops::Detect => {
                        let next_key = next.to_string().to_ascii_lowercase();
                        (depth > MAX_VIRTUSER_REWRITES
                            || next_key == this
                            || ctx.virtuser_chain.contains(&next_key))
                        .then(|| reply(554, "5.4.6", "Virtual user loop detected"))
                    }
                    VirtuserLoops::RecursionLimit => (depth >= SENDMAIL_RECURSION).then(|| {
                        reply(554, "5.0.0", "rewrite: excessive recursion (max 50), ruleset canonify")
                    }),
                };
                if let Some(reply) = looped {
                    self.refuse(ctx, reply, Cause::VirtuserLoop);
                    return Ok(true);
                }
                let mut inner = ctx.clone();
                inner.virtuser_chain.push(this);
                self.address(&next, &inner, no_alias)?;
            }
        }
        Ok(true)
    }

    /// A local user: aliases, then local delivery.
    fn local(&mut self, local_part: &str, ctx: &Ctx, no_alias: bool) -> Result<(), ResolveError> {
        if let Some(reply) = direct_special(local_part) {
            self.refuse(ctx, reply, Cause::Direct);
            return Ok(());
        }
        let options = self.resolver.options;
        if let (Some(aliases), false) = (self.resolver.aliases, no_alias) {
            let mut probes = self.explain.then(Vec::new);
            let found = aliases
                .lookup(local_part, options.preserve_local_plus_detail, probes.as_mut())
                .map_err(|source| ResolveError::Map { table: "aliases", source })?;
            self.steps.push(Step::Alias {
                user: local_part.to_string(),
                probes: probes.unwrap_or_default(),
                matched: found.clone(),
            });
            if let Some(found) = found {
                if ctx.alias_chain.last() == Some(&found.key) {
                    // sendmail: a name listed in its own expansion is delivered
                    // locally rather than looping.
                    self.steps.push(Step::SelfReference { alias: found.key });
                } else {
                    return self.expand(aliases, &found.key, &found.value, ctx);
                }
            }
        }
        let (user, detail) = match local_part.split_once('+') {
            Some((user, detail)) if !user.is_empty() && !options.preserve_local_plus_detail => {
                (user.to_string(), Some(detail.to_string()))
            }
            _ => (local_part.to_string(), None),
        };
        if let Some(users) = self.resolver.local_users
            && !users.contains(&user)
        {
            self.refuse(ctx, reply(550, "5.1.1", "User unknown"), Cause::UnknownUser);
            return Ok(());
        }
        self.push(ctx, Action::Local { user, detail });
        Ok(())
    }

    /// Expands the alias `key` with `value`.
    fn expand(
        &mut self,
        aliases: Aliases<'_>,
        key: &str,
        value: &str,
        ctx: &Ctx,
    ) -> Result<(), ResolveError> {
        let Some(inner) = self.enter(key, ctx) else { return Ok(()) };
        let mut inner = inner;
        let owner_key = format!("owner-{key}");
        if let Some(owner_value) =
            aliases.exact(&owner_key).map_err(|source| ResolveError::Map { table: "aliases", source })?
        {
            let owner = match parse_alias_value(&owner_value).as_slice() {
                [AliasElement::Address { address, .. }] => address.to_string(),
                _ => owner_key,
            };
            self.steps.push(Step::Owner { alias: key.to_string(), owner: owner.clone() });
            inner.owner = Some(owner);
        }
        let elements = parse_alias_value(value);
        if elements.is_empty() {
            self.empty.push(key.to_string());
        }
        for element in &elements {
            self.element(element, &inner)?;
        }
        Ok(())
    }

    /// The checks before expanding an alias or `:include:` file `key`:
    /// loops, duplicates, depth. The context to expand it in, or `None`.
    fn enter(&mut self, key: &str, ctx: &Ctx) -> Option<Ctx> {
        if let Some(start) = ctx.alias_chain.iter().position(|k| k == key) {
            let mut chain = ctx.alias_chain[start..].to_vec();
            chain.push(key.to_string());
            self.steps.push(Step::Loop { chain: chain.clone() });
            self.loops.push(chain);
            return None;
        }
        if !self.expanded.insert(key.to_string()) {
            self.steps.push(Step::Duplicate { name: key.to_string() });
            return None;
        }
        let depth = ctx.alias_chain.len() + 1;
        let max = self.resolver.options.max_alias_depth;
        if depth > max {
            let text = format!("aliasing/forwarding loop broken ({depth} aliases deep; {max} max)");
            self.refuse(ctx, reply(554, "5.3.0", &text), Cause::AliasDepth);
            return None;
        }
        let mut inner = ctx.clone();
        inner.alias_chain.push(key.to_string());
        Some(inner)
    }

    /// One member of an alias or `:include:` file.
    fn element(&mut self, element: &AliasElement, ctx: &Ctx) -> Result<(), ResolveError> {
        if self.stopped {
            return Ok(());
        }
        let mut inner = ctx.clone();
        inner.given = element.to_string();
        inner.virtuser_chain.clear();
        match element {
            AliasElement::Address { address, no_alias } => {
                inner.given = address.to_string();
                return self.address(address, &inner, *no_alias);
            }
            AliasElement::Program { command } => {
                self.push(&inner, Action::Program { command: command.clone() })
            }
            AliasElement::File { path } => self.push(&inner, Action::File { path: path.clone() }),
            AliasElement::Include { path } => return self.include(path, &inner),
            AliasElement::Invalid { reason, .. } => {
                self.refuse(&inner, reply(553, "5.1.3", reason), Cause::BadMember);
            }
        }
        Ok(())
    }

    /// An `:include:` file's members.
    fn include(&mut self, path: &str, ctx: &Ctx) -> Result<(), ResolveError> {
        let Some(reader) = self.resolver.includes else {
            let error = IncludeError::CannotOpen {
                path: path.to_string(),
                reason: "this resolver reads no :include: files".into(),
            };
            self.refuse(ctx, include_reply(&error), Cause::Include(error));
            return Ok(());
        };
        let key = format!(":include:{path}");
        let Some(inner) = self.enter(&key, ctx) else { return Ok(()) };
        let text = match reader.read_include(path) {
            Ok(text) => text,
            Err(error) => {
                self.refuse(ctx, include_reply(&error), Cause::Include(error));
                return Ok(());
            }
        };
        let elements: Vec<AliasElement> = include_lines(&text).flat_map(parse_alias_value).collect();
        self.steps.push(Step::Include { path: path.to_string(), members: elements.len() });
        for element in &elements {
            self.element(element, &inner)?;
        }
        Ok(())
    }

    fn refuse(&mut self, ctx: &Ctx, reply: ErrorReply, cause: Cause) {
        self.push(ctx, Action::Refuse(Refusal { reply, cause }));
    }

    fn push(&mut self, ctx: &Ctx, action: Action) {
        if self.stopped {
            return;
        }
        let max = self.resolver.options.max_targets;
        if self.targets.len() >= max {
            self.stopped = true;
            let text = format!("alias expansion stopped: more than {max} recipients");
            let action =
                Action::Refuse(Refusal { reply: reply(554, "5.3.0", &text), cause: Cause::TooManyTargets });
            self.targets.push(self.target(ctx, action));
            return;
        }
        if self.keys.insert(TargetKey::of(&ctx.given, &action)) {
            let target = self.target(ctx, action);
            self.targets.push(target);
        }
    }

    fn target(&self, ctx: &Ctx, action: Action) -> Target {
        Target {
            address: ctx.given.clone(),
            action,
            alias: ctx.alias_chain.last().cloned(),
            owner: ctx.owner.clone(),
        }
    }

    /// When nothing is left to deliver because of a loop or an empty alias,
    /// says so (sendmail would silently have no recipient).
    fn finish(&mut self, recipient: &str) {
        if !self.targets.is_empty() {
            return;
        }
        let ctx = Ctx { given: recipient.to_string(), ..Ctx::default() };
        if let Some(chain) = self.loops.first().cloned() {
            let text = format!("alias loop: {}", chain.join(" -> "));
            let mut target = self.target(
                &ctx,
                Action::Refuse(Refusal {
                    reply: reply(554, "5.4.6", &text),
                    cause: Cause::AliasLoop { chain: chain.clone() },
                }),
            );
            target.alias = chain.first().cloned();
            self.targets.push(target);
        } else if let Some(alias) = self.empty.first().cloned() {
            let text = format!("alias {alias} lists no recipients");
            let mut target = self.target(
                &ctx,
                Action::Refuse(Refusal { reply: reply(550, "5.1.1", &text), cause: Cause::EmptyAlias }),
            );
            target.alias = Some(alias);
            self.targets.push(target);
        }
    }
}

impl TargetKey {
    fn of(given: &str, action: &Action) -> Self {
        match action {
            Action::Local { user, detail } => Self::Local(user.clone(), detail.clone()),
            Action::Program { command } => Self::Program(command.clone()),
            Action::File { path } => Self::File(path.clone()),
            Action::Deliver(route) => {
                let [mailer, host, user] = route.columns();
                Self::Deliver(mailer, host, user)
            }
            Action::Refuse(refusal) => {
                Self::Refuse(given.to_string(), refusal.reply.code, refusal.reply.text.clone())
            }
        }
    }
}

/// sendmail refuses programs, files and `:include:` named directly: only
/// an alias may name them.
fn direct_special(local_part: &str) -> Option<ErrorReply> {
    let what = if local_part.starts_with('|') {
        "programs"
    } else if local_part.starts_with('/') {
        "files"
    } else if local_part.get(..9).is_some_and(|head| head.eq_ignore_ascii_case(":include:")) {
        ":include:s"
    } else {
        return None;
    };
    Some(reply(550, "5.7.1", &format!("Cannot mail directly to {what}")))
}

fn include_reply(error: &IncludeError) -> ErrorReply {
    match error {
        IncludeError::CannotOpen { .. } | IncludeError::Unsafe { .. } => {
            reply(550, "5.3.0", &error.to_string())
        }
        IncludeError::TooLarge { .. } => reply(552, "5.3.4", &error.to_string()),
        IncludeError::Temporary { .. } => reply(451, "4.3.0", &error.to_string()),
    }
}

fn config_error(text: String) -> ErrorReply {
    ErrorReply { code: 554, enhanced: "5.3.5".into(), text, status: Some("5.3.5".into()) }
}

fn reply(code: u16, enhanced: &str, text: &str) -> ErrorReply {
    ErrorReply { code, enhanced: enhanced.into(), text: text.into(), status: None }
}

impl Resolution {
    /// The target whose reply refuses the RCPT now, if any: a refusal that
    /// did not come from an alias expansion; or, with
    /// [`AliasErrors::AtRcpt`], the first refusal when nothing can be
    /// delivered.
    pub fn rcpt_refusal(&self) -> Option<(&Target, &Refusal)> {
        let mut refusals = self.refusals();
        if let Some(direct) = self.refusals().find(|(target, _)| target.alias.is_none()) {
            return Some(direct);
        }
        match self.alias_errors {
            AliasErrors::AtRcpt if self.deliveries().next().is_none() => refusals.next(),
            _ => None,
        }
    }

    /// The reply line that refuses the RCPT now, with sendmail's
    /// `<address>... ` prefix where it adds one; `None` to accept.
    pub fn rcpt_reply(&self) -> Option<String> {
        self.rcpt_refusal().map(|(target, refusal)| refusal.reply.reply_for(&target.address))
    }

    /// Whether the refusal is temporary (4xx): defer rather than refuse.
    pub fn is_temporary(&self) -> bool {
        self.rcpt_refusal().is_some_and(|(_, refusal)| refusal.reply.is_temporary())
    }

    /// The targets to deliver to.
    pub fn deliveries(&self) -> impl Iterator<Item = &Target> {
        self.targets.iter().filter(|target| !matches!(target.action, Action::Refuse(_)))
    }

    /// The refused targets, each with its refusal.
    pub fn refusals(&self) -> impl Iterator<Item = (&Target, &Refusal)> {
        self.targets.iter().filter_map(|target| match &target.action {
            Action::Refuse(refusal) => Some((target, refusal)),
            _ => None,
        })
    }
}

impl Target {
    /// sendmail's `/parse` columns: mailer, host, user. `local` with the
    /// user (`user+detail` when there is a detail), `prog` with `|command`,
    /// `*file*` with the path, a route's own columns, and for refusals
    /// `*error*`, the status, and the reply without its address prefix.
    pub fn columns(&self) -> [String; 3] {
        match &self.action {
            Action::Local { user, detail } => {
                ["local".into(), String::new(), local_user(user, detail.as_deref())]
            }
            Action::Program { command } => ["prog".into(), String::new(), format!("|{command}")],
            Action::File { path } => ["*file*".into(), String::new(), path.clone()],
            Action::Deliver(route) => route.columns(),
            Action::Refuse(Refusal { reply, .. }) => [
                "*error*".into(),
                reply.status.clone().unwrap_or_else(|| reply.enhanced.clone()),
                format!("{} {} {}", reply.code, reply.enhanced, reply.text),
            ],
        }
    }
}

fn local_user(user: &str, detail: Option<&str>) -> String {
    match detail {
        Some(detail) => format!("{user}+{detail}"),
        None => user.to_string(),
    }
}

impl fmt::Display for Target {
    /// sendmail's words, as [`Route`]'s Display has them.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.action {
            Action::Local { user, detail } => {
                write!(f, "mailer local, user {}", local_user(user, detail.as_deref()))
            }
            Action::Program { command } => write!(f, "mailer prog, user |{command}"),
            Action::File { path } => write!(f, "mailer *file*, user {path}"),
            Action::Deliver(route) => write!(f, "{route}"),
            Action::Refuse(Refusal { reply, .. }) => {
                write!(f, "mailer *error*, reply {} {} {}", reply.code, reply.enhanced, reply.text)
            }
        }
    }
}

impl ResolveError {
    /// The reply for the RCPT: `451 4.3.0` (try again later) when a map
    /// could not be read, `554 5.3.5` for a broken mailertable entry.
    pub fn reply(&self) -> ErrorReply {
        match self {
            Self::Mailertable(error @ TableError::BadValue { .. }) => config_error(error.to_string()),
            _ => reply(451, "4.3.0", "Temporary lookup failure"),
        }
    }
}

impl<S: std::hash::BuildHasher + Send + Sync> LocalUsers for HashSet<String, S> {
    fn contains(&self, user: &str) -> bool {
        HashSet::contains(self, user)
    }
}

impl LocalUsers for BTreeSet<String> {
    fn contains(&self, user: &str) -> bool {
        BTreeSet::contains(self, user)
    }
}

#[cfg(test)]
mod tests;
