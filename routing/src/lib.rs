#![doc = include_str!("../README.md")]

mod access;
mod address;
mod dns;
mod host;
mod lint;
mod local;
mod mailer;
mod mailertable;
mod policy;
mod rhs;
mod route;

pub use access::{
    AccessHit, AccessIndex, AccessLint, AccessMap, AccessOptions, AccessValue, Mode, Parts, Tag, ValueReply,
    client_addr_text, lint_access,
};
pub use address::{
    Address, AddressError, Domain, ForwardPath, MAX_ADDRESS, MAX_DOMAIN, MAX_LOCAL_PART, MAX_PATH,
    ParseOptions, Parsed, RelayTrick, ReversePath,
};
pub use dns::{
    BoxFuture, DnsError, Mx, NextHop, Resolver, RouteFailure, ThisHost, ZoneError, ZoneResolver, random_seed,
    resolve_next_hops,
};
#[cfg(feature = "hickory")]
pub use dns::{HickoryResolver, HickorySetupError};
pub use host::{Host, HostSpec};
pub use lint::{Lint, lint_mailertable};
pub use local::{LocalNames, LocalNamesError};
pub use mailer::{AuthPolicy, Mailer, MailerKind, Mailers, TlsPolicy, UnknownPolicy};
pub use mailertable::{Mailertable, MailertableOptions, Probe, RouteCache, TableError, TableMatch};
pub use policy::{
    Authenticated, Checked, Client, ClientIdentity, ClientResolve, DelayChecks, Evaluation, Mail, Policy,
    PolicyOptions, PolicyReply, Reason, RelayDomains, RelayDomainsError, RelayMailFrom, RequireRdns,
    RoutingChar, SenderDomain, Stage, Verdict, identify_client,
};
pub use rhs::{ErrorReply, RhsError, RhsOptions, TableRoute, has_mailer, interpolate, parse_rhs};
pub use route::{Decision, Route, Router, SmartHost, TableEntry, Via};
