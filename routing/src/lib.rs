#![doc = include_str!("../README.md")]

mod access;
mod address;
mod aliases;
mod dns;
mod generics;
mod headers;
mod host;
mod lint;
mod local;
mod mailer;
mod mailertable;
mod masquerade;
mod policy;
mod redirect;
mod resolution;
mod rhs;
mod route;
mod sender_by_recipient;
mod virtuser;

pub use access::{
    AccessHit, AccessIndex, AccessLint, AccessMap, AccessOptions, AccessValue, Mode, Parts, Tag, ValueReply,
    client_addr_text, lint_access,
};
pub use address::{
    Address, AddressError, Domain, ForwardPath, MAX_ADDRESS, MAX_DOMAIN, MAX_LOCAL_PART, MAX_PATH,
    ParseOptions, Parsed, RelayTrick, ReversePath,
};
pub use aliases::{
    ALIAS_LINE_BUFFER, ALIAS_SENTINEL, AliasDb, AliasDbError, AliasDiagnostic, AliasElement, AliasEntry,
    AliasFile, AliasMatch, AliasProblem, AliasSummary, AliasTable, Aliases, FsIncludes, IncludeError,
    IncludeReader, parse_alias_value, render_alias_value,
};
pub use dns::{
    BoxFuture, DnsError, Mx, NextHop, Resolver, RouteFailure, ThisHost, ZoneError, ZoneResolver, random_seed,
    resolve_next_hops,
};
#[cfg(feature = "hickory")]
pub use dns::{HickoryResolver, HickorySetupError};
pub use generics::{GenericsMatch, genericstable_keys};
pub use headers::{
    ADDRESS_HEADERS, AddressEdit, HeaderField, HeaderFields, HeaderRewrite, Inserted, MAX_LINE, NewFields,
    Unparsed, address_header_kind, header_fields,
};
pub use host::{Host, HostSpec};
pub use lint::{Lint, lint_mailertable};
pub use local::{LocalNames, LocalNamesError};
pub use mailer::{AuthPolicy, Mailer, MailerKind, Mailers, TlsPolicy, UnknownPolicy};
pub use mailertable::{Mailertable, MailertableOptions, Probe, RouteCache, TableError, TableMatch};
pub use masquerade::{
    AddressKind, Feature, MailerRules, Masquerade, Reason, RewriteError, Rewriter, Rewritten, UnknownFeature,
};
pub use policy::{
    Authenticated, Checked, Client, ClientIdentity, ClientResolve, DelayChecks, Evaluation, Mail, Policy,
    PolicyOptions, PolicyReason, PolicyReply, RelayDomains, RelayDomainsError, RelayMailFrom, RequireRdns,
    RoutingChar, SenderDomain, Stage, Verdict, identify_client,
};
pub use redirect::{REDIRECT_LABEL, redirect_reply, redirect_target};
pub use resolution::{
    Action, AliasErrors, Cause, LocalUsers, RecipientResolver, Refusal, Resolution, ResolveError,
    ResolveOptions, Step, Target, VirtuserLoops,
};
pub use rhs::{ErrorReply, RhsError, RhsOptions, TableRoute, has_mailer, interpolate, parse_rhs};
pub use route::{Decision, Route, Router, SmartHost, TableEntry, Via};
pub use sender_by_recipient::{SenderByRecipient, SenderIdentity};
pub use virtuser::{
    VirtuserDomains, VirtuserDomainsError, VirtuserMatch, VirtuserTarget, Virtusertable, lint_virtusertable,
};
