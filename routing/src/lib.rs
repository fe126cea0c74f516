#![doc = include_str!("../README.md")]

mod address;
mod dns;
mod host;
mod lint;
mod local;
mod mailer;
mod mailertable;
mod rhs;
mod route;

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
pub use rhs::{ErrorReply, RhsError, RhsOptions, TableRoute, has_mailer, interpolate, parse_rhs};
pub use route::{Decision, Route, Router, SmartHost, TableEntry, Via};
